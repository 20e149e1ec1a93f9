//! The framer: splits the input stream into messages by JSON structure.
//!
//! This is QEMU's JSON streamer on top of [`super::lex`]: it counts `{`/`}`
//! and `[`/`]` separately and emits a message as soon as a token leaves both
//! counts at zero, or either negative. A lexical error emits a "stray" error
//! and resets the counts. Newlines mean nothing; several messages in one read
//! and one message split into single bytes frame identically.
//!
//! Contract:
//! * [`Framer::advance`] scans the buffer from where it stopped and returns at
//!   most one [`Frame`]; it never panics, and every call either returns a
//!   frame or consumes all bytes it was given.
//! * Positions are indices into the caller's buffer. When the caller moves
//!   bytes (compaction) it calls [`Framer::shift`]; [`Framer::keep_from`]
//!   says which bytes must survive.
//! * Two limits differ from qemu-ga by design, and each answers exactly one
//!   error per offending message: nesting beyond the configured depth, and a
//!   message that does not fit the request buffer. The framer then discards
//!   the message while still tracking its structure, and reports
//!   [`Frame::Limit`] when the message's structure ends, so the stream stays in
//!   sync. (qemu-ga resets its streamer at the limit and answers every
//!   remaining closing bracket with its own error.)

use super::lex::{LexState, Step, TokenKind, string_run_end};

/// Which limit a discarded message broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// The message did not fit in the request buffer.
    Size,
    /// More containers were open at once than the configured depth.
    Depth,
}

/// One framing result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame {
    /// A complete message: the bytes `start..end` hold its tokens (and any
    /// whitespace between them).
    Message {
        /// Index of the first byte of the first token.
        start: usize,
        /// Index one past the last byte of the last token.
        end: usize,
    },
    /// A lexical error; `start..end` is the offending token's text so far,
    /// the bad byte included (qemu-ga: `JSON parse error, stray '<text>'`).
    Stray {
        /// First byte of the token text.
        start: usize,
        /// One past the bad byte.
        end: usize,
    },
    /// A discarded message that broke a limit has ended.
    Limit(Limit),
}

/// Streaming framer state. Small and `Copy`: it holds no buffer.
#[derive(Clone, Copy, Debug, Default)]
pub struct Framer {
    lex: LexState,
    /// Next byte to scan.
    pos: usize,
    /// First byte of the token being lexed (valid when `lex` is not Start or
    /// Recovery).
    tok_start: usize,
    /// First byte of the message being framed, once it has a token.
    msg_start: Option<usize>,
    braces: i64,
    brackets: i64,
    /// Set while discarding a message that broke a limit.
    discard: Option<Limit>,
}

impl Framer {
    /// A framer in its initial state (between messages, nothing scanned).
    pub const fn new() -> Self {
        Framer {
            lex: LexState::Start,
            pos: 0,
            tok_start: 0,
            msg_start: None,
            braces: 0,
            brackets: 0,
            discard: None,
        }
    }

    /// Index of the next byte to scan.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Whether a message (or a token that may start one) is partly scanned.
    pub fn in_message(&self) -> bool {
        self.msg_start.is_some() || self.in_token() || self.discard.is_some()
    }

    /// Whether the framer is discarding an over-limit message.
    pub fn discarding(&self) -> Option<Limit> {
        self.discard
    }

    fn in_token(&self) -> bool {
        !matches!(self.lex, LexState::Start | LexState::Recovery)
    }

    /// The lowest buffer index whose byte is still needed: everything before
    /// it may be dropped or moved away.
    pub fn keep_from(&self) -> usize {
        if self.discard.is_some() {
            return self.pos;
        }
        let mut keep = self.pos;
        if self.in_token() {
            keep = keep.min(self.tok_start);
        }
        if let Some(m) = self.msg_start {
            keep = keep.min(m);
        }
        keep
    }

    /// Adjusts positions after the caller moved the bytes `keep_from()..` down
    /// by `by` bytes (`by <= keep_from()`).
    pub fn shift(&mut self, by: usize) {
        self.pos = self.pos.saturating_sub(by);
        self.tok_start = self.tok_start.saturating_sub(by);
        if let Some(m) = self.msg_start.as_mut() {
            *m = m.saturating_sub(by);
        }
    }

    /// Starts discarding the current message because it does not fit the
    /// buffer. The caller then drops the bytes before [`Self::keep_from`].
    pub fn overflow(&mut self) {
        if self.discard.is_none() {
            self.discard = Some(Limit::Size);
        }
    }

    /// Forgets all framing state, as for a new client.
    pub fn reset(&mut self) {
        *self = Framer::new();
    }

    fn reset_message(&mut self) {
        self.msg_start = None;
        self.braces = 0;
        self.brackets = 0;
        self.discard = None;
    }

    /// Scans `buf[self.pos..]` and returns the first frame completed, or
    /// `None` once every byte has been scanned without completing one.
    ///
    /// `max_depth` is the nesting limit (open `{` plus `[`).
    pub fn advance(&mut self, buf: &[u8], max_depth: usize) -> Option<Frame> {
        let max_depth = i64::try_from(max_depth).unwrap_or(i64::MAX);
        while let Some(&b) = buf.get(self.pos) {
            if self.lex.is_start() {
                self.tok_start = self.pos;
            } else if self.lex == LexState::Dq || self.lex == LexState::Sq {
                // Fast path through a string body.
                let quote = if self.lex == LexState::Dq {
                    b'"'
                } else {
                    b'\''
                };
                let run_end = string_run_end(buf, self.pos, quote);
                if run_end != self.pos {
                    self.pos = run_end;
                    continue;
                }
            }
            match self.lex.feed(b) {
                Step::Continue => self.pos = self.pos.wrapping_add(1),
                Step::Resync => {}
                Step::Token(kind) => {
                    let start = self.tok_start;
                    self.pos = self.pos.wrapping_add(1);
                    if let Some(f) = self.token(kind, start, self.pos, max_depth) {
                        return Some(f);
                    }
                }
                Step::TokenBefore(kind) => {
                    // The byte at `pos` is fed again from Start next round.
                    let start = self.tok_start;
                    if let Some(f) = self.token(kind, start, self.pos, max_depth) {
                        return Some(f);
                    }
                }
                Step::Error => {
                    let start = self.tok_start;
                    self.pos = self.pos.wrapping_add(1);
                    let discarded = self.discard;
                    self.reset_message();
                    return Some(match discarded {
                        Some(limit) => Frame::Limit(limit),
                        None => Frame::Stray {
                            start,
                            end: self.pos,
                        },
                    });
                }
            }
        }
        None
    }

    /// The streamer: accounts one complete token `start..end`.
    fn token(
        &mut self,
        kind: TokenKind,
        start: usize,
        end: usize,
        max_depth: i64,
    ) -> Option<Frame> {
        match kind {
            TokenKind::LCurly => self.braces = self.braces.wrapping_add(1),
            TokenKind::RCurly => self.braces = self.braces.saturating_sub(1),
            TokenKind::LSquare => self.brackets = self.brackets.wrapping_add(1),
            TokenKind::RSquare => self.brackets = self.brackets.saturating_sub(1),
            _ => {}
        }
        if self.msg_start.is_none() {
            self.msg_start = Some(start);
        }
        if self.discard.is_none() && self.braces.wrapping_add(self.brackets) > max_depth {
            self.discard = Some(Limit::Depth);
        }
        if (self.braces > 0 || self.brackets > 0) && self.braces >= 0 && self.brackets >= 0 {
            return None;
        }
        let msg_start = self.msg_start.unwrap_or(start);
        let discarded = self.discard;
        self.reset_message();
        Some(match discarded {
            Some(limit) => Frame::Limit(limit),
            None => Frame::Message {
                start: msg_start,
                end,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames `input` fed whole, returning the frames as text descriptions.
    fn frames(input: &[u8], depth: usize) -> heapless::Vec<Frame, 32> {
        let mut f = Framer::new();
        let mut out = heapless::Vec::new();
        while let Some(fr) = f.advance(input, depth) {
            out.push(fr).unwrap();
        }
        assert_eq!(f.pos(), input.len());
        out
    }

    /// Frames `input` growing the visible buffer one byte at a time.
    fn frames_bytewise(input: &[u8], depth: usize) -> heapless::Vec<Frame, 32> {
        let mut f = Framer::new();
        let mut out = heapless::Vec::new();
        for n in 1..=input.len() {
            while let Some(fr) = f.advance(&input[..n], depth) {
                out.push(fr).unwrap();
            }
        }
        out
    }

    #[test]
    fn receiving_two_objects_in_one_chunk_yields_two_messages() {
        let input = b"{\"a\":1}{\"b\":[2]}";
        let got = frames(input, 1024);
        assert_eq!(
            got.as_slice(),
            &[
                Frame::Message { start: 0, end: 7 },
                Frame::Message { start: 7, end: 16 }
            ]
        );
        assert_eq!(frames_bytewise(input, 1024), got);
    }

    #[test]
    fn receiving_whitespace_between_objects_is_ignored() {
        let input = b"  \n\t\r {\"execute\" : 1 }  \n";
        assert_eq!(
            frames(input, 1024).as_slice(),
            &[Frame::Message { start: 6, end: 22 }]
        );
    }

    #[test]
    fn receiving_scalar_waits_for_terminator() {
        let mut f = Framer::new();
        assert_eq!(f.advance(b"42", 1024), None);
        assert_eq!(
            f.advance(b"42\n", 1024),
            Some(Frame::Message { start: 0, end: 2 })
        );
    }

    #[test]
    fn receiving_ff_inside_object_discards_partial_object() {
        let input = b"{\"execute\":\"guest-ping\"\xff{}";
        assert_eq!(
            frames(input, 1024).as_slice(),
            &[
                Frame::Stray { start: 23, end: 24 },
                Frame::Message { start: 24, end: 26 }
            ]
        );
    }

    #[test]
    fn receiving_bad_byte_in_string_cascades_like_qemu() {
        // qemu-ga: stray '"guest\u0001' then "expecting value" for the '}'.
        let input = b"{\"execute\":\"guest\x01ping\"}";
        assert_eq!(
            frames(input, 1024).as_slice(),
            &[
                Frame::Stray { start: 11, end: 18 },
                Frame::Message { start: 23, end: 24 }
            ]
        );
    }

    #[test]
    fn receiving_leading_zeros_gives_stray_then_two_closers() {
        let input = b"{\"id\":007}}";
        let got = frames(input, 1024);
        assert_eq!(got[0], Frame::Stray { start: 6, end: 8 });
        assert_eq!(got.len(), 3);
    }

    #[test]
    fn receiving_stray_close_is_a_message_of_its_own() {
        assert_eq!(
            frames(b"}", 1024).as_slice(),
            &[Frame::Message { start: 0, end: 1 }]
        );
    }

    #[test]
    fn receiving_newlines_do_not_end_an_open_object() {
        let mut f = Framer::new();
        let input = b"{\"execute\":\"guest-ping\"\n\n}\n";
        assert_eq!(f.advance(&input[..25], 1024), None);
        assert_eq!(
            f.advance(input, 1024),
            Some(Frame::Message { start: 0, end: 26 })
        );
    }

    #[test]
    fn receiving_too_deep_discards_until_balanced_then_one_limit() {
        let input = b"[[[[1]]]]{}";
        assert_eq!(
            frames(input, 3).as_slice(),
            &[
                Frame::Limit(Limit::Depth),
                Frame::Message { start: 9, end: 11 }
            ]
        );
        // Exactly at the limit is fine.
        assert_eq!(
            frames(b"[[[1]]]", 3).as_slice(),
            &[Frame::Message { start: 0, end: 7 }]
        );
    }

    #[test]
    fn discarding_ends_at_lexical_error_with_one_limit_frame() {
        let input = b"[[[[\xff{}";
        assert_eq!(
            frames(input, 2).as_slice(),
            &[
                Frame::Limit(Limit::Depth),
                Frame::Message { start: 5, end: 7 }
            ]
        );
    }

    #[test]
    fn overflow_discards_until_structure_closes() {
        let mut f = Framer::new();
        assert_eq!(f.advance(b"{\"a\":\"xxxx", 1024), None);
        f.overflow();
        let keep = f.keep_from();
        assert_eq!(keep, 10);
        f.shift(keep);
        assert_eq!(f.advance(b"yy\"}{}", 1024), Some(Frame::Limit(Limit::Size)));
        assert_eq!(
            f.advance(b"yy\"}{}", 1024),
            Some(Frame::Message { start: 4, end: 6 })
        );
    }

    #[test]
    fn keep_from_covers_partial_token_and_message() {
        let mut f = Framer::new();
        assert_eq!(f.advance(b"  {\"ab", 1024), None);
        assert_eq!(f.keep_from(), 2);
        let mut g = Framer::new();
        assert_eq!(g.advance(b"  \"ab", 1024), None);
        assert_eq!(g.keep_from(), 2);
        let mut h = Framer::new();
        assert_eq!(
            h.advance(b" \xff garbage ", 1024),
            Some(Frame::Stray { start: 1, end: 2 })
        );
        assert_eq!(h.advance(b" \xff garbage ", 1024), None);
        assert_eq!(h.keep_from(), 11);
    }
}
