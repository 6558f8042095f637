//! DM channels, people and reactions as tools return them.

use std::collections::HashMap;

use rmcp::schemars::JsonSchema;
use serde::Serialize;

use super::{Rows, messages::UserOut, one_row_each, text};
use crate::whop::models::{DmChannel, DmMember, Reaction, User};

// One member of a DM and their status: `requested` (has not accepted the conversation yet),
// `accepted`, `hidden`, `closed` or `archived`.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct DmMemberOut {
    pub(crate) user: UserOut,
    pub(crate) status: String,
}

// A DM (two members) or group DM.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct DmChannelOut {
    pub(crate) id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
    pub(crate) members: Vec<DmMemberOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) last_message_at: Option<String>,
    // Some member has not accepted the conversation yet (a message request).
    pub(crate) pending: bool,
}

impl DmChannelOut {
    /// `members` as Whop listed them; `users` names them where known.
    pub(crate) fn from(d: &DmChannel, members: &[DmMember], users: &HashMap<String, User>) -> Self {
        let members: Vec<DmMemberOut> = members
            .iter()
            .map(|m| DmMemberOut {
                user: match users.get(&m.user_id) {
                    Some(u) => UserOut::from(u),
                    None => UserOut {
                        id: m.user_id.clone(),
                        username: None,
                        name: None,
                    },
                },
                status: m
                    .status
                    .as_deref()
                    .map(text::inline)
                    .unwrap_or_else(|| "unknown".into()),
            })
            .collect();
        DmChannelOut {
            id: d.id.clone(),
            name: d.name.as_deref().map(text::inline),
            pending: members.iter().any(|m| m.status == "requested"),
            members,
            last_message_at: d.last_message_at.clone(),
        }
    }

    /// `feed_… "Project Alpha" · @danaw (Dana Whitfield) accepted, @priyan requested · last
    /// 2026-11-25 08:50 · request pending`
    pub(crate) fn line(&self) -> String {
        let mut s = self.id.clone();
        if let Some(n) = &self.name {
            s.push(' ');
            s.push_str(&text::quoted(n));
        }
        s.push_str(" · ");
        let members: Vec<String> = self
            .members
            .iter()
            .map(|m| format!("{} {}", person(&m.user), m.status))
            .collect();
        s.push_str(&members.join(", "));
        match &self.last_message_at {
            Some(t) => {
                s.push_str(" · last ");
                s.push_str(&text::short_time(t));
            }
            None => s.push_str(" · no messages"),
        }
        if self.pending {
            s.push_str(" · request pending");
        }
        s
    }
}

/// `@danaw (Dana Whitfield)`, or the id when the username is unknown.
pub(crate) fn person(u: &UserOut) -> String {
    let mut s = match &u.username {
        Some(name) => format!("@{name}"),
        None => u.id.clone(),
    };
    if let Some(n) = &u.name {
        s.push_str(&format!(" ({n})"));
    }
    s
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct DmChannelsPage {
    pub(crate) dm_channels: Vec<DmChannelOut>,
    // Left out when there is no more.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) next_cursor: Option<String>,
}

impl Rows for DmChannelOut {
    fn rows(items: &[Self]) -> (Vec<String>, Vec<usize>) {
        one_row_each(items, DmChannelOut::line)
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct UsersPage {
    pub(crate) users: Vec<UserOut>,
}

impl Rows for UserOut {
    fn rows(items: &[Self]) -> (Vec<String>, Vec<usize>) {
        one_row_each(items, |u| format!("{} {}", person(u), u.id))
    }
}

// One reaction: an emoji, or (`vote: true`) a vote in the message's poll.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ReactionEntryOut {
    pub(crate) id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) user: Option<UserOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) emoji: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) vote: bool,
}

impl ReactionEntryOut {
    pub(crate) fn from(r: &Reaction) -> Self {
        // Reactions are chosen by other members: anything that is not an emoji is shown as `?`.
        let emoji = r.emoji.as_deref().map(|e| {
            Some(text::clean(e))
                .filter(|e| text::is_emoji(e))
                .unwrap_or_else(|| "?".into())
        });
        ReactionEntryOut {
            id: r.id.clone(),
            user: r.user.as_ref().map(UserOut::from),
            vote: emoji.is_none(),
            emoji,
        }
    }

    /// `@danaw (Dana Whitfield) :fire:` or `@priyan voted in the poll`.
    pub(crate) fn line(&self) -> String {
        let who = self
            .user
            .as_ref()
            .map(person)
            .unwrap_or_else(|| "someone".into());
        match &self.emoji {
            Some(e) => format!("{who} {e}"),
            None => format!("{who} voted in the poll"),
        }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ReactionsPage {
    pub(crate) reactions: Vec<ReactionEntryOut>,
    // Left out when there is no more.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) next_cursor: Option<String>,
}

impl Rows for ReactionEntryOut {
    fn rows(items: &[Self]) -> (Vec<String>, Vec<usize>) {
        one_row_each(items, ReactionEntryOut::line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dm_rows_show_members_with_their_status() {
        let d: DmChannel = serde_json::from_str(
            r#"{"id":"feed_9OlP","created_at":"1759500000000","last_message_at":"2026-10-03T11:42:00.000Z","name":"Project \"Alpha\""}"#,
        )
        .unwrap();
        let members: Vec<DmMember> = serde_json::from_str(
            r#"[{"id":"m1","channel_id":"feed_9OlP","user_id":"user_D","status":"accepted"},
                {"id":"m2","channel_id":"feed_9OlP","user_id":"user_P","status":"requested"}]"#,
        )
        .unwrap();
        let users = HashMap::from([(
            "user_D".to_owned(),
            serde_json::from_str::<User>(r#"{"id":"user_D","name":"Dana\nW","username":"danaw"}"#)
                .unwrap(),
        )]);
        let out = DmChannelOut::from(&d, &members, &users);
        assert_eq!(
            out.line(),
            r#"feed_9OlP "Project \"Alpha\"" · @danaw (Dana ⏎ W) accepted, user_P requested · last 2026-10-03 11:42 · request pending"#
        );
    }

    #[test]
    fn votes_and_odd_emoji() {
        let r: Reaction = serde_json::from_str(
            r#"{"id":"reac_1","emoji":null,"resource_id":"m","user":{"id":"u","name":null,"username":"priyan"}}"#,
        )
        .unwrap();
        assert_eq!(
            ReactionEntryOut::from(&r).line(),
            "@priyan voted in the poll"
        );
        let r: Reaction = serde_json::from_str(
            r#"{"id":"reac_2","emoji":"｝：ＳＹＳＴＥＭ","resource_id":"m","user":{"id":"u","username":"x"}}"#,
        )
        .unwrap();
        assert_eq!(ReactionEntryOut::from(&r).line(), "@x ?");
    }
}
