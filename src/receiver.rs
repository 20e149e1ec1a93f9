//! The receiver: the request buffer and the framer, as one thing.
//!
//! Contract:
//! * Input goes into [`Receiver::space`] and is recorded with
//!   [`Receiver::commit`]; [`Receiver::peek`] frames it into at most one
//!   [`Frame`] at a time, which stays put (its bytes are not moved) from
//!   `peek` until [`Receiver::accept`] and then, as the *held* frame, until
//!   [`Receiver::release`]: the reply being written may quote the request
//!   (its `id`, a path in an error).
//! * Compaction lives here and nowhere else: bytes before the framer's keep
//!   point are dropped, and live bytes move to the front only when the free
//!   tail is under half the buffer, so a stream of small requests costs no
//!   copies. Nothing moves while a frame is peeked or held.
//! * A message that fills the whole buffer without ending can never fit: the
//!   framer is switched to discarding ([`Framer::overflow`]) and its bytes
//!   are dropped as they arrive, so the stream keeps flowing and the message
//!   gets exactly one error when its structure ends.
//! * Every call is total: no input makes it panic, stall or grow.

use core::ops::Range;

use crate::json::frame::{Frame, Framer};

/// The request buffer with its framer.
pub struct Receiver<'s> {
    buf: &'s mut [u8],
    len: usize,
    framer: Framer,
    /// Framed, not yet accepted.
    peeked: Option<Frame>,
    /// Accepted; its bytes stay until released.
    held: Option<Range<usize>>,
}

impl<'s> Receiver<'s> {
    /// An empty receiver over `buf`.
    pub fn new(buf: &'s mut [u8]) -> Self {
        Receiver {
            buf,
            len: 0,
            framer: Framer::new(),
            peeked: None,
            held: None,
        }
    }

    /// The buffer's size: the longest request that fits.
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// The buffered bytes (messages index into these).
    pub fn bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    /// The buffered bytes, writable (handlers decode strings in place).
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        self.buf.get_mut(..self.len).unwrap_or(&mut [])
    }

    /// Whether bytes are buffered that the framer has not scanned yet.
    pub fn unscanned(&self) -> bool {
        self.framer.pos() < self.len
    }

    /// Whether a frame is peeked and not yet accepted.
    pub fn has_peeked(&self) -> bool {
        self.peeked.is_some()
    }

    /// Whether the framer is dropping a message that broke a limit.
    pub fn discarding(&self) -> bool {
        self.framer.discarding().is_some()
    }

    /// Free space for input (after making room); empty while the buffer is
    /// full of bytes that must stay. Follow with [`Self::commit`].
    pub fn space(&mut self) -> &mut [u8] {
        self.make_room();
        self.buf.get_mut(self.len..).unwrap_or(&mut [])
    }

    /// Records that `n` bytes were written into [`Self::space`].
    pub fn commit(&mut self, n: usize) {
        self.len = self.len.saturating_add(n).min(self.buf.len());
    }

    /// The next frame, framing buffered input if none is peeked yet. The
    /// same frame is returned until it is accepted.
    pub fn peek(&mut self, max_depth: usize) -> Option<Frame> {
        if self.peeked.is_none() {
            let input = self.buf.get(..self.len).unwrap_or(&[]);
            self.peeked = self.framer.advance(input, max_depth);
            if self.peeked.is_none() {
                self.check_overflow();
            }
        }
        self.peeked
    }

    /// Takes the peeked frame for handling; its bytes are held until
    /// [`Self::release`].
    pub fn accept(&mut self) -> Option<Frame> {
        let frame = self.peeked.take()?;
        self.held = match frame {
            Frame::Message { start, end } | Frame::Stray { start, end } => Some(start..end),
            Frame::Limit(_) => None,
        };
        Some(frame)
    }

    /// The held frame's bytes may go (its reply is written).
    pub fn release(&mut self) {
        self.held = None;
    }

    /// Forgets everything buffered, as for a new client.
    pub fn reset(&mut self) {
        self.framer.reset();
        self.len = 0;
        self.peeked = None;
        self.held = None;
    }

    fn pinned(&self) -> bool {
        self.held.is_some() || self.peeked.is_some()
    }

    /// Drops the `n` bytes before the framer's keep point.
    fn drop_front(&mut self, keep: usize) {
        let keep = keep.min(self.len);
        crate::mem::move_down(self.buf, keep, self.len);
        self.framer.shift(keep);
        self.len = self.len.saturating_sub(keep);
    }

    /// Makes room at the end if bytes before the keep point can go.
    fn make_room(&mut self) {
        if self.pinned() {
            return;
        }
        let keep = self.framer.keep_from().min(self.len);
        if keep == self.len {
            // Nothing live: start over at the front for free.
            self.framer.shift(keep);
            self.len = 0;
        } else if keep > 0 && self.buf.len().saturating_sub(self.len) < self.buf.len() / 2 {
            self.drop_front(keep);
        }
        self.check_overflow();
    }

    /// A message that fills the whole buffer can never fit: discard it.
    fn check_overflow(&mut self) {
        if self.pinned() || self.len < self.buf.len() || self.framer.pos() < self.len {
            return;
        }
        if self.framer.keep_from() == 0 || self.framer.discarding().is_some() {
            self.framer.overflow();
        }
        let keep = self.framer.keep_from();
        self.drop_front(keep);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(r: &mut Receiver<'_>, bytes: &[u8]) -> usize {
        let space = r.space();
        let n = bytes.len().min(space.len());
        space[..n].copy_from_slice(&bytes[..n]);
        r.commit(n);
        n
    }

    #[test]
    fn receiving_two_messages_in_one_read_frames_them_in_turn() {
        let mut buf = [0u8; 64];
        let mut r = Receiver::new(&mut buf);
        feed(&mut r, b"{\"a\":1} [2]");
        let Some(Frame::Message { start, end }) = r.accept().or(r.peek(8)) else {
            panic!("no frame");
        };
        assert_eq!(&r.bytes()[start..end], b"{\"a\":1}");
        assert!(r.accept().is_some());
        r.release();
        let Some(Frame::Message { start, end }) = r.peek(8) else {
            panic!("no second frame");
        };
        assert_eq!(&r.bytes()[start..end], b"[2]");
    }

    #[test]
    fn held_frame_is_not_moved_by_more_input() {
        let mut buf = [0u8; 32];
        let mut r = Receiver::new(&mut buf);
        feed(&mut r, b"        {\"x\":1}");
        let Some(Frame::Message { start, .. }) = r.peek(8) else {
            panic!("no frame");
        };
        r.accept();
        feed(&mut r, b"{\"y\"");
        assert_eq!(r.bytes()[start], b'{');
        r.release();
        assert!(r.peek(8).is_none());
        // Now the first message may go: the partial one moves to the front.
        let _ = r.space();
        assert_eq!(&r.bytes()[..4], b"{\"y\"");
    }

    #[test]
    fn overlong_message_is_discarded_and_answered_once() {
        let mut buf = [0u8; 16];
        let mut r = Receiver::new(&mut buf);
        let mut input: &[u8] = b"{\"k\":\"0123456789012345678901234567890123456789\"}{\"z\":1}";
        let mut frames = std::vec::Vec::new();
        for _ in 0..100 {
            if let Some(f) = r.peek(8) {
                frames.push(f);
                r.accept();
                r.release();
                continue;
            }
            if input.is_empty() {
                break;
            }
            let n = feed(&mut r, input);
            input = &input[n..];
        }
        assert_eq!(frames.len(), 2, "{frames:?}");
        assert_eq!(frames[0], Frame::Limit(crate::json::frame::Limit::Size));
        assert!(matches!(frames[1], Frame::Message { .. }));
    }
}
