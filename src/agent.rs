//! The agent: a polled state machine from transport bytes to replies.
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
//! * A transport error is returned as is and leaves the agent unchanged; the
//!   board decides (retry, or [`Agent::reset_connection`] for a new client).
//! * Memory is the [`Storage`] the board lends; nothing grows.
//!
//! States (see [`AgentState`]): *receiving* (framing input), *discarding*
//! (dropping a request that broke a limit), *replying* (writing a reply).

use core::fmt;
use core::ops::Range;

use embedded_io::{Read, ReadReady, Write, WriteReady};

use crate::commands::{
    Body, COMMANDS, CommandId, Ctx, ExecReport, ListKind, ObjectKind, render_exec_status,
    render_list, render_object,
};
use crate::config::{self, MAX_NESTING, MIN_TX_BYTES};
use crate::error::{ErrorClass, Piece, QgaError};
use crate::json::frame::{Frame, Framer, Limit};
use crate::json::lex::TokenKind;
use crate::json::out::{IdEcho, Out, escape_decoded, escape_str};
use crate::json::parse::{KeySlot, SyntaxError, validate};
use crate::json::walk::{Members, kind_at, qdict_bucket, str_eq, token_at};
use crate::platform::{ExecStatus, Platform};
use crate::schema;
use crate::state::{AgentConfig, ExecSlot, Execs, HandleSlot, Handles, SlotState, State};

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

/// What one [`Agent::poll`] call found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Poll {
    /// Progress was made; more may be possible right away. Call again.
    Busy,
    /// Nothing to do until the transport becomes readable or writable (or a
    /// running program needs its next step: see
    /// [`Agent::programs_running`]).
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

/// Something the agent did, reported to [`Platform::event`] (for a trace
/// ring, a counter, or nothing).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A command ran; `ok` says whether it succeeded.
    Command {
        /// Which command.
        id: CommandId,
        /// Success or error reply.
        ok: bool,
    },
    /// A request was rejected before a command ran (syntax, envelope, unknown
    /// or disabled command, bad arguments).
    Rejected,
    /// A lexical error (a stray byte such as 0xFF).
    Stray,
    /// A request broke the size or depth limit.
    Limit(Limit),
    /// The connection was reset.
    Reset,
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
}

/// The reply buffer: `head..len` is waiting for the transport.
struct Tx<'s> {
    buf: &'s mut [u8],
    head: usize,
    len: usize,
}

impl<'s> Tx<'s> {
    fn pending(&self) -> &[u8] {
        self.buf.get(self.head..self.len).unwrap_or(&[])
    }

    fn is_empty(&self) -> bool {
        self.head >= self.len
    }

    fn free(&self) -> usize {
        self.buf
            .len()
            .saturating_sub(self.len.saturating_sub(self.head))
    }

    fn consume(&mut self, n: usize) {
        self.head = self.head.saturating_add(n).min(self.len);
        if self.head == self.len {
            self.head = 0;
            self.len = 0;
        }
    }

    /// Moves pending bytes to the front so all free space is at the end.
    fn compact(&mut self) {
        if self.head > 0 {
            self.buf.copy_within(self.head..self.len, 0);
            self.len = self.len.saturating_sub(self.head);
            self.head = 0;
        }
    }

    /// A writer over all free space.
    fn writer(&mut self) -> Out<'_> {
        self.compact();
        Out::new(self.buf.get_mut(self.len..).unwrap_or(&mut []))
    }

    fn commit(&mut self, n: usize) {
        self.len = self.len.saturating_add(n).min(self.buf.len());
    }

    fn truncate(&mut self, len: usize) {
        self.len = len.max(self.head).min(self.len);
        if self.head == self.len {
            self.head = 0;
            self.len = 0;
        }
    }
}

/// Progress of a reply. One exists at a time, so the size of the error
/// variant (its description pieces are inline) costs nothing extra.
struct Reply {
    kind: ReplyKind,
    /// The request's `id` value in the request buffer.
    id: Option<Range<usize>>,
    echo: IdEcho,
    phase: u8,
}

#[allow(clippy::large_enum_variant)]
enum ReplyKind {
    Return {
        body: Body,
        progress: u32,
        report: ExecReport,
    },
    Error {
        err: QgaError,
        piece: u8,
        offset: u32,
    },
}

/// Why a request was not dispatched yet.
enum Dispatch {
    Done,
    /// Wait until earlier replies are written (shutdown/suspend).
    Wait,
}

/// The agent. Borrows its [`Storage`] and owns the board's [`Platform`].
pub struct Agent<'s, P: Platform> {
    platform: P,
    rx: &'s mut [u8],
    rx_len: usize,
    /// Request bytes the current reply still refers to.
    held: Option<Range<usize>>,
    tx: Tx<'s>,
    keys: &'s mut [KeySlot],
    framer: Framer,
    pending: Option<Frame>,
    reply: Option<Reply>,
    state: State<'s>,
    stats: Stats,
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
        config: AgentConfig,
    ) -> Self {
        let mut config = config;
        config.max_depth = config.max_depth.clamp(1, MAX_NESTING);
        let capture = storage.capture.as_flattened_mut().as_flattened_mut();
        Agent {
            platform,
            rx: &mut storage.rx,
            rx_len: 0,
            held: None,
            tx: Tx {
                buf: &mut storage.tx,
                head: 0,
                len: 0,
            },
            keys: &mut storage.keys,
            framer: Framer::new(),
            pending: None,
            reply: None,
            state: State {
                handles: Handles::new(&mut storage.handles),
                execs: Execs::new(&mut storage.execs, capture),
                frozen: false,
                config,
            },
            stats: Stats::default(),
        }
    }

    /// The board.
    pub fn platform(&mut self) -> &mut P {
        &mut self.platform
    }

    /// Counters since start.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The coarse state.
    pub fn state(&self) -> AgentState {
        if self.reply.is_some() {
            AgentState::Replying
        } else if self.framer.discarding().is_some() {
            AgentState::Discarding
        } else {
            AgentState::Receiving
        }
    }

    /// Whether a `guest-exec` program is running (a board that sleeps while
    /// idle should still poll now and then so it can make progress).
    pub fn programs_running(&self) -> bool {
        self.state.execs.any_running()
    }

    /// Number of open file handles.
    pub fn open_files(&self) -> usize {
        self.state.handles.open_count()
    }

    /// Number of `guest-exec` status slots in use.
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
        self.framer.reset();
        self.rx_len = 0;
        self.held = None;
        self.pending = None;
        self.tx.head = 0;
        self.tx.len = 0;
        if self.reply.take().is_some() {
            self.state.execs.reap_reported();
        }
        self.platform.event(Event::Reset);
    }

    /// Free space in the request buffer, for boards that read input
    /// themselves (e.g. a blocking read on a hosted build). Follow with
    /// [`Agent::input_received`]. Empty while the buffer is full.
    pub fn input_space(&mut self) -> &mut [u8] {
        self.make_rx_room();
        self.rx.get_mut(self.rx_len..).unwrap_or(&mut [])
    }

    /// Records that `n` bytes were written into [`Agent::input_space`].
    pub fn input_received(&mut self, n: usize) {
        self.rx_len = self.rx_len.saturating_add(n).min(self.rx.len());
        self.stats.bytes_in = self.stats.bytes_in.saturating_add(n as u64);
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
        if self.reply.is_none() && self.pending.is_none() && !self.input_buffered() {
            if !self.tx.is_empty() {
                // Write before reading: the reply must not wait on input.
                progress |= self.flush(io)?;
            }
            if self.make_rx_room() && io.read_ready()? {
                let space = self.rx.get_mut(self.rx_len..).unwrap_or(&mut []);
                let n = io.read(space)?;
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

    /// Handles buffered input and continues the reply, without I/O. Returns
    /// whether anything happened. At most one request is dispatched.
    fn work(&mut self) -> bool {
        let mut progress = false;
        if self.reply.is_some() {
            progress |= self.continue_reply();
        }
        if self.reply.is_none() {
            if self.pending.is_none() {
                self.pending = self.framer.advance(
                    self.rx.get(..self.rx_len).unwrap_or(&[]),
                    self.state.config.max_depth,
                );
                if self.pending.is_none() {
                    self.check_overflow();
                }
            }
            if let Some(frame) = self.pending
                && self.tx.free() >= MIN_TX_BYTES.min(self.tx.buf.len())
                && let Dispatch::Done = self.handle_frame(frame)
            {
                self.pending = None;
                progress = true;
                if self.reply.is_some() {
                    self.continue_reply();
                }
            }
        }
        progress
    }

    /// Unscanned input bytes are waiting in the buffer.
    fn input_buffered(&self) -> bool {
        self.framer.pos() < self.rx_len
    }

    fn should_flush(&self) -> bool {
        if self.tx.is_empty() {
            return false;
        }
        // Hold replies back only while more buffered requests can follow
        // and nothing waits for the output to drain (a request held back
        // is either short of room or behind a barrier: flush for it).
        let batching = self.reply.is_none()
            && self.pending.is_none()
            && self.input_buffered()
            && self.tx.free() >= MIN_TX_BYTES.min(self.tx.buf.len());
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
            self.stats.bytes_out = self.stats.bytes_out.saturating_add(n as u64);
            progress = true;
        }
        Ok(progress)
    }

    /// Makes room at the end of the request buffer if bytes before the
    /// framer's keep point can go. Returns whether there is room to read.
    fn make_rx_room(&mut self) -> bool {
        if self.held.is_some() || self.pending.is_some() {
            return self.rx_len < self.rx.len();
        }
        let keep = self.framer.keep_from().min(self.rx_len);
        if keep == self.rx_len {
            // Nothing live: start over at the front for free.
            self.framer.shift(keep);
            self.rx_len = 0;
        } else if keep > 0 && self.rx.len().saturating_sub(self.rx_len) < self.rx.len() / 2 {
            self.rx.copy_within(keep..self.rx_len, 0);
            self.framer.shift(keep);
            self.rx_len = self.rx_len.saturating_sub(keep);
        }
        self.check_overflow();
        self.rx_len < self.rx.len()
    }

    /// A message that fills the whole buffer can never fit: discard it.
    fn check_overflow(&mut self) {
        if self.held.is_some() || self.pending.is_some() {
            return;
        }
        if self.rx_len == self.rx.len() && self.framer.pos() == self.rx_len {
            let keep = self.framer.keep_from();
            if keep == 0 || self.framer.discarding().is_some() {
                self.framer.overflow();
                let keep = self.framer.keep_from().min(self.rx_len);
                self.rx.copy_within(keep..self.rx_len, 0);
                self.framer.shift(keep);
                self.rx_len = self.rx_len.saturating_sub(keep);
            } else {
                self.rx.copy_within(keep..self.rx_len, 0);
                self.framer.shift(keep);
                self.rx_len = self.rx_len.saturating_sub(keep);
            }
        }
    }

    fn step_programs(&mut self) {
        if self.state.execs.any_running()
            && let Some(p) = self.platform.programs()
        {
            self.state.execs.step_all(p);
        }
    }

    /// Starts the reply to one frame.
    fn handle_frame(&mut self, frame: Frame) -> Dispatch {
        match frame {
            Frame::Stray { start, end } => {
                self.platform.event(Event::Stray);
                // qemu-ga prints the token with %s: a NUL ends it.
                let text = self.rx.get(start..end).unwrap_or(&[]);
                let cut = text.iter().position(|&b| b == 0).unwrap_or(text.len());
                let err = QgaError::generic("JSON parse error, stray '")
                    .req(start..start.saturating_add(cut))
                    .lit("'");
                self.start_error(err, None, Some(start..end));
                Dispatch::Done
            }
            Frame::Limit(limit) => {
                self.platform.event(Event::Limit(limit));
                let err = match limit {
                    Limit::Depth => QgaError::generic("JSON nesting depth limit exceeded"),
                    Limit::Size => QgaError::generic(
                        "JSON token size limit exceeded: request larger than the agent's ",
                    )
                    .int(i64::try_from(self.rx.len()).unwrap_or(i64::MAX))
                    .lit("-byte buffer"),
                };
                self.start_error(err, None, None);
                Dispatch::Done
            }
            Frame::Message { start, end } => self.handle_message(start..end),
        }
    }

    fn start_error(&mut self, err: QgaError, id: Option<Range<usize>>, held: Option<Range<usize>>) {
        self.stats.errors = self.stats.errors.saturating_add(1);
        self.stats.replies = self.stats.replies.saturating_add(1);
        self.held = held;
        let echo = IdEcho::new(id.clone().unwrap_or(0..0));
        self.reply = Some(Reply {
            kind: ReplyKind::Error {
                err,
                piece: 0,
                offset: 0,
            },
            id,
            echo,
            phase: 0,
        });
    }

    fn handle_message(&mut self, msg: Range<usize>) -> Dispatch {
        let held = Some(msg.clone());
        let buf = self.rx.get(..msg.end).unwrap_or(&[]);
        // 1. Syntax.
        let top = match validate(buf, msg.start, self.keys) {
            Ok(top) => top,
            Err(e) => {
                self.platform.event(Event::Rejected);
                let err = QgaError::generic("JSON parse error, ");
                let err = match e {
                    SyntaxError::InvalidKeyword(r) => err.lit("invalid keyword '").req(r).lit("'"),
                    SyntaxError::InvalidUnicode(r) => {
                        err.req(r).lit(" is not a valid Unicode character")
                    }
                    other => err.lit(other.text()),
                };
                self.start_error(err, None, held);
                return Dispatch::Done;
            }
        };
        if top != TokenKind::LCurly {
            self.platform.event(Event::Rejected);
            self.start_error(
                QgaError::generic("QMP input must be a JSON object"),
                None,
                held,
            );
            return Dispatch::Done;
        }
        // 2. Envelope, members checked in qemu-ga's QDict order.
        let mut execute = None;
        let mut arguments = None;
        let mut id = None;
        let mut first_bad: Option<((u32, u32), QgaError)> = None;
        for (index, (key, value)) in Members::new(buf, msg.start).enumerate() {
            let bad = if str_eq(buf, key.clone(), b"execute") {
                if token_at(buf, value.start).map(|t| t.kind) == Some(TokenKind::String) {
                    execute = Some(value);
                    None
                } else {
                    Some(QgaError::generic(
                        "QMP input member 'execute' must be a string",
                    ))
                }
            } else if str_eq(buf, key.clone(), b"arguments") {
                if kind_at(buf, value.start) == crate::json::walk::Kind::Object {
                    arguments = Some(value);
                    None
                } else {
                    Some(QgaError::generic(
                        "QMP input member 'arguments' must be an object",
                    ))
                }
            } else if str_eq(buf, key.clone(), b"id") {
                id = Some(value);
                None
            } else {
                Some(
                    QgaError::generic("QMP input member '")
                        .req_str(key.clone())
                        .lit("' is unexpected"),
                )
            };
            if let Some(err) = bad {
                // Bucket ascending; within a bucket the later member first.
                let order = (
                    qdict_bucket(buf, key),
                    u32::MAX.saturating_sub(u32::try_from(index).unwrap_or(u32::MAX)),
                );
                if first_bad.as_ref().is_none_or(|(o, _)| order < *o) {
                    first_bad = Some((order, err));
                }
            }
        }
        if let Some((_, err)) = first_bad {
            self.platform.event(Event::Rejected);
            self.start_error(err, id, held);
            return Dispatch::Done;
        }
        let Some(execute) = execute else {
            self.platform.event(Event::Rejected);
            self.start_error(
                QgaError::generic("QMP input lacks member 'execute'"),
                id,
                held,
            );
            return Dispatch::Done;
        };
        // 3. Command lookup and enablement.
        let command = COMMANDS
            .iter()
            .find(|c| str_eq(buf, execute.clone(), c.name.as_bytes()));
        let Some(command) = command else {
            self.platform.event(Event::Rejected);
            let err = QgaError::new(ErrorClass::CommandNotFound)
                .lit("The command ")
                .req_str(execute)
                .lit(" has not been found");
            self.start_error(err, id, held);
            return Dispatch::Done;
        };
        if let Some(reason) = self.state.disabled_reason(command) {
            self.platform.event(Event::Rejected);
            let err = QgaError::new(ErrorClass::CommandNotFound)
                .lit("Command ")
                .lit(command.name)
                .lit(" has been disabled")
                .lit(reason);
            self.start_error(err, id, held);
            return Dispatch::Done;
        }
        // 4. Arguments.
        let args = match schema::check(buf, arguments, command.args) {
            Ok(a) => a,
            Err(err) => {
                self.platform.event(Event::Rejected);
                self.start_error(err, id, held);
                return Dispatch::Done;
            }
        };
        // 5. Shutdown and suspend run once earlier replies are written.
        if !command.success_response && !self.tx.is_empty() {
            return Dispatch::Wait;
        }
        // 6. Run it, the return value going right after the prefix.
        self.tx.compact();
        let mark = self.tx.len;
        let mut out = self.tx.writer();
        if command.id == CommandId::SyncDelimited {
            out.bytes(&[0xFF]);
        }
        out.str("{\"return\": ");
        let prefix = out.len();
        self.tx.commit(prefix);
        let tail = self.tx.buf.get_mut(self.tx.len..).unwrap_or(&mut []);
        let mut ctx = Ctx {
            rx: self.rx,
            args,
            platform: &mut self.platform,
            state: &mut self.state,
            out: Out::new(tail),
            id: command.id,
        };
        let result = (command.handler)(&mut ctx);
        let written = ctx.out.len();
        let fitted = ctx.out.ok();
        self.stats.replies = self.stats.replies.saturating_add(1);
        match result {
            Ok(Body::NoReply) => {
                self.tx.truncate(mark);
                self.platform.event(Event::Command {
                    id: command.id,
                    ok: true,
                });
                self.stats.commands_ok = self.stats.commands_ok.saturating_add(1);
                self.stats.replies = self.stats.replies.saturating_sub(1);
            }
            Ok(body) if fitted => {
                self.tx.commit(written);
                self.platform.event(Event::Command {
                    id: command.id,
                    ok: true,
                });
                self.stats.commands_ok = self.stats.commands_ok.saturating_add(1);
                self.held = held;
                let echo = IdEcho::new(id.clone().unwrap_or(0..0));
                self.reply = Some(Reply {
                    kind: ReplyKind::Return {
                        body,
                        progress: 0,
                        report: ExecReport::default(),
                    },
                    id,
                    echo,
                    phase: 0,
                });
            }
            Ok(_) => {
                // Only a handler with unbounded output can get here (its
                // pieces are otherwise bounded by MIN_TX_BYTES).
                self.tx.truncate(mark);
                self.platform.event(Event::Command {
                    id: command.id,
                    ok: false,
                });
                self.stats.replies = self.stats.replies.saturating_sub(1);
                self.start_error(
                    QgaError::generic("reply does not fit the agent's buffer"),
                    id,
                    held,
                );
            }
            Err(err) => {
                self.tx.truncate(mark);
                self.platform.event(Event::Command {
                    id: command.id,
                    ok: false,
                });
                self.stats.replies = self.stats.replies.saturating_sub(1);
                self.start_error(err, id, held);
            }
        }
        Dispatch::Done
    }

    /// Writes as much of the reply as fits. Returns whether bytes were added.
    fn continue_reply(&mut self) -> bool {
        let Some(mut reply) = self.reply.take() else {
            return false;
        };
        let buffer_empty = self.tx.is_empty();
        let mut out = self.tx.writer();
        let done = write_reply(
            &mut reply,
            self.rx,
            &mut self.platform,
            &mut self.state,
            &mut out,
            buffer_empty,
        );
        let n = out.len();
        self.tx.commit(n);
        if done {
            self.held = None;
            self.state.execs.reap_reported();
        } else {
            self.reply = Some(reply);
        }
        n > 0 || done
    }
}

/// Writes the reply while it fits; true when complete.
fn write_reply(
    reply: &mut Reply,
    rx: &[u8],
    platform: &mut dyn Platform,
    state: &mut State<'_>,
    out: &mut Out<'_>,
    buffer_empty: bool,
) -> bool {
    loop {
        let mark = out.len();
        match &mut reply.kind {
            ReplyKind::Return {
                body,
                progress,
                report,
            } => match reply.phase {
                0 => {
                    if !write_body(
                        body,
                        progress,
                        report,
                        rx,
                        platform,
                        state,
                        out,
                        buffer_empty && mark == 0,
                    ) {
                        return false;
                    }
                }
                1 => {
                    if reply.id.is_some() {
                        out.str(", \"id\": ");
                    }
                }
                2 => {
                    if reply.id.is_some() && !reply.echo.step(rx, out) {
                        return false;
                    }
                }
                3 => out.str("}\n"),
                _ => return true,
            },
            ReplyKind::Error { err, piece, offset } => match reply.phase {
                0 => out.str(if reply.id.is_some() { "{\"id\": " } else { "{" }),
                1 => {
                    if reply.id.is_some() && !reply.echo.step(rx, out) {
                        return false;
                    }
                }
                2 => {
                    if reply.id.is_some() {
                        out.str(", ");
                    }
                    out.str("\"error\": {\"class\": \"");
                    out.str(err.class().as_str());
                    out.str("\", \"desc\": \"");
                }
                3 => {
                    if !write_desc(err, piece, offset, rx, out) {
                        return false;
                    }
                }
                4 => out.str("\"}}\n"),
                _ => return true,
            },
        }
        if !out.ok() {
            out.truncate(mark);
            return false;
        }
        reply.phase = reply.phase.saturating_add(1);
    }
}

/// Streams the error description's pieces, escaped.
fn write_desc(
    err: &QgaError,
    piece: &mut u8,
    offset: &mut u32,
    rx: &[u8],
    out: &mut Out<'_>,
) -> bool {
    while let Some(p) = err.pieces().get(usize::from(*piece)).copied() {
        let at = *offset as usize;
        let finished = match p {
            Piece::Lit(s) => stream_escaped(s.as_bytes(), at, offset, out),
            Piece::Text => stream_escaped(err.inline_text().as_bytes(), at, offset, out),
            Piece::Req { start, end } => {
                let bytes = rx.get(start as usize..end as usize).unwrap_or(&[]);
                stream_escaped(bytes, at, offset, out)
            }
            Piece::ReqStr { start, end } => {
                // The token body, decoded then escaped.
                let body_start = (start as usize).saturating_add(1);
                let body_end = (end as usize).saturating_sub(1).max(body_start);
                let body = rx.get(..body_end).unwrap_or(&[]);
                let from = body_start.saturating_add(at);
                let next = escape_decoded(body, from, out);
                *offset = u32::try_from(next.saturating_sub(body_start)).unwrap_or(u32::MAX);
                next >= body_end
            }
            Piece::Int(v) => {
                let mark = out.len();
                out.i64(v);
                if !out.ok() {
                    out.truncate(mark);
                    false
                } else {
                    true
                }
            }
        };
        if !finished {
            return false;
        }
        *piece = piece.saturating_add(1);
        *offset = 0;
    }
    true
}

fn stream_escaped(bytes: &[u8], at: usize, offset: &mut u32, out: &mut Out<'_>) -> bool {
    let next = escape_str(bytes, at, out);
    *offset = u32::try_from(next).unwrap_or(u32::MAX);
    next >= bytes.len()
}

/// Streams a return value that was not rendered at dispatch.
#[allow(clippy::too_many_arguments)]
fn write_body(
    body: &mut Body,
    progress: &mut u32,
    report: &mut ExecReport,
    rx: &[u8],
    platform: &mut dyn Platform,
    state: &mut State<'_>,
    out: &mut Out<'_>,
    buffer_empty: bool,
) -> bool {
    let _ = rx;
    match body {
        Body::Rendered | Body::NoReply => true,
        Body::Info => write_info(progress, state, out),
        Body::Object(kind) => write_object(*kind, platform, out, buffer_empty),
        Body::List { kind, done } => write_list(*kind, done, platform, out, buffer_empty),
        Body::FileRead(fr) => fr.step(platform.files(), out),
        Body::ExecStatus { slot } => {
            let slot = usize::from(*slot);
            let Some(s) = state.execs.slot(slot) else {
                return true;
            };
            let status = match s.state {
                SlotState::Reaping(st) | SlotState::Done(st) => st,
                _ => ExecStatus::Exited(0),
            };
            let (ot, et) = (s.out_truncated, s.err_truncated);
            let (o, e) = state.execs.captured(slot);
            render_exec_status(report, status, o, e, ot, et, out)
        }
    }
}

fn write_object(
    kind: ObjectKind,
    platform: &mut dyn Platform,
    out: &mut Out<'_>,
    buffer_empty: bool,
) -> bool {
    match render_object(kind, platform, out, false) {
        Ok(true) => true,
        Ok(false) if buffer_empty => {
            // Too large for the whole buffer: send it without optional strings.
            matches!(render_object(kind, platform, out, true), Ok(true)) || {
                out.str("{}");
                true
            }
        }
        Ok(false) => false,
        Err(_) => {
            // The board failed after the reply started: an empty object keeps
            // the reply valid.
            out.str("{}");
            out.ok()
        }
    }
}

fn write_list(
    kind: ListKind,
    done: &mut u32,
    platform: &mut dyn Platform,
    out: &mut Out<'_>,
    buffer_empty: bool,
) -> bool {
    let (n, complete) =
        render_list(kind, platform, out, *done, buffer_empty).unwrap_or((*done, true));
    *done = n;
    if !complete {
        return false;
    }
    out.str("]");
    out.ok()
}

/// `guest-info`: `{"version": …, "supported_commands": [...]}`, commands in
/// reverse registration order, as qemu-ga lists them.
fn write_info(progress: &mut u32, state: &State<'_>, out: &mut Out<'_>) -> bool {
    let total = u32::try_from(COMMANDS.len()).unwrap_or(0);
    loop {
        let mark = out.len();
        match *progress {
            0 => {
                out.str("{\"version\": ");
                out.quoted(state.config.version.as_bytes());
                out.str(", \"supported_commands\": [");
            }
            p if p <= total => {
                let index = total.saturating_sub(p) as usize;
                let Some(c) = COMMANDS.get(index) else {
                    return true;
                };
                if p > 1 {
                    out.str(", ");
                }
                out.str("{\"enabled\": ");
                out.bool(state.enabled(c));
                out.str(", \"name\": \"");
                out.str(c.name);
                out.str("\", \"success-response\": ");
                out.bool(c.success_response);
                out.str("}");
            }
            _ => {
                out.str("]}");
                if out.ok() {
                    return true;
                }
            }
        }
        if !out.ok() {
            out.truncate(mark);
            return false;
        }
        *progress = progress.saturating_add(1);
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
    fn converse(input: &[u8], out: &mut [u8]) -> usize {
        let mut storage: Storage = Storage::new();
        let mut agent = Agent::new(&mut storage, NoHooks, AgentConfig::default());
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
}
