//! Base64 as qemu-ga does it: strict alphabet check, lenient glib decoding.
//!
//! Contract:
//! * [`validate`] is QEMU's `qbase64_decode` pre-check: only `A–Z a–z 0–9 +
//!   / =` and `\n` may appear, else qemu-ga answers `Base64 data contains
//!   invalid characters`.
//! * [`decode_in_place`] is glib's `g_base64_decode_step` on the whole input:
//!   newlines are skipped, `=` counts as a zero sextet, an incomplete trailing
//!   quantum is dropped, and a quantum's second and third bytes are dropped
//!   when the character before (respectively at) the quantum's end is `=`.
//!   This reproduces qemu-ga's results for odd inputs (`aGk` → 0 bytes,
//!   `a=Gk=` → 3 bytes). Decoding happens in the request buffer: output never
//!   outruns input.
//! * Encoding: standard alphabet, padded, no line breaks, table-driven.
//!   (base64ct's constant-time encoder, built for secrets, was a tenth of
//!   the CPU of a 64 KiB `guest-file-read`; tests check this one against
//!   it byte for byte.) Chunks whose length is a multiple of 3 concatenate
//!   to the one-shot encoding, which is how replies stream large payloads.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn sym(v: u32) -> u8 {
    ALPHABET
        .get(usize::try_from(v & 63).unwrap_or(0))
        .copied()
        .unwrap_or(b'A')
}

/// Sextet of each base64 character; [`PAD`] for `=`, [`SKIP`] for `\n`,
/// [`BAD`] for everything else.
#[allow(
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    clippy::arithmetic_side_effects,
    reason = "evaluated at compile time: an out-of-range index fails the build"
)]
const RANK: [u8; 256] = {
    let mut t = [BAD; 256];
    let mut i = 0;
    while i < 26 {
        t[b'A' as usize + i] = i as u8;
        t[b'a' as usize + i] = 26 + i as u8;
        i += 1;
    }
    let mut d = 0;
    while d < 10 {
        t[b'0' as usize + d] = 52 + d as u8;
        d += 1;
    }
    t[b'+' as usize] = 62;
    t[b'/' as usize] = 63;
    t[b'=' as usize] = PAD;
    t[b'\n' as usize] = SKIP;
    t
};
const PAD: u8 = 0x40;
const SKIP: u8 = 0x80;
const BAD: u8 = 0xFF;

fn rank_of(c: u8) -> u8 {
    RANK.get(usize::from(c)).copied().unwrap_or(BAD)
}

/// Whether `text` passes qemu-ga's alphabet check.
pub fn validate(text: &[u8]) -> bool {
    text.iter().all(|&c| rank_of(c) != BAD)
}

/// Decodes `buf` in place with glib's lenient algorithm and returns the
/// decoded length (the decoded bytes are `buf[..len]`). Call [`validate`]
/// first to reject what qemu-ga rejects.
pub fn decode_in_place(buf: &mut [u8]) -> usize {
    decode(buf, false).unwrap_or(0)
}

/// [`validate`] and [`decode_in_place`] in one pass: `None` if `buf` holds a
/// character qemu-ga rejects (then `buf` is left partly decoded).
pub fn decode_checked(buf: &mut [u8]) -> Option<usize> {
    decode(buf, true)
}

fn decode(buf: &mut [u8], strict: bool) -> Option<usize> {
    let mut w = 0usize;
    let mut v: u32 = 0;
    let mut n = 0u8;
    let mut last0 = 0u8;
    let mut last1;
    let mut r = 0usize;
    loop {
        // Fast path, at a quantum boundary: runs of plain characters (no
        // `=`, no newline, nothing invalid; every such rank is below 0x40,
        // so one OR tells) decode 8 characters to 6 bytes. The rest (a
        // tail, padding, newlines) takes the exact path below.
        if n == 0 {
            let (r2, w2) = decode_groups(buf, r, w);
            if r2 != r {
                r = r2;
                w = w2;
                last0 = b'A';
            }
        }
        let Some(&c) = buf.get(r) else { break };
        r = r.wrapping_add(1);
        let rank = match rank_of(c) {
            BAD if strict => return None,
            BAD | SKIP => continue,
            PAD => 0,
            x => u32::from(x),
        };
        last1 = last0;
        last0 = c;
        v = (v << 6) | rank;
        n = n.wrapping_add(1);
        if n == 4 {
            let [_, b0, b1, b2] = v.to_be_bytes();
            // glib drops the second byte when the quantum's third character
            // is '=' and the third byte when the fourth is '='.
            let emit = [(b0, true), (b1, last1 != b'='), (b2, last0 != b'=')];
            for (b, keep) in emit {
                if keep {
                    if let Some(slot) = buf.get_mut(w) {
                        *slot = b;
                    }
                    w = w.wrapping_add(1);
                }
            }
            n = 0;
        }
    }
    Some(w)
}

/// Decodes plain groups (8 characters, none of them `=`, newline or invalid)
/// from `buf[r..]` to 6 bytes each at `buf[w..]`, stopping at the first
/// group that is not plain, or where too little input is left for a whole
/// group (a block of four, once blocks run). Returns the new `(r, w)`.
///
/// In place, output trails input (`w <= r`) and the gap grows by 2 bytes per
/// group. While the gap is under one block's output (24 bytes), a group is
/// copied out before its bytes are stored; after that the buffer is split
/// at `r` and blocks decode from the input half into the output half with
/// no copy and no aliasing.
#[inline]
fn decode_groups(buf: &mut [u8], mut r: usize, mut w: usize) -> (usize, usize) {
    while let Some((head, tail)) = buf.split_at_mut_checked(r) {
        let out = head.get_mut(w..).unwrap_or(&mut []);
        let room = (out.len() / 24).min(tail.len() / 32);
        if room == 0 {
            // Gap too small to split: one group through a copy.
            let Some(Ok(c8)) = tail.get(..8).map(<[u8; 8]>::try_from) else {
                break;
            };
            let (v, false) = group(c8) else {
                break;
            };
            let Some(dst) = buf.get_mut(w..w.wrapping_add(6)) else {
                break;
            };
            dst.copy_from_slice(&v);
            r = r.wrapping_add(8);
            w = w.wrapping_add(6);
            continue;
        }
        // Blocks of 4 groups. In a block with a character that is not
        // plain, the plain groups before it count and the run ends there
        // (the later groups' bytes landed in consumed input and are
        // overwritten later).
        let mut done = 0usize;
        let mut lead = 0usize;
        for (c32, o24) in tail.chunks_exact(32).zip(out.chunks_exact_mut(24)) {
            let mut clean = true;
            for (c8, o6) in c32.chunks_exact(8).zip(o24.chunks_exact_mut(6)) {
                let (v, bad) = group(<[u8; 8]>::try_from(c8).unwrap_or([0; 8]));
                o6.copy_from_slice(&v);
                clean &= !bad;
                lead = lead.wrapping_add(usize::from(clean));
            }
            if !clean {
                break;
            }
            lead = 0;
            done = done.wrapping_add(1);
        }
        r = r.wrapping_add(done.saturating_mul(32).wrapping_add(lead.saturating_mul(8)));
        w = w.wrapping_add(done.saturating_mul(24).wrapping_add(lead.saturating_mul(6)));
        if done < room {
            break;
        }
    }
    (r, w)
}

/// One group of 8 characters: its 6 bytes and whether any character was not
/// plain (then the bytes are meaningless). Independent shifts joined by OR
/// trees keep the work free of a serial chain through one accumulator.
#[inline]
fn group(c8: [u8; 8]) -> ([u8; 6], bool) {
    let [q0, q1, q2, q3, q4, q5, q6, q7] = c8.map(|c| u64::from(rank_of(c)));
    let any = ((q0 | q1) | (q2 | q3)) | ((q4 | q5) | (q6 | q7));
    let v = ((q0 << 42) | (q1 << 36) | (q2 << 30) | (q3 << 24))
        | ((q4 << 18) | (q5 << 12) | (q6 << 6) | q7);
    let [_, _, b0, b1, b2, b3, b4, b5] = v.to_be_bytes();
    ([b0, b1, b2, b3, b4, b5], any & 0xC0 != 0)
}

/// Length of the padded base64 encoding of `n` bytes.
pub const fn encoded_len(n: usize) -> usize {
    n.div_ceil(3).saturating_mul(4)
}

/// Encodes `src` into `dst` (padded standard base64) and returns the number
/// of bytes written, or `None` if `dst` is too small.
pub fn encode(src: &[u8], dst: &mut [u8]) -> Option<usize> {
    let n = encoded_len(src.len());
    let dst = dst.get_mut(..n)?;
    // Six bytes to eight characters at a time, then threes to fours.
    let whole = src.len() / 6;
    let (src6, src) = src.split_at(whole.saturating_mul(6));
    let (dst8, dst) = dst.split_at_mut(whole.saturating_mul(8));
    for (s6, d8) in src6.chunks_exact(6).zip(dst8.chunks_exact_mut(8)) {
        let v = s6.iter().fold(0u64, |a, &b| (a << 8) | u64::from(b));
        let c = |shift: u32| u64::from(sym(u32::try_from((v >> shift) & 63).unwrap_or(0)));
        // Eight characters assembled in a register, stored at once.
        let out = (c(42) << 56)
            | (c(36) << 48)
            | (c(30) << 40)
            | (c(24) << 32)
            | (c(18) << 24)
            | (c(12) << 16)
            | (c(6) << 8)
            | c(0);
        d8.copy_from_slice(&out.to_be_bytes());
    }
    let mut quads = dst.chunks_exact_mut(4);
    let mut triples = src.chunks_exact(3);
    for (t, q) in (&mut triples).zip(&mut quads) {
        if let (&[a, b, c], [q0, q1, q2, q3]) = (t, q) {
            let v = (u32::from(a) << 16) | (u32::from(b) << 8) | u32::from(c);
            *q0 = sym(v >> 18);
            *q1 = sym(v >> 12);
            *q2 = sym(v >> 6);
            *q3 = sym(v);
        }
    }
    if let Some([q0, q1, q2, q3]) = quads.next() {
        let (v, two) = match *triples.remainder() {
            [a] => (u32::from(a) << 16, false),
            [a, b] => ((u32::from(a) << 16) | (u32::from(b) << 8), true),
            _ => (0, false),
        };
        *q0 = sym(v >> 18);
        *q1 = sym(v >> 12);
        *q2 = if two { sym(v >> 6) } else { b'=' };
        *q3 = b'=';
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// glib's algorithm, one character at a time (the reference for the
    /// fast paths).
    fn reference(input: &[u8]) -> heapless::Vec<u8, 512> {
        let mut out = heapless::Vec::new();
        let (mut v, mut n, mut last0) = (0u32, 0, 0u8);
        for &c in input {
            let rank = match rank_of(c) {
                BAD | SKIP => continue,
                PAD => 0,
                x => u32::from(x),
            };
            let last1 = last0;
            last0 = c;
            v = (v << 6) | rank;
            n += 1;
            if n == 4 {
                let [_, b0, b1, b2] = v.to_be_bytes();
                out.push(b0).unwrap();
                if last1 != b'=' {
                    out.push(b1).unwrap();
                }
                if last0 != b'=' {
                    out.push(b2).unwrap();
                }
                n = 0;
            }
        }
        out
    }

    #[test]
    fn fast_paths_decode_as_glib_does() {
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\n";
        let mut seed = 0x1234_5678_9ABC_DEF0u64;
        for round in 0..2000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 400) as usize;
            let mut input: heapless::Vec<u8, 512> = heapless::Vec::new();
            let mut x = seed;
            for i in 0..len {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                // Mostly plain characters, sometimes '=' or a newline.
                let pick = if round % 3 == 0 {
                    (x >> 33) as usize % 66
                } else {
                    (x >> 33) as usize % 64
                };
                input
                    .push(
                        alphabet[if i % 37 == 36 && round % 3 == 2 {
                            65
                        } else {
                            pick
                        }],
                    )
                    .unwrap();
            }
            let mut buf = input.clone();
            let n = decode_in_place(&mut buf);
            assert_eq!(&buf[..n], reference(&input).as_slice(), "{input:?}");
        }
    }

    #[test]
    fn long_input_with_one_odd_character_at_every_offset_decodes_as_glib() {
        // Past the split point of the in-place block decoder too: one '=',
        // newline or invalid character anywhere in 300 plain characters.
        let plain: heapless::Vec<u8, 512> = (0..300u32)
            .map(|i| ALPHABET[(i.wrapping_mul(7) % 64) as usize])
            .collect();
        for at in 0..300 {
            for odd in [b'=', b'\n', b'-'] {
                let mut input = plain.clone();
                input[at] = odd;
                let mut a = input.clone();
                let mut b = input.clone();
                let n = decode_in_place(&mut a);
                assert_eq!(&a[..n], reference(&input).as_slice(), "{at} {odd}");
                let expect = validate(&input).then_some(n);
                let got = decode_checked(&mut b);
                assert_eq!(got, expect, "{at} {odd}");
                if let Some(n) = got {
                    assert_eq!(a[..n], b[..n], "{at} {odd}");
                }
            }
        }
    }

    #[test]
    fn checked_decoding_is_validate_then_decode() {
        let inputs: [&[u8]; 9] = [
            b"SGVsbG8gV29ybGQhCgA=",
            b"aGk=\n",
            b"aGk= ",
            b"a-_b",
            b"a=Gk=",
            b"aGk",
            b"QUJD\nREVG\nR0g=",
            b"QUJDREVG!",
            b"",
        ];
        for input in inputs {
            let mut a: heapless::Vec<u8, 64> = heapless::Vec::from_slice(input).unwrap();
            let mut b = a.clone();
            let expect = validate(&a).then(|| decode_in_place(&mut a));
            let got = decode_checked(&mut b);
            assert_eq!(got, expect, "{input:?}");
            if let Some(n) = got {
                assert_eq!(a[..n], b[..n]);
            }
        }
    }

    #[test]
    fn encoding_matches_base64ct_for_every_length_and_byte() {
        use base64ct::{Base64, Encoding};
        let data: [u8; 300] = core::array::from_fn(|i| (i * 97 + 13) as u8);
        for len in 0..data.len() {
            let src = &data[..len];
            let mut a = [0u8; 400];
            let mut b = [0u8; 400];
            let n = encode(src, &mut a).unwrap();
            let m = Base64::encode(src, &mut b).unwrap().len();
            assert_eq!(a[..n], b[..m], "length {len}");
        }
        let all: [u8; 256] = core::array::from_fn(|i| i as u8);
        let mut a = [0u8; 400];
        let mut b = [0u8; 400];
        let n = encode(&all, &mut a).unwrap();
        let m = Base64::encode(&all, &mut b).unwrap().len();
        assert_eq!(a[..n], b[..m]);
        assert_eq!(encode(b"abc", &mut [0u8; 3]), None);
    }

    fn dec(s: &[u8]) -> heapless::Vec<u8, 64> {
        let mut b: heapless::Vec<u8, 64> = heapless::Vec::from_slice(s).unwrap();
        let n = decode_in_place(&mut b);
        b.truncate(n);
        b
    }

    #[test]
    fn glib_lenient_decoding_matches_qemu_ga() {
        assert_eq!(dec(b"SGVsbG8gV29ybGQhCgA=").as_slice(), b"Hello World!\n\0");
        assert_eq!(dec(b"aGk=").as_slice(), b"hi");
        assert_eq!(dec(b"aGk").as_slice(), b"");
        assert_eq!(dec(b"a").as_slice(), b"");
        assert_eq!(dec(b"a=Gk=").len(), 3);
        assert_eq!(dec(b"aG\nk=").as_slice(), b"hi");
        assert_eq!(dec(b"").as_slice(), b"");
        assert_eq!(dec(b"QQ==").as_slice(), b"A");
        assert_eq!(dec(b"QR==").as_slice(), b"A");
    }

    #[test]
    fn alphabet_check_matches_qemu_ga() {
        assert!(validate(b"aGk=\n"));
        assert!(!validate(b"aGk= "));
        assert!(!validate(b"a-_b"));
    }

    #[test]
    fn chunked_encoding_concatenates() {
        let data = b"The quick brown fox jumps over the lazy dog";
        let mut one = [0u8; 64];
        let n = encode(data, &mut one).unwrap();
        let mut two = [0u8; 64];
        let a = encode(&data[..21], &mut two).unwrap();
        let b = encode(&data[21..], &mut two[a..]).unwrap();
        assert_eq!(&one[..n], &two[..a + b]);
        assert_eq!(encoded_len(data.len()), n);
    }
}
