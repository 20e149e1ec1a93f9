//! An in-RAM trace ring: diagnostics for boards whose only channel is QGA.
//!
//! Contract: [`TraceRing`] keeps the last `N` bytes of text lines written
//! with [`TraceRing::line`]; older bytes are overwritten. It never allocates
//! or blocks. Boards expose it as a read-only file (see [`TraceRing::read_at`])
//! so that `guest-file-read` shows what the agent saw, since the UART or
//! virtio port that carries QGA carries nothing else.

use core::fmt;

/// A byte ring of text lines.
pub struct TraceRing<const N: usize> {
    buf: [u8; N],
    /// Bytes ever written (the logical end of the stream).
    total: u64,
}

impl<const N: usize> TraceRing<N> {
    /// An empty ring.
    pub const fn new() -> Self {
        TraceRing {
            buf: [0; N],
            total: 0,
        }
    }

    /// Appends bytes.
    pub fn write(&mut self, bytes: &[u8]) {
        if N == 0 {
            return;
        }
        for &b in bytes {
            let at = usize::try_from(self.total.checked_rem(N as u64).unwrap_or(0)).unwrap_or(0);
            if let Some(slot) = self.buf.get_mut(at) {
                *slot = b;
            }
            self.total = self.total.wrapping_add(1);
        }
    }

    /// Appends one formatted line (a newline is added).
    pub fn line(&mut self, args: fmt::Arguments<'_>) {
        let _ = fmt::write(self, args);
        self.write(b"\n");
    }

    /// Bytes ever written.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Oldest logical offset still held.
    pub fn oldest(&self) -> u64 {
        self.total.saturating_sub(N as u64)
    }

    /// Copies bytes of the logical stream starting at `offset` (clamped to
    /// what is still held) into `out`; returns (bytes copied, next offset).
    pub fn read_at(&self, offset: u64, out: &mut [u8]) -> (usize, u64) {
        let mut pos = offset.max(self.oldest());
        let mut n = 0usize;
        while pos < self.total && n < out.len() {
            let at = usize::try_from(pos.checked_rem(N as u64).unwrap_or(0)).unwrap_or(0);
            if let (Some(dst), Some(&b)) = (out.get_mut(n), self.buf.get(at)) {
                *dst = b;
            }
            n = n.wrapping_add(1);
            pos = pos.wrapping_add(1);
        }
        (n, pos)
    }
}

impl<const N: usize> Default for TraceRing<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> fmt::Write for TraceRing<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.write(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_keeps_the_newest_bytes() {
        let mut r: TraceRing<8> = TraceRing::new();
        r.write(b"0123456789");
        let mut out = [0u8; 16];
        let (n, next) = r.read_at(0, &mut out);
        assert_eq!(&out[..n], b"23456789");
        assert_eq!(next, 10);
        let (n, _) = r.read_at(7, &mut out);
        assert_eq!(&out[..n], b"789");
    }
}
