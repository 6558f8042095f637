//! Identity: `GET /accounts/me` for account keys, `GET /users/me` for user tokens.
//!
//! The objects carry every key the PY SDK's `Account` and `User` models require at any pin in
//! [`crate::rules`] (PY 1.0.14 … 2.6.0; their models accept extra keys), with neutral values:
//! the sandbox has no money, no verification and no social links.

use std::collections::HashMap;

use axum::{
    Extension, Json,
    extract::{Path, Query, State},
};
use serde_json::{Value, json};

use super::{ApiResult, Ctx, Sb, page_query};
use crate::{
    ApiError, Shared, rfc3339, rules,
    state::{self, USERS_CREATED_MS, User},
};

/// What an app key hears from either identity endpoint.
fn no_identity_for_apps(cx: &Ctx) -> Result<(), ApiError> {
    if cx.principal.is_app {
        return Err(ApiError::new(
            rules::APP_KEY_IDENTITY_STATUS,
            "forbidden",
            "App API keys have no account or user of their own.",
        ));
    }
    Ok(())
}

pub(super) async fn account_me(State(sb): Sb, Extension(cx): Extension<Ctx>) -> ApiResult {
    no_identity_for_apps(&cx)?;
    if !cx.principal.is_account {
        return Err(ApiError::new(
            403,
            "forbidden",
            "This endpoint needs an account API key.",
        ));
    }
    let st = sb.state();
    let owner = st
        .user(&cx.principal.user_id)
        .map(|u| person(u, &sb.origin))
        .unwrap_or(Value::Null);
    Ok(Json(json!({
        "id": st.company_id, "object": "account", "title": st.company_title,
        "route": st.company_route, "created_at": rfc3339(USERS_CREATED_MS), "owner": owner,
        "balances": [], "platform_credits": [], "metadata": {}, "verification": {},
        "company_formation": {}, "home_preferences": [], "social_links": [],
        "store_page_config": {"whop_affiliate_link": false},
        "tax_collection_enabled_states": [], "tax_identifiers": [],
        "can_transfer_pending_balance_to_children": false, "collect_vat_id": false,
        "dispute_fighter_enabled": false, "economic_intelligence": false,
        "orchestration_enabled": false, "require_2fa": false, "send_customer_emails": false,
        "show_joined_whops": false, "show_reviews_dtc": false, "show_user_directory": false,
        "stablecoin_rails": false, "use_logo_as_opengraph_image_fallback": false,
        "trading": null,
    })))
}

/// PY 2.6.0 `users.me`: live balances are computed unless `include_balance=false` (its
/// docstring: "Set false for identity-only reads"); the key `balances` is always there.
pub(super) async fn user_me(
    State(sb): Sb,
    Extension(cx): Extension<Ctx>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    no_identity_for_apps(&cx)?;
    if cx.principal.is_account {
        return Err(ApiError::new(
            403,
            "forbidden",
            "This endpoint needs a user token.",
        ));
    }
    let include_balance = include_balance(&sb, &q)?;
    let st = sb.state();
    let u = st
        .user(&cx.principal.user_id)
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(st.user_profile_json(u, &sb.origin, include_balance)))
}

/// `include_balance` (default true); counts the answers that computed balances.
fn include_balance(sb: &Shared, q: &HashMap<String, String>) -> Result<bool, ApiError> {
    let include = match q.get("include_balance").map(String::as_str) {
        None | Some("true") => true,
        Some("false") => false,
        Some(_) => {
            return Err(ApiError::invalid(
                "include_balance",
                "include_balance must be true or false.".into(),
            ));
        }
    };
    if include {
        sb.balance_reads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    Ok(include)
}

/// PY `users.list`: people by name or username, "ranked by social proximity"; the sandbox has
/// no social graph and ranks as [`crate::rules::ASSUMPTIONS`] says (exact username, then names
/// and usernames that start with the query, then those that contain it); without `query`,
/// everyone but the caller.
pub(super) async fn list_users(
    State(sb): Sb,
    Extension(cx): Extension<Ctx>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let pq = page_query(&q)?;
    let query = q.get("query").map(|s| s.trim().to_lowercase());
    let st = sb.state();
    let mut ranked: Vec<(u8, usize, &User)> = st
        .users
        .iter()
        .enumerate()
        .filter_map(|(i, u)| {
            let name = u.name.as_deref().unwrap_or("").to_lowercase();
            let username = u.username.to_lowercase();
            let rank = match query.as_deref() {
                None | Some("") if u.id == cx.principal.user_id => return None,
                None | Some("") => 3,
                Some(q) if username == q => 0,
                Some(q) if username.starts_with(q) || name.starts_with(q) => 1,
                Some(q) if username.contains(q) || name.contains(q) => 2,
                Some(_) => return None,
            };
            Some((rank, i, u))
        })
        .collect();
    ranked.sort_by_key(|(rank, i, _)| (*rank, *i));
    let items = ranked
        .iter()
        .enumerate()
        .map(|(pos, (_, _, u))| (pos as u64, st.user_profile_json(u, &sb.origin, false)))
        .collect();
    Ok(Json(state::paginate("users", items, true, &pq)?))
}

/// PY `users.retrieve`: a user by id (or username); balances as for `users.me`.
pub(super) async fn get_user(
    State(sb): Sb,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let include_balance = include_balance(&sb, &q)?;
    let st = sb.state();
    let u = st.user_by_name_or_id(&id).ok_or_else(ApiError::not_found)?;
    Ok(Json(st.user_profile_json(u, &sb.origin, include_balance)))
}

/// `{id, name, username, profile_picture: {url}}`, as `owner`.
fn person(u: &User, origin: &str) -> Value {
    let mut v = u.json();
    v.as_object_mut().expect("object").insert(
        "profile_picture".into(),
        json!({"url": format!("{origin}/_media/avatars/{}.png", u.id)}),
    );
    v
}
