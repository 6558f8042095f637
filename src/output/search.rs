//! What `search_messages` returns: the matches, and per channel how far the scan looked.
//! Whop has no search: the scan is the truth, so every answer says how many messages of each
//! channel were read and back to when ("no match in the last N messages (back to T)").

use rmcp::schemars::JsonSchema;
use serde::Serialize;

use super::{messages::MessageOut, text};

/// Characters of a matching message shown around the first match in the text answer.
const SNIPPET_CHARS: usize = 240;

// A matching message and where it is.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct SearchHit {
    pub(crate) channel_id: String,
    pub(crate) message: MessageOut,
}

// How far one channel was scanned in this call.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ChannelScan {
    pub(crate) channel_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
    // Messages read in this call, newest first.
    pub(crate) scanned: usize,
    pub(crate) matches: usize,
    // Time of the oldest message read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) oldest_seen: Option<String>,
    // The scan reached the start of the channel (or `since`): nothing older to read.
    pub(crate) complete: bool,
    // It stopped at `since` (rather than at the start of the channel).
    #[serde(skip)]
    pub(crate) reached_since: bool,
    // Why the channel could not be searched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct SearchOut {
    // Newest first.
    pub(crate) matches: Vec<SearchHit>,
    pub(crate) channels: Vec<ChannelScan>,
    // Continues every unfinished channel exactly where this scan stopped.
    // Left out when every channel was scanned to its start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) next_cursor: Option<String>,
}

impl ChannelScan {
    /// `#General feed_…: 2 matches in the last 26 messages (back to 2026-11-22 08:00, start of
    /// the channel)`, or `… no match in the last 200 messages (back to …); more to scan`.
    pub(crate) fn line(&self) -> String {
        let mut s = match &self.name {
            Some(n) => format!("#{n} {}", self.channel_id),
            None => self.channel_id.clone(),
        };
        if let Some(e) = &self.error {
            s.push_str(": not searched: ");
            s.push_str(e);
            return s;
        }
        let n = self.scanned;
        let messages = if n == 1 { "message" } else { "messages" };
        let found = match self.matches {
            0 => format!("no match in the last {n} {messages}"),
            1 => format!("1 match in the last {n} {messages}"),
            m => format!("{m} matches in the last {n} {messages}"),
        };
        s.push_str(": ");
        s.push_str(&found);
        let back = self.oldest_seen.as_deref().map(text::short_time);
        let end = match (self.complete, self.reached_since) {
            (true, true) => "since",
            (true, false) => "the start of the channel",
            (false, _) => "",
        };
        match (back, end) {
            (Some(t), "") => s.push_str(&format!(" (back to {t})")),
            (Some(t), end) => s.push_str(&format!(" (back to {t}, {end})")),
            (None, "") => {}
            (None, end) => s.push_str(&format!(" (reached {end})")),
        }
        if !self.complete {
            s.push_str("; more to scan");
        }
        s
    }
}

/// A hit as one row: `  2026-11-24 16:05 @chloe msg_…: …text around the match…`.
pub(crate) fn hit_line(m: &MessageOut, first_term: &str) -> String {
    let (date, time) = m.when();
    let mut shown = MessageOut {
        content: m.content.as_deref().map(|c| snippet(c, first_term)),
        ..m.clone()
    };
    shown.poll = None;
    format!("  {date} {}", shown.line(&time))
}

/// Up to [`SNIPPET_CHARS`] of `content` around the first place `term` (folded) occurs.
fn snippet(content: &str, term: &str) -> String {
    let chars: Vec<char> = content.chars().collect();
    if chars.len() <= SNIPPET_CHARS {
        return content.to_owned();
    }
    // Find the match on the folded text, char by char (folding keeps one char per base char
    // for the scripts that matter; the position is a good enough guide either way).
    let at = (0..chars.len())
        .find(|&i| {
            let rest: String = chars[i..].iter().take(term.chars().count() + 8).collect();
            text::fold(&rest).starts_with(term)
        })
        .unwrap_or(0);
    let start = at.saturating_sub(SNIPPET_CHARS / 3);
    let end = (start + SNIPPET_CHARS).min(chars.len());
    let mut s: String = chars[start..end].iter().collect();
    if start > 0 {
        s.insert(0, '…');
    }
    if end < chars.len() {
        s.push('…');
    }
    s
}
