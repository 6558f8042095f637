//! Packaging files: server.json (the MCP registry entry) and manifest.json (the MCP bundle that
//! Claude Desktop installs) stay valid for their formats and in step with the code: version,
//! tools, environment variables, secrets. The manifest is also checked by the official packer
//! (`@anthropic-ai/mcpb@2.1.2 validate`, installed from npm into target/ on first run).

use crate::common;
use std::{collections::BTreeSet, path::Path, process::Command};

use serde_json::Value;
use whop_chat_mcp::exposure::all_tool_names;

fn read(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Every environment variable the configuration reads: the names it asks its lookup for.
fn config_env_vars() -> BTreeSet<String> {
    let asked = std::cell::RefCell::new(BTreeSet::new());
    let args = whop_chat_mcp::config::ServeArgs {
        demo: true,
        ..Default::default()
    };
    whop_chat_mcp::config::Config::from_sources(&args, |name| {
        asked.borrow_mut().insert(name.to_owned());
        None
    })
    .expect("the demo configuration needs no setting");
    asked.into_inner()
}

#[test]
fn server_json_is_a_valid_registry_entry_in_step_with_the_code() {
    let s = read("server.json");
    assert_eq!(
        s["$schema"],
        "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json"
    );
    let name = s["name"].as_str().unwrap();
    assert_eq!(name.matches('/').count(), 1, "reverse-DNS namespace/name");
    assert!(
        name.chars()
            .all(|c| c.is_ascii_alphanumeric() || "./_-".contains(c))
            && (3..=200).contains(&name.len())
    );
    let description = s["description"].as_str().unwrap();
    assert!(
        (1..=100).contains(&description.chars().count()),
        "the registry allows 100 characters"
    );
    assert_eq!(
        s["version"],
        env!("CARGO_PKG_VERSION"),
        "server.json version follows Cargo.toml"
    );
    assert!(
        s["repository"]["url"]
            .as_str()
            .unwrap()
            .starts_with("https://")
            && s["repository"]["source"] == "github"
    );

    let packages = s["packages"].as_array().unwrap();
    assert_eq!(packages.len(), 1);
    let p = &packages[0];
    assert_eq!(p["registryType"], "mcpb");
    assert_eq!(p["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(p["transport"]["type"], "stdio");
    let url = p["identifier"].as_str().unwrap();
    assert!(
        url.starts_with("https://")
            && url.ends_with(".mcpb")
            && url.contains(env!("CARGO_PKG_VERSION")),
        "{url}"
    );
    let sha = p["fileSha256"].as_str().unwrap();
    assert!(
        sha.len() == 64
            && sha
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
        "{sha}"
    );
    assert_ne!(
        sha,
        "0".repeat(64),
        "run scripts/build-bundle.sh to record the bundle's SHA-256"
    );

    let vars: Vec<&Value> = p["environmentVariables"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    let listed: BTreeSet<String> = vars
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        listed,
        config_env_vars(),
        "server.json lists exactly the variables the server reads"
    );
    for v in &vars {
        assert!(
            v["description"].as_str().is_some_and(|d| !d.is_empty()),
            "{v}"
        );
        let secret = v.get("isSecret").and_then(Value::as_bool).unwrap_or(false);
        let should = matches!(
            v["name"].as_str().unwrap(),
            "WHOP_API_KEY" | "WHOP_MCP_HTTP_TOKEN"
        );
        assert_eq!(secret, should, "isSecret of {}", v["name"]);
    }
    let key = vars.iter().find(|v| v["name"] == "WHOP_API_KEY").unwrap();
    assert_eq!(key["isRequired"], true);
}

#[test]
fn manifest_json_is_a_bundle_manifest_in_step_with_the_code() {
    let m = read("manifest.json");
    assert_eq!(m["manifest_version"], "0.4");
    for field in ["name", "version", "description", "author", "server"] {
        assert!(!m[field].is_null(), "required field {field}");
    }
    assert_eq!(
        m["version"],
        env!("CARGO_PKG_VERSION"),
        "manifest.json version follows Cargo.toml"
    );
    assert_eq!(m["server"]["type"], "binary");
    let entry = m["server"]["entry_point"].as_str().unwrap();
    assert_eq!(
        m["server"]["mcp_config"]["command"],
        format!("${{__dirname}}/{entry}")
    );
    let env = &m["server"]["mcp_config"]["env"];
    assert_eq!(env["WHOP_API_KEY"], "${user_config.api_key}");
    let config = &m["user_config"];
    assert_eq!(config["api_key"]["sensitive"], true);
    assert_eq!(config["api_key"]["required"], true);
    assert_eq!(config["upload_roots"]["type"], "directory");
    assert_eq!(config["upload_roots"]["multiple"], true);
    // Every user setting is used, and every substitution names a setting.
    let mcp = m["server"]["mcp_config"].to_string();
    for key in config.as_object().unwrap().keys() {
        assert!(
            mcp.contains(&format!("${{user_config.{key}}}")),
            "user_config.{key} is unused"
        );
    }
    for (i, _) in mcp.match_indices("${user_config.") {
        let key = &mcp[i + 14..i + 14 + mcp[i + 14..].find('}').unwrap()];
        assert!(config.get(key).is_some(), "unknown user_config.{key}");
    }
    let tools: BTreeSet<String> = m["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    let actual: BTreeSet<String> = all_tool_names().into_iter().collect();
    assert_eq!(tools, actual, "manifest.json lists the server's tools");
}

#[test]
fn the_official_packer_validates_the_manifest() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("mcpb-2.1.2");
    if !dir.join(".installed").exists() {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("package.json"), r#"{"private": true}"#).unwrap();
        common::run(
            Command::new("npm").current_dir(&dir).args([
                "install",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                "@anthropic-ai/mcpb@2.1.2",
            ]),
            "npm install @anthropic-ai/mcpb@2.1.2",
        );
        std::fs::write(dir.join(".installed"), "2.1.2").unwrap();
    }
    let out = Command::new(dir.join("node_modules/.bin/mcpb"))
        .arg("validate")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("manifest.json"))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.to_lowercase().contains("valid"), "{text}");
}

#[test]
fn the_readme_documents_every_setting() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    for name in config_env_vars() {
        assert!(
            readme.contains(&format!("`{name}`")),
            "README.md does not document {name}"
        );
    }
    for tool in all_tool_names() {
        assert!(
            readme.contains(&format!("`{tool}`")),
            "README.md does not document {tool}"
        );
    }
}
