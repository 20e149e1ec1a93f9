//! What every bare-metal board's `main` does the same way: the statics it
//! takes once, the board and agent built from its machine, the channel
//! chosen from what it found, and the first trace lines.
//!
//! Contract: each `take_*` hands out its static once per program (a
//! second call panics, as `ConstStaticCell::take` does; boards call them
//! from their one entry). Only what a board takes is linked into it (the
//! UEFI application, whose DMA pages come from the firmware, never takes
//! [`take_dma_arena`]).

use core::fmt::Write as _;

use heapless::Vec;
use nanoqga::platform::Platform;
use nanoqga::{Agent, AgentConfig, Storage};
use static_cell::ConstStaticCell;
use virtio_drivers::transport::Transport;

use crate::BoardPrograms;
use crate::board::{Board, Files, Machine, RamMap};
use crate::console::VirtioConsole;
use crate::serial::{self, Ports, Uart};
use crate::serve::{Channel, Found, Served, trace_channel};

/// Bytes of RAM the health check tests (it is overwritten).
pub const HEALTH_REGION: usize = 64 * 1024;
/// The DMA arena for virtio: rings (two pages per queue, 18 queues for 8
/// ports) and the console's buffers.
pub const DMA_ARENA: usize = 192 * 1024;

static STORAGE: ConstStaticCell<Storage> = ConstStaticCell::new(Storage::new());
static FILES: ConstStaticCell<Files> = ConstStaticCell::new(Files::new());
static HEALTH: ConstStaticCell<[u8; HEALTH_REGION]> = ConstStaticCell::new([0; HEALTH_REGION]);
/// The serial ports' receive rings and candidate framers.
static SERIAL: ConstStaticCell<serial::Buffers> = ConstStaticCell::new(serial::Buffers::new());

/// Page-aligned DMA memory.
#[repr(C, align(4096))]
struct Arena([u8; DMA_ARENA]);
static ARENA: ConstStaticCell<Arena> = ConstStaticCell::new(Arena([0; DMA_ARENA]));

/// The static DMA arena (in `.bss`), for [`crate::dma::init`].
pub fn take_dma_arena() -> &'static mut [u8] {
    &mut ARENA.take().0
}

/// The board of `machine` with the shared RAM files and programs (the
/// health check's region, uptime and stack figures from the machine).
pub fn board<M: Machine>(
    machine: M,
    cpus: u32,
    ram: RamMap,
    uptime_ns: fn() -> u64,
    stack: fn() -> (usize, usize),
) -> Board<M> {
    Board {
        machine,
        files: FILES.take(),
        programs: BoardPrograms {
            region: HEALTH.take(),
            uptime_ns,
            stack,
        },
        power: None,
        cpus,
        ram,
    }
}

/// The agent over `platform`, in the shared storage, with every command.
pub fn agent<P: Platform>(platform: P) -> Agent<'static, P> {
    Agent::new(STORAGE.take(), platform, AgentConfig::default())
}

/// The channel a board serves: the virtio port if `virtio` found it, else
/// the UART `uart` gives (called only then), else none yet; and the
/// console still discovering its ports, if any.
#[allow(
    clippy::type_complexity,
    reason = "the pair `serve` takes: the channel and the pending console"
)]
pub fn choose<U, T: Transport>(
    virtio: Found<T>,
    uart: impl FnOnce() -> Option<U>,
) -> (Channel<U, T>, Option<&'static mut VirtioConsole<T>>) {
    let pending = match virtio {
        Found::Port(v) => return (Channel::Virtio(v), None),
        Found::Pending(v) => Some(v),
        Found::None => None,
    };
    (uart().map_or(Channel::Mute, Channel::Uart), pending)
}

/// [`choose`] with the serial ports `uarts` finds, in the shared framer
/// storage; "no serial port" in `notes` if there is none.
#[allow(
    clippy::type_complexity,
    reason = "the pair `serve` takes: the channel and the pending console"
)]
pub fn channel<U: Uart, T: Transport>(
    virtio: Found<T>,
    uarts: impl FnOnce() -> Vec<U, { serial::MAX_PORTS }>,
    notes: &mut impl core::fmt::Write,
) -> (Channel<Ports<U>, T>, Option<&'static mut VirtioConsole<T>>) {
    choose(virtio, || {
        let ports = Ports::new(uarts(), SERIAL.take());
        if ports.is_none() {
            let _ = notes.write_str("no serial port; ");
        }
        ports
    })
}

/// The trace lines after the board's own first one: what boot noted, the
/// serial ports and which carries the channel, and the channel.
pub fn trace_start<P: Served, U: Uart, T: Transport + 'static>(
    platform: &mut P,
    notes: &str,
    channel: &Channel<Ports<U>, T>,
    uart: &str,
) {
    if !notes.is_empty() {
        platform.trace(format_args!("{notes}"));
    }
    if let Channel::Uart(ports) = channel {
        let mut names = heapless::String::<64>::new();
        for name in ports.names() {
            let _ = write!(names, "{name} ");
        }
        let owner = ports
            .owner()
            .map_or("the first to receive a request", Uart::name);
        platform.trace(format_args!("serial ports: {names}(channel: {owner})"));
    }
    trace_channel(platform, channel, uart);
}
