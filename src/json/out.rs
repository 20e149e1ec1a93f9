//! Output: a bounded writer and qemu-ga's exact JSON serialisation.
//!
//! Contract:
//! * [`Out`] never writes past its slice; a write that does not fit sets a
//!   sticky overflow flag instead, so a caller renders a piece, then checks
//!   [`Out::ok`] and commits or drops the whole piece.
//! * [`escape_str`] is QEMU's `quoted_str`: `"` `\` and BS/FF/LF/CR/TAB get
//!   their short escapes, other code points below 0x20 or from 0x7F get
//!   upper-case `\uXXXX` (surrogate pairs beyond the BMP), invalid modified
//!   UTF-8 becomes `\uFFFD`. Output is pure ASCII, so no reply can contain a
//!   raw 0xFF.
//! * [`IdEcho`] re-serialises a request's `id` value from the request buffer
//!   piece by piece (qemu-ga separators `, ` and `: `, strings re-escaped,
//!   numbers normalised as QEMU's QNum does). Object members keep the client's
//!   order, where qemu-ga reorders them by its hash table; clients parse JSON,
//!   so only byte-exact comparisons of object ids can tell.

#[cfg(feature = "float-ids")]
use core::fmt::Write as _;
use core::ops::Range;

use super::lex::TokenKind;
use super::parse::mod_utf8_decode;
use super::walk::{Tokens, escape_unit, parse_i64, parse_u64};

/// A bounded writer into a byte slice with a sticky overflow flag.
pub struct Out<'a> {
    buf: &'a mut [u8],
    len: usize,
    overflow: bool,
}

impl<'a> Out<'a> {
    /// A writer over `buf`, starting empty.
    #[inline]
    pub fn new(buf: &'a mut [u8]) -> Self {
        Out {
            buf,
            len: 0,
            overflow: false,
        }
    }

    /// Bytes written so far.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing has been written.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes still free.
    #[inline]
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.len)
    }

    /// Whether every write so far fitted.
    #[inline]
    pub fn ok(&self) -> bool {
        !self.overflow
    }

    /// Forgets writes after `len` and clears the overflow flag.
    #[inline]
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
        self.overflow = false;
    }

    /// The free space after what was written, for in-place producers.
    #[inline]
    pub fn spare(&mut self) -> &mut [u8] {
        self.buf.get_mut(self.len..).unwrap_or(&mut [])
    }

    /// Marks `n` bytes of [`Self::spare`] as written.
    #[inline]
    pub fn advance(&mut self, n: usize) {
        if n > self.remaining() {
            self.overflow = true;
        } else {
            self.len = self.len.wrapping_add(n);
        }
    }

    /// Appends bytes, or sets the overflow flag.
    #[inline]
    pub fn bytes(&mut self, b: &[u8]) {
        let end = self.len.wrapping_add(b.len());
        match self.buf.get_mut(self.len..end) {
            Some(dst) if !self.overflow => {
                dst.copy_from_slice(b);
                self.len = end;
            }
            _ => self.overflow = true,
        }
    }

    /// Appends ASCII text.
    #[inline]
    pub fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }

    /// Appends a decimal integer.
    pub fn i64(&mut self, v: i64) {
        let mut tmp = [0u8; 20];
        let s = fmt_u64(v.unsigned_abs(), &mut tmp);
        if v < 0 {
            self.bytes(b"-");
        }
        self.bytes(s);
    }

    /// Appends a decimal unsigned integer.
    pub fn u64(&mut self, v: u64) {
        let mut tmp = [0u8; 20];
        let s = fmt_u64(v, &mut tmp);
        self.bytes(s);
    }

    /// Appends `true` or `false`.
    #[inline]
    pub fn bool(&mut self, v: bool) {
        self.str(if v { "true" } else { "false" });
    }

    /// Appends a double as C `%.17g` (qemu-ga's format for doubles).
    #[cfg(feature = "float-ids")]
    pub fn f64(&mut self, v: f64) {
        let mut tmp = [0u8; 40];
        let n = fmt_g17(v, &mut tmp);
        self.bytes(tmp.get(..n).unwrap_or(&[]));
    }

    /// Appends a non-negative double with microsecond precision, truncated
    /// (without the `float-ids` feature, which brings C's `%.17g`). Integer
    /// arithmetic on the bits only: no soft-float code on FPU-less targets.
    #[cfg(not(feature = "float-ids"))]
    pub fn f64(&mut self, v: f64) {
        let (secs, us) = split_micros(v);
        let mut tmp = [0u8; 20];
        self.bytes(fmt_u64(secs, &mut tmp));
        if us != 0 {
            let mut t2 = [0u8; 20];
            let digits = fmt_u64(us.wrapping_add(1_000_000), &mut t2);
            let digits = digits.get(1..).unwrap_or(&[]);
            let end = digits
                .iter()
                .rposition(|&d| d != b'0')
                .map_or(0, |i| i.wrapping_add(1));
            self.bytes(b".");
            self.bytes(digits.get(..end).unwrap_or(&[]));
        }
    }

    /// Appends `"` + escaped `text` + `"`.
    pub fn quoted(&mut self, text: &[u8]) {
        self.bytes(b"\"");
        let mut pos = 0;
        while pos < text.len() {
            let next = escape_str(text, pos, self);
            if next == pos {
                self.overflow = true;
                return;
            }
            pos = next;
        }
        self.bytes(b"\"");
    }

    /// Appends `"name": ` (a member key with qemu-ga's separator).
    pub fn key(&mut self, name: &str) {
        self.bytes(b"\"");
        self.str(name);
        self.bytes(b"\": ");
    }
}

/// Decimal digits of `v`, written at the end of `tmp`.
///
/// Long division of four 16-bit limbs by 10,000 in `u32` arithmetic: no
/// 64-bit division, which 32-bit targets would pull in as a ~0.9 KiB
/// library routine.
pub(crate) fn fmt_u64(v: u64, tmp: &mut [u8; 20]) -> &[u8] {
    let mut limbs = [48u32, 32, 16, 0].map(|s| u32::try_from((v >> s) & 0xFFFF).unwrap_or(0));
    let mut i = tmp.len();
    loop {
        let mut rem = 0u32;
        for l in &mut limbs {
            // rem < 10,000, so rem << 16 | limb < 2^30.
            let cur = (rem << 16) | *l;
            *l = cur / 10_000;
            rem = cur % 10_000;
        }
        let last = limbs.iter().all(|&l| l == 0);
        // Four digits, or (for the leading group) as many as it has.
        for _ in 0..4 {
            i = i.saturating_sub(1);
            if let (Some(slot), Ok(d)) = (tmp.get_mut(i), u8::try_from(rem % 10)) {
                *slot = b'0'.wrapping_add(d);
            }
            rem /= 10;
            if last && rem == 0 {
                break;
            }
        }
        if last || i == 0 {
            break;
        }
    }
    tmp.get(i..).unwrap_or(&[])
}

/// Escapes whole code points of `text[pos..]` into `out` while they fit and
/// returns the position after the last one written. Stops early, without
/// setting the overflow flag, when the next one does not fit.
pub fn escape_str(text: &[u8], mut pos: usize, out: &mut Out<'_>) -> usize {
    while let Some(rest) = text.get(pos..) {
        if rest.is_empty() {
            break;
        }
        // Fast path: a run of printable ASCII that needs no escape.
        let run = rest
            .iter()
            .take(out.remaining())
            .take_while(|&&b| (0x20..0x7F).contains(&b) && b != b'"' && b != b'\\')
            .count();
        if run > 0 {
            out.bytes(rest.get(..run).unwrap_or(&[]));
            pos = pos.wrapping_add(run);
            continue;
        }
        let (cp, len) = mod_utf8_decode(rest);
        let mut tmp = [0u8; 12];
        let n = escape_cp(cp.unwrap_or(0xFFFD), &mut tmp);
        if n > out.remaining() {
            break;
        }
        out.bytes(tmp.get(..n).unwrap_or(&[]));
        pos = pos.wrapping_add(len.max(1));
    }
    pos
}

/// Escapes one code point the way QEMU's `quoted_str` does.
fn escape_cp(cp: u32, tmp: &mut [u8; 12]) -> usize {
    let short = match cp {
        0x22 => Some(b'"'),
        0x5C => Some(b'\\'),
        0x08 => Some(b'b'),
        0x0C => Some(b'f'),
        0x0A => Some(b'n'),
        0x0D => Some(b'r'),
        0x09 => Some(b't'),
        _ => None,
    };
    if let Some(c) = short {
        let [a, b, ..] = tmp;
        *a = b'\\';
        *b = c;
        return 2;
    }
    if (0x20..0x7F).contains(&cp) {
        let [a, ..] = tmp;
        *a = u8::try_from(cp).unwrap_or(b'?');
        return 1;
    }
    let hex = |v: u32| -> u8 {
        let d = u8::try_from(v & 0xF).unwrap_or(0);
        if d < 10 {
            b'0'.wrapping_add(d)
        } else {
            b'A'.wrapping_add(d.saturating_sub(10))
        }
    };
    let mut put = |at: usize, unit: u32| {
        let units = [
            b'\\',
            b'u',
            hex(unit >> 12),
            hex(unit >> 8),
            hex(unit >> 4),
            hex(unit),
        ];
        if let Some(dst) = tmp.get_mut(at..at.wrapping_add(6)) {
            dst.copy_from_slice(&units);
        }
    };
    if cp > 0xFFFF {
        let c = cp.saturating_sub(0x10000);
        put(0, 0xD800 | ((c >> 10) & 0x3FF));
        put(6, 0xDC00 | (c & 0x3FF));
        12
    } else {
        put(0, cp);
        6
    }
}

/// A `core::fmt` sink over a fixed buffer (for `%.17g`).
#[cfg(feature = "float-ids")]
struct FmtBuf<'a> {
    buf: &'a mut [u8],
    len: usize,
}

#[cfg(feature = "float-ids")]
impl core::fmt::Write for FmtBuf<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.len.wrapping_add(s.len());
        let dst = self.buf.get_mut(self.len..end).ok_or(core::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Whole seconds and microseconds (rounded to the nearest) of a
/// non-negative double, from its bits: negative values and NaN give
/// `(0, 0)`, values beyond `u64` seconds saturate.
#[cfg(any(test, not(feature = "float-ids")))]
fn split_micros(v: f64) -> (u64, u64) {
    const FRACTION: u64 = (1 << 52) - 1;
    let bits = v.to_bits();
    let exp = (bits >> 52) & 0x7FF;
    if bits >> 63 != 0 || exp == 0 || (exp == 0x7FF && bits & FRACTION != 0) {
        // Negative, zero or subnormal (far below a microsecond), NaN.
        return (0, 0);
    }
    let mant = (bits & FRACTION) | (1 << 52);
    // v = mant * 2^(exp - 1075)
    if exp >= 1075 {
        let up = u32::try_from(exp.saturating_sub(1075)).unwrap_or(u32::MAX);
        let secs = if up > 11 { u64::MAX } else { mant << up };
        return (secs, 0);
    }
    let shift = u32::try_from(1075u64.saturating_sub(exp)).unwrap_or(u32::MAX);
    let secs = mant.checked_shr(shift).unwrap_or(0);
    let rest = mant
        & 1u64
            .checked_shl(shift)
            .map_or(u64::MAX, |p| p.wrapping_sub(1));
    // rest < 2^shift: keep its top 32 bits at most so `* 1e6` fits in u64,
    // then divide by the remaining power of two, rounding to nearest.
    let drop = shift.saturating_sub(32);
    let d = shift.saturating_sub(drop);
    let num = rest
        .checked_shr(drop)
        .unwrap_or(0)
        .saturating_mul(1_000_000);
    let half = 1u64 << d.saturating_sub(1);
    let us = num.wrapping_add(half) >> d;
    if us >= 1_000_000 {
        (secs.wrapping_add(1), 0)
    } else {
        (secs, us)
    }
}

/// Formats `v` as C's `%.17g` into `out`, returning the length.
#[cfg(feature = "float-ids")]
pub fn fmt_g17(v: f64, out: &mut [u8; 40]) -> usize {
    let mut w = FmtBuf { buf: out, len: 0 };
    if v.is_nan() {
        let _ = w.write_str(if v.is_sign_negative() { "-nan" } else { "nan" });
        return w.len;
    }
    if v.is_infinite() {
        let _ = w.write_str(if v < 0.0 { "-inf" } else { "inf" });
        return w.len;
    }
    // 17 significant digits, correctly rounded, as d.dddddddddddddddde<exp>.
    let mut sci = [0u8; 40];
    let mut s = FmtBuf {
        buf: &mut sci,
        len: 0,
    };
    if write!(s, "{:.16e}", v).is_err() {
        return 0;
    }
    let sci_len = s.len;
    let text = sci.get(..sci_len).unwrap_or(&[]);
    let (neg, text) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let e_at = text.iter().position(|&c| c == b'e').unwrap_or(text.len());
    let exp = parse_i64(text.get(e_at.wrapping_add(1)..).unwrap_or(&[])).unwrap_or(0);
    let mut digits = [0u8; 17];
    let mut nd = 0usize;
    for &c in text.get(..e_at).unwrap_or(&[]) {
        if c.is_ascii_digit()
            && let Some(d) = digits.get_mut(nd)
        {
            *d = c;
            nd = nd.wrapping_add(1);
        }
    }
    // Significant digits without trailing zeros (at least one).
    while nd > 1 && digits.get(nd.saturating_sub(1)) == Some(&b'0') {
        nd = nd.saturating_sub(1);
    }
    let sig = digits.get(..nd).unwrap_or(&[]);
    let mut o = FmtBuf { buf: out, len: 0 };
    if neg {
        let _ = o.write_str("-");
    }
    let put = |o: &mut FmtBuf<'_>, b: &[u8]| {
        let _ = o.write_str(core::str::from_utf8(b).unwrap_or(""));
    };
    if !(-4..17).contains(&exp) {
        put(&mut o, sig.get(..1).unwrap_or(&[]));
        if sig.len() > 1 {
            let _ = o.write_str(".");
            put(&mut o, sig.get(1..).unwrap_or(&[]));
        }
        let _ = write!(
            o,
            "e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.unsigned_abs()
        );
    } else if exp < 0 {
        let _ = o.write_str("0.");
        for _ in 0..exp.unsigned_abs().saturating_sub(1) {
            let _ = o.write_str("0");
        }
        put(&mut o, sig);
    } else {
        let int_digits = usize::try_from(exp).unwrap_or(0).wrapping_add(1);
        for i in 0..int_digits {
            put(&mut o, &[sig.get(i).copied().unwrap_or(b'0')]);
        }
        if sig.len() > int_digits {
            let _ = o.write_str(".");
            put(&mut o, sig.get(int_digits..).unwrap_or(&[]));
        }
    }
    o.len
}

/// Re-serialises one JSON value of the request buffer, resumably.
///
/// Each [`IdEcho::step`] writes whole tokens (or whole escaped characters
/// inside a string, or any part of a number echoed as typed) while they
/// fit, so the output is correct however small the pieces are, and a token
/// longer than the whole output buffer still goes out.
#[derive(Clone, Copy, Debug)]
pub struct IdEcho {
    pos: usize,
    end: usize,
    /// A token being copied piecewise.
    inside: Inside,
}

/// The token an [`IdEcho`] is in the middle of.
#[derive(Clone, Copy, Debug)]
enum Inside {
    /// Between tokens.
    Nothing,
    /// A string whose body ends (closing quote) at this index.
    String(usize),
    /// A number echoed as typed, ending at this index.
    Verbatim(usize),
}

impl IdEcho {
    /// Echo of the value `span` of the request buffer.
    pub fn new(span: Range<usize>) -> Self {
        IdEcho {
            pos: span.start,
            end: span.end,
            inside: Inside::Nothing,
        }
    }

    /// Writes as much as fits into `out`; returns true once the whole value
    /// has been written.
    pub fn step(&mut self, src: &[u8], out: &mut Out<'_>) -> bool {
        loop {
            match self.inside {
                Inside::String(body_end) => {
                    let body = src.get(..body_end).unwrap_or(&[]);
                    self.pos = escape_decoded(body, self.pos, out);
                    if self.pos < body_end || out.remaining() < 1 {
                        return false;
                    }
                    out.bytes(b"\"");
                    self.pos = body_end.wrapping_add(1);
                    self.inside = Inside::Nothing;
                    continue;
                }
                Inside::Verbatim(end) => {
                    // ASCII digits, signs and exponents: any split is fine.
                    let rest = src.get(self.pos..end).unwrap_or(&[]);
                    let n = rest.len().min(out.remaining());
                    out.bytes(rest.get(..n).unwrap_or(&[]));
                    self.pos = self.pos.wrapping_add(n);
                    if self.pos < end {
                        return false;
                    }
                    self.inside = Inside::Nothing;
                    continue;
                }
                Inside::Nothing => {}
            }
            let window = src.get(..self.end).unwrap_or(&[]);
            let mut toks = Tokens::new(window, self.pos);
            let Some(t) = toks.next() else {
                return true;
            };
            let text = window.get(t.start..t.end).unwrap_or(&[]);
            let mut tmp = [0u8; 40];
            let piece: &[u8] = match t.kind {
                TokenKind::Comma => b", ",
                TokenKind::Colon => b": ",
                TokenKind::String => {
                    if out.remaining() < 1 {
                        return false;
                    }
                    out.bytes(b"\"");
                    self.pos = t.start.wrapping_add(1);
                    self.inside = Inside::String(t.end.saturating_sub(1));
                    continue;
                }
                TokenKind::Integer => match normalise_integer(text, &mut tmp) {
                    Some(n) => tmp.get(..n).unwrap_or(&[]),
                    None => {
                        self.pos = t.start;
                        self.inside = Inside::Verbatim(t.end);
                        continue;
                    }
                },
                #[cfg(feature = "float-ids")]
                TokenKind::Float => {
                    let v = parse_f64(text);
                    let n = fmt_g17(v, &mut tmp);
                    tmp.get(..n).unwrap_or(&[])
                }
                #[cfg(not(feature = "float-ids"))]
                TokenKind::Float => {
                    self.pos = t.start;
                    self.inside = Inside::Verbatim(t.end);
                    continue;
                }
                _ => text,
            };
            if piece.len() > out.remaining() {
                return false;
            }
            out.bytes(piece);
            self.pos = t.end;
        }
    }
}

#[cfg(feature = "float-ids")]
fn parse_f64(text: &[u8]) -> f64 {
    core::str::from_utf8(text)
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(0.0)
}

/// An integer token as QEMU's QNum keeps it: int64, else uint64, else a
/// double (`%.17g`, with `float-ids`). Returns the length written to `tmp`,
/// or `None` when the token is to be echoed as typed (beyond uint64 without
/// `float-ids`; it may be longer than `tmp`).
fn normalise_integer(text: &[u8], tmp: &mut [u8; 40]) -> Option<usize> {
    let mut digits = [0u8; 20];
    let (minus, d) = if let Some(v) = parse_i64(text) {
        (v < 0, fmt_u64(v.unsigned_abs(), &mut digits))
    } else if let Some(v) = parse_u64(text) {
        (false, fmt_u64(v, &mut digits))
    } else {
        #[cfg(feature = "float-ids")]
        return Some(fmt_g17(parse_f64(text), tmp));
        #[cfg(not(feature = "float-ids"))]
        return None;
    };
    let sign: &[u8] = if minus { b"-" } else { b"" };
    let n = sign.len().wrapping_add(d.len());
    let dst = tmp.get_mut(..n)?;
    let (s, rest) = dst.split_at_mut(sign.len());
    s.copy_from_slice(sign);
    rest.copy_from_slice(d);
    Some(n)
}

/// Escapes the raw string body `body[pos..]` (JSON escapes decoded first)
/// while whole characters fit; returns the new position. `body` ends where
/// the string's closing quote is.
pub fn escape_decoded(body: &[u8], mut pos: usize, out: &mut Out<'_>) -> usize {
    while let Some(rest) = body.get(pos..) {
        if rest.is_empty() {
            break;
        }
        let (cp, used) = if rest.first() == Some(&b'\\') {
            match escape_unit(rest) {
                Some(v) => v,
                None => (0xFFFD, rest.len()),
            }
        } else {
            let (cp, len) = mod_utf8_decode(rest);
            (cp.unwrap_or(0xFFFD), len.max(1))
        };
        let mut tmp = [0u8; 12];
        let n = escape_cp(cp, &mut tmp);
        if n > out.remaining() {
            break;
        }
        out.bytes(tmp.get(..n).unwrap_or(&[]));
        pos = pos.wrapping_add(used);
    }
    pos
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "float-ids")]
    fn g(v: f64) -> heapless::String<40> {
        let mut b = [0u8; 40];
        let n = fmt_g17(v, &mut b);
        heapless::String::try_from(core::str::from_utf8(&b[..n]).unwrap()).unwrap()
    }

    #[test]
    #[cfg(feature = "float-ids")]
    fn doubles_format_as_percent_17g() {
        assert_eq!(g(1.0), "1");
        assert_eq!(g(0.1), "0.10000000000000001");
        assert_eq!(g(2.5), "2.5");
        assert_eq!(g(-1.5e-7), "-1.4999999999999999e-07");
        assert_eq!(g(1.2345678901234568e29), "1.2345678901234568e+29");
        assert_eq!(g(1e17), "1e+17");
        assert_eq!(g(1e16), "10000000000000000");
        assert_eq!(g(0.0001), "0.0001");
        assert_eq!(g(0.00001), "1.0000000000000001e-05");
        assert_eq!(g(-0.0), "-0");
        assert_eq!(g(f64::INFINITY), "inf");
        assert_eq!(g(1.0e300), "1.0000000000000001e+300");
    }

    fn esc(s: &[u8]) -> heapless::String<128> {
        let mut b = [0u8; 128];
        let mut o = Out::new(&mut b);
        o.quoted(s);
        assert!(o.ok());
        let n = o.len();
        heapless::String::try_from(core::str::from_utf8(&b[..n]).unwrap()).unwrap()
    }

    #[test]
    fn strings_escape_like_qemu_quoted_str() {
        assert_eq!(esc("é€😀".as_bytes()), r#""\u00E9\u20AC\uD83D\uDE00""#);
        assert_eq!(
            esc(b"a\"b\\c/\n\t\x01\x7f"),
            r#""a\"b\\c/\n\t\u0001\u007F""#
        );
        assert_eq!(esc(b"\xff"), r#""\uFFFD""#);
        assert_eq!(esc(b"\"guest-pi\xffng"), r#""\"guest-pi\uFFFDng""#);
        assert_eq!(esc(b"\xc0\x80"), r#""\u0000""#);
        assert_eq!(esc(b"\x00"), r#""\u0000""#);
        assert_eq!(esc(b"\xc3"), r#""\uFFFD""#);
    }

    fn echo(src: &[u8], chunk: usize) -> heapless::String<256> {
        let mut e = IdEcho::new(0..src.len());
        let mut all = heapless::String::<256>::new();
        for _ in 0..1000 {
            let mut b = [0u8; 64];
            let mut o = Out::new(&mut b[..chunk]);
            let done = e.step(src, &mut o);
            let n = o.len();
            all.push_str(core::str::from_utf8(&b[..n]).unwrap())
                .unwrap();
            if done {
                return all;
            }
        }
        panic!("echo did not finish");
    }

    #[test]
    fn id_echo_reformats_like_qemu() {
        // The largest atomic piece is a formatted double (24 bytes).
        for chunk in [24, 25, 33, 64] {
            assert_eq!(
                echo(br#"{"a":[1,2.5,null,true]}"#, chunk),
                r#"{"a": [1, 2.5, null, true]}"#
            );
            #[cfg(feature = "float-ids")]
            {
                assert_eq!(
                    echo(b"123456789012345678901234567890", chunk),
                    "1.2345678901234568e+29"
                );
                assert_eq!(echo(b"1.0", chunk), "1");
                assert_eq!(echo(b"1e400", chunk), "inf");
            }
            #[cfg(not(feature = "float-ids"))]
            {
                // Without `float-ids`, doubles are echoed as typed.
                assert_eq!(
                    echo(b"123456789012345678901234567890", chunk),
                    "123456789012345678901234567890"
                );
                assert_eq!(echo(b"1.0", chunk), "1.0");
                assert_eq!(echo(b"1e400", chunk), "1e400");
            }
            assert_eq!(echo(b"18446744073709551615", chunk), "18446744073709551615");
            assert_eq!(echo(b"-9223372036854775808", chunk), "-9223372036854775808");
            assert_eq!(echo(b"-0", chunk), "0");
            assert_eq!(
                echo("'é€😀\\u0041\\ud83d\\ude00'".as_bytes(), chunk),
                r#""\u00E9\u20AC\uD83D\uDE00A\uD83D\uDE00""#
            );
            assert_eq!(echo(br#"  "x"  "#, chunk), r#""x""#);
        }
    }

    #[test]
    fn fmt_u64_matches_display_for_edges_and_a_spread() {
        let check = |v: u64| {
            let mut tmp = [0u8; 20];
            let got = core::str::from_utf8(fmt_u64(v, &mut tmp)).unwrap();
            let mut want = heapless::String::<20>::new();
            core::fmt::Write::write_fmt(&mut want, format_args!("{v}")).unwrap();
            assert_eq!(got, want.as_str());
        };
        for v in [0, 1, 9, 10, 99, 100, 9_999, 10_000, 10_001, 65_535, 65_536] {
            check(v);
        }
        for p in 0..20 {
            let t = 10u64.pow(p);
            check(t - 1);
            check(t);
            check(t + 1);
        }
        check(u64::MAX);
        check(u64::MAX - 1);
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            check(x);
            check(x >> (x % 64));
        }
    }

    #[test]
    fn split_micros_rounds_to_the_nearest_microsecond() {
        assert_eq!(split_micros(0.0), (0, 0));
        assert_eq!(split_micros(1.0), (1, 0));
        assert_eq!(split_micros(1.5), (1, 500_000));
        assert_eq!(split_micros(1_700_000_000.25), (1_700_000_000, 250_000));
        assert_eq!(split_micros(1_700_000_000.000_001), (1_700_000_000, 1));
        assert_eq!(split_micros(0.999_999_9), (1, 0));
        assert_eq!(split_micros(0.000_25), (0, 250));
        assert_eq!(split_micros(1e-9), (0, 0));
        assert_eq!(split_micros(-1.0), (0, 0));
        assert_eq!(split_micros(f64::NAN), (0, 0));
        assert_eq!(split_micros(1e30), (u64::MAX, 0));
        assert_eq!(split_micros(f64::INFINITY), (u64::MAX, 0));
        // Against the exact rational value, rounded, for time stamps.
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = (x % 4_000_000_000_000_000) as f64 / 1_000_000.0;
            let (s, us) = split_micros(v);
            let bits = v.to_bits();
            let e = 1075 - ((bits >> 52) & 0x7FF) as i32;
            let m = u128::from((bits & ((1 << 52) - 1)) | (1 << 52));
            let exact = if e <= 0 {
                (m << -e) * 1_000_000
            } else {
                (m * 1_000_000 + (1 << (e - 1))) >> e
            };
            let got = u128::from(s) * 1_000_000 + u128::from(us);
            assert!(exact.abs_diff(got) <= 1, "{v}: {s}.{us:06} vs {exact}");
        }
    }

    #[test]
    fn id_echo_of_a_number_longer_than_the_output_finishes() {
        // 200 digits through small pieces: a number echoed as typed never
        // has to fit whole; a formatted double (at most 24 bytes) does.
        let mut long = [b'7'; 201];
        long[1] = b'.';
        #[cfg(feature = "float-ids")]
        let chunks = [24, 33];
        #[cfg(not(feature = "float-ids"))]
        let chunks = [1, 8, 24];
        for chunk in chunks {
            let mut e = IdEcho::new(0..long.len());
            let mut all = [0u8; 256];
            let mut len = 0;
            let mut done = false;
            for _ in 0..1000 {
                let mut b = [0u8; 64];
                let mut o = Out::new(&mut b[..chunk]);
                done = e.step(&long, &mut o);
                let n = o.len();
                all[len..len + n].copy_from_slice(&b[..n]);
                len += n;
                if done {
                    break;
                }
            }
            assert!(done, "chunk {chunk}");
            #[cfg(feature = "float-ids")]
            assert_eq!(&all[..len], b"7.7777777777777777", "chunk {chunk}");
            #[cfg(not(feature = "float-ids"))]
            assert_eq!(&all[..len], &long[..], "chunk {chunk}");
        }
    }
}
