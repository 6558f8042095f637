//! The authorization server's signing keys: found through its metadata (RFC 8414, then OpenID
//! discovery) or at a configured JWKS URL, fetched with a deadline and a size cap, cached, and
//! fetched again when a token names a key we do not know — at most once per
//! [`KID_COOLDOWN`], so a flood of made-up `kid`s cannot make us hammer the authorization
//! server — and when the cache is older than [`MAX_AGE`], so a key the server withdrew stops
//! being accepted.
//!
//! Only asymmetric signing keys are kept (RSA for RS256/PS256, P-256 for ES256, Ed25519 for
//! EdDSA): a symmetric `oct` key in a JWKS is never used, so no token signed with HS* passes.

use std::{
    sync::{Arc, Mutex, RwLock},
    time::{Duration, Instant},
};

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use crate::{
    net,
    outbound::{self, OutBody, Outbound, Stage},
};

/// Longest one metadata or JWKS fetch may take, connection included.
pub(crate) const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest metadata or JWKS document read.
pub(crate) const MAX_DOCUMENT: usize = 256 * 1024;
/// Least time between two fetches caused by tokens naming unknown keys.
pub(crate) const KID_COOLDOWN: Duration = Duration::from_secs(30);
/// Keys older than this are fetched again before use (the old ones serve while that fails).
pub(crate) const MAX_AGE: Duration = Duration::from_secs(600);
/// Least time between attempts after a failed fetch (except one caused by an unknown key,
/// which has its own cooldown).
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(5);
/// Most keys kept from one JWKS.
const MAX_KEYS: usize = 64;

/// The signing algorithms accepted: asymmetric only, never `none`, never HS*.
pub(crate) const ALGORITHMS: [Algorithm; 4] = [
    Algorithm::RS256,
    Algorithm::PS256,
    Algorithm::ES256,
    Algorithm::EdDSA,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Rsa,
    P256,
    Ed25519,
}

impl Kind {
    fn verifies(self, alg: Algorithm) -> bool {
        matches!(
            (self, alg),
            (Kind::Rsa, Algorithm::RS256 | Algorithm::PS256)
                | (Kind::P256, Algorithm::ES256)
                | (Kind::Ed25519, Algorithm::EdDSA)
        )
    }
}

/// One verification key from the JWKS.
pub(crate) struct Key {
    kid: Option<String>,
    /// The key's own `alg`, when the JWKS names one: then only that algorithm.
    alg: Option<Algorithm>,
    kind: Kind,
    pub(crate) decoding: DecodingKey,
}

impl Key {
    fn verifies(&self, alg: Algorithm) -> bool {
        self.kind.verifies(alg) && self.alg.is_none_or(|a| a == alg)
    }
}

/// The keys of one fetch.
#[derive(Default)]
struct Set {
    keys: Vec<Arc<Key>>,
    fetched: Option<Instant>,
}

/// Why no key verifies a token.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum KeyError {
    /// No key has this `kid` (after a fetch, when one was allowed).
    Unknown,
    /// A key matches but not for this algorithm, or the token names no key and several fit.
    Unusable(&'static str),
    /// No keys could be fetched yet.
    Unavailable,
}

enum Pick {
    Found(Arc<Key>),
    Missing,
    Mismatch(&'static str),
}

fn pick(set: &Set, kid: Option<&str>, alg: Algorithm) -> Pick {
    match kid {
        Some(kid) => {
            let mut named = set
                .keys
                .iter()
                .filter(|k| k.kid.as_deref() == Some(kid))
                .peekable();
            if named.peek().is_none() {
                return Pick::Missing;
            }
            match named.find(|k| k.verifies(alg)) {
                Some(k) => Pick::Found(k.clone()),
                None => {
                    Pick::Mismatch("the signing key named by the token is not for its algorithm")
                }
            }
        }
        None => {
            let fit: Vec<_> = set.keys.iter().filter(|k| k.verifies(alg)).collect();
            match fit.as_slice() {
                [one] => Pick::Found((*one).clone()),
                [] => Pick::Missing,
                _ => Pick::Mismatch(
                    "the token names no signing key (kid) and the authorization server has several",
                ),
            }
        }
    }
}

/// Where the JWKS is.
enum Source {
    /// `WHOP_MCP_OAUTH_JWKS_URL`.
    Configured(Url),
    /// Found through the issuer's metadata (once, then remembered).
    Discovered,
}

/// The cached keys of one authorization server.
pub(crate) struct Keys {
    issuer: String,
    issuer_url: Url,
    source: Source,
    http: Outbound,
    current: RwLock<Arc<Set>>,
    /// Held while fetching (one fetch at a time); holds the JWKS URL once known.
    fetching: tokio::sync::Mutex<Option<Url>>,
    /// When an unknown `kid` last caused a fetch.
    kid_fetch: Mutex<Option<Instant>>,
    /// When a fetch last failed.
    failed: Mutex<Option<Instant>>,
}

impl Keys {
    pub(crate) fn new(issuer: &str, jwks_url: Option<&Url>) -> Result<Self, String> {
        let issuer_url = Url::parse(issuer).map_err(|e| format!("issuer {issuer:?}: {e}"))?;
        let loopback = net::is_loopback(&issuer_url) || jwks_url.is_some_and(net::is_loopback);
        // No redirects are followed: one could lead to plain http or another host, and the
        // URLs must answer themselves.
        let http = Outbound::new(outbound::Options {
            connect_timeout: FETCH_TIMEOUT,
            idle_timeout: Duration::from_secs(60),
            proxies: !loopback,
        })
        .map_err(|e| format!("cannot build the HTTP client for OAuth: {e}"))?;
        Ok(Keys {
            issuer: issuer.to_owned(),
            issuer_url,
            source: match jwks_url {
                Some(u) => Source::Configured(u.clone()),
                None => Source::Discovered,
            },
            http,
            current: RwLock::default(),
            fetching: tokio::sync::Mutex::new(None),
            kid_fetch: Mutex::new(None),
            failed: Mutex::new(None),
        })
    }

    fn current(&self) -> Arc<Set> {
        self.current.read().expect("never poisoned").clone()
    }

    /// Fetches the keys once (at start-up, so the first client does not wait; a failure is
    /// logged and retried when a token needs them).
    pub(crate) async fn warm_up(&self) {
        let mut jwks = self.fetching.lock().await;
        if self.current().fetched.is_none() {
            self.fetch(&mut jwks).await;
        }
    }

    fn may_retry(&self) -> bool {
        self.failed
            .lock()
            .expect("never poisoned")
            .is_none_or(|t| t.elapsed() >= RETRY_AFTER_FAILURE)
    }

    /// The key that verifies a token with this `kid` and algorithm.
    pub(crate) async fn find(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<Arc<Key>, KeyError> {
        let set = self.current();
        match set.fetched {
            None => {
                // Nothing loaded yet: wait for one fetch (or for the one under way).
                let mut jwks = self.fetching.lock().await;
                if self.current().fetched.is_none() && self.may_retry() {
                    self.fetch(&mut jwks).await;
                }
            }
            Some(at) if at.elapsed() > MAX_AGE && self.may_retry() => {
                // Stale: refresh unless someone already is; meanwhile the old keys serve.
                if let Ok(mut jwks) = self.fetching.try_lock()
                    && self.current().fetched == Some(at)
                {
                    self.fetch(&mut jwks).await;
                }
            }
            Some(_) => {}
        }
        let set = self.current();
        if set.fetched.is_none() {
            return Err(KeyError::Unavailable);
        }
        match pick(&set, kid, alg) {
            Pick::Found(key) => return Ok(key),
            Pick::Mismatch(why) => return Err(KeyError::Unusable(why)),
            Pick::Missing => {}
        }
        // An unknown key: the server may have rotated. Fetch again, but only if no unknown key
        // caused a fetch within the cooldown; a flood of invented kids costs one fetch.
        let previous = {
            let mut last = self.kid_fetch.lock().expect("never poisoned");
            if last.is_some_and(|t| t.elapsed() < KID_COOLDOWN) {
                return Err(KeyError::Unknown);
            }
            last.replace(Instant::now())
        };
        let mut jwks = self.fetching.lock().await;
        if Arc::ptr_eq(&self.current(), &set) {
            self.fetch(&mut jwks).await;
        } else {
            // Another fetch finished while we waited: no fetch of ours, so the cooldown is not
            // spent (a real rotation right after start-up is still seen at once).
            *self.kid_fetch.lock().expect("never poisoned") = previous;
        }
        drop(jwks);
        match pick(&self.current(), kid, alg) {
            Pick::Found(key) => Ok(key),
            Pick::Mismatch(why) => Err(KeyError::Unusable(why)),
            Pick::Missing => Err(KeyError::Unknown),
        }
    }

    /// One fetch of the JWKS (discovering its URL first if needed). On success the keys
    /// replace the cached ones; on failure the cached ones stay and the reason is logged.
    async fn fetch(&self, jwks: &mut Option<Url>) {
        let outcome = async {
            let url = match (&self.source, jwks.as_ref()) {
                (Source::Configured(url), _) => url.clone(),
                (Source::Discovered, Some(url)) => url.clone(),
                (Source::Discovered, None) => {
                    let url = self.discover().await?;
                    *jwks = Some(url.clone());
                    url
                }
            };
            let doc = get_json(&self.http, &url).await?;
            parse_jwks(&doc).map_err(|e| format!("the JWKS at {url} {e}"))
        }
        .await;
        match outcome {
            Ok(keys) => {
                tracing::debug!(keys = keys.len(), "fetched the authorization server's keys");
                *self.current.write().expect("never poisoned") = Arc::new(Set {
                    keys,
                    fetched: Some(Instant::now()),
                });
                *self.failed.lock().expect("never poisoned") = None;
            }
            Err(e) => {
                tracing::warn!(reason = %e, "cannot fetch the OAuth authorization server's signing keys");
                *self.failed.lock().expect("never poisoned") = Some(Instant::now());
            }
        }
    }

    /// The JWKS URL from the issuer's metadata, trying the documents in [`metadata_urls`]
    /// order; the metadata must name this issuer exactly (RFC 8414 §3.3).
    async fn discover(&self) -> Result<Url, String> {
        let mut tried = Vec::new();
        for url in metadata_urls(&self.issuer_url) {
            let doc = match get_json(&self.http, &url).await {
                Ok(doc) => doc,
                Err(e) => {
                    tried.push(e);
                    continue;
                }
            };
            let named = doc.get("issuer").and_then(Value::as_str);
            if named != Some(self.issuer.as_str()) {
                return Err(format!(
                    "the metadata at {url} names the issuer {named:?}, not {:?}: set WHOP_MCP_OAUTH_ISSUER to the \
                     authorization server's issuer exactly as it writes it",
                    self.issuer
                ));
            }
            let Some(raw) = doc.get("jwks_uri").and_then(Value::as_str) else {
                return Err(format!(
                    "the metadata at {url} has no jwks_uri: set WHOP_MCP_OAUTH_JWKS_URL"
                ));
            };
            let jwks = Url::parse(raw)
                .map_err(|e| format!("the metadata at {url} has a bad jwks_uri {raw:?}: {e}"))?;
            if jwks.scheme() != "https" && !(jwks.scheme() == "http" && net::is_loopback(&jwks)) {
                return Err(format!(
                    "the metadata at {url} has a jwks_uri that is not https: {raw:?}"
                ));
            }
            return Ok(jwks);
        }
        Err(format!(
            "no authorization server metadata found for {}: {}",
            self.issuer,
            tried.join("; ")
        ))
    }
}

/// Where an issuer's metadata may be, in the order the MCP authorization spec gives: RFC 8414
/// with the issuer's path after the well-known segment, then OpenID Connect discovery the same
/// way, then OpenID Connect discovery with the well-known segment after the path.
pub(crate) fn metadata_urls(issuer: &Url) -> Vec<Url> {
    let path = issuer.path().trim_end_matches('/').to_owned();
    let at = |p: String| {
        let mut u = issuer.clone();
        u.set_path(&p);
        u.set_query(None);
        u.set_fragment(None);
        u
    };
    if path.is_empty() {
        vec![
            at("/.well-known/oauth-authorization-server".into()),
            at("/.well-known/openid-configuration".into()),
        ]
    } else {
        vec![
            at(format!("/.well-known/oauth-authorization-server{path}")),
            at(format!("/.well-known/openid-configuration{path}")),
            at(format!("{path}/.well-known/openid-configuration")),
        ]
    }
}

/// A JSON document from `url`, within [`FETCH_TIMEOUT`] and [`MAX_DOCUMENT`].
async fn get_json(http: &Outbound, url: &Url) -> Result<Value, String> {
    let fetch = async {
        let uri = outbound::request_uri(Ok(url.clone())).map_err(|e| format!("{url}: {e}"))?;
        let mut request = http::Request::new(OutBody::empty());
        *request.uri_mut() = uri;
        request.headers_mut().insert(
            http::header::ACCEPT,
            http::HeaderValue::from_static("application/json"),
        );
        let answer = http
            .exchange(request, Some(MAX_DOCUMENT))
            .await
            .map_err(|e| match e.stage {
                Stage::TooLarge => format!("{url} is over {MAX_DOCUMENT} bytes"),
                _ => format!("{url}: {e}"),
            })?;
        if !answer.status.is_success() {
            return Err(format!("{url} answered HTTP {}", answer.status.as_u16()));
        }
        serde_json::from_slice(&answer.body).map_err(|e| format!("{url} is not JSON: {e}"))
    };
    tokio::time::timeout(FETCH_TIMEOUT, fetch)
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "{url} did not answer within {} s",
                FETCH_TIMEOUT.as_secs()
            ))
        })
}

/// The fields of a JWK this server reads.
#[derive(Deserialize)]
struct Jwk {
    kty: String,
    kid: Option<String>,
    #[serde(rename = "use")]
    usage: Option<String>,
    key_ops: Option<Vec<String>>,
    alg: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

/// The verification keys of a JWKS document; keys this server cannot use (encryption keys,
/// symmetric keys, other curves and algorithms) are skipped.
fn parse_jwks(doc: &Value) -> Result<Vec<Arc<Key>>, String> {
    let Some(entries) = doc.get("keys").and_then(Value::as_array) else {
        return Err("has no \"keys\" array".into());
    };
    let keys: Vec<Arc<Key>> = entries
        .iter()
        .filter_map(|v| serde_json::from_value::<Jwk>(v.clone()).ok())
        .filter_map(|jwk| to_key(&jwk))
        .take(MAX_KEYS)
        .map(Arc::new)
        .collect();
    if keys.is_empty() {
        return Err(
            "has no signing key this server can use (RSA, P-256 or Ed25519, for RS256, PS256, ES256 or EdDSA)"
                .into(),
        );
    }
    Ok(keys)
}

fn to_key(jwk: &Jwk) -> Option<Key> {
    if jwk.usage.as_deref().is_some_and(|u| u != "sig")
        || jwk
            .key_ops
            .as_ref()
            .is_some_and(|ops| !ops.iter().any(|o| o == "verify"))
    {
        return None;
    }
    let alg = match jwk.alg.as_deref() {
        None => None,
        Some(name) => Some(
            name.parse::<Algorithm>()
                .ok()
                .filter(|a| ALGORITHMS.contains(a))?,
        ),
    };
    fn coordinate(c: &Option<String>, len: usize) -> Option<&str> {
        c.as_deref()
            .filter(|v| URL_SAFE_NO_PAD.decode(v).is_ok_and(|b| b.len() == len))
    }
    let (kind, decoding) = match (jwk.kty.as_str(), jwk.crv.as_deref()) {
        ("RSA", _) => (
            Kind::Rsa,
            DecodingKey::from_rsa_components(jwk.n.as_deref()?, jwk.e.as_deref()?).ok()?,
        ),
        ("EC", Some("P-256")) => (
            Kind::P256,
            DecodingKey::from_ec_components(coordinate(&jwk.x, 32)?, coordinate(&jwk.y, 32)?)
                .ok()?,
        ),
        ("OKP", Some("Ed25519")) => (
            Kind::Ed25519,
            DecodingKey::from_ed_components(coordinate(&jwk.x, 32)?).ok()?,
        ),
        _ => return None,
    };
    if alg.is_some_and(|a| !kind.verifies(a)) {
        return None;
    }
    Some(Key {
        kid: jwk.kid.clone(),
        alg,
        kind,
        decoding,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn metadata_is_looked_for_where_the_spec_says() {
        let urls = |issuer: &str| -> Vec<String> {
            metadata_urls(&Url::parse(issuer).unwrap())
                .iter()
                .map(|u| u.to_string())
                .collect()
        };
        assert_eq!(
            urls("https://auth.example.com"),
            [
                "https://auth.example.com/.well-known/oauth-authorization-server",
                "https://auth.example.com/.well-known/openid-configuration"
            ]
        );
        assert_eq!(
            urls("https://auth.example.com/"),
            urls("https://auth.example.com")
        );
        assert_eq!(
            urls("https://auth.example.com/tenant/a/"),
            [
                "https://auth.example.com/.well-known/oauth-authorization-server/tenant/a",
                "https://auth.example.com/.well-known/openid-configuration/tenant/a",
                "https://auth.example.com/tenant/a/.well-known/openid-configuration"
            ]
        );
    }

    const X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
    const Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";

    #[test]
    fn only_asymmetric_signing_keys_are_kept() {
        let doc = json!({"keys": [
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
            {"kty": "EC", "crv": "P-256", "x": X, "y": Y, "kid": "enc", "use": "enc"},
            {"kty": "EC", "crv": "P-384", "x": X, "y": Y, "kid": "p384"},
            {"kty": "EC", "crv": "P-256", "x": X, "y": Y, "kid": "wrong-alg", "alg": "RS256"},
            {"kty": "EC", "crv": "P-256", "x": X, "y": "AAAA", "kid": "short"},
            {"kty": "RSA", "n": "AQAB", "kid": "no-e"},
            {"kty": "OKP", "crv": "X25519", "x": X, "kid": "x25519"},
            {"kty": "EC", "crv": "P-256", "x": X, "y": Y, "kid": "good", "alg": "ES256", "use": "sig"},
            {"kty": "OKP", "crv": "Ed25519", "x": X, "kid": "ed"},
            {"kty": "RSA", "n": "sXch", "e": "AQAB", "kid": "rsa", "key_ops": ["verify"]},
            "not even an object"
        ]});
        let keys = parse_jwks(&doc).unwrap();
        let kids: Vec<_> = keys.iter().map(|k| k.kid.clone().unwrap()).collect();
        assert_eq!(kids, ["good", "ed", "rsa"]);
        assert!(parse_jwks(&json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]})).is_err());
        assert!(parse_jwks(&json!({"nokeys": []})).is_err());
    }

    #[test]
    fn a_key_is_picked_by_kid_and_algorithm() {
        let doc = json!({"keys": [
            {"kty": "EC", "crv": "P-256", "x": X, "y": Y, "kid": "a"},
            {"kty": "OKP", "crv": "Ed25519", "x": X, "kid": "b"},
        ]});
        let set = Set {
            keys: parse_jwks(&doc).unwrap(),
            fetched: Some(Instant::now()),
        };
        assert!(
            matches!(pick(&set, Some("a"), Algorithm::ES256), Pick::Found(k) if k.kid.as_deref() == Some("a"))
        );
        assert!(matches!(
            pick(&set, Some("a"), Algorithm::RS256),
            Pick::Mismatch(_)
        ));
        assert!(matches!(
            pick(&set, Some("zzz"), Algorithm::ES256),
            Pick::Missing
        ));
        // Without a kid: the one key that fits, else nothing.
        assert!(
            matches!(pick(&set, None, Algorithm::EdDSA), Pick::Found(k) if k.kid.as_deref() == Some("b"))
        );
        assert!(matches!(pick(&set, None, Algorithm::PS256), Pick::Missing));
        let two = Set {
            keys: parse_jwks(&json!({"keys": [
                {"kty": "EC", "crv": "P-256", "x": X, "y": Y},
                {"kty": "EC", "crv": "P-256", "x": X, "y": Y},
            ]}))
            .unwrap(),
            fetched: Some(Instant::now()),
        };
        assert!(matches!(
            pick(&two, None, Algorithm::ES256),
            Pick::Mismatch(_)
        ));
    }
}
