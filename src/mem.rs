//! Moving bytes down a buffer without `memmove`.
//!
//! Contract: [`move_down`] moves `buf[from..end]` to `buf[0..end - from]`
//! with non-overlapping copies of at most `from` bytes each, so only
//! `memcpy` is linked (a bare-metal `memmove` costs about 1.5 KiB of code
//! on a Cortex-M). Each byte is copied once; compaction moves at most a
//! buffer's worth per request, so this costs nothing measurable.

/// Moves `buf[from..end]` to the front (ranges clamped to the buffer).
pub(crate) fn move_down(buf: &mut [u8], from: usize, end: usize) {
    let end = end.min(buf.len());
    let from = from.min(end);
    if from == 0 {
        return;
    }
    let mut at = 0usize;
    while at.wrapping_add(from) < end {
        let n = from.min(end.saturating_sub(at).saturating_sub(from));
        let (dst, src) = buf.split_at_mut(at.wrapping_add(from));
        if let (Some(d), Some(s)) = (dst.get_mut(at..at.wrapping_add(n)), src.get(..n)) {
            d.copy_from_slice(s);
        }
        at = at.wrapping_add(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn move_down_matches_copy_within_for_every_split() {
        for len in 0..40usize {
            for from in 0..=len {
                for end in from..=len {
                    let orig: std::vec::Vec<u8> = (0..len as u8).collect();
                    let mut a = orig.clone();
                    let mut b = orig.clone();
                    a.copy_within(from..end, 0);
                    move_down(&mut b, from, end);
                    assert_eq!(a[..end - from], b[..end - from], "{len} {from} {end}");
                }
            }
        }
    }
}
