//! Fault injection (always on, seeded, bounded): randomized sessions over a
//! transport that reads in odd chunks, accepts 0..N bytes per poll and
//! reports "not ready" in storms; noise and duplicated 0xFF between
//! requests; clients that vanish mid-reply and reconnect mid-request.
//!
//! Every session's output must keep the properties of
//! `nanoqga_tests_host::faults` and be byte-identical to a run without
//! transport faults. About 100,000 requests per run.

use nanoqga::{Agent, AgentConfig, Storage};
use nanoqga_tests_host::faults::{self, Expect, Session};
use nanoqga_tests_host::rng::Rng;
use nanoqga_tests_host::{Harness, MockPlatform, MockSerial, SmallStorage, parse_replies};

/// Seeds come from the environment when given (to reproduce a failure).
fn seed() -> u64 {
    std::env::var("NANOQGA_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_0001)
}

fn clean_run(s: &Session) -> Vec<u8> {
    let mut h = Harness::mock();
    h.exchange(&s.input)
}

fn faulty_serial(rng: &mut Rng) -> MockSerial {
    let reads: Vec<usize> = (0..1 + rng.below(6))
        .map(|_| [1usize, 2, 3, 7, 64, 4096][rng.below(6) as usize])
        .collect();
    let mut budget: Vec<usize> = (0..1 + rng.below(6))
        .map(|_| [0usize, 1, 2, 5, 100, 1 << 20][rng.below(6) as usize])
        .collect();
    // Zero-byte polls are faults; a transport that never takes a byte is not.
    budget.push(1 + rng.below(64) as usize);
    let mut s = MockSerial::new()
        .with_read_chunks(&reads)
        .with_tx_budget(&budget);
    if rng.chance(1, 3) {
        s.read_stall = rng.below(200) as u32;
        s.write_stall = rng.below(200) as u32;
    }
    s
}

#[test]
fn random_sessions_keep_every_property_under_transport_faults() {
    let mut rng = Rng::new(seed());
    let mut next_id = 0i64;
    let mut total = 0usize;
    let mut sessions = 0usize;
    while total < 100_000 {
        let n = 1 + rng.below(400) as usize;
        let s = faults::session(&mut rng, n, &mut next_id);
        total += s.requests;
        sessions += 1;
        let expected = clean_run(&s);
        if let Err(e) = faults::check(&s, &expected) {
            panic!("seed {} session {sessions}: {e}", seed());
        }
        // Transport faults must not change a single byte.
        if sessions.is_multiple_of(2) || s.requests < 50 {
            let mut h = Harness::mock();
            h.serial = faulty_serial(&mut rng);
            let schedule = format!("{:?} {:?}", h.serial.read_chunks, h.serial.tx_budget);
            let got = h.exchange(&s.input);
            if got != expected {
                let at = got
                    .iter()
                    .zip(&expected)
                    .position(|(a, b)| a != b)
                    .unwrap_or(got.len().min(expected.len()));
                let from = at.saturating_sub(150);
                panic!(
                    "seed {} session {sessions}: output differs under faults ({schedule}) at byte {at}:\n got: {:?}\nwant: {:?}",
                    seed(),
                    String::from_utf8_lossy(&got[from..(at + 100).min(got.len())]),
                    String::from_utf8_lossy(&expected[from..(at + 100).min(expected.len())]),
                );
            }
        }
    }
    eprintln!(
        "fault injection: {total} requests in {sessions} sessions, seed {:#x}",
        seed()
    );
}

#[test]
fn client_vanishing_mid_reply_then_reconnecting_mid_request() {
    // The old client's unfinished request and reply are dropped; the new
    // client's first request after its resync is answered normally.
    let mut rng = Rng::new(seed() ^ 0xD15C);
    let mut next_id = 1_000_000i64;
    for round in 0..300 {
        let old = faults::session(&mut rng, 5, &mut next_id);
        let cut = rng.below(old.input.len() as u64) as usize;
        let mut h = Harness::mock();
        h.serial = MockSerial::new().with_tx_budget(&[rng.below(50) as usize]);
        h.send(&old.input[..cut]);
        // Run a few polls only: replies may be half written.
        for _ in 0..rng.below(20) {
            h.serial.new_poll();
            let _ = h.agent.poll(&mut h.serial);
        }
        // Disconnect: whatever was owed to the old client is gone.
        h.agent.reset_connection();
        h.serial = MockSerial::new();
        let new = faults::session(&mut rng, 5, &mut next_id);
        let out = h.exchange(&new.input);
        if let Err(e) = faults::check(&new, &out) {
            panic!("round {round}: after reconnect: {e}");
        }
        // And nothing of the old session leaks into the new one.
        let old_ids: Vec<i64> = old
            .expect
            .iter()
            .map(|e| match e {
                Expect::Id(i) | Expect::Sync(i) => *i,
            })
            .collect();
        for r in parse_replies(&out) {
            if let Some(id) = r.get("id").and_then(|v| v.as_i64()) {
                assert!(
                    !old_ids.contains(&id),
                    "round {round}: reply to the old client after reset"
                );
            }
        }
    }
}

#[test]
fn garbage_then_ff_and_sync_delimited_always_recovers() {
    let mut rng = Rng::new(seed() ^ 0x6A7B);
    let storage: &'static mut SmallStorage = Box::leak(Box::new(Storage::new()));
    let mut h = Harness::from_agent(Agent::new(
        storage,
        MockPlatform::new(),
        AgentConfig::default(),
    ));
    for round in 0..2000 {
        // Any bytes at all, including half requests and open strings.
        let mut input = if rng.chance(1, 2) {
            faults::noise(&mut rng, 300)
        } else {
            let n = rng.below(300) as usize;
            rng.bytes(n)
        };
        let id = 9_000_000_000_000i64 + round as i64;
        input.push(0xFF);
        input.extend(
            format!(r#"{{"execute":"guest-sync-delimited","arguments":{{"id":{id}}}}}"#).bytes(),
        );
        let out = h.exchange(&input);
        let at = out
            .iter()
            .rposition(|&b| b == 0xFF)
            .unwrap_or_else(|| panic!("round {round}: no sentinel"));
        let reply: serde_json::Value =
            serde_json::from_slice(&out[at + 1..out.len() - 1]).expect("reply after sentinel");
        assert_eq!(reply["return"], id, "round {round}");
    }
}

#[test]
fn polls_per_input_byte_are_bounded() {
    // No livelock: the agent needs a bounded number of polls per byte even
    // with the transport's worst schedule (1-byte reads, 1-byte writes).
    let mut rng = Rng::new(seed() ^ 0xB0B);
    let mut next_id = 0;
    let s = faults::session(&mut rng, 200, &mut next_id);
    let mut h = Harness::mock();
    h.serial = MockSerial::new()
        .with_read_chunks(&[1])
        .with_tx_budget(&[1]);
    let expected = clean_run(&s);
    h.send(&s.input);
    let polls = h.drive();
    assert_eq!(h.serial.output, expected);
    let bytes = s.input.len() + expected.len();
    assert!(
        polls <= 4 * bytes + 100,
        "{polls} polls for {bytes} bytes in and out"
    );
}
