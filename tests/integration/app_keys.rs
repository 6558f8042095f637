//! Keys that are neither an account key nor a user token (app API keys): `whoami` still
//! answers, and tools that need a company say how to give one.

use serde_json::json;

use crate::common::{self, call, command, connect, err, ok};

#[tokio::test]
async fn whoami_answers_for_an_app_key_and_says_what_to_set() {
    let sb = common::sandbox().await;
    let key = common::random_key();
    sb.add_app_key(&key);
    let cmd = |env: &[(&str, &str)]| {
        let mut c = command(&sb, env);
        c.env("WHOP_API_KEY", &key);
        c
    };
    let client = connect(cmd(&[])).await;
    let (text, s) = ok(&call(&client, "whoami", json!({})).await);
    assert_eq!(s["kind"], "unknown");
    assert!(s.get("id").is_none(), "{s}");
    let why = s["problem"].as_str().unwrap();
    assert!(
        why.contains("GET /accounts/me") && why.contains("WHOP_COMPANY_ID"),
        "{why}"
    );
    assert!(
        text.contains("Api-Version-Date") && text.contains(&sb.base_url()),
        "{text}"
    );
    // Without a company, a tool that needs one says how to give it.
    let e = err(&call(&client, "list_channels", json!({})).await);
    assert!(
        e.contains("WHOP_COMPANY_ID") && e.contains("company_id"),
        "{e}"
    );
    assert!(!e.contains("company:basic:read"), "no invented scope: {e}");
    // With one, the same key works.
    let company = sb.company_id();
    let client = connect(cmd(&[("WHOP_COMPANY_ID", &company)])).await;
    let (_, s) = ok(&call(&client, "list_channels", json!({})).await);
    assert!(!s["channels"].as_array().unwrap().is_empty());
    let (_, s) = ok(&call(&client, "whoami", json!({})).await);
    assert_eq!(s["company_id"], company.as_str());
}

#[tokio::test]
async fn whoami_answers_even_when_whop_rejects_the_key() {
    let sb = common::sandbox().await;
    let mut c = command(&sb, &[]);
    c.env("WHOP_API_KEY", "sk_test_not_a_key_anyone_issued");
    let client = connect(c).await;
    let (text, s) = ok(&call(&client, "whoami", json!({})).await);
    assert_eq!(s["kind"], "unknown");
    assert!(
        text.contains("HTTP 401") && text.contains("WHOP_API_KEY"),
        "{text}"
    );
}
