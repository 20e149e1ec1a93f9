//! nanoqga on QEMU x86_64: a bare-metal image booted with `-kernel` (PVH) on
//! `-machine q35` or `-machine pc`, serving QGA on COM1 (the 16550 at 0x3F8,
//! as `-device isa-serial,chardev=…` or Proxmox's `agent: type=isa` wire it).
//!
//! The UART carries nothing but QGA replies: no banner, no logs. What the
//! agent sees is kept in a trace ring readable as `/var/log/nanoqga.log`.
#![no_std]
#![no_main]

mod acpi;
mod boot;
mod clock;
mod io;
mod pci;
mod platform;
mod power;
mod uart;

use embedded_io::{Read, ReadReady, Write, WriteReady};
use nanoqga::platform::ShutdownMode;
use nanoqga::{Agent, AgentConfig, Poll, Storage};
use nanoqga_board::BoardPrograms;
use nanoqga_board::console::VirtioConsole;
use pvh::start_info::reader::StartInfoReader;
use static_cell::ConstStaticCell;
use virtio_drivers::transport::pci::PciTransport;

use nanoqga_board::board::{Files, RamMap};

use crate::platform::{Board, X86};

static STORAGE: ConstStaticCell<Storage> = ConstStaticCell::new(Storage::new());
static FILES: ConstStaticCell<Files> = ConstStaticCell::new(Files::new());
/// Memory the health check tests.
static HEALTH_REGION: ConstStaticCell<[u8; 64 * 1024]> = ConstStaticCell::new([0; 64 * 1024]);

/// DMA arena for virtio: rings (two pages per queue, 18 queues for 8 ports)
/// and the console's buffers.
#[repr(C, align(4096))]
struct Arena([u8; 192 * 1024]);
static DMA_ARENA: ConstStaticCell<Arena> = ConstStaticCell::new(Arena([0; 192 * 1024]));

/// The QGA channel: the virtio port if one is named
/// `org.qemu.guest_agent.0`, else COM1.
#[allow(
    clippy::large_enum_variant,
    reason = "a single instance for the program's life; no heap to box into"
)]
enum Channel {
    Uart(uart::Com1),
    Virtio(VirtioConsole<PciTransport>),
    /// Neither (yet): nothing to read, nothing written. The agent waits for
    /// a virtio console still discovering its ports.
    Mute,
}

impl embedded_io::ErrorType for Channel {
    type Error = core::convert::Infallible;
}

impl ReadReady for Channel {
    fn read_ready(&mut self) -> Result<bool, Self::Error> {
        Ok(match self {
            Channel::Uart(u) => u.read_ready()?,
            Channel::Virtio(v) => v.readable(),
            Channel::Mute => false,
        })
    }
}

impl Read for Channel {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        Ok(match self {
            Channel::Uart(u) => u.read(buf)?,
            Channel::Virtio(v) => v.read(buf).unwrap_or(0),
            Channel::Mute => 0,
        })
    }
}

impl WriteReady for Channel {
    fn write_ready(&mut self) -> Result<bool, Self::Error> {
        Ok(match self {
            Channel::Uart(u) => u.write_ready()?,
            Channel::Virtio(v) => v.writable(),
            Channel::Mute => true,
        })
    }
}

impl Write for Channel {
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
                    core::hint::spin_loop();
                }
            }
            Channel::Mute => {}
        }
        Ok(())
    }
}

/// What the virtio scan found.
enum Virtio {
    /// A console whose agent port is known.
    Found(VirtioConsole<PciTransport>),
    /// A console still discovering its ports (QEMU answers control messages
    /// from its main loop, which can lag when the host is busy): the agent
    /// starts on COM1 and switches when the port shows up.
    Pending(VirtioConsole<PciTransport>),
    None,
}

/// Starts each virtio console in turn and keeps the first that has the
/// agent's port. Discovery normally takes well under a millisecond; boot
/// waits at most 50 ms of the boot clock for it.
fn find_virtio_port(notes: &mut heapless::String<256>) -> Virtio {
    use core::fmt::Write as _;
    let transports = pci::console_transports();
    mark("boot: pci scan\n");
    let mut pending = None;
    for transport in transports {
        let mut con = match VirtioConsole::new(transport) {
            Ok(c) => c,
            Err(e) => {
                let _ = write!(notes, "virtio console: {e:?}; ");
                continue;
            }
        };
        mark("boot: virtio started\n");
        let start = clock::uptime_ns();
        loop {
            // Mostly memory reads; the clock (an MMIO read, which takes
            // QEMU's big lock that its main loop needs to answer us) only
            // every 1024 polls.
            for _ in 0..1024 {
                con.poll();
                core::hint::spin_loop();
            }
            let waited = clock::uptime_ns().saturating_sub(start);
            if con.port().is_some()
                || (!con.discovering() && waited > 5_000_000)
                || waited > 50_000_000
            {
                break;
            }
        }
        if con.port().is_some() {
            return Virtio::Found(con);
        }
        if con.discovering() && pending.is_none() {
            let _ = write!(notes, "virtio console still discovering; ");
            pending = Some(con);
        } else {
            let _ = write!(notes, "virtio console without agent port; ");
        }
    }
    pending.map_or(Virtio::None, Virtio::Pending)
}

/// Spins between polls of an idle agent (about 2 µs under TCG).
const IDLE_SPIN: u32 = 2000;

/// Boot progress marks on QEMU's debug console (port 0xE9).
fn mark(s: &str) {
    for b in s.bytes() {
        // SAFETY: 0xE9 is QEMU's debug console; elsewhere an unused port.
        unsafe { io::outb(0xE9, b) };
    }
}

/// The Rust entry, called by the boot code in long mode.
///
/// # Safety
/// Called once, by `boot::pvh_start32`, with the PVH start_info address.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rust_main(start_info: u32) -> ! {
    // SAFETY: QEMU passes a valid start_info block; memory is identity-mapped.
    let si = unsafe { StartInfoReader::from_paddr_identity(start_info) };
    let mut ram: RamMap = [(0, 0); 16];
    let mut rsdp = 0;
    if let Some(si) = &si {
        rsdp = si.raw().rsdp_paddr;
        // RAM entries (type 1); microvm's qboot adds an all-zero entry.
        let entries = si.memmap().iter().filter(|e| e.ty == 1 && e.size != 0);
        for (slot, e) in ram.iter_mut().zip(entries) {
            *slot = (e.addr, e.size);
        }
    }
    mark("boot: start_info\n");
    // SAFETY: the RSDP address comes from QEMU's start_info.
    let acpi = unsafe { acpi::parse(rsdp) };
    mark("boot: acpi\n");
    let clock = clock::Clock::init(acpi.hpet.or(Some(0xFED0_0000)));
    mark("boot: clock\n");
    // SAFETY: the arena is static memory in the identity-mapped first 4 GiB,
    // used by nothing else.
    unsafe { nanoqga_board::dma::init(&mut DMA_ARENA.take().0) };
    mark("boot: dma\n");
    let mut notes = heapless::String::<256>::new();
    let virtio = find_virtio_port(&mut notes);
    let board = Board {
        machine: X86 { clock },
        files: FILES.take(),
        programs: BoardPrograms {
            region: HEALTH_REGION.take(),
            uptime_ns: clock::uptime_ns,
        },
        power: None,
        cpus: acpi.cpus,
        ram,
    };
    let mut agent = Agent::new(STORAGE.take(), board, AgentConfig::default());
    let (mut channel, mut pending) = match virtio {
        Virtio::Found(v) => (Channel::Virtio(v), None),
        found => {
            let pending = match found {
                Virtio::Pending(v) => Some(v),
                _ => None,
            };
            let mut early = [0u8; 16];
            match uart::Com1::probe(&mut early) {
                Some((u, n)) => {
                    // Bytes a client wrote while we booted.
                    let room = agent.input_space();
                    let n = n.min(room.len());
                    room[..n].copy_from_slice(&early[..n]);
                    agent.input_received(n);
                    (Channel::Uart(u), pending)
                }
                None => {
                    let _ = core::fmt::Write::write_str(&mut notes, "no COM1; ");
                    (Channel::Mute, pending)
                }
            }
        }
    };
    agent.platform().trace(format_args!(
        "nanoqga {} on x86_64: {} cpu(s), pm1a {:?}, s5 {}, reset {:?}, hpet {:?}",
        env!("CARGO_PKG_VERSION"),
        acpi.cpus,
        acpi.pm1a_cnt,
        acpi.s5_slp_typ,
        acpi.reset,
        acpi.hpet
    ));
    if !notes.is_empty() {
        agent.platform().trace(format_args!("{notes}"));
    }
    match &channel {
        Channel::Virtio(v) => {
            let (used, size) = nanoqga_board::dma::stats();
            agent.platform().trace(format_args!(
                "channel: virtio-serial port {:?} (DMA {used} of {size} bytes)",
                v.port()
            ));
        }
        Channel::Uart(_) => agent
            .platform()
            .trace(format_args!("channel: COM1 (16550)")),
        Channel::Mute => agent.platform().trace(format_args!("channel: none yet")),
    }
    loop {
        let idle = matches!(agent.poll(&mut channel), Ok(Poll::Idle));
        if let Channel::Virtio(v) = &mut channel {
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
        agent.platform().machine.clock.tick();
        if let Some(mode) = agent.platform().power.take() {
            agent
                .platform()
                .trace(format_args!("guest-shutdown {mode:?}"));
            // Let the UART send everything before the machine goes.
            let _ = channel.flush();
            match mode {
                ShutdownMode::Powerdown => power::power_off(&acpi),
                ShutdownMode::Reboot => power::reboot(&acpi),
                ShutdownMode::Halt => power::halt(),
            }
        }
        if idle {
            // Back off between polls: every UART or clock poll is a port or
            // MMIO access that takes QEMU's big lock, which its main loop
            // needs to move the host's bytes to us. A few microseconds of
            // memory-only spinning leaves it room.
            for _ in 0..IDLE_SPIN {
                core::hint::spin_loop();
            }
        }
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    // The core has no panics on input; should board code ever panic, a
    // reset brings the agent back rather than leaving the guest mute.
    power::reboot(&acpi::Acpi::default())
}
