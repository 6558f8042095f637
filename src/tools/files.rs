//! `upload_file`: puts a file on Whop so a message can attach it.
//!
//! Local paths are confined to the configured upload roots. A path is refused, before any
//! network call, when it leaves the roots (`..`, an absolute path elsewhere, or a symlink that
//! leads out), names a hidden file or folder (`.env`, `.ssh/…`), is not a regular file, or is
//! larger than the limit. The file is then opened without following a final symlink and
//! checked again on the open handle (on Linux, down to the real path the kernel opened), so
//! swapping it or a folder on its way for a link after the check does not help.

use std::path::{Component, Path, PathBuf};

use base64::{
    Engine as _,
    alphabet::STANDARD,
    engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig},
};
use bytes::Bytes;
use rmcp::{
    RoleServer, handler::server::wrapper::Parameters, model::ProgressNotificationParam,
    schemars::JsonSchema, service::RequestContext, tool, tool_router,
};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::{Effect, ToolError, ToolResult, Toolbox, cancellable, output, render};
use crate::whop::{UploadContent, UploadProgress, UploadSource, models::File};

/// Largest local file `upload_file` reads.
pub(crate) const MAX_FILE_BYTES: u64 = 25 * 1024 * 1024;
/// Largest decoded `content_base64`.
pub(crate) const MAX_BASE64_BYTES: usize = 8 * 1024 * 1024;
const MAX_FILENAME_CHARS: usize = 255;

#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(inline)]
pub(crate) enum Visibility {
    // Anyone with the URL can see it (what chat attachments usually want).
    #[default]
    Public,
    // Only reachable through short-lived signed URLs.
    Private,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct UploadFileArgs {
    /// File in an upload root.
    pub(crate) path: Option<String>,
    /// Base64 (max 8 MiB); needs filename.
    pub(crate) content_base64: Option<String>,
    /// e.g. chart.png.
    pub(crate) filename: Option<String>,
    /// Default public.
    pub(crate) visibility: Option<Visibility>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct FileOut {
    pub(crate) id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) filename: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) content_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) size: Option<u64>,
    pub(crate) status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) visibility: Option<String>,
}

impl FileOut {
    fn from(f: &File, fallback_size: u64) -> Self {
        FileOut {
            id: f.id.clone(),
            filename: f.filename.as_deref().map(render::inline),
            content_type: f.content_type.clone(),
            size: f.size.or(Some(fallback_size)),
            status: f.upload_status.clone().unwrap_or_else(|| "ready".into()),
            url: f.url.clone(),
            visibility: f.visibility.clone(),
        }
    }
}

/// Checks a file name we will send to Whop. Control characters are refused; then it is
/// cleaned like any text a model reads, so Whop stores the name the model was shown (no bidi
/// override turning `gpj.exe` around).
fn check_filename(raw: &str) -> Result<String, ToolError> {
    let cleaned = render::clean(raw);
    let name = cleaned.trim();
    if name.is_empty()
        || name.chars().count() > MAX_FILENAME_CHARS
        || raw
            .chars()
            .any(|c| c.is_control() || matches!(c, '/' | '\\'))
        || name == "."
        || name == ".."
    {
        return Err(ToolError::new(format!(
            "filename {:?} is not usable: give a plain name with an extension, e.g. chart.png (no slashes, at most {MAX_FILENAME_CHARS} characters).",
            render::inline(&name.chars().take(60).collect::<String>())
        )));
    }
    Ok(name.to_owned())
}

fn roots_list(roots: &[PathBuf]) -> String {
    roots
        .iter()
        .map(|r| r.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Resolves `raw` to a canonical path inside one of `roots`, or says why not.
pub(crate) fn confine(roots: &[PathBuf], raw: &str) -> Result<PathBuf, ToolError> {
    if roots.is_empty() {
        return Err(ToolError::new(
            "Reading local files is turned off. To allow it, start the server with --upload-root DIR (or set \
             WHOP_UPLOAD_ROOTS=DIR1:DIR2) naming the folders it may read. Or pass content_base64 with a filename instead.",
        ));
    }
    if raw.trim().is_empty() || raw.contains('\0') {
        return Err(ToolError::new(
            "path is empty: give the path of a file inside an upload root.",
        ));
    }
    let given = Path::new(raw);
    for part in given.components() {
        match part {
            Component::ParentDir => {
                return Err(ToolError::new(format!(
                    "path {raw:?} uses `..`; give a path inside an upload root ({}).",
                    roots_list(roots)
                )));
            }
            Component::Normal(name) if name.to_string_lossy().starts_with('.') => {
                return Err(ToolError::new(format!(
                    "path {raw:?} names a hidden file or folder; hidden paths (like .env or .ssh) are never uploaded."
                )));
            }
            _ => {}
        }
    }
    let candidates: Vec<PathBuf> = if given.is_absolute() {
        vec![given.to_path_buf()]
    } else {
        roots.iter().map(|r| r.join(given)).collect()
    };
    // A path outside the roots gets the same answer whether or not it exists, so the tool
    // cannot be used to probe the file system.
    let outside = || {
        ToolError::new(format!(
            "{raw:?} is outside the upload roots ({}), possibly through a symlink; only files inside them can be uploaded.",
            roots_list(roots)
        ))
    };
    let Some(canonical) = candidates
        .iter()
        .find_map(|p| std::fs::canonicalize(p).ok())
    else {
        if !candidates
            .iter()
            .any(|p| roots.iter().any(|r| p.starts_with(r)))
        {
            return Err(outside());
        }
        return Err(ToolError::new(format!(
            "no file at {raw:?} (upload roots: {}).",
            roots_list(roots)
        )));
    };
    let Some(root) = roots.iter().find(|r| canonical.starts_with(r)) else {
        return Err(outside());
    };
    let inside = canonical.strip_prefix(root).unwrap_or(Path::new(""));
    if inside
        .components()
        .any(|c| matches!(c, Component::Normal(n) if n.to_string_lossy().starts_with('.')))
    {
        return Err(ToolError::new(format!(
            "{raw:?} leads to a hidden file or folder; hidden paths (like .env or .ssh) are never uploaded."
        )));
    }
    Ok(canonical)
}

/// Opens a confined file for streaming, refusing anything but a regular, singly linked file
/// within the size limit; returns the open file and how many bytes to send.
pub(crate) fn open_confined(path: &Path) -> Result<(std::fs::File, u64), ToolError> {
    let shown = path.display();
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // The canonical path has no links; a link appearing now is an attack: refuse it.
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let file = options
        .open(path)
        .map_err(|e| ToolError::new(format!("cannot open {shown}: {e}")))?;
    // O_NOFOLLOW guards only the last component; a folder on the way swapped for a link after
    // the check would still be followed. So ask the kernel what was really opened.
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let opened = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd()));
        if opened.as_deref().is_ok_and(|real| real != path) {
            return Err(ToolError::new(format!(
                "{shown} changed while it was being opened; nothing was uploaded."
            )));
        }
    }
    let meta = file
        .metadata()
        .map_err(|e| ToolError::new(format!("cannot read {shown}: {e}")))?;
    if !meta.is_file() {
        return Err(ToolError::new(format!(
            "{shown} is not a regular file (folders, devices, pipes and sockets are not uploaded)."
        )));
    }
    // A hard link inside a root can name any file of the same file system, outside the roots
    // too, and nothing in the path shows it: refuse files with more than one name.
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if meta.nlink() > 1 {
            return Err(ToolError::new(format!(
                "{shown} has {} hard links, so it may be a file from outside the upload roots; it is not \
                 uploaded. Copy the file into the upload root (a copy, not a link) and upload that.",
                meta.nlink()
            )));
        }
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(ToolError::new(format!(
            "{shown} is {} bytes; the upload limit is {MAX_FILE_BYTES} bytes (25 MiB).",
            meta.len()
        )));
    }
    if meta.len() == 0 {
        return Err(ToolError::new(format!(
            "{shown} is empty: there is nothing to upload."
        )));
    }
    // The size is fixed here: the upload streams exactly this many bytes from the open file,
    // however it changes afterwards.
    Ok((file, meta.len()))
}

/// Standard base64 that takes input with or without its `=` padding.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes `content_base64` (plain or a `data:…;base64,` URL; whitespace ignored).
pub(crate) fn decode_base64(encoded: &str) -> Result<Vec<u8>, ToolError> {
    let body = match encoded.trim_start().strip_prefix("data:") {
        Some(rest) => rest.split_once(',').map(|(_, b)| b).unwrap_or(""),
        None => encoded,
    };
    // Checked on the encoded length first, so an oversized argument is refused cheaply.
    if body.len() > MAX_BASE64_BYTES / 3 * 4 + 4096 {
        return Err(ToolError::new(format!(
            "content_base64 decodes to more than {MAX_BASE64_BYTES} bytes (8 MiB), the limit; use path for larger files."
        )));
    }
    let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    // One engine for every spelling models produce: padded or not, standard or URL-safe
    // alphabet (mapped onto the standard one; neither alphabet uses the other's two symbols).
    let standard: String = compact
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    let bytes = BASE64
        .decode(standard)
        .map_err(|e| ToolError::new(format!("content_base64 is not valid base64 ({e}).")))?;
    if bytes.len() > MAX_BASE64_BYTES {
        return Err(ToolError::new(format!(
            "content_base64 decodes to {} bytes; the limit is {MAX_BASE64_BYTES} bytes (8 MiB).",
            bytes.len()
        )));
    }
    if bytes.is_empty() {
        return Err(ToolError::new(
            "content_base64 is empty: there is nothing to upload.",
        ));
    }
    Ok(bytes)
}

#[tool_router(router = file_router, vis = "pub(crate)")]
impl Toolbox {
    /// Upload a file (upload-root path or base64) to get a file_… id for attachment_ids.
    #[tool(
        title = "Upload file",
        annotations(destructive_hint = false),
        output_schema = super::schema::<FileOut>()
    )]
    pub(crate) async fn upload_file(
        &self,
        Parameters(a): Parameters<UploadFileArgs>,
        ctx: RequestContext<RoleServer>,
        ct: CancellationToken,
    ) -> ToolResult {
        let (filename, content) = match (&a.path, &a.content_base64) {
            (Some(_), Some(_)) => {
                return Err(ToolError::new(
                    "give either path or content_base64, not both.",
                ));
            }
            (None, None) => {
                return Err(ToolError::new(
                    "give path (a file inside an upload root) or content_base64 with filename.",
                ));
            }
            (Some(raw), None) => {
                let canonical = confine(&self.settings.upload_roots, raw)?;
                let name = match &a.filename {
                    Some(n) => n.clone(),
                    None => canonical
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                };
                let name = check_filename(&name)?;
                let (file, len) = tokio::task::spawn_blocking(move || open_confined(&canonical))
                    .await
                    .map_err(|e| {
                        ToolError::new(format!("internal error while opening the file: {e}"))
                    })??;
                let content = UploadContent::File {
                    file: std::sync::Arc::new(file),
                    len,
                };
                (name, content)
            }
            (None, Some(encoded)) => {
                let name = a.filename.as_deref().ok_or_else(|| ToolError::new("content_base64 needs filename (e.g. chart.png) so Whop knows the file type."))?;
                let bytes = Bytes::from(decode_base64(encoded)?);
                (check_filename(name)?, bytes.into())
            }
        };
        let size = content.len();
        let visibility = match a.visibility.unwrap_or_default() {
            Visibility::Public => "public",
            Visibility::Private => "private",
        };
        let source = UploadSource {
            filename: filename.clone(),
            content,
            visibility: visibility.into(),
        };

        // Progress goes through a channel so notifications leave in order while the upload runs.
        let token = ctx.meta.get_progress_token();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<UploadProgress>();
        let peer = ctx.peer.clone();
        let forward = async move {
            while let Some(p) = rx.recv().await {
                let Some(token) = token.clone() else { continue };
                let (step, message) = match &p {
                    UploadProgress::Created { file_id } => (1.0, format!("created {file_id}")),
                    UploadProgress::Uploaded { bytes } => (2.0, format!("sent {bytes} bytes")),
                    UploadProgress::Processing { polls } => (
                        2.0 + (*polls as f64 / (*polls as f64 + 1.0)).min(0.9),
                        "Whop is processing the file".to_owned(),
                    ),
                    UploadProgress::Ready => (3.0, "ready".to_owned()),
                };
                let param = ProgressNotificationParam::new(token, step)
                    .with_total(3.0)
                    .with_message(message);
                // The client may have gone away; progress is best effort.
                peer.notify_progress(param).await.ok();
            }
        };
        let upload = async move {
            let report = move |p: UploadProgress| {
                tx.send(p).ok();
            };
            self.client
                .upload(source, &report)
                .await
                .map_err(|e| ToolError::whop(e, Effect::Write))
        };
        let (file, ()) = cancellable(&ct, async { Ok(tokio::join!(upload, forward)) }).await?;
        let out = FileOut::from(&file?, size);
        let text = format!(
            "Uploaded {} as {} ({} bytes, {}, {}). Attach it with send_message attachment_ids: [\"{}\"].",
            out.filename.as_deref().unwrap_or(&filename),
            out.id,
            out.size.unwrap_or(size),
            out.content_type.as_deref().unwrap_or("unknown type"),
            out.status,
            out.id
        );
        output(&self.gate, text, &out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What an upload of `path` would send.
    fn read_all(path: &Path) -> Result<Vec<u8>, ToolError> {
        use std::io::Read as _;
        let (file, len) = open_confined(path)?;
        let mut bytes = Vec::new();
        file.take(len).read_to_end(&mut bytes).unwrap();
        Ok(bytes)
    }

    #[test]
    fn base64_forms() {
        assert_eq!(decode_base64("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(decode_base64("aGVs\nbG8").unwrap(), b"hello");
        // Both alphabets, with or without padding.
        for form in ["+/8=", "+/8", "-_8=", "-_8"] {
            assert_eq!(decode_base64(form).unwrap(), [0xfb, 0xff], "{form}");
        }
        assert_eq!(
            decode_base64("data:text/plain;base64,aGVsbG8=").unwrap(),
            b"hello"
        );
        assert!(
            decode_base64("***")
                .unwrap_err()
                .message
                .contains("not valid base64")
        );
        assert!(decode_base64("").unwrap_err().message.contains("empty"));
        let huge = "A".repeat(MAX_BASE64_BYTES / 3 * 4 + 8192);
        assert!(decode_base64(&huge).unwrap_err().message.contains("8 MiB"));
    }

    #[test]
    fn filenames() {
        assert_eq!(check_filename(" chart.png ").unwrap(), "chart.png");
        // Stored as the model is shown it: the bidi override is gone.
        assert_eq!(
            check_filename("invoice\u{202E}gpj.exe").unwrap(),
            "invoicegpj.exe"
        );
        for bad in ["", "a/b.png", "..", "x\u{0}y", "a\\b"] {
            assert!(check_filename(bad).is_err(), "{bad:?}");
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_folder_swapped_for_a_link_after_the_check_is_refused() {
        let dir = std::env::temp_dir().join(format!("whop-confine-{}", std::process::id()));
        let real = dir.join("real");
        std::fs::create_dir_all(&real).unwrap();
        std::fs::write(real.join("f.txt"), "data").unwrap();
        let _ = std::fs::remove_file(dir.join("swapped"));
        std::os::unix::fs::symlink(&real, dir.join("swapped")).unwrap();
        let real = real.canonicalize().unwrap();
        assert_eq!(read_all(&real.join("f.txt")).unwrap(), b"data");
        // What the open sees if a checked folder became a link: the kernel's path differs.
        let e = read_all(&dir.canonicalize().unwrap().join("swapped/f.txt"))
            .unwrap_err()
            .message;
        assert!(e.contains("changed while it was being opened"), "{e}");
        std::fs::remove_dir_all(&dir).ok();
    }

    /// A fresh folder under the system's temp dir, canonical, removed by the caller.
    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("whop-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.canonicalize().unwrap()
    }

    #[test]
    fn paths_outside_the_roots_get_one_answer_whether_or_not_they_exist() {
        let root = scratch("oracle");
        let roots = [root.clone()];
        let there = confine(&roots, "/etc/passwd").unwrap_err().message;
        let missing = confine(&roots, "/etc/no-such-file-here")
            .unwrap_err()
            .message;
        assert_eq!(
            there.replace("/etc/passwd", "X"),
            missing.replace("/etc/no-such-file-here", "X")
        );
        assert!(there.contains("outside the upload roots"), "{there}");
        // Inside a root, a missing file is simply missing.
        let inside = confine(&roots, "nope.txt").unwrap_err().message;
        assert!(inside.starts_with("no file at"), "{inside}");
        std::fs::remove_dir_all(&root).ok();
    }

    #[cfg(unix)]
    #[test]
    fn a_hard_link_to_a_file_elsewhere_is_refused() {
        let root = scratch("hardlink-root");
        let elsewhere = scratch("hardlink-outside");
        std::fs::write(elsewhere.join("secret.txt"), "secret").unwrap();
        std::fs::hard_link(elsewhere.join("secret.txt"), root.join("innocent.txt")).unwrap();
        let path = confine(std::slice::from_ref(&root), "innocent.txt").unwrap();
        let e = read_all(&path).unwrap_err().message;
        assert!(
            e.contains("2 hard links") && e.contains("not uploaded"),
            "{e}"
        );
        std::fs::write(root.join("plain.txt"), "ok").unwrap();
        assert_eq!(read_all(&root.join("plain.txt")).unwrap(), b"ok");
        std::fs::remove_dir_all(&root).ok();
        std::fs::remove_dir_all(&elsewhere).ok();
    }

    #[test]
    fn no_roots_means_no_local_files_and_says_how_to_allow() {
        let e = confine(&[], "/etc/passwd").unwrap_err().message;
        assert!(
            e.contains("--upload-root") && e.contains("WHOP_UPLOAD_ROOTS"),
            "{e}"
        );
    }
}
