//! Whop's official Python SDK for the contract test: a virtualenv under `target/` with
//! `whop-sdk==2.6.0` (and its dependencies) installed on first use, and the older releases
//! beside it with `pip install --no-deps --target` (they need the same dependencies), so each
//! release is one `PYTHONPATH` away. A missing `python3` or PyPI fails the test, saying so.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::Mutex,
};

/// The release installed into the virtualenv itself.
pub const NEWEST: &str = "2.6.0";

static INSTALL: Mutex<()> = Mutex::new(());

fn run(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("{what}: cannot start ({e}); the contract test needs python3 with venv")
    });
    assert!(
        out.status.success(),
        "{what} failed (the contract test installs Whop's Python SDK from PyPI and needs \
         network access to it on first run):\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn venv() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("py-whop-sdk-{NEWEST}"))
}

/// The Python to run, and the `PYTHONPATH` that selects `version` of the SDK (empty for the
/// newest, which is installed in the virtualenv).
pub fn python_with_whop_sdk(version: &str) -> (PathBuf, Option<PathBuf>) {
    let _guard = INSTALL.lock().unwrap_or_else(|p| p.into_inner());
    let dir = venv();
    let python = dir.join("bin").join("python");
    let pip = |args: &[&str], what: &str| {
        run(
            Command::new(&python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                ])
                .args(args),
            what,
        )
    };
    if !dir.join(".installed").exists() {
        let _ = std::fs::remove_dir_all(&dir);
        run(
            Command::new("python3").args(["-m", "venv"]).arg(&dir),
            "python3 -m venv",
        );
        pip(
            &[&format!("whop-sdk=={NEWEST}")],
            &format!("pip install whop-sdk=={NEWEST}"),
        );
        std::fs::write(dir.join(".installed"), NEWEST).unwrap();
    }
    if version == NEWEST {
        return (python, None);
    }
    let target = dir.join(format!("sdk-{version}"));
    if !target.join(".installed").exists() {
        let _ = std::fs::remove_dir_all(&target);
        pip(
            &[
                "--no-deps",
                "--target",
                target.to_str().expect("utf-8 path"),
                &format!("whop-sdk=={version}"),
            ],
            &format!("pip install --no-deps whop-sdk=={version}"),
        );
        std::fs::write(target.join(".installed"), version).unwrap();
    }
    (python, Some(target))
}
