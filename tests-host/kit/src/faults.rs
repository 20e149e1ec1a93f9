//! Fault injection: randomized sessions and the properties they must keep.
//!
//! A session is a byte stream a client could send: clean requests (each
//! with a unique `id`), noise bursts, duplicated 0xFF bytes, and after any
//! noise the resynchronisation qemu-ga's clients use (0xFF then
//! `guest-sync-delimited` with a fresh id). The properties:
//!
//! 1. every clean request gets exactly one reply carrying its id, in order;
//! 2. every resync gets its sentinel reply (0xFF before `{`) with the right
//!    value, in order;
//! 3. the output is a sequence of complete JSON objects, each on one line,
//!    with 0xFF only directly before a `guest-sync-delimited` reply;
//! 4. the output does not depend on how the input was chunked or how much
//!    the transport accepted per poll.

use serde_json::Value;

use crate::rng::Rng;
use crate::split_replies;

/// What a session expects to see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    /// A reply carrying this id.
    Id(i64),
    /// A sentinel reply returning this value.
    Sync(i64),
}

/// A generated session.
#[derive(Clone, Debug, Default)]
pub struct Session {
    /// The bytes to send.
    pub input: Vec<u8>,
    /// The replies that must appear, in order.
    pub expect: Vec<Expect>,
    /// Number of clean requests.
    pub requests: usize,
}

/// Ids used by sessions: far from anything noise could produce.
const ID_BASE: i64 = 7_000_000_000_000;

fn clean_request(rng: &mut Rng, id: i64) -> Vec<u8> {
    let body = match rng.below(6) {
        0 => format!(r#"{{"execute":"guest-ping","id":{id}}}"#),
        1 => format!(r#"{{"execute":"guest-sync","arguments":{{"id":{id}}},"id":{id}}}"#),
        2 => format!(r#"{{ "id" : {id} , "execute" : "guest-ping" , "arguments" : {{ }} }}"#),
        3 => format!(r#"{{'execute':'guest-get-time','id':{id}}}"#),
        4 => format!(r#"{{"execute":"guest-nonexistent","id":{id}}}"#),
        _ => format!(r#"{{"execute":"guest-sync","arguments":{{"id":"bad"}},"id":{id}}}"#),
    };
    let mut v = body.into_bytes();
    // Whitespace between requests is free.
    match rng.below(4) {
        0 => v.push(b'\n'),
        1 => v.extend_from_slice(b"\r\n "),
        _ => {}
    }
    v
}

/// Random bytes, biased towards JSON-ish characters so the framer's
/// states get exercised.
pub fn noise(rng: &mut Rng, max: usize) -> Vec<u8> {
    const JSONISH: &[u8] = b"{}[]:,\"'\\ \n\t-0123456789eE.truefalsnul";
    let n = rng.below(max as u64 + 1) as usize;
    (0..n)
        .map(|_| {
            if rng.chance(3, 4) {
                *rng.pick(JSONISH)
            } else {
                rng.next_u64() as u8
            }
        })
        .collect()
}

/// Generates a session of about `requests` clean requests.
pub fn session(rng: &mut Rng, requests: usize, next_id: &mut i64) -> Session {
    let mut s = Session::default();
    while s.requests < requests {
        match rng.below(10) {
            0 => {
                // Noise, then the canonical resync.
                s.input.extend(noise(rng, 64));
                let sync = ID_BASE + *next_id;
                *next_id += 1;
                s.input.push(0xFF);
                s.input.extend(
                    format!(r#"{{"execute":"guest-sync-delimited","arguments":{{"id":{sync}}}}}"#)
                        .bytes(),
                );
                s.expect.push(Expect::Sync(sync));
            }
            1 => {
                // Duplicated 0xFF between requests: one error each, no harm.
                let n = 1 + rng.below(3) as usize;
                s.input.extend(std::iter::repeat_n(0xFF, n));
            }
            _ => {
                let id = ID_BASE + *next_id;
                *next_id += 1;
                s.input.extend(clean_request(rng, id));
                s.expect.push(Expect::Id(id));
                s.requests += 1;
            }
        }
    }
    // End with a resync so trailing noise is flushed and checked.
    let sync = ID_BASE + *next_id;
    *next_id += 1;
    s.input.push(0xFF);
    s.input.extend(
        format!(r#"{{"execute":"guest-sync-delimited","arguments":{{"id":{sync}}}}}"#).bytes(),
    );
    s.expect.push(Expect::Sync(sync));
    s
}

/// Checks properties 1 to 3 on `output`; returns a description of the first
/// violation.
pub fn check(session: &Session, output: &[u8]) -> Result<(), String> {
    let replies = std::panic::catch_unwind(|| split_replies(output)).map_err(|_| {
        format!(
            "output is not a sequence of JSON lines: {:?}",
            String::from_utf8_lossy(output)
        )
    })?;
    let mut seen = Vec::new();
    for (sentinel, v) in &replies {
        let is_sync = v
            .get("return")
            .and_then(Value::as_i64)
            .is_some_and(|r| r >= ID_BASE)
            && v.get("id").is_none();
        if *sentinel {
            if !is_sync {
                return Err(format!(
                    "sentinel before a reply that is not a delimited sync: {v}"
                ));
            }
            seen.push(Expect::Sync(v["return"].as_i64().unwrap_or(0)));
        } else if let Some(id) = v.get("id").and_then(Value::as_i64) {
            if id >= ID_BASE {
                seen.push(Expect::Id(id));
            }
        } else if is_sync {
            return Err(format!("delimited sync reply without sentinel: {v}"));
        }
    }
    if seen != session.expect {
        let first = seen
            .iter()
            .zip(&session.expect)
            .position(|(a, b)| a != b)
            .unwrap_or(seen.len().min(session.expect.len()));
        return Err(format!(
            "replies differ at #{first}: got {:?}, expected {:?} (got {} of {})",
            seen.get(first),
            session.expect.get(first),
            seen.len(),
            session.expect.len()
        ));
    }
    Ok(())
}
