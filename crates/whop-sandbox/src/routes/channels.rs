//! `/chat_channels`: list (by company) and retrieve (by feed or experience id).

use std::collections::HashMap;

use axum::{
    Extension, Json,
    extract::{Path, Query, State},
};
use bytes::Bytes;
use serde_json::Value;

use super::{
    ApiResult, Ctx, Sb, bool_field, check_company, page_query, parse_body, require, str_field,
};
use crate::{
    ApiError,
    rules::{self, Resource},
    state,
};

pub(super) async fn list_channels(
    State(sb): Sb,
    Extension(cx): Extension<Ctx>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let param = sb
        .state()
        .company_param(Resource::ChatChannels, &cx.version);
    let company = q.get(param).ok_or(ApiError::missing(param))?;
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

pub(super) async fn get_channel(
    State(sb): Sb,
    Extension(cx): Extension<Ctx>,
    Path(id): Path<String>,
) -> ApiResult {
    require(&cx.principal, "chat:read")?;
    let st = sb.state();
    let c = st.channel(&id).ok_or_else(ApiError::not_found)?;
    Ok(Json(c.json(cx.principal.is_admin)))
}

/// PY `chat_channels.update`: the moderation settings, each optional; `null` or `0` for
/// `user_posts_cooldown_seconds` removes slow mode. Needs `chat:moderate`, and only admins of
/// the community may change them (others get 403).
pub(super) async fn update_channel(
    State(sb): Sb,
    Extension(cx): Extension<Ctx>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let b = parse_body(&body)?;
    let choice =
        |name: &'static str, allowed: &[&'static str]| -> Result<Option<&'static str>, ApiError> {
            match str_field(&b, name)? {
                None => Ok(None),
                Some(v) => allowed
                    .iter()
                    .find(|a| **a == v)
                    .copied()
                    .map(Some)
                    .ok_or_else(|| {
                        ApiError::invalid(
                            name,
                            format!("{name} must be one of {}.", allowed.join(", ")),
                        )
                    }),
            }
        };
    let who_can_post = choice("who_can_post", &["everyone", "admins"])?;
    let who_can_react = choice("who_can_react", &["everyone", "no_one"])?;
    let ban_urls = bool_field(&b, "ban_urls")?;
    let ban_media = bool_field(&b, "ban_media")?;
    let cooldown = match b.get("user_posts_cooldown_seconds") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::Number(n)) if n.as_i64().is_some_and(|s| s >= 0) => {
            Some(n.as_i64().filter(|s| *s > 0))
        }
        Some(_) => {
            return Err(ApiError::invalid(
                "user_posts_cooldown_seconds",
                "user_posts_cooldown_seconds must be a whole number of seconds, 0 or more.".into(),
            ));
        }
    };
    let banned_words = match b.get("banned_words") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .map(|w| w.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    ApiError::invalid("banned_words", "banned_words must be strings.".into())
                })?,
        ),
        Some(_) => {
            return Err(ApiError::invalid(
                "banned_words",
                "banned_words must be a list.".into(),
            ));
        }
    };
    require(&cx.principal, "chat:moderate")?;
    let mut st = sb.state();
    let at = st
        .channels
        .iter()
        .position(|c| c.id == id || c.experience_id == id)
        .ok_or_else(ApiError::not_found)?;
    if rules::CHANNEL_UPDATE_NEEDS_ADMIN && !cx.principal.is_admin {
        return Err(ApiError::new(
            403,
            "forbidden",
            "Only admins can change this channel's settings.",
        ));
    }
    let c = &mut st.channels[at];
    if let Some(v) = who_can_post {
        c.who_can_post = v;
    }
    if let Some(v) = who_can_react {
        c.who_can_react = v;
    }
    if let Some(v) = ban_urls {
        c.ban_urls = v;
    }
    if let Some(v) = ban_media {
        c.ban_media = v;
    }
    if let Some(v) = cooldown {
        c.cooldown_seconds = v;
    }
    if let Some(v) = banned_words {
        c.banned_words = v;
    }
    Ok(Json(c.json(true)))
}
