//! `/files` and Whop's upload flow: `POST /files` → `PUT` the bytes to the presigned
//! `upload_url` (with every `upload_headers` entry and no `Authorization`) → poll
//! `GET /files/{id}` until `ready` or `failed`, or until the processing timeout.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{
    Method,
    header::{HeaderName, HeaderValue},
};
use serde::Serialize;

use super::{
    Body, Client, Endpoint, Error, Kind, Request, RetryPolicy, messages::path_segment,
    models::File, target,
};

/// Where the upload is; reported to the caller as it moves on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadProgress {
    /// Whop created the file object.
    Created {
        file_id: String,
    },
    /// The bytes were stored.
    Uploaded {
        bytes: u64,
    },
    /// Whop is still processing; `polls` status checks so far.
    Processing {
        polls: u32,
    },
    Ready,
}

/// The bytes to upload and what to call them.
#[derive(Debug, Clone)]
pub struct UploadSource {
    pub filename: String,
    pub content: UploadContent,
    /// `public` or `private`; sent explicitly because Whop's default is documented both ways.
    pub visibility: String,
}

/// What is uploaded: bytes in memory, or an open file streamed from disk.
#[derive(Debug, Clone)]
pub enum UploadContent {
    Bytes(Bytes),
    /// The first `len` bytes of an open file (checked by the caller before opening it).
    File {
        file: std::sync::Arc<std::fs::File>,
        len: u64,
    },
}

impl UploadContent {
    pub(crate) fn len(&self) -> u64 {
        match self {
            UploadContent::Bytes(b) => b.len() as u64,
            UploadContent::File { len, .. } => *len,
        }
    }
}

impl From<Bytes> for UploadContent {
    fn from(bytes: Bytes) -> Self {
        UploadContent::Bytes(bytes)
    }
}

/// How long Whop may take to process a file after the bytes are stored.
pub(crate) const PROCESSING_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Serialize)]
struct CreateBody<'a> {
    filename: &'a str,
    visibility: &'a str,
}

impl Client {
    pub async fn create_file(&self, filename: &str, visibility: &str) -> Result<File, Error> {
        let req = Request::post_json(
            "/files",
            &CreateBody {
                filename,
                visibility,
            },
            target("chat:message:create", Kind::File, None),
        );
        self.json(req).await
    }

    pub(crate) async fn get_file(&self, id: &str) -> Result<File, Error> {
        let req = Request::get(
            format!("/files/{}", path_segment(id)),
            target("chat:read", Kind::File, Some(id)),
        );
        self.json(req).await
    }

    /// Runs the whole flow and returns the file once it is `ready`.
    pub async fn upload(
        &self,
        source: UploadSource,
        progress: &(dyn Fn(UploadProgress) + Send + Sync),
    ) -> Result<File, Error> {
        let created = self
            .create_file(&source.filename, &source.visibility)
            .await?;
        let file_id = created.id.clone();
        progress(UploadProgress::Created {
            file_id: file_id.clone(),
        });
        let upload_failed = |message: String| Error::Upload { message };

        match created.upload_status.as_deref() {
            Some("failed") => {
                return Err(upload_failed(format!(
                    "Whop refused file {file_id} when it was created"
                )));
            }
            Some("ready") => {
                progress(UploadProgress::Ready);
                return Ok(created);
            }
            _ => {}
        }
        let url = created
            .upload_url
            .as_deref()
            .ok_or_else(|| upload_failed(format!("Whop gave no upload_url for file {file_id}")))?;
        if !(url.starts_with("https://") || url.starts_with(&format!("{}/", self.base_origin()))) {
            return Err(upload_failed(format!(
                "Whop gave an upload_url that is not https for file {file_id}; nothing was sent"
            )));
        }

        let mut headers = Vec::new();
        for (name, value) in created.upload_headers.iter().flatten() {
            let value = match value {
                serde_json::Value::Null => continue,
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(&value),
            ) else {
                return Err(upload_failed(format!(
                    "Whop gave an unusable upload header {name:?}"
                )));
            };
            headers.push((name, value));
        }
        let size = source.content.len();
        // A slow link needs more than the JSON deadline: allow about 1 s per 256 KiB on top.
        let transfer = Duration::from_secs(30 + size / (256 * 1024));
        let put = Request {
            method: Method::PUT,
            endpoint: Endpoint::External(url.to_owned()),
            query: Vec::new(),
            headers,
            body: Some(match source.content {
                UploadContent::Bytes(bytes) => Body::Bytes(bytes),
                UploadContent::File { file, len } => Body::File { file, len },
            }),
            idempotency_key: None,
            target: target("chat:message:create", Kind::Upload, Some(&file_id)),
            policy: Some(RetryPolicy {
                deadline: transfer * 2,
                attempt_timeout: transfer,
                ..self.inner.policy.clone()
            }),
        };
        self.execute(put).await?;
        progress(UploadProgress::Uploaded { bytes: size });

        let started = Instant::now();
        let mut polls = 0u32;
        loop {
            // Quick first checks (small files are ready at once), then once a second.
            let wait = match polls {
                0 => Duration::from_millis(100),
                1 => Duration::from_millis(250),
                2 => Duration::from_millis(500),
                _ => Duration::from_secs(1),
            };
            tokio::time::sleep(wait).await;
            polls += 1;
            let file = self.get_file(&file_id).await?;
            match file.upload_status.as_deref() {
                Some("ready") => {
                    progress(UploadProgress::Ready);
                    return Ok(file);
                }
                Some("failed") => {
                    return Err(upload_failed(format!(
                        "Whop could not process file {file_id} (status failed); check the file type and size, then upload again"
                    )));
                }
                _ if started.elapsed() >= PROCESSING_TIMEOUT => {
                    return Err(upload_failed(format!(
                        "file {file_id} was still {} after {} s; call upload_file again later or check it in Whop",
                        file.upload_status.as_deref().unwrap_or("processing"),
                        PROCESSING_TIMEOUT.as_secs()
                    )));
                }
                _ => progress(UploadProgress::Processing { polls }),
            }
        }
    }

    /// `scheme://host[:port]` of the API base, so a sandbox on loopback may hand out plain
    /// HTTP upload URLs on itself.
    fn base_origin(&self) -> &str {
        let base = &self.inner.base_url;
        let after_scheme = base.find("://").map(|i| i + 3).unwrap_or(0);
        let end = base[after_scheme..]
            .find('/')
            .map(|i| after_scheme + i)
            .unwrap_or(base.len());
        &base[..end]
    }
}
