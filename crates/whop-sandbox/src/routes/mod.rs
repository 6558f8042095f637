//! The sandbox's HTTP routes, split by resource like the client: Whop's v1 chat endpoints
//! plus the presigned upload and media URLs, behind three layers — request log and faults,
//! then auth and version, then idempotency (POST only).

mod channels;
mod dms;
mod files;
mod idempotency;
mod identity;
mod messages;
mod reactions;
mod support;

use std::{collections::HashMap, sync::Arc};

use axum::{
    Json, Router,
    body::{Body, to_bytes},
    extract::{DefaultBodyLimit, Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{delete, get, post, put},
};
use bytes::Bytes;
use serde_json::Value;

pub(crate) use messages::insert_message;

use crate::{
    ApiError, ConnKiller, LoggedRequest, Shared, faults,
    rules::KNOWN_VERSIONS,
    state::{PageQuery, Principal, State as Data},
};

type Sb = State<Arc<Shared>>;
type ApiResult = Result<Json<Value>, ApiError>;

/// Largest body the sandbox reads (uploads included).
pub const MAX_BODY: usize = 64 * 1024 * 1024;
/// Longest message content the sandbox accepts.
pub const MAX_CONTENT_CHARS: usize = 20_000;
/// How long uploaded files "process" before they are ready, unless a test says otherwise.
const DEFAULT_PROCESSING_MS: i64 = 150;

/// Who is calling and in which API version, set by [`authenticate`].
#[derive(Clone)]
struct Ctx {
    principal: Principal,
    version: String,
    /// The bearer key: idempotency keys are scoped to it.
    key: String,
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    use {channels::*, dms::*, files::*, identity::*, messages::*, reactions::*, support::*};
    let api = Router::new()
        .route("/messages", get(list_messages).post(create_message))
        .route(
            "/messages/{id}",
            get(get_message)
                .patch(update_message)
                .delete(delete_message),
        )
        .route("/chat_channels", get(list_channels))
        .route(
            "/chat_channels/{id}",
            get(get_channel).patch(update_channel),
        )
        .route(
            "/dm_channels",
            get(list_dm_channels).post(create_dm_channel),
        )
        .route("/dm_channels/{id}", get(get_dm_channel))
        .route("/dm_members", get(list_dm_members))
        .route("/users", get(list_users))
        .route("/users/{id}", get(get_user))
        .route("/support_channels", get(list_support).post(create_support))
        .route("/support_channels/{id}", get(get_support))
        .route("/files", post(create_file))
        .route("/files/{id}", get(get_file))
        .route("/reactions", get(list_reactions).post(create_reaction))
        .route("/reactions/{id}", delete(delete_reaction))
        .route("/accounts/me", get(account_me))
        .route("/users/me", get(user_me))
        // Layers run outside-in in reverse order of `route_layer` calls: auth, then replay.
        .route_layer(middleware::from_fn_with_state(
            shared.clone(),
            idempotency::layer,
        ))
        .route_layer(middleware::from_fn_with_state(shared.clone(), authenticate))
        .fallback(|| async { ApiError::not_found() });
    Router::new()
        .nest("/api/v1", api)
        .route("/_uploads/{id}", put(upload_bytes))
        .route("/_media/{id}/{name}", get(media))
        .route("/_sandbox/stats", get(stats))
        .layer(middleware::from_fn_with_state(
            shared.clone(),
            log_and_faults,
        ))
        .layer(DefaultBodyLimit::disable())
        .with_state(shared)
}

/// `GET /_sandbox/stats`: what a load run needs from outside the process: how many API
/// requests arrived, per second of arrival (seconds since the sandbox started), and the chat
/// channels anyone may post to without slow mode.
async fn stats(State(sb): Sb) -> Response {
    let started = sb.started;
    let (total, per_second) = {
        let log = sb.log.lock().unwrap_or_else(|p| p.into_inner());
        (log.api_total, log.per_second.clone())
    };
    let st = sb.state();
    // Open to everyone and without slow mode, so a load run's sends are not refused.
    let chat_channels: Vec<&str> = st
        .channels
        .iter()
        .filter(|c| c.who_can_post == "everyone" && c.cooldown_seconds.unwrap_or(0) == 0)
        .map(|c| c.id.as_str())
        .collect();
    axum::Json(serde_json::json!({
        "requests_total": total,
        "now": started.elapsed().as_secs(),
        "per_second": per_second,
        "chat_channels": chat_channels,
    }))
    .into_response()
}

// ---------------------------------------------------------------------------------------------
// Layers

pub(super) async fn log_and_faults(State(sb): Sb, req: Request, next: Next) -> Response {
    if req.uri().path() == "/_sandbox/stats" {
        // Looking at the log is not a request to Whop.
        return next.run(req).await;
    }
    let latency = sb.latency_ms.load(std::sync::atomic::Ordering::Relaxed);
    if latency > 0 && req.uri().path().starts_with("/api/v1/") {
        tokio::time::sleep(std::time::Duration::from_millis(latency)).await;
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_BODY).await else {
        return ApiError::new(413, "invalid_request_error", "Request body too large.")
            .into_response();
    };
    let method = parts.method.as_str().to_owned();
    let path = parts.uri.path().to_owned();
    let query = parts
        .uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let headers = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    sb.log.lock().unwrap_or_else(|p| p.into_inner()).push(
        LoggedRequest {
            method: method.clone(),
            path: path.clone(),
            query,
            headers,
            body: bytes.clone(),
            at: std::time::Instant::now(),
        },
        sb.started,
    );
    let fault = faults::take(
        &mut sb.faults.lock().unwrap_or_else(|p| p.into_inner()),
        &method,
        &path,
    );
    let killer = parts.extensions.get::<ConnKiller>().cloned();
    use faults::FaultAction as F;
    match &fault {
        Some(F::Status {
            status,
            headers,
            body,
        }) => {
            let mut resp = Response::new(Body::from(body.clone()));
            *resp.status_mut() =
                StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            for (k, v) in headers {
                if let (Ok(k), Ok(v)) = (k.parse::<header::HeaderName>(), HeaderValue::from_str(v))
                {
                    resp.headers_mut().insert(k, v);
                }
            }
            return resp;
        }
        Some(F::Delay(d)) => tokio::time::sleep(*d).await,
        Some(F::DropBeforeProcessing) => {
            if let Some(k) = &killer {
                k.kill().await;
            }
        }
        _ => {}
    }
    let resp = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    match fault {
        Some(F::DropAfterCommit) => match &killer {
            Some(k) => k.kill().await,
            None => resp,
        },
        Some(F::MalformedBody) => {
            let mut bad = Response::new(Body::from(r#"{"data": [{"id": "msg_"#));
            bad.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            bad
        }
        Some(F::TruncatedBody) => {
            let (parts, body) = resp.into_parts();
            let full = to_bytes(body, MAX_BODY).await.unwrap_or_default();
            let half = full.slice(..full.len() / 2);
            let chunks: Vec<Result<Bytes, std::io::Error>> =
                vec![Ok(half), Err(std::io::Error::other("sandbox: truncated"))];
            let mut resp =
                Response::from_parts(parts, Body::from_stream(futures_util::stream::iter(chunks)));
            resp.headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(full.len()));
            resp
        }
        _ => resp,
    }
}

pub(super) async fn authenticate(State(sb): Sb, mut req: Request, next: Next) -> Response {
    let key = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let principal = key.as_deref().and_then(|k| sb.state().keys.get(k).cloned());
    let Some(principal) = principal else {
        return ApiError::new(401, "unauthorized", "Invalid or missing API key").into_response();
    };
    let version = match req
        .headers()
        .get("api-version-date")
        .map(|v| v.to_str().unwrap_or(""))
    {
        None => principal.pinned_version.clone(),
        Some(v) if KNOWN_VERSIONS.contains(&v) => v.to_owned(),
        Some(v) => {
            return ApiError::invalid(
                "Api-Version-Date",
                format!(
                    "Unsupported API version {v:?}. Supported versions: {}.",
                    KNOWN_VERSIONS.join(", ")
                ),
            )
            .into_response();
        }
    };
    req.extensions_mut().insert(Ctx {
        principal,
        version,
        key: key.unwrap_or_default(),
    });
    next.run(req).await
}

// ---------------------------------------------------------------------------------------------
// Helpers shared by the resources

fn require(p: &Principal, scope: &str) -> Result<(), ApiError> {
    if p.has(scope) {
        Ok(())
    } else {
        Err(ApiError::forbidden())
    }
}

fn page_query(q: &HashMap<String, String>) -> Result<PageQuery, ApiError> {
    let int = |name: &'static str| {
        q.get(name)
            .map(|v| {
                v.parse::<i64>()
                    .map_err(|_| ApiError::invalid(name, format!("{name} must be an integer.")))
            })
            .transpose()
    };
    Ok(PageQuery {
        first: int("first")?,
        last: int("last")?,
        after: q.get("after").cloned(),
        before: q.get("before").cloned(),
    })
}

fn direction(q: &HashMap<String, String>, default_ascending: bool) -> Result<bool, ApiError> {
    match q.get("direction").map(String::as_str) {
        None => Ok(default_ascending),
        Some("asc") => Ok(true),
        Some("desc") => Ok(false),
        Some(_) => Err(ApiError::invalid(
            "direction",
            "direction must be asc or desc.".into(),
        )),
    }
}

fn parse_body(body: &Bytes) -> Result<serde_json::Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(ApiError {
            code: Some("invalid_json"),
            ..ApiError::new(
                400,
                "invalid_request_error",
                "The request body must be a JSON object.",
            )
        }),
    }
}

fn str_field<'a>(
    b: &'a serde_json::Map<String, Value>,
    name: &'static str,
) -> Result<Option<&'a str>, ApiError> {
    match b.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::invalid(name, format!("{name} must be a string."))),
    }
}

fn bool_field(
    b: &serde_json::Map<String, Value>,
    name: &'static str,
) -> Result<Option<bool>, ApiError> {
    match b.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(v)) => Ok(Some(*v)),
        Some(_) => Err(ApiError::invalid(
            name,
            format!("{name} must be a boolean."),
        )),
    }
}

/// Which scope reading or writing a feed needs, and whether this caller may see it at all.
fn feed_access(st: &Data, p: &Principal, feed: &str, write: bool) -> Result<(), ApiError> {
    if st.channel(feed).is_some() {
        require(
            p,
            if write {
                "chat:message:create"
            } else {
                "chat:read"
            },
        )
    } else if let Some(dm) = st.dm(feed) {
        require(
            p,
            if write {
                "dms:message:manage"
            } else {
                "dms:read"
            },
        )?;
        // Only members see a DM; to anyone else it does not exist.
        if dm.member(&p.user_id).is_some() {
            Ok(())
        } else {
            Err(ApiError::not_found())
        }
    } else if let Some(chat) = st.support_chat(feed) {
        require(
            p,
            if write {
                "support_chat:message:create"
            } else {
                "support_chat:read"
            },
        )?;
        if p.is_admin || p.user_id == chat.customer_id {
            Ok(())
        } else {
            Err(ApiError::not_found())
        }
    } else {
        Err(ApiError::not_found())
    }
}

/// The company a request names must be the sandbox's one (another company is forbidden).
fn check_company(st: &Data, company: &str) -> Result<(), ApiError> {
    if company == st.company_id {
        Ok(())
    } else {
        Err(ApiError::forbidden())
    }
}
