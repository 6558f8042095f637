//! OAuth 2.1 for the HTTP transport: this server as a resource server, as the MCP
//! authorization spec has it.
//!
//! - Protected-resource metadata (RFC 9728) at `/.well-known/oauth-protected-resource`, and
//!   at the same path followed by the endpoint's path (`…/mcp`, the form RFC 9728 §3.1 derives
//!   from the resource URL, which clients try first).
//! - Every `/mcp` request must carry `Authorization: Bearer <JWT>`: signed by a key of the
//!   authorization server's JWKS ([`keys`]) with RS256, PS256, ES256 or EdDSA, issued by
//!   `WHOP_MCP_OAUTH_ISSUER` exactly, for this server (its audience holds
//!   `WHOP_MCP_PUBLIC_URL`), with `exp` in the future and `nbf` (if any) past, give or take
//!   [`LEEWAY_SECONDS`]. Without a token: 401 and a challenge naming the metadata and the
//!   scopes; with a bad one: 401 `error="invalid_token"`.
//! - Scopes (`scope`, space-separated, or `scp`, a list): [`SCOPE_READ`] reaches the tools that
//!   only read (what `--read-only` keeps); [`SCOPE_WRITE`] reaches the writing tools too (it
//!   implies reading: a token that may post but not read the channel would be of no use).
//!   A token with neither, or a read token calling a writing tool, gets 403
//!   `error="insufficient_scope"` naming the scopes needed (the spec's step-up challenge).
//! - The client's token ends here: it is removed from the request once checked, and Whop only
//!   ever sees the server's own `WHOP_API_KEY`. Refusals are logged at debug, without the token.

mod keys;

use std::{convert::Infallible, sync::Arc};

use axum::{
    Json, Router,
    extract::{Path, Request},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{MethodRouter, any, get},
};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use http_body_util::BodyExt as _;
use jsonwebtoken::{Validation, errors::ErrorKind};
use serde::Deserialize;
use serde_json::{Value, json};
use tower::{Service, ServiceExt as _};
use url::Url;

use crate::net;

/// Reaches the tools that only read.
pub(crate) const SCOPE_READ: &str = "whop-chat:read";
/// Reaches every exposed tool, the writing ones too (and implies [`SCOPE_READ`]).
pub(crate) const SCOPE_WRITE: &str = "whop-chat:write";
/// Where the protected-resource metadata is served.
pub(crate) const METADATA_PATH: &str = "/.well-known/oauth-protected-resource";
/// Clock skew allowed on `exp` and `nbf`.
pub(crate) const LEEWAY_SECONDS: u64 = 30;
/// Longest bearer token considered.
const MAX_TOKEN: usize = 16 * 1024;

/// The OAuth settings, validated by the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OAuthOptions {
    /// The authorization server's issuer identifier, exactly as its tokens write `iss`.
    pub(crate) issuer: String,
    /// Where its keys are; `None` = found through its metadata.
    pub(crate) jwks_url: Option<Url>,
    /// This server's resource identifier (its public `/mcp` URL, no trailing slash): the
    /// audience tokens must name.
    pub(crate) resource: String,
}

impl OAuthOptions {
    /// The metadata's URL as RFC 9728 §3.1 derives it from the resource: the well-known
    /// segment between the host and the resource's path.
    pub(crate) fn metadata_url(&self) -> String {
        let url = Url::parse(&self.resource).expect("validated by the configuration");
        let path = url.path().trim_end_matches('/');
        format!("{}{METADATA_PATH}{path}", net::origin(&url))
    }

    /// The protected-resource metadata document.
    pub(crate) fn metadata(&self) -> Value {
        json!({
            "resource": self.resource,
            "authorization_servers": [self.issuer],
            "scopes_supported": [SCOPE_READ, SCOPE_WRITE],
            "bearer_methods_supported": ["header"],
            "resource_name": crate::identity::TITLE,
            "resource_documentation": crate::identity::WEBSITE,
        })
    }
}

/// What a valid token may reach; put in the request's extensions for the endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    Read,
    Write,
}

/// Why a request is refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// No bearer token: 401 with the plain challenge.
    Missing,
    /// A token that does not pass: 401 `invalid_token`.
    Invalid(String),
    /// A valid token without the scope needed: 403 `insufficient_scope`.
    Scope(String),
    /// The keys could not be fetched: 503.
    Unavailable,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Scopes {
    Many(Vec<String>),
    One(String),
}

impl Scopes {
    fn has(&self, scope: &str) -> bool {
        match self {
            Scopes::Many(list) => list.iter().any(|s| s == scope),
            Scopes::One(text) => text.split_ascii_whitespace().any(|s| s == scope),
        }
    }
}

/// The claims read beyond what [`Validation`] checks.
#[derive(Deserialize)]
struct Claims {
    scope: Option<Scopes>,
    scp: Option<Scopes>,
}

/// The resource server: checks tokens, answers with challenges, serves the metadata.
pub(crate) struct ResourceServer {
    options: OAuthOptions,
    metadata_url: String,
    keys: keys::Keys,
    validation: Validation,
    /// The scopes a client should ask for (the write scope only if there is something to write).
    wanted: &'static str,
}

impl ResourceServer {
    /// `writes`: whether the server exposes any tool that changes Whop.
    pub(crate) fn new(options: &OAuthOptions, writes: bool) -> Result<Self, String> {
        let mut validation = Validation::new(jsonwebtoken::Algorithm::ES256);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.set_issuer(&[&options.issuer]);
        // The resource as given, and with a trailing slash (the same URL to an HTTP server).
        validation.set_audience(&[options.resource.clone(), format!("{}/", options.resource)]);
        Ok(ResourceServer {
            metadata_url: options.metadata_url(),
            keys: keys::Keys::new(&options.issuer, options.jwks_url.as_ref())?,
            options: options.clone(),
            validation,
            wanted: if writes {
                "whop-chat:read whop-chat:write"
            } else {
                SCOPE_READ
            },
        })
    }

    /// Fetches the keys once, so the first client does not wait (failures are logged).
    pub(crate) async fn warm_up(&self) {
        self.keys.warm_up().await;
    }

    /// What the request's bearer token may reach.
    pub(crate) async fn authorize(&self, headers: &HeaderMap) -> Result<Access, Refusal> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|t| !t.is_empty());
        let Some(token) = token else {
            return Err(Refusal::Missing);
        };
        let outcome = self.verify(token).await;
        if let Err(refusal) = &outcome {
            tracing::debug!(?refusal, "OAuth token refused");
        }
        outcome
    }

    async fn verify(&self, token: &str) -> Result<Access, Refusal> {
        let invalid = |why: &str| Err(Refusal::Invalid(why.to_owned()));
        if token.len() > MAX_TOKEN {
            return invalid("the token is too long");
        }
        let Ok(head) = jsonwebtoken::decode_header(token) else {
            return invalid("the token is not a JWT");
        };
        if !keys::ALGORITHMS.contains(&head.alg) {
            return invalid(
                "the token is signed with an algorithm this server does not accept (RS256, PS256, ES256, EdDSA)",
            );
        }
        // Checked before any key is looked up, so tokens of other issuers cannot make us
        // fetch keys; checked again, signed, by the validation below.
        if peek_issuer(token).as_deref() != Some(self.options.issuer.as_str()) {
            return invalid("the token was not issued by this server's authorization server");
        }
        let key = match self.keys.find(head.kid.as_deref(), head.alg).await {
            Ok(key) => key,
            Err(keys::KeyError::Unknown) => {
                return invalid(
                    "the token is signed with a key the authorization server does not publish",
                );
            }
            Err(keys::KeyError::Unusable(why)) => return invalid(why),
            Err(keys::KeyError::Unavailable) => return Err(Refusal::Unavailable),
        };
        let mut validation = self.validation.clone();
        validation.algorithms = vec![head.alg];
        let claims = match jsonwebtoken::decode::<Claims>(token, &key.decoding, &validation) {
            Ok(data) => data.claims,
            Err(e) => {
                return Err(Refusal::Invalid(match e.kind() {
                    ErrorKind::ExpiredSignature => "the token has expired".into(),
                    ErrorKind::ImmatureSignature => "the token is not valid yet (nbf)".into(),
                    ErrorKind::InvalidAudience => format!(
                        "the token is not for this server: its audience (aud) must include {}",
                        self.options.resource
                    ),
                    ErrorKind::InvalidIssuer => {
                        "the token was not issued by this server's authorization server".into()
                    }
                    ErrorKind::MissingRequiredClaim(c) => format!("the token has no {c} claim"),
                    ErrorKind::InvalidSignature | ErrorKind::Crypto(_) => {
                        "the token's signature does not verify".into()
                    }
                    _ => "the token's claims are malformed".into(),
                }));
            }
        };
        let has = |scope: &str| {
            [&claims.scope, &claims.scp]
                .into_iter()
                .flatten()
                .any(|s| s.has(scope))
        };
        if has(SCOPE_WRITE) {
            Ok(Access::Write)
        } else if has(SCOPE_READ) {
            Ok(Access::Read)
        } else {
            Err(Refusal::Scope(format!(
                "the token grants neither {SCOPE_READ} nor {SCOPE_WRITE}"
            )))
        }
    }

    /// The answer to a refused request, with its `WWW-Authenticate` challenge.
    pub(crate) fn refuse(&self, refusal: Refusal) -> Response {
        let base = format!(
            "Bearer resource_metadata=\"{}\", scope=\"{}\"",
            self.metadata_url, self.wanted
        );
        let (status, challenge, text) = match refusal {
            Refusal::Missing => (
                StatusCode::UNAUTHORIZED,
                base,
                "this server needs an OAuth access token (Authorization: Bearer …)".to_owned(),
            ),
            Refusal::Invalid(why) => (
                StatusCode::UNAUTHORIZED,
                format!(
                    "{base}, error=\"invalid_token\", error_description=\"{}\"",
                    quotable(&why)
                ),
                why,
            ),
            Refusal::Scope(why) => (
                StatusCode::FORBIDDEN,
                format!(
                    "{base}, error=\"insufficient_scope\", error_description=\"{}\"",
                    quotable(&why)
                ),
                why,
            ),
            Refusal::Unavailable => {
                let mut response = (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "cannot check tokens now: the authorization server's keys could not be fetched\n",
                )
                    .into_response();
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
                return response;
            }
        };
        let mut response = (status, format!("{text}\n")).into_response();
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        response
    }

    /// The metadata routes (open, like `/healthz`): the root form and the forms suffixed with
    /// the endpoint's path (`/mcp`) and the public URL's path.
    pub(crate) fn metadata_routes(self: &Arc<Self>) -> Router {
        let public_path = Url::parse(&self.options.resource)
            .map(|u| u.path().trim_end_matches('/').to_owned())
            .unwrap_or_default();
        let document = Arc::new(self.options.metadata());
        let root = {
            let document = document.clone();
            move || async move { metadata_response(&document) }
        };
        let suffixed = move |Path(rest): Path<String>| async move {
            let rest = format!("/{}", rest.trim_end_matches('/'));
            if rest == "/mcp" || rest == public_path {
                metadata_response(&document)
            } else {
                StatusCode::NOT_FOUND.into_response()
            }
        };
        Router::new()
            .route(METADATA_PATH, get(root))
            .route(&format!("{METADATA_PATH}/{{*rest}}"), get(suffixed))
    }
}

fn metadata_response(document: &Value) -> Response {
    let mut response = Json(document.clone()).into_response();
    let h = response.headers_mut();
    // Public, and fetched by browser-based clients from other origins.
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

/// `/mcp` for both levels of access: a request whose token reads only goes to `reads` (the
/// server narrowed to reading tools), after a check that it calls none of `writes`; every
/// other request goes to `full`.
pub(crate) fn endpoint<S>(
    resource: Option<Arc<ResourceServer>>,
    full: S,
    reads: Option<S>,
    writes: Arc<[String]>,
) -> MethodRouter
where
    S: Service<Request, Error = Infallible> + Clone + Send + Sync + 'static,
    S::Response: IntoResponse,
    S::Future: Send,
{
    any(move |request: Request| {
        let (resource, full, reads, writes) = (
            resource.clone(),
            full.clone(),
            reads.clone(),
            writes.clone(),
        );
        async move {
            let (Some(Access::Read), Some(resource)) =
                (request.extensions().get::<Access>().copied(), resource)
            else {
                return full.oneshot(request).await.into_response();
            };
            let Some(reads) = reads else {
                return resource.refuse(Refusal::Scope(format!(
                    "every tool of this server changes Whop: it needs {SCOPE_WRITE}"
                )));
            };
            // The body is already in memory (the guard read it within its limits).
            let (parts, body) = request.into_parts();
            let Ok(body) = body.collect().await.map(|c| c.to_bytes()) else {
                return (StatusCode::BAD_REQUEST, "request body could not be read\n")
                    .into_response();
            };
            if let Some((tool, id)) = write_call(&body, &writes) {
                tracing::debug!(%tool, "tool call refused: the token has the read scope only");
                let why = format!(
                    "{tool} changes Whop: it needs the OAuth scope {SCOPE_WRITE}, and this token grants {SCOPE_READ} only"
                );
                let mut response = resource.refuse(Refusal::Scope(why.clone()));
                let error =
                    json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32600, "message": why}});
                *response.body_mut() = axum::body::Body::from(error.to_string());
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                return response;
            }
            let request = Request::from_parts(parts, axum::body::Body::from(body));
            reads.oneshot(request).await.into_response()
        }
    })
}

/// The writing tool a JSON-RPC message (or batch) calls, with the call's id.
fn write_call(body: &[u8], writes: &[String]) -> Option<(String, Value)> {
    if writes.is_empty() {
        return None;
    }
    let value: Value = serde_json::from_slice(body).ok()?;
    let messages: Vec<&Value> = match &value {
        Value::Array(batch) => batch.iter().collect(),
        one => vec![one],
    };
    messages.into_iter().find_map(|m| {
        if m.get("method")?.as_str()? != "tools/call" {
            return None;
        }
        let name = m.get("params")?.get("name")?.as_str()?;
        writes
            .iter()
            .any(|w| w == name)
            .then(|| (name.to_owned(), m.get("id").cloned().unwrap_or(Value::Null)))
    })
}

/// The `iss` of a token, read without checking anything.
fn peek_issuer(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    #[derive(Deserialize)]
    struct Peek {
        iss: Option<String>,
    }
    serde_json::from_slice::<Peek>(&bytes).ok()?.iss
}

/// Text that may stand inside a quoted header parameter: printable ASCII without `"` or `\`.
fn quotable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(resource: &str) -> OAuthOptions {
        OAuthOptions {
            issuer: "https://auth.example.com/tenant".into(),
            jwks_url: None,
            resource: resource.into(),
        }
    }

    #[test]
    fn the_metadata_url_is_derived_from_the_resource() {
        assert_eq!(
            options("https://mcp.example.com/mcp").metadata_url(),
            "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
        );
        assert_eq!(
            options("https://mcp.example.com").metadata_url(),
            "https://mcp.example.com/.well-known/oauth-protected-resource"
        );
        assert_eq!(
            options("http://127.0.0.1:8080/whop/mcp").metadata_url(),
            "http://127.0.0.1:8080/.well-known/oauth-protected-resource/whop/mcp"
        );
        let doc = options("https://mcp.example.com/mcp").metadata();
        assert_eq!(doc["resource"], "https://mcp.example.com/mcp");
        assert_eq!(
            doc["authorization_servers"][0],
            "https://auth.example.com/tenant"
        );
        assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
    }

    #[test]
    fn scopes_come_from_scope_or_scp() {
        let one: Scopes = serde_json::from_value(json!("openid whop-chat:read")).unwrap();
        assert!(one.has(SCOPE_READ) && !one.has(SCOPE_WRITE) && !one.has("whop-chat"));
        let many: Scopes = serde_json::from_value(json!(["whop-chat:write"])).unwrap();
        assert!(many.has(SCOPE_WRITE) && !many.has(SCOPE_READ));
    }

    #[test]
    fn write_calls_are_found_in_messages_and_batches() {
        let writes: Vec<String> = vec!["send_message".into()];
        let call = |name: &str| json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": name}});
        let found = write_call(call("send_message").to_string().as_bytes(), &writes);
        assert_eq!(found, Some(("send_message".into(), json!(7))));
        assert_eq!(
            write_call(call("list_messages").to_string().as_bytes(), &writes),
            None
        );
        let batch = json!([call("list_messages"), call("send_message")]);
        assert!(write_call(batch.to_string().as_bytes(), &writes).is_some());
        let listing = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
        assert_eq!(write_call(listing.to_string().as_bytes(), &writes), None);
        assert_eq!(write_call(b"not json", &writes), None);
    }

    #[test]
    fn challenge_text_cannot_break_the_header() {
        assert_eq!(quotable("a \"b\" \\c\r\nd é"), "a ?b? ?c??d ?");
        let token = format!(
            "x.{}.y",
            URL_SAFE_NO_PAD.encode(br#"{"iss":"https://a","sub":"u"}"#)
        );
        assert_eq!(peek_issuer(&token).as_deref(), Some("https://a"));
        assert_eq!(peek_issuer("nodots"), None);
    }
}
