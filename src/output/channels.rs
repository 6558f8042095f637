//! Chat channels as tools return them.

use rmcp::schemars::JsonSchema;
use serde::Serialize;

use super::{Rows, one_row_each, text};
use crate::whop::models::ChatChannel;

// A chat channel. Its name is its experience's name (the chat object has none of its own).
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ChannelOut {
    pub(crate) id: String,
    pub(crate) name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) experience_id: Option<String>,
    pub(crate) rules: Rules,
}

// Who may post and react, and the moderation settings members are held to.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Rules {
    // `everyone` or `admins`.
    pub(crate) who_can_post: String,
    // `everyone` or `no_one`.
    pub(crate) who_can_react: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cooldown_seconds: Option<i64>,
    #[serde(skip_serializing_if = "is_false")]
    pub(crate) ban_urls: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub(crate) ban_media: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) banned_words: Vec<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl ChannelOut {
    pub(crate) fn from(c: &ChatChannel) -> Self {
        ChannelOut {
            id: c.id.clone(),
            name: c
                .experience
                .as_ref()
                .and_then(|e| e.name.as_deref())
                .map(text::inline)
                .unwrap_or_else(|| "(unnamed)".into()),
            experience_id: c.experience.as_ref().map(|e| e.id.clone()),
            rules: Rules {
                who_can_post: c.who_can_post.clone().unwrap_or_else(|| "everyone".into()),
                who_can_react: c.who_can_react.clone().unwrap_or_else(|| "everyone".into()),
                cooldown_seconds: c.user_posts_cooldown_seconds.filter(|s| *s > 0),
                ban_urls: c.ban_urls,
                ban_media: c.ban_media,
                banned_words: c.banned_words.iter().map(|w| text::inline(w)).collect(),
            },
        }
    }

    /// `#General feed_… exp_… · posting: everyone · slow mode 10 s · no links`
    pub(crate) fn line(&self) -> String {
        let mut s = format!("#{} {}", self.name, self.id);
        if let Some(exp) = &self.experience_id {
            s.push(' ');
            s.push_str(exp);
        }
        s.push_str(match self.rules.who_can_post.as_str() {
            "admins" => " · admins only post",
            "everyone" => " · anyone posts",
            other => return format!("{s} · posting: {other}"),
        });
        if self.rules.who_can_react == "no_one" {
            s.push_str(" · no reactions");
        }
        if let Some(c) = self.rules.cooldown_seconds {
            s.push_str(&format!(" · slow mode {c} s"));
        }
        if self.rules.ban_urls {
            s.push_str(" · no links");
        }
        if self.rules.ban_media {
            s.push_str(" · no media");
        }
        if !self.rules.banned_words.is_empty() {
            s.push_str(&format!(
                " · {} banned words",
                self.rules.banned_words.len()
            ));
        }
        s
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ChannelsPage {
    pub(crate) company_id: String,
    pub(crate) channels: Vec<ChannelOut>,
    // Left out on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) next_cursor: Option<String>,
}

impl Rows for ChannelOut {
    fn rows(items: &[Self]) -> (Vec<String>, Vec<usize>) {
        one_row_each(items, ChannelOut::line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_rows_show_name_ids_and_rules() {
        let c: ChatChannel = serde_json::from_str(
            r#"{"id":"feed_7HgT2kLp9QmXcV","ban_media":false,"ban_urls":true,"banned_words":["spam","scam"],
            "experience":{"id":"exp_4RtY8uIo2PaSdF","name":"Trading Signals Chat"},
            "user_posts_cooldown_seconds":10,"who_can_post":"everyone","who_can_react":"everyone"}"#,
        )
        .unwrap();
        assert_eq!(
            ChannelOut::from(&c).line(),
            "#Trading Signals Chat feed_7HgT2kLp9QmXcV exp_4RtY8uIo2PaSdF · anyone posts · slow mode 10 s · no links · 2 banned words"
        );
        let admins: ChatChannel = serde_json::from_str(
            r#"{"id":"feed_a","experience":{"id":"exp_a","name":"News\nfake row"},"who_can_post":"admins","who_can_react":"no_one","user_posts_cooldown_seconds":null}"#,
        )
        .unwrap();
        assert_eq!(
            ChannelOut::from(&admins).line(),
            "#News ⏎ fake row feed_a exp_a · admins only post · no reactions"
        );
    }
}
