//! JSON for the stdio answers: the same bytes as `serde_json::to_vec` (compact form), for less
//! CPU.
//!
//! serde_json checks a string one byte at a time and hands every unescaped run to `io::Write`
//! on its own; a 9 KB `list_messages` answer costs about 1,900 such writes, most of its
//! serialisation time. This serializer tests eight bytes at once (SWAR on a `u64`), reserves
//! room for a string once and copies each unescaped run with one `extend_from_slice`, so a
//! string without escapes is a single copy. Measured with callgrind on that answer (release
//! build): serialisation went from about 185 k to 116 k instructions, the whole call from
//! 1,225 k to 1,158 k.
//!
//! Everything else mirrors serde_json's `Serializer` with its `CompactFormatter`, method for
//! method, so that no client can tell the two apart: the escapes (`\"` `\\` `\b` `\f` `\n`
//! `\r` `\t`, other control bytes as `\u00xx`, nothing else), enums as `{"Variant":…}`, map
//! keys (strings as they are; integers, bools, chars and finite floats quoted; anything else
//! an error), `RawValue` copied as it is, and even serde_json's output for a `Serialize` impl
//! that announces a wrong length. Floats are formatted by serde_json itself. The tests compare
//! the two byte for byte: a proptest over arbitrary `Value`s, every escape at every offset,
//! each data-model method and rmcp's own messages.
//!
//! serde_json's `arbitrary_precision` feature is off in this crate's tree; were it turned on,
//! `Value` numbers would reach this serializer as a private struct and the proptest would fail.

use std::{
    borrow::Cow,
    collections::BTreeMap,
    fmt::{self, Write as _},
    sync::OnceLock,
};

use serde::ser::{
    Error as _, Impossible, Serialize, SerializeMap, SerializeSeq, SerializeStruct,
    SerializeStructVariant, SerializeTuple, SerializeTupleStruct, SerializeTupleVariant,
    Serializer,
};
use serde_json::{Error, Map, Value, value::RawValue};

/// The struct and field name serde_json's `RawValue` serialises under (its private
/// `raw::TOKEN`): serde_json writes that field's string as it is, already JSON.
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

/// Appends `value` as compact JSON to `buf`, exactly as `serde_json::to_writer` would write
/// it. On error `buf` holds whatever was written before it, as with serde_json.
///
/// `structuredContent` made by [`structured`] is written as the JSON it holds.
pub(crate) fn to_vec_into<T: ?Sized + Serialize>(
    buf: &mut Vec<u8>,
    value: &T,
) -> Result<(), Error> {
    value.serialize(Ser {
        out: buf,
        mode: WIRE,
    })
}

/// What removes secrets from a string before it is written (the exit gate).
pub(crate) trait Scrub {
    fn scrub<'s>(&self, s: &'s str) -> Cow<'s, str>;
}

/// `structuredContent`, encoded now, without building a `Value` tree.
///
/// The JSON is what `serde_json::to_value(value)` would give once every string in it
/// (values and map keys) has passed `scrub`, then `serde_json::to_vec`: objects come out with
/// their keys in order. An object whose keys were written in order (the structs of the hot
/// paths declare their fields so) costs one comparison per key; any other object is put in
/// order after it is written. Names from the code (struct fields, enum variants) are not
/// scrubbed: they are constants, not data.
///
/// The result is an object with one member, under a key unique to this process, whose value
/// is that JSON: the stdio writer ([`to_vec_into`]) copies the JSON in its place, and
/// [`expand`] turns it into the `Value` for any other consumer. Building the tree only to walk
/// it once and drop it was a fifth of a `list_messages` call.
pub(crate) fn structured<T: ?Sized + Serialize, S: ?Sized + Scrub>(
    value: &T,
    scrub: &S,
) -> Result<Value, Error> {
    let mut buf = Vec::with_capacity(1024);
    value.serialize(Ser {
        out: &mut buf,
        mode: Structured(scrub),
    })?;
    let json = String::from_utf8(buf).map_err(Error::custom)?;
    Ok(wrap(json))
}

/// [`structured`] for a type with an encoder of its own ([`Encode`]): the same bytes,
/// without serde's calls for every member.
pub(crate) fn structured_encoded<T: ?Sized + Encode, S: ?Sized + Scrub>(
    value: &T,
    scrub: &S,
) -> Result<Value, Error> {
    let mut buf = Vec::with_capacity(1024);
    value.encode(&mut Encoder {
        out: &mut buf,
        scrub,
    });
    debug_assert!(std::str::from_utf8(&buf).is_ok());
    // SAFETY: an `Encoder`'s buffer is written only by code in this module (its fields are
    // private), and each piece is UTF-8 whole: keys (the first `len` bytes of a `Key`, all of
    // a `&str` literal), ASCII punctuation and digits, and `write_str`, which copies a `&str`
    // in runs cut only before and after ASCII bytes (the ones it escapes, as ASCII escapes). So the buffer is the
    // concatenation of valid UTF-8 pieces. Checking it again cost 4.4 k instructions per
    // `list_messages` call (6 KB), as much as writing the keys of a whole page.
    let json = unsafe { String::from_utf8_unchecked(buf) };
    Ok(wrap(json))
}

/// JSON from [`structured`] or [`structured_encoded`], under the marker.
fn wrap(json: String) -> Value {
    let mut wrapped = Map::new();
    wrapped.insert(marker().to_owned(), Value::String(json));
    Value::Object(wrapped)
}

/// A hand-written encoder for an output type that a hot path returns (a page of messages):
/// the bytes its derived `Serialize` gives through [`structured`], written straight.
///
/// Through serde every member costs a call for its key (tested for escapes, placed, checked
/// for order) and one for its value; here a key is a constant (see [`key!`]) copied as it is.
/// Each type's tests compare the two encoders byte for byte, with a scrub that rewrites
/// strings, so that a member written out of order, under another name or without its skip
/// rule fails them.
pub(crate) trait Encode {
    fn encode<S: ?Sized + Scrub>(&self, e: &mut Encoder<'_, S>);
}

impl<T: Encode> Encode for [T] {
    fn encode<S: ?Sized + Scrub>(&self, e: &mut Encoder<'_, S>) {
        e.out.push(b'[');
        for (i, item) in self.iter().enumerate() {
            if i > 0 {
                e.out.push(b',');
            }
            item.encode(e);
        }
        e.out.push(b']');
    }
}

impl<T: Encode> Encode for Vec<T> {
    fn encode<S: ?Sized + Scrub>(&self, e: &mut Encoder<'_, S>) {
        self.as_slice().encode(e);
    }
}

impl Encode for str {
    fn encode<S: ?Sized + Scrub>(&self, e: &mut Encoder<'_, S>) {
        e.str(self);
    }
}

impl Encode for String {
    fn encode<S: ?Sized + Scrub>(&self, e: &mut Encoder<'_, S>) {
        e.str(self);
    }
}

impl<T: ?Sized + Encode> Encode for &T {
    fn encode<S: ?Sized + Scrub>(&self, e: &mut Encoder<'_, S>) {
        (**self).encode(e);
    }
}

impl Encode for i64 {
    fn encode<S: ?Sized + Scrub>(&self, e: &mut Encoder<'_, S>) {
        write_int(e.out, *self);
    }
}

/// `"name":`, the start of an object member, as a constant for [`Members::member`]. The name
/// must need no escaping (a field's name does) and the whole fit in [`Key::ROOM`] bytes (checked
/// when it is compiled).
macro_rules! key {
    ($name:literal) => {{
        const KEY: $crate::json::Key = $crate::json::Key::new(concat!("\"", $name, "\":"));
        &KEY
    }};
}
pub(crate) use key;

/// A member's start made by [`key!`]: its bytes at the front of an array of fixed size.
///
/// Every key is copied as the whole array into the vector's spare room, and the vector's length
/// grows by the key's: a copy of known size (two moves) for keys of any length.
pub(crate) struct Key {
    bytes: [u8; Key::ROOM],
    len: usize,
}

impl Key {
    pub(crate) const ROOM: usize = 32;

    pub(crate) const fn new(key: &str) -> Key {
        let from = key.as_bytes();
        assert!(from.len() <= Key::ROOM, "a key longer than Key::ROOM");
        assert!(
            from.len() >= 3
                && from[0] == b'"'
                && from[from.len() - 2] == b'"'
                && from[from.len() - 1] == b':',
            "a key is written `\"name\":`"
        );
        let mut bytes = [b' '; Key::ROOM];
        let mut i = 0;
        while i < from.len() {
            bytes[i] = from[i];
            i += 1;
        }
        Key {
            bytes,
            len: from.len(),
        }
    }
}

/// Where an [`Encode`] writes.
pub(crate) struct Encoder<'a, S: ?Sized> {
    out: &'a mut Vec<u8>,
    scrub: &'a S,
}

impl<'a, S: ?Sized + Scrub> Encoder<'a, S> {
    /// A string of data: through the scrub, then written as serde_json writes it.
    #[inline]
    pub(crate) fn str(&mut self, s: &str) {
        write_str(self.out, &self.scrub.scrub(s));
    }

    /// An object's members, in the order they are written (which must be the order of their
    /// keys: a struct with fields declared in alphabetical order, as serde writes it).
    #[inline]
    pub(crate) fn object(&mut self) -> Members<'_, 'a, S> {
        self.out.push(b'{');
        Members {
            e: self,
            first: true,
        }
    }
}

/// An object being written by an [`Encode`].
pub(crate) struct Members<'e, 'a, S: ?Sized> {
    e: &'e mut Encoder<'a, S>,
    first: bool,
}

impl<S: ?Sized + Scrub> Members<'_, '_, S> {
    /// One member: `key` is its start as [`key!`] makes it.
    #[inline]
    pub(crate) fn member<T: ?Sized + Encode>(&mut self, key: &'static Key, value: &T) {
        if !self.first {
            self.e.out.push(b',');
        }
        self.first = false;
        let out = &mut *self.e.out;
        out.reserve(Key::ROOM);
        let len = out.len();
        // SAFETY: `reserve` made room for `Key::ROOM` bytes past `len`; all of them are
        // written (so initialised) before the length grows, and it grows by `key.len`, which
        // `Key::new` keeps within `Key::ROOM`. (`Vec::extend` from the array stayed a call,
        // and a call to `memcpy`, for every member: 50 instructions, 160 times per call.)
        unsafe {
            out.as_mut_ptr()
                .add(len)
                .copy_from_nonoverlapping(key.bytes.as_ptr(), Key::ROOM);
            out.set_len(len + key.len);
        }
        value.encode(self.e);
    }

    /// A member that serde leaves out when it is `None`.
    #[inline]
    pub(crate) fn some<T: ?Sized + Encode>(&mut self, key: &'static Key, value: Option<&T>) {
        if let Some(value) = value {
            self.member(key, value);
        }
    }

    /// The end of the object.
    #[inline]
    pub(crate) fn end(self) {
        self.e.out.push(b'}');
    }
}

/// The JSON inside a value made by [`structured`].
pub(crate) fn structured_json(value: &Value) -> Option<&str> {
    match value {
        Value::Object(map) if map.len() == 1 => map.get(marker()).and_then(Value::as_str),
        _ => None,
    }
}

/// A value made by [`structured`] as the `Value` it stands for; any other is left as it is.
pub(crate) fn expand(value: &mut Value) -> Result<(), Error> {
    if let Some(json) = structured_json(value) {
        *value = serde_json::from_str(json)?;
    }
    Ok(())
}

/// The key [`structured`] wraps its JSON under: random per process, so that no data from
/// outside (a map key in something Whop sent) can pass for it.
fn marker() -> &'static str {
    static MARKER: OnceLock<String> = OnceLock::new();
    MARKER.get_or_init(|| {
        use std::hash::{BuildHasher, Hasher};
        let random = || {
            std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish()
        };
        format!(
            "whop-chat-mcp/structured/{:016x}{:016x}",
            random(),
            random()
        )
    })
}

/// What a serializer does besides writing serde_json's bytes.
trait Mode: Copy {
    /// Objects have their keys checked for order, and are put in order when they are not.
    const SORTED: bool;
    /// Values made by [`structured`] are written as the JSON they hold.
    const SPLICE: bool;
    /// A string of data as it is to be written.
    fn scrub<'s>(self, s: &'s str) -> Cow<'s, str>;
}

/// serde_json's bytes, strings as they are. `SPLICE`: the stdio writer's, which copies
/// `structuredContent` in ([`WIRE`]); without: nothing else ([`PLAIN`], for an object put
/// back in order).
#[derive(Clone, Copy)]
struct AsIs<const SPLICE: bool>;

const WIRE: AsIs<true> = AsIs;
const PLAIN: AsIs<false> = AsIs;

impl<const SPLICES: bool> Mode for AsIs<SPLICES> {
    const SORTED: bool = false;
    const SPLICE: bool = SPLICES;
    #[inline]
    fn scrub<'s>(self, s: &'s str) -> Cow<'s, str> {
        Cow::Borrowed(s)
    }
}

/// [`structured`]'s: keys in order, every string scrubbed.
struct Structured<'s, S: ?Sized>(&'s S);

impl<S: ?Sized> Clone for Structured<'_, S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S: ?Sized> Copy for Structured<'_, S> {}

impl<S: ?Sized + Scrub> Mode for Structured<'_, S> {
    const SORTED: bool = true;
    const SPLICE: bool = false;
    #[inline]
    fn scrub<'s>(self, s: &'s str) -> Cow<'s, str> {
        self.0.scrub(s)
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `word` (little-endian: byte 0 is the lowest) that JSON must
/// escape: below 0x20, `"` or `\`. Only the lowest flag is exact — a borrow out of a flagged
/// byte can flag the bytes above it — so callers use nothing but `trailing_zeros`.
#[inline]
fn escapes(word: u64) -> u64 {
    let quote = word ^ (ONES * u64::from(b'"'));
    let backslash = word ^ (ONES * u64::from(b'\\'));
    let control = word.wrapping_sub(ONES * 0x20) & !word;
    let quote = quote.wrapping_sub(ONES) & !quote;
    let backslash = backslash.wrapping_sub(ONES) & !backslash;
    (control | quote | backslash) & HIGHS
}

/// For sixteen bytes of a JSON string: which of them end a plain run (`"`, `\\` and control
/// bytes, the ones a writer escapes and a reader stops at), bit `k` for byte `k`; and which are
/// 0x80 or above (not ASCII). Shared by this writer's escape scan and the page decoder's.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
pub(crate) fn string_stops(chunk: &[u8; 16]) -> (u32, u32) {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set_epi64x,
        _mm_set1_epi8,
    };
    let x = u128::from_le_bytes(*chunk);
    // SAFETY: these intrinsics only compute on values (no pointer is read: the 16 bytes were
    // loaded by safe code), and the one requirement they carry, SSE2, is checked at compile
    // time by the `cfg` on this function (SSE2 is part of every x86-64).
    let (stops, highs) = unsafe {
        // Truncations on purpose: the high and low halves of the 16 bytes.
        let v = _mm_set_epi64x((x >> 64) as u64 as i64, x as u64 as i64);
        let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
        let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
        // Unsigned `v <= 0x1f`: the bytes that equal their minimum with 0x1f.
        let control = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);
        (
            _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control)),
            // The high bit of every byte: those of 0x80 and above.
            _mm_movemask_epi8(v),
        )
    };
    // `movemask` fills the low 16 bits only: the casts keep them.
    (stops as u32, highs as u32)
}

/// Where the first byte at or after `from` that needs escaping is.
#[inline]
fn next_escape(bytes: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    // Sixteen bytes a step where SSE2 is there: the long strings of an answer (its text,
    // message contents) are most of its bytes.
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    while let Some(chunk) = bytes[at..].first_chunk::<16>() {
        let (found, _) = string_stops(chunk);
        if found != 0 {
            return Some(at + found.trailing_zeros() as usize);
        }
        at += 16;
    }
    while let Some(word) = bytes[at..].first_chunk::<8>() {
        let flags = escapes(u64::from_le_bytes(*word));
        if flags != 0 {
            return Some(at + lane(flags));
        }
        at += 8;
    }
    let rest = bytes.len() - at;
    if rest == 0 {
        return None;
    }
    // The last 1 to 7 bytes take the same test with spaces (never escaped, and they borrow
    // nothing from their neighbours) in the lanes that are not theirs. The word is assembled in
    // registers: copying the bytes into a padded buffer and loading it stalled the load on the
    // copy's stores (half of this function's time in a `perf` profile).
    let padding = 8 * (8 - rest) as u32;
    let low = (1u64 << padding) - 1;
    const SPACES: u64 = ONES * b' ' as u64;
    if let Some(last) = bytes.last_chunk::<8>() {
        // The last eight bytes, overlapping the ones already tested, which become spaces.
        let word = (u64::from_le_bytes(*last) & !low) | (SPACES & low);
        let flags = escapes(word);
        return (flags != 0).then(|| bytes.len() - 8 + lane(flags));
    }
    // A string shorter than a word.
    let mut word = SPACES;
    for (i, &b) in bytes[at..].iter().enumerate() {
        let shift = 8 * i as u32;
        word = (word & !(0xFF << shift)) | (u64::from(b) << shift);
    }
    let flags = escapes(word);
    (flags != 0).then(|| at + lane(flags))
}

/// The lowest lane [`escapes`] flagged: the position of the first escape in the word.
#[inline]
fn lane(flags: u64) -> usize {
    (flags.trailing_zeros() / 8) as usize
}

/// Writes the escape for `byte`, one that [`escapes`] flags.
#[inline]
fn write_escape(out: &mut Vec<u8>, byte: u8) {
    let short = match byte {
        b'"' => b'"',
        b'\\' => b'\\',
        0x08 => b'b',
        0x0C => b'f',
        b'\n' => b'n',
        b'\r' => b'r',
        b'\t' => b't',
        _ => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(byte >> 4)],
                HEX[usize::from(byte & 0xF)],
            ]);
            return;
        }
    };
    // Two pushes are inlined; `extend_from_slice` of the pair was a call.
    out.push(b'\\');
    out.push(short);
}

/// Writes `s` escaped, without the quotes; says whether anything was escaped.
fn write_str_contents(out: &mut Vec<u8>, s: &str) -> bool {
    let bytes = s.as_bytes();
    let mut start = 0;
    while let Some(at) = next_escape(bytes, start) {
        out.extend_from_slice(&bytes[start..at]);
        write_escape(out, bytes[at]);
        start = at + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    start > 0
}

/// Writes `s` as a JSON string; says whether anything in it was escaped.
#[inline]
fn write_str(out: &mut Vec<u8>, s: &str) -> bool {
    if write_short(out, s.as_bytes()) {
        return false;
    }
    // Room for the common case, no escapes, so that the copy does not grow the buffer.
    out.reserve(s.len() + 2);
    out.push(b'"');
    let escaped = write_str_contents(out, s);
    out.push(b'"');
    escaped
}

/// The longest string [`write_short`] and [`write_short_key`] write.
const SHORT: usize = 32;

/// Writes `bytes`, a string of at most [`SHORT`] bytes without escapes, quoted, and says
/// so; writes nothing and says false for any other.
///
/// Most strings of an answer are that short (keys, ids, times, names). For them the general
/// route's scan cost more than the bytes: a call, a word loop, then a loop over the last
/// bytes one at a time. Here the string is read as two fixed-size chunks, its first and its
/// last `N` bytes (`N` to `2N` bytes long: they overlap, and between them cover every byte),
/// and tested for escapes as words in registers (a byte that appears twice is tested twice,
/// which changes nothing: the test asks only whether any byte needs escaping).
///
/// Measured with callgrind on a `list_messages` page (20 messages, ~370 strings and keys):
/// about 25 k instructions fewer per call.
#[inline(never)]
fn write_short(out: &mut Vec<u8>, bytes: &[u8]) -> bool {
    if !short_plain(bytes) {
        return false;
    }
    // The quoted string is put together in a buffer of fixed size, copied whole and cut to
    // length. `extend` from an array of a size no other code extends by is code of its own,
    // which the compiler inlines as a few moves of known size; `extend_from_slice`, shared by
    // every caller, stayed a call and a call to `memcpy`.
    let mut quoted = [b'"'; SHORT + 2];
    place::<1, { SHORT + 2 }>(&mut quoted, bytes);
    let start = out.len();
    out.extend(quoted);
    out.truncate(start + bytes.len() + 2);
    true
}

/// Writes an object member's start, `,"key":` (the comma when `comma`), for a key of at most
/// [`SHORT`] bytes without escapes, and says so; writes nothing and says false for any other.
///
/// A struct's field names are such keys: one test and one copy for the four pieces, where
/// each piece on its own was a push or a call. Measured with callgrind on a `list_messages`
/// page: about 1.3 k instructions fewer per call.
#[inline(never)]
fn write_short_key(out: &mut Vec<u8>, comma: bool, key: &[u8]) -> bool {
    if !short_plain(key) {
        return false;
    }
    // One buffer of fixed size, copied whole and cut to length, as in `write_short` (and of
    // another size, so that its copy is code of its own too).
    let mut member = [b'"'; SHORT + 4];
    let len = if comma {
        member[0] = b',';
        place::<2, { SHORT + 4 }>(&mut member, key);
        key.len() + 4
    } else {
        place::<1, { SHORT + 4 }>(&mut member, key);
        key.len() + 3
    };
    member[len - 1] = b':';
    let start = out.len();
    out.extend(member);
    out.truncate(start + len);
    true
}

/// Whether `bytes` is at most [`SHORT`] bytes long and needs no escaping.
#[inline(always)]
fn short_plain(bytes: &[u8]) -> bool {
    /// Spaces (never escaped) above the lowest `lanes` bytes of a word.
    const fn spaces_above(lanes: u32) -> u64 {
        (ONES * b' ' as u64) & !((1u64 << (8 * lanes)) - 1)
    }
    match bytes.len() {
        0 => true,
        1 => escapes(u64::from(bytes[0]) | spaces_above(1)) == 0,
        2..4 => {
            let (h, t) = chunks::<2>(bytes);
            let word = u64::from(u16::from_le_bytes(h)) | u64::from(u16::from_le_bytes(t)) << 16;
            escapes(word | spaces_above(4)) == 0
        }
        4..8 => {
            let (h, t) = chunks::<4>(bytes);
            let word = u64::from(u32::from_le_bytes(h)) | u64::from(u32::from_le_bytes(t)) << 32;
            escapes(word) == 0
        }
        8..16 => {
            let (h, t) = chunks::<8>(bytes);
            escapes(u64::from_le_bytes(h)) | escapes(u64::from_le_bytes(t)) == 0
        }
        16..=SHORT => {
            let (h, t) = chunks::<16>(bytes);
            let (h, t) = (u128::from_le_bytes(h), u128::from_le_bytes(t));
            let halves = |c: u128| escapes(c as u64) | escapes((c >> 64) as u64);
            halves(h) | halves(t) == 0
        }
        _ => false,
    }
}

/// The first and the last `N` bytes of `bytes` (`N` to `2N` of them); zeros where it is
/// shorter, which [`short_plain`] never asks for.
#[inline(always)]
fn chunks<const N: usize>(bytes: &[u8]) -> ([u8; N], [u8; N]) {
    match (bytes.first_chunk::<N>(), bytes.last_chunk::<N>()) {
        (Some(head), Some(tail)) => (*head, *tail),
        _ => ([0; N], [0; N]),
    }
}

/// Puts `bytes` (at most [`SHORT`] of them) at `buf[AT..]`, in copies of a known size: for
/// `N` to `2N` bytes, its first `N` bytes, then its last `N` bytes over the end of those.
/// Leaves every other byte of `buf` as it was.
#[inline(always)]
fn place<const AT: usize, const B: usize>(buf: &mut [u8; B], bytes: &[u8]) {
    #[inline(always)]
    fn halves<const N: usize, const AT: usize, const B: usize>(buf: &mut [u8; B], bytes: &[u8]) {
        let (head, tail) = chunks::<N>(bytes);
        let len = bytes.len().min(SHORT);
        buf[AT..AT + N].copy_from_slice(&head);
        buf[AT + len - N..AT + len].copy_from_slice(&tail);
    }
    match bytes.len() {
        0 => {}
        1 => buf[AT] = bytes[0],
        2..4 => halves::<2, AT, B>(buf, bytes),
        4..8 => halves::<4, AT, B>(buf, bytes),
        8..16 => halves::<8, AT, B>(buf, bytes),
        _ => halves::<16, AT, B>(buf, bytes),
    }
}

/// Whether object key `a` sorts strictly before `b` (bytes of keys written without escapes,
/// which are their UTF-8: the order of a `BTreeMap<String, _>`). Keys mostly differ in their
/// first bytes, so a loop beats a call to `memcmp`.
#[inline]
fn precedes(a: &[u8], b: &[u8]) -> bool {
    for (x, y) in a.iter().zip(b) {
        if x != y {
            return x < y;
        }
    }
    a.len() < b.len()
}

#[inline]
fn write_int<I: itoa::Integer>(out: &mut Vec<u8>, i: I) {
    out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
}

/// Floats through serde_json itself, so the digits (and `null` for NaN and infinities) are
/// its own.
#[inline]
fn write_float<F: Serialize>(out: &mut Vec<u8>, f: F) -> Result<(), Error> {
    serde_json::to_writer(out, &f)
}

/// A `fmt::Write` that escapes what it is given, for `collect_str`.
struct Escaping<'a>(&'a mut Vec<u8>);

impl fmt::Write for Escaping<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        write_str_contents(self.0, s);
        Ok(())
    }
}

/// Writes `value`'s `Display` text as a JSON string.
fn write_display<T: ?Sized + fmt::Display>(out: &mut Vec<u8>, value: &T) -> Result<(), Error> {
    out.push(b'"');
    write!(Escaping(&mut *out), "{value}").map_err(|_| {
        Error::custom("a Display implementation returned an error while being serialised")
    })?;
    out.push(b'"');
    Ok(())
}

fn key_must_be_a_string() -> Error {
    Error::custom("key must be a string")
}

fn expected_raw_value() -> Error {
    Error::custom("expected RawValue")
}

/// Methods that only return an error (for the key and raw-value serializers).
macro_rules! reject {
    ($error:ident: $(fn $name:ident $(<$t:ident>)? (self $(, $arg:ident: $ty:ty)*) -> $ret:ty;)*) => {
        $(
            fn $name $(<$t: ?Sized + Serialize>)? (self $(, $arg: $ty)*) -> Result<$ret, Error> {
                $(let _ = $arg;)*
                Err($error())
            }
        )*
    };
}

/// The ten integer methods of a `Serializer`, each handing its value to `self.$how`.
macro_rules! integers {
    ($how:ident) => {
        integers!($how: serialize_i8(i8), serialize_i16(i16), serialize_i32(i32),
            serialize_i64(i64), serialize_i128(i128), serialize_u8(u8), serialize_u16(u16),
            serialize_u32(u32), serialize_u64(u64), serialize_u128(u128));
    };
    ($how:ident: $($name:ident($t:ty)),*) => {
        $(
            fn $name(self, v: $t) -> Result<(), Error> {
                self.$how(v)
            }
        )*
    };
}

/// Serialises one value into `out`.
struct Ser<'a, M> {
    out: &'a mut Vec<u8>,
    mode: M,
}

impl<'a, M: Mode> Ser<'a, M> {
    fn int<I: itoa::Integer>(self, i: I) -> Result<(), Error> {
        write_int(self.out, i);
        Ok(())
    }

    /// `{"variant":` — how serde_json opens every enum variant that carries data.
    fn open_variant(self, variant: &str) -> Self {
        self.out.push(b'{');
        write_str(self.out, variant);
        self.out.push(b':');
        self
    }
}

impl<'a, M: Mode> Serializer for Ser<'a, M> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'a, M>;
    type SerializeTuple = Compound<'a, M>;
    type SerializeTupleStruct = Compound<'a, M>;
    type SerializeTupleVariant = Compound<'a, M>;
    type SerializeMap = Compound<'a, M>;
    type SerializeStruct = Struct<'a, M>;
    type SerializeStructVariant = Compound<'a, M>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }

    integers!(int);

    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        write_float(self.out, v)
    }

    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        write_float(self.out, v)
    }

    fn serialize_char(self, v: char) -> Result<(), Error> {
        write_str(self.out, v.encode_utf8(&mut [0; 4]));
        Ok(())
    }

    fn serialize_str(self, v: &str) -> Result<(), Error> {
        write_str(self.out, &self.mode.scrub(v));
        Ok(())
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        self.out.push(b'[');
        for (i, byte) in v.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            write_int(self.out, *byte);
        }
        self.out.push(b']');
        Ok(())
    }

    fn serialize_none(self) -> Result<(), Error> {
        self.serialize_unit()
    }

    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), Error> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        let ser = self.open_variant(variant);
        value.serialize(Ser {
            out: &mut *ser.out,
            mode: ser.mode,
        })?;
        ser.out.push(b'}');
        Ok(())
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<Compound<'a, M>, Error> {
        Ok(Compound::open(self.out, b'[', b']', len, self.mode))
    }

    fn serialize_tuple(self, len: usize) -> Result<Compound<'a, M>, Error> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Compound<'a, M>, Error> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'a, M>, Error> {
        self.open_variant(variant).serialize_seq(Some(len))
    }

    fn serialize_map(self, len: Option<usize>) -> Result<Compound<'a, M>, Error> {
        Ok(Compound::open(self.out, b'{', b'}', len, self.mode))
    }

    fn serialize_struct(self, name: &'static str, len: usize) -> Result<Struct<'a, M>, Error> {
        if name == RAW_VALUE_TOKEN {
            return Ok(Struct::Raw(self.out, self.mode));
        }
        self.serialize_map(Some(len)).map(Struct::Fields)
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'a, M>, Error> {
        self.open_variant(variant).serialize_map(Some(len))
    }

    fn collect_str<T: ?Sized + fmt::Display>(self, value: &T) -> Result<(), Error> {
        if M::SORTED {
            return self.serialize_str(&value.to_string());
        }
        write_display(self.out, value)
    }
}

/// serde_json's state for an array or object being written.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Announced as empty: already closed, so `end` writes nothing.
    Empty,
    First,
    Rest,
    /// A value made by [`structured`], being replaced by its JSON.
    Splice,
}

/// An array or an object being written (also the inner array or object of a variant).
struct Compound<'a, M> {
    out: &'a mut Vec<u8>,
    state: State,
    mode: M,
    /// Where its `[` or `{` is in `out`.
    start: usize,
    /// Announced with one entry (what [`structured`] makes).
    single: bool,
    /// In [`Mode::SORTED`]: where the last key's text is in `out`, and whether any key came
    /// out of order (or escaped, which the byte test cannot order).
    last_key: (usize, usize),
    unsorted: bool,
}

impl<'a, M: Mode> Compound<'a, M> {
    /// Opens with `open`; when `len` says there is nothing inside, closes at once, as
    /// serde_json does (what follows then is still written, after the close, as it would be).
    fn open(out: &'a mut Vec<u8>, open: u8, close: u8, len: Option<usize>, mode: M) -> Self {
        let start = out.len();
        out.push(open);
        let state = if len == Some(0) {
            out.push(close);
            State::Empty
        } else {
            State::First
        };
        Compound {
            out,
            state,
            mode,
            start,
            single: len == Some(1),
            last_key: (0, 0),
            unsorted: false,
        }
    }

    /// [`Mode::SORTED`]: notes whether the key just written at `from..=end` (quoted, `end`
    /// its closing quote) follows the one before it. An escaped key is left to
    /// [`Compound::put_in_order`].
    #[inline]
    fn check_order(&mut self, from: usize, end: usize, escaped: bool) {
        let key = (from + 1, end);
        if escaped
            || (self.last_key.1 > 0
                && !precedes(
                    &self.out[self.last_key.0..self.last_key.1],
                    &self.out[key.0..key.1],
                ))
        {
            self.unsorted = true;
        }
        self.last_key = key;
    }

    /// [`Mode::SORTED`]: scrubs the map key just written at `from..` (quoted), whatever type
    /// it came from (the gate sees keys as the strings `to_value` makes of them).
    fn scrub_key(&mut self, from: usize) -> Result<(), Error> {
        let quoted = &self.out[from..];
        let key: Cow<'_, str> = if quoted.contains(&b'\\') {
            Cow::Owned(serde_json::from_slice(quoted)?)
        } else {
            Cow::Borrowed(std::str::from_utf8(&quoted[1..quoted.len() - 1]).map_err(Error::custom)?)
        };
        let clean = match self.mode.scrub(&key) {
            Cow::Owned(clean) => clean,
            Cow::Borrowed(_) => return Ok(()),
        };
        self.out.truncate(from);
        write_str(self.out, &clean);
        Ok(())
    }

    /// [`Mode::SORTED`]: once the object is closed, puts its members in order if they are
    /// not. The members are read back into a sorted map, their values as the JSON text they
    /// were written as (a number parsed and written again could change), and written again;
    /// the last of equal keys wins, as in `to_value`.
    fn put_in_order(&mut self) -> Result<(), Error> {
        if !M::SORTED || !self.unsorted {
            return Ok(());
        }
        let written = self.out.split_off(self.start);
        let members: BTreeMap<String, &RawValue> = serde_json::from_slice(&written)?;
        self.out.push(b'{');
        for (i, (key, value)) in members.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            write_str(self.out, key);
            self.out.push(b':');
            self.out.extend_from_slice(value.get().as_bytes());
        }
        self.out.push(b'}');
        Ok(())
    }

    /// The comma before every element or entry but the first.
    #[inline]
    fn separate(&mut self) {
        if self.state != State::First {
            self.out.push(b',');
        }
        self.state = State::Rest;
    }

    fn element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Error> {
        self.separate();
        value.serialize(Ser {
            out: &mut *self.out,
            mode: self.mode,
        })
    }

    fn field<T: ?Sized + Serialize>(&mut self, key: &str, value: &T) -> Result<(), Error> {
        let comma = self.state != State::First;
        self.state = State::Rest;
        let from = self.out.len() + usize::from(comma);
        if write_short_key(self.out, comma, key.as_bytes()) {
            if M::SORTED {
                let end = self.out.len() - 2;
                self.check_order(from, end, false);
            }
        } else {
            if comma {
                self.out.push(b',');
            }
            let escaped = write_str(self.out, key);
            if M::SORTED {
                let end = self.out.len() - 1;
                self.check_order(from, end, escaped);
            }
            self.out.push(b':');
        }
        value.serialize(Ser {
            out: &mut *self.out,
            mode: self.mode,
        })
    }

    fn close(self, close: u8) {
        if self.state != State::Empty {
            self.out.push(close);
        }
    }
}

/// Sequences, tuples and tuple structs are all JSON arrays.
macro_rules! array {
    ($($trait:ident :: $method:ident),*) => {
        $(
            impl<M: Mode> $trait for Compound<'_, M> {
                type Ok = ();
                type Error = Error;

                fn $method<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Error> {
                    self.element(value)
                }

                fn end(self) -> Result<(), Error> {
                    self.close(b']');
                    Ok(())
                }
            }
        )*
    };
}

array!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field
);

impl<M: Mode> SerializeTupleVariant for Compound<'_, M> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }

    fn end(self) -> Result<(), Error> {
        let out = &mut *self.out;
        if self.state != State::Empty {
            out.push(b']');
        }
        out.push(b'}');
        Ok(())
    }
}

impl<M: Mode> SerializeMap for Compound<'_, M> {
    type Ok = ();
    type Error = Error;

    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result<(), Error> {
        let first = self.state == State::First;
        self.separate();
        let from = self.out.len();
        key.serialize(KeySer {
            out: &mut *self.out,
        })?;
        if M::SPLICE && self.single && first && is_quoted_marker(&self.out[from..]) {
            self.out.truncate(self.start);
            self.state = State::Splice;
        } else if M::SORTED {
            self.scrub_key(from)?;
            let escaped = self.out[from..].contains(&b'\\');
            let end = self.out.len() - 1;
            self.check_order(from, end, escaped);
        }
        Ok(())
    }

    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Error> {
        if self.state == State::Splice {
            return value.serialize(RawSer {
                out: &mut *self.out,
                mode: PLAIN,
            });
        }
        self.out.push(b':');
        value.serialize(Ser {
            out: &mut *self.out,
            mode: self.mode,
        })
    }

    fn end(mut self) -> Result<(), Error> {
        if self.state == State::Splice {
            return Ok(());
        }
        if self.state != State::Empty {
            self.out.push(b'}');
        }
        self.put_in_order()
    }
}

/// Whether `key` is [`marker`] as a JSON string.
#[inline]
fn is_quoted_marker(key: &[u8]) -> bool {
    let marker = marker().as_bytes();
    key.len() == marker.len() + 2 && key[1..key.len() - 1] == *marker
}

impl<M: Mode> SerializeStructVariant for Compound<'_, M> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.field(key, value)
    }

    fn end(mut self) -> Result<(), Error> {
        if self.state != State::Empty {
            self.out.push(b'}');
        }
        self.put_in_order()?;
        self.out.push(b'}');
        Ok(())
    }
}

/// A struct being written: an object, or serde_json's `RawValue`.
enum Struct<'a, M> {
    Fields(Compound<'a, M>),
    Raw(&'a mut Vec<u8>, M),
}

impl<M: Mode> SerializeStruct for Struct<'_, M> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        match self {
            Struct::Fields(fields) => fields.field(key, value),
            Struct::Raw(out, mode) if key == RAW_VALUE_TOKEN => {
                value.serialize(RawSer { out, mode: *mode })
            }
            // serde_json's message for this (its ErrorCode::ExpectedSomeValue).
            Struct::Raw(..) => Err(Error::custom("expected value")),
        }
    }

    fn end(self) -> Result<(), Error> {
        if let Struct::Fields(mut fields) = self {
            if fields.state != State::Empty {
                fields.out.push(b'}');
            }
            fields.put_in_order()?;
        }
        Ok(())
    }
}

/// Writes an object key: serde_json's `MapKeySerializer`.
struct KeySer<'a> {
    out: &'a mut Vec<u8>,
}

impl KeySer<'_> {
    fn quoted_int<I: itoa::Integer>(self, i: I) -> Result<(), Error> {
        self.out.push(b'"');
        write_int(self.out, i);
        self.out.push(b'"');
        Ok(())
    }

    fn quoted_float<F: Serialize>(self, f: F, finite: bool) -> Result<(), Error> {
        if !finite {
            return Err(Error::custom(
                "float key must be finite (got NaN or +/-inf)",
            ));
        }
        self.out.push(b'"');
        write_float(self.out, f)?;
        self.out.push(b'"');
        Ok(())
    }
}

impl Serializer for KeySer<'_> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Impossible<(), Error>;
    type SerializeTuple = Impossible<(), Error>;
    type SerializeTupleStruct = Impossible<(), Error>;
    type SerializeTupleVariant = Impossible<(), Error>;
    type SerializeMap = Impossible<(), Error>;
    type SerializeStruct = Impossible<(), Error>;
    type SerializeStructVariant = Impossible<(), Error>;

    fn serialize_str(self, v: &str) -> Result<(), Error> {
        write_str(self.out, v);
        Ok(())
    }

    fn serialize_char(self, v: char) -> Result<(), Error> {
        write_str(self.out, v.encode_utf8(&mut [0; 4]));
        Ok(())
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.out
            .extend_from_slice(if v { b"\"true\"" } else { b"\"false\"" });
        Ok(())
    }

    integers!(quoted_int);

    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        self.quoted_float(v, v.is_finite())
    }

    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        self.quoted_float(v, v.is_finite())
    }

    fn collect_str<T: ?Sized + fmt::Display>(self, value: &T) -> Result<(), Error> {
        write_display(self.out, value)
    }

    reject! { key_must_be_a_string:
        fn serialize_bytes(self, _v: &[u8]) -> ();
        fn serialize_none(self) -> ();
        fn serialize_unit(self) -> ();
        fn serialize_unit_struct(self, _name: &'static str) -> ();
        fn serialize_newtype_variant<T>(
            self, _name: &'static str, _index: u32, _variant: &'static str, _value: &T
        ) -> ();
        fn serialize_seq(self, _len: Option<usize>) -> Self::SerializeSeq;
        fn serialize_tuple(self, _len: usize) -> Self::SerializeTuple;
        fn serialize_tuple_struct(self, _name: &'static str, _len: usize)
            -> Self::SerializeTupleStruct;
        fn serialize_tuple_variant(
            self, _name: &'static str, _index: u32, _variant: &'static str, _len: usize
        ) -> Self::SerializeTupleVariant;
        fn serialize_map(self, _len: Option<usize>) -> Self::SerializeMap;
        fn serialize_struct(self, _name: &'static str, _len: usize) -> Self::SerializeStruct;
        fn serialize_struct_variant(
            self, _name: &'static str, _index: u32, _variant: &'static str, _len: usize
        ) -> Self::SerializeStructVariant;
    }
}

/// Writes the JSON text inside a `RawValue` as it is: serde_json's `RawValueStrEmitter`.
/// In [`Mode::SORTED`] it is written as the `Value` it parses to, as `to_value` makes it.
struct RawSer<'a, M> {
    out: &'a mut Vec<u8>,
    mode: M,
}

impl<M: Mode> Serializer for RawSer<'_, M> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Impossible<(), Error>;
    type SerializeTuple = Impossible<(), Error>;
    type SerializeTupleStruct = Impossible<(), Error>;
    type SerializeTupleVariant = Impossible<(), Error>;
    type SerializeMap = Impossible<(), Error>;
    type SerializeStruct = Impossible<(), Error>;
    type SerializeStructVariant = Impossible<(), Error>;

    fn serialize_str(self, v: &str) -> Result<(), Error> {
        if M::SORTED {
            let value: Value = serde_json::from_str(v)?;
            return value.serialize(Ser {
                out: self.out,
                mode: self.mode,
            });
        }
        self.out.extend_from_slice(v.as_bytes());
        Ok(())
    }

    reject! { expected_raw_value:
        fn serialize_bool(self, _v: bool) -> ();
        fn serialize_i8(self, _v: i8) -> ();
        fn serialize_i16(self, _v: i16) -> ();
        fn serialize_i32(self, _v: i32) -> ();
        fn serialize_i64(self, _v: i64) -> ();
        fn serialize_i128(self, _v: i128) -> ();
        fn serialize_u8(self, _v: u8) -> ();
        fn serialize_u16(self, _v: u16) -> ();
        fn serialize_u32(self, _v: u32) -> ();
        fn serialize_u64(self, _v: u64) -> ();
        fn serialize_u128(self, _v: u128) -> ();
        fn serialize_f32(self, _v: f32) -> ();
        fn serialize_f64(self, _v: f64) -> ();
        fn serialize_char(self, _v: char) -> ();
        fn serialize_bytes(self, _v: &[u8]) -> ();
        fn serialize_none(self) -> ();
        fn serialize_some<T>(self, _value: &T) -> ();
        fn serialize_unit(self) -> ();
        fn serialize_unit_struct(self, _name: &'static str) -> ();
        fn serialize_unit_variant(self, _name: &'static str, _index: u32, _variant: &'static str)
            -> ();
        fn serialize_newtype_struct<T>(self, _name: &'static str, _value: &T) -> ();
        fn serialize_newtype_variant<T>(
            self, _name: &'static str, _index: u32, _variant: &'static str, _value: &T
        ) -> ();
        fn serialize_seq(self, _len: Option<usize>) -> Self::SerializeSeq;
        fn serialize_tuple(self, _len: usize) -> Self::SerializeTuple;
        fn serialize_tuple_struct(self, _name: &'static str, _len: usize)
            -> Self::SerializeTupleStruct;
        fn serialize_tuple_variant(
            self, _name: &'static str, _index: u32, _variant: &'static str, _len: usize
        ) -> Self::SerializeTupleVariant;
        fn serialize_map(self, _len: Option<usize>) -> Self::SerializeMap;
        fn serialize_struct(self, _name: &'static str, _len: usize) -> Self::SerializeStruct;
        fn serialize_struct_variant(
            self, _name: &'static str, _index: u32, _variant: &'static str, _len: usize
        ) -> Self::SerializeStructVariant;
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use proptest::prelude::*;
    use rmcp::model::{
        CallToolResult, ContentBlock, ErrorData, ListToolsResult, Notification, RequestId,
        ResourceUpdatedNotificationParam, ServerJsonRpcMessage, ServerNotification, ServerResult,
    };
    use serde::Serialize;
    use serde_json::{Value, json, value::RawValue};

    fn ours<T: ?Sized + Serialize>(value: &T) -> Result<Vec<u8>, Error> {
        let mut buf = Vec::new();
        to_vec_into(&mut buf, value)?;
        Ok(buf)
    }

    /// Serialises `value` both ways, asserts the bytes are the same and returns them.
    #[track_caller]
    fn same<T: ?Sized + Serialize>(value: &T) -> String {
        let want = serde_json::to_vec(value).expect("serde_json serialises the value");
        let got = ours(value).expect("to_vec_into serialises the value");
        assert_eq!(
            got,
            want,
            "\n    ours: {}\nserde_json: {}",
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want)
        );
        String::from_utf8(got).expect("JSON is UTF-8")
    }

    /// Both fail, with the same message.
    #[track_caller]
    fn same_error<T: ?Sized + Serialize>(value: &T) -> String {
        let want = serde_json::to_vec(value).expect_err("serde_json refuses the value");
        let got = ours(value).expect_err("to_vec_into refuses the value");
        assert_eq!(got.to_string(), want.to_string());
        got.to_string()
    }

    #[test]
    fn it_appends_to_the_buffer() {
        let mut buf = b"kept ".to_vec();
        to_vec_into(&mut buf, &json!({"a": [1, "x\n"]})).unwrap();
        assert_eq!(buf, b"kept {\"a\":[1,\"x\\n\"]}");
    }

    #[test]
    fn every_ascii_byte_at_every_offset_is_escaped_as_serde_json_does() {
        // Every ASCII byte (the control bytes 0x00-0x1F, `"`, `\`, DEL, `/` among them) alone
        // at offsets 0..16 of strings long enough to put it in every lane of a first, second
        // or partial word, with plain ASCII or multi-byte text around it.
        for byte in 0u8..=0x7F {
            let c = char::from(byte);
            for offset in 0..16 {
                for after in [0, 1, 7, 8, 9, 16] {
                    for filler in ["a", "é"] {
                        let s = format!("{}{c}{}", filler.repeat(offset), "z".repeat(after));
                        same(&s);
                        // Twice in a row, and in a key.
                        same(&format!("{s}{c}{c}"));
                        same(&BTreeMap::from([(s.clone(), 1)]));
                    }
                }
            }
        }
        // The exact forms, pinned apart from serde_json.
        assert_eq!(
            same("\"\\\u{8}\u{c}\n\r\t\u{0}\u{1f}\u{b}\u{7f}/é😀"),
            "\"\\\"\\\\\\b\\f\\n\\r\\t\\u0000\\u001f\\u000b\u{7f}/é😀\""
        );
    }

    #[test]
    fn short_strings_of_every_length_are_copied_byte_for_byte() {
        // Distinct characters, so that a chunk copied to the wrong place, or cut one byte
        // short or long, shows; every length around the chunk sizes of `write_short` and past
        // its limit; each with every escape, a multi-byte character and plain ASCII at every
        // position (the escaped ones must leave the short route for the general one).
        let distinct: Vec<char> = ('a'..='z').chain('A'..='Z').chain('0'..='9').collect();
        for len in 0..=SHORT + 9 {
            let plain: String = distinct[..len].iter().collect();
            assert_eq!(same(&plain), format!("\"{plain}\""));
            same(&BTreeMap::from([(plain.clone(), 1)]));
            same_structured(&BTreeMap::from([(plain.clone(), plain.clone())]), &Keep);
            let mut out = Vec::new();
            assert_eq!(
                write_short(&mut out, plain.as_bytes()),
                len <= SHORT,
                "{len}"
            );
            for pos in 0..len {
                for c in ['"', '\\', '\n', '\u{0}', '\u{1f}', '\u{7f}', ' ', 'é', '😀'] {
                    let mut chars = distinct[..len].to_vec();
                    chars[pos] = c;
                    let s: String = chars.iter().collect();
                    same(&s);
                    same(&BTreeMap::from([(s.clone(), 1)]));
                    let mut out = b"x".to_vec();
                    let short = write_short(&mut out, s.as_bytes());
                    let escaped = c < ' ' || c == '"' || c == '\\';
                    assert_eq!(short, s.len() <= SHORT && !escaped, "{s:?}");
                    if !short {
                        assert_eq!(out, b"x", "{s:?}: nothing is written when it says false");
                    }
                }
            }
        }
    }

    /// A struct whose field names are chosen at run time (leaked: serde asks for
    /// `&'static str`), each with the value 1; also an enum variant of the same fields.
    struct Named(Vec<&'static str>, bool);

    impl Serialize for Named {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            if self.1 {
                let mut v = s.serialize_struct_variant("Named", 0, "V", self.0.len())?;
                for key in &self.0 {
                    v.serialize_field(key, &1)?;
                }
                return v.end();
            }
            let mut st = s.serialize_struct("Named", self.0.len())?;
            for key in &self.0 {
                st.serialize_field(key, &1)?;
            }
            st.end()
        }
    }

    #[test]
    fn field_names_of_every_length_start_their_members_byte_for_byte() {
        // As for short strings: distinct characters, every length around the chunk sizes and
        // past the limit, every escape at every position; each name first (no comma) and after
        // another (a comma), in order and out of it, in both writers.
        let distinct: Vec<char> = ('a'..='z').chain('A'..='Z').chain('0'..='9').collect();
        let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
        let check = |key: &'static str| {
            for variant in [false, true] {
                for keys in [
                    vec![key],
                    vec!["!", key],
                    vec![key, "!"],
                    vec!["~", key, "~~"],
                ] {
                    let value = Named(keys, variant);
                    same(&value);
                    same_structured(&value, &Keep);
                }
            }
            let mut out = b"x".to_vec();
            let short = write_short_key(&mut out, true, key.as_bytes());
            let plain =
                key.len() <= SHORT && !key.bytes().any(|b| b < b' ' || b == b'"' || b == b'\\');
            assert_eq!(short, plain, "{key:?}");
            if short {
                assert_eq!(out, format!("x,\"{key}\":").as_bytes(), "{key:?}");
            } else {
                assert_eq!(out, b"x", "{key:?}: nothing is written when it says false");
            }
        };
        for len in 0..=SHORT + 9 {
            check(leak(distinct[..len].iter().collect()));
            for pos in 0..len {
                for c in ['"', '\\', '\n', '\u{0}', '\u{1f}', '\u{7f}', ' ', 'é', '😀'] {
                    let mut chars = distinct[..len].to_vec();
                    chars[pos] = c;
                    check(leak(chars.iter().collect()));
                }
            }
        }
    }

    #[test]
    fn the_word_test_finds_the_first_escape_in_any_bytes() {
        // Every byte value at every position of slices from 1 to 20 bytes (whole words, a
        // partial last word, a last word that overlaps the words before it, or none at all),
        // searched from several starts, amid bytes (high ones included) that could hide it or
        // be mistaken for one, and with a second escape after it that must not be taken for
        // the first.
        let naive = |bytes: &[u8], from: usize| {
            bytes[from..]
                .iter()
                .position(|&b| b < 0x20 || b == b'"' || b == b'\\')
                .map(|i| from + i)
        };
        // Up to 40 bytes: the 16-byte steps, the 8-byte steps and the last bytes, each with
        // the escape in every lane.
        for len in 1..=40 {
            for pos in 0..len {
                for byte in 0..=255u8 {
                    for filler in [b'a', 0x21, 0x5D, 0x7F, 0x80, 0xDC, 0xFF] {
                        let mut bytes = vec![filler; len];
                        bytes[pos] = byte;
                        if pos + 3 < len {
                            bytes[pos + 3] = b'"';
                        }
                        for from in [0, 1, pos, pos + 1, len] {
                            let from = from.min(len);
                            assert_eq!(
                                next_escape(&bytes, from),
                                naive(&bytes, from),
                                "{bytes:?} from {from}"
                            );
                        }
                    }
                }
            }
        }
        assert_eq!(next_escape(b"", 0), None);
        assert_eq!(next_escape(b"\nabc", 1), None);
    }

    #[test]
    fn scalars_match() {
        same(&true);
        same(&false);
        same(&());
        same(&None::<u8>);
        same(&Some(3u8));
        for v in [i64::MIN, -1, 0, 1, i64::MAX] {
            same(&v);
        }
        same(&(
            i8::MIN,
            i16::MIN,
            i32::MIN,
            u8::MAX,
            u16::MAX,
            u32::MAX,
            u64::MAX,
        ));
        same(&(i128::MIN, i128::MAX, u128::MAX));
        for v in [
            0.0,
            -0.0,
            1.0,
            0.1,
            -1.5e-7,
            1e21,
            1e300,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            same(&v);
            same(&(v as f32));
        }
        for c in ['a', '"', '\\', '\n', '\u{0}', '\u{7f}', 'é', '😀'] {
            same(&c);
        }
        same("");
        same(&"x".repeat(1000));
        same(&Vec::<u8>::new());
        same(&BTreeMap::<String, u8>::new());
    }

    struct Bytes<'a>(&'a [u8]);

    impl Serialize for Bytes<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(self.0)
        }
    }

    struct Shown<T>(T);

    impl<T: fmt::Display> Serialize for Shown<T> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_str(&self.0)
        }
    }

    #[test]
    fn bytes_and_displayed_values_match() {
        assert_eq!(same(&Bytes(&[0, 7, 255])), "[0,7,255]");
        assert_eq!(same(&Bytes(&[])), "[]");
        same(&Shown(format_args!("a{}\"b\\{}", '\n', "\u{1}é")));
        same(&Shown(""));
        // As a map key too.
        same(&Map(vec![(Shown("k\n\"é"), 1)]));
    }

    /// A map from any key type, in the order given (the key types here are not all `Ord`).
    struct Map<K, V>(Vec<(K, V)>);

    impl<K: Serialize, V: Serialize> Serialize for Map<K, V> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
        }
    }

    #[derive(Serialize, PartialEq, Eq, PartialOrd, Ord)]
    enum Kind {
        Plain,
        #[serde(rename = "re\"named")]
        Renamed,
    }

    #[derive(Serialize, PartialEq, Eq, PartialOrd, Ord)]
    struct Wrapped(u16);

    #[test]
    fn map_keys_are_quoted_as_serde_json_quotes_them() {
        assert_eq!(
            same(&BTreeMap::from([(-3i32, "a"), (7, "b")])),
            r#"{"-3":"a","7":"b"}"#
        );
        assert_eq!(
            same(&BTreeMap::from([(true, 1), (false, 0)])),
            r#"{"false":0,"true":1}"#
        );
        same(&BTreeMap::from([(u8::MAX, 1)]));
        same(&BTreeMap::from([(i128::MIN, 1), (i128::MAX, 2)]));
        same(&BTreeMap::from([(u128::MAX, 1)]));
        same(&BTreeMap::from([(u64::MAX, 1), (0, 2)]));
        same(&BTreeMap::from([('"', 1), ('é', 2), ('\u{1}', 3)]));
        same(&BTreeMap::from([(Kind::Plain, 1), (Kind::Renamed, 2)]));
        same(&BTreeMap::from([(Wrapped(9), 1)]));
        same(&BTreeMap::from([(Some(4u8), 1)]));
        same(&Map(vec![(1.5f64, 1), (-0.0, 2), (1e300, 3)]));
        same(&Map(vec![(0.25f32, 1)]));
        same(&Map(vec![("dup", 1), ("dup", 2)]));
    }

    #[test]
    fn keys_that_are_not_strings_fail_as_in_serde_json() {
        assert_eq!(
            same_error(&BTreeMap::from([(vec![1u8], 1)])),
            "key must be a string"
        );
        same_error(&BTreeMap::from([((), 1)]));
        same_error(&BTreeMap::from([(None::<u8>, 1)]));
        same_error(&BTreeMap::from([((1, 2), 1)]));
        same_error(&Map(vec![(BTreeMap::from([(1, 1)]), 1)]));
        same_error(&Map(vec![(Bytes(b"k"), 1)]));
        same_error(&Map(vec![(Newtype::V(1), 1)]));
        same_error(&Map(vec![(Tuple::V(1, 2), 1)]));
        same_error(&Map(vec![(Fields::V { a: 1 }, 1)]));
        same_error(&Map(vec![(Skips::default(), 1)]));
        assert_eq!(
            same_error(&Map(vec![(f64::NAN, 1)])),
            "float key must be finite (got NaN or +/-inf)"
        );
        same_error(&Map(vec![(f32::INFINITY, 1)]));
    }

    #[derive(Serialize)]
    enum Newtype {
        V(u8),
    }

    #[derive(Serialize)]
    enum Tuple {
        V(u8, u8),
    }

    #[derive(Serialize)]
    enum Fields {
        V { a: u8 },
    }

    #[derive(Serialize)]
    enum Every {
        Unit,
        Newtype(Option<String>),
        Tuple(i32, String),
        Empty(),
        Struct {
            a: u8,
            #[serde(skip_serializing_if = "Option::is_none")]
            b: Option<u8>,
        },
        EmptyStruct {},
        Nested(Box<Every>),
    }

    #[derive(Serialize)]
    #[serde(tag = "type", rename_all = "snake_case")]
    enum Tagged {
        One { x: u8 },
        Two(Inner),
        Three,
    }

    #[derive(Serialize)]
    #[serde(tag = "t", content = "c")]
    enum Adjacent {
        A(u8),
        B { s: String },
    }

    #[derive(Serialize)]
    #[serde(untagged)]
    enum Untagged {
        N(u8),
        S(String),
        L(Vec<Untagged>),
    }

    #[test]
    fn enums_of_every_kind_match() {
        assert_eq!(same(&Every::Unit), r#""Unit""#);
        assert_eq!(
            same(&Every::Newtype(Some("n".into()))),
            r#"{"Newtype":"n"}"#
        );
        same(&Every::Newtype(None));
        assert_eq!(
            same(&Every::Tuple(-1, "t\"".into())),
            r#"{"Tuple":[-1,"t\""]}"#
        );
        assert_eq!(same(&Every::Empty()), r#"{"Empty":[]}"#);
        assert_eq!(
            same(&Every::Struct { a: 1, b: None }),
            r#"{"Struct":{"a":1}}"#
        );
        same(&Every::Struct { a: 1, b: Some(2) });
        assert_eq!(same(&Every::EmptyStruct {}), r#"{"EmptyStruct":{}}"#);
        same(&Every::Nested(Box::new(Every::Tuple(0, String::new()))));
        same(&Tagged::One { x: 1 });
        same(&Tagged::Two(Inner {
            s: "in".into(),
            n: None,
        }));
        same(&Tagged::Three);
        same(&Adjacent::A(3));
        same(&Adjacent::B { s: "b".into() });
        same(&Untagged::L(vec![
            Untagged::N(1),
            Untagged::S("s".into()),
            Untagged::L(vec![]),
        ]));
    }

    #[derive(Serialize, Default)]
    struct Inner {
        s: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        n: Option<u32>,
    }

    #[derive(Serialize, Default)]
    struct Skips {
        #[serde(skip_serializing_if = "Option::is_none")]
        first: Option<u8>,
        kept: u8,
        #[serde(skip)]
        _never: u8,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        list: Vec<u8>,
        #[serde(rename = "re\nnamed", skip_serializing_if = "Option::is_none")]
        last: Option<Inner>,
        #[serde(flatten)]
        flat: Inner,
    }

    #[derive(Serialize, Default)]
    struct AllSkipped {
        #[serde(skip_serializing_if = "Option::is_none")]
        a: Option<u8>,
        #[serde(skip_serializing_if = "Option::is_none")]
        b: Option<u8>,
    }

    #[derive(Serialize)]
    struct Unit;

    #[derive(Serialize)]
    struct Pair(u8, &'static str);

    /// Calls `SerializeStruct::skip_field` itself, as hand-written impls may.
    struct SkipsByHand(Option<u8>);

    impl Serialize for SkipsByHand {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut st = s.serialize_struct("SkipsByHand", 1 + usize::from(self.0.is_some()))?;
            match self.0 {
                Some(v) => st.serialize_field("maybe", &v)?,
                None => st.skip_field("maybe")?,
            }
            st.serialize_field("always", &true)?;
            st.end()
        }
    }

    /// Announces no fields and writes one anyway: serde_json's output for that is malformed
    /// (the object is closed at once, then the field and a second close follow), and must
    /// still be the same.
    struct WrongLength;

    impl Serialize for WrongLength {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut st = s.serialize_struct("WrongLength", 0)?;
            st.serialize_field("a", &1)?;
            st.end()
        }
    }

    #[test]
    fn structs_with_skipped_fields_match() {
        assert_eq!(same(&Skips::default()), r#"{"kept":0,"s":""}"#);
        same(&Skips {
            first: Some(1),
            kept: 2,
            _never: 3,
            list: vec![4, 5],
            last: Some(Inner {
                s: "i".into(),
                n: Some(6),
            }),
            flat: Inner {
                s: "f".into(),
                n: Some(7),
            },
        });
        assert_eq!(same(&AllSkipped::default()), "{}");
        same(&AllSkipped {
            a: None,
            b: Some(1),
        });
        assert_eq!(same(&SkipsByHand(None)), r#"{"always":true}"#);
        assert_eq!(same(&SkipsByHand(Some(1))), r#"{"maybe":1,"always":true}"#);
        assert_eq!(same(&WrongLength), r#"{},"a":1}"#);
        assert_eq!(same(&Unit), "null");
        assert_eq!(same(&Wrapped(5)), "5");
        assert_eq!(same(&Pair(1, "p")), r#"[1,"p"]"#);
        same(&(1, "two", [3.5], Unit));
    }

    #[derive(Serialize)]
    struct WithRaw<'a> {
        before: u8,
        raw: &'a RawValue,
        boxed: Box<RawValue>,
        many: Vec<Box<RawValue>>,
    }

    #[test]
    fn raw_values_are_copied_as_they_are() {
        let raw = RawValue::from_string(r#"{ "x" : [1, 2 ],"s":"a\nb\u0001" }"#.into()).unwrap();
        let value = WithRaw {
            before: 1,
            raw: &raw,
            boxed: RawValue::from_string("\"é\"".into()).unwrap(),
            many: vec![
                RawValue::from_string("null".into()).unwrap(),
                RawValue::from_string(" 12.50 ".into()).unwrap(),
            ],
        };
        assert_eq!(
            same(&value),
            r#"{"before":1,"raw":{ "x" : [1, 2 ],"s":"a\nb\u0001" },"boxed":"é","many":[null,12.50]}"#
        );
        same(&raw);
        same(&BTreeMap::from([("r", &*raw)]));
    }

    /// A struct that borrows serde_json's RawValue name without being one.
    struct FakeRaw<T>(&'static str, T);

    impl<T: Serialize> Serialize for FakeRaw<T> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut st = s.serialize_struct(RAW_VALUE_TOKEN, 1)?;
            st.serialize_field(self.0, &self.1)?;
            st.end()
        }
    }

    #[test]
    fn a_malformed_raw_value_fails_as_in_serde_json() {
        assert_eq!(same_error(&FakeRaw("other", "1")), "expected value");
        assert_eq!(
            same_error(&FakeRaw(RAW_VALUE_TOKEN, 1)),
            "expected RawValue"
        );
        same_error(&FakeRaw(RAW_VALUE_TOKEN, Some("1")));
        same_error(&FakeRaw(RAW_VALUE_TOKEN, vec!["1"]));
        same(&FakeRaw(RAW_VALUE_TOKEN, "[1]"));
    }

    #[test]
    fn rmcp_messages_match() {
        let text = "feed_1: 2 messages, newest first\n- \"quoted\" \\ tab\there\n- é 😀 \u{1}\n";
        let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
        result.structured_content = Some(json!({
            "messages": [
                {"id": "post_1", "content": "line\nnext", "reactions": [{"emoji": "👍", "count": 3}]},
                {"id": "post_2", "content": "", "flags": {"pinned": true}, "poll": null},
            ],
            "next_cursor": "b64==\u{7f}",
        }));
        let answer = ServerJsonRpcMessage::response(
            ServerResult::CallToolResult(result),
            RequestId::Number(42),
        );
        let line = same(&answer);
        assert!(
            line.contains(r#""structuredContent":{"messages":"#),
            "{line}"
        );

        let failed = CallToolResult::error(vec![ContentBlock::text("not found: \"x\"")]);
        same(&ServerJsonRpcMessage::response(
            ServerResult::CallToolResult(failed),
            RequestId::String("req-\"1\"".into()),
        ));
        same(&ServerJsonRpcMessage::error(
            ErrorData::invalid_params("limit: expected 1..=100", Some(json!({"got": -1}))),
            Some(RequestId::Number(7)),
        ));
        same(&ServerJsonRpcMessage::error(
            ErrorData::internal_error("parse error", None),
            None,
        ));
        same(&ServerJsonRpcMessage::response(
            ServerResult::ListToolsResult(ListToolsResult::with_all_items(
                crate::tools::catalog().to_vec(),
            )),
            RequestId::Number(2),
        ));
        same(&ServerJsonRpcMessage::notification(
            ServerNotification::ResourceUpdatedNotification(Notification::new(
                ResourceUpdatedNotificationParam::new("whop://channels/feed_1"),
            )),
        ));
    }

    /// A scrub for the tests: every string reversed (one to one, so keys cannot collide,
    /// and it reorders them).
    struct Reverse;

    impl Scrub for Reverse {
        fn scrub<'s>(&self, s: &'s str) -> Cow<'s, str> {
            if s.chars().count() < 2 {
                return Cow::Borrowed(s);
            }
            Cow::Owned(s.chars().rev().collect())
        }
    }

    struct Keep;

    impl Scrub for Keep {
        fn scrub<'s>(&self, s: &'s str) -> Cow<'s, str> {
            Cow::Borrowed(s)
        }
    }

    /// `value` with `scrub` applied to every string and key, as the gate does to a `Value`.
    fn scrubbed(value: &Value, scrub: &impl Scrub) -> Value {
        match value {
            Value::String(s) => Value::String(scrub.scrub(s).into_owned()),
            Value::Array(items) => Value::Array(items.iter().map(|v| scrubbed(v, scrub)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (scrub.scrub(k).into_owned(), scrubbed(v, scrub)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// The JSON [`structured`] encodes `value` to, checked against the `Value` route:
    /// `to_value`, the scrub on every string, `to_vec`.
    #[track_caller]
    fn same_structured<T: ?Sized + Serialize>(value: &T, scrub: &impl Scrub) -> String {
        let want =
            serde_json::to_string(&scrubbed(&serde_json::to_value(value).unwrap(), scrub)).unwrap();
        let wrapped = structured(value, scrub).expect("structured encodes the value");
        let got = structured_json(&wrapped)
            .expect("a structured value")
            .to_owned();
        assert_eq!(got, want);
        let mut expanded = wrapped;
        expand(&mut expanded).unwrap();
        assert_eq!(serde_json::to_string(&expanded).unwrap(), want);
        got
    }

    /// A map written in the order given, duplicates included.
    struct Entries(Vec<(String, Value)>);

    impl Serialize for Entries {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut map = s.serialize_map(Some(self.0.len()))?;
            for (k, v) in &self.0 {
                map.serialize_entry(k, v)?;
            }
            map.end()
        }
    }

    #[derive(Serialize)]
    struct Unsorted {
        zeta: u8,
        alpha: Vec<Unsorted>,
        #[serde(skip_serializing_if = "Option::is_none")]
        mid: Option<Every>,
        raw: Option<Box<RawValue>>,
        map: BTreeMap<i32, String>,
    }

    #[test]
    fn structured_objects_come_out_in_order_whatever_order_they_were_written_in() {
        let raw = RawValue::from_string(
            r#"{ "z": [1, "two words"], "a": {"y": null, "b": 2.5} }"#.into(),
        )
        .unwrap();
        let value = Unsorted {
            zeta: 1,
            alpha: vec![Unsorted {
                zeta: 2,
                alpha: vec![],
                mid: Some(Every::Struct { a: 3, b: Some(4) }),
                raw: None,
                map: BTreeMap::from([(10, "ten".into()), (9, "nine".into()), (-1, "x".into())]),
            }],
            mid: Some(Every::Nested(Box::new(Every::Tuple(5, "t".into())))),
            raw: Some(raw),
            map: BTreeMap::new(),
        };
        let kept = same_structured(&value, &Keep);
        assert!(
            kept.starts_with(
                r#"{"alpha":[{"alpha":[],"map":{"-1":"x","10":"ten","9":"nine"},"mid":{"Struct""#
            ),
            "{kept}"
        );
        assert!(
            kept.contains(r#""raw":{"a":{"b":2.5,"y":null},"z":[1,"two words"]}"#),
            "{kept}"
        );
        // Names from the code are left as they are (one-letter ones, which `Reverse` keeps, let
        // the `Value` route be the reference).
        #[derive(Serialize)]
        struct Short {
            z: Box<RawValue>,
            a: Vec<String>,
        }
        let short = Short {
            z: RawValue::from_string(r#"{"yx": "two words", "b": [true]}"#.into()).unwrap(),
            a: vec!["ab".into(), "é😀".into()],
        };
        assert_eq!(
            same_structured(&short, &Reverse),
            r#"{"a":["ba","😀é"],"z":{"b":[true],"xy":"sdrow owt"}}"#
        );
        same_structured(
            &Entries(vec![
                ("b".into(), json!(1)),
                ("a".into(), json!(2)),
                ("b".into(), json!(3)),
            ]),
            &Keep,
        );
        same_structured(
            &Entries(vec![
                ("é\n".into(), json!(1)),
                ("e\"".into(), json!([{"b": 1, "a": 2}])),
            ]),
            &Reverse,
        );
        same_structured(&Entries(vec![]), &Keep);
        same_structured(&Every::EmptyStruct {}, &Keep);
    }

    #[test]
    fn structured_errors_are_to_values() {
        let bad = BTreeMap::from([(vec![1u8], 1u8)]);
        let want = serde_json::to_value(&bad).unwrap_err().to_string();
        assert_eq!(structured(&bad, &Keep).unwrap_err().to_string(), want);
    }

    #[test]
    fn the_stdio_writer_copies_structured_json_in_place() {
        let page = json!({"messages": [{"id": "m1", "content": "a \"quoted\"\nline"}], "next_cursor": "c"});
        let mut result = CallToolResult::success(vec![ContentBlock::text("text")]);
        result.structured_content = Some(structured(&page, &Keep).unwrap());
        let answer = ServerJsonRpcMessage::response(
            ServerResult::CallToolResult(result.clone()),
            RequestId::Number(3),
        );
        let got = String::from_utf8(ours(&answer).unwrap()).unwrap();
        let mut expanded = result;
        expand(expanded.structured_content.as_mut().unwrap()).unwrap();
        assert_eq!(expanded.structured_content.as_ref(), Some(&page));
        let want = serde_json::to_string(&ServerJsonRpcMessage::response(
            ServerResult::CallToolResult(expanded),
            RequestId::Number(3),
        ))
        .unwrap();
        assert_eq!(got, want);
        assert!(!got.contains(marker()), "{got}");
    }

    #[test]
    fn only_this_process_marker_is_spliced() {
        // The same shape under another key, and the marker in a bigger object, stay objects.
        let lookalike = marker().replace("structured", "structureX");
        for v in [
            json!({ lookalike: "{\"a\":1}" }),
            json!({ marker(): "{\"a\":1}", "b": 2 }),
            json!([{ "k": marker() }]),
        ] {
            same(&v);
            let mut unchanged = v.clone();
            expand(&mut unchanged).unwrap();
            assert_eq!(unchanged, v);
        }
    }

    /// Characters that matter to JSON or to the word test, and any at all.
    fn chars() -> impl Strategy<Value = char> {
        prop_oneof![
            3 => any::<char>(),
            2 => (0u8..0x20).prop_map(char::from),
            2 => prop::sample::select(vec![
                '"', '\\', '/', '\u{7f}', 'é', '€', '😀', '\u{2028}', '\u{FEFF}', '\u{10FFFF}',
            ]),
            3 => prop::char::range(' ', '~'),
        ]
    }

    fn strings() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => proptest::collection::vec(chars(), 0..24).prop_map(|c| c.into_iter().collect()),
            // Long runs, most without escapes, crossing many word boundaries.
            1 => (proptest::collection::vec(chars(), 0..6), "[a-z ]{0,40}", 1usize..40)
                .prop_map(|(c, plain, n)| {
                    let piece: String = c.into_iter().collect();
                    format!("{plain}{piece}").repeat(n)
                }),
        ]
    }

    fn values() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            // Value::from turns NaN and the infinities into null, as JSON has no such numbers.
            any::<f64>().prop_map(Value::from),
            prop::sample::select(vec![
                0.0,
                -0.0,
                1e-300,
                5e-324,
                1e300,
                f64::MAX,
                0.1,
                123.456
            ])
            .prop_map(Value::from),
            strings().prop_map(Value::from),
        ];
        leaf.prop_recursive(5, 96, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                proptest::collection::vec((strings(), inner), 0..8)
                    .prop_map(|entries| Value::Object(entries.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn any_value_serialises_as_serde_json_does(value in values()) {
            let want = serde_json::to_vec(&value).unwrap();
            let mut got = Vec::new();
            to_vec_into(&mut got, &value).unwrap();
            prop_assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&want));
            prop_assert_eq!(got, want);
        }

        #[test]
        fn any_value_encodes_structured_as_to_value_then_the_gate_would(value in values()) {
            same_structured(&value, &Reverse);
            same_structured(&value, &Keep);
        }

        #[test]
        fn any_map_in_any_order_encodes_structured_as_to_value(
            entries in proptest::collection::vec(("[a-c]{0,2}|é|\\\\|\n", values()), 0..8),
        ) {
            same_structured(&Entries(entries.clone()), &Keep);
            same_structured(&Entries(entries), &Reverse);
        }

        #[test]
        fn any_string_serialises_as_serde_json_does(s in strings()) {
            prop_assert_eq!(ours(&s).unwrap(), serde_json::to_vec(&s).unwrap());
        }
    }
}
