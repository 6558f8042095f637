//! Reaction tools: `add_reaction` (also votes in polls), `remove_reaction`, `list_reactions`.

use rmcp::{handler::server::wrapper::Parameters, schemars::JsonSchema, tool, tool_router};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::Toolbox;
use super::{Effect, ToolError, ToolResult, call_whop, check_id, check_limit, output, render};
use crate::output::{
    Resume, footer, paginate,
    people::{ReactionEntryOut, ReactionsPage},
    plural,
};

#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct ListReactionsArgs {
    /// msg_… id.
    pub(crate) message_id: String,
    /// Default 20.
    #[schemars(range(min = 1, max = 100))]
    pub(crate) limit: Option<u32>,
    /// Previous next_cursor.
    pub(crate) cursor: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct AddReactionArgs {
    /// msg_… id.
    pub(crate) message_id: String,
    /// Like :fire: or 🔥.
    pub(crate) emoji: Option<String>,
    /// Poll option to vote for.
    pub(crate) poll_option_id: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct RemoveReactionArgs {
    /// msg_… id.
    pub(crate) message_id: String,
    /// The emoji, as added.
    pub(crate) emoji: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ReactionResult {
    pub(crate) message_id: String,
    pub(crate) emoji: String,
    // Whether a reaction was removed.
    pub(crate) done: bool,
}

// What add_reaction did: an emoji reaction, or a vote (`poll_option_id`) in the message's poll.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct AddedReaction {
    pub(crate) message_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) emoji: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) poll_option_id: Option<String>,
    pub(crate) done: bool,
}

/// Accepts `:shortcode:` or a real emoji (with its joiners, selectors, skin tone, flag or
/// keycap parts); refuses words, spaces, markup and look-alike symbols.
pub(crate) fn check_emoji(raw: &str) -> Result<String, ToolError> {
    let e = raw.trim();
    if render::is_emoji(e) {
        Ok(e.to_owned())
    } else {
        Err(ToolError::new(format!(
            "emoji {:?} is not an emoji: use a shortcode like :fire: or a unicode emoji like 🔥.",
            render::inline(&e.chars().take(40).collect::<String>())
        )))
    }
}

#[tool_router(router = reaction_router, vis = "pub(crate)")]
impl Toolbox {
    /// React with an emoji, or vote in the message's poll.
    #[tool(
        title = "React or vote",
        annotations(destructive_hint = false, idempotent_hint = true),
        output_schema = super::schema::<AddedReaction>()
    )]
    pub(crate) async fn add_reaction(
        &self,
        Parameters(a): Parameters<AddReactionArgs>,
        ct: CancellationToken,
    ) -> ToolResult {
        let message_id = check_id("message_id", &a.message_id)?;
        let emoji = a.emoji.as_deref().map(check_emoji).transpose()?;
        let option = a
            .poll_option_id
            .as_deref()
            .map(|o| check_id("poll_option_id", o))
            .transpose()?;
        if emoji.is_none() && option.is_none() {
            return Err(ToolError::new(
                "give emoji (e.g. :fire:) or poll_option_id (to vote).",
            ));
        }
        let reaction = call_whop(
            &ct,
            Effect::Write,
            self.client
                .create_reaction(&message_id, emoji.as_deref(), option.as_deref()),
        )
        .await?;
        let out = AddedReaction {
            emoji: match &option {
                Some(_) => reaction.emoji,
                None => reaction.emoji.or(emoji),
            },
            poll_option_id: option,
            message_id,
            done: true,
        };
        let text = match (&out.poll_option_id, &out.emoji) {
            (Some(o), _) => format!("Voted for option {o} in the poll on {}.", out.message_id),
            (None, Some(e)) => format!("Reacted {e} to {}.", out.message_id),
            (None, None) => format!("Reacted to {}.", out.message_id),
        };
        output(&self.gate, text, &out)
    }

    /// Who reacted to a message with which emoji, and who voted in its poll; newest first.
    #[tool(
        title = "Who reacted",
        annotations(read_only_hint = true),
        output_schema = super::schema::<ReactionsPage>()
    )]
    pub(crate) async fn list_reactions(
        &self,
        Parameters(a): Parameters<ListReactionsArgs>,
        ct: CancellationToken,
    ) -> ToolResult {
        let message_id = check_id("message_id", &a.message_id)?;
        let limit = check_limit(a.limit)?;
        let resume = Resume::parse(a.cursor.as_deref())?;
        let page = call_whop(
            &ct,
            Effect::Read,
            self.client
                .list_reactions(&message_id, resume.fetch(limit), resume.after.as_deref()),
        )
        .await?;
        let listing = paginate(&resume, page, |r| ReactionEntryOut::from(&r));
        let shown = listing.items.len();
        let mut text = format!(
            "{shown} reaction{} on {message_id}, newest first. Whop does not say which option a vote              was for; get_message shows the poll's counts.\n{}",
            plural(shown),
            listing.body
        );
        text.push_str(&footer(listing.next_cursor.as_deref(), "end of list"));
        output(
            &self.gate,
            text,
            &ReactionsPage {
                reactions: listing.items,
                next_cursor: listing.next_cursor,
            },
        )
    }

    /// Take back your emoji reaction from a message.
    #[tool(
        title = "Remove reaction",
        annotations(destructive_hint = false, idempotent_hint = true),
        output_schema = super::schema::<ReactionResult>()
    )]
    pub(crate) async fn remove_reaction(
        &self,
        Parameters(a): Parameters<RemoveReactionArgs>,
        ct: CancellationToken,
    ) -> ToolResult {
        let message_id = check_id("message_id", &a.message_id)?;
        let emoji = check_emoji(&a.emoji)?;
        let removed = call_whop(
            &ct,
            Effect::Write,
            self.client.delete_reaction(&message_id, Some(&emoji)),
        )
        .await?;
        let text = if removed {
            format!("Removed {emoji} from {message_id}.")
        } else {
            format!("There was no {emoji} reaction of yours on {message_id}; nothing changed.")
        };
        output(
            &self.gate,
            text,
            &ReactionResult {
                message_id,
                emoji,
                done: removed,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::check_emoji;

    #[test]
    fn emoji_forms() {
        for ok in [":fire:", ":+1:", ":thumbs_up:", "🔥", "👍🏽", "👨‍👩‍👧", "❤️"]
        {
            assert!(check_emoji(ok).is_ok(), "{ok}");
        }
        for bad in ["fire", ":fire", "::", "<b>", "🔥 🔥", ":a b:", "", "ok👍"] {
            assert!(check_emoji(bad).is_err(), "{bad}");
        }
    }
}
