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

use nanoqga::{Agent, AgentConfig, Storage};
use nanoqga_board::BoardPrograms;
use nanoqga_board::cell::BootCell;
use nanoqga_board::console::VirtioConsole;
use nanoqga_board::serve::{Channel, Found, find_port, serve, trace_channel};
use pvh::start_info::reader::StartInfoReader;
use static_cell::ConstStaticCell;

use nanoqga_board::board::{Files, RamMap};

use crate::platform::{Board, X86};

/// The virtio console, built in place (it is a few KiB).
static CONSOLE: BootCell<Option<VirtioConsole<virtio_drivers::transport::pci::PciTransport>>> =
    BootCell::new();
static STORAGE: ConstStaticCell<Storage> = ConstStaticCell::new(Storage::new());
static FILES: ConstStaticCell<Files> = ConstStaticCell::new(Files::new());
/// Memory the health check tests.
static HEALTH_REGION: ConstStaticCell<[u8; 64 * 1024]> = ConstStaticCell::new([0; 64 * 1024]);

/// DMA arena for virtio: rings (two pages per queue, 18 queues for 8 ports)
/// and the console's buffers.
#[repr(C, align(4096))]
struct Arena([u8; 192 * 1024]);
static DMA_ARENA: ConstStaticCell<Arena> = ConstStaticCell::new(Arena([0; 192 * 1024]));

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
    mark("boot: pci scan\n");
    // rust_main runs once, so the cell is always there.
    let Some(slot) = CONSOLE.init(None) else {
        power::halt()
    };
    let virtio = find_port(
        pci::console_transports(),
        clock::uptime_ns,
        &mut notes,
        slot,
    );
    let board = Board {
        machine: X86 { clock, acpi },
        files: FILES.take(),
        programs: BoardPrograms {
            region: HEALTH_REGION.take(),
            uptime_ns: clock::uptime_ns,
            stack: nanoqga_board::stack::high_water,
        },
        power: None,
        cpus: acpi.cpus,
        ram,
    };
    let mut agent = Agent::new(STORAGE.take(), board, AgentConfig::default());
    let (channel, pending) = match virtio {
        Found::Port(v) => (Channel::Virtio(v), None),
        found => {
            let pending = match found {
                Found::Pending(v) => Some(v),
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
    trace_channel(agent.platform(), &channel, "COM1 (16550)");
    serve(&mut agent, channel, pending)
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    // The core has no panics on input; should board code ever panic, a
    // reset brings the agent back rather than leaving the guest mute.
    power::reboot(&acpi::Acpi::default())
}
