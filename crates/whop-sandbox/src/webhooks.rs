//! Webhook deliveries, as Whop makes them: once a target is set
//! ([`crate::Sandbox::deliver_webhooks`]), every message created (`POST /messages`, replies and
//! polls included, and [`crate::Sandbox::post_as`]) is POSTed there as a signed
//! `chat.message.created` event, in the background so the API answer is never delayed, and
//! tried again a few times when the target does not answer 2xx.
//!
//! Signing follows Standard Webhooks as Whop applies it (shared README §6): HMAC-SHA256 of
//! `{webhook-id}.{webhook-timestamp}.{body}`, keyed with the literal bytes of the endpoint
//! secret (`ws_…`), sent as `webhook-signature: v1,<base64>`. Written here from the standard,
//! not taken from the server: the two must agree by following the same contract. What Whop
//! does not document is in [`crate::rules`] (assumptions).

use std::{sync::Arc, time::Duration};

use base64::{Engine as _, engine::general_purpose::STANDARD};
use ring::hmac;
use serde_json::{Value, json};

use crate::{Shared, now_ms, rfc3339, rules, state::State};

/// Pauses before the attempts after the first: [`rules::WEBHOOK_ATTEMPTS`] in all, about 4 s.
const RETRY_PAUSES: [Duration; rules::WEBHOOK_ATTEMPTS as usize - 1] = [
    Duration::from_millis(200),
    Duration::from_secs(1),
    Duration::from_secs(3),
];
/// Longest one attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// Where deliveries go and what they are signed with.
pub(crate) struct Target {
    url: String,
    key: hmac::Key,
    http: reqwest::Client,
}

impl Target {
    /// A target for an `http://` URL (the sandbox delivers on this machine's network only)
    /// and a secret: its literal bytes, or for a `whsec_…` secret the standard's base64.
    pub(crate) fn new(url: &str, secret: &str) -> Result<Target, String> {
        let parsed = url::Url::parse(url).map_err(|e| format!("webhook URL {url:?}: {e}"))?;
        if parsed.scheme() != "http" {
            return Err(format!(
                "webhook URL {url:?}: the sandbox delivers over plain http only"
            ));
        }
        if secret.is_empty() {
            return Err("webhook secret is empty".into());
        }
        let key = match secret.strip_prefix("whsec_") {
            Some(b64) => STANDARD
                .decode(b64)
                .map_err(|_| "a whsec_ secret must be base64 after the prefix".to_owned())?,
            None => secret.as_bytes().to_vec(),
        };
        let http = reqwest::Client::builder()
            .timeout(ATTEMPT_TIMEOUT)
            .build()
            .map_err(|e| format!("webhook client: {e}"))?;
        Ok(Target {
            url: url.to_owned(),
            key: hmac::Key::new(hmac::HMAC_SHA256, &key),
            http,
        })
    }

    /// The `webhook-signature` value for one attempt.
    fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut content = format!("{id}.{timestamp}.").into_bytes();
        content.extend_from_slice(body);
        let tag = hmac::sign(&self.key, &content);
        format!("v1,{}", STANDARD.encode(tag.as_ref()))
    }
}

/// One delivery as the sandbox made it (for tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    /// `webhook-id`, also the event's `id` (`msg_…`).
    pub id: String,
    pub event_type: String,
    /// `data.channel.id`.
    pub channel_id: String,
    /// `data.message.id`.
    pub message_id: String,
    /// Attempts made so far.
    pub attempts: u32,
    /// The status of the last answer, if any came.
    pub status: Option<u16>,
    /// Answered 2xx.
    pub delivered: bool,
}

/// The `chat.message.created` event for a stored message, as §6 shapes it, with a fresh
/// delivery id.
pub(crate) fn message_created(st: &State, message_id: &str) -> Option<(String, Value)> {
    let m = st.messages.get(message_id)?;
    let id = format!("msg_{}", uuid::Uuid::new_v4().simple());
    let (kind, experience, audience) = if let Some(c) = st.channel(&m.channel_id) {
        (
            "chat",
            Value::from(c.experience_id.clone()),
            json!({"type": "channel", "user_ids": null}),
        )
    } else if let Some(dm) = st.dm(&m.channel_id) {
        let members: Vec<&str> = dm.members.iter().map(|m| m.user_id.as_str()).collect();
        (
            "direct_message",
            Value::Null,
            json!({"type": "users", "user_ids": members}),
        )
    } else {
        let customer = st
            .support_chat(&m.channel_id)
            .map(|s| s.customer_id.clone());
        (
            "support",
            Value::Null,
            json!({"type": "users", "user_ids": customer.into_iter().collect::<Vec<_>>()}),
        )
    };
    let event = json!({
        "id": id,
        "api_version": "v1",
        "api_version_date": Value::Null,
        "type": "chat.message.created",
        "timestamp": rfc3339(now_ms()),
        "company_id": st.company_id,
        "account_id": st.company_id,
        "data": {
            "reason": rules::WEBHOOK_MESSAGE_REASON,
            "audience": audience,
            "channel": {"id": m.channel_id, "type": kind, "experience_id": experience},
            "message": st.message_json(m),
        },
    });
    Some((id, event))
}

/// Delivers `event` to the target in the background, recording each attempt.
pub(crate) fn deliver(shared: &Arc<Shared>, target: Arc<Target>, id: String, event: Value) {
    let record = WebhookDelivery {
        id: id.clone(),
        event_type: event["type"].as_str().unwrap_or_default().to_owned(),
        channel_id: event["data"]["channel"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        message_id: event["data"]["message"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        attempts: 0,
        status: None,
        delivered: false,
    };
    shared.deliveries().push(record);
    let body = event.to_string().into_bytes();
    let shared = shared.clone();
    shared.runtime.clone().spawn(async move {
        let pauses = std::iter::once(Duration::ZERO).chain(RETRY_PAUSES);
        for pause in pauses {
            tokio::time::sleep(pause).await;
            let timestamp = now_ms() / 1000;
            let answer = target
                .http
                .post(&target.url)
                .header("content-type", "application/json")
                .header("webhook-id", &id)
                .header("webhook-timestamp", timestamp.to_string())
                .header("webhook-signature", target.sign(&id, timestamp, &body))
                .body(body.clone())
                .send()
                .await;
            let status = answer.as_ref().ok().map(|r| r.status().as_u16());
            let delivered = status.is_some_and(|s| (200..300).contains(&s));
            if let Some(d) = shared.deliveries().iter_mut().find(|d| d.id == id) {
                d.attempts += 1;
                d.status = status.or(d.status);
                d.delivered = delivered;
            }
            if delivered {
                return;
            }
            tracing::debug!(delivery = id, ?status, "sandbox webhook attempt failed");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_an_independent_computation() {
        // Computed with Python: base64(hmac.new(b"ws_test_4f9c2a7e1b3d5f60",
        //   b"msg_2KWPBgLlAfxdpx2AI54pPJ85f4W.1764583200." + body, sha256).digest())
        let t = Target::new("http://127.0.0.1:9/hook", "ws_test_4f9c2a7e1b3d5f60").unwrap();
        assert_eq!(
            t.sign(
                "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
                1764583200,
                br#"{"type":"chat.message.created"}"#
            ),
            "v1,jwZLt2Kc8DF9Tum8T7QCnBV3IH/cxaJou5mYnxQYvsg="
        );
        // The Standard Webhooks example, with a whsec_ secret.
        let t = Target::new(
            "http://127.0.0.1:9/hook",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        )
        .unwrap();
        assert_eq!(
            t.sign(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert!(Target::new("https://example.com/hook", "ws_x").is_err());
        assert!(Target::new("http://127.0.0.1:9/hook", "").is_err());
    }
}
