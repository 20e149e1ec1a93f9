//! Validation of one framed message: QEMU's JSON parser, without a tree.
//!
//! Contract: [`validate`] accepts exactly the messages qemu-ga 7.2's
//! `json-parser.c` accepts and otherwise returns the error qemu-ga reports,
//! with these documented differences:
//! * the parser is iterative with a fixed stack of two bits per level (the
//!   framer already bounds the depth), so no input can exhaust the stack;
//! * duplicate keys are found by a second pass, after the syntax pass: when a
//!   message has both a duplicate key and a later syntax error, qemu-ga names
//!   the duplicate and we name the syntax error. Both are GenericErrors.
//!
//! Strings are checked as QEMU's `parse_string` does: escapes
//! `\" \' \\ \/ \b \f \n \r \t \uXXXX`, surrogate pairs combined, lone
//! surrogates and noncharacters rejected, raw bytes as modified UTF-8
//! (`C0 80` allowed, other overlong forms rejected).

use core::ops::Range;

use super::lex::{TokenKind, not_plain};
use super::walk::{Decoded, Members, Token, Tokens, hex4, str_tokens_eq};
use crate::config::MAX_NESTING;

/// A syntax error, with qemu-ga's text after `JSON parse error, `.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyntaxError {
    /// `expecting value`
    ExpectingValue,
    /// `missing : in object pair`
    MissingColon,
    /// `key is not a string in object`
    KeyNotString,
    /// `expected separator in dict`
    ExpectedDictSeparator,
    /// `expected separator in list`
    ExpectedListSeparator,
    /// `duplicate key`
    DuplicateKey,
    /// `premature EOI`
    PrematureEoi,
    /// `invalid keyword '<text>'`; the range is the keyword token.
    InvalidKeyword(Range<usize>),
    /// `invalid escape sequence in string`
    InvalidEscape,
    /// `<text> is not a valid Unicode character`; the range is the escape as
    /// typed (backslash included).
    InvalidUnicode(Range<usize>),
    /// `invalid UTF-8 sequence in string`
    InvalidUtf8,
}

impl SyntaxError {
    /// The fixed part of the error text (without `JSON parse error, `).
    pub fn text(&self) -> &'static str {
        match self {
            SyntaxError::ExpectingValue => "expecting value",
            SyntaxError::MissingColon => "missing : in object pair",
            SyntaxError::KeyNotString => "key is not a string in object",
            SyntaxError::ExpectedDictSeparator => "expected separator in dict",
            SyntaxError::ExpectedListSeparator => "expected separator in list",
            SyntaxError::DuplicateKey => "duplicate key",
            SyntaxError::PrematureEoi => "premature EOI",
            SyntaxError::InvalidKeyword(_) => "invalid keyword",
            SyntaxError::InvalidEscape => "invalid escape sequence in string",
            SyntaxError::InvalidUnicode(_) => "is not a valid Unicode character",
            SyntaxError::InvalidUtf8 => "invalid UTF-8 sequence in string",
        }
    }
}

/// One hash slot of the duplicate-key table: the key's hash, the start of
/// its token and (in the single-pass check) the object it belongs to.
/// Zeroed slots are free.
#[derive(Clone, Copy, Debug, Default)]
pub struct KeySlot {
    hash: u32,
    /// Token start plus one (0 = free).
    at: u32,
    /// Object number (in-pass check) or 0 (per-object rounds).
    obj: u32,
}

impl KeySlot {
    /// A free slot.
    pub const EMPTY: KeySlot = KeySlot {
        hash: 0,
        at: 0,
        obj: 0,
    };
}

/// Objects nested deeper than this are checked for duplicate keys by the
/// separate per-object pass instead of during the syntax pass.
const INPASS_DEPTH: usize = 16;

/// The duplicate-key check done during the syntax pass, in document order
/// as QEMU's parser does it: every key goes into the table tagged with its
/// object. If the table would pass half full, or objects nest deeper than
/// [`INPASS_DEPTH`], the check gives up and [`duplicates`] runs after the
/// syntax pass instead.
struct InPass<'k> {
    keys: &'k mut [KeySlot],
    used: usize,
    objects: u32,
    /// Object number at each nesting depth (0 for arrays).
    open: [u32; INPASS_DEPTH],
    gave_up: bool,
}

impl InPass<'_> {
    fn enter(&mut self, depth: usize, is_object: bool) {
        if is_object {
            self.objects = self.objects.wrapping_add(1);
        }
        match self.open.get_mut(depth) {
            Some(slot) => *slot = if is_object { self.objects } else { 0 },
            None => self.gave_up |= is_object,
        }
    }

    /// Key token `key` of the object at `depth` (the object's own level).
    fn key(&mut self, buf: &[u8], depth: usize, key: Range<usize>) -> Result<(), SyntaxError> {
        if self.gave_up {
            return Ok(());
        }
        let cap = self.keys.len();
        if self.used.saturating_mul(2) >= cap {
            self.gave_up = true;
            return Ok(());
        }
        let Some(&obj) = self.open.get(depth) else {
            self.gave_up = true;
            return Ok(());
        };
        let hash = key_hash(buf, key.clone());
        let mask = cap.saturating_sub(1);
        let mut slot = (hash as usize ^ (obj as usize).wrapping_mul(0x9E37)) & mask;
        for _ in 0..cap {
            let Some(k) = self.keys.get(slot).copied() else {
                break;
            };
            if k.at == 0 {
                if let Some(s) = self.keys.get_mut(slot) {
                    *s = KeySlot {
                        hash,
                        at: u32::try_from(key.start).unwrap_or(0).wrapping_add(1),
                        obj,
                    };
                }
                self.used = self.used.wrapping_add(1);
                return Ok(());
            }
            let other = (k.at as usize).saturating_sub(1);
            if k.hash == hash
                && k.obj == obj
                && let Some(t) = super::walk::token_at(buf, other)
                && str_tokens_eq(buf, t.start..t.end, key.clone())
            {
                return Err(SyntaxError::DuplicateKey);
            }
            slot = slot.wrapping_add(1) & mask;
        }
        self.gave_up = true;
        Ok(())
    }
}

/// What a parse level is waiting for, in two bits.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    /// An object whose key (a nested value) is being parsed.
    ObjKey = 0,
    /// An object whose member value is being parsed.
    ObjValue = 1,
    /// An array whose element is being parsed.
    ArrValue = 2,
}

struct Stack {
    bits: [u8; MAX_NESTING / 4 + 1],
    depth: usize,
}

impl Stack {
    fn push(&mut self, l: Level) -> bool {
        let (byte, shift) = (self.depth / 4, (self.depth % 4).wrapping_mul(2));
        let Some(slot) = self.bits.get_mut(byte) else {
            return false;
        };
        *slot = (*slot & !(3 << shift)) | ((l as u8) << shift);
        self.depth = self.depth.wrapping_add(1);
        true
    }

    fn top(&self) -> Option<Level> {
        let d = self.depth.checked_sub(1)?;
        let (byte, shift) = (d / 4, (d % 4).wrapping_mul(2));
        Some(match (self.bits.get(byte)? >> shift) & 3 {
            0 => Level::ObjKey,
            1 => Level::ObjValue,
            _ => Level::ArrValue,
        })
    }

    fn set_top(&mut self, l: Level) {
        if let Some(d) = self.depth.checked_sub(1) {
            let (byte, shift) = (d / 4, (d % 4).wrapping_mul(2));
            if let Some(slot) = self.bits.get_mut(byte) {
                *slot = (*slot & !(3 << shift)) | ((l as u8) << shift);
            }
        }
    }

    fn pop(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }
}

/// Validates the message `buf[start..]` (all of it is one framed message;
/// positions in errors are indices into `buf`).
///
/// Returns the kind of the top-level value's first token on success.
/// `keys` is scratch space for the duplicate-key pass.
pub fn validate(buf: &[u8], start: usize, keys: &mut [KeySlot]) -> Result<TokenKind, SyntaxError> {
    // The in-pass check needs a power-of-two table (it masks hashes).
    let usable = if keys.len().is_power_of_two() {
        keys.len()
    } else {
        0
    };
    let (table, _) = keys.split_at_mut(usable);
    table.iter_mut().for_each(|k| *k = KeySlot::EMPTY);
    let mut inpass = InPass {
        keys: table,
        used: 0,
        objects: 0,
        open: [0; INPASS_DEPTH],
        gave_up: usable == 0,
    };
    let top = syntax(buf, start, &mut inpass)?;
    if inpass.gave_up && (top == TokenKind::LCurly || top == TokenKind::LSquare) {
        duplicates(buf, start, keys)?;
    }
    Ok(top)
}

/// The syntax pass.
fn syntax(buf: &[u8], start: usize, inpass: &mut InPass<'_>) -> Result<TokenKind, SyntaxError> {
    let mut toks = Tokens::new(buf, start);
    let mut stack = Stack {
        bits: [0; MAX_NESTING / 4 + 1],
        depth: 0,
    };
    let first_kind = match toks.clone().next() {
        Some(t) => t.kind,
        None => return Err(SyntaxError::PrematureEoi),
    };
    // `Value` parses one value; `After` handles what follows a completed
    // value at the current level.
    enum Want {
        Value,
        After { was_string: bool },
    }
    let mut want = Want::Value;
    loop {
        match want {
            Want::Value => {
                let t = toks.next().ok_or(SyntaxError::PrematureEoi)?;
                match t.kind {
                    TokenKind::LCurly => {
                        let peek = toks.clone().next().ok_or(SyntaxError::PrematureEoi)?;
                        if peek.kind == TokenKind::RCurly {
                            toks.next();
                            want = Want::After { was_string: false };
                        } else {
                            inpass.enter(stack.depth, true);
                            if !stack.push(Level::ObjKey) {
                                return Err(SyntaxError::ExpectingValue);
                            }
                            want = Want::Value;
                        }
                    }
                    TokenKind::LSquare => {
                        let peek = toks.clone().next().ok_or(SyntaxError::PrematureEoi)?;
                        if peek.kind == TokenKind::RSquare {
                            toks.next();
                            want = Want::After { was_string: false };
                        } else {
                            inpass.enter(stack.depth, false);
                            if !stack.push(Level::ArrValue) {
                                return Err(SyntaxError::ExpectingValue);
                            }
                            want = Want::Value;
                        }
                    }
                    TokenKind::String => {
                        check_string(buf, t)?;
                        if stack.top() == Some(Level::ObjKey) {
                            inpass.key(buf, stack.depth.saturating_sub(1), t.start..t.end)?;
                        }
                        want = Want::After { was_string: true };
                    }
                    TokenKind::Integer | TokenKind::Float => {
                        want = Want::After { was_string: false };
                    }
                    TokenKind::Keyword => {
                        let text = buf.get(t.start..t.end).unwrap_or(&[]);
                        if !matches!(text, b"true" | b"false" | b"null") {
                            return Err(SyntaxError::InvalidKeyword(t.start..t.end));
                        }
                        want = Want::After { was_string: false };
                    }
                    _ => return Err(SyntaxError::ExpectingValue),
                }
            }
            Want::After { was_string } => match stack.top() {
                None => return Ok(first_kind),
                Some(Level::ObjKey) => {
                    if !was_string {
                        return Err(SyntaxError::KeyNotString);
                    }
                    let t = toks.next().ok_or(SyntaxError::PrematureEoi)?;
                    if t.kind != TokenKind::Colon {
                        return Err(SyntaxError::MissingColon);
                    }
                    stack.set_top(Level::ObjValue);
                    want = Want::Value;
                }
                Some(Level::ObjValue) => {
                    let t = toks.next().ok_or(SyntaxError::PrematureEoi)?;
                    match t.kind {
                        TokenKind::RCurly => {
                            stack.pop();
                            want = Want::After { was_string: false };
                        }
                        TokenKind::Comma => {
                            stack.set_top(Level::ObjKey);
                            want = Want::Value;
                        }
                        _ => return Err(SyntaxError::ExpectedDictSeparator),
                    }
                }
                Some(Level::ArrValue) => {
                    let t = toks.next().ok_or(SyntaxError::PrematureEoi)?;
                    match t.kind {
                        TokenKind::RSquare => {
                            stack.pop();
                            want = Want::After { was_string: false };
                        }
                        TokenKind::Comma => want = Want::Value,
                        _ => return Err(SyntaxError::ExpectedListSeparator),
                    }
                }
            },
        }
    }
}

/// QEMU's `is_valid_codepoint`.
fn valid_codepoint(cp: u32) -> bool {
    !(cp > 0x10FFFF
        || (0xFDD0..=0xFDEF).contains(&cp)
        || (cp & 0xFFFE) == 0xFFFE
        || (0xD800..=0xDFFF).contains(&cp))
}

/// Length of a valid modified-UTF-8 sequence at the start of `s`, or `None`
/// (QEMU's `mod_utf8_codepoint` returning -1).
pub fn mod_utf8_len(s: &[u8]) -> Option<usize> {
    let (cp, len) = mod_utf8_decode(s);
    cp.map(|_| len)
}

/// QEMU's `mod_utf8_codepoint`: the code point at the start of `s` (or `None`
/// when invalid) and the number of bytes the sequence spans. A NUL byte or an
/// empty input is an invalid sequence of length 0... except that here it
/// spans one byte so callers always make progress.
pub fn mod_utf8_decode(s: &[u8]) -> (Option<u32>, usize) {
    let Some(&b0) = s.first() else {
        return (None, 0);
    };
    if b0 < 0x80 {
        return (Some(u32::from(b0)), 1);
    }
    if b0 >= 0xFE || b0 & 0x40 == 0 {
        return (None, 1);
    }
    let len = b0.leading_ones() as usize;
    let mut cp = u32::from(b0) & (0x7F_u32 >> len);
    let mut used = 1usize;
    while used < len {
        match s.get(used) {
            Some(&c) if c & 0xC0 == 0x80 => {
                cp = (cp << 6) | u32::from(c & 0x3F);
                used = used.wrapping_add(1);
            }
            _ => return (None, used),
        }
    }
    const MIN_CP: [u32; 5] = [0x80, 0x800, 0x10000, 0x20_0000, 0x400_0000];
    let min = MIN_CP.get(len.saturating_sub(2)).copied().unwrap_or(0);
    if !valid_codepoint(cp) || (cp < min && !(cp == 0 && len == 2)) {
        return (None, used);
    }
    (Some(cp), used)
}

/// QEMU's `parse_string`, as a check.
fn check_string(buf: &[u8], t: Token) -> Result<(), SyntaxError> {
    let tok = buf.get(t.start..t.end).unwrap_or(&[]);
    let body_end = tok.len().saturating_sub(1);
    let mut i = 1usize;
    while i < body_end {
        // Fast paths: 32, then 8 plain ASCII bytes (no backslash, no high
        // bit) at once; base64 payloads are nothing else.
        if let Some(Ok(block)) = tok
            .get(i..i.wrapping_add(32).min(body_end))
            .map(<&[u8; 32]>::try_from)
            && crate::json::lex::words(block)
                .iter()
                .fold(0, |a, &v| a | not_plain(v))
                == 0
        {
            i = i.wrapping_add(32);
            continue;
        }
        if let Some(Ok(word)) = tok
            .get(i..i.wrapping_add(8).min(body_end))
            .map(<[u8; 8]>::try_from)
            && not_plain(u64::from_le_bytes(word)) == 0
        {
            i = i.wrapping_add(8);
            continue;
        }
        let Some(&b) = tok.get(i) else { break };
        if b == b'\\' {
            let beg = i;
            let e = tok.get(i.wrapping_add(1)).copied().unwrap_or(0);
            i = i.wrapping_add(2);
            match e {
                b'"' | b'\'' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                b'u' => {
                    let cp = hex4(tok.get(i..body_end).unwrap_or(&[]));
                    i = i.wrapping_add(4);
                    let mut valid = cp.is_some_and(valid_codepoint);
                    if let Some(hi) = cp
                        && (0xD800..=0xDBFF).contains(&hi)
                        && tok.get(i) == Some(&b'\\')
                        && tok.get(i.wrapping_add(1)) == Some(&b'u')
                    {
                        let lo = hex4(tok.get(i.wrapping_add(2)..body_end).unwrap_or(&[]));
                        valid = lo.is_some_and(|lo| (0xDC00..=0xDFFF).contains(&lo));
                        if valid {
                            i = i.wrapping_add(6);
                        }
                    }
                    if !valid {
                        // The escape as typed; qemu-ga prints it with %.*s,
                        // which stops at the end of the token.
                        let from = t.start.wrapping_add(beg);
                        let to = t.start.wrapping_add(i.min(tok.len()));
                        return Err(SyntaxError::InvalidUnicode(from..to));
                    }
                }
                _ => return Err(SyntaxError::InvalidEscape),
            }
        } else if b < 0x80 {
            i = i.wrapping_add(1);
        } else {
            let rest = tok.get(i..body_end).unwrap_or(&[]);
            match mod_utf8_len(rest) {
                Some(n) => i = i.wrapping_add(n),
                None => return Err(SyntaxError::InvalidUtf8),
            }
        }
    }
    Ok(())
}

/// The duplicate-key pass: every object's direct keys must be distinct.
///
/// Each object is checked with the bounded hash table `keys`; an object with
/// more members than half the table is checked in rounds, each round holding
/// the next batch of keys and testing every later key against it. Work is
/// `O(bytes * rounds)` per object; memory is the table.
fn duplicates(buf: &[u8], start: usize, keys: &mut [KeySlot]) -> Result<(), SyntaxError> {
    for t in Tokens::new(buf, start) {
        if t.kind == TokenKind::LCurly {
            check_object(buf, t.start, keys)?;
        }
    }
    Ok(())
}

fn key_hash(buf: &[u8], key: Range<usize>) -> u32 {
    // FNV-1a over the decoded key.
    Decoded::new(buf, key).fold(0x811C_9DC5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

fn check_object(buf: &[u8], obj: usize, keys: &mut [KeySlot]) -> Result<(), SyntaxError> {
    let cap = keys.len();
    if cap == 0 {
        return Ok(());
    }
    let batch = (cap / 2).max(1);
    let mask = cap.saturating_sub(1);
    let mut done = 0usize; // keys already used as a batch
    loop {
        keys.iter_mut().for_each(|k| *k = KeySlot::default());
        let mut index = 0usize;
        let mut filled = 0usize;
        for (key, _) in Members::new(buf, obj) {
            let hash = key_hash(buf, key.clone());
            let in_batch = index >= done && filled < batch;
            index = index.wrapping_add(1);
            // Probe for an equal key already in the table.
            let mut slot = (hash as usize) & mask;
            let mut probes = 0usize;
            while let Some(k) = keys.get(slot).copied() {
                if k.at == 0 {
                    if in_batch {
                        if let Some(s) = keys.get_mut(slot) {
                            *s = KeySlot {
                                hash,
                                at: u32::try_from(key.start).unwrap_or(0).wrapping_add(1),
                                obj: 0,
                            };
                        }
                        filled = filled.wrapping_add(1);
                    }
                    break;
                }
                let other = (k.at as usize).saturating_sub(1);
                if k.hash == hash
                    && let Some(t) = super::walk::token_at(buf, other)
                    && str_tokens_eq(buf, t.start..t.end, key.clone())
                {
                    return Err(SyntaxError::DuplicateKey);
                }
                slot = slot.wrapping_add(1) & mask;
                probes = probes.wrapping_add(1);
                if probes > cap {
                    break;
                }
            }
        }
        done = done.wrapping_add(filled);
        if filled < batch || done >= index {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[u8]) -> Result<TokenKind, SyntaxError> {
        let mut keys = [KeySlot::default(); 8];
        validate(s, 0, &mut keys)
    }

    #[test]
    fn valid_messages() {
        assert_eq!(v(br#"{"execute":"guest-ping"}"#), Ok(TokenKind::LCurly));
        assert_eq!(v(b"{}"), Ok(TokenKind::LCurly));
        assert_eq!(v(b"[]"), Ok(TokenKind::LSquare));
        assert_eq!(v(b"42"), Ok(TokenKind::Integer));
        assert_eq!(
            v(br#"{'a':[1,{"b":null}],"c":true}"#),
            Ok(TokenKind::LCurly)
        );
        assert_eq!(v(br#""\u0000\ud83d\ude00\/\'""#), Ok(TokenKind::String));
        assert_eq!(v(b"\"\xc0\x80\""), Ok(TokenKind::String));
    }

    #[test]
    fn qemu_syntax_errors() {
        assert_eq!(v(b"}"), Err(SyntaxError::ExpectingValue));
        assert_eq!(
            v(br#"{"execute":"guest-ping"]"#),
            Err(SyntaxError::ExpectedDictSeparator)
        );
        assert_eq!(
            v(br#"{"execute" "guest-ping"}"#),
            Err(SyntaxError::MissingColon)
        );
        assert_eq!(v(br#"{1: "guest-ping"}"#), Err(SyntaxError::KeyNotString));
        assert_eq!(v(b"[1 2]"), Err(SyntaxError::ExpectedListSeparator));
        assert_eq!(v(b"[1,]"), Err(SyntaxError::ExpectingValue));
        assert_eq!(v(b"{\"a\":1,}"), Err(SyntaxError::ExpectingValue));
        assert_eq!(v(b"{]"), Err(SyntaxError::ExpectingValue));
        assert_eq!(v(b"abc"), Err(SyntaxError::InvalidKeyword(0..3)));
        assert_eq!(v(br#"{"a":1,"a":2}"#), Err(SyntaxError::DuplicateKey));
        assert_eq!(v(br#"{"a":1,"\u0061":2}"#), Err(SyntaxError::DuplicateKey));
        assert_eq!(v(br#"{"a":{"a":1},"b":{"a":2}}"#), Ok(TokenKind::LCurly));
    }

    #[test]
    fn qemu_string_errors() {
        assert_eq!(v(br#""\x""#), Err(SyntaxError::InvalidEscape));
        assert_eq!(v(br#""\ud83d""#), Err(SyntaxError::InvalidUnicode(1..7)));
        assert_eq!(v(br#""\ude00""#), Err(SyntaxError::InvalidUnicode(1..7)));
        assert_eq!(
            v(br#""\ud83d\u0041""#),
            Err(SyntaxError::InvalidUnicode(1..7))
        );
        assert_eq!(v(br#""\uFFFF""#), Err(SyntaxError::InvalidUnicode(1..7)));
        assert_eq!(v(br#""\uFDD0""#), Err(SyntaxError::InvalidUnicode(1..7)));
        assert_eq!(v(br#""\u00zz""#), Err(SyntaxError::InvalidUnicode(1..7)));
        assert_eq!(v(br#""\u12""#), Err(SyntaxError::InvalidUnicode(1..6)));
        assert_eq!(v(b"\"\xc3\""), Err(SyntaxError::InvalidUtf8));
        assert_eq!(v(b"\"\xed\xa0\x80\""), Err(SyntaxError::InvalidUtf8));
        assert_eq!(v(b"\"\xc1\xbf\""), Err(SyntaxError::InvalidUtf8));
        assert_eq!(v(b"\"\xf4\x90\x80\x80\""), Err(SyntaxError::InvalidUtf8));
    }

    /// `"` + `pad` 'A's + `piece` + 'B's up to 80 body bytes + `"`.
    fn long_string(pad: usize, piece: &[u8]) -> heapless::Vec<u8, 128> {
        let mut s = heapless::Vec::new();
        s.push(b'"').unwrap();
        s.extend_from_slice(&[b'A'; 80][..pad]).unwrap();
        s.extend_from_slice(piece).unwrap();
        while s.len() < 81 {
            s.push(b'B').unwrap();
        }
        s.push(b'"').unwrap();
        s
    }

    #[test]
    fn long_string_with_special_bytes_at_every_offset_checks_them() {
        // The 32- and 8-byte plain runs must hand every escape and every
        // non-ASCII byte to the exact checks, wherever a block boundary is.
        for pad in 0..72 {
            let ok: [&[u8]; 3] = [br"\n", br"\u00e9", b"\xc3\xa9"];
            for piece in ok {
                assert_eq!(v(&long_string(pad, piece)), Ok(TokenKind::String), "{pad}");
            }
            let bad: [(&[u8], SyntaxError); 3] = [
                (br"\x", SyntaxError::InvalidEscape),
                (b"\xc3", SyntaxError::InvalidUtf8),
                (b"\xed\xa0\x80", SyntaxError::InvalidUtf8),
            ];
            for (piece, err) in bad {
                assert_eq!(v(&long_string(pad, piece)), Err(err), "{pad}");
            }
        }
    }

    #[test]
    fn duplicate_check_in_rounds_finds_late_duplicates() {
        // 40 distinct keys then a repeat of the first, with a table of 8.
        let mut msg = heapless::Vec::<u8, 1024>::new();
        msg.push(b'{').unwrap();
        for i in 0..40 {
            let k = [
                b'"',
                b'k',
                b'0' + (i / 10) as u8,
                b'0' + (i % 10) as u8,
                b'"',
            ];
            msg.extend_from_slice(&k).unwrap();
            msg.extend_from_slice(b":1,").unwrap();
        }
        msg.extend_from_slice(b"\"k00\":2}").unwrap();
        assert_eq!(v(&msg), Err(SyntaxError::DuplicateKey));
        let n = msg.len();
        msg[n - 5] = b'9';
        msg[n - 6] = b'9';
        assert_eq!(v(&msg), Ok(TokenKind::LCurly));
    }

    #[test]
    fn deep_nesting_within_stack_is_valid() {
        let mut msg = [0u8; 2 * 1024];
        msg[..1024].fill(b'[');
        msg[1024..].fill(b']');
        assert_eq!(v(&msg), Ok(TokenKind::LSquare));
    }
}
