//! An independent client: the official MCP Python SDK (mcp==2.3.0) lists the tools and calls
//! each against `--demo`, in both protocol eras, validating structuredContent against the
//! output schemas. The SDK is installed on first run into a virtualenv under target/ (about
//! 20 s); set WHOP_MCP_TEST_PYTHON to a Python that already has mcp==2.3.0 to skip that.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

const SDK: &str = "mcp==2.3.0";

fn run(cmd: &mut Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("WHOP_MCP_TEST_PYTHON") {
        return p.into();
    }
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("py-mcp-2.3.0");
    let python = dir.join("bin").join("python");
    let ready = dir.join(".installed");
    if !ready.exists() {
        let _ = std::fs::remove_dir_all(&dir);
        run(
            Command::new("python3").args(["-m", "venv"]).arg(&dir),
            "python3 -m venv",
        );
        run(
            Command::new(&python).args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                SDK,
            ]),
            "pip install mcp==2.3.0",
        );
        std::fs::write(&ready, SDK).unwrap();
    }
    python
}

#[test]
fn the_python_sdk_lists_and_calls_every_tool_in_both_protocol_eras() {
    let python = python();
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
