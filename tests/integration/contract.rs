//! Contract tests: Whop's official Python SDK checks the sandbox, and the sandbox checks our
//! client.
//!
//! For each release of `whop-sdk` below (each pins its own default `Api-Version-Date` and
//! sends the request shapes of that version), the SDK drives a fresh sandbox through every
//! operation this server uses (`tests/integration/contract/sdk_ops.py`): its models must parse every
//! answer. Our client then performs the same operations at the same pin against another fresh
//! sandbox, and both recordings are compared request by request: method, path, query
//! parameter names, JSON body shape (keys, nested keys, value types), the version header, and
//! for the presigned PUT the signed headers. Any difference fails the test and is named.
//!
//! Pins that only the Rust SDK documents are checked against the expected names in
//! `RUST_SDK_PINS`, and every pin of the client's version table is exercised.

mod python;

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use serde_json::{Value, json};
use whop_chat_mcp::{
    sandbox::{LoggedRequest, Sandbox, rules::Resource},
    whop::{
        self, ClientOptions, CompanyResource, CreateDmChannel, CreateMessage, CreateSupportChannel,
        ListChatChannels, ListMessages, ListSupportChannels, RetryPolicy, Secret,
        UpdateChatChannel, UpdateMessage, UploadSource, versions,
    },
};

/// `whop-sdk` releases run, with the `Api-Version-Date` each sends by default (their
/// `Whop(api_version_date=…)` default). 2.6.0 is the newest; 1.1.1 is the first to send
/// `account_id` to chat and support channels, 1.1.0 the last to send `company_id`; 1.0.14
/// shares its pin with the Rust SDK's chat_channels endpoint.
const SDKS: &[(&str, &str)] = &[
    ("2.6.0", "2026-10-15-1"),
    ("1.1.1", "2026-09-02-2"),
    ("1.1.0", "2026-09-02-1"),
    ("1.0.14", "2026-08-21-1"),
];

const USER_KEY: &str = "sk_contract_user_token_chloe";
/// A seeded user (danaw), for `users.retrieve`.
const DANA: &str = "user_Zx9yWv8uTs7rQ";

/// Requests our client sends that the SDK's same operation does not, each with its reason.
const CLIENT_ONLY: &[(&str, &str, &str)] = &[(
    "users.me",
    "GET /accounts/me",
    "the client does not know whether its key is an account key, so it asks accounts/me first \
     and falls back to users/me on 403",
)];

async fn sandbox() -> Sandbox {
    let key = format!("sk_test_{}", uuid::Uuid::new_v4().simple());
    let sb = Sandbox::start(([127, 0, 0, 1], 0).into(), &key)
        .await
        .expect("sandbox starts");
    sb.add_user_key(USER_KEY, "chloe", None, true);
    sb
}

fn ids(sb: &Sandbox) -> Value {
    let channel = sb.channel_id("General");
    json!({
        "channel": channel,
        "experience": sb.experience_id("Trading Signals"),
        "company": sb.company_id(),
        "support": sb.support_channel_id("marcusl"),
        "reply_to": sb.newest_message_id(&channel).unwrap(),
        "customer": "marcusl",
        "dm": sb.dm_channel_id("Project Alpha"),
        "user": DANA,
    })
}

fn client(sb: &Sandbox, key: &str, version: &str) -> whop::Client {
    whop::Client::new(ClientOptions {
        base_url: sb.base_url(),
        api_key: Secret::new(key),
        api_version: version.into(),
        policy: RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        },
    })
    .expect("client builds")
}

/// Runs the SDK script with one release; returns its recorded requests by operation.
async fn sdk_requests(version: &str, pin: &str) -> BTreeMap<String, Vec<LoggedRequest>> {
    let (python, path) = tokio::task::spawn_blocking({
        let version = version.to_owned();
        move || python::python_with_whop_sdk(&version)
    })
    .await
    .unwrap();
    let sb = sandbox().await;
    let mut cmd = tokio::process::Command::new(python);
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/integration/contract/sdk_ops.py"
    ))
    .env("WHOP_BASE_URL", sb.base_url())
    .env("WHOP_API_KEY", sb.api_key())
    .env("WHOP_USER_KEY", USER_KEY)
    .env("CONTRACT_IDS", ids(&sb).to_string())
    .env_remove("PYTHONPATH");
    if let Some(path) = path {
        cmd.env("PYTHONPATH", path);
    }
    let out = cmd.output().await.expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "whop-sdk {version} could not use the sandbox's answers:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .map(|j| serde_json::from_str(j).unwrap())
        .expect("the script prints its RESULT line");
    assert_eq!(
        result["reaction_emoji"], ":fire:",
        "whop-sdk {version}: {result}"
    );
    let mut by_op: BTreeMap<String, Vec<LoggedRequest>> = BTreeMap::new();
    for r in sb.requests() {
        let op = r
            .header("x-contract-op")
            .unwrap_or_else(|| panic!("untagged SDK request {} {}", r.method, r.path));
        if r.path.starts_with("/api/") {
            assert_eq!(
                r.header("api-version-date"),
                Some(pin),
                "whop-sdk {version} sends its pin on {op}"
            );
        }
        by_op.entry(op.to_owned()).or_default().push(r);
    }
    by_op
}

/// Our client through the same operations, at `pin`; returns its requests by operation.
async fn client_requests(pin: &str) -> BTreeMap<String, Vec<LoggedRequest>> {
    let sb = sandbox().await;
    let ids = ids(&sb);
    let id = |k: &str| ids[k].as_str().unwrap().to_owned();
    let c = client(&sb, sb.api_key(), pin);
    let mut by_op: BTreeMap<String, Vec<LoggedRequest>> = BTreeMap::new();
    let mut seen = 0;
    let mut take = |op: &str, by_op: &mut BTreeMap<String, Vec<LoggedRequest>>| {
        let all = sb.requests();
        for r in &all[seen..] {
            // One client call (the upload) spans three SDK operations.
            let op = match (op, r.method.as_str(), template(&r.path).as_str()) {
                ("files.upload", "POST", _) => "files.create",
                ("files.upload", "GET", _) => "files.retrieve",
                _ => op,
            };
            by_op.entry(op.to_owned()).or_default().push(r.clone());
        }
        seen = all.len();
    };
    // One operation: the call must succeed, and the requests it made are labelled with it.
    macro_rules! step {
        ($op:literal, $call:expr) => {{
            let value = $call
                .await
                .unwrap_or_else(|e| panic!("our client at {pin}, {}: {e:?}", $op));
            take($op, &mut by_op);
            value
        }};
    }

    let list = |after: Option<String>| ListMessages {
        channel_id: id("channel"),
        first: 5,
        after,
        newest_first: true,
    };
    let page = step!("messages.list", c.list_messages(&list(None)));
    step!(
        "messages.list.after",
        c.list_messages(&list(page.next_cursor(None)))
    );
    step!("messages.retrieve", c.get_message(&id("reply_to")));
    let bytes: Vec<u8> = b"\x89PNG\r\n\x1a\n"
        .iter()
        .copied()
        .chain((0..=255).cycle().take(10240))
        .collect();
    let file = step!(
        "files.upload",
        c.upload(
            UploadSource {
                filename: "chart.png".into(),
                content: Bytes::from(bytes).into(),
                visibility: "public".into(),
            },
            &|_| {},
        )
    );
    let m = step!(
        "messages.create",
        c.create_message(&CreateMessage {
            channel_id: id("channel"),
            content: "Which day? see chart".into(),
            attachment_ids: vec![file.id.clone()],
            replying_to_message_id: Some(id("reply_to")),
            poll_options: vec!["Mon".into(), "Tue".into()],
            auto_detect_links: Some(false),
        })
    );
    step!(
        "messages.update",
        c.update_message(
            &m.id,
            &UpdateMessage {
                content: Some("Which day? (edited)".into()),
                is_pinned: Some(true),
            },
        )
    );
    let r = step!(
        "reactions.create",
        c.create_reaction(&m.id, Some(":fire:"), None)
    );
    assert_eq!(r.emoji.as_deref(), Some(":fire:"));
    step!(
        "reactions.create.vote",
        c.create_reaction(&m.id, None, Some("1"))
    );
    step!("reactions.list", c.list_reactions(&m.id, 10, None));
    step!("reactions.delete", c.delete_reaction(&m.id, Some(":fire:")));
    step!("messages.delete", c.delete_message(&m.id));
    step!(
        "chat_channels.list",
        c.list_chat_channels(&ListChatChannels {
            company_id: id("company"),
            product_id: None,
            first: 10,
            after: None,
        })
    );
    step!(
        "chat_channels.retrieve",
        c.get_chat_channel(&id("experience"))
    );
    step!(
        "chat_channels.update",
        c.update_chat_channel(
            &id("experience"),
            &UpdateChatChannel {
                who_can_post: Some("everyone".into()),
                who_can_react: Some("everyone".into()),
                user_posts_cooldown_seconds: Some(30),
                ban_urls: Some(true),
                ban_media: Some(false),
                banned_words: Some(vec!["scam".into(), "pump".into()]),
            },
        )
    );
    step!(
        "dm_channels.list",
        c.list_dm_channels(Some(&id("company")), 10, None)
    );
    step!(
        "dm_channels.create",
        c.create_dm_channel(&CreateDmChannel {
            with_user_ids: vec![id("customer")],
            company_id: Some(id("company")),
            custom_name: Some("Billing".into()),
        })
    );
    step!("dm_members.list", c.list_dm_members(&id("dm"), 50, None));
    step!("users.list", c.search_users("dana", 10, None));
    step!("users.retrieve", c.get_user(&id("user")));
    step!(
        "support_channels.list",
        c.list_support_channels(&ListSupportChannels {
            company_id: Some(id("company")),
            open: Some(true),
            customer_user_id: None,
            first: 20,
            after: None,
        })
    );
    step!(
        "support_channels.retrieve",
        c.get_support_channel(&id("support"))
    );
    step!(
        "support_channels.create",
        c.create_support_channel(&CreateSupportChannel {
            company_id: id("company"),
            user: id("customer"),
            custom_name: Some("Billing".into()),
        })
    );
    step!("accounts.me", c.me());
    step!("users.me", client(&sb, USER_KEY, pin).me());
    by_op
}

/// A path with its ids replaced: `/api/v1/messages/msg_x` → `/messages/{id}`.
fn template(path: &str) -> String {
    const WORDS: &[&str] = &[
        "messages",
        "chat_channels",
        "support_channels",
        "reactions",
        "dm_channels",
        "dm_members",
        "files",
        "accounts",
        "users",
        "me",
        "_uploads",
    ];
    path.trim_start_matches("/api/v1")
        .split('/')
        .map(|s| {
            if s.is_empty() || WORDS.contains(&s) {
                s
            } else {
                "{id}"
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn kind(r: &LoggedRequest) -> String {
    format!("{} {}", r.method, template(&r.path))
}

/// The JSON shape of a body: keys and nested keys with the type of each value.
fn shape(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
        Value::Array(items) => {
            let shapes: BTreeSet<String> = items.iter().map(|i| shape(i).to_string()).collect();
            json!(
                shapes
                    .into_iter()
                    .map(|s| serde_json::from_str::<Value>(&s).unwrap())
                    .collect::<Vec<_>>()
            )
        }
        Value::String(_) => json!("string"),
        Value::Number(_) => json!("number"),
        Value::Bool(_) => json!("boolean"),
        Value::Null => json!("null"),
    }
}

fn diff_shapes(at: &str, sdk: &Value, ours: &Value, out: &mut Vec<String>) {
    match (sdk, ours) {
        (Value::Object(a), Value::Object(b)) => {
            for k in a.keys().chain(b.keys()).collect::<BTreeSet<_>>() {
                let here = format!("{at}.{k}");
                match (a.get(k), b.get(k)) {
                    (Some(x), Some(y)) => diff_shapes(&here, x, y, out),
                    (Some(x), None) => {
                        out.push(format!("{here}: the SDK sends {x}, our client nothing"))
                    }
                    (None, Some(y)) => {
                        out.push(format!("{here}: our client sends {y}, the SDK nothing"))
                    }
                    (None, None) => {}
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() <= 1 && b.len() <= 1 => {
            if let (Some(x), Some(y)) = (a.first(), b.first()) {
                diff_shapes(&format!("{at}[]"), x, y, out);
            }
        }
        (x, y) if x != y => out.push(format!("{at}: the SDK sends {x}, our client {y}")),
        _ => {}
    }
}

fn body_shape(r: &LoggedRequest) -> Value {
    if r.body.is_empty() {
        return json!("empty");
    }
    match serde_json::from_slice::<Value>(&r.body) {
        Ok(v) => shape(&v),
        Err(_) => json!("bytes"),
    }
}

fn query_names(r: &LoggedRequest) -> BTreeSet<String> {
    r.query.iter().map(|(k, _)| k.clone()).collect()
}

/// Every difference between the SDK's requests and ours, operation by operation.
fn compare(
    pin: &str,
    sdk: &BTreeMap<String, Vec<LoggedRequest>>,
    ours: &BTreeMap<String, Vec<LoggedRequest>>,
) -> Vec<String> {
    let mut diffs = Vec::new();
    for (op, sdk_reqs) in sdk {
        let ours_reqs = ours.get(op).cloned().unwrap_or_default();
        let sdk_kinds: BTreeSet<String> = sdk_reqs.iter().map(kind).collect();
        for k in &sdk_kinds {
            let s = sdk_reqs.iter().find(|r| &kind(r) == k).unwrap();
            let Some(o) = ours_reqs.iter().find(|r| &kind(r) == k) else {
                diffs.push(format!(
                    "{pin} {op}: the SDK sends {k}, our client does not"
                ));
                continue;
            };
            let (qs, qo) = (query_names(s), query_names(o));
            for name in qs.difference(&qo) {
                diffs.push(format!(
                    "{pin} {op} {k}: query parameter {name:?} sent by the SDK only"
                ));
            }
            for name in qo.difference(&qs) {
                if s.path.starts_with("/_uploads/") && name == "X-Sandbox-Signature" {
                    continue;
                }
                diffs.push(format!(
                    "{pin} {op} {k}: query parameter {name:?} sent by our client only"
                ));
            }
            let mut body = Vec::new();
            diff_shapes("body", &body_shape(s), &body_shape(o), &mut body);
            diffs.extend(body.into_iter().map(|d| format!("{pin} {op} {k}: {d}")));
            for h in ["api-version-date", "content-type"] {
                if s.header(h).is_some() != o.header(h).is_some() {
                    diffs.push(format!(
                        "{pin} {op} {k}: header {h}: the SDK {:?}, our client {:?}",
                        s.header(h),
                        o.header(h)
                    ));
                }
            }
            if s.header("api-version-date").is_some() && o.header("api-version-date") != Some(pin) {
                diffs.push(format!(
                    "{pin} {op} {k}: our client sends version {:?}",
                    o.header("api-version-date")
                ));
            }
            if k.starts_with("PUT ") {
                for h in ["content-type", "x-amz-meta-whop-file-id"] {
                    if o.header(h).is_none() || s.header(h).is_none() {
                        diffs.push(format!("{pin} {op}: signed upload header {h} missing"));
                    }
                }
                if o.header("authorization").is_some() {
                    diffs.push(format!(
                        "{pin} {op}: our client sends Authorization to the presigned URL"
                    ));
                }
            }
        }
        for o in &ours_reqs {
            let k = kind(o);
            let allowed = CLIENT_ONLY
                .iter()
                .any(|(aop, ak, _)| *aop == op && *ak == k);
            if !sdk_kinds.contains(&k) && !allowed {
                diffs.push(format!(
                    "{pin} {op}: our client also sends {k}, the SDK does not"
                ));
            }
        }
    }
    for op in ours.keys().filter(|op| !sdk.contains_key(*op)) {
        diffs.push(format!(
            "{pin} {op}: our client's operation has no SDK counterpart"
        ));
    }
    diffs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_python_sdk_accepts_the_sandbox_and_our_client_sends_what_it_sends() {
    let mut diffs = Vec::new();
    for (version, pin) in SDKS {
        let sdk = sdk_requests(version, pin).await;
        let expected: BTreeSet<&str> = [
            "messages.list",
            "messages.list.after",
            "messages.retrieve",
            "messages.create",
            "messages.update",
            "messages.delete",
            "files.create",
            "files.upload",
            "files.retrieve",
            "reactions.create",
            "reactions.create.vote",
            "reactions.list",
            "reactions.delete",
            "chat_channels.list",
            "chat_channels.retrieve",
            "chat_channels.update",
            "dm_channels.list",
            "dm_channels.create",
            "dm_members.list",
            "users.list",
            "users.retrieve",
            "support_channels.list",
            "support_channels.retrieve",
            "support_channels.create",
            "accounts.me",
            "users.me",
        ]
        .into();
        let ran: BTreeSet<&str> = sdk.keys().map(String::as_str).collect();
        assert_eq!(ran, expected, "whop-sdk {version} covers every operation");
        let ours = client_requests(pin).await;
        diffs.extend(compare(pin, &sdk, &ours));
    }
    assert!(
        diffs.is_empty(),
        "our client and Whop's SDK differ:\n{}",
        diffs.join("\n")
    );
}

/// Pins only the Rust SDK (`whopio/whopsdk-rust`, per-endpoint pins, see the shared
/// `whop-api/README.md`, "Corrections") documents, with the company parameter's name it
/// sends there.
const RUST_SDK_PINS: &[(&str, CompanyResource, &str)] = &[
    ("2026-08-21-1", CompanyResource::ChatChannels, "company_id"),
    ("2026-08-25-1", CompanyResource::ChatChannels, "company_id"),
    (
        "2026-08-25-2",
        CompanyResource::SupportChannels,
        "company_id",
    ),
];

/// The company-naming calls of our client at `pin`: the requests they made and the name
/// each used, after checking the sandbox accepted them.
async fn company_calls(sb: &Sandbox, pin: &str, resource: CompanyResource) -> Vec<LoggedRequest> {
    sb.clear_requests();
    let c = client(sb, sb.api_key(), pin);
    let company = sb.company_id();
    match resource {
        CompanyResource::ChatChannels => {
            let page = c
                .list_chat_channels(&ListChatChannels {
                    company_id: company,
                    product_id: None,
                    first: 10,
                    after: None,
                })
                .await
                .unwrap_or_else(|e| panic!("{pin} chat_channels.list: {e}"));
            assert_eq!(page.data.len(), 4, "{pin}");
        }
        CompanyResource::SupportChannels => {
            c.list_support_channels(&ListSupportChannels {
                company_id: Some(company.clone()),
                open: None,
                customer_user_id: None,
                first: 20,
                after: None,
            })
            .await
            .unwrap_or_else(|e| panic!("{pin} support_channels.list: {e}"));
            c.create_support_channel(&CreateSupportChannel {
                company_id: company,
                user: "marcusl".into(),
                custom_name: None,
            })
            .await
            .unwrap_or_else(|e| panic!("{pin} support_channels.create: {e}"));
        }
        CompanyResource::DmChannels => {
            c.list_dm_channels(Some(&company), 10, None)
                .await
                .unwrap_or_else(|e| panic!("{pin} dm_channels.list: {e}"));
            c.create_dm_channel(&CreateDmChannel {
                with_user_ids: vec!["marcusl".into()],
                company_id: Some(company),
                custom_name: None,
            })
            .await
            .unwrap_or_else(|e| panic!("{pin} dm_channels.create: {e}"));
        }
    }
    sb.requests()
}

fn company_name_sent(r: &LoggedRequest) -> Vec<String> {
    let mut names: Vec<String> = r
        .query
        .iter()
        .map(|(k, _)| k.clone())
        .chain(
            r.json()
                .as_object()
                .into_iter()
                .flat_map(|o| o.keys().cloned()),
        )
        .filter(|k| k == versions::COMPANY_ID || k == versions::ACCOUNT_ID)
        .collect();
    names.dedup();
    names
}

#[tokio::test]
async fn at_each_known_pin_the_company_parameter_has_that_pins_name() {
    let sb = sandbox().await;
    let mut pins: Vec<(String, CompanyResource, String)> = RUST_SDK_PINS
        .iter()
        .map(|(p, r, n)| (p.to_string(), *r, n.to_string()))
        .collect();
    for r in CompanyResource::ALL {
        pins.extend(versions::known_pins(r).map(|(p, n)| (p.to_owned(), r, n.to_owned())));
    }
    for (pin, resource, name) in pins {
        let requests = company_calls(&sb, &pin, resource).await;
        let expected = if resource == CompanyResource::ChatChannels {
            1
        } else {
            2
        };
        assert_eq!(
            requests.len(),
            expected,
            "{pin} {resource:?}: no retry needed"
        );
        for r in &requests {
            assert_eq!(
                company_name_sent(r),
                std::slice::from_ref(&name),
                "{pin} {resource:?} {} {}",
                r.method,
                r.path
            );
        }
    }
}

#[tokio::test]
async fn a_400_naming_the_company_parameter_is_retried_once_with_the_other_name_and_remembered() {
    let sb = sandbox().await;
    // As if Whop had renamed the parameters at another version than the tables say.
    sb.force_company_param(Resource::ChatChannels, "company_id");
    sb.force_company_param(Resource::SupportChannels, "company_id");
    let c = client(&sb, sb.api_key(), whop::DEFAULT_API_VERSION);
    let list = ListChatChannels {
        company_id: sb.company_id(),
        product_id: None,
        first: 10,
        after: None,
    };
    c.list_chat_channels(&list)
        .await
        .expect("the retry succeeds");
    let sent: Vec<_> = sb.requests().iter().flat_map(company_name_sent).collect();
    assert_eq!(sent, ["account_id", "company_id"]);
    sb.clear_requests();
    c.list_chat_channels(&list).await.unwrap();
    let sent: Vec<_> = sb.requests().iter().flat_map(company_name_sent).collect();
    assert_eq!(sent, ["company_id"], "the answer is remembered");

    // A POST: the retry is a new request, so it carries a new Idempotency-Key (the first
    // key's 400 would be replayed).
    sb.clear_requests();
    c.create_support_channel(&CreateSupportChannel {
        company_id: sb.company_id(),
        user: "marcusl".into(),
        custom_name: None,
    })
    .await
    .expect("the retry succeeds");
    let posts = sb.requests_to("POST", "/support_channels");
    assert_eq!(posts.len(), 2);
    assert_eq!(posts[0].json()["account_id"], sb.company_id());
    assert_eq!(posts[1].json()["company_id"], sb.company_id());
    assert_ne!(
        posts[0].header("idempotency-key"),
        posts[1].header("idempotency-key")
    );

    // The support list's filter is optional: under the wrong name Whop ignores it, no 400
    // comes, and only the table can be right. After the POST above, the name is known.
    sb.clear_requests();
    c.list_support_channels(&ListSupportChannels {
        company_id: Some(sb.company_id()),
        open: None,
        customer_user_id: None,
        first: 5,
        after: None,
    })
    .await
    .unwrap();
    let sent: Vec<_> = sb.requests().iter().flat_map(company_name_sent).collect();
    assert_eq!(sent, ["company_id"]);
}

#[tokio::test]
async fn identity_reads_ask_for_identity_only() {
    let sb = sandbox().await;
    let me = client(&sb, USER_KEY, whop::DEFAULT_API_VERSION)
        .me()
        .await
        .unwrap();
    assert_eq!(me.username.as_deref(), Some("chloe"));
    let r = &sb.requests_to("GET", "/users/me")[0];
    assert_eq!(r.query_param("include_balance"), Some("false"));
    assert_eq!(sb.balance_reads(), 0, "no balance was computed");
    // At a pin before the parameter existed (whop-sdk 1.1.1), it is not sent.
    sb.clear_requests();
    client(&sb, USER_KEY, "2026-09-02-2").me().await.unwrap();
    assert_eq!(
        sb.requests_to("GET", "/users/me")[0].query_param("include_balance"),
        None
    );
}

#[test]
fn the_comparison_names_each_difference() {
    let req = |method: &str, path: &str, query: &[&str], body: Value| LoggedRequest {
        method: method.into(),
        path: path.into(),
        query: query.iter().map(|k| (k.to_string(), "x".into())).collect(),
        headers: vec![("api-version-date".into(), "2026-10-15-1".into())],
        body: Bytes::from(body.to_string()),
        at: std::time::Instant::now(),
    };
    let one = |r: LoggedRequest| BTreeMap::from([("messages.create".to_owned(), vec![r])]);
    let sdk = one(req(
        "POST",
        "/api/v1/messages",
        &[],
        json!({"channel_id": "a", "poll": {"options": [{"id": "1", "text": "t"}]}}),
    ));
    let ours = one(req(
        "POST",
        "/api/v1/messages",
        &["extra"],
        json!({"channel_id": "a", "poll": {"options": [{"id": 1, "text": "t"}]}, "more": true}),
    ));
    let diffs = compare("2026-10-15-1", &sdk, &ours);
    assert_eq!(diffs.len(), 3, "{diffs:#?}");
    assert!(diffs[0].contains("query parameter \"extra\" sent by our client only"));
    assert!(diffs[1].contains("body.more: our client sends \"boolean\""));
    assert!(
        diffs[2]
            .contains("body.poll.options[].id: the SDK sends \"string\", our client \"number\"")
    );
    assert!(compare("2026-10-15-1", &sdk, &sdk).is_empty());
}

// ---------------------------------------------------------------------------------------------
// Idempotency as Whop documents it ("Idempotent requests").

async fn post_messages(sb: &Sandbox, key: &str, body: Value) -> (u16, Option<String>, Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/messages", sb.base_url()))
        .bearer_auth(sb.api_key())
        .header("Idempotency-Key", key)
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let replayed = r
        .headers()
        .get("idempotent-replayed")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    (status, replayed, body)
}

#[tokio::test]
async fn a_keyed_4xx_is_replayed_and_a_reused_key_with_another_request_is_a_400() {
    let sb = sandbox().await;
    let feed = sb.channel_id("General");
    let before = sb.message_count(&feed);
    let blank = json!({"channel_id": feed, "content": "  "});
    let (status, replayed, first) = post_messages(&sb, "k-1", blank.clone()).await;
    assert_eq!((status, replayed), (400, None));
    let (status, replayed, again) = post_messages(&sb, "k-1", blank).await;
    assert_eq!((status, replayed.as_deref()), (400, Some("true")));
    assert_eq!(again, first, "the stored 4xx, byte for byte");
    let fixed = json!({"channel_id": feed, "content": "fixed"});
    let (status, _, e) = post_messages(&sb, "k-1", fixed.clone()).await;
    assert_eq!(status, 400);
    assert_eq!(e["error"]["code"], "idempotency_key_mismatch");
    let (status, _, m) = post_messages(&sb, "k-2", fixed).await;
    assert_eq!(status, 200, "a new key runs the corrected request: {m}");
    assert_eq!(sb.message_count(&feed), before + 1);
}

#[tokio::test]
async fn a_keyed_post_is_not_retried_after_a_4xx_but_is_while_the_first_is_in_progress() {
    use whop_chat_mcp::sandbox::{Fault, FaultAction};
    let sb = sandbox().await;
    let c = whop::Client::new(ClientOptions {
        base_url: sb.base_url(),
        api_key: Secret::new(sb.api_key()),
        api_version: whop::DEFAULT_API_VERSION.into(),
        policy: RetryPolicy {
            base_delay: std::time::Duration::from_millis(10),
            ..RetryPolicy::default()
        },
    })
    .unwrap();
    let message = CreateMessage {
        channel_id: sb.channel_id("General"),
        content: "hello".into(),
        ..Default::default()
    };
    let send = || c.create_message(&message);
    for status in [408, 409, 429] {
        sb.clear_requests();
        sb.add_fault(Fault::on("POST", "/messages", FaultAction::status(status)).times(1));
        let e = send().await.unwrap_err();
        assert_eq!(e.status(), Some(status));
        assert_eq!(
            sb.requests_to("POST", "/messages").len(),
            1,
            "HTTP {status} with a key: a retry could only replay it"
        );
    }
    sb.clear_requests();
    sb.add_fault(
        Fault::on(
            "POST",
            "/messages",
            FaultAction::Status {
                status: 409,
                headers: Vec::new(),
                body: r#"{"error":{"type":"conflict","code":"idempotency_request_in_progress","message":"in progress"}}"#.into(),
            },
        )
        .times(1),
    );
    send()
        .await
        .expect("retried after the first attempt finished");
    let posts = sb.requests_to("POST", "/messages");
    assert_eq!(posts.len(), 2);
    assert_eq!(
        posts[0].header("idempotency-key"),
        posts[1].header("idempotency-key")
    );
}
