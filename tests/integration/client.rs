//! The Whop client against the sandbox, asserting the exact requests: method, path, query,
//! headers and body.

use crate::common;
use bytes::Bytes;
use serde_json::json;
use whop_chat_mcp::{
    sandbox::Sandbox,
    whop::{
        self, ClientOptions, CreateMessage, CreateSupportChannel, ListChatChannels, ListMessages,
        ListSupportChannels, RetryPolicy, Secret, UpdateMessage, UploadProgress, UploadSource,
    },
};

fn client_for(sb: &Sandbox, version: &str) -> whop::Client {
    whop::Client::new(ClientOptions {
        base_url: sb.base_url(),
        api_key: Secret::new(sb.api_key()),
        api_version: version.into(),
        policy: RetryPolicy::default(),
    })
    .unwrap()
}

#[tokio::test]
async fn every_request_carries_auth_version_and_user_agent() {
    let sb = common::sandbox().await;
    let c = client_for(&sb, "2026-10-15-1");
    c.get_chat_channel(&sb.channel_id("General")).await.unwrap();
    let r = &sb.requests()[0];
    assert_eq!(r.method, "GET");
    assert_eq!(
        r.path,
        format!("/api/v1/chat_channels/{}", sb.channel_id("General"))
    );
    assert_eq!(
        r.header("authorization"),
        Some(format!("Bearer {}", sb.api_key()).as_str())
    );
    assert_eq!(r.header("api-version-date"), Some("2026-10-15-1"));
    assert_eq!(
        r.header("user-agent"),
        Some(concat!("whop-chat-mcp/", env!("CARGO_PKG_VERSION")))
    );
    assert_eq!(r.header("accept"), Some("application/json"));
    assert_eq!(
        r.header("idempotency-key"),
        None,
        "reads carry no idempotency key"
    );
}

#[tokio::test]
async fn list_messages_sends_direction_desc_and_first_explicitly() {
    let sb = common::sandbox().await;
    let c = client_for(&sb, whop::DEFAULT_API_VERSION);
    let feed = sb.channel_id("General");
    let page = c
        .list_messages(&ListMessages {
            channel_id: feed.clone(),
            first: 5,
            after: None,
            newest_first: true,
        })
        .await
        .unwrap();
    assert_eq!(page.data.len(), 5);
    let r = &sb.requests_to("GET", "/messages")[0];
    assert_eq!(r.query_param("channel_id"), Some(feed.as_str()));
    assert_eq!(r.query_param("first"), Some("5"));
    assert_eq!(r.query_param("direction"), Some("desc"));
    assert_eq!(r.query_param("after"), None);
    // Newest first: creation times descend.
    let times: Vec<_> = page
        .data
        .iter()
        .map(|m| m.created_at.clone().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted);
}

#[tokio::test]
async fn paging_follows_end_cursor_to_the_end_without_repeats() {
    let sb = common::sandbox().await;
    let c = client_for(&sb, whop::DEFAULT_API_VERSION);
    let feed = sb.channel_id("General");
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = c
            .list_messages(&ListMessages {
                channel_id: feed.clone(),
                first: 4,
                after: after.clone(),
                newest_first: true,
            })
            .await
            .unwrap();
        seen.extend(page.data.iter().map(|m| m.id.clone()));
        match page.next_cursor(after.as_deref()) {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen.len(), sb.message_count(&feed));
    let unique: std::collections::HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len());
    let requests = sb.requests_to("GET", "/messages");
    assert_eq!(requests[0].query_param("after"), None);
    assert!(requests.len() > 2);
    assert!(
        requests
            .iter()
            .skip(1)
            .all(|r| r.query_param("after").is_some())
    );
}

#[tokio::test]
async fn create_message_body_numbers_poll_options_and_carries_an_idempotency_key() {
    let sb = common::sandbox().await;
    let c = client_for(&sb, whop::DEFAULT_API_VERSION);
    let feed = sb.channel_id("General");
    let reply_to = sb.newest_message_id(&feed).unwrap();
    let m = c
        .create_message(&CreateMessage {
            channel_id: feed.clone(),
            content: "Which day?".into(),
            replying_to_message_id: Some(reply_to.clone()),
            poll_options: vec!["Mon".into(), "Tue".into()],
            auto_detect_links: Some(false),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(m.replying_to_message_id.as_deref(), Some(reply_to.as_str()));
    let r = &sb.requests_to("POST", "/messages")[0];
    assert_eq!(r.header("content-type"), Some("application/json"));
    let key = r
        .header("idempotency-key")
        .expect("POST carries Idempotency-Key");
    assert!(uuid::Uuid::parse_str(key).is_ok(), "{key}");
    assert_eq!(
        r.json(),
        json!({"channel_id": feed, "content": "Which day?", "auto_detect_links": false,
               "poll": {"options": [{"id": "1", "text": "Mon"}, {"id": "2", "text": "Tue"}]},
               "replying_to_message_id": reply_to})
    );
}

#[tokio::test]
async fn two_calls_use_two_idempotency_keys() {
    let sb = common::sandbox().await;
    let c = client_for(&sb, whop::DEFAULT_API_VERSION);
    let feed = sb.channel_id("General");
    let msg = CreateMessage {
        channel_id: feed.clone(),
        content: "same text".into(),
        ..Default::default()
    };
    c.create_message(&msg).await.unwrap();
    c.create_message(&msg).await.unwrap();
    let keys: Vec<_> = sb
        .requests_to("POST", "/messages")
        .iter()
        .map(|r| r.header("idempotency-key").unwrap().to_owned())
        .collect();
    assert_eq!(keys.len(), 2);
    assert_ne!(keys[0], keys[1]);
    assert_eq!(sb.messages_with_content(&feed, "same text"), 2);
}

#[tokio::test]
async fn company_parameter_name_follows_the_pinned_version() {
    let sb = common::sandbox().await;
    let company = sb.company_id();
    for (version, param) in [("2026-10-15-1", "account_id"), ("2026-07-20", "company_id")] {
        sb.clear_requests();
        let c = client_for(&sb, version);
        let page = c
            .list_chat_channels(&ListChatChannels {
                company_id: company.clone(),
                product_id: None,
                first: 10,
                after: None,
            })
            .await
            .unwrap_or_else(|e| panic!("{version}: {e}"));
        assert_eq!(page.data.len(), 4);
        let r = &sb.requests_to("GET", "/chat_channels")[0];
        assert_eq!(r.query_param(param), Some(company.as_str()), "{version}");
        assert_eq!(r.query.len(), 2, "{version}: {:?}", r.query);
    }
}

#[tokio::test]
async fn the_sandbox_rejects_the_other_versions_parameter_name() {
    let sb = common::sandbox().await;
    // A raw request with the old name under the new version: Whop says the new one is missing.
    let resp = reqwest_get(
        &sb,
        &format!("/chat_channels?company_id={}", sb.company_id()),
        "2026-10-15-1",
    )
    .await;
    assert_eq!(resp.0, 400);
    assert!(resp.1.contains("account_id"), "{}", resp.1);
}

async fn reqwest_get(sb: &Sandbox, path: &str, version: &str) -> (u16, String) {
    let r = reqwest::Client::new()
        .get(format!("{}{path}", sb.base_url()))
        .bearer_auth(sb.api_key())
        .header("Api-Version-Date", version)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn support_channels_list_and_open() {
    let sb = common::sandbox().await;
    let c = client_for(&sb, whop::DEFAULT_API_VERSION);
    let company = sb.company_id();
    let page = c
        .list_support_channels(&ListSupportChannels {
            company_id: Some(company.clone()),
            open: Some(true),
            customer_user_id: None,
            first: 20,
            after: None,
        })
        .await
        .unwrap();
    assert_eq!(page.data.len(), 3);
    assert!(page.data.iter().all(|s| s.resolved_at.is_none()));
    let r = &sb.requests_to("GET", "/support_channels")[0];
    for (k, v) in [
        ("account_id", company.as_str()),
        ("open", "true"),
        ("order", "last_post_sent_at"),
        ("direction", "desc"),
        ("include_last_message", "true"),
        ("first", "20"),
    ] {
        assert_eq!(r.query_param(k), Some(v), "{k}");
    }
    // Opening a chat with a customer who has one returns the existing chat.
    let existing = c
        .create_support_channel(&CreateSupportChannel {
            company_id: company.clone(),
            user: "marcusl".into(),
            custom_name: None,
        })
        .await
        .unwrap();
    assert_eq!(existing.id, sb.support_channel_id("marcusl"));
    let r = &sb.requests_to("POST", "/support_channels")[0];
    assert_eq!(
        r.json(),
        json!({"account_id": company, "user_id": "marcusl"})
    );
    assert!(r.header("idempotency-key").is_some());
}

#[tokio::test]
async fn update_delete_and_reactions() {
    let sb = common::sandbox().await;
    let c = client_for(&sb, whop::DEFAULT_API_VERSION);
    let feed = sb.channel_id("General");
    let mine = c
        .create_message(&CreateMessage {
            channel_id: feed.clone(),
            content: "draft".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let edited = c
        .update_message(
            &mine.id,
            &UpdateMessage {
                content: Some("final".into()),
                is_pinned: None,
            },
        )
        .await
        .unwrap();
    assert!(edited.is_edited);
    let r = &sb.requests_to("PATCH", &format!("/messages/{}", mine.id))[0];
    assert_eq!(r.json(), json!({"content": "final"}));
    c.create_reaction(&mine.id, Some(":fire:"), None)
        .await
        .unwrap();
    let r = &sb.requests_to("POST", "/reactions")[0];
    assert_eq!(r.json(), json!({"resource_id": mine.id, "emoji": ":fire:"}));
    let got = c.get_message(&mine.id).await.unwrap();
    assert_eq!(got.reaction_counts[0].emoji.as_deref(), Some(":fire:"));
    assert!(c.delete_reaction(&mine.id, Some(":fire:")).await.unwrap());
    let r = &sb.requests_to("DELETE", &format!("/reactions/{}", mine.id))[0];
    assert_eq!(r.query_param("emoji"), Some(":fire:"));
    assert!(c.delete_message(&mine.id).await.unwrap());
    assert_eq!(
        c.get_message(&mine.id).await.unwrap_err().status(),
        Some(404)
    );
}

#[tokio::test]
async fn upload_flow_puts_bytes_without_the_key_and_polls_until_ready() {
    let sb = common::sandbox().await;
    let c = client_for(&sb, whop::DEFAULT_API_VERSION);
    let bytes: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let seen = std::sync::Mutex::new(Vec::new());
    let file = c
        .upload(
            UploadSource {
                filename: "chart.png".into(),
                content: Bytes::from(bytes.clone()).into(),
                visibility: "public".into(),
            },
            &|p| seen.lock().unwrap().push(p),
        )
        .await
        .unwrap();
    assert_eq!(file.upload_status.as_deref(), Some("ready"));
    assert_eq!(file.size, Some(bytes.len() as u64));
    assert_eq!(file.content_type.as_deref(), Some("image/png"));
    assert_eq!(sb.file_bytes(&file.id).unwrap().as_ref(), bytes.as_slice());

    let create = &sb.requests_to("POST", "/files")[0];
    assert_eq!(
        create.json(),
        json!({"filename": "chart.png", "visibility": "public"})
    );
    assert!(create.header("idempotency-key").is_some());
    let put = sb
        .requests()
        .into_iter()
        .find(|r| r.method == "PUT")
        .unwrap();
    assert_eq!(put.path, format!("/_uploads/{}", file.id));
    assert_eq!(
        put.header("authorization"),
        None,
        "the presigned PUT must not carry the API key"
    );
    assert_eq!(put.header("api-version-date"), None);
    assert_eq!(put.header("content-type"), Some("image/png"));
    assert_eq!(
        put.header("x-amz-meta-whop-file-id"),
        Some(file.id.as_str())
    );
    assert!(
        !sb.requests_to("GET", &format!("/files/{}", file.id))
            .is_empty(),
        "status was polled"
    );

    let steps = seen.into_inner().unwrap();
    assert_eq!(
        steps.first(),
        Some(&UploadProgress::Created {
            file_id: file.id.clone()
        })
    );
    assert!(steps.contains(&UploadProgress::Uploaded {
        bytes: bytes.len() as u64
    }));
    assert_eq!(steps.last(), Some(&UploadProgress::Ready));
}

#[tokio::test]
async fn errors_keep_status_and_whops_message() {
    let sb = common::sandbox().await;
    let c = client_for(&sb, whop::DEFAULT_API_VERSION);
    let e = c.get_message("msg_doesnotexist").await.unwrap_err();
    assert_eq!(e.status(), Some(404));
    let e = c
        .create_message(&CreateMessage {
            channel_id: sb.channel_id("General"),
            content: "   ".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    match e {
        whop::Error::Api {
            status: 400, body, ..
        } => {
            assert_eq!(body.message.as_deref(), Some("content can't be blank."));
            assert_eq!(body.param.as_deref(), Some("content"));
        }
        other => panic!("{other:?}"),
    }
    let bad = whop::Client::new(ClientOptions {
        base_url: sb.base_url(),
        api_key: Secret::new("sk_wrong_key_123"),
        api_version: whop::DEFAULT_API_VERSION.into(),
        policy: RetryPolicy::default(),
    })
    .unwrap();
    let e = bad.me().await.unwrap_err();
    assert_eq!(e.status(), Some(401));
    assert!(!format!("{e:?}").contains("sk_wrong_key_123"));
}

#[tokio::test]
async fn who_am_i() {
    let sb = common::sandbox().await;
    let me = client_for(&sb, whop::DEFAULT_API_VERSION)
        .me()
        .await
        .unwrap();
    assert_eq!(me.id, sb.company_id());
    assert_eq!(me.title.as_deref(), Some("Summit Trading Academy"));
}
