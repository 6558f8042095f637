//! The sandbox's HTTP routes: Whop's v1 chat endpoints plus the presigned upload and media
//! URLs, behind two layers — request log and faults, then auth, version and idempotency.

use std::{collections::HashMap, sync::Arc};

use axum::{
    Extension, Json, Router,
    body::{Body, to_bytes},
    extract::{DefaultBodyLimit, Path, Query, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{delete, get, post, put},
};
use bytes::Bytes;
use serde_json::{Value, json};

use super::{
    ApiError, ConnKiller, IdempotencyEntry, LoggedRequest, Shared, faults, now_ms,
    state::{
        self, Channel, FileRecord, FileStatus, KNOWN_VERSIONS, Message, PageQuery, Principal,
        Reaction, State as Data, SupportChat, UploadOutcome,
    },
};
use crate::whop::company_param;

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
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route("/messages", get(list_messages).post(create_message))
        .route(
            "/messages/{id}",
            get(get_message)
                .patch(update_message)
                .delete(delete_message),
        )
        .route("/chat_channels", get(list_channels))
        .route("/chat_channels/{id}", get(get_channel))
        .route("/support_channels", get(list_support).post(create_support))
        .route("/support_channels/{id}", get(get_support))
        .route("/files", post(create_file))
        .route("/files/{id}", get(get_file))
        .route("/reactions", get(list_reactions).post(create_reaction))
        .route("/reactions/{id}", delete(delete_reaction))
        .route("/accounts/me", get(account_me))
        .route("/users/me", get(user_me))
        .route_layer(middleware::from_fn_with_state(shared.clone(), authenticate))
        .fallback(|| async { ApiError::not_found() });
    Router::new()
        .nest("/api/v1", api)
        .route("/_uploads/{id}", put(upload_bytes))
        .route("/_media/{id}/{name}", get(media))
        .layer(middleware::from_fn_with_state(
            shared.clone(),
            log_and_faults,
        ))
        .layer(DefaultBodyLimit::disable())
        .with_state(shared)
}

// ---------------------------------------------------------------------------------------------
// Layers

async fn log_and_faults(State(sb): Sb, req: Request, next: Next) -> Response {
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
    sb.log
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(LoggedRequest {
            method: method.clone(),
            path: path.clone(),
            query,
            headers,
            body: bytes.clone(),
        });
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

async fn authenticate(State(sb): Sb, mut req: Request, next: Next) -> Response {
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
    req.extensions_mut().insert(Ctx { principal, version });

    // Idempotency: a repeated key replays the first answer and creates nothing.
    let idem = (req.method() == axum::http::Method::POST)
        .then(|| {
            req.headers()
                .get("idempotency-key")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        })
        .flatten();
    let Some(idem) = idem else {
        return next.run(req).await;
    };
    if idem.is_empty() || idem.len() > 255 {
        return ApiError::invalid(
            "Idempotency-Key",
            "Idempotency-Key must be 1 to 255 characters.".into(),
        )
        .into_response();
    }
    let (parts, body) = req.into_parts();
    let body = to_bytes(body, MAX_BODY).await.unwrap_or_default();
    let slot = format!("{}|{idem}", key.unwrap_or_default());
    let fingerprint = format!(
        "{} {} {}",
        parts.method,
        parts.uri.path(),
        String::from_utf8_lossy(&body)
    );
    {
        let mut map = sb.idempotency.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(&slot) {
            Some(entry) if entry.fingerprint != fingerprint => {
                return ApiError::new(
                    409,
                    "idempotency_error",
                    "This Idempotency-Key was already used with different parameters.",
                )
                .into_response();
            }
            Some(IdempotencyEntry {
                answer: Some((status, body)),
                ..
            }) => {
                let mut resp = Response::new(Body::from(body.clone()));
                *resp.status_mut() = StatusCode::from_u16(*status).unwrap_or(StatusCode::OK);
                resp.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                resp.headers_mut()
                    .insert("idempotent-replayed", HeaderValue::from_static("true"));
                return resp;
            }
            Some(_) => {
                return ApiError::new(
                    409,
                    "idempotency_error",
                    "A request with this Idempotency-Key is still in progress.",
                )
                .into_response();
            }
            None => {
                map.insert(
                    slot.clone(),
                    IdempotencyEntry {
                        fingerprint,
                        answer: None,
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
    if status >= 500 || status == 429 {
        // Nothing was created: a retry may run the request again.
        map.remove(&slot);
    } else if let Some(entry) = map.get_mut(&slot) {
        entry.answer = Some((status, body.clone()));
    }
    Response::from_parts(parts, Body::from(body))
}

// ---------------------------------------------------------------------------------------------
// Helpers

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

/// Users named with `@username` in a text, and whether it mentions everyone.
fn mentions(st: &Data, content: &str) -> (Vec<String>, bool) {
    let mut ids = Vec::new();
    let mut everyone = false;
    for word in content.split(|c: char| c.is_whitespace() || ",.;:!?()[]".contains(c)) {
        let Some(name) = word.strip_prefix('@') else {
            continue;
        };
        if name.eq_ignore_ascii_case("everyone") || name.eq_ignore_ascii_case("here") {
            everyone = true;
        } else if let Some(u) = st
            .users
            .iter()
            .find(|u| u.username.eq_ignore_ascii_case(name))
            && !ids.contains(&u.id)
        {
            ids.push(u.id.clone());
        }
    }
    (ids, everyone)
}

/// Stores a new message and returns its id (used by the route, the seed and tests).
pub(crate) fn insert_message(
    st: &mut Data,
    feed: &str,
    user_id: &str,
    content: &str,
    replying_to: Option<String>,
    poll: Option<Vec<(String, String)>>,
    attachments: Vec<String>,
) -> String {
    let id = st.new_id("msg");
    let created = st.next_created_ms();
    st.next_seq += 1;
    let (mentions, everyone) = mentions(st, content);
    let message = Message {
        seq: st.next_seq,
        id: id.clone(),
        channel_id: feed.to_owned(),
        user_id: user_id.to_owned(),
        content: Some(content.to_owned()),
        created_ms: created,
        updated_ms: created,
        is_edited: false,
        is_pinned: false,
        mentions,
        mentions_everyone: everyone,
        message_type: "regular",
        poll,
        replying_to,
        attachments,
        view_count: None,
    };
    st.messages.insert(id.clone(), message);
    id
}

// ---------------------------------------------------------------------------------------------
// Messages

async fn list_messages(
    State(sb): Sb,
    Extension(cx): Extension<Ctx>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let channel = q.get("channel_id").ok_or(ApiError::missing("channel_id"))?;
    let pq = page_query(&q)?;
    // Whop's default order is undocumented; the sandbox uses oldest first, so a client that
    // relies on the default notices.
    let ascending = direction(&q, true)?;
    let st = sb.state();
    let feed = st.feed_id(channel).ok_or_else(ApiError::not_found)?;
    feed_access(&st, &cx.principal, &feed, false)?;
    let mut msgs: Vec<&Message> = st
        .messages
        .values()
        .filter(|m| m.channel_id == feed)
        .collect();
    msgs.sort_by_key(|m| m.seq);
    if !ascending {
        msgs.reverse();
    }
    let items = msgs
        .into_iter()
        .map(|m| (m.seq, st.message_json(m)))
        .collect();
    Ok(Json(state::paginate("messages", items, ascending, &pq)?))
}

async fn get_message(
    State(sb): Sb,
    Extension(cx): Extension<Ctx>,
    Path(id): Path<String>,
) -> ApiResult {
    let st = sb.state();
    let m = st.messages.get(&id).ok_or_else(ApiError::not_found)?;
    feed_access(&st, &cx.principal, &m.channel_id, false)?;
    Ok(Json(st.message_json(m)))
}

async fn create_message(State(sb): Sb, Extension(cx): Extension<Ctx>, body: Bytes) -> ApiResult {
    let b = parse_body(&body)?;
    let channel = str_field(&b, "channel_id")?.ok_or(ApiError::missing("channel_id"))?;
    let content = str_field(&b, "content")?.ok_or(ApiError::missing("content"))?;
    let replying_to = str_field(&b, "replying_to_message_id")?.map(str::to_owned);
    bool_field(&b, "auto_detect_links")?;
    let p = &cx.principal;
    let mut guard = sb.state();
    let st = &mut *guard;
    let feed = st.feed_id(channel).ok_or_else(ApiError::not_found)?;
    feed_access(st, p, &feed, true)?;
    let rules = st.channel(&feed).cloned();
    if let Some(c) = &rules
        && c.who_can_post == "admins"
        && !p.is_admin
    {
        return Err(ApiError::new(
            403,
            "forbidden",
            "Only admins can post in this channel.",
        ));
    }
    if content.trim().is_empty() {
        return Err(ApiError::invalid(
            "content",
            "content can't be blank.".into(),
        ));
    }
    if content.chars().count() > MAX_CONTENT_CHARS {
        return Err(ApiError::invalid(
            "content",
            format!("content is too long (maximum is {MAX_CONTENT_CHARS} characters)."),
        ));
    }
    let attachments = match b.get("attachments") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|a| a.get("id").and_then(Value::as_str).map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                ApiError::invalid(
                    "attachments",
                    "attachments must be a list of {\"id\": \"file_…\"}.".into(),
                )
            })?,
        Some(_) => {
            return Err(ApiError::invalid(
                "attachments",
                "attachments must be a list.".into(),
            ));
        }
    };
    for id in &attachments {
        let ok = st.files.get_mut(id).map(|f| {
            f.advance(
                st.upload_outcome
                    .unwrap_or(UploadOutcome::ReadyAfterMs(DEFAULT_PROCESSING_MS)),
                now_ms(),
            );
            f.owner_user_id == p.user_id && f.status == FileStatus::Ready
        });
        if ok != Some(true) {
            return Err(ApiError::invalid(
                "attachments",
                format!("File {id} does not exist or is not ready."),
            ));
        }
    }
    let poll = match b.get("poll") {
        None | Some(Value::Null) => None,
        Some(poll) => {
            let options = poll
                .get("options")
                .and_then(Value::as_array)
                .ok_or(ApiError::missing("poll.options"))?;
            let mut out = Vec::new();
            for (i, o) in options.iter().enumerate() {
                let id = o.get("id").and_then(Value::as_str);
                let text = o
                    .get("text")
                    .and_then(Value::as_str)
                    .map(str::trim)
                    .filter(|t| !t.is_empty());
                match (id, text) {
                    (Some(id), Some(text)) if id == (i + 1).to_string() => out.push((id.to_owned(), text.to_owned())),
                    _ => return Err(ApiError::invalid("poll", "Poll option ids must be sequential strings starting at \"1\", each with a text.".into())),
                }
            }
            if !(2..=10).contains(&out.len()) {
                return Err(ApiError::invalid(
                    "poll",
                    "A poll needs 2 to 10 options.".into(),
                ));
            }
            Some(out)
        }
    };
    if let Some(reply) = &replying_to
        && st.messages.get(reply).is_none_or(|m| m.channel_id != feed)
    {
        return Err(ApiError::invalid(
            "replying_to_message_id",
            format!("Message {reply} is not in this channel."),
        ));
    }
    if let Some(c) = rules.as_ref().filter(|_| !p.is_admin) {
        enforce_member_rules(st, c, p, content, !attachments.is_empty())?;
    }
    let id = insert_message(
        st,
        &feed,
        &p.user_id.clone(),
        content,
        replying_to,
        poll,
        attachments,
    );
    let json = st.message_json(&st.messages[&id]);
    drop(guard);
    sb.posted.notify_waiters();
    Ok(Json(json))
}

/// Moderation settings apply to members, not to admins.
fn enforce_member_rules(
    st: &Data,
    c: &Channel,
    p: &Principal,
    content: &str,
    media: bool,
) -> Result<(), ApiError> {
    if c.ban_urls && (content.contains("http://") || content.contains("https://")) {
        return Err(ApiError::invalid(
            "content",
            "Links are not allowed in this channel.".into(),
        ));
    }
    if c.ban_media && media {
        return Err(ApiError::invalid(
            "attachments",
            "Media is not allowed in this channel.".into(),
        ));
    }
    let lower = content.to_lowercase();
    if c.banned_words
        .iter()
        .any(|w| lower.contains(&w.to_lowercase()))
    {
        return Err(ApiError::invalid(
            "content",
            "This message contains a banned word.".into(),
        ));
    }
    if let Some(cooldown) = c.cooldown_seconds.filter(|s| *s > 0) {
        let last = st
            .messages
            .values()
            .filter(|m| m.channel_id == c.id && m.user_id == p.user_id)
            .map(|m| m.created_ms)
            .max();
        if let Some(wait) = last
            .map(|t| t + cooldown * 1000 - now_ms())
            .filter(|w| *w > 0)
        {
            return Err(ApiError::new(
                429,
                "rate_limit_error",
                format!(
                    "Slow mode: wait {} s before posting again.",
                    (wait + 999) / 1000
                ),
            ));
        }
    }
    Ok(())
}

async fn update_message(
    State(sb): Sb,
    Extension(cx): Extension<Ctx>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let b = parse_body(&body)?;
    let content = str_field(&b, "content")?.map(str::to_owned);
    let pinned = bool_field(&b, "is_pinned")?;
    let p = &cx.principal;
    let mut st = sb.state();
    let m = st.messages.get(&id).ok_or_else(ApiError::not_found)?;
    feed_access(&st, p, &m.channel_id, true)?;
    if content.is_some() && m.user_id != p.user_id {
        return Err(ApiError::new(
            403,
            "forbidden",
            "You can only edit your own messages.",
        ));
    }
    if pinned.is_some() && !(p.is_admin || m.user_id == p.user_id) {
        return Err(ApiError::new(
            403,
            "forbidden",
            "Only admins can pin other people's messages.",
        ));
    }
    if let Some(c) = &content
        && c.trim().is_empty()
    {
        return Err(ApiError::invalid(
            "content",
            "content can't be blank.".into(),
        ));
    }
    let now = st.next_created_ms();
    let m = st.messages.get_mut(&id).expect("checked above");
    if let Some(c) = content
        && m.content.as_deref() != Some(c.as_str())
    {
        m.content = Some(c);
        m.is_edited = true;
    }
    if let Some(pin) = pinned {
        m.is_pinned = pin;
    }
    m.updated_ms = now;
    let m = st.messages[&id].clone();
    Ok(Json(st.message_json(&m)))
}

async fn delete_message(
    State(sb): Sb,
    Extension(cx): Extension<Ctx>,
    Path(id): Path<String>,
) -> ApiResult {
    let p = &cx.principal;
    let mut st = sb.state();
    let m = st.messages.get(&id).ok_or_else(ApiError::not_found)?;
    feed_access(&st, p, &m.channel_id, true)?;
    if !(p.is_admin || m.user_id == p.user_id) {
        return Err(ApiError::new(
            403,
            "forbidden",
            "Only the author or an admin can delete this message.",
        ));
    }
    st.messages.remove(&id);
    st.reactions.retain(|r| r.message_id != id);
    Ok(Json(json!(true)))
}

// ---------------------------------------------------------------------------------------------
// Chat channels

/// The company filter under the name the request's version uses.
fn company_filter<'a>(q: &'a HashMap<String, String>, version: &str) -> Option<&'a String> {
    q.get(company_param(version))
}

fn check_company(st: &Data, company: &str) -> Result<(), ApiError> {
    if company == st.company_id {
        Ok(())
    } else {
        Err(ApiError::forbidden())
    }
}

async fn list_channels(
    State(sb): Sb,
    Extension(cx): Extension<Ctx>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let param = company_param(&cx.version);
    let company = company_filter(&q, &cx.version).ok_or(ApiError::missing(param))?;
    let pq = page_query(&q)?;
    require(&cx.principal, "chat:read")?;
    let st = sb.state();
    check_company(&st, company)?;
    let product = q.get("product_id");
    let items = st
        .channels
        .iter()
        .enumerate()
        .filter(|(_, c)| product.is_none_or(|p| c.product_ids.contains(p)))
        .map(|(i, c)| (i as u64, c.json(cx.principal.is_admin)))
        .collect();
    Ok(Json(state::paginate("chat_channels", items, true, &pq)?))
}

async fn get_channel(
    State(sb): Sb,
    Extension(cx): Extension<Ctx>,
    Path(id): Path<String>,
) -> ApiResult {
    require(&cx.principal, "chat:read")?;
    let st = sb.state();
    let c = st.channel(&id).ok_or_else(ApiError::not_found)?;
    Ok(Json(c.json(cx.principal.is_admin)))
}

// ---------------------------------------------------------------------------------------------
// Support channels

async fn list_support(
    State(sb): Sb,
    Extension(cx): Extension<Ctx>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    require(&cx.principal, "support_chat:read")?;
    let pq = page_query(&q)?;
    let open = match q.get("open").map(String::as_str) {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => {
            return Err(ApiError::invalid(
                "open",
                "open must be true or false.".into(),
            ));
        }
    };
    let by_last_post = match q.get("order").map(String::as_str) {
        None | Some("last_post_sent_at") => true,
        Some("created_at") => false,
        Some(_) => {
            return Err(ApiError::invalid(
                "order",
                "order must be created_at or last_post_sent_at.".into(),
            ));
        }
    };
    let ascending = direction(&q, false)?;
    let include_last = q.get("include_last_message").is_some_and(|v| v == "true");
    let st = sb.state();
    if let Some(company) = company_filter(&q, &cx.version) {
        check_company(&st, company)?;
    }
    let p = &cx.principal;
    let mut chats: Vec<(u64, &SupportChat)> = st
        .support
        .iter()
        .enumerate()
        .filter(|(_, s)| p.is_admin || s.customer_id == p.user_id)
        .filter(|(_, s)| open.is_none_or(|o| o == s.resolved_ms.is_none()))
        .map(|(i, s)| {
            let primary = if by_last_post {
                st.last_message_in(&s.id)
                    .map(|m| m.created_ms)
                    .unwrap_or(s.created_ms)
            } else {
                s.created_ms
            };
            (((primary.max(0) as u64) << 16) | i as u64, s)
        })
        .collect();
    chats.sort_by_key(|(k, _)| *k);
    if !ascending {
        chats.reverse();
    }
    let items = chats
        .into_iter()
        .map(|(k, s)| (k, st.support_json(s, &cx.version, include_last)))
        .collect();
    Ok(Json(state::paginate(
        "support_channels",
        items,
        ascending,
        &pq,
    )?))
}

async fn get_support(
    State(sb): Sb,
    Extension(cx): Extension<Ctx>,
    Path(id): Path<String>,
) -> ApiResult {
    require(&cx.principal, "support_chat:read")?;
    let st = sb.state();
    let s = st
        .support_chat(&id)
        .filter(|s| cx.principal.is_admin || s.customer_id == cx.principal.user_id);
    let s = s.ok_or_else(ApiError::not_found)?;
    Ok(Json(st.support_json(s, &cx.version, true)))
}

async fn create_support(State(sb): Sb, Extension(cx): Extension<Ctx>, body: Bytes) -> ApiResult {
    let b = parse_body(&body)?;
    let param = company_param(&cx.version);
    let company = match b.get(param) {
        Some(Value::String(s)) => s.clone(),
        _ => return Err(ApiError::missing(param)),
    };
    let user = str_field(&b, "user_id")?.ok_or(ApiError::missing("user_id"))?;
    let custom_name = str_field(&b, "custom_name")?.map(str::to_owned);
    require(&cx.principal, "support_chat:create")?;
    let mut st = sb.state();
    check_company(&st, &company)?;
    let customer = st
        .user_by_name_or_id(user)
        .ok_or_else(|| ApiError::new(404, "not_found", format!("User {user} not found.")))?
        .id
        .clone();
    let existing = st
        .support
        .iter()
        .find(|s| s.customer_id == customer)
        .cloned();
    let chat = match existing {
        Some(chat) => chat,
        None => {
            let chat = SupportChat {
                id: st.new_id("feed"),
                customer_id: customer,
                custom_name,
                created_ms: st.next_created_ms(),
                resolved_ms: None,
            };
            st.support.push(chat.clone());
            chat
        }
    };
    Ok(Json(st.support_json(&chat, &cx.version, false)))
}

// ---------------------------------------------------------------------------------------------
// Files

async fn create_file(State(sb): Sb, Extension(cx): Extension<Ctx>, body: Bytes) -> ApiResult {
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

async fn get_file(
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
async fn upload_bytes(
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

async fn media(State(sb): Sb, Path((id, _name)): Path<(String, String)>) -> Response {
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

// ---------------------------------------------------------------------------------------------
// Reactions

fn reaction_json(st: &Data, r: &Reaction) -> Value {
    json!({
        "id": r.id,
        "emoji": r.emoji,
        "resource_id": r.message_id,
        "user": st.user(&r.user_id).map(|u| u.json()),
    })
}

async fn list_reactions(
    State(sb): Sb,
    Extension(cx): Extension<Ctx>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let resource = q
        .get("resource_id")
        .ok_or(ApiError::missing("resource_id"))?;
    let pq = page_query(&q)?;
    let st = sb.state();
    let m = st.messages.get(resource).ok_or_else(ApiError::not_found)?;
    feed_access(&st, &cx.principal, &m.channel_id, false)?;
    let items = st
        .reactions
        .iter()
        .enumerate()
        .filter(|(_, r)| &r.message_id == resource)
        .rev()
        .map(|(i, r)| (i as u64, reaction_json(&st, r)))
        .collect();
    Ok(Json(state::paginate("reactions", items, false, &pq)?))
}

async fn create_reaction(State(sb): Sb, Extension(cx): Extension<Ctx>, body: Bytes) -> ApiResult {
    let b = parse_body(&body)?;
    let resource = str_field(&b, "resource_id")?.ok_or(ApiError::missing("resource_id"))?;
    let emoji = str_field(&b, "emoji")?
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(str::to_owned);
    let option = str_field(&b, "poll_option_id")?.map(str::to_owned);
    let p = cx.principal.clone();
    let mut st = sb.state();
    let m = st
        .messages
        .get(resource)
        .ok_or_else(ApiError::not_found)?
        .clone();
    feed_access(&st, &p, &m.channel_id, false)?;
    if st
        .channel(&m.channel_id)
        .is_some_and(|c| c.who_can_react == "no_one")
        && !p.is_admin
    {
        return Err(ApiError::new(
            403,
            "forbidden",
            "Reactions are turned off in this channel.",
        ));
    }
    match (&emoji, &option) {
        (None, None) => return Err(ApiError::missing("emoji")),
        (_, Some(opt)) => {
            let valid = m
                .poll
                .as_ref()
                .is_some_and(|opts| opts.iter().any(|(id, _)| id == opt));
            if !valid {
                return Err(ApiError::invalid(
                    "poll_option_id",
                    format!("Option {opt} is not an option of this message's poll."),
                ));
            }
            // One vote per person per poll: a new vote replaces the old one.
            st.reactions.retain(|r| {
                !(r.message_id == m.id && r.user_id == p.user_id && r.poll_option_id.is_some())
            });
        }
        (Some(e), None) => {
            if let Some(r) = st.reactions.iter().find(|r| {
                r.message_id == m.id
                    && r.user_id == p.user_id
                    && r.emoji.as_ref() == Some(e)
                    && r.poll_option_id.is_none()
            }) {
                return Ok(Json(reaction_json(&st, r)));
            }
        }
    }
    let reaction = Reaction {
        id: st.new_id("reac"),
        message_id: m.id.clone(),
        user_id: p.user_id.clone(),
        emoji,
        poll_option_id: option,
    };
    let json = reaction_json(&st, &reaction);
    st.reactions.push(reaction);
    Ok(Json(json))
}

async fn delete_reaction(
    State(sb): Sb,
    Extension(cx): Extension<Ctx>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let p = &cx.principal;
    let mut st = sb.state();
    if let Some(i) = st.reactions.iter().position(|r| r.id == id) {
        if !(p.is_admin || st.reactions[i].user_id == p.user_id) {
            return Err(ApiError::forbidden());
        }
        st.reactions.remove(i);
        return Ok(Json(json!(true)));
    }
    let m = st.messages.get(&id).ok_or_else(ApiError::not_found)?;
    feed_access(&st, p, &m.channel_id, false)?;
    let emoji = q.get("emoji").ok_or(ApiError::missing("emoji"))?;
    let before = st.reactions.len();
    st.reactions.retain(|r| {
        !(r.message_id == id
            && r.user_id == p.user_id
            && r.emoji.as_ref() == Some(emoji)
            && r.poll_option_id.is_none())
    });
    Ok(Json(json!(st.reactions.len() < before)))
}

// ---------------------------------------------------------------------------------------------
// Identity

async fn account_me(State(sb): Sb, Extension(cx): Extension<Ctx>) -> ApiResult {
    if !cx.principal.is_account {
        return Err(ApiError::new(
            403,
            "forbidden",
            "This endpoint needs an account API key.",
        ));
    }
    let st = sb.state();
    Ok(Json(json!({
        "id": st.company_id, "object": "account", "title": st.company_title, "route": st.company_route,
    })))
}

async fn user_me(State(sb): Sb, Extension(cx): Extension<Ctx>) -> ApiResult {
    if cx.principal.is_account {
        return Err(ApiError::new(
            403,
            "forbidden",
            "This endpoint needs a user token.",
        ));
    }
    let st = sb.state();
    let u = st
        .user(&cx.principal.user_id)
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(u.json()))
}
