//! The channel and the main loop every bare-metal board shares.
//!
//! Contract: [`Channel`] is what the agent talks over: the virtio console
//! port `org.qemu.guest_agent.0` when the machine has one, else the board's
//! UART, else nothing yet ([`Channel::Mute`], while a virtio console is still
//! discovering its ports). [`find_port`] starts virtio consoles and waits a
//! bounded time for the agent port; [`serve`] runs the agent for good:
//! hang-ups reset it, a late-found port takes over from the UART, shutdown
//! requests are carried out once the reply has left, and a board that hands
//! the machine to another program for a while ([`Served::hand_over`]) gets
//! it with the channel's device released and restarted after.
//!
//! [`serve`] works for any platform that implements [`Served`]: the shared
//! [`Board`] does, and so does a board's own platform that wraps one.

use embedded_io::{ErrorType, Read, ReadReady, Write, WriteReady};
use nanoqga::platform::{Platform, ShutdownMode};
use nanoqga::{Agent, Event, Poll};
use virtio_drivers::transport::Transport;

use crate::board::{Board, Machine, WallClock};
use crate::console::VirtioConsole;

/// Polls of a discovering console between two clock reads (clock reads are
/// I/O accesses, which take QEMU's big lock that its main loop needs to
/// answer the console).
const POLLS_PER_CLOCK_READ: u32 = 1024;

/// How long boot waits for a virtio console's agent port.
const PORT_WAIT_NS: u64 = 50_000_000;
/// A console that has stopped discovering is given this long before boot
/// moves on (its control replies may still be in flight).
const QUIET_WAIT_NS: u64 = 5_000_000;
/// While a virtio console is still discovering its ports (the agent serves
/// the UART meanwhile), it is looked at least this often even without an
/// interrupt.
const PENDING_POLL_NS: u64 = 10_000_000;

/// A board's serial port (or set of ports): embedded-io, plus what a main
/// loop that sleeps needs from it.
pub trait SerialPort:
    Read + ReadReady + Write + WriteReady + ErrorType<Error = core::convert::Infallible>
{
    /// Moves what the hardware has received into the driver's own buffer,
    /// so the device can take more (QEMU refills a UART's FIFO only once
    /// the guest has emptied it). Called on every main-loop round.
    fn service(&mut self) {}
    /// Arms the port's wake-ups before the board sleeps:
    /// `output_waiting` is whether the agent has output the port did not
    /// take (the port should interrupt once it has room). Returns how soon
    /// the driver wants the loop to run again without an interrupt (`None`:
    /// only on interrupts), for drivers that coalesce input.
    fn prepare_sleep(&mut self, _output_waiting: bool) -> Option<u64> {
        None
    }
    /// Whether the channel moved to another of the driver's ports since the
    /// last call (the agent then starts over, as for a new client).
    fn take_moved(&mut self) -> bool {
        false
    }
    /// The name of the port carrying the channel, for the trace.
    fn port_name(&self) -> &'static str {
        "serial port"
    }
}

/// What the main loop needs from the platform beyond the core's hooks.
pub trait Served: Platform {
    /// Writes a line to the trace.
    fn trace(&mut self, args: core::fmt::Arguments<'_>);
    /// Traces an agent event.
    fn trace_event(&mut self, event: Event) {
        self.trace(format_args!("{event:?}"));
    }
    /// Called on every round (the wall clock's [`WallClock::tick`]); how
    /// soon it wants to be called again.
    fn tick(&mut self) -> Option<u64>;
    /// A `guest-shutdown` waiting for the transport to drain.
    fn take_power(&mut self) -> Option<ShutdownMode>;
    /// Carries it out.
    fn shut_down(&mut self, mode: ShutdownMode) -> !;
    /// Sleeps until an interrupt or at most `max_ns` ([`Machine::sleep`]).
    fn sleep(&mut self, max_ns: Option<u64>);
    /// The agent did work this round (read a request, sent a reply, ran a
    /// program): a board whose devices cannot wake it (UEFI) looks for
    /// more a little while before it sleeps.
    fn busy(&mut self) {}
    /// Whether the board waits to hand the machine to another program
    /// ([`Self::hand_over`]).
    fn handover_pending(&self) -> bool {
        false
    }
    /// Runs that program. The loop calls it once the agent is idle and
    /// everything it sent has left, with the channel's device released (a
    /// virtio console reset: it no longer touches the board's memory, and
    /// the program finds it as after boot); it restarts the device when
    /// this returns. `channel` names what carries the channel (a UART
    /// port's name, `virtio-serial`, or `none`), which the board keeps.
    fn hand_over(&mut self, _channel: &str) {}
}

impl<M: Machine> Served for Board<M> {
    fn trace(&mut self, args: core::fmt::Arguments<'_>) {
        Board::trace(self, args);
    }
    fn tick(&mut self) -> Option<u64> {
        self.machine.clock().tick()
    }
    fn take_power(&mut self) -> Option<ShutdownMode> {
        self.power.take()
    }
    fn shut_down(&mut self, mode: ShutdownMode) -> ! {
        self.machine.power(mode)
    }
    fn sleep(&mut self, max_ns: Option<u64>) {
        self.machine.sleep(max_ns);
    }
}

/// The earlier of two optional deadlines.
fn earliest(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// The QGA channel.
pub enum Channel<U, T: Transport + 'static> {
    /// The board's UART.
    Uart(U),
    /// The virtio console's agent port.
    Virtio(&'static mut VirtioConsole<T>),
    /// Neither (yet): nothing to read, writes vanish. The agent waits for a
    /// virtio console still discovering its ports.
    Mute,
}

impl<U: ErrorType<Error = core::convert::Infallible>, T: Transport> ErrorType for Channel<U, T> {
    type Error = core::convert::Infallible;
}

impl<U, T> ReadReady for Channel<U, T>
where
    U: ReadReady + ErrorType<Error = core::convert::Infallible>,
    T: Transport,
{
    fn read_ready(&mut self) -> Result<bool, Self::Error> {
        Ok(match self {
            Channel::Uart(u) => u.read_ready()?,
            Channel::Virtio(v) => v.readable(),
            Channel::Mute => false,
        })
    }
}

impl<U, T> Read for Channel<U, T>
where
    U: Read + ErrorType<Error = core::convert::Infallible>,
    T: Transport,
{
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        Ok(match self {
            Channel::Uart(u) => u.read(buf)?,
            Channel::Virtio(v) => v.read(buf).unwrap_or(0),
            Channel::Mute => 0,
        })
    }
}

impl<U, T> WriteReady for Channel<U, T>
where
    U: WriteReady + ErrorType<Error = core::convert::Infallible>,
    T: Transport,
{
    fn write_ready(&mut self) -> Result<bool, Self::Error> {
        Ok(match self {
            Channel::Uart(u) => u.write_ready()?,
            Channel::Virtio(v) => v.writable(),
            Channel::Mute => true,
        })
    }
}

impl<U, T> Write for Channel<U, T>
where
    U: Write + ErrorType<Error = core::convert::Infallible>,
    T: Transport,
{
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        Ok(match self {
            Channel::Uart(u) => u.write(buf)?,
            Channel::Virtio(v) => v.write(buf).unwrap_or(0),
            Channel::Mute => buf.len(),
        })
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        match self {
            Channel::Uart(u) => u.flush()?,
            Channel::Virtio(v) => {
                // Bounded: a host that stopped reading must not hang shutdown.
                for _ in 0..1_000_000 {
                    if v.tx_idle() {
                        break;
                    }
                    v.poll();
                    core::hint::spin_loop();
                }
            }
            Channel::Mute => {}
        }
        Ok(())
    }
}

impl<U: SerialPort, T: Transport> Channel<U, T> {
    /// Lets the device drivers catch up with their hardware (and the
    /// virtio console acknowledge its interrupt).
    pub fn service(&mut self) {
        match self {
            Channel::Uart(u) => u.service(),
            Channel::Virtio(v) => v.poll(),
            Channel::Mute => {}
        }
    }

    /// Arms the wake-ups the channel needs before the board sleeps; the
    /// driver's own deadline, if any.
    fn prepare_sleep(&mut self, output_waiting: bool) -> Option<u64> {
        match self {
            Channel::Uart(u) => u.prepare_sleep(output_waiting),
            _ => None,
        }
    }
}

/// What [`find_port`] found.
pub enum Found<T: Transport + 'static> {
    /// A console whose agent port is known.
    Port(&'static mut VirtioConsole<T>),
    /// A console still discovering its ports (QEMU answers control messages
    /// from its main loop, which can lag on a busy host): the agent starts
    /// on the UART and [`serve`] switches when the port shows up.
    Pending(&'static mut VirtioConsole<T>),
    /// No console with the agent port.
    None,
}

/// Starts each virtio console in turn, in `slot`, and keeps the first that
/// has the agent's port, waiting at most 50 ms of `uptime_ns` per console;
/// one still discovering then is kept as pending. What happened is noted
/// in `notes` for the trace.
pub fn find_port<T: Transport>(
    transports: impl IntoIterator<Item = T>,
    uptime_ns: impl Fn() -> u64,
    notes: &mut impl core::fmt::Write,
    slot: &'static mut Option<VirtioConsole<T>>,
) -> Found<T> {
    for transport in transports {
        let con = match VirtioConsole::new_in(slot, transport) {
            Ok(c) => c,
            Err(e) => {
                let _ = write!(notes, "virtio console: {e:?}; ");
                continue;
            }
        };
        let start = uptime_ns();
        loop {
            for _ in 0..POLLS_PER_CLOCK_READ {
                con.poll();
                core::hint::spin_loop();
            }
            let waited = uptime_ns().saturating_sub(start);
            if con.port().is_some()
                || (!con.discovering() && waited > QUIET_WAIT_NS)
                || waited > PORT_WAIT_NS
            {
                break;
            }
        }
        let (found, discovering) = (con.port().is_some(), con.discovering());
        if found || discovering {
            if !found {
                let _ = write!(notes, "virtio console still discovering; ");
            }
            return match slot.as_mut() {
                Some(c) if found => Found::Port(c),
                Some(c) => Found::Pending(c),
                None => Found::None,
            };
        }
        let _ = write!(notes, "virtio console without agent port; ");
        if let Some(c) = slot.as_mut() {
            c.reset();
        }
        *slot = None;
    }
    Found::None
}

/// Traces which channel serves.
pub fn trace_channel<P: Served, U, T: Transport + 'static>(
    board: &mut P,
    channel: &Channel<U, T>,
    uart: &str,
) {
    match channel {
        Channel::Virtio(v) => {
            let (used, size) = crate::dma::stats();
            board.trace(format_args!(
                "channel: virtio-serial port {:?} (DMA {used} of {size} bytes)",
                v.port()
            ));
        }
        Channel::Uart(_) => board.trace(format_args!("channel: {uart}")),
        Channel::Mute => board.trace(format_args!("channel: none yet")),
    }
}

/// Runs the agent for good over `channel`, switching to `pending` once its
/// agent port shows up.
///
/// Each round lets the drivers catch up, polls the agent, and handles the
/// virtio port's connection events, the clock and power requests. When the
/// agent is idle the machine sleeps until an interrupt or the earliest
/// deadline: the agent's ([`Agent::poll_delay`], a running program), the
/// clock's, or the drivers'.
pub fn serve<P, U, T>(
    agent: &mut Agent<'_, P>,
    mut channel: Channel<U, T>,
    mut pending: Option<&'static mut VirtioConsole<T>>,
) -> !
where
    P: Served,
    U: SerialPort,
    T: Transport,
{
    loop {
        channel.service();
        if let Channel::Uart(u) = &mut channel
            && u.take_moved()
        {
            let name = u.port_name();
            agent
                .platform()
                .trace(format_args!("channel: moved to {name}"));
            agent.reset_connection();
        }
        if let Some(v) = pending.as_mut() {
            v.poll();
            if v.port().is_some() {
                agent.platform().trace(format_args!(
                    "channel: virtio-serial port {:?} (found late)",
                    v.port()
                ));
                if let Some(v) = pending.take() {
                    channel = Channel::Virtio(v);
                }
                agent.reset_connection();
            }
        }
        let idle = matches!(agent.poll(&mut channel), Ok(Poll::Idle));
        while let Some(e) = agent.take_event() {
            agent.platform().trace_event(e);
        }
        if let Channel::Virtio(v) = &mut channel {
            watch(agent, v);
        }
        let clock_wake = agent.platform().tick();
        if let Some(mode) = agent.platform().take_power() {
            agent
                .platform()
                .trace(format_args!("guest-shutdown {mode:?}"));
            // Let the transport send everything before the machine goes.
            let _ = channel.flush();
            agent.platform().shut_down(mode);
        }
        if idle && !agent.has_output() && agent.platform().handover_pending() {
            hand_over(agent, &mut channel, &mut pending);
            continue;
        }
        if !idle {
            agent.platform().busy();
        }
        if idle {
            let mut wake = agent
                .poll_delay()
                .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
            wake = earliest(wake, clock_wake);
            if pending.is_some() {
                wake = earliest(wake, Some(PENDING_POLL_NS));
            }
            wake = earliest(wake, channel.prepare_sleep(agent.has_output()));
            agent.platform().sleep(wake);
        }
    }
}

/// Hands the machine over with the channel's devices reset, and restarts
/// them after (a console that cannot restart is dropped, and the agent
/// goes on without a channel).
///
/// Nothing the host sent is lost to the reset: the guest's side of the
/// virtio port is closed first, so QEMU keeps what comes next in its
/// chardev (for the program's own agent, or for this one when the program
/// returns); input that arrived before the close is served first, and the
/// handover is tried again once the agent is idle.
fn hand_over<P: Served, U: SerialPort, T: Transport>(
    agent: &mut Agent<'_, P>,
    channel: &mut Channel<U, T>,
    pending: &mut Option<&'static mut VirtioConsole<T>>,
) {
    let _ = channel.flush();
    if let Channel::Virtio(v) = channel {
        v.set_guest_open(false);
    }
    channel.service();
    if channel.read_ready().unwrap_or(false) {
        if let Channel::Virtio(v) = channel {
            v.set_guest_open(true);
        }
        return;
    }
    if let Channel::Virtio(v) = channel {
        v.reset();
    }
    if let Some(v) = pending.as_mut() {
        v.reset();
    }
    let name = match channel {
        Channel::Uart(u) => u.port_name(),
        Channel::Virtio(_) => "virtio-serial",
        Channel::Mute => "none",
    };
    agent.platform().hand_over(name);
    if let Channel::Virtio(v) = channel
        && let Err(e) = v.restart()
    {
        agent
            .platform()
            .trace(format_args!("virtio: restart failed: {e:?}"));
        *channel = Channel::Mute;
    }
    if let Some(v) = pending.as_mut()
        && v.restart().is_err()
    {
        *pending = None;
    }
}

/// Connection events of the virtio port: traced; a hang-up resets the agent.
fn watch<P: Served, T: Transport>(agent: &mut Agent<'_, P>, v: &mut VirtioConsole<T>) {
    while let Some((port, event, value)) = v.take_log() {
        agent.platform().trace(format_args!(
            "virtio control: port {port} event {event} value {value}"
        ));
    }
    if v.take_new_client() {
        agent
            .platform()
            .trace(format_args!("virtio: host connected"));
    }
    let lost = v.lost_tx();
    match v.take_hangup() {
        Ok(false) => {}
        Ok(true) => {
            agent
                .platform()
                .trace(format_args!("virtio: host hung up ({lost} tx lost)"));
            agent.reset_connection();
        }
        Err(e) => {
            agent
                .platform()
                .trace(format_args!("virtio: restart failed: {e:?}"));
            agent.reset_connection();
        }
    }
}
