//! The fuzz targets' bodies, shared by `tests-host/fuzz` (libFuzzer) and
//! the regression test that replays every kept input (`tests/fuzz_regressions.rs`).
//!
//! Each function panics when an invariant breaks; see the target docs.

use std::sync::Mutex;

use nanoqga::json::frame::Frame;
use nanoqga::json::parse::{KeySlot, validate};
use nanoqga::json::walk::{Elements, Members, Tokens, kind_at};
use nanoqga::receiver::Receiver;
use nanoqga::{Agent, AgentConfig, Poll};

use crate::{MockPlatform, MockSerial, SmallStorage, split_replies};

const BUF: usize = 512;

/// Runs the agent's receiver over `data` fed `chunk` bytes at a time, the
/// way the agent drives it; returns the frames as (kind, absolute start,
/// absolute end).
fn run(data: &[u8], chunk: usize) -> Vec<(u8, usize, usize)> {
    let mut buf = [0u8; BUF];
    let mut rx = Receiver::new(&mut buf);
    let mut fed = 0usize;
    // Absolute offset of the buffer's first byte: the receiver drops bytes
    // from the front, so track what it kept by content.
    let mut stream: Vec<u8> = Vec::new();
    let mut frames = Vec::new();
    let mut calls = 0usize;
    loop {
        calls += 1;
        assert!(calls <= 8 * data.len() + 64, "receiver livelock");
        if let Some(frame) = rx.peek(1024) {
            let base = stream.len() - rx.bytes().len();
            let (kind, start, end) = match frame {
                Frame::Message { start, end } => (0u8, start, end),
                Frame::Stray { start, end } => (1u8, start, end),
                Frame::Limit(_) => (2u8, 0, 0),
            };
            assert!(
                start <= end && end <= rx.bytes().len(),
                "frame outside the buffer"
            );
            frames.push((kind, base + start, base + end));
            rx.accept();
            rx.release();
            continue;
        }
        assert!(!rx.unscanned(), "receiver stopped short of the input");
        if fed == data.len() {
            break;
        }
        let space = rx.space();
        let n = chunk.min(space.len()).min(data.len() - fed);
        assert!(n > 0, "receiver has no room and no frame");
        space[..n].copy_from_slice(&data[fed..fed + n]);
        rx.commit(n);
        stream.extend_from_slice(&data[fed..fed + n]);
        fed += n;
    }
    frames
}

/// The framer target: the first byte picks the chunk size.
pub fn framer(input: &[u8]) {
    let Some((&c, data)) = input.split_first() else {
        return;
    };
    let chunk = usize::from(c % 64) + 1;
    let a = run(data, chunk);
    // Frames never overlap and come in order.
    for w in a.windows(2) {
        if w[0].0 != 2 && w[1].0 != 2 {
            assert!(w[0].2 <= w[1].1, "frames out of order");
        }
    }
    // Byte-at-a-time framing agrees when nothing overflowed the buffer.
    if data.len() < BUF / 2 {
        assert_eq!(a, run(data, 1), "framing depends on chunking");
    }
}

/// The envelope target: one message, every walker and check.
pub fn envelope(data: &[u8]) {
    let mut keys = [KeySlot::EMPTY; 16];
    let mut buf = data.to_vec();
    let Ok(_) = validate(&buf, 0, &mut keys) else {
        // Invalid messages must still be walkable without panicking.
        let n = Tokens::new(&buf, 0).take(buf.len() + 1).count();
        assert!(n <= buf.len());
        return;
    };
    // A valid message: walk every object and array in it.
    let starts: Vec<usize> = Tokens::new(&buf, 0).map(|t| t.start).collect();
    assert!(starts.len() <= buf.len());
    for &s in &starts {
        let _ = kind_at(&buf, s);
        for (k, v) in Members::new(&buf, s).take(buf.len() + 1) {
            assert!(k.end <= buf.len() && v.end <= buf.len());
        }
        for e in Elements::new(&buf, s).take(buf.len() + 1) {
            assert!(e.end <= buf.len());
        }
    }
    // The envelope, and every command's argument check against this
    // message as `arguments`.
    // A rejection always leaves a description whose pieces lie in the buffer.
    let mut err = nanoqga::error::QgaError::empty();
    if nanoqga::envelope::parse(&buf, 0..buf.len(), &mut keys, &mut err).is_err() {
        assert_error_in(&err, buf.len());
    }
    for c in nanoqga::commands::Commands::<crate::MockPlatform>::ALL {
        if nanoqga::args::check(&buf, Some(0..buf.len()), c.fields(), &mut err).is_none() {
            assert_error_in(&err, buf.len());
        }
    }
    // Base64 on the raw bytes.
    if nanoqga::base64::validate(&buf) {
        let n = nanoqga::base64::decode_in_place(&mut buf);
        assert!(n <= data.len());
    }
}

static STORAGE: Mutex<SmallStorage> = Mutex::new(SmallStorage::new());

/// The agent target: 4 schedule bytes, then the input stream.
pub fn agent(input: &[u8]) {
    if input.len() < 4 {
        return;
    }
    let (sched, data) = input.split_at(4);
    let reads: Vec<usize> = (0..4)
        .map(|i| usize::from(sched[0] >> (2 * i) & 3) * 7 + 1)
        .collect();
    let tx: Vec<usize> = (0..4)
        .map(|i| usize::from(sched[1] >> (2 * i) & 3) * 5)
        .collect();
    let tx = if tx.iter().all(|&t| t == 0) {
        vec![1]
    } else {
        tx
    };
    let mut storage = STORAGE.lock().unwrap_or_else(|e| e.into_inner());
    let mut platform = MockPlatform::new();
    // Keep the mock board's files small: memory stays bounded.
    platform.programs = None;
    let mut agent = Agent::new(&mut *storage, platform, AgentConfig::default());
    let mut serial = MockSerial::new()
        .with_read_chunks(&reads)
        .with_tx_budget(&tx);
    serial.read_stall = u32::from(sched[2] % 4);
    serial.write_stall = u32::from(sched[3] % 4);
    serial.input.extend(data);
    let limit = 200 * data.len() + 10_000;
    let mut polls = 0usize;
    let mut idle = 0;
    loop {
        polls += 1;
        assert!(polls <= limit, "agent did not settle: livelock");
        serial.new_poll();
        let r = agent.poll(&mut serial);
        while agent.take_event().is_some() {}
        match r {
            Ok(Poll::Busy) => idle = 0,
            Ok(Poll::Idle) => {
                idle += 1;
                if idle > 8 && serial.input.is_empty() && !agent.has_output() {
                    break;
                }
            }
            Ok(Poll::Eof) => break,
            Err(e) => match e {},
        }
    }
    // Panics (and so fails) on any malformed output.
    for (sentinel, reply) in split_replies(&serial.output) {
        if sentinel {
            // Only guest-sync-delimited's success carries the 0xFF.
            assert!(reply["return"].is_i64(), "0xFF before {reply}");
        }
    }
}

/// An error built from a request of `len` bytes: described, and every
/// piece taken from the request lies inside it.
fn assert_error_in(err: &nanoqga::error::QgaError, len: usize) {
    use nanoqga::error::Piece;
    assert!(!err.pieces().is_empty());
    for p in err.pieces() {
        if let Piece::Req { start, end } | Piece::ReqStr { start, end } = *p {
            assert!(start <= end && end as usize <= len, "{p:?} outside {len}");
        }
    }
}
