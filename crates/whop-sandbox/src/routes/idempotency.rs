//! `Idempotency-Key` on POST, as DOCS "Idempotent requests" describe it: the first answer for
//! a caller's key is kept for 24 hours and replayed byte for byte with
//! `Idempotent-Replayed: true`, 4xx answers included; the same key with a different request
//! (method, path, query, body or `Api-Version-Date`) is a 400 `idempotency_key_mismatch`; the
//! same key while the first request still runs is a 409 `idempotency_request_in_progress`.
//! 5xx answers are not kept ([`rules::IDEMPOTENCY_STORES_5XX`]).

use axum::{
    body::{Body, to_bytes},
    extract::{Request, State},
    http::{HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use bytes::Bytes;

use super::{Ctx, MAX_BODY, Sb};
use crate::{ApiError, IdempotencyEntry, now_ms, rules};

pub(super) async fn layer(State(sb): Sb, req: Request, next: Next) -> Response {
    // The header is ignored on other methods (DOCS); authentication ran before this layer.
    let key = (req.method() == Method::POST)
        .then(|| req.headers().get("idempotency-key"))
        .flatten()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let (Some(key), Some(cx)) = (key, req.extensions().get::<Ctx>().cloned()) else {
        return next.run(req).await;
    };
    if key.is_empty() || key.len() > rules::IDEMPOTENCY_KEY_MAX {
        return ApiError::invalid(
            "Idempotency-Key",
            format!(
                "Idempotency-Key must be 1 to {} bytes.",
                rules::IDEMPOTENCY_KEY_MAX
            ),
        )
        .into_response();
    }
    let (parts, body) = req.into_parts();
    let body = to_bytes(body, MAX_BODY).await.unwrap_or_default();
    let slot = format!("{}|{key}", cx.key);
    let fingerprint = format!(
        "{} {} ?{} v={} {}",
        parts.method,
        parts.uri.path(),
        parts.uri.query().unwrap_or(""),
        cx.version,
        String::from_utf8_lossy(&body)
    );
    let now = now_ms();
    {
        let mut map = sb.idempotency.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, e| now - e.created_ms < rules::IDEMPOTENCY_TTL_MS);
        match map.get(&slot) {
            Some(entry) if entry.fingerprint != fingerprint => {
                return ApiError {
                    code: Some("idempotency_key_mismatch"),
                    param: Some("Idempotency-Key"),
                    ..ApiError::new(
                        400,
                        "invalid_request_error",
                        "This Idempotency-Key was already used with a different request; \
                         send a new key for a new request.",
                    )
                }
                .into_response();
            }
            Some(IdempotencyEntry {
                answer: Some((status, retry_after, body)),
                ..
            }) => return replay(*status, retry_after.clone(), body.clone()),
            Some(_) => {
                return ApiError {
                    code: Some("idempotency_request_in_progress"),
                    ..ApiError::new(
                        409,
                        "conflict",
                        "A request with this Idempotency-Key is still in progress; retry shortly.",
                    )
                }
                .into_response();
            }
            None => {
                map.insert(
                    slot.clone(),
                    IdempotencyEntry {
                        fingerprint,
                        answer: None,
                        created_ms: now,
                    },
                );
            }
        }
    }
    let resp = next.run(Request::from_parts(parts, Body::from(body))).await;
    let (parts, body) = resp.into_parts();
    let body = to_bytes(body, MAX_BODY).await.unwrap_or_default();
    let status = parts.status.as_u16();
    let mut map = sb.idempotency.lock().unwrap_or_else(|p| p.into_inner());
    if status >= 500 && !rules::IDEMPOTENCY_STORES_5XX {
        // Nothing is kept: a retry runs the request again.
        map.remove(&slot);
    } else if let Some(entry) = map.get_mut(&slot) {
        let retry_after = parts.headers.get(header::RETRY_AFTER).cloned();
        entry.answer = Some((status, retry_after, body.clone()));
    }
    Response::from_parts(parts, Body::from(body))
}

fn replay(status: u16, retry_after: Option<HeaderValue>, body: Bytes) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp.headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    if let Some(v) = retry_after {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}
