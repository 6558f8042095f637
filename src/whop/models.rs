//! The Whop objects we read, with only the fields we use.
//!
//! Unknown fields are ignored and everything Whop may omit or null is an `Option` or defaults,
//! so a new field or a null where the docs promise a value never breaks a tool.

use serde::{Deserialize, Deserializer};

/// Treats `null` like a missing key for collections and flags.
fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A page of a cursor-paginated list.
#[derive(Debug, Clone, Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
pub struct Page<T> {
    #[serde(deserialize_with = "null_default")]
    pub data: Vec<T>,
    #[serde(default, deserialize_with = "null_default")]
    pub(crate) page_info: PageInfo,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct PageInfo {
    #[serde(default)]
    pub(crate) end_cursor: Option<String>,
    #[serde(default)]
    pub(crate) has_next_page: Option<bool>,
}

impl<T> Page<T> {
    /// The cursor for the next page, or `None` on the last one. Stops on an empty page,
    /// `has_next_page: false`, a null or empty cursor, or a cursor equal to the one just used
    /// (a server that repeats itself must not make us loop).
    pub fn next_cursor(&self, used: Option<&str>) -> Option<String> {
        if self.data.is_empty() || self.page_info.has_next_page == Some(false) {
            return None;
        }
        let cursor = self
            .page_info
            .end_cursor
            .as_deref()
            .filter(|c| !c.is_empty())?;
        (Some(cursor) != used).then(|| cursor.to_owned())
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct User {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) username: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Message {
    pub id: String,
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub is_edited: bool,
    #[serde(default, deserialize_with = "null_default")]
    pub(crate) is_pinned: bool,
    #[serde(default, deserialize_with = "null_default")]
    pub(crate) mentions_everyone: bool,
    #[serde(default)]
    pub(crate) message_type: Option<String>,
    #[serde(default)]
    pub(crate) poll: Option<Poll>,
    #[serde(default, deserialize_with = "null_default")]
    pub(crate) poll_votes: Vec<PollVote>,
    #[serde(default, deserialize_with = "null_default")]
    pub reaction_counts: Vec<ReactionCount>,
    #[serde(default)]
    pub replying_to_message_id: Option<String>,
    #[serde(default)]
    pub(crate) user: Option<User>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Poll {
    #[serde(default, deserialize_with = "null_default")]
    pub(crate) options: Vec<PollOption>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PollOption {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) text: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PollVote {
    #[serde(default)]
    pub(crate) count: i64,
    #[serde(default)]
    pub(crate) option_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ReactionCount {
    #[serde(default)]
    pub(crate) count: i64,
    #[serde(default)]
    pub emoji: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ChatChannel {
    pub id: String,
    #[serde(default, deserialize_with = "null_default")]
    pub(crate) ban_media: bool,
    #[serde(default, deserialize_with = "null_default")]
    pub(crate) ban_urls: bool,
    #[serde(default, deserialize_with = "null_default")]
    pub(crate) banned_words: Vec<String>,
    #[serde(default)]
    pub(crate) experience: Option<Experience>,
    #[serde(default)]
    pub(crate) user_posts_cooldown_seconds: Option<i64>,
    #[serde(default)]
    pub(crate) who_can_post: Option<String>,
    #[serde(default)]
    pub(crate) who_can_react: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Experience {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SupportChannel {
    pub id: String,
    #[serde(default)]
    pub(crate) custom_name: Option<String>,
    #[serde(default)]
    pub(crate) customer_user: Option<User>,
    #[serde(default)]
    pub(crate) last_message_at: Option<String>,
    #[serde(default)]
    pub resolved_at: Option<String>,
    #[serde(default)]
    pub(crate) needs_reply: Option<bool>,
    #[serde(default)]
    pub(crate) last_message: Option<LastMessage>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct LastMessage {
    #[serde(default)]
    pub(crate) content: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct File {
    pub id: String,
    #[serde(default)]
    pub(crate) filename: Option<String>,
    #[serde(default)]
    pub content_type: Option<String>,
    /// Bytes. Whop sent a string in older versions and an integer since; both are accepted.
    #[serde(default, deserialize_with = "size_lenient")]
    pub size: Option<u64>,
    #[serde(default)]
    pub upload_status: Option<String>,
    #[serde(default)]
    pub(crate) url: Option<String>,
    #[serde(default)]
    pub(crate) visibility: Option<String>,
    #[serde(default)]
    pub(crate) upload_url: Option<String>,
    #[serde(default)]
    pub(crate) upload_headers: Option<serde_json::Map<String, serde_json::Value>>,
}

fn size_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        Some(serde_json::Value::Number(n)) => n.as_u64().or_else(|| n.as_f64().map(|f| f as u64)),
        Some(serde_json::Value::String(s)) => s.trim().parse::<f64>().ok().map(|f| f as u64),
        _ => None,
    })
}

#[derive(Debug, Clone, Deserialize)]
pub struct Reaction {
    pub(crate) id: String,
    #[serde(default)]
    pub emoji: Option<String>,
    /// Who reacted (list answers).
    #[serde(default)]
    pub(crate) user: Option<User>,
}

/// A DM or group DM. `created_at` is documented as epoch milliseconds in a string.
#[derive(Debug, Clone, Deserialize)]
pub struct DmChannel {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) last_message_at: Option<String>,
}

/// One member of a DM channel: `status` is `requested`, `accepted`, `hidden`, `closed` or
/// `archived`.
#[derive(Debug, Clone, Deserialize)]
pub struct DmMember {
    pub(crate) user_id: String,
    #[serde(default)]
    pub(crate) status: Option<String>,
}

/// `GET /accounts/me` (account keys) or `GET /users/me` (user tokens).
#[derive(Debug, Clone, Deserialize)]
pub struct Account {
    pub id: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_documented_message_sample() {
        let m: Message = serde_json::from_str(
            r#"{"id":"msg_3PqR8sTu1VwXyZ","content":"Which session time works?",
            "created_at":"2026-10-03T09:00:00.000Z","updated_at":"2026-10-03T09:00:00.000Z",
            "is_edited":false,"is_pinned":true,"mentions":[],"mentions_everyone":true,
            "message_type":"regular",
            "poll":{"options":[{"id":"1","text":"Morning"},{"id":"2","text":"Evening"}]},
            "poll_votes":[{"count":12,"option_id":"1"},{"count":5,"option_id":"2"}],
            "reaction_counts":[],"replying_to_message_id":null,
            "user":{"id":"user_Zx9yWv8uTs7rQ","name":null,"username":"danaw"},"view_count":null,
            "some_future_field":{"x":1}}"#,
        )
        .unwrap();
        assert!(m.is_pinned && m.mentions_everyone);
        assert_eq!(m.poll.unwrap().options.len(), 2);
        assert_eq!(m.poll_votes[0].count, 12);
        assert_eq!(m.user.unwrap().username.as_deref(), Some("danaw"));
    }

    #[test]
    fn nulls_where_lists_are_promised_do_not_break() {
        let m: Message = serde_json::from_str(
            r#"{"id":"m","content":null,"reaction_counts":null,"poll_votes":null,"is_pinned":null}"#,
        )
        .unwrap();
        assert!(m.reaction_counts.is_empty() && !m.is_pinned && m.content.is_none());
    }

    #[test]
    fn file_size_string_or_number() {
        let a: File = serde_json::from_str(r#"{"id":"f","size":"248113"}"#).unwrap();
        let b: File = serde_json::from_str(r#"{"id":"f","size":48213}"#).unwrap();
        let c: File = serde_json::from_str(r#"{"id":"f","size":null}"#).unwrap();
        assert_eq!((a.size, b.size, c.size), (Some(248113), Some(48213), None));
    }

    #[test]
    fn pagination_stop_rules() {
        let page = |json: &str| serde_json::from_str::<Page<serde_json::Value>>(json).unwrap();
        let more = page(r#"{"data":[1],"page_info":{"end_cursor":"c2","has_next_page":true}}"#);
        assert_eq!(more.next_cursor(Some("c1")).as_deref(), Some("c2"));
        assert_eq!(more.next_cursor(Some("c2")), None, "repeated cursor");
        let last = page(r#"{"data":[1],"page_info":{"end_cursor":"c2","has_next_page":false}}"#);
        assert_eq!(last.next_cursor(None), None);
        let empty = page(r#"{"data":[],"page_info":{"end_cursor":"c2","has_next_page":true}}"#);
        assert_eq!(empty.next_cursor(None), None);
        let null = page(r#"{"data":[1],"page_info":{"end_cursor":null,"has_next_page":true}}"#);
        assert_eq!(null.next_cursor(None), None);
        let blank = page(r#"{"data":[1],"page_info":{"end_cursor":"","has_next_page":true}}"#);
        assert_eq!(blank.next_cursor(None), None);
        let no_info = page(r#"{"data":[1]}"#);
        assert_eq!(no_info.next_cursor(None), None);
    }
}
