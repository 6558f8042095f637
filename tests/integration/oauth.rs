//! OAuth over HTTP: the built binary (`--demo --http` on loopback, or against a sandbox) as a
//! resource server, with a fake authorization server started by each test on its own loopback
//! port (RFC 8414 or OpenID metadata and a JWKS, keys generated in the test with ring, tokens
//! signed with jsonwebtoken).

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use axum::{Json, Router, routing::get};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::{
    rand::SystemRandom,
    signature::{self, KeyPair as _},
};
use serde_json::{Value, json};

use crate::common::{self, HttpServer};

/// The resource identifier the server is configured with (the audience tokens need).
const RESOURCE: &str = "http://localhost/mcp";
const METADATA_URL: &str = "http://localhost/.well-known/oauth-protected-resource/mcp";
const BOTH: &str = "whop-chat:read whop-chat:write";

/// A signing key of the fake authorization server.
struct Signer {
    kid: String,
    alg: Algorithm,
    pkcs8: Vec<u8>,
    jwk: Value,
}

impl Signer {
    fn es256(kid: &str) -> Signer {
        let rng = SystemRandom::new();
        let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = signature::EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
        let pair = signature::EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap();
        // An uncompressed point: 0x04, x, y.
        let point = pair.public_key().as_ref();
        Signer {
            kid: kid.into(),
            alg: Algorithm::ES256,
            pkcs8: pkcs8.as_ref().to_vec(),
            jwk: json!({"kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
                        "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65])}),
        }
    }

    fn ed25519(kid: &str) -> Signer {
        let pkcs8 = signature::Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let pair = signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        Signer {
            kid: kid.into(),
            alg: Algorithm::EdDSA,
            pkcs8: pkcs8.as_ref().to_vec(),
            jwk: json!({"kty": "OKP", "crv": "Ed25519", "kid": kid,
                        "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref())}),
        }
    }

    fn sign(&self, claims: &Value) -> String {
        self.sign_as(&self.kid, claims)
    }

    fn sign_as(&self, kid: &str, claims: &Value) -> String {
        let key = match self.alg {
            Algorithm::EdDSA => EncodingKey::from_ed_der(&self.pkcs8),
            _ => EncodingKey::from_ec_der(&self.pkcs8),
        };
        let header = Header {
            kid: Some(kid.into()),
            ..Header::new(self.alg)
        };
        jsonwebtoken::encode(&header, claims, &key).unwrap()
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Claims a good token has; tests change one thing at a time.
fn claims(issuer: &str, scope: &str) -> Value {
    json!({"iss": issuer, "sub": "user_42", "aud": RESOURCE, "scope": scope,
           "iat": now(), "exp": now() + 300, "client_id": "test-client"})
}

/// Which metadata document the fake authorization server publishes.
#[derive(Clone, Copy)]
enum Discovery {
    /// RFC 8414, with the issuer's path after the well-known segment.
    OAuth,
    /// Only OpenID Connect discovery, appended to the issuer's path.
    OpenId,
}

/// What the login endpoints were sent: one list of parameters per request.
type Seen = Arc<Mutex<Vec<Vec<(String, String)>>>>;

/// An authorization code issued: the code, its PKCE challenge, scope and resource.
type Code = (String, String, String, String);

/// A fake authorization server on a loopback port: issuer `http://127.0.0.1:PORT/tenant`.
struct FakeAs {
    issuer: String,
    keys: Arc<Mutex<Vec<Value>>>,
    jwks_hits: Arc<AtomicUsize>,
    /// With a login: the query of each authorization request and the form of each token request.
    seen: Seen,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeAs {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeAs {
    async fn start(discovery: Discovery, keys: Vec<Value>) -> FakeAs {
        Self::serve(discovery, keys, None).await
    }

    /// One that also signs users in: dynamic registration, an authorization endpoint that
    /// approves at once (redirecting with a code), and a token endpoint that checks PKCE and
    /// issues a JWT signed by `signer` for the requested resource and scopes.
    async fn with_login(signer: Signer) -> FakeAs {
        let jwk = signer.jwk.clone();
        Self::serve(Discovery::OAuth, vec![jwk], Some(Arc::new(signer))).await
    }

    async fn serve(discovery: Discovery, keys: Vec<Value>, login: Option<Arc<Signer>>) -> FakeAs {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let issuer = format!("{base}/tenant");
        let keys = Arc::new(Mutex::new(keys));
        let jwks_hits = Arc::new(AtomicUsize::new(0));
        let seen: Seen = Arc::default();
        let mut metadata = json!({
            "issuer": issuer, "jwks_uri": format!("{issuer}/jwks"),
            "authorization_endpoint": format!("{issuer}/authorize"), "token_endpoint": format!("{issuer}/token"),
            "response_types_supported": ["code"], "code_challenge_methods_supported": ["S256"],
        });
        let metadata_path = match discovery {
            Discovery::OAuth => "/.well-known/oauth-authorization-server/tenant",
            Discovery::OpenId => "/tenant/.well-known/openid-configuration",
        };
        if login.is_some() {
            metadata["registration_endpoint"] = json!(format!("{issuer}/register"));
            metadata["grant_types_supported"] = json!(["authorization_code", "refresh_token"]);
            metadata["token_endpoint_auth_methods_supported"] = json!(["none"]);
        }
        let (k, hits) = (keys.clone(), jwks_hits.clone());
        let mut app = Router::new()
            .route(metadata_path, get(move || async move { Json(metadata) }))
            .route(
                "/tenant/jwks",
                get(move || async move {
                    hits.fetch_add(1, Ordering::SeqCst);
                    Json(json!({"keys": k.lock().unwrap().clone()}))
                }),
            );
        if let Some(signer) = login {
            app = app.merge(login_routes(&issuer, signer, seen.clone()));
        }
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeAs {
            issuer,
            keys,
            jwks_hits,
            seen,
            task,
        }
    }

    fn hits(&self) -> usize {
        self.jwks_hits.load(Ordering::SeqCst)
    }
}

/// The login half of the fake authorization server (see [`FakeAs::with_login`]).
fn login_routes(issuer: &str, signer: Arc<Signer>, seen: Seen) -> Router {
    use axum::{extract::RawQuery, http::StatusCode, response::IntoResponse, routing::post};
    let pairs = |text: &str| -> Vec<(String, String)> {
        url::form_urlencoded::parse(text.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    };
    let get_param = |pairs: &[(String, String)], name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let codes: Arc<Mutex<Vec<Code>>> = Arc::default();
    let (issuer, seen_a, seen_t, codes_a) = (issuer.to_owned(), seen.clone(), seen, codes.clone());
    Router::new()
        .route(
            "/tenant/register",
            post(|body: String| async move {
                let mut client: Value = serde_json::from_str(&body).unwrap();
                client["client_id"] = json!(format!("client-{}", uuid::Uuid::new_v4()));
                client["token_endpoint_auth_method"] = json!("none");
                (StatusCode::CREATED, Json(client))
            }),
        )
        .route(
            "/tenant/authorize",
            get(move |RawQuery(query): RawQuery| async move {
                let q = pairs(&query.unwrap_or_default());
                seen_a.lock().unwrap().push(q.clone());
                let code = uuid::Uuid::new_v4().simple().to_string();
                codes_a.lock().unwrap().push((
                    code.clone(),
                    get_param(&q, "code_challenge"),
                    get_param(&q, "scope"),
                    get_param(&q, "resource"),
                ));
                let mut back = url::Url::parse(&get_param(&q, "redirect_uri")).unwrap();
                back.query_pairs_mut()
                    .append_pair("code", &code)
                    .append_pair("state", &get_param(&q, "state"));
                (StatusCode::FOUND, [("location", back.to_string())]).into_response()
            }),
        )
        .route(
            "/tenant/token",
            post(move |body: String| async move {
                let form = pairs(&body);
                seen_t.lock().unwrap().push(form.clone());
                let code = get_param(&form, "code");
                let Some((_, challenge, scope, resource)) =
                    codes.lock().unwrap().iter().find(|c| c.0 == code).cloned()
                else {
                    return (StatusCode::BAD_REQUEST, Json(json!({"error": "invalid_grant"})));
                };
                let verifier = get_param(&form, "code_verifier");
                let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
                if URL_SAFE_NO_PAD.encode(digest.as_ref()) != challenge {
                    return (StatusCode::BAD_REQUEST, Json(json!({"error": "invalid_grant", "error_description": "PKCE"})));
                }
                let mut c = claims(&issuer, &scope);
                c["aud"] = json!(resource);
                let token = signer.sign(&c);
                (
                    StatusCode::OK,
                    Json(json!({"access_token": token, "token_type": "Bearer", "expires_in": 300, "scope": scope})),
                )
            }),
        )
}

/// The binary over HTTP with OAuth against `fake`, plus `env`; what it logs is kept.
async fn server(fake: &FakeAs, args: &[&str], env: &[(&str, &str)]) -> (HttpServer, Log) {
    let mut env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    env.push(("WHOP_MCP_OAUTH_ISSUER".into(), fake.issuer.clone()));
    env.push(("WHOP_MCP_PUBLIC_URL".into(), RESOURCE.into()));
    env.push(("RUST_LOG".into(), "whop_chat_mcp=debug".into()));
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || spawn("127.0.0.1:0", &args, &env))
        .await
        .unwrap()
}

type Log = Arc<Mutex<String>>;

fn spawn(addr: &str, args: &[String], env: &[(String, String)]) -> (HttpServer, Log) {
    let mut cmd = common::bare();
    cmd.args(["--http", addr]).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let (child, url, log) = common::spawn_until(cmd, "serving MCP at ");
    (HttpServer { child, url }, log)
}

struct Answer {
    status: u16,
    challenge: String,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.body))
    }
}

async fn post(url: &str, token: Option<&str>, message: &Value) -> Answer {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .body(message.to_string());
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = request.send().await.unwrap();
    Answer {
        status: response.status().as_u16(),
        challenge: response
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default(),
        body: response.text().await.unwrap(),
    }
}

fn list() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
}

fn call(tool: &str, args: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": tool, "arguments": args}})
}

/// The tools a token sees, by name, with their `readOnlyHint`.
async fn tools(url: &str, token: &str) -> Vec<(String, bool)> {
    let answer = post(url, Some(token), &list()).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.json()["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_owned(),
                t["annotations"]["readOnlyHint"] == true,
            )
        })
        .collect()
}

/// The id of the demo's General channel, as list_channels gives it.
async fn general(url: &str, token: &str) -> String {
    let answer = post(url, Some(token), &call("list_channels", json!({}))).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let result = &answer.json()["result"];
    assert_ne!(result["isError"], true, "{result}");
    result["structuredContent"]["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"].as_str().unwrap().contains("General"))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_token_lists_and_calls_tools_and_the_log_never_shows_it() {
    let key = Signer::es256("k1");
    let fake = FakeAs::start(Discovery::OAuth, vec![key.jwk.clone()]).await;
    let (server, log) = server(&fake, &["--demo"], &[]).await;
    let token = key.sign(&claims(&fake.issuer, BOTH));
    let names: Vec<String> = tools(&server.url, &token)
        .await
        .into_iter()
        .map(|t| t.0)
        .collect();
    assert!(
        names.iter().any(|n| n == "send_message") && names.len() == 14,
        "{names:?}"
    );
    let feed = general(&server.url, &token).await;
    let sent = post(
        &server.url,
        Some(&token),
        &call(
            "send_message",
            json!({"channel_id": feed, "content": "posted with OAuth"}),
        ),
    )
    .await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    assert_ne!(sent.json()["result"]["isError"], true, "{}", sent.body);
    // `scp` as a list works as well as `scope`; write alone implies read.
    let mut scp = claims(&fake.issuer, "");
    scp["scp"] = json!(["whop-chat:write"]);
    assert_eq!(tools(&server.url, &key.sign(&scp)).await.len(), 14);
    // A refused token is logged at debug, never shown.
    let mut stale = claims(&fake.issuer, BOTH);
    stale["exp"] = json!(now() - 3600);
    let expired = key.sign(&stale);
    assert_eq!(post(&server.url, Some(&expired), &list()).await.status, 401);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = log.lock().unwrap().clone();
    assert!(log.contains("OAuth token refused"), "{log}");
    for t in [&token, &expired] {
        let signature = t.rsplit('.').next().unwrap();
        assert!(!log.contains(signature), "a token reached the log: {log}");
    }
    assert!(fake.hits() >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_the_answer_points_at_the_metadata() {
    let key = Signer::es256("k1");
    let fake = FakeAs::start(Discovery::OAuth, vec![key.jwk.clone()]).await;
    let (server, _) = server(&fake, &["--demo"], &[]).await;
    let expected = format!(
        "Bearer resource_metadata=\"{METADATA_URL}\", scope=\"whop-chat:read whop-chat:write\""
    );
    let answer = post(&server.url, None, &list()).await;
    assert_eq!(
        (answer.status, answer.challenge.as_str()),
        (401, expected.as_str())
    );
    // Another scheme is no token either.
    let basic = reqwest::Client::new()
        .post(&server.url)
        .header("authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 401);
    assert_eq!(
        basic.headers()["www-authenticate"].to_str().unwrap(),
        expected
    );
    // The metadata, open to all, at the root and at the path RFC 9728 derives from /mcp.
    let base = server.url.trim_end_matches("/mcp").to_owned();
    for path in [
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
    ] {
        let response = reqwest::get(format!("{base}{path}")).await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["access-control-allow-origin"], "*");
        let doc: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
        assert_eq!(
            doc,
            json!({
                "resource": RESOURCE,
                "authorization_servers": [fake.issuer],
                "scopes_supported": ["whop-chat:read", "whop-chat:write"],
                "bearer_methods_supported": ["header"],
                "resource_name": "Whop Chat",
                "resource_documentation": "https://github.com/whop-chat-mcp/whop-chat-mcp",
            }),
            "{path}"
        );
    }
    let other = reqwest::get(format!(
        "{base}/.well-known/oauth-protected-resource/elsewhere"
    ))
    .await
    .unwrap();
    assert_eq!(other.status(), 404);
    // Health stays open.
    assert_eq!(
        reqwest::get(format!("{base}/healthz"))
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_that_do_not_pass_are_refused_as_invalid() {
    let key = Signer::es256("k1");
    let stranger = Signer::es256("k1");
    let fake = FakeAs::start(Discovery::OAuth, vec![key.jwk.clone()]).await;
    let (server, _) = server(&fake, &["--demo"], &[]).await;
    let good = claims(&fake.issuer, BOTH);
    let with = |field: &str, value: Value| {
        let mut c = good.clone();
        c[field] = value;
        c
    };
    let without = |field: &str| {
        let mut c = good.clone();
        c.as_object_mut().unwrap().remove(field);
        c
    };
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(good.to_string())
    );
    let hmac = jsonwebtoken::encode(
        &Header {
            kid: Some("k1".into()),
            ..Header::new(Algorithm::HS256)
        },
        &good,
        &EncodingKey::from_secret(b"a shared secret nobody should accept"),
    )
    .unwrap();
    let tampered = {
        let t = key.sign(&good);
        let parts: Vec<&str> = t.split('.').collect();
        let payload = URL_SAFE_NO_PAD.encode(with("sub", json!("someone_else")).to_string());
        format!("{}.{payload}.{}", parts[0], parts[2])
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "wrong audience",
            key.sign(&with("aud", json!("https://other.example.com/mcp"))),
            "audience",
        ),
        (
            "audience list without us",
            key.sign(&with(
                "aud",
                json!(["https://a.example", "https://b.example"]),
            )),
            "audience",
        ),
        ("no audience", key.sign(&without("aud")), "no aud claim"),
        (
            "expired",
            key.sign(&with("exp", json!(now() - 120))),
            "expired",
        ),
        ("no expiry", key.sign(&without("exp")), "no exp claim"),
        (
            "not valid yet",
            key.sign(&with("nbf", json!(now() + 600))),
            "not valid yet",
        ),
        (
            "unknown issuer",
            key.sign(&with("iss", json!("https://evil.example.com"))),
            "not issued by",
        ),
        (
            "issuer with a trailing slash",
            key.sign(&with("iss", json!(format!("{}/", fake.issuer)))),
            "not issued by",
        ),
        (
            "signed by another key with the same kid",
            stranger.sign(&good),
            "signature",
        ),
        ("payload changed after signing", tampered, "signature"),
        ("alg none", unsigned, "not a JWT"),
        ("HS256", hmac, "algorithm"),
        ("garbage", "not-a-token".into(), "not a JWT"),
    ];
    for (what, token, needle) in cases {
        let answer = post(&server.url, Some(&token), &list()).await;
        assert_eq!(answer.status, 401, "{what}: {}", answer.body);
        assert!(
            answer
                .challenge
                .starts_with(&format!("Bearer resource_metadata=\"{METADATA_URL}\""))
                && answer.challenge.contains("error=\"invalid_token\"")
                && answer.challenge.contains(needle),
            "{what}: {}",
            answer.challenge
        );
    }
    // An audience list that holds us passes; so does a token just inside the leeway.
    let listed = key.sign(&with("aud", json!(["https://a.example", RESOURCE])));
    assert_eq!(post(&server.url, Some(&listed), &list()).await.status, 200);
    let just = key.sign(&with("exp", json!(now() - 5)));
    assert_eq!(post(&server.url, Some(&just), &list()).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_without_a_chat_scope_gets_insufficient_scope() {
    let key = Signer::es256("k1");
    let fake = FakeAs::start(Discovery::OAuth, vec![key.jwk.clone()]).await;
    let (server, _) = server(&fake, &["--demo"], &[]).await;
    for scope in ["", "openid profile", "whop-chat:admin whop-chat"] {
        let answer = post(
            &server.url,
            Some(&key.sign(&claims(&fake.issuer, scope))),
            &list(),
        )
        .await;
        assert_eq!(answer.status, 403, "{scope:?}: {}", answer.body);
        assert!(
            answer.challenge.contains("error=\"insufficient_scope\"")
                && answer.challenge.contains(&format!("scope=\"{BOTH}\"")),
            "{}",
            answer.challenge
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_token_sees_and_reaches_only_the_reading_tools() {
    let key = Signer::es256("k1");
    let fake = FakeAs::start(Discovery::OAuth, vec![key.jwk.clone()]).await;
    let (server, _) = server(&fake, &["--demo"], &[]).await;
    let read = key.sign(&claims(&fake.issuer, "openid whop-chat:read"));
    let write = key.sign(&claims(&fake.issuer, BOTH));
    let seen = tools(&server.url, &read).await;
    let all = tools(&server.url, &write).await;
    assert!(seen.iter().all(|(_, read_only)| *read_only), "{seen:?}");
    let expected: Vec<_> = all.iter().filter(|t| t.1).cloned().collect();
    assert_eq!(
        seen, expected,
        "exactly the reading tools, as --read-only keeps them"
    );
    assert!(all.len() > seen.len() && seen.iter().any(|t| t.0 == "list_messages"));
    // Reading works; writing is refused with the scope named, before anything reaches Whop.
    let feed = general(&server.url, &read).await;
    let answer = post(
        &server.url,
        Some(&read),
        &call(
            "send_message",
            json!({"channel_id": feed, "content": "should not post"}),
        ),
    )
    .await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    assert!(
        answer.challenge.contains("error=\"insufficient_scope\"")
            && answer.challenge.contains(&format!("scope=\"{BOTH}\"")),
        "{}",
        answer.challenge
    );
    let error = answer.json();
    assert_eq!(error["id"], 2);
    let message = error["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("send_message") && message.contains("whop-chat:write"),
        "{message}"
    );
    let messages = post(
        &server.url,
        Some(&read),
        &call("list_messages", json!({"channel_id": feed, "limit": 50})),
    )
    .await;
    assert!(
        !messages.body.contains("should not post"),
        "{}",
        messages.body
    );
    // The instructions a read token gets say the server only reads.
    let init = json!({"jsonrpc": "2.0", "id": 3, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}});
    let answer = post(&server.url, Some(&read), &init).await;
    assert!(answer.body.contains("only reads"), "{}", answer.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_rotate_new_ones_are_fetched_and_removed_ones_refused() {
    let old = Signer::es256("2026-old");
    let new = Signer::ed25519("2026-new");
    let fake = FakeAs::start(Discovery::OAuth, vec![old.jwk.clone()]).await;
    let (server, _) = server(&fake, &["--demo"], &[]).await;
    let with_old = old.sign(&claims(&fake.issuer, BOTH));
    assert_eq!(
        post(&server.url, Some(&with_old), &list()).await.status,
        200
    );
    assert_eq!(
        post(&server.url, Some(&with_old), &list()).await.status,
        200
    );
    assert_eq!(fake.hits(), 1, "the keys are cached");
    // The authorization server rotates: a new key (another algorithm) and the old one gone.
    *fake.keys.lock().unwrap() = vec![new.jwk.clone()];
    let with_new = new.sign(&claims(&fake.issuer, BOTH));
    let answer = post(&server.url, Some(&with_new), &list()).await;
    assert_eq!(answer.status, 200, "{}", answer.challenge);
    assert_eq!(fake.hits(), 2, "one fetch for the unknown kid");
    let answer = post(&server.url, Some(&with_old), &list()).await;
    assert_eq!(answer.status, 401, "a withdrawn key is refused");
    assert!(
        answer.challenge.contains("does not publish"),
        "{}",
        answer.challenge
    );
    assert_eq!(
        post(&server.url, Some(&with_new), &list()).await.status,
        200
    );
    assert_eq!(fake.hits(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_invented_kids_costs_one_fetch() {
    // This authorization server publishes OpenID discovery only: found after RFC 8414's miss.
    let key = Signer::es256("real");
    let fake = FakeAs::start(Discovery::OpenId, vec![key.jwk.clone()]).await;
    let (server, _) = server(&fake, &["--demo"], &[]).await;
    let token = key.sign(&claims(&fake.issuer, BOTH));
    assert_eq!(post(&server.url, Some(&token), &list()).await.status, 200);
    let before = fake.hits();
    assert_eq!(before, 1);
    let flood: Vec<_> = (0..60)
        .map(|i| {
            let url = server.url.clone();
            let forged = key.sign_as(
                &format!("invented-{i}-{}", uuid::Uuid::new_v4()),
                &claims(&fake.issuer, BOTH),
            );
            tokio::spawn(async move { post(&url, Some(&forged), &list()).await.status })
        })
        .collect();
    for request in flood {
        assert_eq!(request.await.unwrap(), 401);
    }
    assert!(
        fake.hits() <= before + 1,
        "60 unknown kids made {} JWKS fetches",
        fake.hits() - before
    );
    assert_eq!(post(&server.url, Some(&token), &list()).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bearer_token_never_reaches_whop() {
    let sb = common::sandbox().await;
    let key = Signer::es256("k1");
    let fake = FakeAs::start(Discovery::OAuth, vec![key.jwk.clone()]).await;
    let (server, _) = server(
        &fake,
        &[],
        &[
            ("WHOP_BASE_URL", &sb.base_url()),
            ("WHOP_API_KEY", sb.api_key()),
        ],
    )
    .await;
    let token = key.sign(&claims(&fake.issuer, BOTH));
    let feed = sb.channel_id("General");
    for message in [
        call("get_channel", json!({"channel_id": feed})),
        call(
            "send_message",
            json!({"channel_id": feed, "content": "hello from an OAuth user"}),
        ),
    ] {
        let answer = post(&server.url, Some(&token), &message).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_ne!(answer.json()["result"]["isError"], true, "{}", answer.body);
    }
    let seen = sb.requests();
    assert!(seen.len() >= 2);
    let signature = token.rsplit('.').next().unwrap();
    for r in seen {
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {}", sb.api_key()).as_str())
        );
        let text = format!("{r:?}");
        assert!(
            !text.contains(signature) && !text.contains(&token),
            "the OAuth token reached Whop"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_authorization_server_answers_503_not_401() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let issuer = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let key = Signer::es256("k1");
    let env = vec![
        ("WHOP_MCP_OAUTH_ISSUER".to_owned(), issuer.clone()),
        ("WHOP_MCP_PUBLIC_URL".to_owned(), RESOURCE.to_owned()),
        (
            "WHOP_MCP_OAUTH_JWKS_URL".to_owned(),
            format!("{issuer}/jwks"),
        ),
    ];
    let (server, log) =
        tokio::task::spawn_blocking(move || spawn("127.0.0.1:0", &["--demo".into()], &env))
            .await
            .unwrap();
    let answer = post(
        &server.url,
        Some(&key.sign(&claims(&issuer, BOTH))),
        &list(),
    )
    .await;
    assert_eq!(answer.status, 503, "{}", answer.body);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = log.lock().unwrap().clone();
    assert!(
        log.contains("cannot fetch the OAuth authorization server's signing keys"),
        "{log}"
    );
}

#[test]
fn a_shared_token_and_oauth_together_are_refused_at_start() {
    let stderr = common::refused_at_start(
        common::bare()
            .args(["--demo", "--http", "127.0.0.1:0"])
            .env("WHOP_MCP_HTTP_TOKEN", "s3cret-token-value")
            .env("WHOP_MCP_OAUTH_ISSUER", "https://auth.example.com")
            .env("WHOP_MCP_PUBLIC_URL", "https://mcp.example.com/mcp"),
    );
    assert!(stderr.contains("are both set"), "{stderr}");
    let stderr = common::refused_at_start(
        common::bare()
            .args(["--demo", "--http", "0.0.0.0:0"])
            .env("WHOP_MCP_OAUTH_ISSUER", "https://auth.example.com"),
    );
    assert!(stderr.contains("WHOP_MCP_PUBLIC_URL"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sdk_signs_in_through_the_challenge_and_works() {
    let fake = FakeAs::with_login(Signer::es256("login")).await;
    // The public URL is the one the client uses, so the SDK's resource check passes.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let public = format!("http://127.0.0.1:{port}/mcp");
    let env = vec![
        ("WHOP_MCP_OAUTH_ISSUER".to_owned(), fake.issuer.clone()),
        ("WHOP_MCP_PUBLIC_URL".to_owned(), public.clone()),
    ];
    let addr = format!("127.0.0.1:{port}");
    let (server, _) = tokio::task::spawn_blocking(move || spawn(&addr, &["--demo".into()], &env))
        .await
        .unwrap();
    assert_eq!(server.url, public);
    let url = server.url.clone();
    let report =
        tokio::task::spawn_blocking(move || common::python_report("python_oauth.py", &[&url]))
            .await
            .unwrap();
    assert_eq!(report["tools"], 14);
    assert_eq!(
        report["scope"], BOTH,
        "the SDK asked for the challenge's scopes"
    );
    // The SDK found the authorization server through our metadata and asked for a token for
    // this resource (RFC 8707), with the scopes the challenge named.
    let seen = fake.seen.lock().unwrap().clone();
    let param = |i: usize, name: &str| {
        seen[i]
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(
        seen.len(),
        2,
        "one authorization, one token request: {seen:?}"
    );
    assert_eq!(param(0, "resource").as_deref(), Some(public.as_str()));
    assert_eq!(param(0, "scope").as_deref(), Some(BOTH));
    assert_eq!(param(1, "resource").as_deref(), Some(public.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scopes_narrow_the_exposure_and_never_widen_it() {
    let key = Signer::es256("k1");
    let fake = FakeAs::start(Discovery::OAuth, vec![key.jwk.clone()]).await;
    let write = key.sign(&claims(&fake.issuer, BOTH));
    let read = key.sign(&claims(&fake.issuer, "whop-chat:read"));
    // A read-only server asks for the read scope only, and a write token cannot widen it.
    let (reader, _) = server(&fake, &["--demo", "--read-only"], &[]).await;
    let answer = post(&reader.url, None, &list()).await;
    assert!(
        answer.challenge.ends_with("scope=\"whop-chat:read\""),
        "{}",
        answer.challenge
    );
    let seen = tools(&reader.url, &write).await;
    assert!(!seen.is_empty() && seen.iter().all(|t| t.1), "{seen:?}");
    assert_eq!(tools(&reader.url, &read).await, seen);
    drop(reader);
    // A server of writing tools only has nothing for a read token.
    let (writer, _) = server(
        &fake,
        &["--demo", "--tools", "send_message,upload_file"],
        &[],
    )
    .await;
    assert_eq!(tools(&writer.url, &write).await.len(), 2);
    let answer = post(&writer.url, Some(&read), &list()).await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    assert!(
        answer.challenge.contains("insufficient_scope") && answer.body.contains("whop-chat:write"),
        "{} {}",
        answer.challenge,
        answer.body
    );
}
