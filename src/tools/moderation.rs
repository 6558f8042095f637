//! Moderation: `update_channel_settings`, a chat channel's posting rules (Whop's
//! `PATCH /chat_channels/{id}`, permission `chat:moderate`, community admins only).

use rmcp::{handler::server::wrapper::Parameters, schemars::JsonSchema, tool, tool_router};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use super::{Effect, ToolError, ToolResult, Toolbox, cancellable, check_id, output, render};
use crate::{output::channels::ChannelOut, whop::UpdateChatChannel};

/// Longest slow mode Whop's clients offer is a day; more is almost certainly a mistake.
const MAX_SLOW_MODE_SECONDS: u32 = 86_400;
const MAX_BANNED_WORDS: usize = 200;
const MAX_BANNED_WORD_CHARS: usize = 50;

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(inline)]
#[serde(rename_all = "snake_case")]
pub(crate) enum WhoCanPost {
    Everyone,
    Admins,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(inline)]
#[serde(rename_all = "snake_case")]
pub(crate) enum WhoCanReact {
    Everyone,
    NoOne,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct UpdateChannelSettingsArgs {
    /// feed_… or exp_… id.
    pub(crate) channel_id: String,
    /// Who may post.
    pub(crate) who_can_post: Option<WhoCanPost>,
    /// Who may react.
    pub(crate) who_can_react: Option<WhoCanReact>,
    /// Seconds between a member's posts; 0 turns slow mode off.
    #[schemars(range(max = 86400))]
    pub(crate) slow_mode_seconds: Option<u32>,
    /// Refuse members' links.
    pub(crate) ban_urls: Option<bool>,
    /// Refuse members' media.
    pub(crate) ban_media: Option<bool>,
    /// Replaces the whole list; [] clears it.
    pub(crate) banned_words: Option<Vec<String>>,
}

#[tool_router(router = moderation_router, vis = "pub(crate)")]
impl Toolbox {
    /// Change a chat channel's rules (community admins; needs chat:moderate). Only the
    /// settings given change.
    #[tool(
        title = "Channel settings",
        annotations(destructive_hint = true, idempotent_hint = true),
        output_schema = super::schema::<ChannelOut>()
    )]
    pub(crate) async fn update_channel_settings(
        &self,
        Parameters(a): Parameters<UpdateChannelSettingsArgs>,
        ct: CancellationToken,
    ) -> ToolResult {
        let id = check_id("channel_id", &a.channel_id)?;
        if let Some(s) = a.slow_mode_seconds.filter(|s| *s > MAX_SLOW_MODE_SECONDS) {
            return Err(ToolError::new(format!(
                "slow_mode_seconds must be at most {MAX_SLOW_MODE_SECONDS} (got {s}). Nothing was changed."
            )));
        }
        let banned_words = a.banned_words.map(check_words).transpose()?;
        let update = UpdateChatChannel {
            who_can_post: a.who_can_post.map(|w| {
                match w {
                    WhoCanPost::Everyone => "everyone",
                    WhoCanPost::Admins => "admins",
                }
                .into()
            }),
            who_can_react: a.who_can_react.map(|w| {
                match w {
                    WhoCanReact::Everyone => "everyone",
                    WhoCanReact::NoOne => "no_one",
                }
                .into()
            }),
            user_posts_cooldown_seconds: a.slow_mode_seconds.map(i64::from),
            ban_urls: a.ban_urls,
            ban_media: a.ban_media,
            banned_words,
        };
        let unchanged = serde_json::to_value(&update)
            .ok()
            .and_then(|v| v.as_object().map(|o| o.is_empty()))
            .unwrap_or(false);
        if unchanged {
            return Err(ToolError::new(
                "nothing to change: give at least one of who_can_post, who_can_react, slow_mode_seconds, \
                 ban_urls, ban_media, banned_words.",
            ));
        }
        let channel = cancellable(&ct, async {
            self.client
                .update_chat_channel(&id, &update)
                .await
                .map_err(|e| match e.status() {
                    Some(403) => ToolError::new(format!(
                        "Whop refused to change {} (HTTP 403{}): only the community's admins may, and the API key \
                         needs the `chat:moderate` permission. Nothing was changed.",
                        render::inline(&id),
                        e.api_message()
                            .map(|m| format!(": {}", render::inline(m)))
                            .unwrap_or_default()
                    )),
                    _ => ToolError::whop(e, Effect::Write),
                })
        })
        .await?;
        let out = ChannelOut::from(&channel);
        output(&self.gate, format!("Updated: {}", out.line()), &out)
    }
}

/// Banned words: trimmed, none blank or too long, at most [`MAX_BANNED_WORDS`].
fn check_words(words: Vec<String>) -> Result<Vec<String>, ToolError> {
    if words.len() > MAX_BANNED_WORDS {
        return Err(ToolError::new(format!(
            "at most {MAX_BANNED_WORDS} banned words (got {}). Nothing was changed.",
            words.len()
        )));
    }
    words
        .iter()
        .map(|w| {
            let w = w.trim();
            if w.is_empty() || w.chars().count() > MAX_BANNED_WORD_CHARS || w.contains('\n') {
                Err(ToolError::new(format!(
                    "banned word {:?} must be 1 to {MAX_BANNED_WORD_CHARS} characters on one line. Nothing was changed.",
                    render::inline(w)
                )))
            } else {
                Ok(w.to_owned())
            }
        })
        .collect()
}
