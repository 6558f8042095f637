//! `/dm_channels` and `/dm_members`: DMs and group DMs of the caller's identity (an account
//! key acts as its bot user), and who is in them with which status.

use std::collections::HashMap;

use axum::{
    Extension, Json,
    extract::{Path, Query, State},
};
use bytes::Bytes;
use serde_json::Value;

use super::{ApiResult, Ctx, Sb, page_query, parse_body, require, str_field};
use crate::{
    ApiError,
    rules::{self, Resource},
    state::{self, DmChannel, DmMember, Principal, State as Data},
};

/// The DM channel `id` if the caller is one of its members; otherwise Whop says not found.
fn visible<'a>(st: &'a Data, p: &Principal, id: &str) -> Result<&'a DmChannel, ApiError> {
    st.dm(id)
        .filter(|d| d.member(&p.user_id).is_some())
        .ok_or_else(ApiError::not_found)
}

/// When the channel last had activity: its newest message, else its creation.
fn activity(st: &Data, d: &DmChannel) -> i64 {
    st.last_message_in(&d.id)
        .map(|m| m.created_ms)
        .unwrap_or(d.created_ms)
}

pub(super) async fn list_dm_channels(
    State(sb): Sb,
    Extension(cx): Extension<Ctx>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    require(&cx.principal, "dms:read")?;
    let pq = page_query(&q)?;
    let st = sb.state();
    // Under the other version's name the filter is unknown, so ignored (rules::ASSUMPTIONS).
    let param = st.company_param(Resource::DmChannels, &cx.version);
    let company = q.get(param);
    let mut dms: Vec<(u64, &DmChannel)> = st
        .dms
        .iter()
        .enumerate()
        .filter(|(_, d)| d.member(&cx.principal.user_id).is_some())
        .filter(|(_, d)| company.is_none_or(|c| d.company_id.as_ref() == Some(c)))
        .map(|(i, d)| (((activity(&st, d).max(0) as u64) << 16) | i as u64, d))
        .collect();
    // "Most recently active first" (PY).
    dms.sort_by_key(|(k, _)| std::cmp::Reverse(*k));
    let items = dms.into_iter().map(|(k, d)| (k, st.dm_json(d))).collect();
    Ok(Json(state::paginate("dm_channels", items, false, &pq)?))
}

pub(super) async fn get_dm_channel(
    State(sb): Sb,
    Extension(cx): Extension<Ctx>,
    Path(id): Path<String>,
) -> ApiResult {
    require(&cx.principal, "dms:read")?;
    let st = sb.state();
    Ok(Json(st.dm_json(visible(&st, &cx.principal, &id)?)))
}

/// Opens a DM (one other user) or group DM with the caller and `with_user_ids` (ids,
/// usernames or emails), or returns the existing channel with exactly those members.
pub(super) async fn create_dm_channel(
    State(sb): Sb,
    Extension(cx): Extension<Ctx>,
    body: Bytes,
) -> ApiResult {
    let b = parse_body(&body)?;
    let with: Vec<String> = match b.get("with_user_ids") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<_>>()
            .ok_or_else(|| {
                ApiError::invalid("with_user_ids", "with_user_ids must be strings.".into())
            })?,
        None | Some(Value::Null) => return Err(ApiError::missing("with_user_ids")),
        Some(_) => {
            return Err(ApiError::invalid(
                "with_user_ids",
                "with_user_ids must be a list.".into(),
            ));
        }
    };
    let custom_name = str_field(&b, "custom_name")?.map(str::to_owned);
    let param = sb.state().company_param(Resource::DmChannels, &cx.version);
    let company = str_field(&b, param)?.map(str::to_owned);
    require(&cx.principal, "dms:channel:manage")?;
    let me = cx.principal.user_id.clone();
    let mut st = sb.state();
    if let Some(c) = &company {
        super::check_company(&st, c)?;
    }
    let mut members = vec![me.clone()];
    for key in &with {
        let user = st
            .user_by_any(key)
            .ok_or_else(|| ApiError::new(404, "not_found", format!("User {key} not found.")))?;
        if !members.contains(&user.id) {
            members.push(user.id.clone());
        }
    }
    if members.len() < 2 {
        return Err(ApiError::invalid(
            "with_user_ids",
            "Name at least one other user.".into(),
        ));
    }
    if members.len() > rules::DM_MAX_MEMBERS {
        return Err(ApiError::invalid(
            "with_user_ids",
            format!("A DM has at most {} members.", rules::DM_MAX_MEMBERS),
        ));
    }
    let same = |d: &&DmChannel| {
        d.members.len() == members.len() && members.iter().all(|u| d.member(u).is_some())
    };
    if let Some(existing) = st.dms.iter().find(same) {
        return Ok(Json(st.dm_json(existing)));
    }
    let created_ms = st.next_created_ms();
    let mut dm = DmChannel {
        id: st.new_id("feed"),
        name: custom_name,
        company_id: company,
        created_ms,
        members: Vec::new(),
    };
    for user_id in members {
        // The others receive a request they have not accepted yet.
        let status = if user_id == me || !rules::NEW_DM_OTHERS_REQUESTED {
            "accepted"
        } else {
            "requested"
        };
        dm.members.push(DmMember {
            id: st.new_id("dmm"),
            user_id,
            status,
            last_viewed_ms: None,
        });
    }
    let json = st.dm_json(&dm);
    st.dms.push(dm);
    Ok(Json(json))
}

pub(super) async fn list_dm_members(
    State(sb): Sb,
    Extension(cx): Extension<Ctx>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let channel = q.get("channel_id").ok_or(ApiError::missing("channel_id"))?;
    require(&cx.principal, "dms:read")?;
    let pq = page_query(&q)?;
    let st = sb.state();
    let d = visible(&st, &cx.principal, channel)?;
    let items = d
        .members
        .iter()
        .enumerate()
        .map(|(i, m)| (i as u64, d.member_json(m)))
        .collect();
    Ok(Json(state::paginate("dm_members", items, true, &pq)?))
}
