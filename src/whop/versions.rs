//! What changes with the `Api-Version-Date` in the requests we send: the company parameter's
//! name per resource, and which optional parameters exist (`include_balance` on `users/me`,
//! `include_last_message` on the support list).
//!
//! Whop renamed `company_id` to `account_id` resource by resource. The known pins below come
//! from Whop's SDKs: PyPI `whop-sdk` (each release pins one version by default and sends the
//! names of that version: 0.0.41, 1.0.11 … 2.6.0), npm `@whop/sdk` 0.0.42 and
//! `whopio/whopsdk-rust` (which pins a version per endpoint), as summarised in the shared
//! `whop-api/README.md`. For a version that is not in the table, the rule of the nearest known
//! pin applies; should Whop still answer 400 naming the company parameter, the client retries
//! once with the other name and remembers it (see `Client::send_naming_company`).

use chrono::NaiveDate;

/// Resources whose requests name the company.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompanyResource {
    /// `GET /chat_channels` (required query parameter).
    ChatChannels,
    /// `GET /support_channels` (optional filter) and `POST /support_channels` (required field).
    SupportChannels,
    /// `GET /dm_channels` (optional filter) and `POST /dm_channels` (optional field).
    DmChannels,
}

impl CompanyResource {
    pub const ALL: [CompanyResource; 3] = [
        CompanyResource::ChatChannels,
        CompanyResource::SupportChannels,
        CompanyResource::DmChannels,
    ];

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

pub const COMPANY_ID: &str = "company_id";
pub const ACCOUNT_ID: &str = "account_id";

/// The other of the two names.
pub(crate) fn other_name(name: &str) -> &'static str {
    if name == COMPANY_ID {
        ACCOUNT_ID
    } else {
        COMPANY_ID
    }
}

/// `(pin, value, where it is seen)`, in version order.
type Pins<T = &'static str> = &'static [(&'static str, T, &'static str)];

/// The value of the known pin nearest in time to `api_version` (on a tie, the earlier one).
fn nearest<'a, T: Copy + 'a>(
    pins: impl IntoIterator<Item = &'a (&'static str, T, &'static str)>,
    api_version: &str,
) -> T {
    let at = ordinal(api_version);
    pins.into_iter()
        .min_by_key(|(v, _, _)| (ordinal(v) - at).abs() * 2 + i64::from(ordinal(v) > at))
        .map(|(_, value, _)| *value)
        .expect("tables are not empty")
}

/// The official SDKs that pin one version for every endpoint (whop-sdk, @whop/sdk). Chat,
/// support and DM channels switch together at 2026-09-02-2: whop-sdk 1.1.0 (pin 2026-09-02-1) sends
/// `company_id`, 1.1.1 (pin 2026-09-02-2) `account_id`.
const SDK_PINS: Pins = &[
    ("2026-07-08-1", COMPANY_ID, "whop-sdk 0.0.41"),
    ("2026-07-20", COMPANY_ID, "@whop/sdk 0.0.42"),
    ("2026-08-21", COMPANY_ID, "whop-sdk 1.0.11"),
    ("2026-08-21-1", COMPANY_ID, "whop-sdk 1.0.14"),
    ("2026-09-02-1", COMPANY_ID, "whop-sdk 1.1.0"),
    ("2026-09-02-2", ACCOUNT_ID, "whop-sdk 1.1.1"),
    ("2026-09-15", ACCOUNT_ID, "whop-sdk 1.1.5"),
    ("2026-09-23", ACCOUNT_ID, "whop-sdk 2.0.0"),
    ("2026-09-29", ACCOUNT_ID, "whop-sdk 2.1.0, 2.2.0"),
    ("2026-10-08", ACCOUNT_ID, "whop-sdk 2.3.0"),
    ("2026-10-09-2", ACCOUNT_ID, "whop-sdk 2.4.0"),
    ("2026-10-13-1", ACCOUNT_ID, "whop-sdk 2.5.0"),
    ("2026-10-15-1", ACCOUNT_ID, "whop-sdk 2.6.0"),
];

/// whopsdk-rust's per-endpoint pins, per resource.
const RUST_CHAT_CHANNELS: Pins = &[
    ("2026-08-21-1", COMPANY_ID, "whopsdk-rust chat_channels"),
    ("2026-08-25-1", COMPANY_ID, "whopsdk-rust chat_channels"),
];
const RUST_SUPPORT_CHANNELS: Pins = &[(
    "2026-08-25-2",
    COMPANY_ID,
    "whopsdk-rust support_channels list and create",
)];

fn pins(
    resource: CompanyResource,
) -> impl Iterator<Item = &'static (&'static str, &'static str, &'static str)> {
    let rust = match resource {
        CompanyResource::ChatChannels => RUST_CHAT_CHANNELS,
        CompanyResource::SupportChannels => RUST_SUPPORT_CHANNELS,
        // whopsdk-rust pins dm_channels at 2026-09-02-2, where every SDK sends account_id.
        CompanyResource::DmChannels => &[],
    };
    SDK_PINS.iter().chain(rust)
}

/// The pins the table knows for a resource (for tests that cover each one).
pub fn known_pins(resource: CompanyResource) -> impl Iterator<Item = (&'static str, &'static str)> {
    pins(resource).map(|(v, name, _)| (*v, *name))
}

/// The company parameter's name for `resource` at `api_version`: the name of the known pin
/// nearest in time (on a tie, the earlier one).
pub(crate) fn company_param(resource: CompanyResource, api_version: &str) -> &'static str {
    nearest(pins(resource), api_version)
}

/// `GET /users/me?include_balance=false` asks for identity only (live balances are computed
/// by default); the parameter first appears in whop-sdk 1.1.5.
const USERS_ME_INCLUDE_BALANCE: Pins<bool> = &[
    (
        "2026-09-02-2",
        false,
        "whop-sdk 1.1.1 (users.me has no include_balance)",
    ),
    ("2026-09-15", true, "whop-sdk 1.1.5"),
    (
        "2026-10-15-1",
        true,
        "whop-sdk 2.6.0 (\"Set false for identity-only reads\")",
    ),
];

/// `GET /support_channels?include_last_message=true` fills each chat's last message; the
/// parameter (and the field) first appear in whop-sdk 2.5.0.
const SUPPORT_INCLUDE_LAST_MESSAGE: Pins<bool> = &[
    (
        "2026-10-09-2",
        false,
        "whop-sdk 2.4.0 (support_channels.list has no include_last_message)",
    ),
    ("2026-10-13-1", true, "whop-sdk 2.5.0"),
    ("2026-10-15-1", true, "whop-sdk 2.6.0"),
];

/// Whether `GET /support_channels` takes `customer_user_id` at `api_version`: it appears in
/// whop-sdk 2.5.0 together with `include_last_message`.
pub(crate) fn support_list_takes_customer_user_id(api_version: &str) -> bool {
    nearest(SUPPORT_INCLUDE_LAST_MESSAGE, api_version)
}

/// Whether `GET /support_channels` takes `include_last_message` at `api_version`.
pub(crate) fn support_list_takes_include_last_message(api_version: &str) -> bool {
    nearest(SUPPORT_INCLUDE_LAST_MESSAGE, api_version)
}

/// Whether `users/me` takes `include_balance` at `api_version`.
pub(crate) fn users_me_takes_include_balance(api_version: &str) -> bool {
    nearest(USERS_ME_INCLUDE_BALANCE, api_version)
}

/// `YYYY-MM-DD[-N]` as a number that orders and measures versions: days since 1970 × 100 + N.
/// A malformed version counts as far in the future (the newest rules apply).
fn ordinal(version: &str) -> i64 {
    let (date, rev) = match version.get(..10) {
        Some(date) => (date, version.get(11..).unwrap_or("")),
        None => return i64::MAX / 4,
    };
    let Ok(day) = NaiveDate::parse_from_str(date, "%Y-%m-%d") else {
        return i64::MAX / 4;
    };
    let days = (day - NaiveDate::default()).num_days();
    days * 100 + rev.parse::<i64>().unwrap_or(0).min(99)
}

#[cfg(test)]
mod tests {
    use super::*;
    use CompanyResource::*;

    #[test]
    fn every_known_pin_gives_its_own_name() {
        for r in CompanyResource::ALL {
            for (v, name) in known_pins(r) {
                assert_eq!(company_param(r, v), name, "{r:?} {v}");
            }
        }
    }

    #[test]
    fn pins_between_known_ones_take_the_nearest_rule() {
        assert_eq!(company_param(ChatChannels, "2026-08-31"), COMPANY_ID);
        assert_eq!(company_param(ChatChannels, "2026-09-09-1"), ACCOUNT_ID);
        assert_eq!(company_param(SupportChannels, "2026-08-25"), COMPANY_ID);
        // Before the first and after the last known pin.
        assert_eq!(company_param(ChatChannels, "2025-01-01"), COMPANY_ID);
        assert_eq!(company_param(ChatChannels, "2026-11-07"), ACCOUNT_ID);
        assert_eq!(company_param(ChatChannels, "not-a-date"), ACCOUNT_ID);
    }

    #[test]
    fn nearest_is_measured_in_days_and_revisions() {
        assert!(ordinal("2026-09-02-2") > ordinal("2026-09-02-1"));
        assert!(ordinal("2026-09-02-1") > ordinal("2026-09-02"));
        assert_eq!(ordinal("2026-09-03") - ordinal("2026-09-02"), 100);
        assert_eq!(other_name(COMPANY_ID), ACCOUNT_ID);
        assert_eq!(other_name(ACCOUNT_ID), COMPANY_ID);
    }

    #[test]
    fn include_balance_exists_from_whop_sdk_1_1_5() {
        assert!(!users_me_takes_include_balance("2026-08-21-1"));
        assert!(!users_me_takes_include_balance("2026-09-02-2"));
        assert!(users_me_takes_include_balance("2026-09-15"));
        assert!(users_me_takes_include_balance("2026-10-15-1"));
        assert!(!support_list_takes_include_last_message("2026-09-02-2"));
        assert!(!support_list_takes_include_last_message("2026-10-09-2"));
        assert!(support_list_takes_include_last_message("2026-10-13-1"));
    }
}
