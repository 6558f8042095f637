//! The release machinery: the GitHub Actions workflow passes actionlint (with shellcheck on its
//! `run:` scripts) and builds every bundle platform, the shell scripts pass shellcheck, the
//! smoke test accepts the built binary, and recording a bundle in server.json changes that
//! platform's package only. Linters: see `packaging::PY_TOOLS`.

use crate::common;
use crate::packaging::{BUNDLE_PLATFORMS, py_tools, read, repo_file};
use std::process::Command;

use serde_json::Value;

const WORKFLOW: &str = ".github/workflows/release.yml";

fn output_text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `PATH` with the linters' virtualenv first (actionlint runs the shellcheck it finds there).
fn tools_path() -> std::ffi::OsString {
    let mut paths = vec![py_tools()];
    paths.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(paths).unwrap()
}

#[test]
fn the_release_workflow_passes_actionlint_and_builds_every_platform() {
    let out = Command::new("actionlint")
        .env("PATH", tools_path())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["-no-color", "-shellcheck", "shellcheck", WORKFLOW])
        .output()
        .expect("actionlint runs");
    assert!(out.status.success(), "actionlint:\n{}", output_text(&out));

    let workflow = std::fs::read_to_string(repo_file(WORKFLOW)).unwrap();
    for platform in BUNDLE_PLATFORMS {
        assert!(
            workflow.contains(&format!("platform: {platform},")),
            "the workflow builds no {platform} bundle"
        );
    }
    for step in [
        "cargo test --locked --lib",
        "node scripts/smoke-test.mjs",
        "scripts/build-bundle.sh --target",
        "sha256sum",
        "node scripts/record-bundles.mjs dist/*.mcpb",
        "bash .ci/run",
    ] {
        assert!(workflow.contains(step), "the workflow does not run {step}");
    }
}

#[test]
fn the_scripts_pass_shellcheck() {
    let out = Command::new("shellcheck")
        .env("PATH", tools_path())
        .arg(repo_file("scripts/build-bundle.sh"))
        .output()
        .expect("shellcheck runs");
    assert!(out.status.success(), "shellcheck:\n{}", output_text(&out));
}

#[test]
fn the_smoke_test_accepts_the_built_binary_and_refuses_a_broken_one() {
    let smoke = repo_file("scripts/smoke-test.mjs");
    let out = Command::new("node")
        .arg(&smoke)
        .arg(common::BIN)
        .output()
        .unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    let tools = whop_chat_mcp::exposure::Exposure::default()
        .tool_names()
        .len();
    assert!(
        text.contains(&format!(": {tools} tools; list_channels: ")),
        "{text}"
    );
    let out = Command::new("node")
        .arg(&smoke)
        .arg(repo_file("no-such-binary"))
        .output()
        .unwrap();
    assert!(!out.status.success(), "{}", output_text(&out));
}

#[test]
fn recording_a_bundle_changes_only_its_platform_in_server_json() {
    let work = common::tempdir();
    let copy = work.path().join("server.json");
    std::fs::copy(repo_file("server.json"), &copy).unwrap();
    let before = read("server.json");
    let version = env!("CARGO_PKG_VERSION");
    let bundle = |platform: &str, bytes: &[u8]| {
        let path = work
            .path()
            .join(format!("whop-chat-mcp-{version}-{platform}.mcpb"));
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let record = |bundles: &[std::path::PathBuf]| {
        Command::new("node")
            .arg(repo_file("scripts/record-bundles.mjs"))
            .args(bundles)
            .env("SERVER_JSON", &copy)
            .output()
            .unwrap()
    };
    let out = record(&[
        bundle("linux-x86_64", b"linux"),
        bundle("darwin-aarch64", b"mac"),
    ]);
    assert!(out.status.success(), "{}", output_text(&out));
    let after: Value = serde_json::from_str(&std::fs::read_to_string(&copy).unwrap()).unwrap();

    let packages = |s: &Value, platform: &str| -> Vec<Value> {
        s["packages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| {
                p["identifier"]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!("-{platform}.mcpb"))
            })
            .cloned()
            .collect()
    };
    let cargo = |s: &Value| -> Value {
        s["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["registryType"] == "cargo")
            .cloned()
            .unwrap()
    };
    assert_eq!(
        cargo(&after),
        cargo(&before),
        "the crates.io package is kept"
    );
    // The SHA-256 of the bytes written above ("linux", "mac").
    for (platform, sha) in [
        (
            "linux-x86_64",
            "caf90169eefa5f807d577486b9f795ab86ae2983c5c20806cff959117e90af18",
        ),
        (
            "darwin-aarch64",
            "348a629f5ceed032c3e8706ec47d9bfafb00fb4250b018dd965435ca50cb836e",
        ),
    ] {
        let entry = packages(&after, platform);
        assert_eq!(entry.len(), 1, "{platform}: {entry:?}");
        let entry = &entry[0];
        assert_eq!(entry["registryType"], "mcpb");
        assert_eq!(entry["fileSha256"], sha, "{platform}");
        assert_eq!(entry["version"], version);
        assert_eq!(
            entry["identifier"],
            format!(
                "{}/releases/download/v{version}/whop-chat-mcp-{version}-{platform}.mcpb",
                env!("CARGO_PKG_REPOSITORY")
            )
        );
        assert_eq!(
            entry["environmentVariables"],
            cargo(&before)["environmentVariables"]
        );
    }
    for platform in BUNDLE_PLATFORMS
        .iter()
        .filter(|p| !["linux-x86_64", "darwin-aarch64"].contains(p))
    {
        assert_eq!(
            packages(&after, platform),
            packages(&before, platform),
            "{platform} is left as it was"
        );
    }

    // A bundle of another version is refused, and server.json is not touched.
    let stale = work.path().join("whop-chat-mcp-0.0.1-linux-x86_64.mcpb");
    std::fs::write(&stale, b"old").unwrap();
    let recorded = std::fs::read_to_string(&copy).unwrap();
    assert!(!record(&[stale]).status.success());
    assert_eq!(std::fs::read_to_string(&copy).unwrap(), recorded);
}
