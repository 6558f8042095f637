//! `/messages`: list, retrieve, create (with the channel's moderation rules), update, delete.

use std::collections::HashMap;

use axum::{
    Extension, Json,
    extract::{Path, Query, State},
};
use bytes::Bytes;
use serde_json::{Value, json};

use super::{
    ApiResult, Ctx, DEFAULT_PROCESSING_MS, MAX_CONTENT_CHARS, Sb, bool_field, direction,
    feed_access, page_query, parse_body, str_field,
};
use crate::{
    ApiError, now_ms, rules,
    state::{self, Channel, FileStatus, Message, Principal, State as Data, UploadOutcome},
};

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

pub(super) async fn list_messages(
    State(sb): Sb,
    Extension(cx): Extension<Ctx>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let channel = q.get("channel_id").ok_or(ApiError::missing("channel_id"))?;
    let pq = page_query(&q)?;
    let ascending = direction(&q, rules::MESSAGES_DEFAULT_ASCENDING)?;
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
    let items = msgs.into_iter().map(|m| (m.seq, m)).collect();
    Ok(Json(state::paginate_with(
        "messages",
        items,
        ascending,
        &pq,
        |m| st.message_json(m),
    )?))
}

pub(super) async fn get_message(
    State(sb): Sb,
    Extension(cx): Extension<Ctx>,
    Path(id): Path<String>,
) -> ApiResult {
    let st = sb.state();
    let m = st.messages.get(&id).ok_or_else(ApiError::not_found)?;
    feed_access(&st, &cx.principal, &m.channel_id, false)?;
    Ok(Json(st.message_json(m)))
}

pub(super) async fn create_message(
    State(sb): Sb,
    Extension(cx): Extension<Ctx>,
    body: Bytes,
) -> ApiResult {
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
    let hook = sb.webhook_for(st, &id);
    drop(guard);
    sb.posted.notify_waiters();
    sb.send_webhook(hook);
    Ok(Json(json))
}

/// Moderation settings apply to members, not to admins. Whop documents the settings but not
/// the answers to a message that breaks them: the statuses are in [`rules`] (assumptions).
fn enforce_member_rules(
    st: &Data,
    c: &Channel,
    p: &Principal,
    content: &str,
    media: bool,
) -> Result<(), ApiError> {
    let refuse = |status: u16, param: &'static str, message: &str| ApiError {
        status,
        ..ApiError::invalid(param, message.into())
    };
    if c.ban_urls && (content.contains("http://") || content.contains("https://")) {
        return Err(refuse(
            rules::BANNED_LINK_OR_MEDIA_STATUS,
            "content",
            "Links are not allowed in this channel.",
        ));
    }
    if c.ban_media && media {
        return Err(refuse(
            rules::BANNED_LINK_OR_MEDIA_STATUS,
            "attachments",
            "Media is not allowed in this channel.",
        ));
    }
    let lower = content.to_lowercase();
    if c.banned_words
        .iter()
        .any(|w| lower.contains(&w.to_lowercase()))
    {
        return Err(refuse(
            rules::BANNED_WORD_STATUS,
            "content",
            "This message contains a banned word.",
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
            let seconds = (wait + 999) / 1000;
            return Err(ApiError {
                retry_after: Some(seconds),
                ..ApiError::new(
                    rules::SLOW_MODE_STATUS,
                    "rate_limit_error",
                    format!("Slow mode: wait {seconds} s before posting again."),
                )
            });
        }
    }
    Ok(())
}

pub(super) async fn update_message(
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

pub(super) async fn delete_message(
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
