//! The send allowlist (`WHOP_SEND_CHANNELS`): which channels `send_message` may post to.

use super::{Effect, ToolError, Toolbox, render};
use crate::whop;

impl Toolbox {
    /// Refuses a post to a channel outside `WHOP_SEND_CHANNELS`, when that is set. A channel
    /// counts as listed when either of its ids (chat `feed_…` or experience `exp_…`) is.
    pub(crate) async fn check_send_allowed(&self, channel_id: &str) -> Result<(), ToolError> {
        let Some(allowed) = &self.settings.send_channels else {
            return Ok(());
        };
        if allowed.iter().any(|a| a == channel_id) {
            return Ok(());
        }
        let cached = self
            .channel_ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(channel_id)
            .cloned();
        let ids = match cached {
            Some(ids) => ids,
            None => {
                let ids = match self.client.get_chat_channel(channel_id).await {
                    Ok(c) => std::iter::once(c.id)
                        .chain(c.experience.map(|e| e.id))
                        .collect(),
                    // Not a chat channel (a support chat, or unknown): only its own id counts.
                    Err(e) if whop::is_not_found(&e) => vec![channel_id.to_owned()],
                    Err(e) => return Err(ToolError::whop(e, Effect::Read)),
                };
                self.channel_ids
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(channel_id.to_owned(), ids.clone());
                ids
            }
        };
        if ids.iter().any(|id| allowed.contains(id)) {
            Ok(())
        } else {
            Err(ToolError::new(format!(
                "Posting to {} is not allowed: WHOP_SEND_CHANNELS permits only {}. Nothing was sent.",
                render::inline(channel_id),
                allowed.join(", ")
            )))
        }
    }
}
