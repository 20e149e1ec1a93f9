//! Test support for nanoqga: a mocked serial line, a mock board, a fault
//! injector, and harnesses that run `nanoqga-host`, qemu-ga and QEMU.
//!
//! * [`MockSerial`] scripts the transport: read chunk sizes down to one byte,
//!   a TX budget per poll down to one byte, and readiness stalls (the agent
//!   sees "not ready" a number of times in a row).
//! * [`MockPlatform`] is a board with a fake clock, recorded power requests,
//!   a RAM file store, scripted programs and fixed system information.
//! * [`Harness`] owns an agent over the mock board and drives it until it
//!   is idle, with a bound on polls so a livelock fails the test.
//! * [`process`] spawns `nanoqga-host` and qemu-ga on unix sockets under a
//!   temporary directory; [`qemu`] boots board images in QEMU.

pub mod elf;
pub mod faults;
pub mod fuzzing;
pub mod mock;
pub mod process;
pub mod qemu;
pub mod rng;
pub mod scenarios;
pub mod suite;

use std::collections::VecDeque;

pub use mock::{MockPlatform, MockSerial};
use nanoqga::{Agent, AgentConfig, Poll, Storage};
use serde_json::Value;

/// Storage used by most tests: the bare-metal defaults.
pub type SmallStorage = Storage;

/// Storage with room for larger requests and replies (still small enough
/// to build on a test thread's stack).
pub type MediumStorage = Storage<{ 64 << 10 }, { 16 << 10 }, 16, 8, 4096, 256>;

/// An agent over a [`MockPlatform`], with its storage leaked for the test's
/// lifetime.
pub struct Harness {
    /// The agent.
    pub agent: Agent<'static, MockPlatform>,
    /// The transport.
    pub serial: MockSerial,
    /// Most polls one [`Harness::drive`] may take (livelock guard).
    pub poll_limit: usize,
}

impl Harness {
    /// A harness with the default (bare-metal) capacities.
    pub fn new() -> Self {
        Self::with_config(AgentConfig::default())
    }

    /// A harness with the default capacities and `config`.
    pub fn with_config(config: AgentConfig) -> Self {
        let storage: &'static mut SmallStorage = Box::leak(Box::new(Storage::new()));
        Self::from_agent(Agent::new(storage, MockPlatform::new(), config))
    }

    /// A harness with [`MediumStorage`].
    pub fn medium() -> Self {
        let storage: &'static mut MediumStorage = Box::leak(Box::new(Storage::new()));
        Self::from_agent(Agent::new(
            storage,
            MockPlatform::new(),
            AgentConfig::default(),
        ))
    }

    /// A harness around an existing agent.
    pub fn from_agent(agent: Agent<'static, MockPlatform>) -> Self {
        Harness {
            agent,
            serial: MockSerial::new(),
            poll_limit: 1_000_000,
        }
    }

    /// The mock board.
    pub fn platform(&mut self) -> &mut MockPlatform {
        self.agent.platform()
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
            self.serial.new_poll();
            match self.agent.poll(&mut self.serial) {
                Ok(Poll::Busy) => idle_streak = 0,
                Ok(Poll::Idle) => {
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
                Ok(Poll::Eof) => return polls,
                Err(e) => match e {},
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
            self.serial.new_poll();
            let _ = self.agent.poll(&mut self.serial);
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

impl Default for Harness {
    fn default() -> Self {
        Self::new()
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

/// Whether tests run under `.ci/run` (where missing tools are failures, not
/// skips).
pub fn in_ci() -> bool {
    std::env::var_os("NANOQGA_CI").is_some()
}

/// Handles a missing external tool: panics in CI, otherwise prints one line
/// saying how to install it and returns false (the caller then skips).
pub fn require_tool(path: &str, install: &str) -> bool {
    if std::path::Path::new(path).exists() {
        return true;
    }
    if in_ci() {
        panic!("{path} is missing in CI: {install}");
    }
    eprintln!("skipping: {path} not found; install with: {install}");
    false
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
