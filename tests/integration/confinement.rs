//! `upload_file` reads local files only from the upload roots: every escape is refused before
//! anything is sent to Whop (the sandbox sees no `POST /files`), and ordinary files inside a
//! root upload intact.

use std::{
    os::unix::{ffi::OsStrExt as _, fs::symlink},
    path::{Path, PathBuf},
    time::Duration,
};

use crate::common::{self, call, command, connect, err, ok};
use serde_json::json;
use tempfile::TempDir;
use whop_chat_mcp::sandbox::Sandbox;

/// Two upload roots and a folder outside them, laid out for the attacks below.
struct Tree {
    /// Removes the whole layout when the test ends.
    _dir: TempDir,
    root: PathBuf,
    second: PathBuf,
    outside: PathBuf,
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

fn tree() -> Tree {
    let dir = common::tempdir();
    let base = dir.path();
    let root = base.join("root");
    let second = base.join("second");
    let outside = base.join("outside");
    for d in [&root, &second, &outside] {
        std::fs::create_dir(d).unwrap();
    }
    std::fs::write(outside.join("secret.txt"), "outside secret").unwrap();
    // A sibling whose name starts with the root's name: a prefix check on strings would pass it.
    std::fs::create_dir(base.join("root-evil")).unwrap();
    std::fs::write(base.join("root-evil").join("x.txt"), "evil").unwrap();

    std::fs::write(root.join("ok.txt"), "inside the root").unwrap();
    std::fs::create_dir_all(root.join("sub").join(".git")).unwrap();
    std::fs::write(root.join("sub").join("deep.md"), "# deep").unwrap();
    std::fs::write(root.join("sub").join(".git").join("config"), "[core]").unwrap();
    std::fs::write(root.join(".env"), "WHOP_API_KEY=sk_live_x").unwrap();
    std::fs::create_dir(root.join(".ssh")).unwrap();
    std::fs::write(root.join(".ssh").join("id_rsa"), "-----BEGIN").unwrap();
    symlink(outside.join("secret.txt"), root.join("link-out.txt")).unwrap();
    symlink(&outside, root.join("linked-dir")).unwrap();
    symlink(root.join(".env"), root.join("innocent.txt")).unwrap();
    symlink("/etc/passwd", root.join("hostname.txt")).unwrap();
    std::fs::create_dir(root.join("a-folder")).unwrap();
    mkfifo(&root.join("pipe.txt"));
    let big = std::fs::File::create(root.join("big.bin")).unwrap();
    big.set_len(25 * 1024 * 1024 + 1).unwrap();

    std::fs::write(second.join("other.txt"), "from the second root").unwrap();
    Tree {
        _dir: dir,
        root,
        second,
        outside,
    }
}

async fn server(sb: &Sandbox, t: &Tree) -> common::Client {
    let roots = format!("{}:{}", t.root.display(), t.second.display());
    connect(command(sb, &[("WHOP_UPLOAD_ROOTS", &roots)])).await
}

#[tokio::test]
async fn paths_that_leave_the_roots_or_name_hidden_or_special_files_are_refused_before_any_request()
{
    let sb = common::sandbox().await;
    let t = tree();
    let client = server(&sb, &t).await;
    let r = t.root.display().to_string();
    let o = t.outside.display().to_string();
    let cases: Vec<(String, &str)> = vec![
        // `..` escapes, relative and absolute.
        ("../outside/secret.txt".into(), "`..`"),
        ("sub/../../outside/secret.txt".into(), "`..`"),
        (format!("{r}/../outside/secret.txt"), "`..`"),
        ("sub/../ok.txt".into(), "`..`"),
        // Absolute paths outside the roots.
        (format!("{o}/secret.txt"), "outside the upload roots"),
        ("/etc/passwd".into(), "outside the upload roots"),
        (format!("{r}-evil/x.txt"), "outside the upload roots"),
        // Symlinks inside the root that lead out, to a file or through a folder.
        ("link-out.txt".into(), "outside the upload roots"),
        (format!("{r}/link-out.txt"), "outside the upload roots"),
        ("linked-dir/secret.txt".into(), "outside the upload roots"),
        ("hostname.txt".into(), "outside the upload roots"),
        // A symlink with an ordinary name that leads to a hidden file inside the root.
        ("innocent.txt".into(), "hidden file or folder"),
        // Hidden files and folders.
        (".env".into(), "hidden file or folder"),
        (format!("{r}/.env"), "hidden file or folder"),
        (".ssh/id_rsa".into(), "hidden file or folder"),
        ("sub/.git/config".into(), "hidden file or folder"),
        // Not regular files.
        ("a-folder".into(), "not a regular file"),
        (".".into(), "not a regular file"),
        (r.clone(), "not a regular file"),
        ("pipe.txt".into(), "not a regular file"),
        // Over the 25 MiB limit (a sparse file: nothing is written to disk).
        ("big.bin".into(), "the upload limit is 26214400 bytes"),
        // Nothing there, and not a path at all.
        ("missing.txt".into(), "no file at"),
        ("".into(), "path is empty"),
        ("ok\0.txt".into(), "path is empty"),
    ];
    for (path, needle) in &cases {
        let r = tokio::time::timeout(
            Duration::from_secs(10),
            call(&client, "upload_file", json!({"path": path})),
        )
        .await
        .unwrap_or_else(|_| panic!("{path:?}: the call hung"));
        let e = err(&r);
        assert!(e.contains(needle), "{path:?}: expected {needle:?} in {e}");
        assert!(
            !e.contains("outside secret") && !e.contains("sk_live_x"),
            "{path:?}: the refusal shows file contents: {e}"
        );
        assert!(
            sb.requests_to("POST", "/files").is_empty(),
            "{path:?} reached Whop"
        );
    }
    assert!(
        sb.requests().is_empty(),
        "no request at all: {:?}",
        sb.requests()
    );
    // The FIFO was never opened for writing by anyone, and the refusal did not hang on it.
    assert!(t.root.join("pipe.txt").exists());
}

#[tokio::test]
async fn local_paths_are_refused_when_no_root_is_configured() {
    let sb = common::sandbox().await;
    let t = tree();
    let client = connect(command(&sb, &[])).await;
    for path in [
        "ok.txt".to_owned(),
        t.root.join("ok.txt").display().to_string(),
    ] {
        let e = err(&call(&client, "upload_file", json!({"path": path})).await);
        assert!(e.contains("--upload-root"), "{path}: {e}");
    }
    assert!(sb.requests_to("POST", "/files").is_empty());
}

#[tokio::test]
async fn files_inside_a_root_upload_intact() {
    let sb = common::sandbox().await;
    let t = tree();
    let client = server(&sb, &t).await;
    let cases = [
        // Relative to the first root, also in a subfolder.
        ("ok.txt".to_owned(), "ok.txt", "inside the root"),
        ("sub/deep.md".to_owned(), "deep.md", "# deep"),
        ("./sub/deep.md".to_owned(), "deep.md", "# deep"),
        // Absolute inside the first root.
        (
            t.root.join("ok.txt").display().to_string(),
            "ok.txt",
            "inside the root",
        ),
        // Relative, found in the second root; and absolute in it.
        ("other.txt".to_owned(), "other.txt", "from the second root"),
        (
            t.second.join("other.txt").display().to_string(),
            "other.txt",
            "from the second root",
        ),
    ];
    for (n, (path, name, content)) in cases.iter().enumerate() {
        let (text, s) = ok(&call(&client, "upload_file", json!({"path": path})).await);
        let id = s["id"].as_str().unwrap();
        assert_eq!(s["filename"], *name, "{path}");
        assert_eq!(
            sb.file_bytes(id).as_deref(),
            Some(content.as_bytes()),
            "{path}: bytes arrive intact"
        );
        assert!(text.contains(id), "{text}");
        assert_eq!(sb.requests_to("POST", "/files").len(), n + 1, "{path}");
    }
}
