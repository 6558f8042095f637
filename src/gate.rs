//! The exit gate: what leaves the server passes here last. Today it scrubs the API key from
//! every tool result (text and `structuredContent`), whatever Whop or a bug put there.

use rmcp::model::{CallToolResult, ContentBlock};
use serde_json::Value;

use crate::whop::Secret;

/// Shortest key worth scrubbing: a shorter "key" would match ordinary text.
const MIN_KEY_LEN: usize = 8;

/// Removes one secret from outgoing results.
#[derive(Debug, Clone, Default)]
pub struct Gate {
    key: Option<Secret>,
}

impl Gate {
    pub fn new(key: Option<Secret>) -> Self {
        Gate {
            key: key.filter(|k| k.expose().len() >= MIN_KEY_LEN),
        }
    }

    /// Replaces the key wherever it occurs in a result.
    pub fn result(&self, result: &mut CallToolResult) {
        if let Some(key) = &self.key {
            redact(result, key.expose());
        }
    }
}

fn redact(result: &mut CallToolResult, key: &str) {
    fn scrub(v: &mut Value, key: &str) {
        match v {
            Value::String(s) if s.contains(key) => *s = s.replace(key, "[redacted]"),
            Value::Array(items) => items.iter_mut().for_each(|i| scrub(i, key)),
            Value::Object(map) => map.values_mut().for_each(|i| scrub(i, key)),
            _ => {}
        }
    }
    for block in &mut result.content {
        if let ContentBlock::Text(t) = block
            && t.text.contains(key)
        {
            t.text = t.text.replace(key, "[redacted]");
        }
    }
    if let Some(s) = &mut result.structured_content {
        scrub(s, key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_key_is_scrubbed_from_results() {
        let mut r =
            CallToolResult::error(vec![ContentBlock::text("bad key sk_live_12345678 echoed")]);
        r.structured_content = Some(json!({"a": ["x sk_live_12345678"], "b": 1}));
        Gate::new(Some(Secret::new("sk_live_12345678"))).result(&mut r);
        let s = serde_json::to_string(&r).unwrap();
        assert!(
            !s.contains("sk_live_12345678") && s.contains("[redacted]"),
            "{s}"
        );
    }
}
