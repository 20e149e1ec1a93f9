//! Walking a message: tokens, values, object members, array elements, strings.
//!
//! Contract: these readers are meant for messages that [`super::parse`] has
//! validated, where they find exactly the structure the parser saw. They are
//! still total on any input: malformed bytes end an iteration early instead of
//! panicking, and no function recurses or allocates. Positions are indices into
//! the message buffer; a value is the range from its first token's first byte
//! to its last token's last byte.

use core::ops::Range;

use super::lex::{LexState, Step, TokenKind};

/// Where a string body's run of ordinary bytes ends: the next `quote` or
/// backslash (walkers cross megabyte-long base64 strings several times per
/// request). In a framed message the lexer already refused control bytes
/// and 0xFE/0xFF inside strings, so only these two matter; on arbitrary
/// bytes the walk stays total, it just does not re-check what the lexer
/// checks.
///
/// Where words are 64 bits this is `memchr`'s search (vector code on
/// hosts: a 64 KiB `guest-file-write` is handled in half the time). On
/// 32-bit targets, microcontrollers without vector units, the lexer's own
/// word-at-a-time search serves and `memchr` is not linked (a control byte
/// it stops at ends the walk, as the lexer would). Both are portable code;
/// only speed and size differ.
#[cfg(target_pointer_width = "64")]
fn string_run_end(buf: &[u8], from: usize, quote: u8) -> usize {
    let rest = buf.get(from..).unwrap_or(&[]);
    memchr::memchr2(quote, b'\\', rest).map_or(buf.len(), |i| from.wrapping_add(i))
}
#[cfg(not(target_pointer_width = "64"))]
use super::lex::string_run_end;

/// Whether a string token's bytes need no decoding (no escape, no C0 80
/// pair; on 32-bit targets, conservatively, no byte above 0x7F).
#[cfg(target_pointer_width = "64")]
fn plain(raw: &[u8]) -> bool {
    memchr::memchr2(b'\\', 0xC0, raw).is_none()
}
#[cfg(not(target_pointer_width = "64"))]
use super::lex::plain_ascii as plain;

/// One token of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token {
    /// Its kind.
    pub kind: TokenKind,
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

/// Iterator over the tokens of `buf[pos..]`; ends at the end of the buffer or
/// at a byte that is not valid JSON.
#[derive(Clone, Debug)]
pub struct Tokens<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Tokens<'a> {
    /// Tokens starting at `pos`.
    pub fn new(buf: &'a [u8], pos: usize) -> Self {
        Tokens { buf, pos }
    }

    /// Position after the last token returned.
    pub fn pos(&self) -> usize {
        self.pos
    }
}

impl Iterator for Tokens<'_> {
    type Item = Token;

    fn next(&mut self) -> Option<Token> {
        let mut st = LexState::Start;
        let mut start = self.pos;
        loop {
            let Some(&b) = self.buf.get(self.pos) else {
                // End of the message: a number or keyword ends here.
                let kind = match st {
                    LexState::Zero | LexState::Digits => TokenKind::Integer,
                    LexState::MantissaDigits | LexState::ExpDigits => TokenKind::Float,
                    LexState::Keyword => TokenKind::Keyword,
                    _ => return None,
                };
                return Some(Token {
                    kind,
                    start,
                    end: self.pos,
                });
            };
            if st.is_start() {
                start = self.pos;
            } else if st == LexState::Dq || st == LexState::Sq {
                let quote = if st == LexState::Dq { b'"' } else { b'\'' };
                let run_end = string_run_end(self.buf, self.pos, quote);
                if run_end != self.pos {
                    self.pos = run_end;
                    continue;
                }
            }
            match st.feed(b) {
                Step::Continue => self.pos = self.pos.wrapping_add(1),
                Step::Token(kind) => {
                    self.pos = self.pos.wrapping_add(1);
                    return Some(Token {
                        kind,
                        start,
                        end: self.pos,
                    });
                }
                Step::TokenBefore(kind) => {
                    return Some(Token {
                        kind,
                        start,
                        end: self.pos,
                    });
                }
                Step::Error | Step::Resync => {
                    // Not valid here: stop for good.
                    self.pos = self.buf.len();
                    return None;
                }
            }
        }
    }
}

/// The first token at or after `pos`.
pub fn token_at(buf: &[u8], pos: usize) -> Option<Token> {
    Tokens::new(buf, pos).next()
}

/// Returns the range of the value whose first token starts at or after `pos`.
pub fn value_at(buf: &[u8], pos: usize) -> Option<Range<usize>> {
    let mut toks = Tokens::new(buf, pos);
    let first = toks.next()?;
    let mut depth: u32 = match first.kind {
        TokenKind::LCurly | TokenKind::LSquare => 1,
        _ => return Some(first.start..first.end),
    };
    for t in toks {
        match t.kind {
            TokenKind::LCurly | TokenKind::LSquare => depth = depth.wrapping_add(1),
            TokenKind::RCurly | TokenKind::RSquare => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(first.start..t.end);
                }
            }
            _ => {}
        }
    }
    None
}

/// The JSON type of a value, as the QAPI input visitor sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `{...}`
    Object,
    /// `[...]`
    Array,
    /// A string.
    String,
    /// An integer that fits `i64`.
    Int(i64),
    /// An integer that fits only `u64`.
    Uint(u64),
    /// Any other number (fraction, exponent, or too large): a double.
    Double,
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// Not a value (an invalid keyword or a structural token).
    Invalid,
}

/// The kind of the value starting at `pos` (of a validated message).
pub fn kind_at(buf: &[u8], pos: usize) -> Kind {
    // A string's kind is known from its quote: no need to scan its body
    // (which can be megabytes of base64). Whitespace never precedes a
    // value's start in the ranges the walkers hand out, but be exact.
    if let Some(b'"' | b'\'') = buf.get(pos) {
        return Kind::String;
    }
    let Some(t) = token_at(buf, pos) else {
        return Kind::Invalid;
    };
    token_kind(buf, t)
}

/// The kind of the value that starts with token `t`.
pub fn token_kind(buf: &[u8], t: Token) -> Kind {
    let text = buf.get(t.start..t.end).unwrap_or(&[]);
    match t.kind {
        TokenKind::LCurly => Kind::Object,
        TokenKind::LSquare => Kind::Array,
        TokenKind::String => Kind::String,
        TokenKind::Integer => {
            if let Some(v) = parse_i64(text) {
                Kind::Int(v)
            } else if let Some(v) = parse_u64(text) {
                Kind::Uint(v)
            } else {
                Kind::Double
            }
        }
        TokenKind::Float => Kind::Double,
        TokenKind::Keyword => match text {
            b"true" => Kind::Bool(true),
            b"false" => Kind::Bool(false),
            b"null" => Kind::Null,
            _ => Kind::Invalid,
        },
        _ => Kind::Invalid,
    }
}

/// Parses an integer token (`-?digits`) that fits `i64`.
pub fn parse_i64(text: &[u8]) -> Option<i64> {
    let (neg, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    if digits.is_empty() {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        let d = i64::from(d.wrapping_sub(b'0'));
        v = v.checked_mul(10)?;
        v = if neg {
            v.checked_sub(d)?
        } else {
            v.checked_add(d)?
        };
    }
    Some(v)
}

/// Parses a non-negative integer token that fits `u64`.
pub fn parse_u64(text: &[u8]) -> Option<u64> {
    if text.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &d in text {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v
            .checked_mul(10)?
            .checked_add(u64::from(d.wrapping_sub(b'0')))?;
    }
    Some(v)
}

/// Iterator over `(key, value)` ranges of the object starting at `pos`.
///
/// `key` is the key's string token, quotes included.
#[derive(Clone, Debug)]
pub struct Members<'a> {
    buf: &'a [u8],
    toks: Tokens<'a>,
    done: bool,
}

impl<'a> Members<'a> {
    /// Members of the object whose `{` is the first token at or after `pos`.
    /// Yields nothing if that token is not `{`.
    pub fn new(buf: &'a [u8], pos: usize) -> Self {
        let mut toks = Tokens::new(buf, pos);
        let done = !matches!(
            toks.next(),
            Some(Token {
                kind: TokenKind::LCurly,
                ..
            })
        );
        Members { buf, toks, done }
    }
}

impl Iterator for Members<'_> {
    type Item = (Range<usize>, Range<usize>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let key = match self.toks.next() {
            Some(t) if t.kind == TokenKind::String => t,
            _ => {
                self.done = true;
                return None;
            }
        };
        if !matches!(
            self.toks.next(),
            Some(Token {
                kind: TokenKind::Colon,
                ..
            })
        ) {
            self.done = true;
            return None;
        }
        let Some(value) = value_at(self.buf, self.toks.pos()) else {
            self.done = true;
            return None;
        };
        self.toks = Tokens::new(self.buf, value.end);
        match self.toks.next() {
            Some(Token {
                kind: TokenKind::Comma,
                ..
            }) => {}
            _ => self.done = true,
        }
        Some((key.start..key.end, value))
    }
}

/// Iterator over the element ranges of the array starting at `pos`.
#[derive(Clone, Debug)]
pub struct Elements<'a> {
    buf: &'a [u8],
    toks: Tokens<'a>,
    done: bool,
    first: bool,
}

impl<'a> Elements<'a> {
    /// Elements of the array whose `[` is the first token at or after `pos`.
    /// Yields nothing if that token is not `[`.
    pub fn new(buf: &'a [u8], pos: usize) -> Self {
        let mut toks = Tokens::new(buf, pos);
        let done = !matches!(
            toks.next(),
            Some(Token {
                kind: TokenKind::LSquare,
                ..
            })
        );
        Elements {
            buf,
            toks,
            done,
            first: true,
        }
    }
}

impl Iterator for Elements<'_> {
    type Item = Range<usize>;

    fn next(&mut self) -> Option<Range<usize>> {
        if self.done {
            return None;
        }
        if self.first {
            self.first = false;
            let t = self.toks.clone().next();
            if matches!(
                t,
                Some(Token {
                    kind: TokenKind::RSquare,
                    ..
                }) | None
            ) {
                self.done = true;
                return None;
            }
        }
        let Some(value) = value_at(self.buf, self.toks.pos()) else {
            self.done = true;
            return None;
        };
        self.toks = Tokens::new(self.buf, value.end);
        match self.toks.next() {
            Some(Token {
                kind: TokenKind::Comma,
                ..
            }) => {}
            _ => self.done = true,
        }
        Some(value)
    }
}

/// Decodes the string token `tok` (quotes included) byte by byte.
///
/// Yields the UTF-8 bytes of the decoded text; U+0000 (from `\u0000` or the
/// modified-UTF-8 pair C0 80) becomes a single 0x00 byte, so decoded text is
/// valid UTF-8 for a validated string. Escapes are those qemu-ga accepts.
#[derive(Clone, Debug)]
pub struct Decoded<'a> {
    raw: &'a [u8],
    pos: usize,
    pending: [u8; 4],
    pending_len: u8,
    pending_pos: u8,
}

impl<'a> Decoded<'a> {
    /// Decoder over the string token `buf[tok]`.
    pub fn new(buf: &'a [u8], tok: Range<usize>) -> Self {
        // Skip the opening quote; stop before the closing one.
        let inner = tok.start.wrapping_add(1)..tok.end.saturating_sub(1);
        Decoded {
            raw: buf.get(inner).unwrap_or(&[]),
            pos: 0,
            pending: [0; 4],
            pending_len: 0,
            pending_pos: 0,
        }
    }

    /// Number of decoded bytes (walks a copy of the decoder).
    pub fn decoded_len(&self) -> usize {
        self.clone().count()
    }
}

impl Iterator for Decoded<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        if self.pending_pos >= self.pending_len {
            let (consumed, bytes, n) = decode_one(self.raw.get(self.pos..)?)?;
            self.pos = self.pos.wrapping_add(consumed);
            self.pending = bytes;
            self.pending_len = n;
            self.pending_pos = 0;
        }
        let b = self.pending.get(usize::from(self.pending_pos)).copied();
        self.pending_pos = self.pending_pos.wrapping_add(1);
        b
    }
}

/// Four hex digits at the start of `b`, or `None`.
pub(crate) fn hex4(b: &[u8]) -> Option<u32> {
    let mut v: u32 = 0;
    for &c in b.get(..4)? {
        let d = char::from(c).to_digit(16)?;
        v = (v << 4) | d;
    }
    Some(v)
}

/// Decodes the backslash escape at the start of `s`: (code point, bytes
/// used); a surrogate pair is combined, a lone surrogate returned as is.
/// `None` for a malformed escape.
pub(crate) fn escape_unit(s: &[u8]) -> Option<(u32, usize)> {
    let cp = match *s.get(1)? {
        b'"' => 0x22,
        b'\'' => 0x27,
        b'\\' => 0x5C,
        b'/' => 0x2F,
        b'b' => 0x08,
        b'f' => 0x0C,
        b'n' => 0x0A,
        b'r' => 0x0D,
        b't' => 0x09,
        b'u' => {
            let hi = hex4(s.get(2..)?)?;
            if (0xD800..=0xDBFF).contains(&hi)
                && s.get(6) == Some(&b'\\')
                && s.get(7) == Some(&b'u')
            {
                let lo = hex4(s.get(8..)?)?;
                if (0xDC00..=0xDFFF).contains(&lo) {
                    return Some((0x10000 | ((hi & 0x3FF) << 10) | (lo & 0x3FF), 12));
                }
            }
            return Some((hi, 6));
        }
        _ => return None,
    };
    Some((cp, 2))
}

/// Decodes the unit (raw byte, C0 80 pair, or escape) at the start of the
/// string body `s`. Returns (bytes consumed, decoded bytes, decoded length),
/// or `None` at the end or at a malformed escape.
fn decode_one(s: &[u8]) -> Option<(usize, [u8; 4], u8)> {
    let b = *s.first()?;
    if b == 0xC0 && s.get(1) == Some(&0x80) {
        return Some((2, [0; 4], 1));
    }
    if b != b'\\' {
        return Some((1, [b, 0, 0, 0], 1));
    }
    let (cp, consumed) = escape_unit(s)?;
    let mut utf8 = [0u8; 4];
    let n = char::from_u32(cp)?.encode_utf8(&mut utf8).len();
    Some((consumed, utf8, u8::try_from(n).ok()?))
}

/// Whether the string token `tok` decodes to exactly `name`.
pub fn str_eq(buf: &[u8], tok: Range<usize>, name: &[u8]) -> bool {
    let raw = buf.get(tok.clone()).unwrap_or(&[]);
    // Fast path: no escapes, compare the bytes between the quotes.
    if plain(raw) {
        return raw.get(1..raw.len().saturating_sub(1)) == Some(name);
    }
    Decoded::new(buf, tok).eq(name.iter().copied())
}

/// Whether two string tokens decode to the same text.
pub fn str_tokens_eq(buf: &[u8], a: Range<usize>, b: Range<usize>) -> bool {
    Decoded::new(buf, a).eq(Decoded::new(buf, b))
}

/// Decodes the string token `tok` in place and returns the range of the
/// decoded bytes (which start where the opening quote was).
///
/// No unit decodes to more bytes than it spans and the opening quote gives
/// one byte of slack, so the write position never overtakes the read
/// position. The bytes after the decoded text are left as they are: nothing
/// may walk the token as JSON afterwards.
pub fn decode_in_place(buf: &mut [u8], tok: Range<usize>) -> Range<usize> {
    let inner = tok.start.wrapping_add(1)..tok.end.saturating_sub(1).max(tok.start);
    let raw = buf.get(inner.clone()).unwrap_or(&[]);
    if plain(raw) {
        // Nothing to decode: the text is already in place after the quote.
        return inner;
    }
    let mut w = tok.start;
    let mut r = inner.start;
    while r < inner.end {
        let Some((consumed, bytes, n)) = buf.get(r..inner.end).and_then(decode_one) else {
            break;
        };
        for &o in bytes.get(..usize::from(n)).unwrap_or(&[]) {
            if let Some(slot) = buf.get_mut(w) {
                *slot = o;
            }
            w = w.wrapping_add(1);
        }
        r = r.wrapping_add(consumed);
    }
    tok.start..w
}

/// QEMU's QDict bucket of a key: `tdb_hash(key) % 512` (qobject/qdict.c),
/// computed over the decoded key.
pub fn qdict_bucket(buf: &[u8], key_tok: Range<usize>) -> u32 {
    let dec = Decoded::new(buf, key_tok);
    let len = u32::try_from(dec.decoded_len()).unwrap_or(u32::MAX);
    let mut value: u32 = 0x238F_13AFu32.wrapping_mul(len);
    let mut i: u32 = 0;
    for b in dec {
        let shift = i.wrapping_mul(5) % 24;
        value = value.wrapping_add(u32::from(b) << shift);
        i = i.wrapping_add(1);
    }
    value.wrapping_mul(1_103_515_243).wrapping_add(12345) % 512
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_of_nested_object_skip_inner_values() {
        let buf = br#"{"a":{"x":[1,2]},"b" : "s", "c":null}"#;
        let mut m = Members::new(buf, 0);
        let (k, v) = m.next().unwrap();
        assert_eq!(&buf[k], br#""a""#);
        assert_eq!(&buf[v], br#"{"x":[1,2]}"#);
        let (k, v) = m.next().unwrap();
        assert_eq!(&buf[k], br#""b""#);
        assert_eq!(&buf[v], br#""s""#);
        let (_, v) = m.next().unwrap();
        assert_eq!(&buf[v], b"null");
        assert!(m.next().is_none());
    }

    #[test]
    fn elements_of_empty_and_scalar_arrays() {
        assert_eq!(Elements::new(b"[]", 0).count(), 0);
        let buf = b"[ 1, \"two\" ,[3]]";
        let v: heapless::Vec<_, 4> = Elements::new(buf, 0).map(|r| &buf[r]).collect();
        assert_eq!(v.as_slice(), &[&b"1"[..], b"\"two\"", b"[3]"]);
    }

    #[test]
    fn number_token_at_end_of_message_is_complete() {
        assert_eq!(value_at(b"-12", 0), Some(0..3));
        assert_eq!(kind_at(b"-12", 0), Kind::Int(-12));
        assert_eq!(kind_at(b"9223372036854775808", 0), Kind::Uint(1 << 63));
        assert_eq!(kind_at(b"18446744073709551616", 0), Kind::Double);
        assert_eq!(kind_at(b"-9223372036854775809", 0), Kind::Double);
        assert_eq!(kind_at(b"1.0", 0), Kind::Double);
        assert_eq!(kind_at(b"-0", 0), Kind::Int(0));
    }

    #[test]
    fn decoded_handles_escapes_pairs_and_nul() {
        let buf = br#""a\"b\u00e9\ud83d\ude00\u0000\/'""#;
        let mut out = [0u8; 32];
        let mut n = 0;
        for b in Decoded::new(buf, 0..buf.len()) {
            out[n] = b;
            n += 1;
        }
        assert_eq!(&out[..n], "a\"bé😀\0/'".as_bytes());
    }

    #[test]
    fn decode_in_place_matches_streaming_decoder() {
        let mut buf = *br#"xx"p\\a\tth\u00e9\ud83d\ude00""#;
        let len = buf.len();
        let r = decode_in_place(&mut buf, 2..len);
        assert_eq!(&buf[r], "p\\a\tthé😀".as_bytes());
        let mut plain = *br#""abc""#;
        let r = decode_in_place(&mut plain, 0..5);
        assert_eq!(&plain[r], b"abc");
    }

    /// The 32-bit targets' searches agree with `memchr`'s on string bodies
    /// of validated messages (no control bytes, no 0xFE/0xFF), so walking
    /// is the same on every target.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn word_searches_of_32_bit_targets_agree_with_memchr_on_valid_bodies() {
        let bodies: [&[u8]; 6] = [
            b"plain ascii text that is longer than thirty-two bytes, twice over",
            b"with \\ a backslash",
            "non-ASCII \u{e9}t\u{e9} and more \u{1F600}".as_bytes(),
            b"C0 80 pair: \xC0\x80 end",
            b"a 'single' quote and a \"double\" one",
            b"",
        ];
        for body in bodies {
            for quote in [b'"', b'\''] {
                let mut buf = std::vec::Vec::from(body);
                buf.push(quote);
                for from in 0..buf.len() {
                    assert_eq!(
                        super::super::lex::string_run_end(&buf, from, quote),
                        string_run_end(&buf, from, quote),
                        "{body:?} from {from}"
                    );
                }
            }
            // The 32-bit fast path is conservative: it never claims a body
            // plain that needs decoding.
            if super::super::lex::plain_ascii(body) {
                assert!(plain(body));
            }
        }
        assert!(super::super::lex::plain_ascii(b"0123456789abcdefXYZ"));
        assert!(!super::super::lex::plain_ascii(b"0123456789abcdef\\n"));
        assert!(!super::super::lex::plain_ascii("caf\u{e9}".as_bytes()));
    }

    #[test]
    fn str_eq_compares_decoded_text() {
        let buf = br#""guest\u002dping""#;
        assert!(str_eq(buf, 0..buf.len(), b"guest-ping"));
        assert!(!str_eq(buf, 0..buf.len(), b"guest-pin"));
        assert!(str_eq(br#"'id'"#, 0..4, b"id"));
    }

    #[test]
    fn qdict_buckets_match_qemu_envelope_keys() {
        // wire-protocol.md §3.3: return 401, id 486, error 489, class 211, desc 377.
        for (k, b) in [
            ("return", 401),
            ("id", 486),
            ("error", 489),
            ("class", 211),
            ("desc", 377),
        ] {
            let mut tok = [b'"'; 16];
            tok[1..=k.len()].copy_from_slice(k.as_bytes());
            assert_eq!(qdict_bucket(&tok, 0..k.len() + 2), b, "{k}");
        }
    }
}
