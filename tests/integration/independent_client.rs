//! An independent client: the official MCP Python SDK (mcp==2.3.0) lists the tools and calls
//! each against `--demo`, in both protocol eras, validating structuredContent against the
//! output schemas. The SDK is installed on first run into a virtualenv under target/ (about
//! 20 s); set WHOP_MCP_TEST_PYTHON to a Python that already has mcp==2.3.0 to skip that.

use crate::common;
use std::{path::Path, process::Command};

#[test]
fn the_python_sdk_lists_and_calls_every_tool_in_both_protocol_eras() {
    let python = common::python_with_mcp();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/independent/python_smoke.py");
    for (mode, protocol) in [("legacy", "2025-11-25"), ("auto", "2026-07-28")] {
        let out = Command::new(&python)
            .arg(&script)
            .arg(mode)
            .arg(env!("CARGO_BIN_EXE_whop-chat-mcp"))
            .output()
            .expect("python runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{mode}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: serde_json::Value =
            serde_json::from_str(stdout.trim()).expect("one JSON report");
        assert_eq!(report["protocol"], protocol, "{report}");
        for tool in [
            "send_message",
            "list_messages",
            "list_channels",
            "get_channel",
            "list_support_channels",
            "upload_file",
        ] {
            assert!(
                report["calls"][tool].as_u64().unwrap_or(0) >= 1,
                "{mode}: {tool} not called: {report}"
            );
        }
        assert_eq!(
            report["upload_progress"].as_array().unwrap().last(),
            Some(&serde_json::json!(3.0))
        );
    }
}
