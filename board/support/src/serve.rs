//! The channel and the main loop every bare-metal board shares.
//!
//! Contract: [`Channel`] is what the agent talks over: the virtio console
//! port `org.qemu.guest_agent.0` when the machine has one, else the board's
//! UART, else nothing yet ([`Channel::Mute`], while a virtio console is still
//! discovering its ports). [`find_port`] starts virtio consoles and waits a
//! bounded time for the agent port; [`serve`] runs the agent for good:
//! hang-ups reset it, a late-found port takes over from the UART, shutdown
//! requests are carried out once the reply has left.

use embedded_io::{ErrorType, Read, ReadReady, Write, WriteReady};
use nanoqga::{Agent, Poll};
use virtio_drivers::transport::Transport;

use crate::board::{Board, Machine, WallClock};
use crate::console::VirtioConsole;

/// Spins between polls of an idle agent (a couple of microseconds). Every
/// UART or clock poll is an I/O access that takes QEMU's big lock, which
/// its main loop needs to move the host's bytes to us; memory-only
/// spinning leaves it room.
const IDLE_SPIN: u32 = 2000;

/// Polls of a discovering console between two clock reads (clock reads are
/// I/O accesses too, see [`IDLE_SPIN`]).
const POLLS_PER_CLOCK_READ: u32 = 1024;

/// How long boot waits for a virtio console's agent port.
const PORT_WAIT_NS: u64 = 50_000_000;
/// A console that has stopped discovering is given this long before boot
/// moves on (its control replies may still be in flight).
const QUIET_WAIT_NS: u64 = 5_000_000;

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
pub fn trace_channel<M: Machine, U, T: Transport + 'static>(
    board: &mut Board<M>,
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
pub fn serve<M, U, T>(
    agent: &mut Agent<'_, Board<M>>,
    mut channel: Channel<U, T>,
    mut pending: Option<&'static mut VirtioConsole<T>>,
) -> !
where
    M: Machine,
    U: Read + ReadReady + Write + WriteReady + ErrorType<Error = core::convert::Infallible>,
    T: Transport,
{
    loop {
        let idle = matches!(agent.poll(&mut channel), Ok(Poll::Idle));
        while let Some(e) = agent.take_event() {
            agent.platform().trace_event(e);
        }
        if let Channel::Virtio(v) = &mut channel {
            watch(agent, v);
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
        agent.platform().machine.clock().tick();
        if let Some(mode) = agent.platform().power.take() {
            agent
                .platform()
                .trace(format_args!("guest-shutdown {mode:?}"));
            // Let the transport send everything before the machine goes.
            let _ = channel.flush();
            agent.platform().machine.power(mode);
        }
        if idle {
            for _ in 0..IDLE_SPIN {
                core::hint::spin_loop();
            }
        }
    }
}

/// Connection events of the virtio port: traced; a hang-up resets the agent.
fn watch<M: Machine, T: Transport>(agent: &mut Agent<'_, Board<M>>, v: &mut VirtioConsole<T>) {
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
