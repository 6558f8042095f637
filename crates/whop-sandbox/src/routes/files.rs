//! `/files` and the upload flow: create, the presigned PUT, processing, retrieve, and media.

use std::collections::HashMap;

use axum::{
    Extension, Json,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use bytes::Bytes;

use super::{ApiResult, Ctx, DEFAULT_PROCESSING_MS, Sb, bool_field, parse_body, str_field};
use crate::{
    ApiError, now_ms,
    state::{FileRecord, FileStatus, UploadOutcome},
};

pub(super) async fn create_file(
    State(sb): Sb,
    Extension(cx): Extension<Ctx>,
    body: Bytes,
) -> ApiResult {
    let b = parse_body(&body)?;
    let filename = str_field(&b, "filename")?.ok_or(ApiError::missing("filename"))?;
    if filename.trim().is_empty() || filename.contains('/') {
        return Err(ApiError::invalid(
            "filename",
            "filename must be a plain file name.".into(),
        ));
    }
    let visibility = str_field(&b, "visibility")?.unwrap_or("private");
    if !matches!(visibility, "public" | "private") {
        return Err(ApiError::invalid(
            "visibility",
            "visibility must be public or private.".into(),
        ));
    }
    if bool_field(&b, "multipart")? == Some(true) {
        return Err(ApiError::invalid(
            "multipart",
            "The sandbox supports single-part uploads only.".into(),
        ));
    }
    let mut st = sb.state();
    let id = st.new_id("file");
    let content_type = mime_guess::from_path(filename)
        .first_or_octet_stream()
        .to_string();
    let record = FileRecord {
        id: id.clone(),
        owner_user_id: cx.principal.user_id.clone(),
        filename: filename.to_owned(),
        content_type: content_type.clone(),
        visibility: visibility.to_owned(),
        signature: uuid::Uuid::new_v4().simple().to_string(),
        upload_headers: vec![
            ("Content-Type".into(), content_type),
            ("x-amz-meta-whop-file-id".into(), id.clone()),
        ],
        bytes: None,
        status: FileStatus::Pending,
        ready_at_ms: None,
        created_ms: now_ms(),
    };
    let json = record.json(&cx.version, &sb.origin, true);
    st.files.insert(id, record);
    Ok(Json(json))
}

pub(super) async fn get_file(
    State(sb): Sb,
    Extension(cx): Extension<Ctx>,
    Path(id): Path<String>,
) -> ApiResult {
    let mut st = sb.state();
    let outcome = st
        .upload_outcome
        .unwrap_or(UploadOutcome::ReadyAfterMs(DEFAULT_PROCESSING_MS));
    let f = st
        .files
        .get_mut(&id)
        .filter(|f| f.owner_user_id == cx.principal.user_id);
    let f = f.ok_or_else(ApiError::not_found)?;
    f.advance(outcome, now_ms());
    Ok(Json(f.json(&cx.version, &sb.origin, false)))
}

/// The presigned PUT: like object storage, it takes no API key and checks the signed headers.
pub(super) async fn upload_bytes(
    State(sb): Sb,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fail = |status: StatusCode, code: &str, message: String| {
        (
            status,
            [(header::CONTENT_TYPE, "application/xml")],
            format!("<Error><Code>{code}</Code><Message>{message}</Message></Error>"),
        )
            .into_response()
    };
    if headers.contains_key(header::AUTHORIZATION) {
        return fail(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            "Only one auth mechanism allowed; the URL is already signed.".into(),
        );
    }
    let mut st = sb.state();
    let outcome = st
        .upload_outcome
        .unwrap_or(UploadOutcome::ReadyAfterMs(DEFAULT_PROCESSING_MS));
    let Some(f) = st.files.get_mut(&id) else {
        return fail(
            StatusCode::NOT_FOUND,
            "NoSuchUpload",
            "Unknown upload.".into(),
        );
    };
    if q.get("X-Sandbox-Signature") != Some(&f.signature) {
        return fail(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            "The URL signature is wrong.".into(),
        );
    }
    for (name, value) in &f.upload_headers {
        if headers.get(name.as_str()).and_then(|v| v.to_str().ok()) != Some(value.as_str()) {
            return fail(
                StatusCode::FORBIDDEN,
                "SignatureDoesNotMatch",
                format!("Signed header {name} is missing or differs."),
            );
        }
    }
    if f.status == FileStatus::Ready {
        return fail(
            StatusCode::CONFLICT,
            "InvalidObjectState",
            "The upload is complete.".into(),
        );
    }
    let etag = format!("\"{:x}\"", body.len() as u64 ^ 0x5bd1_e995);
    f.bytes = Some(body);
    f.status = FileStatus::Processing;
    f.ready_at_ms = Some(
        now_ms()
            + match outcome {
                UploadOutcome::ReadyAfterMs(ms) => ms,
                _ => 0,
            },
    );
    (StatusCode::OK, [(header::ETAG, etag)]).into_response()
}

pub(super) async fn media(State(sb): Sb, Path((id, _name)): Path<(String, String)>) -> Response {
    let st = sb.state();
    match st.files.get(&id).filter(|f| f.status == FileStatus::Ready) {
        Some(f) => (
            [(header::CONTENT_TYPE, f.content_type.clone())],
            f.bytes.clone().unwrap_or_default(),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
