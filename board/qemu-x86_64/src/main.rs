//! nanoqga on QEMU x86_64: a bare-metal image booted with `-kernel` (PVH) on
//! `-machine q35` or `-machine pc`, serving QGA on the virtio-serial port
//! `org.qemu.guest_agent.0` when there is one, else on a serial port
//! (COM1–COM4, as `-device isa-serial,chardev=…` or Proxmox's `agent:
//! type=isa` wire it).
//!
//! When the agent has nothing to do the CPU halts until a device interrupt
//! (the UARTs, the virtio console) or the agent's next deadline (the PIT).
//!
//! The UART carries nothing but QGA replies: no banner, no logs. What the
//! agent sees is kept in a trace ring readable as `/var/log/nanoqga.log`.
#![no_std]
#![no_main]

mod acpi;
mod boot;
mod clock;
mod irq;
mod platform;
mod power;

use nanoqga_board::cell::BootCell;
use nanoqga_board::console::VirtioConsole;
use nanoqga_board::serve::{find_port, serve};
use nanoqga_board::start;
use nanoqga_board::x86::com;
use nanoqga_board::x86::pci;
// Port I/O (shared with the UEFI application) as `crate::io`.
use nanoqga_board::x86::io;
use pvh::start_info::reader::StartInfoReader;

use nanoqga_board::board::RamMap;

use crate::platform::X86;

/// The virtio console, built in place (it is a few KiB).
static CONSOLE: BootCell<Option<VirtioConsole<virtio_drivers::transport::pci::PciTransport>>> =
    BootCell::new();
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
    irq::init();
    // SAFETY: the arena is static memory in the identity-mapped first 4 GiB,
    // used by nothing else.
    unsafe { nanoqga_board::dma::init(start::take_dma_arena()) };
    mark("boot: dma\n");
    let mut notes = heapless::String::<256>::new();
    mark("boot: pci scan\n");
    // rust_main runs once, so the cell is always there.
    let Some(slot) = CONSOLE.init_none() else {
        power::halt()
    };
    let transports = pci::console_transports();
    for line in transports.iter().filter_map(|(_, line)| *line) {
        irq::enable(line);
    }
    if transports.iter().any(|(_, line)| line.is_none()) {
        let _ = core::fmt::Write::write_str(&mut notes, "virtio console without IRQ line; ");
    }
    let virtio = find_port(
        transports.into_iter().map(|(t, _)| t),
        clock::uptime_ns,
        &mut notes,
        slot,
    );
    let board = start::board(
        X86 { clock, acpi },
        acpi.cpus,
        ram,
        clock::uptime_ns,
        nanoqga_board::stack::high_water,
    );
    let mut agent = start::agent(board);
    let (channel, pending) = start::channel(
        virtio,
        || {
            let mut found = heapless::Vec::new();
            for (base, line) in com::PORTS {
                if let Some(c) = com::probe(base, Some(line)) {
                    irq::enable(line);
                    let _ = found.push(c);
                }
            }
            found
        },
        &mut notes,
    );
    agent.platform().trace(format_args!(
        "nanoqga {} on x86_64: {} cpu(s), pm1a {:?}, s5 {}, reset {:?}, hpet {:?}",
        env!("CARGO_PKG_VERSION"),
        acpi.cpus,
        acpi.pm1a_cnt,
        acpi.s5_slp_typ,
        acpi.reset,
        acpi.hpet
    ));
    start::trace_start(agent.platform(), &notes, &channel, "16550");
    serve(&mut agent, channel, pending)
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    // The core has no panics on input; should board code ever panic, a
    // reset brings the agent back rather than leaving the guest mute.
    power::reboot(&acpi::Acpi::default())
}
