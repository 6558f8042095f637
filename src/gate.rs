//! The exit gate: the last step of everything the server sends — tool results (text and
//! `structuredContent`), resources, prompts, notifications, errors and logs. It scrubs the
//! API key, and any piece of it, whatever put it there (Whop echoing it, another member
//! posting it, a bug).
//!
//! It runs after the cleaning of untrusted text, and it matches across what a hostile writer
//! could insert to split the key: invisible characters, line breaks and the indentation or
//! `⏎` that renderings put in their place. Any run of [`PIECE`] or more characters that is
//! part of the key is replaced, so a key cut short by a length limit, or shown in two halves,
//! leaks no piece of itself either.

use std::{borrow::Cow, collections::HashMap, io, sync::Arc};

use rmcp::model::{
    CallToolResult, ContentBlock, ErrorData, GetPromptResult, ReadResourceResult, ResourceContents,
};
use serde_json::Value;

use crate::{json, output::text::is_hidden, whop::Secret};

/// Shortest piece of the key that is scrubbed (and so the shortest key the gate protects: a
/// shorter "key" would match ordinary text).
pub(crate) const PIECE: usize = 8;
const REDACTED: &str = "[redacted]";

/// Removes one secret from outgoing data. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Gate {
    key: Option<Arc<Pattern>>,
}

/// The key, indexed by its pieces.
#[derive(Debug)]
struct Pattern {
    chars: Vec<char>,
    /// Whether every character of the key is ASCII.
    ascii: bool,
    /// What each byte is ([`SKIPPED`], [`IN_KEY`], [`WIDE`]), and the key's ASCII pairs of
    /// neighbours (bit `b % 64` of `pairs[a][b / 64]`: `a` directly followed by `b` somewhere
    /// in the key), as tables: the fast path runs a few loads per byte it looks at instead of
    /// a scan of the key.
    bytes: Box<[u8; 256]>,
    pairs: Box<[[u64; 2]; 128]>,
    /// Bit `b % 64` of `breaks[a][b / 64]`, for any two bytes: where `a` is directly
    /// followed by `b`, no run goes over both, as both count (ASCII, not [`inserted`]) and
    /// `b` does not follow `a` in the key (or either is not in it). One load for what
    /// [`Pattern::link`] finds when nothing is skipped, the common case.
    breaks: Box<[[u64; 4]; 256]>,
    /// Every `PIECE`-character window of the key → where it starts in the key.
    windows: HashMap<[char; PIECE], Vec<usize>>,
}

impl Pattern {
    fn contains(&self, c: char) -> bool {
        if c.is_ascii() {
            self.bytes[c as usize] & IN_KEY != 0
        } else {
            // An ASCII key (Whop's are) holds no other character: no search.
            !self.ascii && self.chars.contains(&c)
        }
    }

    /// Whether `s` may hold a piece of the key: PIECE characters (inserted ones aside) each
    /// of which follows the one before it in the key.
    ///
    /// From any point `i` where no run is under way, a run that starts at or before
    /// `j = i + PIECE - 2` ends at or after `j + 1` (PIECE characters span at least PIECE
    /// bytes), so it holds both the last character that counts at or before `j` and the first
    /// one after it, as neighbours. When those two cannot be neighbours in a run
    /// ([`Pattern::link`]), no run starts before the second one and the scan jumps there:
    /// ordinary text is checked about once in `PIECE - 1` bytes, spaces or not. Elsewhere
    /// [`Pattern::scan`] reads character by character.
    fn possible(&self, s: &str) -> bool {
        let bytes = s.as_bytes();
        // No run is under way at `i` (a fresh start there gives the same answer).
        let mut i = 0;
        loop {
            let j = i + PIECE - 2;
            if j + 1 >= bytes.len() {
                // Fewer than PIECE bytes left: no room for a run.
                return false;
            }
            // A byte that counts and is not in the key ends every run over it, and every run
            // that starts at or before it (from `i` on) goes over it: one load settles eight
            // bytes, often enough to try before the pair.
            if self.bytes[usize::from(bytes[j + 1])] & (SKIPPED | IN_KEY | WIDE) == 0 {
                i = j + 2;
                continue;
            }
            // What `link` answers when neither byte is skipped (`q = j`, `r = j + 1`).
            if self.breaks(bytes[j], bytes[j + 1]) {
                i = j + 1;
                continue;
            }
            match self.link(bytes, i, j) {
                Link::Breaks(next) => {
                    i = next;
                    continue;
                }
                Link::End => return false,
                Link::Unknown => {}
            }
            match self.scan(s, i, j + 1) {
                Ok(fresh) => i = fresh,
                Err(found) => return found,
            }
        }
    }

    /// Whether a run can start in `i..=j`: looks at `q`, the last byte at or before `j` (and
    /// not before `i`) that counts, and `r`, the first one after `j`, skipping inserted ASCII
    /// bytes. A run that starts in `i..=j` holds both, one after the other, so it cannot exist
    /// when either is not in the key or `r` never follows `q` in it; nor when no byte in
    /// `i..=j` counts. Then the next run can only start at `r` (`Breaks(r)`), or nowhere when
    /// nothing after `j` counts (`End`). Non-ASCII bytes on the way (which may be inserted
    /// characters or characters that count) give `Unknown`: the caller reads them properly.
    fn link(&self, bytes: &[u8], i: usize, j: usize) -> Link {
        let class = |k: usize| self.bytes[usize::from(bytes[k])];
        let mut r = j + 1;
        while r < bytes.len() && class(r) & SKIPPED != 0 {
            r += 1;
        }
        if r == bytes.len() {
            return Link::End;
        }
        let mut q = j;
        while class(q) & SKIPPED != 0 {
            if q == i {
                return Link::Breaks(r);
            }
            q -= 1;
        }
        let (a, b) = (class(q), class(r));
        if (a | b) & WIDE != 0 {
            return Link::Unknown;
        }
        if a & b & IN_KEY == 0 {
            return Link::Breaks(r);
        }
        if self.follows_ascii(bytes[q], bytes[r]) {
            Link::Unknown
        } else {
            Link::Breaks(r)
        }
    }

    #[inline]
    fn breaks(&self, a: u8, b: u8) -> bool {
        self.breaks[usize::from(a)][usize::from(b >> 6)] >> (b & 63) & 1 == 1
    }

    fn follows_ascii(&self, a: u8, b: u8) -> bool {
        self.pairs[usize::from(a & 0x7F)][usize::from(b >> 6 & 1)] >> (b & 63) & 1 == 1
    }

    /// The exact run count from `from` (a char boundary where no run is under way):
    /// `Err(true)` at a run of PIECE, `Err(false)` at the end, or `Ok(k)` for the first
    /// character at or after `after` where the run starts over, so none is under way there.
    fn scan(&self, s: &str, from: usize, after: usize) -> Result<usize, bool> {
        let mut run = 0usize;
        let mut last: Option<char> = None;
        for (k, c) in s[from..].char_indices() {
            if inserted(c) {
                continue;
            }
            match last {
                Some(a) if self.follows(a, c) => run += 1,
                _ => {
                    if from + k >= after {
                        return Ok(from + k);
                    }
                    run = usize::from(self.contains(c));
                }
            }
            if run >= PIECE {
                return Err(true);
            }
            last = Some(c);
        }
        Err(false)
    }

    /// Whether `b` directly follows `a` somewhere in the key.
    fn follows(&self, a: char, b: char) -> bool {
        if a.is_ascii() && b.is_ascii() {
            self.follows_ascii(a as u8, b as u8)
        } else {
            !self.ascii && self.chars.windows(2).any(|w| w[0] == a && w[1] == b)
        }
    }
}

/// Byte classes of [`Pattern`]: an ASCII character that matching skips ([`inserted`]), an
/// ASCII character of the key, and a byte of a non-ASCII character.
const SKIPPED: u8 = 1;
const IN_KEY: u8 = 2;
const WIDE: u8 = 4;

/// What [`Pattern::link`] found.
enum Link {
    /// No run starts before this byte offset (a char boundary).
    Breaks(usize),
    /// No run starts anywhere from here on.
    End,
    /// A run may start: count character by character.
    Unknown,
}

/// Characters a writer or a rendering may have put inside the key: skipped while matching.
fn inserted(c: char) -> bool {
    if c.is_ascii() {
        // The same answer without the Unicode tables: no ASCII character is default-ignorable,
        // and the ASCII whitespace other than ' ' are control characters.
        return c <= ' ' || c == '\u{7F}';
    }
    c.is_whitespace() || c.is_control() || is_hidden(c) || c == '⏎'
}

impl Gate {
    pub fn new(key: Option<&Secret>) -> Self {
        let key = key.map(|k| k.expose().chars().collect::<Vec<char>>());
        let key = key.filter(|k| k.len() >= PIECE).map(|chars| {
            let mut windows: HashMap<[char; PIECE], Vec<usize>> = HashMap::new();
            for (i, w) in chars.windows(PIECE).enumerate() {
                let w: [char; PIECE] = w.try_into().expect("a window has PIECE chars");
                windows.entry(w).or_default().push(i);
            }
            let mut bytes = Box::new([0u8; 256]);
            for (b, class) in bytes.iter_mut().enumerate() {
                let b = b as u8;
                *class = if b >= 0x80 {
                    WIDE
                } else if inserted(char::from(b)) {
                    SKIPPED
                } else if chars.contains(&char::from(b)) {
                    IN_KEY
                } else {
                    0
                };
            }
            let mut pairs = Box::new([[0u64; 2]; 128]);
            for w in chars.windows(2) {
                if let (Ok(a), Ok(b)) = (u8::try_from(w[0]), u8::try_from(w[1]))
                    && a.is_ascii()
                    && b.is_ascii()
                {
                    pairs[usize::from(a)][usize::from(b >> 6)] |= 1 << (b & 63);
                }
            }
            // Bytes that count (ASCII, not skipped); a row of `breaks` is those that do not
            // follow its byte in the key, from the pairs (the key's pairs of bytes that count
            // are all ASCII pairs).
            let mut counting = [0u64; 4];
            for (b, class) in bytes.iter().enumerate() {
                if class & (SKIPPED | WIDE) == 0 {
                    counting[b / 64] |= 1 << (b % 64);
                }
            }
            let mut breaks = Box::new([[0u64; 4]; 256]);
            for (a, row) in breaks.iter_mut().enumerate().take(128) {
                if counting[a / 64] >> (a % 64) & 1 == 1 {
                    for (w, bits) in row.iter_mut().enumerate() {
                        let follows = pairs[a].get(w).copied().unwrap_or(0);
                        *bits = counting[w] & !follows;
                    }
                }
            }
            Arc::new(Pattern {
                ascii: chars.iter().all(char::is_ascii),
                chars,
                bytes,
                pairs,
                breaks,
                windows,
            })
        });
        Gate { key }
    }

    /// `s` with every piece of the key replaced by `[redacted]`.
    #[inline]
    pub(crate) fn scrub<'a>(&self, s: &'a str) -> Cow<'a, str> {
        // Most strings of an answer (ids, times, flags, keys) are shorter than a piece: they
        // are settled here, without a call.
        match &self.key {
            Some(key) if s.len() >= PIECE => key.scrub(s),
            _ => Cow::Borrowed(s),
        }
    }
}

impl Pattern {
    /// [`Gate::scrub`] of a string long enough to hold a piece.
    #[inline]
    fn scrub<'a>(&self, s: &'a str) -> Cow<'a, str> {
        // Fast path: a piece is PIECE characters (inserted ones aside) each of which follows
        // the one before it in the key. Ordinary text, even text made of the key's letters,
        // rarely has more than two or three such neighbours in a row, so this linear scan with
        // bit tests answers for nearly every string and the exact search rarely runs. It is a
        // cold function of its own, so that the fast path does not pay for setting up its
        // frame.
        if !self.possible(s) {
            return Cow::Borrowed(s);
        }
        self.redact(s)
    }

    /// The exact search behind [`Pattern::scrub`]'s fast path.
    #[cold]
    #[inline(never)]
    fn redact<'a>(&self, s: &'a str) -> Cow<'a, str> {
        // The characters that count, with their byte ranges in `s`.
        let kept: Vec<(char, usize, usize)> = s
            .char_indices()
            .filter(|(_, c)| !inserted(*c))
            .map(|(i, c)| (c, i, i + c.len_utf8()))
            .collect();
        let mut spans: Vec<(usize, usize)> = Vec::new();
        let mut i = 0;
        while i + PIECE <= kept.len() {
            let mut window = ['\0'; PIECE];
            for (w, k) in window.iter_mut().zip(&kept[i..i + PIECE]) {
                *w = k.0;
            }
            let longest = self.windows.get(&window).and_then(|starts| {
                starts
                    .iter()
                    .map(|&at| {
                        PIECE
                            + kept[i + PIECE..]
                                .iter()
                                .zip(&self.chars[at + PIECE..])
                                .take_while(|(k, c)| k.0 == **c)
                                .count()
                    })
                    .max()
            });
            match longest {
                Some(len) => {
                    spans.push((kept[i].1, kept[i + len - 1].2));
                    i += len;
                }
                None => i += 1,
            }
        }
        if spans.is_empty() {
            return Cow::Borrowed(s);
        }
        let mut out = String::with_capacity(s.len());
        let mut at = 0;
        for (start, end) in spans {
            out.push_str(&s[at..start]);
            out.push_str(REDACTED);
            at = end;
        }
        out.push_str(&s[at..]);
        Cow::Owned(out)
    }
}

impl json::Scrub for Gate {
    fn scrub<'s>(&self, s: &'s str) -> Cow<'s, str> {
        Gate::scrub(self, s)
    }
}

impl Gate {
    fn scrub_in_place(&self, s: &mut String) {
        if let Cow::Owned(clean) = self.scrub(s) {
            *s = clean;
        }
    }

    /// `structuredContent` for `value`, every string of it through the gate as it is
    /// encoded (see [`json::structured`]).
    pub(crate) fn structured<T: ?Sized + serde::Serialize>(
        &self,
        value: &T,
    ) -> Result<Value, serde_json::Error> {
        json::structured(value, self)
    }

    /// [`Gate::structured`] for a type with an encoder of its own.
    pub(crate) fn structured_encoded<T: ?Sized + json::Encode>(
        &self,
        value: &T,
    ) -> Result<Value, serde_json::Error> {
        json::structured_encoded(value, self)
    }

    /// Every string in a JSON value (keys included).
    pub(crate) fn value(&self, v: &mut Value) {
        if self.key.is_none() {
            return;
        }
        match v {
            Value::String(s) => self.scrub_in_place(s),
            Value::Array(items) => items.iter_mut().for_each(|i| self.value(i)),
            Value::Object(map) => {
                // One pass over the members; the keys are rewritten only in the rare map
                // that has a piece of the key in one of them.
                let mut keys_clean = true;
                for (k, v) in map.iter_mut() {
                    keys_clean &= matches!(self.scrub(k), Cow::Borrowed(_));
                    self.value(v);
                }
                if !keys_clean {
                    let old = std::mem::take(map);
                    for (k, v) in old {
                        map.insert(self.scrub(&k).into_owned(), v);
                    }
                }
            }
            _ => {}
        }
    }

    fn content(&self, block: &mut ContentBlock) {
        match block {
            ContentBlock::Text(t) => self.scrub_in_place(&mut t.text),
            // Other blocks (images, links, embedded resources) go through their JSON form.
            other => {
                if let Ok(mut v) = serde_json::to_value(&*other) {
                    self.value(&mut v);
                    if let Ok(clean) = serde_json::from_value(v) {
                        *other = clean;
                    }
                }
            }
        }
    }

    /// A tool result: its text blocks and `structuredContent`.
    pub(crate) fn result(&self, result: &mut CallToolResult) {
        if self.key.is_none() {
            return;
        }
        result.content.iter_mut().for_each(|b| self.content(b));
        // Made by [`Gate::structured`] (every tool's), its strings were scrubbed as it was
        // encoded: here they are escaped JSON, where a key split by a line break no longer
        // looks split.
        if let Some(s) = &mut result.structured_content
            && json::structured_json(s).is_none()
        {
            self.value(s);
        }
    }

    /// A resource's contents.
    pub(crate) fn resource(&self, result: &mut ReadResourceResult) {
        if self.key.is_none() {
            return;
        }
        for contents in &mut result.contents {
            if let ResourceContents::TextResourceContents { text, uri, .. } = contents {
                self.scrub_in_place(text);
                self.scrub_in_place(uri);
            }
        }
    }

    /// A prompt's messages (they repeat their arguments).
    pub(crate) fn prompt(&self, result: &mut GetPromptResult) {
        if self.key.is_none() {
            return;
        }
        if let Some(d) = &mut result.description {
            self.scrub_in_place(d);
        }
        result
            .messages
            .iter_mut()
            .for_each(|m| self.content(&mut m.content));
    }

    /// A protocol error: its message and data.
    pub(crate) fn error(&self, mut e: ErrorData) -> ErrorData {
        if self.key.is_some() {
            if let Cow::Owned(m) = self.scrub(&e.message) {
                e.message = m.into();
            }
            if let Some(d) = &mut e.data {
                self.value(d);
            }
        }
        e
    }
}

/// A log writer that passes each line through the gate before stderr.
#[derive(Clone)]
pub struct Stderr(pub Gate);

impl io::Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        io::stderr().write_all(self.0.scrub(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Stderr {
    type Writer = Stderr;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::text::{clean, indent, inline};
    use proptest::prelude::*;
    use serde_json::json;

    const KEY: &str = "apik_RedTeamKey_9f8e7d6c5b4a";

    fn gate() -> Gate {
        Gate::new(Some(&Secret::new(KEY)))
    }

    /// The first piece of `key` found in `s`, if any.
    fn leak(s: &str, key: &str) -> Option<String> {
        let k: Vec<char> = key.chars().collect();
        k.windows(PIECE)
            .map(|w| w.iter().collect::<String>())
            .find(|w| s.contains(w.as_str()))
    }

    #[test]
    fn the_key_is_scrubbed_from_results() {
        let mut r =
            CallToolResult::error(vec![ContentBlock::text(format!("bad key {KEY} echoed"))]);
        r.structured_content = Some(json!({"a": [format!("x {KEY}")], "b": 1, KEY: true}));
        gate().result(&mut r);
        let s = serde_json::to_string(&r).unwrap();
        assert!(leak(&s, KEY).is_none() && s.contains("[redacted]"), "{s}");
    }

    #[test]
    fn structured_content_is_scrubbed_as_it_is_encoded() {
        #[derive(serde::Serialize)]
        struct Out {
            text: String,
            keys: std::collections::BTreeMap<String, u8>,
        }
        let out = Out {
            // Split by a line break, which the encoded JSON shows as `\n`: the gate must see
            // the string, not its JSON.
            text: "posted: apik_RedTe\namKey_9f8e7d6c5b4a".into(),
            keys: [(KEY.to_owned(), 1)].into(),
        };
        let g = gate();
        let mut r = CallToolResult::success(vec![ContentBlock::text("ok")]);
        r.structured_content = Some(g.structured(&out).unwrap());
        // The gate over the result leaves the encoded JSON as it is...
        let before = r.structured_content.clone();
        g.result(&mut r);
        assert_eq!(r.structured_content, before);
        // ...which holds no piece of the key.
        let mut value = r.structured_content.unwrap();
        json::expand(&mut value).unwrap();
        let s = value.to_string();
        assert!(
            leak(&s, KEY).is_none() && !s.contains("apik_RedTe\\n"),
            "{s}"
        );
        assert_eq!(value["text"], "posted: [redacted]");
        assert_eq!(value["keys"], json!({"[redacted]": 1}));
    }

    #[test]
    fn a_split_or_cut_key_leaks_no_piece() {
        let g = gate();
        for hidden in [
            "apik_RedTe\u{200B}amKey_9f8e7d6c5b4a".to_owned(),
            "apik_RedTe\u{E0041}amKey_9f8e7d6c5b4a".to_owned(),
            "apik_RedTe\ramKey_9f8e7d6c5b4a".to_owned(),
            format!("{}apik_RedTeamKey_9f", "x".repeat(990)),
            "apik_RedTe\u{FE0F}\u{200D}amKey_9f8e7d6c5b4a".to_owned(),
        ] {
            for shown in [
                clean(&hidden),
                inline(&hidden),
                indent(&clean(&hidden), 1000),
            ] {
                let out = g.scrub(&shown);
                assert_eq!(leak(&out, KEY), None, "{shown:?} -> {out:?}");
                assert!(out.contains("[redacted]"), "{out:?}");
            }
        }
        // Text around the key is untouched; text without it is not copied.
        assert_eq!(g.scrub(&format!("my key: {KEY}!")), "my key: [redacted]!");
        assert!(matches!(g.scrub("apik_Re is short"), Cow::Borrowed(_)));
        assert!(matches!(Gate::new(None).scrub(KEY), Cow::Borrowed(_)));
    }

    #[test]
    fn the_ascii_shortcuts_agree_with_the_general_rules() {
        for c in (0u8..128).map(char::from) {
            let general = c.is_whitespace() || c.is_control() || is_hidden(c);
            assert_eq!(inserted(c), general, "{c:?}");
        }
        let g = gate();
        let key = g.key.as_ref().unwrap();
        let chars: Vec<char> = KEY.chars().collect();
        for a in (0u8..128).map(char::from) {
            assert_eq!(key.contains(a), chars.contains(&a), "{a:?}");
            for b in (0u8..128).map(char::from) {
                let general = chars.windows(2).any(|w| w == [a, b]);
                assert_eq!(key.follows(a, b), general, "{a:?}{b:?}");
            }
        }
        for a in 0..=u8::MAX {
            for b in 0..=u8::MAX {
                let counts = |c: u8| c.is_ascii() && !inserted(char::from(c));
                let linked = chars
                    .windows(2)
                    .any(|w| w == [char::from(a), char::from(b)]);
                let breaks = counts(a) && counts(b) && !linked;
                assert_eq!(key.breaks(a, b), breaks, "{a:#x} {b:#x}");
            }
        }
        // Text made of the key's letters, but not in the key's order, takes the fast path.
        let letters: String = chars.iter().rev().collect();
        assert!(matches!(g.scrub(&letters), Cow::Borrowed(_)));
    }

    #[test]
    fn errors_and_prompts_pass_the_gate() {
        let e = gate().error(ErrorData::invalid_params(
            format!("bad {KEY}"),
            Some(json!({"echo": KEY})),
        ));
        let s = serde_json::to_string(&e).unwrap();
        assert_eq!(leak(&s, KEY), None, "{s}");
    }

    /// The run count character by character from the start, as the gate's fast path was
    /// first written: the reference for the skipping scan.
    #[test]
    fn membership_and_neighbours_match_the_key_whatever_its_characters() {
        for key in ["apik_fakeWhopBench_3kT9xQ2mLp7vR", "ключ_Ab12Cd34é€😀x"] {
            let gate = Gate::new(Some(&Secret::new(key)));
            let pattern = gate.key.as_ref().unwrap();
            let chars: Vec<char> = key.chars().collect();
            let probes: Vec<char> = chars
                .iter()
                .copied()
                .chain("aZ09_ é€😀кл\u{200B}⏎ключ".chars())
                .collect();
            for &a in &probes {
                assert_eq!(pattern.contains(a), chars.contains(&a), "{key}: {a:?}");
                for &b in &probes {
                    let want = chars.windows(2).any(|w| w[0] == a && w[1] == b);
                    assert_eq!(pattern.follows(a, b), want, "{key}: {a:?} then {b:?}");
                }
            }
        }
    }

    fn possible_plain(key: &Pattern, s: &str) -> bool {
        let mut run = 0;
        let mut last: Option<char> = None;
        for c in s.chars().filter(|c| !inserted(*c)) {
            run = match last {
                Some(a) if key.follows(a, c) => run + 1,
                _ => usize::from(key.contains(c)),
            };
            if run >= PIECE {
                return true;
            }
            last = Some(c);
        }
        false
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn the_skipping_scan_agrees_with_the_plain_one(
            key in "[A-Za-z0-9_]{8,40}",
            parts in proptest::collection::vec(prop_oneof![
                "[a-z ]{0,12}",
                "[ -~]{0,6}",
                Just("\u{200B}".to_owned()),
                Just("é⏎ ".to_owned()),
                Just("\t\n\r".to_owned()),
                " {1,24}",
                "[\u{7f} ]{1,3}",
            ], 0..12),
            cuts in proptest::collection::vec((0usize..48, 1usize..48, 0usize..3), 0..6),
        ) {
            // Text made of pieces of the key (so that runs are common) and of other text.
            let chars: Vec<char> = key.chars().collect();
            let mut s = String::new();
            for (i, part) in parts.iter().enumerate() {
                s.push_str(part);
                if let Some((at, len, gap)) = cuts.get(i) {
                    // A piece of the key, with spaces between its characters when `gap` > 0
                    // (they do not count, so the piece still matches).
                    let at = at % chars.len();
                    for c in &chars[at..(at + len).min(chars.len())] {
                        s.push(*c);
                        s.extend(std::iter::repeat_n(' ', *gap));
                    }
                }
            }
            let g = Gate::new(Some(&Secret::new(&key)));
            let pattern = g.key.as_ref().unwrap();
            prop_assert_eq!(pattern.possible(&s), possible_plain(pattern, &s), "{:?}", s);
        }

        #[test]
        fn no_piece_of_a_key_survives_any_insertion(
            key in "[A-Za-z0-9_]{8,48}",
            inserts in proptest::collection::vec((0usize..64, prop::sample::select(vec![
                '\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}', '\u{FEFF}', '\u{00AD}', '\u{202E}',
                '\u{2066}', '\u{FE0F}', '\u{FE00}', '\u{E0041}', '\u{E0100}', '\u{034F}', '\u{115F}',
                '\u{3164}', '\u{180B}', '\u{1D173}', '\r', '\n', '\u{2028}', '\u{0007}', '\t',
            ])), 0..8),
            prefix in "[ a-z.]{0,12}",
        ) {
            let mut chars: Vec<char> = key.chars().collect();
            for (at, c) in inserts {
                let at = at % (chars.len() + 1);
                chars.insert(at, c);
            }
            let hidden = format!("{prefix}{}", chars.iter().collect::<String>());
            let g = Gate::new(Some(&Secret::new(&key)));
            for shown in [clean(&hidden), inline(&hidden), indent(&clean(&hidden), 1000), indent(&clean(&hidden), 20)] {
                let out = g.scrub(&shown);
                prop_assert!(leak(&out, &key).is_none(), "{:?} -> {:?}", shown, out);
                let mut v = json!({"content": shown});
                g.value(&mut v);
                prop_assert!(leak(&v.to_string(), &key).is_none());
            }
        }
    }
}
