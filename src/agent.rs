//! The agent: I/O, the buffers and the state machine around the data path
//! receiver → envelope → dispatch → command → reply.
//!
//! Contract:
//! * [`Agent::poll`] never blocks: it asks `read_ready`/`write_ready` before
//!   every read and write. One call does bounded work: it writes what the
//!   transport accepts, continues the reply in progress, reads once, and
//!   handles at most one request.
//! * Requests are handled in arrival order, each gets exactly one reply (none
//!   for a successful `guest-shutdown`/`guest-suspend-*`), and replies go out
//!   in order. A request that arrives while a reply is still being written
//!   waits in the request buffer; nothing is dropped.
//! * Replies to requests that are already buffered are batched: the agent
//!   writes to the transport when it runs out of buffered requests or of
//!   reply space, so a pipelined client gets many replies per write.
//! * Shutdown and suspend run only once every earlier reply has been handed
//!   to the transport (the board may power off inside the call).
//! * When `poll` returns [`Poll::Idle`], [`Agent::poll_delay`] says how long
//!   the board may sleep: until input or output room (`None`), or at most
//!   the delay a running program asked for.
//! * A transport error is returned as is and leaves the agent unchanged; the
//!   board decides (retry, or [`Agent::reset_connection`] for a new client).
//! * Memory is the [`Storage`] the board lends; nothing grows.
//!
//! States (see [`AgentState`]): *receiving* (framing input), *discarding*
//! (dropping a request that broke a limit), *replying* (writing a reply).

use core::fmt;
use core::time::Duration;

use embedded_io::{Read, ReadReady, Write, WriteReady};

use crate::commands::{AgentInfo, Call, CommandSet, Commands, DELIMITED, Outcome, Table};
use crate::config::{self, MAX_NESTING, MIN_TX_BYTES};
use crate::dispatch::{self, Dispatched, Policy};
use crate::envelope;
use crate::error::QgaError;
use crate::event::{Event, Events};
use crate::json::frame::Frame;
use crate::json::parse::KeySlot;
use crate::platform::Platform;
use crate::receiver::Receiver;
use crate::reply::{Reply, Tx};
use crate::state::{ExecSlot, Execs, HandleSlot, Handles, State};

/// The agent's buffers and tables, owned by the board (a `static`, a stack
/// variable, or a heap box on a hosted build).
///
/// Capacities are const parameters so a board picks its own; the defaults
/// are the bare-metal ones of [`crate::config`]. Unusable sizes fail to build.
pub struct Storage<
    const RX: usize = { config::DEFAULT_RX_BYTES },
    const TX: usize = { config::DEFAULT_TX_BYTES },
    const HANDLES: usize = { config::DEFAULT_FILE_HANDLES },
    const EXECS: usize = { config::DEFAULT_EXEC_SLOTS },
    const CAPTURE: usize = { config::DEFAULT_EXEC_CAPTURE_BYTES },
    const KEYS: usize = { config::DEFAULT_KEY_SLOTS },
> {
    rx: [u8; RX],
    tx: [u8; TX],
    handles: [HandleSlot; HANDLES],
    execs: [ExecSlot; EXECS],
    capture: [[[u8; CAPTURE]; 2]; EXECS],
    keys: [KeySlot; KEYS],
}

impl<
    const RX: usize,
    const TX: usize,
    const HANDLES: usize,
    const EXECS: usize,
    const CAPTURE: usize,
    const KEYS: usize,
> Storage<RX, TX, HANDLES, EXECS, CAPTURE, KEYS>
{
    const CHECK: () = config::check_capacities(RX, TX, HANDLES, EXECS, CAPTURE, KEYS);

    /// Empty storage; `const`, so it can be placed in a `static`.
    #[allow(clippy::let_unit_value)]
    pub const fn new() -> Self {
        let () = Self::CHECK;
        Storage {
            rx: [0; RX],
            tx: [0; TX],
            handles: [HandleSlot::EMPTY; HANDLES],
            execs: [ExecSlot::EMPTY; EXECS],
            capture: [[[0; CAPTURE]; 2]; EXECS],
            keys: [KeySlot::EMPTY; KEYS],
        }
    }
}

impl<
    const RX: usize,
    const TX: usize,
    const HANDLES: usize,
    const EXECS: usize,
    const CAPTURE: usize,
    const KEYS: usize,
> Default for Storage<RX, TX, HANDLES, EXECS, CAPTURE, KEYS>
{
    fn default() -> Self {
        Self::new()
    }
}

/// Settings fixed when the agent starts, for a board whose platform is `P`.
pub struct AgentConfig<P: Platform> {
    /// The commands served ([`Commands::ALL`] by default, or a smaller
    /// table: only the commands of the table are linked).
    pub commands: Table<P>,
    /// Commands switched off (qemu-ga's `-b` and `-a`), as rows of
    /// `commands`; see [`AgentConfig::block`] and [`AgentConfig::allow`].
    pub policy: Policy,
    /// The `version` that `guest-info` reports.
    ///
    /// The default is "7.2.0": the wire behaviour (texts, orders, the
    /// validation order) is qemu-ga 7.2's, and the command set is 7.2's
    /// plus the two read-only commands later versions added.
    pub version: &'static str,
    /// Nesting limit for requests (`{` plus `[` open at once), at most
    /// [`crate::config::MAX_NESTING`].
    pub max_depth: usize,
}

impl<P: Platform> Clone for AgentConfig<P> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P: Platform> Copy for AgentConfig<P> {}

impl<P: Platform> fmt::Debug for AgentConfig<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentConfig")
            .field("commands", &self.commands.len())
            .field("policy", &self.policy)
            .field("version", &self.version)
            .field("max_depth", &self.max_depth)
            .finish()
    }
}

impl<P: Platform> AgentConfig<P> {
    /// Defaults around the table `commands`.
    pub const fn new(commands: Table<P>) -> Self {
        AgentConfig {
            commands,
            policy: Policy {
                blocked: CommandSet::EMPTY,
                allowed: None,
            },
            version: "7.2.0",
            max_depth: config::DEFAULT_MAX_DEPTH,
        }
    }

    /// Disables the commands named in a comma-separated list (qemu-ga's
    /// `--block-rpcs`); returns how many names the table does not have
    /// (they are ignored, as qemu-ga ignores them).
    pub fn block(&mut self, names: &str) -> usize {
        let (set, unknown) = CommandSet::from_names(self.commands, names);
        self.policy.blocked = self.policy.blocked.union(set);
        unknown
    }

    /// Enables only the commands named in a comma-separated list (qemu-ga
    /// 8.1's `--allow-rpcs`; repeated calls add to the list); `block` still
    /// applies on top. Returns how many names the table does not have.
    pub fn allow(&mut self, names: &str) -> usize {
        let (set, unknown) = CommandSet::from_names(self.commands, names);
        self.policy.allowed = Some(self.policy.allowed.unwrap_or_default().union(set));
        unknown
    }
}

impl<P: Platform> Default for AgentConfig<P> {
    fn default() -> Self {
        AgentConfig::new(Commands::ALL)
    }
}

/// What one [`Agent::poll`] call found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Poll {
    /// Progress was made; more may be possible right away. Call again.
    Busy,
    /// Nothing to do until the transport becomes readable or writable, or
    /// [`Agent::poll_delay`] passes.
    Idle,
    /// The transport reported end of input (`read` returned 0). A socket
    /// board treats this as the client leaving.
    Eof,
}

/// The agent's coarse state, for logs and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgentState {
    /// Framing input, no reply pending.
    Receiving,
    /// Dropping a request that broke a limit until its structure ends.
    Discarding,
    /// A reply is being written.
    Replying,
}

impl fmt::Display for AgentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AgentState::Receiving => "receiving",
            AgentState::Discarding => "discarding",
            AgentState::Replying => "replying",
        })
    }
}

/// Counters since start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Bytes read from the transport.
    pub bytes_in: u64,
    /// Bytes written to the transport.
    pub bytes_out: u64,
    /// Messages and errors answered.
    pub replies: u64,
    /// Successful commands.
    pub commands_ok: u64,
    /// Error replies.
    pub errors: u64,
    /// Events overwritten before the board took them.
    pub events_dropped: u64,
}

/// The agent. Borrows its [`Storage`] and owns the board's [`Platform`].
pub struct Agent<'s, P: Platform> {
    platform: P,
    rx: Receiver<'s>,
    tx: Tx<'s>,
    keys: &'s mut [KeySlot],
    reply: Option<Reply<P>>,
    /// The error being answered (built in place by whichever stage failed).
    err: QgaError,
    state: State<'s>,
    config: AgentConfig<P>,
    /// Rows enabled right now (kept for `guest-info`; changes with `frozen`).
    enabled: CommandSet,
    stats: Stats,
    events: Events,
}

impl<'s, P: Platform> Agent<'s, P> {
    /// A new agent over `storage`, serving `platform`.
    pub fn new<
        const RX: usize,
        const TX: usize,
        const HANDLES: usize,
        const EXECS: usize,
        const CAPTURE: usize,
        const KEYS: usize,
    >(
        storage: &'s mut Storage<RX, TX, HANDLES, EXECS, CAPTURE, KEYS>,
        platform: P,
        config: AgentConfig<P>,
    ) -> Self {
        let mut config = config;
        config.max_depth = config.max_depth.clamp(1, MAX_NESTING);
        let capture = storage.capture.as_flattened_mut().as_flattened_mut();
        Agent {
            platform,
            rx: Receiver::new(&mut storage.rx),
            tx: Tx::new(&mut storage.tx),
            keys: &mut storage.keys,
            reply: None,
            err: QgaError::empty(),
            state: State {
                handles: Handles::new(&mut storage.handles),
                execs: Execs::new(&mut storage.execs, capture),
                frozen: false,
            },
            enabled: dispatch::enabled(config.commands, &config.policy, false),
            config,
            stats: Stats::default(),
            events: Events::default(),
        }
    }

    /// The board.
    pub fn platform(&mut self) -> &mut P {
        &mut self.platform
    }

    /// The settings it was started with.
    pub fn config(&self) -> &AgentConfig<P> {
        &self.config
    }

    /// Counters since start.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The oldest diagnostic event not yet taken.
    pub fn take_event(&mut self) -> Option<Event> {
        self.events.pop()
    }

    /// The coarse state.
    pub fn state(&self) -> AgentState {
        if self.reply.is_some() {
            AgentState::Replying
        } else if self.rx.discarding() {
            AgentState::Discarding
        } else {
            AgentState::Receiving
        }
    }

    /// Whether a `guest-exec` program is running.
    pub fn programs_running(&self) -> bool {
        self.state.execs.any_running()
    }

    /// How long the board may sleep after [`Poll::Idle`] before polling
    /// again: `None` until the transport is readable (or writable, while
    /// [`Agent::has_output`]); otherwise at most this long, for a running
    /// program's next step (zero: poll again right away).
    pub fn poll_delay(&self) -> Option<Duration> {
        self.state.execs.next_wake()
    }

    /// Whether the file systems are frozen (`guest-fsfreeze-*`).
    pub fn frozen(&self) -> bool {
        self.state.frozen
    }

    /// The board thawed the file systems on its own (a freeze timeout):
    /// the commands the frozen state disabled are enabled again and
    /// `guest-fsfreeze-status` reports `"thawed"`.
    pub fn thawed_by_board(&mut self) {
        if self.state.frozen {
            self.state.frozen = false;
            let c = &self.config;
            self.enabled = dispatch::enabled(c.commands, &c.policy, false);
        }
    }

    /// Number of open file handles.
    pub fn open_files(&self) -> usize {
        self.state.handles.open_count()
    }

    /// Number of `guest-exec` programs not yet reported as exited.
    pub fn exec_slots_used(&self) -> usize {
        self.state.execs.used()
    }

    /// Whether output is waiting for the transport.
    pub fn has_output(&self) -> bool {
        !self.tx.is_empty()
    }

    /// Starts over for a new client: forgets partial input, buffered
    /// requests and any reply owed to the old client. Open files and
    /// programs stay (as in qemu-ga).
    pub fn reset_connection(&mut self) {
        self.rx.reset();
        self.tx.clear();
        self.reply = None;
        self.state.execs.reap_reported();
        self.event(Event::Reset);
    }

    /// Free space in the request buffer, for boards that read input
    /// themselves (e.g. a blocking read on a hosted build). Follow with
    /// [`Agent::input_received`]. Empty while the buffer is full.
    pub fn input_space(&mut self) -> &mut [u8] {
        self.rx.space()
    }

    /// Records that `n` bytes were written into [`Agent::input_space`].
    pub fn input_received(&mut self, n: usize) {
        self.rx.commit(n);
        self.stats.bytes_in = self.stats.bytes_in.wrapping_add(n as u64);
    }

    /// Runs the agent once; see the module documentation.
    ///
    /// # Errors
    /// A transport error, returned unchanged; nothing was lost.
    pub fn poll<T>(&mut self, io: &mut T) -> Result<Poll, T::Error>
    where
        T: Read + ReadReady + Write + WriteReady,
    {
        // Output waits while more buffered requests can add to it (one
        // write for a pipelined batch), see `should_flush`.
        let mut progress = if self.should_flush() {
            self.flush(io)?
        } else {
            false
        };
        progress |= self.work();
        if self.reply.is_none() && !self.rx.has_peeked() && !self.rx.unscanned() {
            if !self.tx.is_empty() {
                // Write before reading: the reply must not wait on input.
                progress |= self.flush(io)?;
            }
            if !self.rx.space().is_empty() && io.read_ready()? {
                let n = io.read(self.rx.space())?;
                if n == 0 {
                    return Ok(Poll::Eof);
                }
                self.input_received(n);
                progress = true;
                progress |= self.work();
            }
        }
        if self.should_flush() {
            progress |= self.flush(io)?;
        }
        self.step_programs();
        Ok(if progress { Poll::Busy } else { Poll::Idle })
    }

    fn event(&mut self, e: Event) {
        if !self.events.push(e) {
            self.stats.events_dropped = self.stats.events_dropped.wrapping_add(1);
        }
    }

    fn info(&self) -> AgentInfo<P> {
        AgentInfo {
            table: self.config.commands,
            enabled: self.enabled,
            version: self.config.version,
        }
    }

    /// Handles buffered input and continues the reply, without I/O. Returns
    /// whether anything happened. At most one request is dispatched.
    fn work(&mut self) -> bool {
        let mut progress = false;
        if self.reply.is_some() {
            progress |= self.continue_reply();
        }
        if self.reply.is_none()
            && let Some(frame) = self.rx.peek(self.config.max_depth)
            && self.tx.free() >= MIN_TX_BYTES.min(self.tx.capacity())
            && self.handle(frame)
        {
            progress = true;
            if self.reply.is_some() {
                self.continue_reply();
            }
        }
        progress
    }

    fn should_flush(&self) -> bool {
        if self.tx.is_empty() {
            return false;
        }
        // Hold replies back only while more buffered requests can follow
        // and nothing waits for the output to drain (a request held back
        // is either short of room or behind a barrier: flush for it).
        let batching = self.reply.is_none()
            && !self.rx.has_peeked()
            && self.rx.unscanned()
            && self.tx.free() >= MIN_TX_BYTES.min(self.tx.capacity());
        !batching
    }

    /// Writes pending output while the transport accepts it.
    fn flush<T: Write + WriteReady>(&mut self, io: &mut T) -> Result<bool, T::Error> {
        let mut progress = false;
        while !self.tx.is_empty() && io.write_ready()? {
            let n = io.write(self.tx.pending())?;
            if n == 0 {
                break;
            }
            self.tx.consume(n);
            self.stats.bytes_out = self.stats.bytes_out.wrapping_add(n as u64);
            progress = true;
        }
        Ok(progress)
    }

    fn step_programs(&mut self) {
        if self.state.execs.any_running()
            && let Some(p) = self.platform.programs()
        {
            let (events, dropped) = (&mut self.events, &mut self.stats.events_dropped);
            self.state.execs.step_all(p, &mut |pid| {
                if !events.push(Event::Exited { pid }) {
                    *dropped = dropped.wrapping_add(1);
                }
            });
        }
    }

    /// Starts the reply to one frame; false if it must wait (a silent
    /// command behind replies not yet written).
    fn handle(&mut self, frame: Frame) -> bool {
        match frame {
            Frame::Message { start, end } => return self.handle_message(start..end),
            Frame::Stray { start, end } => {
                self.event(Event::Stray);
                envelope::stray(self.rx.bytes(), start..end, &mut self.err);
            }
            Frame::Limit(limit) => {
                self.event(Event::Limit(limit));
                envelope::limit(limit, self.rx.capacity(), &mut self.err);
            }
        }
        self.rx.accept();
        self.start_error(None);
        true
    }

    /// Starts the reply to the error in `self.err`.
    fn start_error(&mut self, id: Option<core::ops::Range<usize>>) {
        self.stats.errors = self.stats.errors.wrapping_add(1);
        self.stats.replies = self.stats.replies.wrapping_add(1);
        self.reply = Some(Reply::error(id));
    }

    fn reject(&mut self, id: Option<core::ops::Range<usize>>) -> bool {
        self.event(Event::Rejected);
        self.rx.accept();
        self.start_error(id);
        true
    }

    fn handle_message(&mut self, msg: core::ops::Range<usize>) -> bool {
        let req = match envelope::parse(self.rx.bytes(), msg, self.keys, &mut self.err) {
            Ok(r) => r,
            Err(id) => return self.reject(id),
        };
        let c = &self.config;
        let Some(d) = dispatch::dispatch(
            self.rx.bytes(),
            &req,
            c.commands,
            &c.policy,
            self.state.frozen,
            &mut self.err,
        ) else {
            return self.reject(req.id);
        };
        if !d.command.success_response() && !self.tx.is_empty() {
            // Shutdown and suspend run once earlier replies are written.
            return false;
        }
        self.rx.accept();
        self.run(d, req.id);
        true
    }

    /// Runs a command, its value going right after the reply prefix.
    fn run(&mut self, d: Dispatched<P>, id: Option<core::ops::Range<usize>>) {
        let command = d.command;
        let alone = self.tx.is_empty();
        // The writer moves pending bytes to the front: the mark comes after.
        let mut prefix = self.tx.writer();
        if command.flags & DELIMITED != 0 {
            prefix.bytes(&[0xFF]);
        }
        prefix.str("{\"return\": ");
        let n = prefix.len();
        let mark = self.tx.end();
        self.tx.commit(n);
        let frozen = self.state.frozen;
        let agent = self.info();
        let mut call = Call {
            err: &mut self.err,
            more: None,
            rx: self.rx.bytes_mut(),
            platform: &mut self.platform,
            state: &mut self.state,
            out: crate::json::out::Out::new(self.tx.tail()),
            agent,
            alone,
        };
        let outcome = (command.run)(&mut call, &d.spans);
        let (written, fitted, more) = (call.out.len(), call.out.ok(), call.more.take());
        if self.state.frozen != frozen {
            let c = &self.config;
            self.enabled = dispatch::enabled(c.commands, &c.policy, self.state.frozen);
        }
        self.stats.replies = self.stats.replies.wrapping_add(1);
        let ok = outcome == Outcome::NoReply || (outcome != Outcome::Failed && fitted);
        self.event(Event::Command {
            name: command.name,
            ok,
        });
        match outcome {
            Outcome::NoReply => {
                self.tx.truncate(mark);
                self.rx.release();
                self.stats.commands_ok = self.stats.commands_ok.wrapping_add(1);
                self.stats.replies = self.stats.replies.wrapping_sub(1);
            }
            Outcome::Done | Outcome::More if fitted => {
                self.tx.commit(written);
                self.stats.commands_ok = self.stats.commands_ok.wrapping_add(1);
                self.reply = Some(Reply::success(more, id));
            }
            _ => {
                if outcome != Outcome::Failed {
                    // Only a handler with unbounded output can get here (its
                    // pieces are otherwise bounded by MIN_TX_BYTES).
                    self.err.generic("reply does not fit the agent's buffer");
                }
                self.tx.truncate(mark);
                self.stats.replies = self.stats.replies.wrapping_sub(1);
                self.start_error(id);
            }
        }
    }

    /// Writes as much of the reply as fits. Returns whether bytes were added.
    fn continue_reply(&mut self) -> bool {
        let Some(mut reply) = self.reply.take() else {
            return false;
        };
        let alone = self.tx.is_empty();
        let agent = self.info();
        let mut call = Call {
            err: &mut self.err,
            more: None,
            rx: self.rx.bytes_mut(),
            platform: &mut self.platform,
            state: &mut self.state,
            out: self.tx.writer(),
            agent,
            alone,
        };
        let done = reply.write(&mut call);
        let n = call.out.len();
        self.tx.commit(n);
        if done {
            self.rx.release();
        } else {
            self.reply = Some(reply);
        }
        n > 0 || done
    }
}

#[cfg(test)]
mod tests {
    //! The agent in the core's own feature set (the host tests in
    //! `tests-host` run with default features only).

    use super::*;

    struct NoHooks;
    impl Platform for NoHooks {}

    /// Input from a slice, output into a fixed buffer, 7 bytes per call.
    struct Wire<'a> {
        input: &'a [u8],
        out: [u8; 8192],
        len: usize,
    }

    impl embedded_io::ErrorType for Wire<'_> {
        type Error = core::convert::Infallible;
    }
    impl embedded_io::Read for Wire<'_> {
        fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
            let n = buf.len().min(self.input.len()).min(7);
            buf[..n].copy_from_slice(&self.input[..n]);
            self.input = &self.input[n..];
            Ok(n)
        }
    }
    impl embedded_io::ReadReady for Wire<'_> {
        fn read_ready(&mut self) -> Result<bool, Self::Error> {
            Ok(!self.input.is_empty())
        }
    }
    impl embedded_io::Write for Wire<'_> {
        fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
            let n = buf.len().min(7);
            self.out[self.len..self.len + n].copy_from_slice(&buf[..n]);
            self.len += n;
            Ok(n)
        }
        fn flush(&mut self) -> Result<(), Self::Error> {
            Ok(())
        }
    }
    impl embedded_io::WriteReady for Wire<'_> {
        fn write_ready(&mut self) -> Result<bool, Self::Error> {
            Ok(true)
        }
    }

    /// Runs `input` through an agent at the default capacities.
    fn converse_with(input: &[u8], out: &mut [u8], config: AgentConfig<NoHooks>) -> usize {
        let mut storage: Storage = Storage::new();
        let mut agent = Agent::new(&mut storage, NoHooks, config);
        let mut wire = Wire {
            input,
            out: [0; 8192],
            len: 0,
        };
        for _ in 0..100_000 {
            if agent.poll(&mut wire) == Ok(Poll::Idle) && wire.input.is_empty() {
                break;
            }
        }
        out[..wire.len].copy_from_slice(&wire.out[..wire.len]);
        wire.len
    }

    fn converse(input: &[u8], out: &mut [u8]) -> usize {
        converse_with(input, out, AgentConfig::default())
    }

    #[test]
    fn ping_with_a_number_id_longer_than_the_reply_buffer_is_answered() {
        // A 2,001-character double and a 60-digit integer as ids, at the
        // default 1 KiB reply buffer.
        let mut req = [0u8; 2100];
        let head = br#"{"execute":"guest-ping","id":7."#;
        req[..head.len()].copy_from_slice(head);
        let digits = 2000 - 1;
        req[head.len()..head.len() + digits].fill(b'7');
        req[head.len() + digits] = b'}';
        let req = &req[..head.len() + digits + 1];
        let mut out = [0u8; 8192];
        let n = converse(req, &mut out);
        let reply = &out[..n];
        assert!(
            reply.starts_with(br#"{"return": {}, "id": 7.7"#),
            "{reply:?}"
        );
        assert!(reply.ends_with(b"}\n"));
        #[cfg(not(feature = "float-ids"))]
        assert_eq!(n, br#"{"return": {}, "id": "#.len() + 2001 + 2);
        #[cfg(feature = "float-ids")]
        assert_eq!(reply, b"{\"return\": {}, \"id\": 7.7777777777777777}\n");

        let big = br#"{"execute":"guest-ping","id":123456789012345678901234567890123456789012345678901234567890}"#;
        let n = converse(big, &mut out);
        #[cfg(not(feature = "float-ids"))]
        assert_eq!(
            &out[..n],
            &b"{\"return\": {}, \"id\": 123456789012345678901234567890123456789012345678901234567890}\n"[..]
        );
        #[cfg(feature = "float-ids")]
        assert_eq!(
            &out[..n],
            &b"{\"return\": {}, \"id\": 1.2345678901234567e+59}\n"[..]
        );
    }

    #[test]
    fn health_table_answers_commands_it_lacks_as_not_found() {
        let mut out = [0u8; 8192];
        let n = converse_with(
            br#"{"execute":"guest-file-open","arguments":{"path":"x"}}"#,
            &mut out,
            AgentConfig::new(Commands::HEALTH),
        );
        assert_eq!(
            &out[..n],
            &b"{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command guest-file-open has not been found\"}}\n"[..]
        );
    }

    #[test]
    fn board_without_capabilities_answers_not_supported() {
        let mut out = [0u8; 8192];
        let n = converse(
            br#"{"execute":"guest-get-time"}{"execute":"guest-get-disks"}"#,
            &mut out,
        );
        let text = core::str::from_utf8(&out[..n]).unwrap();
        assert_eq!(
            text.matches("this feature or command is not currently supported")
                .count(),
            2,
            "{text}"
        );
    }
}
