//! Whop's behaviour as the sandbox plays it, in one place: the versions it accepts, what
//! changes with the `Api-Version-Date` per resource, and every choice Whop does not document.
//!
//! Written from Whop's official SDKs and docs (see `whop-api/README.md`), never from this
//! project's client, so the two cannot share a mistake. Each row names its source:
//!
//! * PY x.y.z = PyPI `whop-sdk` x.y.z, whose `Whop(api_version_date=…)` default is the pin
//!   shown, with the request parameters and required response fields of that version;
//! * TS = npm `@whop/sdk` 0.0.42 (pin 2026-07-20);
//! * RUST = `whopio/whopsdk-rust`, which pins a version per endpoint;
//! * DOCS = docs.whop.com.
//!
//! A version between two rows takes the rule of the row at or before it (Whop's changes apply
//! from their version on); a version before the first row takes the first row's rule.

/// The newest version the sandbox knows; keys it creates are pinned to it (PY 2.6.0's pin).
pub const LATEST_VERSION: &str = "2026-10-15-1";

/// Every `Api-Version-Date` the sandbox accepts (the `ApiKeyApiVersionDate` enum of PY 2.6.0);
/// any other value is a 400, as DOCS say.
pub const KNOWN_VERSIONS: &[&str] = &[
    "2025-01-01",
    "2026-06-08",
    "2026-06-09",
    "2026-06-20",
    "2026-07-01",
    "2026-07-08",
    "2026-07-08-1",
    "2026-07-18",
    "2026-07-20",
    "2026-07-22",
    "2026-07-23",
    "2026-07-25",
    "2026-07-26",
    "2026-07-27",
    "2026-07-29",
    "2026-07-29-1",
    "2026-07-31",
    "2026-08-03",
    "2026-08-05",
    "2026-08-05-1",
    "2026-08-10",
    "2026-08-12",
    "2026-08-13",
    "2026-08-14",
    "2026-08-21",
    "2026-08-21-1",
    "2026-08-25",
    "2026-08-25-1",
    "2026-08-25-2",
    "2026-08-31",
    "2026-09-02",
    "2026-09-02-1",
    "2026-09-02-2",
    "2026-09-04",
    "2026-09-06",
    "2026-09-09",
    "2026-09-09-1",
    "2026-09-11",
    "2026-09-11-1",
    "2026-09-13",
    "2026-09-15",
    "2026-09-22",
    "2026-09-22-1",
    "2026-09-22-2",
    "2026-09-22-3",
    "2026-09-22-4",
    "2026-09-23",
    "2026-09-24",
    "2026-09-24-1",
    "2026-09-25",
    "2026-09-28",
    "2026-09-29",
    "2026-10-05",
    "2026-10-05-1",
    "2026-10-06",
    "2026-10-06-1",
    "2026-10-06-2",
    "2026-10-07",
    "2026-10-07-1",
    "2026-10-07-2",
    "2026-10-08",
    "2026-10-09",
    "2026-10-09-1",
    "2026-10-09-2",
    "2026-10-13",
    "2026-10-13-1",
    "2026-10-14",
    "2026-10-14-1",
    "2026-10-15",
    "2026-10-15-1",
];

/// Something that changes with the version, as rows `(first version, value, source)`.
type Rows<T> = &'static [(&'static str, T, &'static str)];

/// The value of `rows` in force at `version`.
fn at<T: Copy>(rows: Rows<T>, version: &str) -> T {
    let key = sort_key(version);
    rows.iter()
        .rev()
        .find(|(from, _, _)| sort_key(from) <= key)
        .unwrap_or(&rows[0])
        .1
}

/// `2026-09-02-2` → `(2026, 9, 2, 2)`; a plain date has revision 0. Plain string order would
/// also work today, but this does not depend on zero-padding.
fn sort_key(version: &str) -> (u32, u32, u32, u32) {
    let mut parts = version.split('-').map(|p| p.parse::<u32>().unwrap_or(0));
    let mut next = || parts.next().unwrap_or(0);
    (next(), next(), next(), next())
}

/// The name of the company filter/field of a resource.
const COMPANY_ID: &str = "company_id";
const ACCOUNT_ID: &str = "account_id";

/// `GET /chat_channels` (required query parameter).
const CHAT_CHANNELS_COMPANY: Rows<&str> = &[
    ("2026-07-08-1", COMPANY_ID, "PY 0.0.41"),
    ("2026-07-20", COMPANY_ID, "TS 0.0.42"),
    ("2026-08-21", COMPANY_ID, "PY 1.0.11-1.0.13"),
    ("2026-08-21-1", COMPANY_ID, "PY 1.0.14; RUST chat_channels"),
    ("2026-08-25-1", COMPANY_ID, "RUST chat_channels"),
    ("2026-09-02-1", COMPANY_ID, "PY 1.1.0"),
    ("2026-09-02-2", ACCOUNT_ID, "PY 1.1.1"),
    ("2026-09-15", ACCOUNT_ID, "PY 1.1.5"),
    ("2026-09-23", ACCOUNT_ID, "PY 2.0.0"),
    ("2026-10-15-1", ACCOUNT_ID, "PY 2.6.0"),
];

/// `GET /support_channels` (optional filter) and `POST /support_channels` (required field).
const SUPPORT_CHANNELS_COMPANY: Rows<&str> = &[
    ("2026-07-08-1", COMPANY_ID, "PY 0.0.41"),
    ("2026-07-20", COMPANY_ID, "TS 0.0.42"),
    ("2026-08-21-1", COMPANY_ID, "PY 1.0.14"),
    (
        "2026-08-25-2",
        COMPANY_ID,
        "RUST support_channels list and create",
    ),
    ("2026-09-02-1", COMPANY_ID, "PY 1.1.0"),
    ("2026-09-02-2", ACCOUNT_ID, "PY 1.1.1"),
    ("2026-09-15", ACCOUNT_ID, "PY 1.1.5"),
    ("2026-10-15-1", ACCOUNT_ID, "PY 2.6.0"),
];

/// `GET /dm_channels` (optional filter) and `POST /dm_channels` (optional field).
const DM_CHANNELS_COMPANY: Rows<&str> = &[
    ("2026-08-21", COMPANY_ID, "PY 1.0.11"),
    ("2026-08-21-1", COMPANY_ID, "PY 1.0.14"),
    ("2026-09-02-1", COMPANY_ID, "PY 1.1.0"),
    ("2026-09-02-2", ACCOUNT_ID, "PY 1.1.1"),
    ("2026-09-15", ACCOUNT_ID, "PY 1.1.5"),
    ("2026-09-23", ACCOUNT_ID, "PY 2.0.0"),
    ("2026-10-15-1", ACCOUNT_ID, "PY 2.6.0"),
];

/// What the company parameter is called for this resource at this version.
pub fn company_param(resource: Resource, version: &str) -> &'static str {
    match resource {
        Resource::ChatChannels => at(CHAT_CHANNELS_COMPANY, version),
        Resource::SupportChannels => at(SUPPORT_CHANNELS_COMPANY, version),
        Resource::DmChannels => at(DM_CHANNELS_COMPANY, version),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    ChatChannels,
    SupportChannels,
    DmChannels,
}

/// The shape of a File object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FileShape {
    /// `size` is a string; no `object`, `created_at`; upload fields only on create.
    SizeAsString,
    /// `object: "file"`, `created_at`, integer `size`, upload fields always present.
    Typed,
    /// As `Typed`, plus the required `removed_by_moderation`.
    WithModeration,
}

const FILE_SHAPE: Rows<FileShape> = &[
    (
        "2026-07-08-1",
        FileShape::SizeAsString,
        "PY 0.0.41 (size: str)",
    ),
    (
        "2026-07-20",
        FileShape::SizeAsString,
        "TS 0.0.42 (size: string)",
    ),
    (
        "2026-08-21",
        FileShape::Typed,
        "PY 1.0.11 (object, created_at required; size: int)",
    ),
    ("2026-10-09-2", FileShape::Typed, "PY 2.4.0"),
    (
        "2026-10-13-1",
        FileShape::WithModeration,
        "PY 2.5.0 (removed_by_moderation required)",
    ),
    ("2026-10-15-1", FileShape::WithModeration, "PY 2.6.0"),
];

pub fn file_shape(version: &str) -> FileShape {
    at(FILE_SHAPE, version)
}

/// Which optional fields a SupportChannel carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SupportShape {
    /// `company_id` only.
    Company,
    /// Adds `account_id` (PY gives both the same description).
    WithAccount,
    /// Adds `last_message`, `needs_reply`, `participated`, `unread`.
    WithInbox,
}

const SUPPORT_SHAPE: Rows<SupportShape> = &[
    ("2026-07-20", SupportShape::Company, "TS 0.0.42"),
    ("2026-09-15", SupportShape::Company, "PY 1.1.5"),
    (
        "2026-09-23",
        SupportShape::WithAccount,
        "PY 2.0.0 (account_id)",
    ),
    ("2026-10-09-2", SupportShape::WithAccount, "PY 2.4.0"),
    (
        "2026-10-13-1",
        SupportShape::WithInbox,
        "PY 2.5.0 (last_message, needs_reply, …)",
    ),
];

pub fn support_shape(version: &str) -> SupportShape {
    at(SUPPORT_SHAPE, version)
}

// ---------------------------------------------------------------------------------------------
// Documented behaviour the routes implement (cited where it is used).

/// DOCS: a DM has at most 50 members.
pub const DM_MAX_MEMBERS: usize = 50;

/// DOCS "Idempotent requests": a POST's answer is kept for 24 hours per caller and key.
pub const IDEMPOTENCY_TTL_MS: i64 = 24 * 60 * 60 * 1000;
/// DOCS: keys are any string up to 255 bytes.
pub const IDEMPOTENCY_KEY_MAX: usize = 255;

/// DOCS / PY: `reaction_counts[].emoji` and `Reaction.emoji` are shortcodes (`:heart:`), and
/// `POST /reactions` accepts a shortcode or a unicode emoji. The unicode emoji the sandbox
/// turns into shortcodes (GitHub/Slack names); others are kept as sent, see ASSUMPTIONS.
pub const EMOJI_SHORTCODES: &[(&str, &str)] = &[
    ("❤️", ":heart:"),
    ("❤", ":heart:"),
    ("🔥", ":fire:"),
    ("👍", ":+1:"),
    ("👎", ":-1:"),
    ("😂", ":joy:"),
    ("🎉", ":tada:"),
    ("👋", ":wave:"),
    ("🙏", ":pray:"),
    ("👀", ":eyes:"),
    ("🚀", ":rocket:"),
    ("💯", ":100:"),
    ("✅", ":white_check_mark:"),
    ("😄", ":smile:"),
    ("😮", ":open_mouth:"),
    ("😢", ":cry:"),
    ("🙌", ":raised_hands:"),
    ("📈", ":chart_with_upwards_trend:"),
    ("👏", ":clap:"),
    ("🤔", ":thinking:"),
];

/// The shortcode Whop reports for an emoji as a client sent it.
pub fn shortcode(emoji: &str) -> String {
    let e = emoji.trim();
    if e.len() > 2 && e.starts_with(':') && e.ends_with(':') {
        return e.to_owned();
    }
    EMOJI_SHORTCODES
        .iter()
        .find(|(u, _)| *u == e || u.trim_end_matches('\u{FE0F}') == e.trim_end_matches('\u{FE0F}'))
        .map(|(_, code)| (*code).to_owned())
        .unwrap_or_else(|| e.to_owned())
}

// ---------------------------------------------------------------------------------------------
// Assumptions: what the sandbox does where Whop documents nothing. Each is used by name in the
// routes, so changing one here changes the sandbox.

/// Posting again before `user_posts_cooldown_seconds` has passed: the status Whop answers is
/// not documented. The sandbox answers 429 `rate_limit_error` with `Retry-After`.
pub const SLOW_MODE_STATUS: u16 = 429;
/// A member's message containing one of `banned_words`: the answer is not documented. The
/// sandbox refuses it with 400 `invalid_request_error`, `param: "content"`.
pub const BANNED_WORD_STATUS: u16 = 400;
/// `ban_urls` and `ban_media`: likewise undocumented; 400 with `param` `content`/`attachments`.
pub const BANNED_LINK_OR_MEDIA_STATUS: u16 = 400;
/// `GET /messages` without `direction`: the default order is undocumented; the sandbox lists
/// oldest first, so a client relying on a default notices.
pub const MESSAGES_DEFAULT_ASCENDING: bool = true;
/// Query parameters the endpoint does not know (including the company filter under the other
/// version's name on `GET /support_channels`) are ignored, not refused, as Rails-style APIs do;
/// not documented.
pub const UNKNOWN_QUERY_PARAMS_IGNORED: bool = true;
/// Whether 5xx answers are kept for replay: DOCS only speak of successes and 4xx, so the
/// sandbox forgets the key after a 5xx and a retry runs the request again.
pub const IDEMPOTENCY_STORES_5XX: bool = false;
/// Emoji outside [`EMOJI_SHORTCODES`] are reported as sent (Whop's full shortcode table is
/// not public).
pub const UNKNOWN_EMOJI_KEPT_AS_SENT: bool = true;
/// App API keys "fit neither" identity endpoint (shared README, audit corrections): what they
/// answer is not documented. The sandbox refuses both with this status.
pub const APP_KEY_IDENTITY_STATUS: u16 = 403;

/// `POST /dm_channels` makes the caller an `accepted` member and everyone else `requested`
/// (a message request they have not accepted); the status values are PY's, who gets which
/// is not documented.
pub const NEW_DM_OTHERS_REQUESTED: bool = true;
/// `PATCH /chat_channels/{id}` by a key without admin rights in the community: 403 (DOCS only
/// say account API keys may update community channels).
pub const CHANNEL_UPDATE_NEEDS_ADMIN: bool = true;

// Webhooks (shared README §6), where Whop documents the shape but not every value:
// - the envelope carries both `company_id` (TS) and `account_id` (PY), the company's `biz_…`,
//   and `api_version_date: null` (an endpoint created without a pin);
// - `data.audience` is `{type: "channel", user_ids: null}` for a chat channel and
//   `{type: "users", user_ids: [...]}` for a DM (its members) or a support chat (its customer):
//   Whop documents the types, not who is listed;
// - signing uses the literal bytes of a `ws_…` secret (PY `verify_webhook` note), the base64
//   after the prefix of a `whsec_…` one (the standard).

/// `data.reason` of `chat.message.created` is documented by one example only,
/// `"channel_message"`; the sandbox sends it for every channel kind (chat, DM, support).
pub const WEBHOOK_MESSAGE_REASON: &str = "channel_message";
/// Webhooks: Whop's retry schedule is not documented; the sandbox tries four times within
/// about 4 s (same `webhook-id`, a fresh timestamp and signature each time) until a 2xx.
pub const WEBHOOK_ATTEMPTS: u32 = 4;

/// The assumptions above, for documentation and for tests that list them.
pub const ASSUMPTIONS: &[&str] = &[
    "slow mode (user_posts_cooldown_seconds) answers 429 rate_limit_error with Retry-After",
    "a banned word in a member's message answers 400 invalid_request_error, param content",
    "ban_urls / ban_media answer 400 invalid_request_error, param content / attachments",
    "GET /messages without direction lists oldest first",
    "unknown query parameters are ignored (so a wrong company filter name on GET /support_channels drops the filter)",
    "5xx answers are not kept for idempotent replay",
    "emoji without a known shortcode are reported as sent",
    "an app API key gets 403 from GET /accounts/me and GET /users/me",
    "a new DM makes the caller an accepted member and the others requested",
    "user search ranks exact username, then prefix, then substring matches",
    "channel settings updates by non-admins answer 403",
    "webhook data.reason is \"channel_message\" for every channel kind",
    "webhook envelopes carry both company_id and account_id, and api_version_date null",
    "webhook audience: channel for chat channels, users (members / customer) for DMs and support chats",
    "webhooks are signed with the literal bytes of a ws_ secret (PY verify_webhook note), the base64 of a whsec_ one",
    "webhooks are tried 4 times within about 4 s, same webhook-id, fresh timestamp and signature",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn company_param_per_resource_and_pin() {
        use Resource::*;
        for (resource, version, name) in [
            (ChatChannels, "2026-07-20", "company_id"),
            (ChatChannels, "2026-08-21-1", "company_id"),
            (ChatChannels, "2026-08-25-1", "company_id"),
            (ChatChannels, "2026-09-02-1", "company_id"),
            (ChatChannels, "2026-09-02-2", "account_id"),
            (ChatChannels, "2026-10-15-1", "account_id"),
            (ChatChannels, "2025-01-01", "company_id"),
            (SupportChannels, "2026-08-25-2", "company_id"),
            (SupportChannels, "2026-09-02-2", "account_id"),
            (SupportChannels, "2026-09-09-1", "account_id"),
        ] {
            assert_eq!(
                company_param(resource, version),
                name,
                "{resource:?} {version}"
            );
        }
    }

    #[test]
    fn every_row_is_a_known_version_in_order() {
        fn check<T>(rows: Rows<T>) {
            for w in rows.windows(2) {
                assert!(sort_key(w[0].0) < sort_key(w[1].0), "{} {}", w[0].0, w[1].0);
            }
            for (v, _, _) in rows {
                assert!(KNOWN_VERSIONS.contains(v), "{v}");
            }
        }
        check(CHAT_CHANNELS_COMPANY);
        check(SUPPORT_CHANNELS_COMPANY);
        check(DM_CHANNELS_COMPANY);
        check(FILE_SHAPE);
        check(SUPPORT_SHAPE);
        assert!(KNOWN_VERSIONS.contains(&LATEST_VERSION));
    }

    #[test]
    fn shapes_follow_the_version() {
        assert_eq!(file_shape("2026-07-20"), FileShape::SizeAsString);
        assert_eq!(file_shape("2026-08-21-1"), FileShape::Typed);
        assert_eq!(file_shape("2026-10-15-1"), FileShape::WithModeration);
        assert_eq!(support_shape("2026-09-02-2"), SupportShape::Company);
        assert_eq!(support_shape("2026-10-15-1"), SupportShape::WithInbox);
    }

    #[test]
    fn emoji_become_shortcodes() {
        assert_eq!(shortcode("🎉"), ":tada:");
        assert_eq!(shortcode("❤️"), ":heart:");
        assert_eq!(shortcode("❤"), ":heart:");
        assert_eq!(shortcode(":fire:"), ":fire:");
        assert_eq!(shortcode("🦀"), "🦀");
    }
}
