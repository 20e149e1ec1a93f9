//! Host-run tests for nanoqga boards.
//!
//! A board crate takes this as a dev-dependency to test its capabilities on
//! the host, through the real agent, before it ever boots:
//!
//! * [`MockSerial`] scripts the transport: read chunk sizes down to one
//!   byte, a TX budget per poll down to one byte (or zero: not writable),
//!   and readiness stalls (the agent sees "not ready" a number of times in
//!   a row);
//! * [`Harness`] owns an agent over any [`Platform`] (the board's own, or
//!   [`MockPlatform`]) and drives it until it is idle, with a bound on polls
//!   so a livelock fails the test; [`Harness::call`], [`Harness::ok`] and
//!   [`Harness::err`] hold a scripted conversation;
//! * [`faults`] generates randomized sessions (noise, stray 0xFF, resyncs)
//!   and checks the properties every agent must keep on them;
//! * every reply is checked for qemu-ga's framing as it is parsed
//!   ([`split_replies`]): one line of ASCII JSON each, 0xFF only before a
//!   `guest-sync-delimited` reply.
//!
//! ```
//! use nanoqga::AgentConfig;
//! use nanoqga::error::HookError;
//! use nanoqga::platform::{Clock, Platform};
//! use nanoqga_testkit::{Harness, MockSerial};
//!
//! struct Rtc(i64);
//! impl Clock for Rtc {
//!     fn now_ns(&mut self) -> Result<i64, HookError> {
//!         Ok(self.0)
//!     }
//! }
//! struct MyBoard {
//!     rtc: Rtc,
//! }
//! impl Platform for MyBoard {
//!     fn clock(&mut self) -> Option<&mut dyn Clock> {
//!         Some(&mut self.rtc)
//!     }
//! }
//!
//! let mut h = Harness::new(MyBoard { rtc: Rtc(42) }, AgentConfig::default());
//! // One byte per read, three bytes per write.
//! h.serial = MockSerial::new().with_read_chunks(&[1]).with_tx_budget(&[3]);
//! assert_eq!(h.ok(r#"{"execute":"guest-get-time"}"#), 42);
//! let (class, desc) = h.err(r#"{"execute":"guest-get-vcpus"}"#);
//! assert_eq!(class, "GenericError");
//! assert_eq!(desc, "this feature or command is not currently supported");
//! ```

mod board;
pub mod faults;
pub mod rng;
mod serial;

use std::collections::VecDeque;

pub use board::{MOCK_DISK, MemFiles, MockAddress, MockPlatform, MockPrograms, SLEEP_STEP};
use nanoqga::{Agent, AgentConfig, Event, Platform, Poll, Storage};
use serde_json::Value;
pub use serial::MockSerial;

/// Storage used by most tests: the bare-metal defaults.
pub type SmallStorage = Storage;

/// Storage with room for larger requests and replies (still small enough
/// to build on a test thread's stack).
pub type MediumStorage = Storage<{ 64 << 10 }, { 16 << 10 }, 16, 8, 4096, 256>;

/// An agent over a board, with its storage leaked for the test's lifetime.
pub struct Harness<P: Platform = MockPlatform> {
    /// The agent.
    pub agent: Agent<'static, P>,
    /// The transport.
    pub serial: MockSerial,
    /// Most polls one [`Harness::drive`] may take (livelock guard).
    pub poll_limit: usize,
    /// Events the agent reported, in order (the harness drains them after
    /// every poll; at most 10,000 are kept).
    pub events: Vec<Event>,
}

impl Harness<MockPlatform> {
    /// A [`MockPlatform`] harness with the default (bare-metal) capacities.
    pub fn mock() -> Self {
        Self::new(MockPlatform::new(), AgentConfig::default())
    }

    /// A [`MockPlatform`] harness with the default capacities and `config`.
    pub fn with_config(config: AgentConfig<MockPlatform>) -> Self {
        Self::new(MockPlatform::new(), config)
    }

    /// A [`MockPlatform`] harness with [`MediumStorage`].
    pub fn medium() -> Self {
        let storage: &'static mut MediumStorage = Box::leak(Box::new(Storage::new()));
        Self::from_agent(Agent::new(
            storage,
            MockPlatform::new(),
            AgentConfig::default(),
        ))
    }
}

impl<P: Platform> Harness<P> {
    /// A harness over `board` with the default (bare-metal) capacities.
    pub fn new(board: P, config: AgentConfig<P>) -> Self {
        let storage: &'static mut SmallStorage = Box::leak(Box::new(Storage::new()));
        Self::from_agent(Agent::new(storage, board, config))
    }

    /// A harness around an existing agent.
    pub fn from_agent(agent: Agent<'static, P>) -> Self {
        Harness {
            agent,
            serial: MockSerial::new(),
            poll_limit: 1_000_000,
            events: Vec::new(),
        }
    }

    /// The board.
    pub fn platform(&mut self) -> &mut P {
        self.agent.platform()
    }

    /// Polls the agent once and keeps its events.
    pub fn poll_once(&mut self) -> Poll {
        self.serial.new_poll();
        let r = self.agent.poll(&mut self.serial);
        while let Some(e) = self.agent.take_event() {
            if self.events.len() < 10_000 {
                self.events.push(e);
            }
        }
        match r {
            Ok(p) => p,
            Err(e) => match e {},
        }
    }

    /// Queues input bytes.
    pub fn send(&mut self, bytes: &[u8]) {
        self.serial.input.extend(bytes);
    }

    /// Polls until the agent is idle with all input consumed and all output
    /// written. Panics if that takes more than `poll_limit` polls.
    pub fn drive(&mut self) -> usize {
        let mut polls = 0usize;
        let mut idle_streak = 0u32;
        loop {
            polls += 1;
            assert!(
                polls <= self.poll_limit,
                "agent did not settle within {} polls",
                self.poll_limit
            );
            match self.poll_once() {
                Poll::Busy => idle_streak = 0,
                Poll::Idle => {
                    idle_streak += 1;
                    let quiet = self.serial.input.is_empty() && !self.agent.has_output();
                    // Stalls and budgets make the agent idle for a while;
                    // only stop once nothing is pending and the stalls are
                    // spent, or the agent stays idle far longer than any
                    // stall could explain.
                    // Running programs advance on polls; tests that want
                    // them finished poll on (see `run_programs`).
                    if quiet && self.serial.stalls_spent() {
                        return polls;
                    }
                    if idle_streak > 10_000 {
                        return polls;
                    }
                }
                Poll::Eof => return polls,
            }
        }
    }

    /// Polls until no `guest-exec` program is running (at most `limit`
    /// polls).
    pub fn run_programs(&mut self, limit: usize) {
        for _ in 0..limit {
            if !self.agent.programs_running() {
                return;
            }
            self.poll_once();
        }
        panic!("programs still running after {limit} polls");
    }

    /// Sends `bytes`, drives, and returns the output produced.
    pub fn exchange(&mut self, bytes: &[u8]) -> Vec<u8> {
        self.send(bytes);
        self.drive();
        std::mem::take(&mut self.serial.output)
    }

    /// Sends one request and returns its replies, parsed.
    pub fn request(&mut self, json: &str) -> Vec<Value> {
        let out = self.exchange(json.as_bytes());
        parse_replies(&out)
    }

    /// Sends one request that must get exactly one reply, and returns it.
    pub fn call(&mut self, json: &str) -> Value {
        let mut r = self.request(json);
        assert_eq!(r.len(), 1, "expected one reply to {json}, got {r:?}");
        r.remove(0)
    }

    /// Calls and returns the `return` member, panicking on an error reply.
    pub fn ok(&mut self, json: &str) -> Value {
        let r = self.call(json);
        match r.get("return") {
            Some(v) => v.clone(),
            None => panic!("{json} failed: {r}"),
        }
    }

    /// Calls and returns (class, desc) of the error reply.
    pub fn err(&mut self, json: &str) -> (String, String) {
        let r = self.call(json);
        error_of(&r).unwrap_or_else(|| panic!("{json} did not fail: {r}"))
    }
}

impl Default for Harness<MockPlatform> {
    fn default() -> Self {
        Self::mock()
    }
}

/// (class, desc) of an error reply.
pub fn error_of(v: &Value) -> Option<(String, String)> {
    let e = v.get("error")?;
    Some((
        e.get("class")?.as_str()?.to_string(),
        e.get("desc")?.as_str()?.to_string(),
    ))
}

/// Splits agent output into replies: each must be one line of JSON ending in
/// `\n`, optionally preceded by the 0xFF sentinel. Panics on anything else,
/// which makes every test also check the output framing.
pub fn parse_replies(out: &[u8]) -> Vec<Value> {
    split_replies(out).into_iter().map(|(_, v)| v).collect()
}

/// Like [`parse_replies`], also telling which replies had the sentinel.
pub fn split_replies(out: &[u8]) -> Vec<(bool, Value)> {
    let mut replies = Vec::new();
    let mut rest = out;
    while !rest.is_empty() {
        let sentinel = rest[0] == 0xFF;
        if sentinel {
            rest = &rest[1..];
        }
        let nl = rest.iter().position(|&b| b == b'\n').unwrap_or_else(|| {
            panic!("reply without newline: {:?}", String::from_utf8_lossy(rest))
        });
        let line = &rest[..nl];
        assert!(
            line.is_ascii(),
            "non-ASCII reply: {:?}",
            String::from_utf8_lossy(line)
        );
        assert!(!line.contains(&0xFF), "raw 0xFF inside a reply");
        let line = &qemu_doubles_as_null(line);
        let v = parse_json(line).unwrap_or_else(|e| {
            panic!(
                "reply is not JSON ({e}): {:?}",
                String::from_utf8_lossy(line)
            )
        });
        assert!(v.is_object(), "reply is not an object: {v}");
        replies.push((sentinel, v));
        rest = &rest[nl + 1..];
    }
    replies
}

/// qemu-ga prints doubles with C's `%.17g`, so an echoed `id` holding a
/// number too large for a double (`1e400`) comes back as the bare token
/// `inf` (or `-inf`; `nan` cannot be written in JSON, but is covered too):
/// not JSON, but qemu-ga's bytes (wire-protocol.md §1), which the agent
/// reproduces. Those tokens, outside strings, become `null` here so the
/// rest of the reply can still be checked. So do number tokens too large
/// for a double: valid JSON that serde_json refuses, which the core echoes
/// as typed when built without `float-ids`.
pub fn qemu_doubles_as_null(line: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(line.len());
    let mut i = 0;
    let mut in_str = false;
    while i < line.len() {
        let b = line[i];
        if in_str {
            out.push(b);
            if b == b'\\' && i + 1 < line.len() {
                out.push(line[i + 1]);
                i += 2;
                continue;
            }
            in_str = b != b'"';
            i += 1;
            continue;
        }
        let rest = &line[i..];
        let word = [&b"-inf"[..], b"inf", b"-nan", b"nan"]
            .into_iter()
            .find(|w| rest.starts_with(w));
        match word {
            Some(w) => {
                out.extend_from_slice(b"null");
                i += w.len();
            }
            None if b.is_ascii_digit()
                || (b == b'-' && rest.get(1).is_some_and(u8::is_ascii_digit)) =>
            {
                let len = rest
                    .iter()
                    .skip(1)
                    .position(|c| !matches!(c, b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-'))
                    .map_or(rest.len(), |p| p + 1);
                let token = &rest[..len];
                let huge = std::str::from_utf8(token)
                    .ok()
                    .and_then(|t| t.parse::<f64>().ok())
                    .is_some_and(f64::is_infinite);
                out.extend_from_slice(if huge { b"null" } else { token });
                i += len;
            }
            None => {
                in_str = b == b'"';
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// Parses one JSON value without serde_json's nesting limit (replies may echo
/// ids nested 1024 deep, as qemu-ga does).
pub fn parse_json(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    use serde::Deserialize;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    de.disable_recursion_limit();
    let v = Value::deserialize(&mut de)?;
    de.end()?;
    Ok(v)
}

/// Decodes standard padded base64 (for checking replies independently of
/// the agent's own encoder).
pub fn b64decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .expect("valid base64")
}

/// Encodes standard padded base64.
pub fn b64encode(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// A queue of chunk sizes that repeats.
#[derive(Clone, Debug, Default)]
pub struct Cycle {
    sizes: VecDeque<usize>,
}

impl Cycle {
    /// A cycle over `sizes` (empty: unlimited).
    pub fn new(sizes: &[usize]) -> Self {
        Cycle {
            sizes: sizes.iter().copied().collect(),
        }
    }

    /// The next size, or `usize::MAX` when unlimited.
    pub fn next_size(&mut self) -> usize {
        match self.sizes.pop_front() {
            Some(s) => {
                self.sizes.push_back(s);
                s
            }
            None => usize::MAX,
        }
    }
}
