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

use embedded_io::{Read, ReadReady, Write, WriteReady};
use nanoqga::platform::ShutdownMode;
use nanoqga::{Agent, AgentConfig, Poll, Storage};
use nanoqga_board::BoardPrograms;
use nanoqga_board::console::VirtioConsole;
use pvh::start_info::reader::StartInfoReader;
use static_cell::ConstStaticCell;
use uart_16550::Uart16550;
use virtio_drivers::transport::pci::PciTransport;

use crate::platform::{Board, Files, RamMap};

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
enum Channel {
    Uart(Uart16550<uart_16550::backend::PioBackend>),
    Virtio(VirtioConsole<PciTransport>),
}

impl embedded_io::ErrorType for Channel {
    type Error = core::convert::Infallible;
}

impl ReadReady for Channel {
    fn read_ready(&mut self) -> Result<bool, Self::Error> {
        Ok(match self {
            Channel::Uart(u) => u.read_ready()?,
            Channel::Virtio(v) => v.readable(),
        })
    }
}

impl Read for Channel {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        Ok(match self {
            Channel::Uart(u) => u.read(buf)?,
            Channel::Virtio(v) => v.read(buf).unwrap_or(0),
        })
    }
}

impl WriteReady for Channel {
    fn write_ready(&mut self) -> Result<bool, Self::Error> {
        Ok(match self {
            Channel::Uart(u) => u.write_ready()?,
            Channel::Virtio(v) => v.writable(),
        })
    }
}

impl Write for Channel {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        Ok(match self {
            Channel::Uart(u) => u.write(buf)?,
            Channel::Virtio(v) => v.write(buf).unwrap_or(0),
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
        }
        Ok(())
    }
}

/// Starts each virtio console in turn and keeps the first that has the
/// agent's port.
fn find_virtio_port() -> Option<VirtioConsole<PciTransport>> {
    for transport in pci::console_transports() {
        let Ok(mut con) = VirtioConsole::new(transport) else {
            continue;
        };
        // QEMU answers the control messages synchronously; a few polls
        // finish the port discovery.
        for _ in 0..100_000 {
            if !con.discovering() {
                break;
            }
            con.poll();
        }
        if con.port().is_some() {
            return Some(con);
        }
    }
    None
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
    // SAFETY: the RSDP address comes from QEMU's start_info.
    let acpi = unsafe { acpi::parse(rsdp) };
    // SAFETY: the arena is static memory in the identity-mapped first 4 GiB,
    // used by nothing else.
    unsafe { nanoqga_board::dma::init(&mut DMA_ARENA.take().0) };
    let mut channel = match find_virtio_port() {
        Some(v) => Channel::Virtio(v),
        None => {
            // SAFETY: 0x3F8 is COM1; this image is its only user.
            let mut uart = match unsafe { Uart16550::new_port(0x3F8) } {
                Ok(u) => u,
                Err(_) => power::halt(),
            };
            // 8N1 with the FIFO on. No loopback test: nothing but replies
            // goes out.
            let _ = uart.init(uart_16550::Config::default());
            Channel::Uart(uart)
        }
    };
    let clock = clock::Clock::init(acpi.hpet.or(Some(0xFED0_0000)));
    let board = Board {
        clock,
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
    agent.platform().trace(format_args!(
        "nanoqga {} on x86_64: {} cpu(s), pm1a {:?}, s5 {}, reset {:?}, hpet {:?}",
        env!("CARGO_PKG_VERSION"),
        acpi.cpus,
        acpi.pm1a_cnt,
        acpi.s5_slp_typ,
        acpi.reset,
        acpi.hpet
    ));
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
    }
    loop {
        let idle = matches!(agent.poll(&mut channel), Ok(Poll::Idle));
        if let Channel::Virtio(v) = &mut channel {
            if v.take_new_client() {
                agent
                    .platform()
                    .trace(format_args!("virtio: host connected"));
                agent.reset_connection();
            }
        }
        agent.platform().clock.tick();
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
            core::hint::spin_loop();
        }
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    // The core has no panics on input; should board code ever panic, a
    // reset brings the agent back rather than leaving the guest mute.
    power::reboot(&acpi::Acpi::default())
}
