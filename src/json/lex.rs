//! The byte lexer: QEMU's JSON lexer state machine, one byte at a time.
//!
//! Contract: [`LexState::feed`] is total. Every byte in every state yields
//! one [`Step`]; nothing panics or loops. The transitions are those of
//! qemu-ga 7.2's `qobject/json-lexer.c` (interpolation disabled):
//!
//! * single- and double-quoted strings; after a backslash any byte 0x20..=0xFD
//!   is accepted here and checked later by the parser;
//! * numbers `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, keywords
//!   `[a-z]+`, the six structural characters, whitespace ` \t\r\n`;
//! * any other byte is a lexical error whose token text runs from the token's
//!   first byte up to and including the bad byte; the lexer then skips bytes
//!   (recovery) until a structural character, a control character other than
//!   TAB, or 0xFE/0xFF, which is lexed again from the start state.

/// Kind of a complete token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// `{`
    LCurly,
    /// `}`
    RCurly,
    /// `[`
    LSquare,
    /// `]`
    RSquare,
    /// `:`
    Colon,
    /// `,`
    Comma,
    /// A number without fraction or exponent.
    Integer,
    /// A number with fraction or exponent.
    Float,
    /// `[a-z]+` (the parser accepts `true`, `false`, `null`).
    Keyword,
    /// A single- or double-quoted string, quotes included.
    String,
}

/// Lexer state (QEMU's `enum json_lexer_state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LexState {
    /// Between tokens.
    #[default]
    Start,
    /// Skipping bytes after a lexical error.
    Recovery,
    /// Inside a `"` string.
    Dq,
    /// After a backslash inside a `"` string.
    DqEscape,
    /// Inside a `'` string.
    Sq,
    /// After a backslash inside a `'` string.
    SqEscape,
    /// After a leading `0`.
    Zero,
    /// Integer digits.
    Digits,
    /// After a leading `-`.
    Sign,
    /// After `.`.
    Mantissa,
    /// Fraction digits.
    MantissaDigits,
    /// After `e`/`E`.
    ExpE,
    /// After the exponent's sign.
    ExpSign,
    /// Exponent digits.
    ExpDigits,
    /// Inside a keyword.
    Keyword,
}

/// What one byte did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Consumed: whitespace, recovery skip, or the inside of a token.
    Continue,
    /// Consumed and completed a token ending with this byte.
    Token(TokenKind),
    /// Not consumed: a token ended just before this byte. The state is now
    /// `Start`; feed the same byte again.
    TokenBefore(TokenKind),
    /// Consumed: a lexical error. The state is now `Recovery`.
    Error,
    /// Not consumed: recovery ends here. The state is now `Start`; feed the
    /// same byte again.
    Resync,
}

impl LexState {
    /// Whether the lexer is between tokens (so the next byte starts one).
    #[inline]
    pub fn is_start(self) -> bool {
        self == LexState::Start
    }

    /// Whether the lexer is inside a string token.
    #[inline]
    pub fn in_string(self) -> bool {
        matches!(
            self,
            LexState::Dq | LexState::DqEscape | LexState::Sq | LexState::SqEscape
        )
    }

    /// Feeds one byte.
    #[inline]
    pub fn feed(&mut self, b: u8) -> Step {
        use LexState::*;
        let (next, step) = match *self {
            Start => match b {
                b'"' => (Dq, Step::Continue),
                b'\'' => (Sq, Step::Continue),
                b'0' => (Zero, Step::Continue),
                b'1'..=b'9' => (Digits, Step::Continue),
                b'-' => (Sign, Step::Continue),
                b'{' => (Start, Step::Token(TokenKind::LCurly)),
                b'}' => (Start, Step::Token(TokenKind::RCurly)),
                b'[' => (Start, Step::Token(TokenKind::LSquare)),
                b']' => (Start, Step::Token(TokenKind::RSquare)),
                b',' => (Start, Step::Token(TokenKind::Comma)),
                b':' => (Start, Step::Token(TokenKind::Colon)),
                b'a'..=b'z' => (Keyword, Step::Continue),
                b' ' | b'\t' | b'\r' | b'\n' => (Start, Step::Continue),
                _ => (Recovery, Step::Error),
            },
            Recovery => match b {
                b'\t' => (Recovery, Step::Continue),
                0x00..=0x1F | 0xFE | 0xFF | b'[' | b']' | b'{' | b'}' | b':' | b',' => {
                    (Start, Step::Resync)
                }
                _ => (Recovery, Step::Continue),
            },
            Dq => match b {
                b'"' => (Start, Step::Token(TokenKind::String)),
                b'\\' => (DqEscape, Step::Continue),
                0x20..=0xFD => (Dq, Step::Continue),
                _ => (Recovery, Step::Error),
            },
            DqEscape => match b {
                0x20..=0xFD => (Dq, Step::Continue),
                _ => (Recovery, Step::Error),
            },
            Sq => match b {
                b'\'' => (Start, Step::Token(TokenKind::String)),
                b'\\' => (SqEscape, Step::Continue),
                0x20..=0xFD => (Sq, Step::Continue),
                _ => (Recovery, Step::Error),
            },
            SqEscape => match b {
                0x20..=0xFD => (Sq, Step::Continue),
                _ => (Recovery, Step::Error),
            },
            Zero => match b {
                b'0'..=b'9' => (Recovery, Step::Error),
                b'.' => (Mantissa, Step::Continue),
                _ => (Start, Step::TokenBefore(TokenKind::Integer)),
            },
            Digits => match b {
                b'0'..=b'9' => (Digits, Step::Continue),
                b'e' | b'E' => (ExpE, Step::Continue),
                b'.' => (Mantissa, Step::Continue),
                _ => (Start, Step::TokenBefore(TokenKind::Integer)),
            },
            Sign => match b {
                b'0' => (Zero, Step::Continue),
                b'1'..=b'9' => (Digits, Step::Continue),
                _ => (Recovery, Step::Error),
            },
            Mantissa => match b {
                b'0'..=b'9' => (MantissaDigits, Step::Continue),
                _ => (Recovery, Step::Error),
            },
            MantissaDigits => match b {
                b'0'..=b'9' => (MantissaDigits, Step::Continue),
                b'e' | b'E' => (ExpE, Step::Continue),
                _ => (Start, Step::TokenBefore(TokenKind::Float)),
            },
            ExpE => match b {
                b'+' | b'-' => (ExpSign, Step::Continue),
                b'0'..=b'9' => (ExpDigits, Step::Continue),
                _ => (Recovery, Step::Error),
            },
            ExpSign => match b {
                b'0'..=b'9' => (ExpDigits, Step::Continue),
                _ => (Recovery, Step::Error),
            },
            ExpDigits => match b {
                b'0'..=b'9' => (ExpDigits, Step::Continue),
                _ => (Start, Step::TokenBefore(TokenKind::Float)),
            },
            Keyword => match b {
                b'a'..=b'z' => (Keyword, Step::Continue),
                _ => (Start, Step::TokenBefore(TokenKind::Keyword)),
            },
        };
        *self = next;
        step
    }
}

/// The four little-endian words of a 32-byte block.
#[inline(always)]
pub fn words(block: &[u8; 32]) -> [u64; 4] {
    let mut out = [0u64; 4];
    for (w, c) in out.iter_mut().zip(block.chunks_exact(8)) {
        let mut b = [0u8; 8];
        b.copy_from_slice(c);
        *w = u64::from_le_bytes(b);
    }
    out
}

/// Nonzero iff one of the word's eight bytes is a backslash or has its high
/// bit set (the bytes a string check must look at one by one).
#[inline(always)]
pub fn not_plain(v: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let x = v ^ ONES.wrapping_mul(u64::from(b'\\'));
    (v & HIGHS) | (x.wrapping_sub(ONES) & !x & HIGHS)
}

/// Whether `s` has no backslash and no byte with the high bit set, eight
/// bytes at a time: a string body that needs no decoding.
pub fn plain_ascii(s: &[u8]) -> bool {
    let mut chunks = s.chunks_exact(8);
    for c in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(c);
        if not_plain(u64::from_le_bytes(word)) != 0 {
            return false;
        }
    }
    chunks.remainder().iter().all(|&b| b != b'\\' && b < 0x80)
}

/// Returns the index of the first byte at or after `from` that ends the plain
/// run of a string body quoted by `quote`: the quote itself, a backslash, a
/// control byte (< 0x20) or 0xFE/0xFF. Returns `buf.len()` if there is none.
///
/// Eight bytes are tested per step; this is what makes large base64 payloads
/// cheap to frame and validate.
#[inline]
pub fn string_run_end(buf: &[u8], from: usize, quote: u8) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    #[inline(always)]
    fn has_zero(v: u64) -> u64 {
        v.wrapping_sub(ONES) & !v & HIGHS
    }
    let q = ONES.wrapping_mul(u64::from(quote));
    let bs = ONES.wrapping_mul(u64::from(b'\\'));
    // Nonzero iff one of the word's eight bytes ends the run.
    let special = |v: u64| {
        // A byte < 0x20: subtracting 0x20 borrows into the high bit of a
        // byte that had it clear (exact for "some byte is below 0x20").
        // A byte in 0xFE..=0xFF: it is the one whose bits 1..7 all match 0xFE.
        let ctrl = v.wrapping_sub(ONES.wrapping_mul(0x20)) & !v & HIGHS;
        let fe = ONES.wrapping_mul(0xFE);
        let high = has_zero((v ^ fe) & fe);
        has_zero(v ^ q) | has_zero(v ^ bs) | ctrl | high
    };
    let mut i = from;
    let mut tail = buf.get(from..).unwrap_or(&[]);
    // 32 bytes per step while the run lasts (independent words, one test).
    while let Some((block, rest)) = tail.split_first_chunk::<32>() {
        let [w0, w1, w2, w3] = words(block);
        if (special(w0) | special(w1)) | (special(w2) | special(w3)) != 0 {
            break;
        }
        tail = rest;
        i = i.wrapping_add(32);
    }
    let mut chunks = tail.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let v = u64::from_le_bytes(word);
        let hit = special(v);
        if hit != 0 {
            // Some byte in this word is special; find it exactly.
            for (k, &b) in chunk.iter().enumerate() {
                if b == quote || b == b'\\' || !(0x20..0xFE).contains(&b) {
                    return i.wrapping_add(k);
                }
            }
        }
        i = i.wrapping_add(8);
    }
    for (k, &b) in chunks.remainder().iter().enumerate() {
        if b == quote || b == b'\\' || !(0x20..0xFE).contains(&b) {
            return i.wrapping_add(k);
        }
    }
    buf.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex_all(input: &[u8]) -> alloc_free::Steps {
        let mut st = LexState::Start;
        let mut out = alloc_free::Steps::default();
        for &b in input {
            loop {
                let s = st.feed(b);
                out.push(s);
                if !matches!(s, Step::TokenBefore(_) | Step::Resync) {
                    break;
                }
            }
        }
        out
    }

    mod alloc_free {
        use super::Step;
        pub struct Steps {
            pub v: [Option<Step>; 64],
            pub n: usize,
        }
        impl Default for Steps {
            fn default() -> Self {
                Steps {
                    v: [None; 64],
                    n: 0,
                }
            }
        }
        impl Steps {
            pub fn push(&mut self, s: Step) {
                self.v[self.n] = Some(s);
                self.n += 1;
            }
            pub fn tokens(&self) -> impl Iterator<Item = Step> + '_ {
                self.v[..self.n]
                    .iter()
                    .flatten()
                    .copied()
                    .filter(|s| !matches!(s, Step::Continue))
            }
        }
    }

    #[test]
    fn start_zero_then_digit_is_error_including_digit() {
        let mut st = LexState::Start;
        assert_eq!(st.feed(b'0'), Step::Continue);
        assert_eq!(st.feed(b'0'), Step::Error);
        assert_eq!(st, LexState::Recovery);
    }

    #[test]
    fn recovery_tab_is_skipped_newline_resyncs() {
        let mut st = LexState::Recovery;
        assert_eq!(st.feed(b'\t'), Step::Continue);
        assert_eq!(st.feed(b'x'), Step::Continue);
        assert_eq!(st.feed(b'\n'), Step::Resync);
        assert_eq!(st, LexState::Start);
    }

    #[test]
    fn recovery_ff_resyncs_then_errors_again() {
        let steps = lex_all(b"\xff\xff");
        let t: [Step; 3] = [Step::Error, Step::Resync, Step::Error];
        assert!(steps.tokens().eq(t.iter().copied()));
    }

    #[test]
    fn number_terminated_by_lookahead() {
        let steps = lex_all(b"42}");
        let t = [
            Step::TokenBefore(TokenKind::Integer),
            Step::Token(TokenKind::RCurly),
        ];
        assert!(steps.tokens().eq(t.iter().copied()));
    }

    #[test]
    fn string_control_byte_is_error() {
        let steps = lex_all(b"\"a\tb\"");
        assert_eq!(steps.tokens().next(), Some(Step::Error));
    }

    #[test]
    fn single_quoted_string_may_hold_double_quote() {
        let steps = lex_all(b"'a\"b'");
        assert!(
            steps
                .tokens()
                .eq([Step::Token(TokenKind::String)].iter().copied())
        );
    }

    #[test]
    fn string_run_end_finds_each_special_byte() {
        let mut buf = [b'a'; 100];
        assert_eq!(string_run_end(&buf, 0, b'"'), 100);
        for special in [b'"', b'\\', 0x00, 0x1F, 0xFE, 0xFF] {
            for at in 0..100 {
                buf = [b'a'; 100];
                buf[at] = special;
                assert_eq!(
                    string_run_end(&buf, 0, b'"'),
                    at,
                    "byte {special:#x} at {at}"
                );
            }
        }
        // Bytes that are not special: 0x20, 0x7F, 0x80, 0xFD, and the other quote.
        let plain = [0x20u8, 0x7F, 0x80, 0xC3, 0xFD, b'\'', b'a', b'a', b'a'];
        assert_eq!(string_run_end(&plain, 0, b'"'), plain.len());
        assert_eq!(string_run_end(&plain, 0, b'\''), 5);
    }
}
