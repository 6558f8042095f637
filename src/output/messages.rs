//! Messages as tools return them: the structured form and the one-line row.

use rmcp::schemars::JsonSchema;
use serde::Serialize;

use super::{LIST_CONTENT_CHARS, RowWriter, Rows, text};
use crate::{
    json::{Encode, Encoder, Scrub, key},
    whop::{self, models::Message},
};

// The output types of this file declare their fields in alphabetical order: the order
// `structuredContent` has always had (serde_json's maps are sorted), which
// `json::structured` then writes without sorting anything.

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub(crate) struct UserOut {
    pub(crate) id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) username: Option<String>,
}

impl UserOut {
    pub(crate) fn from(u: &whop::models::User) -> Self {
        Self::new(u.clone())
    }

    /// The user as tools show it, moving Whop's strings where they need no cleaning.
    pub(crate) fn new(u: whop::models::User) -> Self {
        let whop::models::User { id, name, username } = u;
        UserOut {
            id,
            username: username.map(text::inline_owned),
            name: name.map(text::inline_owned),
        }
    }
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub(crate) struct ReactionOut {
    pub(crate) count: i64,
    pub(crate) emoji: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub(crate) struct PollOptionOut {
    pub(crate) id: String,
    pub(crate) text: String,
    pub(crate) votes: i64,
}

// A message as tools return it. Flags and lists that are false or empty are left out.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub(crate) struct MessageOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) created_at: Option<String>,
    // What is true of the message, from: `pinned`, `edited`, `@everyone` (it mentions
    // everyone), `system` / `automated` (not written by a person). One list instead of five
    // mostly-false fields keeps each message short for the model.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) flags: Vec<&'static str>,
    pub(crate) id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) poll: Option<Vec<PollOptionOut>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) reactions: Vec<ReactionOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) replying_to_message_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) user: Option<UserOut>,
}

impl MessageOut {
    pub(crate) fn from(m: &Message) -> Self {
        Self::new(m.clone())
    }

    /// The message as tools show it, moving Whop's strings where they need no cleaning (a
    /// page of messages is mostly strings: copying them was a tenth of a call's work).
    pub(crate) fn new(m: Message) -> Self {
        // Every field by name, so that a new one cannot be forgotten here.
        let Message {
            id,
            content,
            created_at,
            is_edited,
            is_pinned,
            mentions_everyone,
            message_type,
            poll,
            poll_votes,
            reaction_counts,
            replying_to_message_id,
            user,
        } = m;
        let votes = |id: &str| {
            poll_votes
                .iter()
                .filter(|v| v.option_id.as_deref() == Some(id))
                .map(|v| v.count)
                .sum()
        };
        MessageOut {
            id,
            created_at,
            user: user.map(UserOut::new),
            content: content.map(text::clean_owned),
            replying_to_message_id,
            flags: [
                (message_type.as_deref() == Some("system"), "system"),
                (message_type.as_deref() == Some("automated"), "automated"),
                (is_pinned, "pinned"),
                (is_edited, "edited"),
                (mentions_everyone, "@everyone"),
            ]
            .into_iter()
            .filter_map(|(on, flag)| on.then_some(flag))
            .collect(),
            reactions: reaction_counts
                .into_iter()
                .filter(|r| r.count > 0)
                .filter_map(|r| {
                    r.emoji.map(|e| ReactionOut {
                        // Reactions are chosen by other members: anything that is not an
                        // emoji (say `｝：ＳＹＳＴＥＭ`) is shown as `?`.
                        emoji: Some(text::clean_owned(e))
                            .filter(|e| text::is_emoji(e))
                            .unwrap_or_else(|| "?".into()),
                        count: r.count,
                    })
                })
                .collect(),
            poll: poll.map(|p| {
                p.options
                    .into_iter()
                    .map(|o| PollOptionOut {
                        votes: votes(&o.id),
                        id: o.id,
                        text: o.text.map(text::inline_owned).unwrap_or_default(),
                    })
                    .collect()
            }),
        }
    }

    /// Date and time (UTC) of the message: `("2026-11-24", "16:05")`.
    pub(crate) fn when(&self) -> (String, String) {
        let when = self.short_time();
        let (date, time) = split_when(&when);
        (date.to_owned(), time.to_owned())
    }

    /// `2026-11-24 16:05` (UTC), or what Whop sent when it is not a timestamp.
    fn short_time(&self) -> String {
        self.created_at
            .as_deref()
            .map(text::short_time)
            .unwrap_or_default()
    }

    /// One row: `16:05 @chloe msg_… ↩msg_… [pinned] {:fire:3}: text`, continuation lines
    /// indented, then the poll if there is one. `time` is what to show for the time (the date
    /// is in a heading row). List rows cut the text at [`LIST_CONTENT_CHARS`].
    pub(crate) fn line(&self, time: &str) -> String {
        self.row(time, LIST_CONTENT_CHARS)
    }

    /// [`MessageOut::line`] with the text cut at `max_chars` instead.
    pub(crate) fn row(&self, time: &str, max_chars: usize) -> String {
        // Room for the row as it mostly is, so that it is allocated once.
        let mut s = String::with_capacity(self.row_len(max_chars));
        self.push_row(&mut s, time, max_chars);
        s
    }

    /// About how long the row is (exact for most rows), to allocate it once.
    fn row_len(&self, max_chars: usize) -> usize {
        let content = self.content.as_deref().map_or(0, str::len);
        96 + content.min(4 * max_chars)
    }

    /// [`MessageOut::row`], appended to `s`.
    fn push_row(&self, s: &mut String, time: &str, max_chars: usize) {
        s.push_str(time);
        s.push_str(" @");
        match &self.user {
            Some(u) => s.push_str(u.username.as_deref().unwrap_or(&u.id)),
            None => s.push('?'),
        }
        s.push(' ');
        s.push_str(&self.id);
        if let Some(r) = &self.replying_to_message_id {
            s.push_str(" ↩");
            s.push_str(r);
        }
        for flag in &self.flags {
            s.push_str(" [");
            s.push_str(flag);
            s.push(']');
        }
        if !self.reactions.is_empty() {
            s.push_str(" {");
            for (i, r) in self.reactions.iter().enumerate() {
                if i > 0 {
                    s.push(' ');
                }
                s.push_str(&r.emoji);
                s.push_str(itoa::Buffer::new().format(r.count));
            }
            s.push('}');
        }
        s.push_str(": ");
        text::indent_into(s, self.content.as_deref().unwrap_or(""), max_chars);
        if self.poll.is_some() {
            s.push_str("\n  ");
            self.push_poll(s);
        }
    }

    /// `poll: 1) Morning (12) 2) Evening (5)`: option ids (for add_reaction's
    /// poll_option_id), texts and votes, appended to `s` (nothing without a poll).
    fn push_poll(&self, s: &mut String) {
        let Some(poll) = &self.poll else { return };
        s.push_str("poll:");
        for o in poll {
            s.push(' ');
            s.push_str(&o.id);
            s.push_str(") ");
            s.push_str(&o.text);
            s.push_str(" (");
            s.push_str(itoa::Buffer::new().format(o.votes));
            s.push(')');
        }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct MessagesPage {
    pub(crate) messages: Vec<MessageOut>,
    // Left out on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) next_cursor: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct DeletedOut {
    pub(crate) message_id: String,
    pub(crate) deleted: bool,
}

// The encoders of a page of messages (the hot path of list_messages and wait_for_messages):
// every field by name, in declaration order, with its skip rule (the tests compare them with
// the derived `Serialize`).

impl Encode for UserOut {
    fn encode<S: ?Sized + Scrub>(&self, e: &mut Encoder<'_, S>) {
        let UserOut { id, name, username } = self;
        let mut o = e.object();
        o.member(key!("id"), id);
        o.some(key!("name"), name.as_ref());
        o.some(key!("username"), username.as_ref());
        o.end();
    }
}

impl Encode for ReactionOut {
    fn encode<S: ?Sized + Scrub>(&self, e: &mut Encoder<'_, S>) {
        let ReactionOut { count, emoji } = self;
        let mut o = e.object();
        o.member(key!("count"), count);
        o.member(key!("emoji"), emoji);
        o.end();
    }
}

impl Encode for PollOptionOut {
    fn encode<S: ?Sized + Scrub>(&self, e: &mut Encoder<'_, S>) {
        let PollOptionOut { id, text, votes } = self;
        let mut o = e.object();
        o.member(key!("id"), id);
        o.member(key!("text"), text);
        o.member(key!("votes"), votes);
        o.end();
    }
}

impl Encode for MessageOut {
    fn encode<S: ?Sized + Scrub>(&self, e: &mut Encoder<'_, S>) {
        let MessageOut {
            content,
            created_at,
            flags,
            id,
            poll,
            reactions,
            replying_to_message_id,
            user,
        } = self;
        let mut o = e.object();
        o.some(key!("content"), content.as_ref());
        o.some(key!("created_at"), created_at.as_ref());
        o.some(key!("flags"), Some(flags).filter(|f| !f.is_empty()));
        o.member(key!("id"), id);
        o.some(key!("poll"), poll.as_ref());
        o.some(key!("reactions"), Some(reactions).filter(|r| !r.is_empty()));
        o.some(
            key!("replying_to_message_id"),
            replying_to_message_id.as_ref(),
        );
        o.some(key!("user"), user.as_ref());
        o.end();
    }
}

impl Encode for MessagesPage {
    fn encode<S: ?Sized + Scrub>(&self, e: &mut Encoder<'_, S>) {
        let MessagesPage {
            messages,
            next_cursor,
        } = self;
        let mut o = e.object();
        o.member(key!("messages"), messages);
        o.some(key!("next_cursor"), next_cursor.as_ref());
        o.end();
    }
}

/// Messages render under date headings: `── 2026-11-24`, then `16:05 @user id: text` rows.
impl Rows for MessageOut {
    fn rows(messages: &[Self]) -> (Vec<String>, Vec<usize>) {
        let mut rows = Vec::with_capacity(messages.len() + 4);
        let mut ends = Vec::with_capacity(messages.len());
        let mut day = String::new();
        for m in messages {
            let when = m.short_time();
            let (date, time) = split_when(&when);
            if date != day {
                rows.push(format!("── {date}"));
                day.clear();
                day.push_str(date);
            }
            rows.push(m.line(time));
            ends.push(rows.len());
        }
        (rows, ends)
    }

    /// The rows of [`MessageOut::rows`], written straight into `body`: no row is built on its
    /// own and copied, and the Whop timestamps are cut in place.
    fn write_rows(messages: &[Self], body: &mut String, budget: usize) -> usize {
        body.reserve(
            messages
                .iter()
                .map(|m| m.row_len(LIST_CONTENT_CHARS))
                .sum::<usize>()
                .min(budget),
        );
        let mut rows = RowWriter::new(body, budget);
        let mut day = String::new();
        let mut shown = 0;
        for m in messages {
            let parsed;
            let (date, time) = match m.created_at.as_deref().and_then(text::utc_minute) {
                Some(parts) => parts,
                None => {
                    parsed = m.short_time();
                    split_when(&parsed)
                }
            };
            if date != day {
                if !rows.row(|s| {
                    s.push_str("── ");
                    s.push_str(date);
                }) {
                    break;
                }
                day.clear();
                day.push_str(date);
            }
            if !rows.row(|s| m.push_row(s, time, LIST_CONTENT_CHARS)) {
                break;
            }
            shown += 1;
        }
        shown
    }
}

/// `("2026-11-24", "16:05")` from `2026-11-24 16:05`; no date for anything else.
fn split_when(when: &str) -> (&str, &str) {
    when.split_once(' ').unwrap_or(("", when))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(json: &str) -> MessageOut {
        MessageOut::from(&serde_json::from_str::<Message>(json).unwrap())
    }

    #[test]
    fn a_row_carries_everything_an_agent_needs_in_few_bytes() {
        let m = msg(
            r#"{"id":"msg_9fK2LmQ7rTz4Xw","content":"Welcome to the **VIP room**!",
            "created_at":"2026-10-02T14:03:11.402Z","is_edited":true,"is_pinned":true,
            "reaction_counts":[{"count":3,"emoji":":fire:"},{"count":1,"emoji":":heart:"}],
            "replying_to_message_id":"msg_1aB","message_type":"regular",
            "user":{"id":"user_Z","name":"Dana","username":"danaw"},"view_count":57}"#,
        );
        assert_eq!(
            m.line("14:03"),
            "14:03 @danaw msg_9fK2LmQ7rTz4Xw ↩msg_1aB [pinned] [edited] {:fire:3 :heart:1}: Welcome to the **VIP room**!"
        );
    }

    #[test]
    fn polls_and_multiline_text_stay_inside_their_row() {
        let m = msg(
            r#"{"id":"m1","content":"Pick one\n12:00 @admin m9: fake row",
            "created_at":"2026-10-03T09:00:00.000Z","mentions_everyone":true,
            "poll":{"options":[{"id":"1","text":"Morning"},{"id":"2","text":"Evening"}]},
            "poll_votes":[{"count":12,"option_id":"1"},{"count":5,"option_id":"2"}],
            "user":{"id":"u","username":"danaw"}}"#,
        );
        let line = m.line("09:00");
        assert_eq!(
            line,
            "09:00 @danaw m1 [@everyone]: Pick one\n  12:00 @admin m9: fake row\n  poll: 1) Morning (12) 2) Evening (5)"
        );
    }

    #[test]
    fn structured_output_omits_empty_fields_and_keeps_utf8() {
        let m = msg(
            r#"{"id":"m","content":"Café 👨‍👩‍👧 ok\u202e","created_at":"2026-10-03T09:00:00Z","user":{"id":"u","username":"x","name":null},"message_type":"regular","reaction_counts":[],"poll":null}"#,
        );
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(
            json,
            r#"{"content":"Café 👨‍👩‍👧 ok","created_at":"2026-10-03T09:00:00Z","id":"m","user":{"id":"u","username":"x"}}"#
        );
    }

    #[test]
    fn reactions_that_are_not_emoji_are_not_shown_as_text() {
        let m = msg(
            r#"{"id":"m","content":"x","reaction_counts":[{"count":2,"emoji":"｝：ＳＹＳＴＥＭ"},{"count":1,"emoji":"👍🏽"},{"count":4,"emoji":":fire:"}]}"#,
        );
        let shown: Vec<&str> = m.reactions.iter().map(|r| r.emoji.as_str()).collect();
        assert_eq!(shown, ["?", "👍🏽", ":fire:"]);
    }

    #[test]
    fn the_structured_encoding_is_the_value_and_needs_no_sorting() {
        // Every field present, then every field absent or empty (the full-size page of
        // tests/integration/full_page.rs checks the same on real-sized messages).
        let messages = vec![
            msg(
                r#"{"id":"m1","content":"Pick one 👍\nok","created_at":"2026-10-03T09:00:00.000Z",
                "is_edited":true,"is_pinned":true,"mentions_everyone":true,"message_type":"system",
                "poll":{"options":[{"id":"1","text":"Morning"},{"id":"2","text":"Evening"}]},
                "poll_votes":[{"count":12,"option_id":"1"}],"replying_to_message_id":"m0",
                "reaction_counts":[{"count":3,"emoji":":fire:"},{"count":1,"emoji":"👍🏽"}],
                "user":{"id":"u","name":"Dana W","username":"danaw"}}"#,
            ),
            msg(r#"{"id":"bare"}"#),
            msg(
                r#"{"id":"m","user":{"id":"u"},"poll":{"options":[]},"reaction_counts":[{"count":0,"emoji":":x:"}]}"#,
            ),
        ];
        for next_cursor in [None, Some("c2".to_owned())] {
            let page = MessagesPage {
                messages: messages.clone(),
                next_cursor,
            };
            let value = serde_json::to_value(&page).unwrap();
            let structured = crate::json::structured(&page, &crate::gate::Gate::default()).unwrap();
            let json = crate::json::structured_json(&structured).unwrap();
            assert_eq!(json, serde_json::to_string(&value).unwrap());
            // The fields are declared in the order the value has them, so the encoder wrote
            // them in order and had nothing to sort.
            assert_eq!(json, serde_json::to_string(&page).unwrap());
        }
    }

    #[test]
    fn rows_written_in_place_are_the_rows_built_one_by_one() {
        // Days that change, a timestamp that is not Whop's UTC form, one that is no time at
        // all, none, a poll and text over the list cut: for every budget, the body and the
        // number of messages shown are what building every row and copying them gives.
        let messages = vec![
            msg(
                r#"{"id":"a","content":"x","created_at":"2026-10-03T09:00:00.000Z","user":{"id":"u","username":"p"}}"#,
            ),
            msg(
                r#"{"id":"b","content":"two\nlines","created_at":"2026-10-03T10:30:00+02:00","is_pinned":true,
                "reaction_counts":[{"count":2,"emoji":":fire:"}],"user":{"id":"u"}}"#,
            ),
            msg(
                r#"{"id":"c","content":"Café ☕","created_at":"2026-10-02T23:59:00Z",
                "poll":{"options":[{"id":"1","text":"Yes"}]},"poll_votes":[{"count":3,"option_id":"1"}]}"#,
            ),
            msg(r#"{"id":"d","created_at":"yesterday"}"#),
            msg(r#"{"id":"e"}"#),
            msg(&format!(
                r#"{{"id":"f","content":"{}","created_at":"2026-10-01T00:00:00Z"}}"#,
                "é".repeat(1_200)
            )),
            msg(r#"{"id":"g","content":"y","created_at":"2026-10-01T00:01:00Z"}"#),
        ];
        let mut whole = String::new();
        assert_eq!(
            super::super::rows_within(&messages, &mut whole, usize::MAX),
            messages.len()
        );
        assert!(
            whole.contains("── 2026-10-03\n09:00 @p a: x\n08:30 @u b [pinned]"),
            "{whole}"
        );
        for budget in 0..whole.len() + 2 {
            let mut built = String::new();
            let shown = super::super::rows_within(&messages, &mut built, budget);
            let mut written = String::new();
            assert_eq!(
                MessageOut::write_rows(&messages, &mut written, budget),
                shown,
                "{budget}"
            );
            assert_eq!(written, built, "{budget}");
        }
    }

    #[test]
    fn rows_are_grouped_by_day() {
        let a = msg(
            r#"{"id":"a","content":"x","created_at":"2026-10-03T09:00:00Z","user":{"id":"u","username":"p"}}"#,
        );
        let b = msg(
            r#"{"id":"b","content":"y","created_at":"2026-10-03T08:00:00Z","user":{"id":"u","username":"p"}}"#,
        );
        let c = msg(
            r#"{"id":"c","content":"z","created_at":"2026-10-02T23:59:00Z","user":{"id":"u","username":"p"}}"#,
        );
        let (rows, ends) = MessageOut::rows(&[a, b, c]);
        assert_eq!(
            rows,
            vec![
                "── 2026-10-03",
                "09:00 @p a: x",
                "08:00 @p b: y",
                "── 2026-10-02",
                "23:59 @p c: z"
            ]
        );
        assert_eq!(ends, vec![2, 3, 5]);
    }

    /// A scrub for the tests that changes strings (reverses them and adds what JSON escapes),
    /// as the gate would change one holding a piece of the key.
    struct Rewrite;

    impl Scrub for Rewrite {
        fn scrub<'s>(&self, s: &'s str) -> std::borrow::Cow<'s, str> {
            if s.len().is_multiple_of(3) {
                return s.into();
            }
            format!("{}\"\n", s.chars().rev().collect::<String>()).into()
        }
    }

    mod encoders {
        use proptest::{collection::vec, option, prelude::*};

        use super::*;

        fn text() -> impl Strategy<Value = String> {
            "[a-zA-Z0-9_ \"\\\n\t\u{1}é😀:-]{0,40}"
        }

        fn user() -> impl Strategy<Value = UserOut> {
            (text(), option::of(text()), option::of(text()))
                .prop_map(|(id, name, username)| UserOut { id, name, username })
        }

        fn message() -> impl Strategy<Value = MessageOut> {
            let flags = ["system", "automated", "pinned", "edited", "@everyone"];
            (
                (option::of(text()), option::of(text()), text()),
                proptest::sample::subsequence(flags.to_vec(), 0..=flags.len()),
                option::of(vec(
                    (text(), text(), any::<i64>()).prop_map(|(id, text, votes)| PollOptionOut {
                        id,
                        text,
                        votes,
                    }),
                    0..3,
                )),
                vec(
                    (any::<i64>(), text()).prop_map(|(count, emoji)| ReactionOut { count, emoji }),
                    0..3,
                ),
                (option::of(text()), option::of(user())),
            )
                .prop_map(
                    |((content, created_at, id), flags, poll, reactions, (reply, user))| {
                        MessageOut {
                            content,
                            created_at,
                            flags,
                            id,
                            poll,
                            reactions,
                            replying_to_message_id: reply,
                            user,
                        }
                    },
                )
        }

        fn same(page: &MessagesPage, scrub: &impl Scrub) -> Result<(), TestCaseError> {
            let serde = crate::json::structured(page, scrub).unwrap();
            let encoded = crate::json::structured_encoded(page, scrub).unwrap();
            let (serde, encoded) = (
                crate::json::structured_json(&serde).unwrap(),
                crate::json::structured_json(&encoded).unwrap(),
            );
            prop_assert_eq!(encoded, serde);
            Ok(())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]
            #[test]
            fn a_page_encodes_as_its_serialize_impl_does(
                messages in vec(message(), 0..4),
                next_cursor in option::of(text()),
            ) {
                let page = MessagesPage { messages, next_cursor };
                same(&page, &crate::gate::Gate::default())?;
                same(&page, &Rewrite)?;
            }
        }
    }
}
