//! `/chat_channels`: list (by company) and retrieve (by feed or experience id).

use std::collections::HashMap;

use axum::{
    Extension, Json,
    extract::{Path, Query, State},
};

use super::{ApiResult, Ctx, Sb, check_company, page_query, require};
use crate::{ApiError, rules::Resource, state};

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
