//! The sandbox's in-memory data and how it is written as Whop JSON.
//!
//! These records are the sandbox's own, deliberately not the client's models: the JSON is
//! written by hand from the Whop reference, so a client that misreads the contract fails its
//! tests instead of agreeing with itself.

use std::collections::{BTreeMap, HashMap};

use base64::Engine as _;
use bytes::Bytes;
use serde_json::{Value, json};

use crate::{
    ApiError, now_ms, rfc3339,
    rules::{self, FileShape, SupportShape},
};

/// Kept here too for callers of the old path.
pub use crate::rules::KNOWN_VERSIONS;

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub name: Option<String>,
    pub username: String,
    /// Kept for `POST /dm_channels`, which accepts emails; never written out.
    pub email: String,
}

impl User {
    pub fn json(&self) -> Value {
        json!({"id": self.id, "name": self.name, "username": self.username})
    }
}

/// Who a key acts as.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The user messages are posted as.
    pub user_id: String,
    /// Account keys act for the company; user tokens for one user.
    pub is_account: bool,
    /// An app API key: acts for the company (which installed the app) but has no identity of
    /// its own (see [`crate::rules::APP_KEY_IDENTITY_STATUS`]).
    pub is_app: bool,
    /// Admins may post in admin-only channels, pin and delete any message.
    pub is_admin: bool,
    /// `None` = every permission.
    pub scopes: Option<Vec<String>>,
    /// Api-Version-Date used when a request sends none (the key's pin).
    pub pinned_version: String,
}

impl Principal {
    pub fn has(&self, scope: &str) -> bool {
        self.scopes
            .as_ref()
            .is_none_or(|s| s.iter().any(|x| x == scope))
    }
}

#[derive(Debug, Clone)]
pub struct Channel {
    pub id: String,
    pub experience_id: String,
    pub name: String,
    pub product_ids: Vec<String>,
    pub ban_media: bool,
    pub ban_urls: bool,
    pub banned_words: Vec<String>,
    pub cooldown_seconds: Option<i64>,
    pub who_can_post: &'static str,
    pub who_can_react: &'static str,
}

impl Channel {
    pub fn json(&self, can_moderate: bool) -> Value {
        json!({
            "id": self.id,
            "ban_media": self.ban_media,
            "ban_urls": self.ban_urls,
            // Whop shows banned words only to those who may moderate.
            "banned_words": if can_moderate { self.banned_words.clone() } else { Vec::new() },
            "experience": {"id": self.experience_id, "name": self.name},
            "user_posts_cooldown_seconds": self.cooldown_seconds,
            "who_can_post": self.who_can_post,
            "who_can_react": self.who_can_react,
        })
    }
}

#[derive(Debug, Clone)]
pub struct SupportChat {
    pub id: String,
    pub customer_id: String,
    pub custom_name: Option<String>,
    pub created_ms: i64,
    pub resolved_ms: Option<i64>,
}

/// A DM or group DM. Only its members see it.
#[derive(Debug, Clone)]
pub struct DmChannel {
    pub id: String,
    pub name: Option<String>,
    /// The company the channel is scoped to, if any (`GET /dm_channels?account_id=`).
    pub company_id: Option<String>,
    pub created_ms: i64,
    pub members: Vec<DmMember>,
}

#[derive(Debug, Clone)]
pub struct DmMember {
    pub id: String,
    pub user_id: String,
    /// `requested`, `accepted`, `hidden`, `closed` or `archived`.
    pub status: &'static str,
    pub last_viewed_ms: Option<i64>,
}

impl DmChannel {
    pub fn member(&self, user_id: &str) -> Option<&DmMember> {
        self.members.iter().find(|m| m.user_id == user_id)
    }

    /// PY `DmMember`: `last_viewed_at` is milliseconds since the epoch, as a string.
    pub fn member_json(&self, m: &DmMember) -> Value {
        json!({
            "id": m.id,
            "channel_id": self.id,
            "user_id": m.user_id,
            "last_viewed_at": m.last_viewed_ms.map(|t| t.to_string()),
            "notification_preference": "all",
            "status": m.status,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Message {
    pub seq: u64,
    pub id: String,
    pub channel_id: String,
    pub user_id: String,
    pub content: Option<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub is_edited: bool,
    pub is_pinned: bool,
    pub mentions: Vec<String>,
    pub mentions_everyone: bool,
    pub message_type: &'static str,
    pub poll: Option<Vec<(String, String)>>,
    pub replying_to: Option<String>,
    pub attachments: Vec<String>,
    pub view_count: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct Reaction {
    pub id: String,
    pub message_id: String,
    pub user_id: String,
    pub emoji: Option<String>,
    pub poll_option_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileStatus {
    Pending,
    Processing,
    Ready,
    Failed,
}

impl FileStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FileStatus::Pending => "pending",
            FileStatus::Processing => "processing",
            FileStatus::Ready => "ready",
            FileStatus::Failed => "failed",
        }
    }
}

/// What happens to an uploaded file while "processing".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadOutcome {
    /// Ready after this many milliseconds.
    ReadyAfterMs(i64),
    /// Processing fails.
    Fail,
    /// Processing never finishes.
    Never,
}

#[derive(Debug, Clone)]
pub struct FileRecord {
    pub id: String,
    pub owner_user_id: String,
    pub filename: String,
    pub content_type: String,
    pub visibility: String,
    pub signature: String,
    pub upload_headers: Vec<(String, String)>,
    pub bytes: Option<Bytes>,
    pub status: FileStatus,
    pub ready_at_ms: Option<i64>,
    pub created_ms: i64,
}

impl FileRecord {
    /// Moves processing on in time, the way Whop's pipeline would.
    pub fn advance(&mut self, outcome: UploadOutcome, now: i64) {
        if self.status == FileStatus::Processing {
            match outcome {
                UploadOutcome::Fail => self.status = FileStatus::Failed,
                UploadOutcome::Never => {}
                UploadOutcome::ReadyAfterMs(_) => {
                    if self.ready_at_ms.is_some_and(|t| now >= t) {
                        self.status = FileStatus::Ready;
                    }
                }
            }
        }
    }

    pub fn json(&self, version: &str, origin: &str, with_upload: bool) -> Value {
        let ready = self.status == FileStatus::Ready;
        let size = self.bytes.as_ref().filter(|_| ready).map(|b| b.len());
        let url =
            ready.then(|| format!("{origin}/_media/{}/{}", self.id, urlencode(&self.filename)));
        let upload_url = with_upload.then(|| {
            format!(
                "{origin}/_uploads/{}?X-Sandbox-Signature={}",
                self.id, self.signature
            )
        });
        let upload_headers: Option<serde_json::Map<String, Value>> = with_upload.then(|| {
            self.upload_headers
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect()
        });
        let mut v = json!({
            "id": self.id,
            "filename": self.filename,
            "content_type": ready.then_some(&self.content_type),
            "upload_status": self.status.as_str(),
            "url": url,
            "visibility": self.visibility,
        });
        let o = v.as_object_mut().expect("object");
        let shape = rules::file_shape(version);
        if shape == FileShape::SizeAsString {
            o.insert("size".into(), json!(size.map(|s| s.to_string())));
            if with_upload {
                o.insert("upload_url".into(), json!(upload_url));
                o.insert("upload_headers".into(), json!(upload_headers));
            }
        } else {
            o.insert("object".into(), json!("file"));
            o.insert("created_at".into(), json!(rfc3339(self.created_ms)));
            o.insert("size".into(), json!(size));
            o.insert("upload_url".into(), json!(upload_url));
            o.insert("upload_headers".into(), json!(upload_headers));
            o.insert("multipart_upload_id".into(), Value::Null);
            o.insert("multipart_chunk_size".into(), Value::Null);
            o.insert("multipart_upload_urls".into(), Value::Null);
        }
        if shape >= FileShape::WithModeration {
            o.insert("removed_by_moderation".into(), json!(false));
            for media in [
                "blurhash",
                "width",
                "height",
                "duration_seconds",
                "waveform_url",
            ] {
                o.insert(media.into(), Value::Null);
            }
        }
        v
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The whole fake: one company with its users, channels, support chats, messages and files.
#[derive(Debug, Default)]
pub struct State {
    pub company_id: String,
    pub company_title: String,
    pub company_route: String,
    pub users: Vec<User>,
    pub keys: HashMap<String, Principal>,
    pub channels: Vec<Channel>,
    pub support: Vec<SupportChat>,
    pub dms: Vec<DmChannel>,
    /// By message id; iteration order is irrelevant, lists sort by `seq`.
    pub messages: BTreeMap<String, Message>,
    pub reactions: Vec<Reaction>,
    pub files: HashMap<String, FileRecord>,
    pub upload_outcome: Option<UploadOutcome>,
    /// A company parameter name forced for every version (see
    /// [`crate::Sandbox::force_company_param`]).
    pub company_param_override: [Option<&'static str>; 3],
    pub next_seq: u64,
    pub next_id: u64,
    pub last_created_ms: i64,
}

impl State {
    /// The company parameter's name for a resource at a version: [`rules::company_param`],
    /// unless a test forced another.
    pub fn company_param(&self, resource: rules::Resource, version: &str) -> &'static str {
        self.company_param_override[resource as usize]
            .unwrap_or_else(|| rules::company_param(resource, version))
    }

    pub fn user(&self, id: &str) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }

    pub fn user_by_name_or_id(&self, key: &str) -> Option<&User> {
        let key = key.trim_start_matches('@');
        self.users
            .iter()
            .find(|u| u.id == key || u.username.eq_ignore_ascii_case(key))
    }

    /// A chat channel by its id or its experience's id.
    pub fn channel(&self, id: &str) -> Option<&Channel> {
        self.channels
            .iter()
            .find(|c| c.id == id || c.experience_id == id)
    }

    pub fn support_chat(&self, id: &str) -> Option<&SupportChat> {
        self.support.iter().find(|s| s.id == id)
    }

    pub fn dm(&self, id: &str) -> Option<&DmChannel> {
        self.dms.iter().find(|d| d.id == id)
    }

    /// A user by id, username (with or without `@`) or email, as `with_user_ids` takes them.
    pub fn user_by_any(&self, key: &str) -> Option<&User> {
        self.user_by_name_or_id(key).or_else(|| {
            self.users
                .iter()
                .find(|u| u.email.eq_ignore_ascii_case(key))
        })
    }

    /// Resolves any id a message list accepts to the feed id messages are stored under.
    pub fn feed_id(&self, id: &str) -> Option<String> {
        self.channel(id)
            .map(|c| c.id.clone())
            .or_else(|| self.support_chat(id).map(|s| s.id.clone()))
            .or_else(|| self.dm(id).map(|d| d.id.clone()))
    }

    /// PY `DmChannel`: `created_at` is milliseconds since the epoch, as a string.
    pub fn dm_json(&self, d: &DmChannel) -> Value {
        json!({
            "id": d.id,
            "created_at": d.created_ms.to_string(),
            "last_message_at": self.last_message_in(&d.id).map(|m| rfc3339(m.created_ms)),
            "name": d.name,
        })
    }

    /// A user as `GET /users` and `GET /users/{id}` answer: every key the PY SDK's `User`
    /// model requires at any pin in [`rules`] (1.0.14 … 2.6.0), with neutral values.
    pub fn user_profile_json(&self, u: &User, origin: &str, with_balance: bool) -> Value {
        let mut v = u.json();
        let o = v.as_object_mut().expect("object");
        let balances = if with_balance {
            json!([{"name": "US Dollar", "symbol": "USD", "balance": "0.00", "value_usd": "0.00",
                    "breakdown": {"available": "0.00", "pending": "0.00", "in_transit": "0.00",
                                  "reserve": "0.00", "pending_settlements": []}}])
        } else {
            json!([])
        };
        for (k, val) in [
            (
                "profile_picture",
                json!({"url": format!("{origin}/_media/avatars/{}.png", u.id)}),
            ),
            ("balances", balances),
            ("created_at", json!(rfc3339(USERS_CREATED_MS))),
            ("social_accounts", json!([])),
            ("social_links", json!([])),
            ("verification", json!({})),
            ("bio", Value::Null),
        ] {
            o.insert(k.into(), val);
        }
        v
    }

    /// A fresh opaque id with Whop's prefix style: `msg_` + 14 base62 characters.
    pub fn new_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}_{}", opaque(self.next_id))
    }

    /// Creation timestamps are strictly increasing, as cursors rely on order.
    pub fn next_created_ms(&mut self) -> i64 {
        let now = now_ms().max(self.last_created_ms + 1);
        self.last_created_ms = now;
        now
    }

    pub fn message_json(&self, m: &Message) -> Value {
        let user = self.user(&m.user_id).map(User::json).unwrap_or(Value::Null);
        let mut reaction_counts: Vec<(String, i64)> = Vec::new();
        let mut votes: Vec<(String, i64)> = Vec::new();
        for r in self.reactions.iter().filter(|r| r.message_id == m.id) {
            let (list, key) = match (&r.poll_option_id, &r.emoji) {
                (Some(opt), _) => (&mut votes, opt),
                (None, Some(e)) => (&mut reaction_counts, e),
                (None, None) => continue,
            };
            match list.iter_mut().find(|(k, _)| k == key) {
                Some((_, n)) => *n += 1,
                None => list.push((key.clone(), 1)),
            }
        }
        json!({
            "id": m.id,
            "content": m.content,
            "created_at": rfc3339(m.created_ms),
            "updated_at": rfc3339(m.updated_ms),
            "is_edited": m.is_edited,
            "is_pinned": m.is_pinned,
            "mentions": m.mentions,
            "mentions_everyone": m.mentions_everyone,
            "message_type": m.message_type,
            "poll": m.poll.as_ref().map(|opts| json!({
                "options": opts.iter().map(|(id, text)| json!({"id": id, "text": text})).collect::<Vec<_>>()
            })),
            "poll_votes": votes.iter().map(|(o, n)| json!({"count": n, "option_id": o})).collect::<Vec<_>>(),
            "reaction_counts": reaction_counts.iter().map(|(e, n)| json!({"count": n, "emoji": e})).collect::<Vec<_>>(),
            "replying_to_message_id": m.replying_to,
            "user": user,
            "view_count": m.view_count,
        })
    }

    pub fn last_message_in(&self, feed: &str) -> Option<&Message> {
        self.messages
            .values()
            .filter(|m| m.channel_id == feed)
            .max_by_key(|m| m.seq)
    }

    pub fn support_json(&self, s: &SupportChat, version: &str, include_last: bool) -> Value {
        let last = self.last_message_in(&s.id);
        let mut v = json!({
            "id": s.id,
            "company_id": self.company_id,
            "custom_name": s.custom_name,
            "customer_user": self.user(&s.customer_id).map(User::json),
            "last_message_at": last.map(|m| rfc3339(m.created_ms)),
            "resolved_at": s.resolved_ms.map(rfc3339),
        });
        let shape = rules::support_shape(version);
        let o = v.as_object_mut().expect("object");
        if shape >= SupportShape::WithAccount {
            o.insert("account_id".into(), json!(self.company_id));
        }
        if shape >= SupportShape::WithInbox {
            let needs_reply =
                s.resolved_ms.is_none() && last.is_some_and(|m| m.user_id == s.customer_id);
            o.insert("needs_reply".into(), json!(needs_reply));
            // Both are null for callers that are not users (PY), and an account key is not.
            o.insert("participated".into(), Value::Null);
            o.insert("unread".into(), Value::Null);
            let last_json = last.filter(|_| include_last).map(|m| {
                json!({
                    "id": m.id,
                    "content": m.content,
                    "created_at": rfc3339(m.created_ms),
                    "user_id": m.user_id,
                    "attachments": m.attachments.iter().filter_map(|f| self.files.get(f)).map(|f| json!({
                        "content_type": f.content_type, "filename": f.filename
                    })).collect::<Vec<_>>(),
                    "gifs": [],
                    "poll": m.poll.as_ref().map(|opts| json!({"options": opts.iter().map(|(id, _)| json!({"id": id})).collect::<Vec<_>>()})),
                })
            });
            o.insert("last_message".into(), json!(last_json));
        }
        v
    }
}

/// When the demo users joined (fixed, so answers are stable).
pub const USERS_CREATED_MS: i64 = 1_767_225_600_000;

/// Turns a counter into 14 base62 characters that look random but are stable per counter,
/// so seeded ids are the same on every run.
pub fn opaque(n: u64) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    // splitmix64: a bijective mix of the counter.
    let mut x = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 31;
    let mut y = x.rotate_left(17) ^ n;
    let mut out = String::with_capacity(14);
    for i in 0..14 {
        let src = if i < 10 { &mut x } else { &mut y };
        out.push(ALPHABET[(*src % 62) as usize] as char);
        *src /= 62;
    }
    out
}

/// Relay-style paging over items already in the requested order, each with a sort key.
#[derive(Debug, Default)]
pub(crate) struct PageQuery {
    pub first: Option<i64>,
    pub last: Option<i64>,
    pub after: Option<String>,
    pub before: Option<String>,
}

pub const MAX_PAGE: i64 = 100;
const DEFAULT_PAGE: i64 = 20;

fn encode_cursor(kind: &str, key: u64) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{kind}:{key}"))
}

fn decode_cursor(kind: &str, cursor: &str, param: &'static str) -> Result<u64, ApiError> {
    base64::engine::general_purpose::STANDARD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            s.strip_prefix(&format!("{kind}:"))
                .and_then(|k| k.parse().ok())
        })
        .ok_or_else(|| ApiError::invalid(param, format!("Invalid cursor for {param}.")))
}

/// `items` are `(sort key, json)` in display order; `ascending` says how keys run in it.
pub(crate) fn paginate(
    kind: &str,
    items: Vec<(u64, Value)>,
    ascending: bool,
    q: &PageQuery,
) -> Result<Value, ApiError> {
    paginate_with(kind, items, ascending, q, Value::clone)
}

/// [`paginate`] over items that become JSON only when they are on the page (a channel with
/// thousands of messages renders 20 of them, not all).
pub(crate) fn paginate_with<T>(
    kind: &str,
    items: Vec<(u64, T)>,
    ascending: bool,
    q: &PageQuery,
    render: impl Fn(&T) -> Value,
) -> Result<Value, ApiError> {
    for (name, v) in [("first", q.first), ("last", q.last)] {
        if let Some(n) = v
            && !(1..=MAX_PAGE).contains(&n)
        {
            return Err(ApiError::invalid(
                name,
                format!("{name} must be between 1 and {MAX_PAGE}."),
            ));
        }
    }
    if q.first.is_some() && q.last.is_some() {
        return Err(ApiError::invalid(
            "first",
            "Pass either first or last, not both.".into(),
        ));
    }
    let beyond = |key: u64, cursor: u64| {
        if ascending {
            key > cursor
        } else {
            key < cursor
        }
    };
    let after = q
        .after
        .as_deref()
        .map(|c| decode_cursor(kind, c, "after"))
        .transpose()?;
    let before = q
        .before
        .as_deref()
        .map(|c| decode_cursor(kind, c, "before"))
        .transpose()?;
    let window: Vec<&(u64, T)> = items
        .iter()
        .filter(|(k, _)| after.is_none_or(|c| beyond(*k, c)))
        .filter(|(k, _)| before.is_none_or(|c| beyond(c, *k)))
        .collect();
    let total = window.len();
    let (start, end) = match q.last {
        Some(n) => (total.saturating_sub(n as usize), total),
        None => (0, total.min(q.first.unwrap_or(DEFAULT_PAGE) as usize)),
    };
    let page = &window[start..end];
    // Items outside the window but on the far side of a cursor also count as neighbours.
    let has_next = end < total
        || (before.is_some()
            && items
                .iter()
                .any(|(k, _)| before.is_some_and(|c| !beyond(c, *k))));
    let has_prev = start > 0
        || (after.is_some()
            && items
                .iter()
                .any(|(k, _)| after.is_some_and(|c| !beyond(*k, c))));
    Ok(json!({
        "data": page.iter().map(|(_, v)| render(v)).collect::<Vec<_>>(),
        "page_info": {
            "end_cursor": page.last().map(|(k, _)| encode_cursor(kind, *k)),
            "start_cursor": page.first().map(|(k, _)| encode_cursor(kind, *k)),
            "has_next_page": has_next,
            "has_previous_page": has_prev,
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(n: u64) -> Vec<(u64, Value)> {
        (1..=n).map(|k| (k, json!(k))).collect()
    }

    fn page(v: &Value) -> (Vec<u64>, Option<String>, bool) {
        (
            v["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap())
                .collect(),
            v["page_info"]["end_cursor"].as_str().map(str::to_owned),
            v["page_info"]["has_next_page"].as_bool().unwrap(),
        )
    }

    #[test]
    fn forward_paging_visits_each_item_once() {
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let q = PageQuery {
                first: Some(3),
                after: after.clone(),
                ..Default::default()
            };
            let (data, end, more) = page(&paginate("t", items(10), true, &q).unwrap());
            seen.extend(data);
            if !more {
                break;
            }
            after = end;
        }
        assert_eq!(seen, (1..=10).collect::<Vec<_>>());
    }

    #[test]
    fn descending_and_backward() {
        let desc: Vec<_> = items(5).into_iter().rev().collect();
        let q = PageQuery {
            first: Some(2),
            ..Default::default()
        };
        let (data, end, more) = page(&paginate("t", desc.clone(), false, &q).unwrap());
        assert_eq!((data, more), (vec![5, 4], true));
        let q = PageQuery {
            first: Some(2),
            after: end,
            ..Default::default()
        };
        assert_eq!(
            page(&paginate("t", desc.clone(), false, &q).unwrap()).0,
            vec![3, 2]
        );
        let q = PageQuery {
            last: Some(2),
            ..Default::default()
        };
        assert_eq!(page(&paginate("t", desc, false, &q).unwrap()).0, vec![2, 1]);
    }

    #[test]
    fn limits_and_bad_cursors_are_400() {
        for q in [
            PageQuery {
                first: Some(0),
                ..Default::default()
            },
            PageQuery {
                first: Some(101),
                ..Default::default()
            },
            PageQuery {
                first: Some(1),
                last: Some(1),
                ..Default::default()
            },
            PageQuery {
                after: Some("garbage".into()),
                ..Default::default()
            },
        ] {
            assert_eq!(paginate("t", items(3), true, &q).unwrap_err().status, 400);
        }
    }

    #[test]
    fn opaque_ids_are_stable_and_distinct() {
        assert_eq!(opaque(1), opaque(1));
        let ids: std::collections::HashSet<_> = (0..10_000).map(opaque).collect();
        assert_eq!(ids.len(), 10_000);
        assert!(ids.iter().all(|i| i.len() == 14));
    }
}
