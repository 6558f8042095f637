//! Whop webhooks: the receiver at `POST /webhooks/whop` (in HTTP mode, or alone with
//! `whop-chat-mcp webhooks --listen ADDR`), which turns a `chat.message.created` delivery into
//! a wake-up of the waits and subscriptions on that channel ([`crate::shared`]).
//!
//! Deliveries are signed the Standard Webhooks way: `webhook-signature` holds one or more
//! space-separated `v1,<base64 HMAC-SHA256>` of `{webhook-id}.{webhook-timestamp}.{raw body}`.
//! Whop keys the HMAC with the literal UTF-8 bytes of the endpoint's secret (`ws_…`, the
//! prefix included; Whop's Python SDK notes this), not with its base64 decoding as the
//! standard does; a `whsec_…` secret is decoded the standard's way.
//!
//! The receiver answers fast and never calls Whop: it checks, de-duplicates, publishes the
//! wake-up and answers. Refusals, cheapest first, none of them echoing the secret or the
//! signature:
//! - a missing header, a timestamp more than [`TOLERANCE`] off (either way): 401, before the
//!   body is read;
//! - a body over [`MAX_BODY`]: 413 (from `Content-Length` alone when it says so), or one not
//!   received within [`BODY_TIMEOUT`]: 408;
//! - no signature that matches: 401;
//! - a signed body that is not JSON or lacks what its event type needs: 400, logged.
//!
//! A `webhook-id` seen before (within [`DELIVERY_TTL`]) is acknowledged and dropped. Event
//! types other than `chat.message.created` are acknowledged and ignored:
//! `chat.reaction.created` adds no message, and no tool or subscription waits for reactions.

use std::{
    net::SocketAddr,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use axum::{
    Router,
    extract::{Request, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use http_body_util::BodyExt as _;
use ring::hmac;
use serde_json::Value;

use crate::shared::Handle;

/// Where the receiver listens, in HTTP mode and standalone.
pub const ROUTE: &str = "/webhooks/whop";
/// Largest delivery accepted. A `chat.message.created` carries one message (at most a few
/// KiB of text plus attachment and poll metadata); 256 KiB leaves a wide margin.
pub(crate) const MAX_BODY: usize = 256 * 1024;
/// Longest a sender may take to send a delivery's body.
pub(crate) const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// How far `webhook-timestamp` may be from this server's clock, either way (the standard's
/// default): an older delivery could be a replay, a newer one a forgery made in advance.
pub(crate) const TOLERANCE: Duration = Duration::from_secs(5 * 60);
/// How long a delivery id is remembered to drop repeats: a day covers a sender's quick
/// retries. A repeat after that only wakes the channel once more, which costs one fetch.
pub(crate) const DELIVERY_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// Most signatures looked at in one `webhook-signature` header (the standard allows several,
/// for secret rotation; a handful is plenty).
const MAX_SIGNATURES: usize = 16;
/// Longest `webhook-id` accepted (it is remembered, possibly in a shared store).
const MAX_ID_LEN: usize = 256;

/// The key deliveries are checked with, from the endpoint secret. Its `Debug` shows nothing.
#[derive(Clone)]
pub struct Verifier {
    key: hmac::Key,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Verifier(<redacted>)")
    }
}

impl Verifier {
    /// The verifier for an endpoint secret: its literal bytes (Whop's `ws_…`), or for a
    /// `whsec_…` secret the base64 after the prefix (the standard's form). The error says what
    /// is wrong without repeating the secret.
    pub fn from_secret(secret: &str) -> Result<Verifier, String> {
        let secret = secret.trim();
        if secret.is_empty() || secret.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("must be the endpoint's secret alone, without spaces".into());
        }
        let key = match secret.strip_prefix("whsec_") {
            Some(encoded) => STANDARD
                .decode(encoded)
                .ok()
                .filter(|k| !k.is_empty())
                .ok_or("starts with whsec_ but what follows is not base64")?,
            None => secret.as_bytes().to_vec(),
        };
        Ok(Verifier {
            key: hmac::Key::new(hmac::HMAC_SHA256, &key),
        })
    }

    /// Checks a delivery's headers and body at Unix time `now` (seconds).
    pub(crate) fn verify(
        &self,
        delivery: &Signed<'_>,
        body: &[u8],
        now: i64,
    ) -> Result<(), Refusal> {
        check_timestamp(delivery.timestamp, now)?;
        let mut content =
            Vec::with_capacity(delivery.id.len() + delivery.timestamp.len() + body.len() + 2);
        content.extend_from_slice(delivery.id.as_bytes());
        content.push(b'.');
        content.extend_from_slice(delivery.timestamp.as_bytes());
        content.push(b'.');
        content.extend_from_slice(body);
        let matched = delivery
            .signatures
            .split_ascii_whitespace()
            .take(MAX_SIGNATURES)
            .filter_map(|s| s.strip_prefix("v1,"))
            .filter_map(|b64| STANDARD.decode(b64).ok())
            .any(|tag| hmac::verify(&self.key, &content, &tag).is_ok());
        if matched {
            Ok(())
        } else {
            Err(Refusal::Signature)
        }
    }
}

/// The Standard Webhooks headers of one delivery.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Signed<'a> {
    pub(crate) id: &'a str,
    pub(crate) timestamp: &'a str,
    pub(crate) signatures: &'a str,
}

impl<'a> Signed<'a> {
    fn from_headers(headers: &'a HeaderMap) -> Result<Self, Refusal> {
        let get = |name: &'static str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .ok_or(Refusal::Missing(name))
        };
        let id = get("webhook-id")?;
        // Ids are short tokens (`msg_…`); anything else is not a delivery to remember.
        if id.len() > MAX_ID_LEN || !id.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Refusal::Id);
        }
        Ok(Signed {
            id,
            timestamp: get("webhook-timestamp")?,
            signatures: get("webhook-signature")?,
        })
    }
}

/// Why a delivery is refused with 401. The text names the cause, never a value it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    Missing(&'static str),
    Id,
    Timestamp,
    /// Seconds off, positive when the delivery is dated in the future.
    Skewed(i64),
    Signature,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let limit = TOLERANCE.as_secs();
        match self {
            Refusal::Missing(name) => write!(f, "missing {name} header (Standard Webhooks)"),
            Refusal::Id => write!(
                f,
                "webhook-id must be printable ASCII of at most {MAX_ID_LEN} bytes"
            ),
            Refusal::Timestamp => f.write_str("webhook-timestamp is not a Unix time in seconds"),
            Refusal::Skewed(s) if *s > 0 => write!(
                f,
                "webhook-timestamp is {s} s in the future, more than {limit} s off this server's clock (a forged or pre-dated delivery, or a clock to fix)"
            ),
            Refusal::Skewed(s) => write!(
                f,
                "webhook-timestamp is {} s old, more than {limit} s off this server's clock (a replay, or a clock to fix)",
                -s
            ),
            Refusal::Signature => f.write_str(
                "no webhook-signature matches: check that WHOP_WEBHOOK_SECRET is this endpoint's secret",
            ),
        }
    }
}

fn check_timestamp(timestamp: &str, now: i64) -> Result<(), Refusal> {
    let t: i64 = timestamp.parse().map_err(|_| Refusal::Timestamp)?;
    let off = t.saturating_sub(now);
    if off.unsigned_abs() > TOLERANCE.as_secs() {
        return Err(Refusal::Skewed(off));
    }
    Ok(())
}

/// What a verified delivery asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event {
    /// New message in a channel: wake these ids (the channel's, and its experience's when the
    /// event names one, since waits may name either).
    Wake(Vec<String>),
    /// Acknowledged, nothing to do (another event type).
    Ignored(String),
}

/// Reads a verified body. The error (for a 400) says what is missing, never the content.
pub(crate) fn classify(body: &[u8]) -> Result<Event, String> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON ({e})"))?;
    let Some(kind) = v.get("type").and_then(Value::as_str) else {
        return Err("the body has no \"type\" (not a Whop webhook event)".into());
    };
    if kind != "chat.message.created" {
        let shown: String = kind.chars().take(64).collect();
        return Ok(Event::Ignored(crate::output::text::inline(&shown)));
    }
    let channel = v.pointer("/data/channel");
    let Some(id) = channel
        .and_then(|c| c.get("id"))
        .and_then(Value::as_str)
        .filter(|id| is_id(id))
    else {
        return Err("chat.message.created without a valid data.channel.id".into());
    };
    let mut ids = vec![id.to_owned()];
    if let Some(exp) = channel
        .and_then(|c| c.get("experience_id"))
        .and_then(Value::as_str)
        .filter(|e| is_id(e) && *e != id)
    {
        ids.push(exp.to_owned());
    }
    Ok(Event::Wake(ids))
}

/// A channel id as Whop writes them: short, letters, digits, `_` and `-`.
fn is_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

#[derive(Clone)]
struct Receiver {
    verifier: Verifier,
    state: Handle,
}

/// The receiver's route, `POST` [`ROUTE`], for a router of its own or the HTTP transport's.
pub(crate) fn routes(verifier: Verifier, state: Handle) -> Router {
    Router::new().route(
        ROUTE,
        post(receive).with_state(Receiver { verifier, state }),
    )
}

fn answer(status: StatusCode, text: impl Into<String>) -> Response {
    let mut text = text.into();
    text.push('\n');
    (status, text).into_response()
}

async fn receive(State(r): State<Receiver>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let signed = match Signed::from_headers(&parts.headers) {
        Ok(s) => s,
        Err(refusal) => return refuse(refusal),
    };
    // Cheap refusals first: no body is read for a stale delivery or an announced flood.
    if let Err(refusal) = check_timestamp(signed.timestamp, unix_now()) {
        return refuse(refusal);
    }
    let announced = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > MAX_BODY as u64) {
        return too_large();
    }
    let limited = http_body_util::Limited::new(body, MAX_BODY);
    let body = match tokio::time::timeout(BODY_TIMEOUT, limited.collect()).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => return too_large(),
        Ok(Err(_)) => return answer(StatusCode::BAD_REQUEST, "body could not be read"),
        Err(_) => {
            return answer(
                StatusCode::REQUEST_TIMEOUT,
                format!("body not received within {} s", BODY_TIMEOUT.as_secs()),
            );
        }
    };
    if let Err(refusal) = r.verifier.verify(&signed, &body, unix_now()) {
        return refuse(refusal);
    }
    let event = match classify(&body) {
        Ok(event) => event,
        Err(why) => {
            tracing::warn!(bytes = body.len(), "webhook delivery refused: {why}");
            return answer(StatusCode::BAD_REQUEST, why);
        }
    };
    let id = crate::output::text::inline(signed.id);
    if !r.state.engine.first_delivery(signed.id, DELIVERY_TTL).await {
        tracing::debug!(delivery = %id, "repeated webhook delivery dropped");
        return answer(StatusCode::OK, "repeated delivery; already handled");
    }
    match event {
        Event::Wake(channels) => {
            for channel in &channels {
                r.state.engine.publish_wake(channel).await;
            }
            tracing::debug!(delivery = %id, ?channels, "webhook: new message, channel woken");
            answer(StatusCode::OK, "ok")
        }
        Event::Ignored(kind) => {
            tracing::debug!(delivery = %id, kind, "webhook event ignored");
            answer(
                StatusCode::OK,
                "event acknowledged; this server acts on chat.message.created only",
            )
        }
    }
}

fn refuse(refusal: Refusal) -> Response {
    tracing::info!("webhook delivery refused: {refusal}");
    answer(StatusCode::UNAUTHORIZED, refusal.to_string())
}

fn too_large() -> Response {
    tracing::info!("webhook delivery refused: body over {MAX_BODY} bytes");
    answer(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("body over {MAX_BODY} bytes"),
    )
}

/// `whop-chat-mcp webhooks --listen ADDR`: the receiver alone (and `/healthz`), with the HTTP
/// transport's connection limits and deadlines, until `shutdown` resolves.
pub async fn serve_standalone(
    addr: SocketAddr,
    verifier: Verifier,
    state: Handle,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    if !state.reaches_other_processes() {
        tracing::warn!(
            "the receiver runs with this process's own state only, so the deliveries it accepts wake nobody: \
             it needs a state shared with the MCP servers to be of use"
        );
    }
    eprintln!("whop-chat-mcp: receiving Whop webhooks at http://{local}{ROUTE} (health: /healthz)");
    let app = routes(verifier, state).route("/healthz", get(|| async { "ok\n" }));
    crate::http::serve_app(
        listener,
        app,
        tokio_util::sync::CancellationToken::new(),
        shutdown,
    )
    .await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Vectors computed independently with Python's hmac (not with this code):
    //   base64.b64encode(hmac.new(KEY, f"{id}.{ts}.".encode() + BODY, hashlib.sha256).digest())
    // Whop style: KEY = the literal bytes of the ws_ secret.
    const WS_SECRET: &str = "ws_test_4f9c2a7e1b3d5f60";
    const WS_ID: &str = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W";
    const WS_TS: i64 = 1764583200;
    const WS_BODY: &[u8] = br#"{"type":"chat.message.created"}"#;
    const WS_SIG: &str = "jwZLt2Kc8DF9Tum8T7QCnBV3IH/cxaJou5mYnxQYvsg=";
    // Standard Webhooks' own example: KEY = base64-decoded "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".
    const STD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const STD_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const STD_TS: i64 = 1614265330;
    const STD_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const STD_SIG: &str = "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn check(
        secret: &str,
        id: &str,
        ts: i64,
        sigs: &str,
        body: &[u8],
        now: i64,
    ) -> Result<(), Refusal> {
        let timestamp = ts.to_string();
        let signed = Signed {
            id,
            timestamp: &timestamp,
            signatures: sigs,
        };
        Verifier::from_secret(secret)
            .unwrap()
            .verify(&signed, body, now)
    }

    #[test]
    fn a_whop_secret_signs_with_its_literal_bytes() {
        let sig = format!("v1,{WS_SIG}");
        assert_eq!(check(WS_SECRET, WS_ID, WS_TS, &sig, WS_BODY, WS_TS), Ok(()));
        // One changed byte anywhere fails.
        let other_body = br#"{"type":"chat.message.createD"}"#;
        assert_eq!(
            check(WS_SECRET, WS_ID, WS_TS, &sig, other_body, WS_TS),
            Err(Refusal::Signature)
        );
        assert_eq!(
            check(WS_SECRET, "msg_other", WS_TS, &sig, WS_BODY, WS_TS),
            Err(Refusal::Signature)
        );
        assert_eq!(
            check(
                "ws_test_4f9c2a7e1b3d5f61",
                WS_ID,
                WS_TS,
                &sig,
                WS_BODY,
                WS_TS
            ),
            Err(Refusal::Signature)
        );
    }

    #[test]
    fn a_whsec_secret_is_decoded_as_the_standard_says() {
        let sig = format!("v1,{STD_SIG}");
        assert_eq!(
            check(STD_SECRET, STD_ID, STD_TS, &sig, STD_BODY, STD_TS + 10),
            Ok(())
        );
        assert!(Verifier::from_secret("whsec_not base64").is_err());
        assert!(Verifier::from_secret("whsec_%%%").is_err());
        assert!(Verifier::from_secret("").is_err());
    }

    #[test]
    fn any_one_matching_signature_of_several_is_enough() {
        let sigs = format!("v1,AAAA v2,{WS_SIG} v1,bm90IGl0 v1,{WS_SIG}");
        assert_eq!(
            check(WS_SECRET, WS_ID, WS_TS, &sigs, WS_BODY, WS_TS),
            Ok(())
        );
        // Right tag, wrong version label: not a v1 signature.
        let sigs = format!("v1a,{WS_SIG} {WS_SIG}");
        assert_eq!(
            check(WS_SECRET, WS_ID, WS_TS, &sigs, WS_BODY, WS_TS),
            Err(Refusal::Signature)
        );
    }

    #[test]
    fn timestamps_more_than_five_minutes_off_are_refused_either_way() {
        let sig = format!("v1,{WS_SIG}");
        for now in [WS_TS - 300, WS_TS + 300] {
            assert_eq!(check(WS_SECRET, WS_ID, WS_TS, &sig, WS_BODY, now), Ok(()));
        }
        let stale = check(WS_SECRET, WS_ID, WS_TS, &sig, WS_BODY, WS_TS + 301).unwrap_err();
        assert_eq!(stale, Refusal::Skewed(-301));
        assert!(stale.to_string().contains("301 s old"), "{stale}");
        let future = check(WS_SECRET, WS_ID, WS_TS, &sig, WS_BODY, WS_TS - 400).unwrap_err();
        assert!(
            future.to_string().contains("400 s in the future"),
            "{future}"
        );
        assert_eq!(check_timestamp("soon", WS_TS), Err(Refusal::Timestamp));
    }

    #[test]
    fn refusals_never_repeat_what_they_were_given() {
        for r in [
            Refusal::Missing("webhook-signature"),
            Refusal::Id,
            Refusal::Timestamp,
            Refusal::Skewed(-999),
            Refusal::Signature,
        ] {
            let text = r.to_string();
            assert!(
                !text.contains(WS_SIG) && !text.contains(WS_SECRET),
                "{text}"
            );
        }
        assert_eq!(
            format!("{:?}", Verifier::from_secret(WS_SECRET).unwrap()),
            "Verifier(<redacted>)"
        );
    }

    #[test]
    fn events_wake_the_channel_and_its_experience() {
        let body = br#"{"id":"msg_1","type":"chat.message.created","data":{"channel":{"id":"feed_1","type":"chat","experience_id":"exp_1"},"message":{"id":"post_1"}}}"#;
        assert_eq!(
            classify(body),
            Ok(Event::Wake(vec!["feed_1".into(), "exp_1".into()]))
        );
        let dm = br#"{"type":"chat.message.created","data":{"channel":{"id":"feed_dm","type":"direct_message","experience_id":null}}}"#;
        assert_eq!(classify(dm), Ok(Event::Wake(vec!["feed_dm".into()])));
        assert_eq!(
            classify(br#"{"type":"chat.reaction.created","data":{}}"#),
            Ok(Event::Ignored("chat.reaction.created".into()))
        );
        for bad in [
            &b"not json"[..],
            br#"{"data":{}}"#,
            br#"{"type":"chat.message.created","data":{}}"#,
            br#"{"type":"chat.message.created","data":{"channel":{"id":"feed/../x"}}}"#,
        ] {
            assert!(classify(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
