//! Identity: `GET /accounts/me` for account keys, `GET /users/me` for user tokens.
//!
//! The objects carry every key the PY SDK's `Account` and `User` models require at any pin in
//! [`crate::rules`] (PY 1.0.14 … 2.6.0; their models accept extra keys), with neutral values:
//! the sandbox has no money, no verification and no social links.

use std::collections::HashMap;

use axum::{
    Extension, Json,
    extract::{Query, State},
};
use serde_json::{Value, json};

use super::{ApiResult, Ctx, Sb};
use crate::{ApiError, rfc3339, rules, state::User};

/// The demo company's creation time (fixed, so answers are stable).
const CREATED_MS: i64 = 1_767_225_600_000;

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
        "route": st.company_route, "created_at": rfc3339(CREATED_MS), "owner": owner,
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
    let include_balance = match q.get("include_balance").map(String::as_str) {
        None | Some("true") => true,
        Some("false") => false,
        Some(_) => {
            return Err(ApiError::invalid(
                "include_balance",
                "include_balance must be true or false.".into(),
            ));
        }
    };
    if include_balance {
        sb.balance_reads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    let st = sb.state();
    let u = st
        .user(&cx.principal.user_id)
        .ok_or_else(ApiError::not_found)?;
    let mut v = person(u, &sb.origin);
    let o = v.as_object_mut().expect("object");
    let balances = if include_balance {
        json!([{"name": "US Dollar", "symbol": "USD", "balance": "0.00", "value_usd": "0.00",
                "breakdown": {"available": "0.00", "pending": "0.00", "in_transit": "0.00",
                              "reserve": "0.00", "pending_settlements": []}}])
    } else {
        json!([])
    };
    for (k, val) in [
        ("balances", balances),
        ("created_at", json!(rfc3339(CREATED_MS))),
        ("social_accounts", json!([])),
        ("social_links", json!([])),
        ("verification", json!({})),
        ("bio", Value::Null),
    ] {
        o.insert(k.into(), val);
    }
    Ok(Json(v))
}

/// `{id, name, username, profile_picture: {url}}`, as `owner` and as the user.
fn person(u: &User, origin: &str) -> Value {
    let mut v = u.json();
    v.as_object_mut().expect("object").insert(
        "profile_picture".into(),
        json!({"url": format!("{origin}/_media/avatars/{}.png", u.id)}),
    );
    v
}
