//! A dedicated decoder for `list_messages`' answer, `Page<Message>`.
//!
//! Why it exists: decoding Whop's page is the largest single cost of a `list_messages` call.
//! Measured with callgrind on `tests/fixtures/full_page.json` (20 full-size messages, 10.5 KB,
//! every documented field present): `serde_json::from_str::<Page<Message>>` took 206 k of the
//! call's 764 k instructions, and serde_json merely tokenising the page into `IgnoredAny` costs
//! about 115 k, so no serde-based approach gets much below that. This decoder reads the page in
//! one pass over the bytes, expects each key where Whop puts it (one masked comparison instead
//! of scanning and matching it), scans strings sixteen bytes at a time and skips unknown values
//! without building them. Measured on the same fixture (instructions per page, 2026-12-01):
//! - with mimalloc, as the server runs, decode alone: serde_json 191.6 k, this decoder 79.4 k;
//! - `bench_decode` below (the test binary, glibc's malloc, decode and drop): 272.9 k and
//!   146.9 k; the allocations, the same in both, cost more there;
//! - a whole `list_messages(limit: 20)` call of the release server (`/tmp/cg/cg.py`): 763.5 k
//!   before, 636.3 k with it.
//!
//! The contract: it returns exactly what `serde_json::from_slice::<Page<Message>>` returns (for
//! a body that is UTF-8, what `from_str` returns). It only
//! takes the common path — an object per struct, every value of the documented type or null —
//! and on anything else (any error, a struct given as an array, unknown values nested deeper than
//! [`MAX_SKIP_DEPTH`]) it gives up and [`page_of_messages`] hands the text to serde_json, whose
//! answer (and error text) is then the result. So it may be too strict, never too lenient: every
//! rule below is serde_json's or serde-derive's, and the tests compare the two decoders on
//! generated and mutated pages.
//!
//! The rules it follows, for the types in `models.rs`:
//! - unknown keys are skipped, but their values must still be valid JSON (serde_json's
//!   `ignore_value`: strings are checked for control characters and escape syntax, not for
//!   paired surrogates);
//! - keys and string values are decoded like serde_json's `parse_str`: every escape, `\u` pairs
//!   required, no raw control characters; a key with escapes is matched after decoding;
//! - a known key seen twice is an error (serde-derive), a missing `id` or `data` is an error;
//! - `Option` fields take `null` as `None`; `null_default` fields take `null` as the default;
//! - what is read as text (keys, string values) must be UTF-8, skipped strings need not be
//!   (`from_slice` checks the one, not the other); only a run with a byte of 0x80 or above is
//!   checked, as the scan that finds its end sees those bytes anyway;
//! - `count: i64` takes what serde_json's `deserialize_i64` does: an integer without fraction or
//!   exponent, no leading zero, in range, and not `-0` (serde_json reads that as a float);
//! - only whitespace may follow the page.
//!
//! When the models change, this file must change with them: every struct is built with a
//! literal listing all its fields, so a new field does not compile until it is read here.

use super::models::{Message, Page, PageInfo, Poll, PollOption, PollVote, ReactionCount, User};

/// How deep unknown values may nest before we leave the page to serde_json. Whop's answers
/// nest two or three levels; serde_json itself has no limit there (its `ignore_value` keeps its
/// own stack), so anything deeper is still decoded, just by serde_json.
pub(crate) const MAX_SKIP_DEPTH: u32 = 64;

/// Decodes a `list_messages` answer. Same result as `serde_json::from_slice`, errors included.
pub(crate) fn page_of_messages(text: &[u8]) -> serde_json::Result<Page<Message>> {
    match fast(text) {
        Some(page) => Ok(page),
        None => serde_json::from_slice(text),
    }
}

/// The fast path alone: `None` when it gives up.
fn fast(text: &[u8]) -> Option<Page<Message>> {
    let mut p = Parser { text, i: 0 };
    let page = p.page()?;
    // Trailing whitespace only, as serde_json's `Deserializer::end`.
    match p.ws() {
        None => Some(page),
        Some(_) => None,
    }
}

/// A known key. Besides its name it holds `name":` as three masked little-endian words, so the
/// key Whop sends next can be recognised with one comparison, without scanning it: a key spelled
/// exactly so cannot hold an escape, and ends where the quote is.
struct Key {
    name: &'static [u8],
    /// The length of `name":`.
    spelled_len: usize,
    /// A key Whop sends that the models do not read: skipped like any unknown key (repeats
    /// allowed), but listed so that the key after it is still expected.
    skipped: bool,
    words: [u64; 3],
    masks: [u64; 3],
}

const KEY_BYTES: usize = 24;

const fn key(name: &'static str) -> Key {
    spell(name, false)
}

const fn skipped(name: &'static str) -> Key {
    spell(name, true)
}

const fn spell(name: &'static str, skipped: bool) -> Key {
    let name = name.as_bytes();
    let len = name.len() + 2;
    assert!(len <= KEY_BYTES, "a key longer than the masked words");
    let mut bytes = [0u8; KEY_BYTES];
    let mut mask = [0u8; KEY_BYTES];
    let mut i = 0;
    while i < len {
        bytes[i] = if i < name.len() {
            name[i]
        } else if i == name.len() {
            b'"'
        } else {
            b':'
        };
        mask[i] = 0xff;
        i += 1;
    }
    Key {
        name,
        spelled_len: len,
        skipped,
        words: [word(&bytes, 0), word(&bytes, 8), word(&bytes, 16)],
        masks: [word(&mask, 0), word(&mask, 8), word(&mask, 16)],
    }
}

const fn word(bytes: &[u8; KEY_BYTES], at: usize) -> u64 {
    let mut w = [0u8; 8];
    let mut i = 0;
    while i < 8 {
        w[i] = bytes[at + i];
        i += 1;
    }
    u64::from_le_bytes(w)
}

// The keys of each struct in the order Whop sends them (its documented objects' order, which
// the models follow too): the fields it reads, and the documented ones it skips. The number of a key here is its arm in
// the struct's function below.
const PAGE: &[Key] = &[key("data"), key("page_info")];
const PAGE_INFO: &[Key] = &[
    key("end_cursor"),
    key("has_next_page"),
    skipped("has_previous_page"),
    skipped("start_cursor"),
];
const MESSAGE: &[Key] = &[
    key("id"),
    key("content"),
    key("created_at"),
    skipped("updated_at"),
    key("is_edited"),
    key("is_pinned"),
    skipped("mentions"),
    key("mentions_everyone"),
    key("message_type"),
    key("poll"),
    key("poll_votes"),
    key("reaction_counts"),
    key("replying_to_message_id"),
    key("user"),
    skipped("view_count"),
];
const USER: &[Key] = &[key("id"), key("name"), key("username")];
const POLL: &[Key] = &[key("options")];
const POLL_OPTION: &[Key] = &[key("id"), key("text")];
const POLL_VOTE: &[Key] = &[key("count"), key("option_id")];
const REACTION_COUNT: &[Key] = &[key("count"), key("emoji")];

/// The fewest bytes a message with every documented field takes in Whop's answer (about 370
/// with empty strings); only a guess for the list's capacity. A `Message` takes fewer bytes than
/// that (296 on 64-bit), so the room made ahead stays below the text's own size, whatever the
/// text holds.
const MESSAGE_BYTES_AT_LEAST: usize = 360;

/// The number [`Parser::key`] gives a key that is not in the struct's table.
const UNKNOWN: usize = usize::MAX;

struct Parser<'a> {
    text: &'a [u8],
    i: usize,
}

impl<'a> Parser<'a> {
    // ----- The models: one function per struct, one match arm per field. -----

    fn page(&mut self) -> Option<Page<Message>> {
        let mut data = None;
        let mut page_info = None;
        self.object(PAGE, |p, field| {
            match field {
                // `null_default`: null is an empty list. Required (no `default`).
                0 => {
                    // Room for the messages the rest of the text can hold, so the list is not
                    // moved as it grows (a message with every documented field takes more).
                    let room = (p.text.len() - p.i) / MESSAGE_BYTES_AT_LEAST;
                    data = Some(p.opt(|p| p.vec(room, Self::message))?.unwrap_or_default());
                }
                1 => page_info = Some(p.opt(Self::page_info)?.unwrap_or_default()),
                _ => return None,
            }
            Some(())
        })?;
        Some(Page {
            data: data?,
            page_info: page_info.unwrap_or_default(),
        })
    }

    fn page_info(&mut self) -> Option<PageInfo> {
        let (mut end_cursor, mut has_next_page) = (None, None);
        self.object(PAGE_INFO, |p, field| {
            match field {
                0 => end_cursor = p.opt_string()?,
                1 => has_next_page = p.opt_bool()?,
                _ => return None,
            }
            Some(())
        })?;
        Some(PageInfo {
            end_cursor,
            has_next_page,
        })
    }

    fn message(&mut self) -> Option<Message> {
        let mut id = None;
        let mut content = None;
        let mut created_at = None;
        let mut is_edited = false;
        let mut is_pinned = false;
        let mut mentions_everyone = false;
        let mut message_type = None;
        let mut poll = None;
        let mut poll_votes = None;
        let mut reaction_counts = None;
        let mut replying_to_message_id = None;
        let mut user = None;
        self.object(MESSAGE, |p, field| {
            match field {
                0 => id = Some(p.string()?),
                1 => content = p.opt_string()?,
                2 => created_at = p.opt_string()?,
                // `null_default` flags and lists: null is false or empty.
                4 => is_edited = p.opt_bool()?.unwrap_or_default(),
                5 => is_pinned = p.opt_bool()?.unwrap_or_default(),
                7 => mentions_everyone = p.opt_bool()?.unwrap_or_default(),
                8 => message_type = p.opt_string()?,
                9 => poll = p.opt(Self::poll)?,
                10 => poll_votes = p.opt(|p| p.vec(0, Self::poll_vote))?,
                11 => reaction_counts = p.opt(|p| p.vec(0, Self::reaction_count))?,
                12 => replying_to_message_id = p.opt_string()?,
                13 => user = p.opt(Self::user)?,
                _ => return None,
            }
            Some(())
        })?;
        Some(Message {
            id: id?,
            content,
            created_at,
            is_edited,
            is_pinned,
            mentions_everyone,
            message_type,
            poll,
            poll_votes: poll_votes.unwrap_or_default(),
            reaction_counts: reaction_counts.unwrap_or_default(),
            replying_to_message_id,
            user,
        })
    }

    fn user(&mut self) -> Option<User> {
        let (mut id, mut name, mut username) = (None, None, None);
        self.object(USER, |p, field| {
            match field {
                0 => id = Some(p.string()?),
                1 => name = p.opt_string()?,
                2 => username = p.opt_string()?,
                _ => return None,
            }
            Some(())
        })?;
        Some(User {
            id: id?,
            name,
            username,
        })
    }

    fn poll(&mut self) -> Option<Poll> {
        let mut options = Vec::new();
        self.object(POLL, |p, field| {
            match field {
                0 => options = p.opt(|p| p.vec(0, Self::poll_option))?.unwrap_or_default(),
                _ => return None,
            }
            Some(())
        })?;
        Some(Poll { options })
    }

    fn poll_option(&mut self) -> Option<PollOption> {
        let (mut id, mut text) = (None, None);
        self.object(POLL_OPTION, |p, field| {
            match field {
                0 => id = Some(p.string()?),
                1 => text = p.opt_string()?,
                _ => return None,
            }
            Some(())
        })?;
        Some(PollOption { id: id?, text })
    }

    fn poll_vote(&mut self) -> Option<PollVote> {
        let (count, option_id) = self.count_and_string(POLL_VOTE)?;
        Some(PollVote { count, option_id })
    }

    fn reaction_count(&mut self) -> Option<ReactionCount> {
        let (count, emoji) = self.count_and_string(REACTION_COUNT)?;
        Some(ReactionCount { count, emoji })
    }

    /// The objects made of a `count` and one optional string (poll votes, reaction counts),
    /// `keys` naming them in that order.
    fn count_and_string(&mut self, keys: &[Key]) -> Option<(i64, Option<String>)> {
        let (mut count, mut string) = (0, None);
        self.object(keys, |p, field| {
            match field {
                // `#[serde(default)]` without `null_default`: null is a type error.
                0 => count = p.i64()?,
                1 => string = p.opt_string()?,
                _ => return None,
            }
            Some(())
        })?;
        Some((count, string))
    }

    // ----- JSON structure. -----

    /// The next non-whitespace byte (not consumed); `None` at the end of the text. Whop's
    /// answers have no whitespace, so the first test usually decides.
    #[inline(always)]
    fn ws(&mut self) -> Option<u8> {
        let c = *self.text.get(self.i)?;
        if c > b' ' {
            return Some(c);
        }
        self.ws_slow()
    }

    fn ws_slow(&mut self) -> Option<u8> {
        loop {
            let c = *self.text.get(self.i)?;
            if !matches!(c, b' ' | b'\n' | b'\t' | b'\r') {
                return Some(c);
            }
            self.i += 1;
        }
    }

    /// Consumes `word` (a literal) if the text continues with it.
    #[inline(always)]
    fn literal(&mut self, word: &[u8]) -> Option<()> {
        if self.text.get(self.i..self.i + word.len())? != word {
            return None;
        }
        self.i += word.len();
        Some(())
    }

    /// An object of a struct with the keys `keys`: `member` reads the value of each key the
    /// struct reads, given the key's number in `keys` (an arm it lacks gives up: `None`); the
    /// values of unknown and skipped keys are skipped here.
    #[inline(always)]
    fn object(
        &mut self,
        keys: &[Key],
        mut member: impl FnMut(&mut Self, usize) -> Option<()>,
    ) -> Option<()> {
        if self.ws()? != b'{' {
            return None;
        }
        self.i += 1;
        if self.ws()? == b'}' {
            self.i += 1;
            return Some(());
        }
        // The key expected next: the one after the last known key.
        let mut next = 0;
        // The fields read so far: serde-derive refuses a repeated one.
        let mut seen: u64 = 0;
        loop {
            if self.ws()? != b'"' {
                return None;
            }
            let start = self.i + 1;
            let field = match keys.get(next) {
                Some(k) if self.spelled(start, k) => {
                    self.i = start + k.spelled_len;
                    next
                }
                _ => self.key(start, keys)?,
            };
            match keys.get(field) {
                Some(k) if k.skipped => self.skip()?,
                Some(_) => {
                    let bit = 1u64.checked_shl(u32::try_from(field).ok()?)?;
                    if seen & bit != 0 {
                        return None;
                    }
                    seen |= bit;
                    member(self, field)?;
                }
                None => self.skip()?,
            }
            if field != UNKNOWN {
                next = field + 1;
            }
            match self.ws()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// Whether the text at `at` is `k`'s name, its closing quote and a colon.
    #[inline(always)]
    fn spelled(&self, at: usize, k: &Key) -> bool {
        let Some(text) = self.text.get(at..at + KEY_BYTES) else {
            return false;
        };
        let w = |n: usize| {
            text.get(n * 8..n * 8 + 8)
                .and_then(|s| <[u8; 8]>::try_from(s).ok())
                .map_or(0, u64::from_le_bytes)
        };
        ((w(0) ^ k.words[0]) & k.masks[0])
            | ((w(1) ^ k.words[1]) & k.masks[1])
            | ((w(2) ^ k.words[2]) & k.masks[2])
            == 0
    }

    /// Any other key, from `start` (after its quote) through its colon: its number in `keys`,
    /// or [`UNKNOWN`]. A key with escapes is decoded before it is looked up, as serde_json does.
    fn key(&mut self, start: usize, keys: &[Key]) -> Option<usize> {
        let b = self.text;
        let (end, ascii) = scan(b, start);
        let decoded: String;
        let name = if b.get(end) == Some(&b'"') {
            self.i = end + 1;
            // serde_json reads every key as text (`parse_str`), known or not.
            text(b.get(start..end)?, ascii)?.as_bytes()
        } else {
            decoded = self.str_escaped(start, end)?;
            decoded.as_bytes()
        };
        if self.ws()? != b':' {
            return None;
        }
        self.i += 1;
        Some(keys.iter().position(|k| k.name == name).unwrap_or(UNKNOWN))
    }

    /// An array of `element`s.
    #[inline(always)]
    fn vec<T>(
        &mut self,
        capacity: usize,
        mut element: impl FnMut(&mut Self) -> Option<T>,
    ) -> Option<Vec<T>> {
        if self.ws()? != b'[' {
            return None;
        }
        self.i += 1;
        if self.ws()? == b']' {
            self.i += 1;
            return Some(Vec::new());
        }
        // At least the four a first push would allocate, without going through `grow`.
        let mut out = Vec::with_capacity(capacity.max(4));
        loop {
            out.push(element(self)?);
            match self.ws()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    return Some(out);
                }
                _ => return None,
            }
        }
    }

    /// `null` as `None`, anything else through `value` (serde_json's `deserialize_option`).
    #[inline(always)]
    fn opt<T>(&mut self, value: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        if self.ws()? == b'n' {
            self.literal(b"null")?;
            return Some(None);
        }
        value(self).map(Some)
    }

    /// An `Option<bool>`.
    #[inline(always)]
    fn opt_bool(&mut self) -> Option<Option<bool>> {
        match self.ws()? {
            b't' => self.literal(b"true").map(|()| Some(true)),
            b'f' => self.literal(b"false").map(|()| Some(false)),
            b'n' => self.literal(b"null").map(|()| None),
            _ => None,
        }
    }

    /// An `Option<String>`.
    #[inline(always)]
    fn opt_string(&mut self) -> Option<Option<String>> {
        match self.ws()? {
            b'"' => self.string_body().map(Some),
            b'n' => self.literal(b"null").map(|()| None),
            _ => None,
        }
    }

    /// An `i64` as serde_json's `deserialize_i64` reads it.
    #[inline(always)]
    fn i64(&mut self) -> Option<i64> {
        let negative = self.ws()? == b'-';
        if negative {
            self.i += 1;
        }
        let mut magnitude: u64 = 0;
        match *self.text.get(self.i)? {
            b'0' => self.i += 1,
            b'1'..=b'9' => {
                while let Some(&c @ b'0'..=b'9') = self.text.get(self.i) {
                    magnitude = magnitude
                        .checked_mul(10)?
                        .checked_add(u64::from(c - b'0'))?;
                    self.i += 1;
                }
            }
            _ => return None,
        }
        // A fraction or exponent makes a float (a type error for i64), and so does a digit after
        // a leading zero (an error of its own).
        if matches!(
            self.text.get(self.i),
            Some(b'.' | b'e' | b'E' | b'0'..=b'9')
        ) {
            return None;
        }
        if negative {
            // serde_json reads `-0` as the float -0.0, which `i64` refuses.
            if magnitude == 0 {
                return None;
            }
            0i64.checked_sub_unsigned(magnitude)
        } else {
            i64::try_from(magnitude).ok()
        }
    }

    /// A string, decoded as serde_json's `parse_str` does.
    #[inline(always)]
    fn string(&mut self) -> Option<String> {
        if self.ws()? != b'"' {
            return None;
        }
        self.string_body()
    }

    /// A string from its opening quote.
    #[inline(always)]
    fn string_body(&mut self) -> Option<String> {
        let start = self.i + 1;
        let (end, ascii) = scan(self.text, start);
        if self.text.get(end) == Some(&b'"') {
            self.i = end + 1;
            return text(self.text.get(start..end)?, ascii).map(str::to_owned);
        }
        self.str_escaped(start, end)
    }

    /// A string that has escapes, or a control character (an error): `start` is its first byte,
    /// `at` the first byte that is not plain text.
    #[cold]
    fn str_escaped(&mut self, start: usize, mut at: usize) -> Option<String> {
        let mut out = String::new();
        let mut run = start;
        loop {
            out.push_str(std::str::from_utf8(self.text.get(run..at)?).ok()?);
            match *self.text.get(at)? {
                b'"' => {
                    self.i = at + 1;
                    return Some(out);
                }
                b'\\' => {}
                _ => return None,
            }
            let c = match *self.text.get(at + 1)? {
                b'"' => '"',
                b'\\' => '\\',
                b'/' => '/',
                b'b' => '\u{8}',
                b'f' => '\u{c}',
                b'n' => '\n',
                b'r' => '\r',
                b't' => '\t',
                b'u' => {
                    let (c, len) = self.unicode_escape(at + 2)?;
                    at += len;
                    c
                }
                _ => return None,
            };
            out.push(c);
            at += 2;
            run = at;
            at = scan(self.text, at).0;
        }
    }

    /// The character of a `\u` escape whose hex digits start at `at`, with the bytes read after
    /// the `\u` beyond its four digits (6 more for a surrogate pair). A lone surrogate is an
    /// error, as in serde_json's strings.
    fn unicode_escape(&self, at: usize) -> Option<(char, usize)> {
        let n = hex4(self.text.get(at..at + 4)?)?;
        match n {
            0xDC00..=0xDFFF => None,
            0xD800..=0xDBFF => {
                if self.text.get(at + 4..at + 6)? != b"\\u" {
                    return None;
                }
                let low = hex4(self.text.get(at + 6..at + 10)?)?;
                if !(0xDC00..=0xDFFF).contains(&low) {
                    return None;
                }
                let c = 0x1_0000 + ((n - 0xD800) << 10) + (low - 0xDC00);
                Some((char::from_u32(c)?, 10))
            }
            _ => Some((char::from_u32(n)?, 4)),
        }
    }

    /// Skips one value of any shape, as serde_json's `ignore_value` checks it. The values Whop
    /// sends under keys we skip are mostly strings and nulls, taken here at once.
    #[inline(always)]
    fn skip(&mut self) -> Option<()> {
        match self.ws()? {
            b'"' => {
                self.i += 1;
                self.skip_str()
            }
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.skip_number(),
            b'[' if self.text.get(self.i + 1) == Some(&b']') => {
                self.i += 2;
                Some(())
            }
            _ => self.skip_any(),
        }
    }

    /// [`Parser::skip`] for any value. Iterative, with the open containers as bits of `stack`
    /// (1 = object), so nesting costs no Rust stack.
    fn skip_any(&mut self) -> Option<()> {
        let mut stack: u64 = 0;
        let mut depth: u32 = 0;
        loop {
            match self.ws()? {
                b'"' => {
                    self.i += 1;
                    self.skip_str()?;
                }
                open @ (b'{' | b'[') => {
                    if depth == MAX_SKIP_DEPTH {
                        return None;
                    }
                    self.i += 1;
                    let object = open == b'{';
                    let close = if object { b'}' } else { b']' };
                    if self.ws()? != close {
                        stack = stack << 1 | u64::from(object);
                        depth += 1;
                        if object {
                            self.skip_key()?;
                        }
                        continue;
                    }
                    self.i += 1;
                }
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                b'-' | b'0'..=b'9' => self.skip_number()?,
                _ => return None,
            }
            // After a value: close containers until one continues with a comma.
            loop {
                if depth == 0 {
                    return Some(());
                }
                let object = stack & 1 == 1;
                match self.ws()? {
                    b',' => {
                        self.i += 1;
                        if object {
                            self.skip_key()?;
                        }
                        break;
                    }
                    b'}' if object => {}
                    b']' if !object => {}
                    _ => return None,
                }
                self.i += 1;
                stack >>= 1;
                depth -= 1;
            }
        }
    }

    /// A key inside a skipped object, and its colon.
    fn skip_key(&mut self) -> Option<()> {
        if self.ws()? != b'"' {
            return None;
        }
        self.i += 1;
        self.skip_str()?;
        if self.ws()? != b':' {
            return None;
        }
        self.i += 1;
        Some(())
    }

    /// A skipped string, after its opening quote: serde_json's `ignore_str` checks the escapes'
    /// syntax and refuses control characters, but lets lone surrogates pass.
    fn skip_str(&mut self) -> Option<()> {
        // Not checked for UTF-8: serde_json's `ignore_str` does not either (`from_slice`).
        let mut at = scan(self.text, self.i).0;
        loop {
            match *self.text.get(at)? {
                b'"' => {
                    self.i = at + 1;
                    return Some(());
                }
                b'\\' => {}
                _ => return None,
            }
            at += match *self.text.get(at + 1)? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => 2,
                b'u' => {
                    hex4(self.text.get(at + 2..at + 6)?)?;
                    6
                }
                _ => return None,
            };
            at = scan(self.text, at).0;
        }
    }

    /// A skipped number, with serde_json's grammar (`ignore_integer` and what follows).
    #[inline(always)]
    fn skip_number(&mut self) -> Option<()> {
        if self.text.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        match *self.text.get(self.i)? {
            b'0' => self.i += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if matches!(self.text.get(self.i), Some(b'0'..=b'9')) {
            return None;
        }
        if self.text.get(self.i) == Some(&b'.') {
            self.i += 1;
            self.some_digits()?;
        }
        if matches!(self.text.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.text.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            self.some_digits()?;
        }
        Some(())
    }

    fn digits(&mut self) {
        while matches!(self.text.get(self.i), Some(b'0'..=b'9')) {
            self.i += 1;
        }
    }

    /// At least one digit.
    fn some_digits(&mut self) -> Option<()> {
        let from = self.i;
        self.digits();
        (self.i > from).then_some(())
    }
}

/// Four hex digits, either case.
fn hex4(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0, |n, &d| {
        let v = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            b'A'..=b'F' => d - b'A' + 10,
            _ => return None,
        };
        Some(n << 4 | u32::from(v))
    })
}

/// The index of the first `"`, `\` or control character at or after `i` (`b.len()` if none):
/// where a string's plain run ends; and whether the run is ASCII (every byte below 0x80), so
/// that only a run with other bytes needs its UTF-8 checked. Sixteen bytes at a time with SSE2,
/// the rest with [`scan_words`].
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
fn scan(b: &[u8], mut i: usize) -> (usize, bool) {
    let mut high = 0;
    while let Some(chunk) = b.get(i..i + 16) {
        let Ok(bytes) = <&[u8; 16]>::try_from(chunk) else {
            break;
        };
        // Sixteen bytes a step: eight at a time (`scan_words`) the full page took 8 k more
        // instructions per decode (93.7 k against 85.7 k when this was measured).
        let (found, highs) = crate::json::string_stops(bytes);
        if found != 0 {
            let at = found.trailing_zeros();
            return (i + at as usize, high | (highs & ((1 << at) - 1)) == 0);
        }
        high |= highs;
        i += 16;
    }
    let (end, ascii) = scan_words(b, i);
    (end, ascii && high == 0)
}

#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
#[inline(always)]
fn scan(b: &[u8], i: usize) -> (usize, bool) {
    scan_words(b, i)
}

/// [`scan`] eight bytes at a time: the classic "has a zero byte" bit trick, applied to the byte
/// differences; a borrow can only raise false flags above the lowest true one, so the lowest
/// flag is exact.
#[inline(always)]
fn scan_words(b: &[u8], mut i: usize) -> (usize, bool) {
    const ONES: u64 = u64::MAX / 255;
    const HIGH: u64 = ONES << 7;
    let mut high = 0;
    while let Some(chunk) = b.get(i..i + 8) {
        let Ok(bytes) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let w = u64::from_le_bytes(bytes);
        let control = w.wrapping_sub(ONES * 0x20) & !w;
        let q = w ^ (ONES * u64::from(b'"'));
        let quote = q.wrapping_sub(ONES) & !q;
        let s = w ^ (ONES * u64::from(b'\\'));
        let backslash = s.wrapping_sub(ONES) & !s;
        let found = (control | quote | backslash) & HIGH;
        if found != 0 {
            let at = found.trailing_zeros();
            // The high bits of the bytes below the one found (`at` is 8 * lane + 7).
            let below = (1u64 << (at - 7)) - 1;
            return (i + (at / 8) as usize, high | (w & HIGH & below) == 0);
        }
        high |= w & HIGH;
        i += 8;
    }
    let mut ascii = high == 0;
    while let Some(&c) = b.get(i) {
        if c < 0x20 || c == b'"' || c == b'\\' {
            break;
        }
        ascii &= c < 0x80;
        i += 1;
    }
    (i, ascii)
}

/// `bytes` as text: checked only when [`scan`] saw bytes other than ASCII.
#[inline(always)]
fn text(bytes: &[u8], ascii: bool) -> Option<&str> {
    if ascii {
        debug_assert!(bytes.is_ascii());
        // SAFETY: `scan` found every byte of the run below 0x80 (its tests compare that with a
        // plain loop): ASCII, which is UTF-8. Checking it again was 6.4 k instructions per
        // `list_messages` call (the whole page's text), for a page that is almost all ASCII.
        Some(unsafe { std::str::from_utf8_unchecked(bytes) })
    } else {
        std::str::from_utf8(bytes).ok()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use proptest::{collection::vec, sample::select};

    use super::*;

    const FIXTURE: &str = include_str!("../../tests/fixtures/full_page.json");

    /// The decoders on text (most tests build pages as strings).
    fn fast(text: &str) -> Option<Page<Message>> {
        super::fast(text.as_bytes())
    }

    fn page_of_messages(text: &str) -> serde_json::Result<Page<Message>> {
        super::page_of_messages(text.as_bytes())
    }

    /// [`sound`] for bytes that need not be UTF-8: the fast path against `from_slice`, which
    /// checks the UTF-8 of what it reads as text (keys and string values), not of skipped
    /// strings.
    fn sound_bytes(bytes: &[u8]) -> Result<(), String> {
        let theirs = serde_json::from_slice::<Page<Message>>(bytes);
        match (super::fast(bytes), theirs) {
            (Some(mine), Ok(theirs)) if format!("{mine:?}") == format!("{theirs:?}") => Ok(()),
            (Some(mine), theirs) => Err(format!(
                "{}\nfast: {mine:?}\nserde: {theirs:?}",
                String::from_utf8_lossy(bytes)
            )),
            (None, _) => Ok(()),
        }
    }

    fn serde(text: &str) -> serde_json::Result<Page<Message>> {
        serde_json::from_str(text)
    }

    /// The one way to be wrong: the fast path accepting what serde_json refuses, or reading
    /// something else. Debug output shows every field of every model.
    fn sound(text: &str) -> Result<(), String> {
        match (fast(text), serde(text)) {
            (Some(mine), Ok(theirs)) if format!("{mine:?}") == format!("{theirs:?}") => Ok(()),
            (Some(mine), Ok(theirs)) => Err(format!("{text}\nfast: {mine:?}\nserde: {theirs:?}")),
            (Some(mine), Err(e)) => Err(format!("{text}\nfast accepted {mine:?}\nserde: {e}")),
            (None, _) => Ok(()),
        }
    }

    /// Sound, and not too strict either: for pages built without the shapes the fast path
    /// leaves to serde_json (structs as arrays, deep nesting), both must agree on success.
    fn exact(text: &str) -> Result<(), String> {
        sound(text)?;
        match (fast(text).is_some(), serde(text)) {
            (false, Ok(_)) => Err(format!("{text}\nfast gave up on a page serde_json reads")),
            _ => Ok(()),
        }
    }

    #[test]
    fn the_fixture_decodes_as_serde_json_does() {
        let mine = fast(FIXTURE).expect("the fast path reads the full page");
        let theirs = serde(FIXTURE).unwrap();
        assert_eq!(format!("{mine:?}"), format!("{theirs:?}"));
        assert_eq!(mine.data.len(), 20);
        assert_eq!(
            format!("{:?}", page_of_messages(FIXTURE).unwrap()),
            format!("{theirs:?}")
        );
    }

    /// Every field the models have, each with a value that is not its default. If the models
    /// gain a field, the destructuring below (and the literals in the decoder) stop compiling;
    /// if the decoder read a key under the wrong name, the comparison with serde_json fails.
    #[test]
    fn every_model_field_is_read() {
        let text = r#"{"data":[{"id":"m1","content":"hi","created_at":"2026","is_edited":true,
            "is_pinned":true,"mentions_everyone":true,"message_type":"regular",
            "poll":{"options":[{"id":"1","text":"Morning"}]},
            "poll_votes":[{"count":-7,"option_id":"1"}],
            "reaction_counts":[{"count":9223372036854775807,"emoji":":fire:"}],
            "replying_to_message_id":"m0",
            "user":{"id":"u1","name":"Dana","username":"danaw"}}],
            "page_info":{"end_cursor":"c2","has_next_page":true}}"#;
        exact(text).unwrap();
        let Page { data, page_info } = fast(text).unwrap();
        let PageInfo {
            end_cursor,
            has_next_page,
        } = page_info;
        assert!(end_cursor.is_some() && has_next_page.is_some());
        let [message] = <[Message; 1]>::try_from(data).unwrap();
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
        } = message;
        assert!(!id.is_empty() && content.is_some() && created_at.is_some());
        assert!(is_edited && is_pinned && mentions_everyone && message_type.is_some());
        assert!(replying_to_message_id.is_some());
        let Poll { options } = poll.unwrap();
        let PollOption { id, text } = &options[0];
        assert!(!id.is_empty() && text.is_some());
        let PollVote { count, option_id } = &poll_votes[0];
        assert!(*count != 0 && option_id.is_some());
        let ReactionCount { count, emoji } = &reaction_counts[0];
        assert!(*count != 0 && emoji.is_some());
        let User { id, name, username } = user.unwrap();
        assert!(!id.is_empty() && name.is_some() && username.is_some());
    }

    /// The list's room is made from the text's length (see `MESSAGE_BYTES_AT_LEAST`); it stays
    /// below the text's own size only while a message is smaller than that many bytes.
    #[test]
    fn room_made_ahead_stays_below_the_text() {
        assert!(std::mem::size_of::<Message>() < MESSAGE_BYTES_AT_LEAST);
    }

    /// Hand-picked edges; each must be exact (same success as serde_json, same value).
    #[test]
    fn edges_agree_with_serde_json() {
        let page = |message: &str| format!(r#"{{"data":[{message}]}}"#);
        let votes = |count: &str| {
            page(&format!(
                r#"{{"id":"m","poll_votes":[{{"count":{count}}}]}}"#
            ))
        };
        for count in [
            "0",
            "-0",
            "3",
            "-3",
            "3.0",
            "1e2",
            "1E2",
            "01",
            "-01",
            "00",
            "-",
            "+1",
            "1.",
            "0.5",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "-9223372036854775809",
            "18446744073709551615",
            "18446744073709551616",
            "99999999999999999999999",
            "null",
            "\"3\"",
            "true",
        ] {
            exact(&votes(count)).unwrap();
        }
        let content = |s: &str| page(&format!(r#"{{"id":"m","content":"{s}"}}"#));
        for s in [
            r"\u00e9",
            r"\u00E9",
            r"\ud83d\ude00",
            r"\uD83D\uDE00",
            r"\ud83d",
            r"\ude00",
            r"\ud83d\u0041",
            r"\ud83dx",
            r"\ud83d\n",
            r"\u12",
            r"\u12g4",
            r"\x",
            r#"\""#,
            r"\\",
            r"\/",
            r"\b\f\n\r\t",
            r"\u0000",
            "a\u{1}b",
            "a\u{1f}",
            "a\u{7f}",
            "é😀",
            r"a\",
            "\u{2028}",
            r"\ud800\udbff",
            r"\udbff\udfff",
        ] {
            exact(&content(s)).unwrap();
        }
        for text in [
            r#"{"data":[]}"#,
            r#"{"data":null}"#,
            r#"{"data":null,"page_info":null}"#,
            r#"{"page_info":{}}"#,
            r#"{"data":[],"data":[]}"#,
            r#"{"data":[{"id":"a","id":"b"}]}"#,
            r#"{"data":[{"id":"a","x":1,"x":2}]}"#,
            r#"{"data":[{"id":"a","content":null,"content":null}]}"#,
            r#"{"data":[{}]}"#,
            r#"{"data":[{"id":null}]}"#,
            r#"{"data":[{"id":"a"},]}"#,
            r#"{"data":[{"id":"a",}]}"#,
            r#"{"data":[,]}"#,
            r#"{"data":[]} "#,
            " \t\r\n{\"data\" : [ ] , \"page_info\" : { } } \n",
            r#"{"data":[]}x"#,
            r#"{"data":[]}{}"#,
            r#"{"data":[]"#,
            r#"{"d\u0061ta":[{"\u0069d":"m"}]}"#,
            r#"{"data":[{"id":"m","\ud800":1}]}"#,
            r#"{"data":[{"id":"m","x":"\ud800"}]}"#,
            r#"{"data":[{"id":"m","x":{"\ud800":1}}]}"#,
            r#"{"data":[{"id":"m","x":"a\u0001"}]}"#,
            "{\"data\":[{\"id\":\"m\",\"x\":\"a\u{1}\"}]}",
            r#"{"data":[{"id":"m","x":[1,2,{"a":[null,true,false,-1.5e+3,0e0]}]}]}"#,
            r#"{"data":[{"id":"m","x":[1,]}]}"#,
            r#"{"data":[{"id":"m","x":{"a":1,}}]}"#,
            r#"{"data":[{"id":"m","x":{"a"}}]}"#,
            r#"{"data":[{"id":"m","x":1.}]}"#,
            r#"{"data":[{"id":"m","x":-}]}"#,
            r#"{"data":[{"id":"m","x":01}]}"#,
            r#"{"data":[{"id":"m","x":1e}]}"#,
            r#"{"data":[{"id":"m","x":nul}]}"#,
            r#"{"data":[{"id":"m","is_pinned":null,"poll":null,"poll_votes":null}]}"#,
            r#"{"data":[{"id":"m","is_pinned":1}]}"#,
            r#"{"data":[{"id":"m","poll":{"options":null}}]}"#,
            r#"{"data":[{"id":"m","poll":{"options":[{"text":"x"}]}}]}"#,
            r#"{"data":[{"id":"m","user":{"id":"u","name":null}}]}"#,
            r#"{"data":[{"id":"m","reaction_counts":[{"count":null}]}]}"#,
            r#"{"data":{},"page_info":{"end_cursor":1}}"#,
            r#"{"data":[],"page_info":{"has_next_page":null,"end_cursor":null}}"#,
            "",
            "null",
            "[]",
        ] {
            exact(text).unwrap();
        }
    }

    /// Shapes the fast path leaves to serde_json still get serde_json's answer.
    #[test]
    fn what_the_fast_path_leaves_goes_to_serde_json() {
        let deep = |n: usize| {
            format!(
                r#"{{"data":[{{"id":"m","x":{}{}}}]}}"#,
                "[".repeat(n),
                "]".repeat(n)
            )
        };
        // A struct as an array is valid for serde-derive.
        for text in [
            r#"{"data":[{"id":"m","poll":[]}]}"#.to_owned(),
            r#"{"data":[["m"]]}"#.to_owned(),
            deep(MAX_SKIP_DEPTH as usize + 1),
            deep(100_000),
        ] {
            assert!(fast(&text).is_none());
            let theirs = serde(&text).map(|p| format!("{p:?}"));
            let mine = page_of_messages(&text).map(|p| format!("{p:?}"));
            assert_eq!(
                mine.map_err(|e| e.to_string()),
                theirs.map_err(|e| e.to_string())
            );
        }
        assert!(fast(&deep(MAX_SKIP_DEPTH as usize)).is_some());
        // Error texts stay serde_json's.
        let text = r#"{"data":[{"id":"m"},]}"#;
        assert_eq!(
            page_of_messages(text).unwrap_err().to_string(),
            serde(text).unwrap_err().to_string()
        );
    }

    // ----- Generated pages. -----

    /// A JSON value to render. `Raw` is spliced in verbatim: the invalid bits (bad numbers,
    /// bad escapes, raw control characters, lone surrogates).
    #[derive(Debug, Clone)]
    enum J {
        Null,
        Bool(bool),
        Num(String),
        Str(String),
        Raw(String),
        Arr(Vec<J>),
        Obj(Vec<(String, J)>),
    }

    /// Renders with whitespace and escapes chosen by a seeded xorshift, so one tree gives many
    /// spellings, and now and then a broken separator.
    struct Render {
        out: String,
        rng: u64,
    }

    impl Render {
        fn roll(&mut self, n: u64) -> u64 {
            self.rng ^= self.rng << 13;
            self.rng ^= self.rng >> 7;
            self.rng ^= self.rng << 17;
            self.rng % n
        }

        fn ws(&mut self) {
            while self.roll(5) == 0 {
                let c = [' ', '\n', '\t', '\r'][self.roll(4) as usize];
                self.out.push(c);
            }
        }

        /// A separator, now and then doubled or missing (both errors).
        fn comma(&mut self) {
            match self.roll(400) {
                0 => self.out.push_str(",,"),
                1 => {}
                _ => self.out.push(','),
            }
        }

        /// A closing bracket, now and then after a trailing comma (an error).
        fn end(&mut self, bracket: char) {
            if self.roll(300) == 0 {
                self.out.push(',');
            }
            self.out.push(bracket);
        }

        fn hex(&mut self, n: u32) {
            let s = format!("\\u{n:04x}");
            let s = if self.roll(2) == 0 {
                s.to_uppercase().replace("\\U", "\\u")
            } else {
                s
            };
            self.out.push_str(&s);
        }

        fn string(&mut self, s: &str) {
            self.out.push('"');
            for c in s.chars() {
                let escape = self.roll(6) == 0;
                match c {
                    '"' if !escape => self.out.push_str("\\\""),
                    '\\' if !escape => self.out.push_str("\\\\"),
                    '/' if escape => self.out.push_str("\\/"),
                    '\u{8}' if !escape => self.out.push_str("\\b"),
                    '\u{c}' if !escape => self.out.push_str("\\f"),
                    '\n' if !escape => self.out.push_str("\\n"),
                    '\r' if !escape => self.out.push_str("\\r"),
                    '\t' if !escape => self.out.push_str("\\t"),
                    c if (c as u32) < 0x20 || c == '"' || c == '\\' || escape => {
                        let mut units = [0; 2];
                        for unit in c.encode_utf16(&mut units) {
                            self.hex(u32::from(*unit));
                        }
                    }
                    c => self.out.push(c),
                }
            }
            self.out.push('"');
        }

        fn value(&mut self, v: &J) {
            self.ws();
            match v {
                J::Null => self.out.push_str("null"),
                J::Bool(b) => self.out.push_str(if *b { "true" } else { "false" }),
                J::Num(s) | J::Raw(s) => self.out.push_str(s),
                J::Str(s) => self.string(s),
                J::Arr(items) => {
                    self.out.push('[');
                    for (n, item) in items.iter().enumerate() {
                        if n > 0 {
                            self.ws();
                            self.comma();
                        }
                        self.value(item);
                    }
                    self.ws();
                    self.end(']');
                }
                J::Obj(members) => {
                    self.out.push('{');
                    for (n, (key, value)) in members.iter().enumerate() {
                        if n > 0 {
                            self.ws();
                            self.comma();
                        }
                        self.ws();
                        self.string(key);
                        self.ws();
                        self.out.push(':');
                        self.value(value);
                    }
                    self.ws();
                    self.end('}');
                }
            }
            self.ws();
        }
    }

    fn render(v: &J, seed: u64) -> String {
        let mut r = Render {
            out: String::new(),
            rng: seed | 1,
        };
        r.value(v);
        r.out
    }

    fn text() -> BoxedStrategy<String> {
        let c = prop_oneof![
            4 => proptest::char::range('a', 'z'),
            2 => select(vec!['"', '\\', '/', ' ', '\u{0}', '\u{1f}', '\n', '\t', '\u{7f}']),
            2 => any::<char>(),
            1 => select(vec!['é', '😀', '\u{2028}', '\u{ffff}', '\u{10ffff}', '\u{d7ff}', '\u{e000}']),
        ];
        vec(c, 0..10)
            .prop_map(|cs| cs.into_iter().collect())
            .boxed()
    }

    /// Strings serde_json refuses as values (some of which it skips when ignored).
    fn bad_string() -> BoxedStrategy<J> {
        select(vec![
            r#""\ud800""#,
            r#""\udc00x""#,
            r#""\ud800\u0041""#,
            r#""\ud800\n""#,
            r#""\x""#,
            r#""\u12""#,
            "\"a\u{1}\"",
            "\"\t\"",
            r#""\""#,
            r#""abc"#,
        ])
        .prop_map(|s| J::Raw(s.to_owned()))
        .boxed()
    }

    fn string_value() -> BoxedStrategy<J> {
        prop_oneof![40 => text().prop_map(J::Str), 1 => bad_string()].boxed()
    }

    fn number() -> BoxedStrategy<J> {
        prop_oneof![
            8 => any::<i64>().prop_map(|n| J::Num(n.to_string())),
            8 => (0i64..20).prop_map(|n| J::Num(n.to_string())),
            1 => any::<f64>().prop_map(|f| J::Num(format!("{f:?}").replace("inf", "1e999").replace("NaN", "0.0"))),
            2 => select(vec![
                "-0", "0", "3.0", "1e2", "1E+2", "-1e-2", "0.5e1", "01", "-", "1.", "1.e5", ".5",
                "+1", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
                "-9223372036854775809", "18446744073709551615", "18446744073709551616", "1e400",
                "00", "-01", "1e", "1e+", "0x1",
            ])
            .prop_map(|s| J::Num(s.to_owned())),
        ]
        .boxed()
    }

    fn any_json() -> BoxedStrategy<J> {
        let leaf = prop_oneof![
            8 => Just(J::Null),
            8 => any::<bool>().prop_map(J::Bool),
            8 => number(),
            8 => string_value(),
            1 => select(vec!["nul", "tru", "True", "nulll", "fals"]).prop_map(|s| J::Raw(s.to_owned())),
        ];
        leaf.prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                vec(inner.clone(), 0..4).prop_map(J::Arr),
                vec((key(), inner), 0..4).prop_map(J::Obj),
            ]
        })
        .boxed()
    }

    /// A wrong value: anything but an array, which serde-derive may read as a struct (a shape
    /// the fast path leaves to serde_json), for the field or for a list's elements.
    fn not_array() -> BoxedStrategy<J> {
        any_json()
            .prop_map(|v| match v {
                J::Arr(items) => J::Obj(items.into_iter().map(|v| ("k".to_owned(), v)).collect()),
                v => v,
            })
            .boxed()
    }

    fn key() -> BoxedStrategy<String> {
        prop_oneof![
            2 => select(vec![
                "mentions", "updated_at", "view_count", "x", "", "ID", "Id", "id ", "counts",
            ])
            .prop_map(str::to_owned),
            1 => text(),
        ]
        .boxed()
    }

    /// Which of a struct's fields a generated object holds.
    enum Kind {
        /// An array of scalars is fine as a wrong value.
        Plain,
        /// Struct-typed: no arrays (see [`not_array`]).
        Struct,
    }

    /// An object with each known field absent, null, valid or wrong, unknown members, maybe a
    /// repeated member, in a shuffled order.
    fn object(fields: Vec<(&'static str, BoxedStrategy<J>, Kind)>) -> BoxedStrategy<J> {
        let known: Vec<_> = fields
            .into_iter()
            .map(|(name, valid, kind)| {
                let wrong = match kind {
                    Kind::Plain => prop_oneof![
                        4 => not_array(),
                        1 => Just(J::Arr(vec![J::Num("1".to_owned()), J::Null])),
                    ]
                    .boxed(),
                    Kind::Struct => not_array(),
                };
                prop_oneof![
                    2 => Just(None),
                    1 => Just(Some((name.to_owned(), J::Null))),
                    20 => valid.prop_map(move |v| Some((name.to_owned(), v))),
                    1 => wrong.prop_map(move |v| Some((name.to_owned(), v))),
                ]
                .boxed()
            })
            .collect();
        (known, vec((key(), any_json()), 0..3), any::<u8>())
            .prop_flat_map(|(known, unknown, repeat)| {
                let mut all: Vec<(String, J)> =
                    known.into_iter().flatten().chain(unknown).collect();
                if repeat < 6 && !all.is_empty() {
                    let again = all[usize::from(repeat) % all.len()].clone();
                    all.push(again);
                }
                Just(all).prop_shuffle()
            })
            .prop_map(J::Obj)
            .boxed()
    }

    fn list(element: BoxedStrategy<J>) -> BoxedStrategy<J> {
        vec(prop_oneof![30 => element, 1 => not_array()], 0..3)
            .prop_map(J::Arr)
            .boxed()
    }

    fn boolean() -> BoxedStrategy<J> {
        any::<bool>().prop_map(J::Bool).boxed()
    }

    fn message() -> BoxedStrategy<J> {
        use Kind::{Plain, Struct};
        let user = object(vec![
            ("id", string_value(), Plain),
            ("name", string_value(), Plain),
            ("username", string_value(), Plain),
        ]);
        let option = object(vec![
            ("id", string_value(), Plain),
            ("text", string_value(), Plain),
        ]);
        let poll = object(vec![("options", list(option), Plain)]);
        let vote = object(vec![
            ("count", number(), Plain),
            ("option_id", string_value(), Plain),
        ]);
        let reaction = object(vec![
            ("count", number(), Plain),
            ("emoji", string_value(), Plain),
        ]);
        object(vec![
            ("id", string_value(), Plain),
            ("content", string_value(), Plain),
            ("created_at", string_value(), Plain),
            ("is_edited", boolean(), Plain),
            ("is_pinned", boolean(), Plain),
            ("mentions_everyone", boolean(), Plain),
            ("message_type", string_value(), Plain),
            ("poll", poll, Struct),
            ("poll_votes", list(vote), Plain),
            ("reaction_counts", list(reaction), Plain),
            ("replying_to_message_id", string_value(), Plain),
            ("user", user, Struct),
        ])
    }

    fn page() -> BoxedStrategy<J> {
        use Kind::{Plain, Struct};
        let info = object(vec![
            ("end_cursor", string_value(), Plain),
            ("has_next_page", boolean(), Plain),
        ]);
        let data = vec(prop_oneof![30 => message(), 1 => not_array()], 0..4).prop_map(J::Arr);
        object(vec![
            ("data", data.boxed(), Plain),
            ("page_info", info, Struct),
        ])
    }

    /// One edit to a page's text, at a position given as a fraction of its length: of the whole
    /// text, or (`near_syntax`) of the places where JSON's syntax is, so that most edits land
    /// where a decoder can go wrong (a comma before a bracket, a digit after a zero, a broken
    /// escape) rather than inside long strings.
    #[derive(Debug, Clone)]
    struct Edit {
        op: Op,
        at: proptest::sample::Index,
        near_syntax: bool,
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(char),
        Delete,
        Replace(char),
    }

    fn edit() -> impl Strategy<Value = Edit> {
        let c = select(vec![
            '{', '}', '[', ']', ',', ':', '"', '\\', 'u', 'n', 'e', '.', '-', '0', '9', ' ', '\n',
            '\u{1}', 'é', 'x', 'E', '+', 'd', 'D',
        ]);
        let op = prop_oneof![
            c.clone().prop_map(Op::Insert),
            Just(Op::Delete),
            c.prop_map(Op::Replace),
        ];
        (op, any::<proptest::sample::Index>(), any::<bool>()).prop_map(|(op, at, near_syntax)| {
            Edit {
                op,
                at,
                near_syntax,
            }
        })
    }

    fn apply(text: &str, edits: &[Edit]) -> String {
        let mut chars: Vec<char> = text.chars().collect();
        for e in edits {
            let syntax: Vec<usize> = (0..chars.len())
                .filter(|&n| "{}[],:\"\\-0123456789.eEtfnu".contains(chars[n]))
                .collect();
            let at = if e.near_syntax && !syntax.is_empty() {
                syntax[e.at.index(syntax.len())]
            } else {
                e.at.index(chars.len() + 1)
            };
            match e.op {
                Op::Insert(c) => chars.insert(at.min(chars.len()), c),
                Op::Delete if at < chars.len() => {
                    chars.remove(at);
                }
                Op::Replace(c) if at < chars.len() => chars[at] = c,
                _ => {}
            }
        }
        chars.into_iter().collect()
    }

    proptest! {
        /// Both string scanners stop where a byte-at-a-time loop does, from any start.
        #[test]
        fn scanners_agree_with_a_plain_loop(
            bytes in vec(select(vec![b'a', b' ', b'"', b'\\', 0, 0x1f, 0x20, 0x7f, 0x80, 0xe9, 0xff]), 0..80),
        ) {
            for start in 0..=bytes.len() {
                let end = bytes[start..]
                    .iter()
                    .position(|&c| c < 0x20 || c == b'"' || c == b'\\')
                    .map_or(bytes.len(), |n| start + n);
                let plain = (end, bytes[start..end].is_ascii());
                prop_assert_eq!(scan(&bytes, start), plain);
                prop_assert_eq!(scan_words(&bytes, start), plain);
            }
        }

        /// Bytes that are not UTF-8, anywhere in a page (keys, values, skipped strings): the
        /// fast path never reads as text what `from_slice` refuses.
        #[test]
        fn pages_that_are_not_utf8_stay_sound(
            tree in page(),
            seed in any::<u64>(),
            bad in vec((any::<prop::sample::Index>(), select(vec![0x80u8, 0xC3, 0xE9, 0xFF, 0xED])), 1..4),
        ) {
            let mut bytes = render(&tree, seed).into_bytes();
            for (at, byte) in bad {
                let at = at.index(bytes.len() + 1);
                bytes.insert(at, byte);
            }
            prop_assert!(sound_bytes(&bytes).is_ok(), "{}", sound_bytes(&bytes).unwrap_err());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

        /// Generated pages: both decoders agree on success and on the value.
        #[test]
        fn generated_pages_agree(tree in page(), seed in any::<u64>()) {
            let text = render(&tree, seed);
            prop_assert!(exact(&text).is_ok(), "{}", exact(&text).unwrap_err());
        }

        /// Edited pages (generated ones, and the fixture): whatever the fast path accepts,
        /// serde_json accepts with the same value.
        #[test]
        fn edited_pages_stay_sound(
            tree in page(),
            seed in any::<u64>(),
            use_fixture in any::<bool>(),
            edits in vec(edit(), 1..4),
        ) {
            let base = if use_fixture { FIXTURE.to_owned() } else { render(&tree, seed) };
            let text = apply(&base, &edits);
            prop_assert!(sound(&text).is_ok(), "{}", sound(&text).unwrap_err());
        }
    }

    /// Decodes (and drops) the fixture `DECODE_N` times (default 200) with `DECODE=serde` or the
    /// fast path, for callgrind: the difference between two counts, divided by the difference in
    /// N, is the cost of one decode. Build with `cargo test --release --locked --no-run`, then
    /// `DECODE=fast DECODE_N=600 valgrind --tool=callgrind TEST_BINARY --ignored
    /// whop::decode::tests::bench_decode --exact` (and N=100, and `DECODE=serde`).
    #[test]
    #[ignore = "a measurement, run under callgrind"]
    fn bench_decode() {
        let n: usize = std::env::var("DECODE_N")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(200);
        let serde_path = std::env::var("DECODE").is_ok_and(|d| d == "serde");
        for _ in 0..n {
            let text = std::hint::black_box(FIXTURE);
            let page = if serde_path {
                serde(text).ok()
            } else {
                fast(text)
            };
            assert_eq!(std::hint::black_box(page).map(|p| p.data.len()), Some(20));
        }
    }
}
