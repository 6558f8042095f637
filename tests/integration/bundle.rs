//! The MCP bundle as a host runs it: `scripts/build-bundle.sh` packs the built binary with the
//! official packer, `mcpb unpack` opens the bundle, and the official library's
//! `getMcpConfigForManifest` (`@anthropic-ai/mcpb`, what hosts use to turn the manifest and the
//! user's settings into a command) resolves it for each way a user may fill in the settings.
//! The server is then started from every resolved command and must serve its tools.

use crate::common;
use crate::packaging::{mcpb, mcpb_dir, mcpb_package, repo_file};
use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    process::Command,
};

use serde_json::{Value, json};
use whop_chat_mcp::exposure::Exposure;

/// Each optional setting with the value "everything filled in" gives it, and the empty forms a
/// host may hand over for it: an empty text, or nothing at all (and an empty folder list).
fn optional_settings(folders: Vec<String>) -> Vec<(&'static str, Value, Vec<Value>)> {
    vec![
        ("company_id", json!("biz_7Qm2Xr9LpTz4Wc"), vec![json!("")]),
        ("upload_roots", json!(folders), vec![json!(""), json!([])]),
        ("read_only", json!(true), vec![json!("")]),
        (
            "send_channels",
            json!("feed_7HgT2kLp9QmXcV,exp_x"),
            vec![json!("")],
        ),
        ("toolsets", json!("all"), vec![json!("")]),
    ]
}

#[tokio::test]
async fn the_packed_bundle_starts_however_its_settings_are_filled_in() {
    let work = common::tempdir();
    let dist = work.path().join("dist");
    common::run(
        Command::new("bash")
            .arg(repo_file("scripts/build-bundle.sh"))
            .arg("--binary")
            .arg(binary_to_pack(work.path()))
            .arg("--out")
            .arg(&dist)
            .arg("--no-server-json")
            .env("MCPB_DIR", mcpb_dir()),
        "scripts/build-bundle.sh",
    );
    let bundle = std::fs::read_dir(&dist)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "mcpb"))
        .expect("a .mcpb in the output folder");
    let unpacked = work.path().join("installed");
    mcpb(&["unpack".as_ref(), bundle.as_os_str(), unpacked.as_os_str()]);

    let folders: Vec<String> = ["a", "b"]
        .iter()
        .map(|name| {
            let dir = work.path().join(name);
            std::fs::create_dir(&dir).unwrap();
            dir.display().to_string()
        })
        .collect();
    let key = json!(common::random_key());
    let settings = optional_settings(folders);
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(unpacked.join("manifest.json")).unwrap()).unwrap();
    let optional: BTreeSet<&str> = (manifest["user_config"].as_object().unwrap().iter())
        .filter(|(_, option)| option["required"] != true)
        .map(|(key, _)| key.as_str())
        .collect();
    let covered: BTreeSet<&str> = settings.iter().map(|(k, _, _)| *k).collect();
    assert_eq!(optional, covered, "every optional setting of the manifest");
    let everything: serde_json::Map<String, Value> = [("api_key".to_owned(), key.clone())]
        .into_iter()
        .chain(settings.iter().map(|(k, v, _)| (k.to_string(), v.clone())))
        .collect();
    let mut cases = BTreeMap::from([
        ("nothing filled in".to_owned(), json!({})),
        ("only the key".to_owned(), json!({"api_key": key})),
        ("everything".to_owned(), Value::Object(everything.clone())),
    ]);
    for (name, _, empties) in &settings {
        let mut without = everything.clone();
        without.remove(*name);
        cases.insert(format!("{name} left out"), Value::Object(without));
        for empty in empties {
            let mut emptied = everything.clone();
            emptied.insert(name.to_string(), empty.clone());
            cases.insert(format!("{name} = {empty}"), Value::Object(emptied));
        }
    }

    let out = Command::new("node")
        .arg(repo_file("tests/independent/resolve_bundle.mjs"))
        .arg(mcpb_package())
        .arg(&unpacked)
        .stdin(std::fs::File::open(write_json(&work, &cases)).unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let resolved: BTreeMap<String, Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(resolved.len(), cases.len());

    for (case, config) in &resolved {
        if case == "nothing filled in" {
            assert!(
                config.is_null(),
                "the key is required: hosts ask for it first"
            );
            continue;
        }
        serve(case, config, &expected_tools(&cases[case])).await;
    }
}

/// The binary to pack: a copy without its debug info where `strip` exists (the packer takes
/// half a minute to compress 140 MB of it), else the test build itself.
fn binary_to_pack(work: &Path) -> PathBuf {
    let stripped = work.join("whop-chat-mcp");
    let status = Command::new("strip")
        .arg("-o")
        .arg(&stripped)
        .arg(common::BIN)
        .status();
    if status.is_ok_and(|s| s.success()) {
        stripped
    } else {
        PathBuf::from(common::BIN)
    }
}

/// The tools the server should list for these settings, by the server's own rules.
fn expected_tools(settings: &Value) -> Vec<String> {
    let toolsets = settings["toolsets"]
        .as_str()
        .filter(|s| !s.is_empty())
        .map(|s| s.split(',').map(str::to_owned).collect());
    let read_only = settings["read_only"] == true;
    let mut names = Exposure::new(read_only, None, toolsets)
        .unwrap()
        .tool_names();
    names.sort();
    names
}

fn write_json(work: &tempfile::TempDir, value: &impl serde::Serialize) -> std::path::PathBuf {
    let path = work.path().join("cases.json");
    std::fs::write(&path, serde_json::to_vec(value).unwrap()).unwrap();
    path
}

/// Starts the server from one resolved configuration (its command, arguments and environment,
/// nothing else) and lists its tools. Every `${user_config.…}` a host could not fill in must
/// cost one warning line on stderr, naming the setting, and nothing more.
async fn serve(case: &str, config: &Value, expected: &[String]) {
    let mut cmd = tokio::process::Command::new(config["command"].as_str().unwrap());
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for arg in config["args"].as_array().unwrap() {
        cmd.arg(arg.as_str().unwrap());
    }
    for (k, v) in config["env"].as_object().unwrap() {
        cmd.env(k, v.as_str().unwrap());
    }
    let session = common::connect_captured(cmd).await;
    let mut tools: Vec<String> = session
        .client
        .list_all_tools()
        .await
        .unwrap_or_else(|e| panic!("{case}: tools/list: {e}"))
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    let (_, stderr) = session.finish().await;
    let stderr = String::from_utf8_lossy(&stderr);
    tools.sort();
    assert_eq!(tools, expected, "{case}: {config}");

    let text = config.to_string();
    let unfilled: Vec<&str> = text
        .match_indices("${user_config.")
        .map(|(i, _)| &text[i + 14..i + 14 + text[i + 14..].find('}').unwrap()])
        .collect();
    let warnings: Vec<&str> = (stderr.lines())
        .filter(|l| l.starts_with("whop-chat-mcp: warning:"))
        .collect();
    assert_eq!(warnings.len(), unfilled.len(), "{case}: {config}\n{stderr}");
    for (warning, name) in warnings.iter().zip(&unfilled) {
        assert!(
            warning.contains(&format!("${{user_config.{name}}}")),
            "{case}: {warning}"
        );
    }
}
