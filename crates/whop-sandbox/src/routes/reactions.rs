//! `/reactions`: emoji reactions (reported as shortcodes) and poll votes.

use std::collections::HashMap;

use axum::{
    Extension, Json,
    extract::{Path, Query, State},
};
use bytes::Bytes;
use serde_json::{Value, json};

use super::{ApiResult, Ctx, Sb, feed_access, page_query, parse_body, str_field};
use crate::{
    ApiError, rules,
    state::{self, Reaction, State as Data},
};

fn reaction_json(st: &Data, r: &Reaction) -> Value {
    json!({
        "id": r.id,
        "emoji": r.emoji,
        "resource_id": r.message_id,
        "user": st.user(&r.user_id).map(|u| u.json()),
    })
}

pub(super) async fn list_reactions(
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

pub(super) async fn create_reaction(
    State(sb): Sb,
    Extension(cx): Extension<Ctx>,
    body: Bytes,
) -> ApiResult {
    let b = parse_body(&body)?;
    let resource = str_field(&b, "resource_id")?.ok_or(ApiError::missing("resource_id"))?;
    // Stored and reported as the shortcode Whop uses, whichever form was sent.
    let emoji = str_field(&b, "emoji")?
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(rules::shortcode);
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

pub(super) async fn delete_reaction(
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
    let emoji = &rules::shortcode(q.get("emoji").ok_or(ApiError::missing("emoji"))?);
    let before = st.reactions.len();
    st.reactions.retain(|r| {
        !(r.message_id == id
            && r.user_id == p.user_id
            && r.emoji.as_ref() == Some(emoji)
            && r.poll_option_id.is_none())
    });
    Ok(Json(json!(st.reactions.len() < before)))
}
