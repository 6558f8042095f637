//! `/support_channels`: list, retrieve, and open (or return the existing) support chat.

use std::collections::HashMap;

use axum::{
    Extension, Json,
    extract::{Path, Query, State},
};
use bytes::Bytes;
use serde_json::Value;

use super::{
    ApiResult, Ctx, Sb, check_company, direction, page_query, parse_body, require, str_field,
};
use crate::{
    ApiError,
    rules::{self, Resource},
    state::{self, SupportChat},
};

pub(super) async fn list_support(
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
    // PY 2.5.0 adds the filter; before, it is an unknown parameter (rules::ASSUMPTIONS).
    let customer = q
        .get("customer_user_id")
        .filter(|_| rules::support_shape(&cx.version) >= rules::SupportShape::WithInbox);
    let st = sb.state();
    // Under the other version's name the filter is unknown, so ignored (rules::ASSUMPTIONS).
    let param = st.company_param(Resource::SupportChannels, &cx.version);
    if let Some(company) = q.get(param) {
        check_company(&st, company)?;
    }
    let p = &cx.principal;
    let mut chats: Vec<(u64, &SupportChat)> = st
        .support
        .iter()
        .enumerate()
        .filter(|(_, s)| p.is_admin || s.customer_id == p.user_id)
        .filter(|(_, s)| open.is_none_or(|o| o == s.resolved_ms.is_none()))
        .filter(|(_, s)| customer.is_none_or(|c| *c == s.customer_id))
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

pub(super) async fn get_support(
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

pub(super) async fn create_support(
    State(sb): Sb,
    Extension(cx): Extension<Ctx>,
    body: Bytes,
) -> ApiResult {
    let b = parse_body(&body)?;
    let param = sb
        .state()
        .company_param(Resource::SupportChannels, &cx.version);
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
