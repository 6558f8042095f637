//! The crates.io package: `cargo package --workspace --locked` packs every crate of the workspace
//! (a crate that depends on an unpublished one of its workspace is locked against a local
//! overlay of it), the server's crate holds what it needs and nothing more, and the binary
//! installs from the unpacked crates with `cargo install --path` and works.
//!
//! The install is the build check: it compiles exactly what `cargo package`'s own verification
//! would (the packed sources, library and binary, dev profile), so that verification is skipped
//! rather than done twice. It builds into the shared target/ folder, offline; the first run
//! compiles the dependencies without the test-only features (about a minute and a half on 2
//! cores), later runs only the two crates.

use crate::common;
use crate::packaging::repo_file;
use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    process::Command,
};

use serde_json::Value;

/// Cargo, without the variables `cargo test` gives this process about its own package: build
/// scripts (ring's) rerun when they change, and the next `cargo test` would then rebuild what
/// depends on them.
fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        let about_this_package = [
            "CARGO_PKG_",
            "CARGO_BIN_",
            "CARGO_MANIFEST_",
            "CARGO_CRATE_",
        ]
        .iter()
        .any(|prefix| name.starts_with(prefix))
            || ["CARGO_PRIMARY_PACKAGE", "CARGO_TARGET_TMPDIR", "OUT_DIR"].contains(&&*name);
        if about_this_package {
            cmd.env_remove(&*name);
        }
    }
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("CARGO_INCREMENTAL", "0")
        .arg("--color=never");
    cmd
}

/// The target/ folder this test binary was built in.
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// Every file below `dir`, as `/`-separated paths relative to it.
fn files_below(dir: &Path) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap();
                found.insert(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    found
}

#[test]
fn the_crate_packs_and_installs_from_its_package() {
    let target = target_dir();
    let metadata = cargo()
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .output()
        .unwrap();
    assert!(metadata.status.success());
    let metadata: Value = serde_json::from_slice(&metadata.stdout).unwrap();
    let members: Vec<(String, String)> = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        // `publish = false` (an empty list of registries): not packed.
        .filter(|p| p["publish"] != serde_json::json!([]))
        .map(|p| {
            let (name, version) = (p["name"].as_str(), p["version"].as_str());
            (name.unwrap().to_owned(), version.unwrap().to_owned())
        })
        .collect();

    common::run(
        cargo()
            .args([
                "package",
                "--workspace",
                "--locked",
                "--offline",
                "--no-verify",
            ])
            // A working tree with changes not yet committed packs as it is.
            .arg("--allow-dirty")
            .arg("--target-dir")
            .arg(&target),
        "cargo package --workspace --locked",
    );

    let work = common::tempdir();
    for (name, version) in &members {
        let file = target.join(format!("package/{name}-{version}.crate"));
        common::run(
            Command::new("tar")
                .arg("-xzf")
                .arg(&file)
                .arg("-C")
                .arg(work.path()),
            &format!("unpacking {}", file.display()),
        );
    }

    // What the server's crate holds: its sources, the icon they compile in, README and licence,
    // and what cargo adds.
    let name = env!("CARGO_PKG_NAME");
    let unpacked = work
        .path()
        .join(format!("{name}-{}", env!("CARGO_PKG_VERSION")));
    let packed = files_below(&unpacked);
    let sources: BTreeSet<String> = files_below(&repo_file("src"))
        .into_iter()
        .map(|f| format!("src/{f}"))
        .collect();
    let cargo_files = ["Cargo.toml", "Cargo.toml.orig", "Cargo.lock"];
    let expected: BTreeSet<String> = sources
        .iter()
        .cloned()
        .chain(["assets/icon.png", "assets/icon.svg", "README.md", "LICENSE"].map(String::from))
        .chain(cargo_files.map(String::from))
        .collect();
    let extra: Vec<&String> = packed
        .difference(&expected)
        .filter(|f| *f != ".cargo_vcs_info.json")
        .collect();
    let missing: Vec<&String> = expected.difference(&packed).collect();
    assert!(
        extra.is_empty() && missing.is_empty(),
        "the crate holds {extra:?} it does not need and lacks {missing:?}"
    );
    let manifest = std::fs::read_to_string(unpacked.join("Cargo.toml")).unwrap();
    for field in [
        "description",
        "license",
        "repository",
        "homepage",
        "documentation",
        "readme",
        "keywords",
        "categories",
    ] {
        assert!(
            manifest.contains(&format!("\n{field} = ")),
            "Cargo.toml has no {field}"
        );
    }

    // Install from the unpacked crate; the workspace's other crates are not on crates.io
    // (yet), so they come from their own unpacked packages.
    let root = work.path().join("root");
    let mut install = cargo();
    install
        .args(["install", "--debug", "--locked", "--offline", "--path"])
        .arg(&unpacked)
        .arg("--root")
        .arg(&root)
        .arg("--target-dir")
        .arg(&target);
    for (other, version) in members.iter().filter(|(n, _)| n != name) {
        let path = work.path().join(format!("{other}-{version}"));
        install.arg("--config").arg(format!(
            "patch.crates-io.{other}.path={:?}",
            path.to_string_lossy()
        ));
    }
    common::run(&mut install, "cargo install --path <unpacked crate>");
    let binary = root
        .join("bin")
        .join(format!("whop-chat-mcp{}", std::env::consts::EXE_SUFFIX));
    let out = Command::new(&binary).arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("whop-chat-mcp {}", env!("CARGO_PKG_VERSION"))
    );
    common::run(
        Command::new("node")
            .arg(repo_file("scripts/smoke-test.mjs"))
            .arg(&binary),
        "a session with the installed binary",
    );
}
