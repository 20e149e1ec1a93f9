//! nanoqga on QEMU aarch64 `virt`: a bare-metal image booted with
//! `-machine virt -cpu cortex-a57 -kernel`, serving QGA on the virtio-serial
//! port `org.qemu.guest_agent.0` (`-device virtio-serial-device`, i.e.
//! virtio-mmio, as libvirt wires aarch64 guests) when there is one, else on
//! the PL011 UART.
//!
//! The UART carries nothing but QGA replies: no banner, no logs. What the
//! agent sees is kept in a trace ring readable as `/var/log/nanoqga.log`.
//!
//! When the agent has nothing to do the CPU waits (`wfi`) for the PL011's
//! or the virtio console's interrupt, or the generic timer at the agent's
//! next deadline.
#![no_std]
#![no_main]

mod boot;
mod clock;
mod gic;
mod mmu;
mod pl011;
mod platform;
mod psci;

use nanoqga_board::board::RamMap;
use nanoqga_board::cell::BootCell;
use nanoqga_board::console::VirtioConsole;
use nanoqga_board::dtb;
use nanoqga_board::serve::{serve, trace_channel};
use nanoqga_board::start;
use virtio_drivers::transport::mmio::MmioTransport;

use crate::platform::Aarch64;

/// The virtio console, built in place (it is a few KiB).
static CONSOLE: BootCell<Option<VirtioConsole<MmioTransport<'static>>>> = BootCell::new();
/// Where QEMU puts the device tree for a non-Linux `-kernel` ELF.
const DTB: usize = 0x4000_0000;
/// virtio-mmio transports on virt when the device tree is missing: base,
/// stride, count, and the first one's SPI (they count up).
const VIRTIO_MMIO: (usize, usize, usize, u32) = (0x0a00_0000, 0x200, 32, 16);
/// The virt machine's PL011 interrupt (SPI 1) and virtual timer (PPI 11),
/// when the device tree is missing.
const PL011_INTID: u32 = 33;
const TIMER_INTID: u32 = 27;

/// What the device tree tells: processors, RAM, the GIC and interrupt
/// numbers, virtio-mmio windows (base, size, interrupt).
struct Machine {
    cpus: u32,
    ram: RamMap,
    gic: gic::Gic,
    uart_irq: u32,
    timer_irq: u32,
    virtio: heapless::Vec<dtb::Window, { dtb::WINDOWS }>,
}

fn read_dtb() -> Machine {
    let mut m = Machine {
        cpus: 1,
        ram: [(0, 0); 16],
        gic: gic::Gic::VIRT_V2,
        uart_irq: PL011_INTID,
        timer_irq: TIMER_INTID,
        virtio: heapless::Vec::new(),
    };
    // SAFETY: QEMU loads the device tree at the start of RAM (the image is
    // linked above it); the header's magic and size are checked first.
    let fdt = unsafe { fdt::Fdt::from_ptr(DTB as *const u8) };
    match fdt {
        Ok(fdt) => {
            m.cpus = dtb::cpus(&fdt);
            m.ram = dtb::ram(&fdt);
            if let Some(g) = gic::Gic::from_dtb(&fdt) {
                m.gic = g;
            }
            if let Some(t) = gic::timer_intid(&fdt) {
                m.timer_irq = t;
            }
            if let Some(id) = fdt
                .find_compatible(&["arm,pl011"])
                .and_then(|n| gic::node_intid(&n))
            {
                m.uart_irq = id;
            }
            m.virtio = dtb::virtio_windows(&fdt, gic::node_intid);
        }
        Err(_) => {
            m.ram[0] = (0x4000_0000, 128 << 20);
        }
    }
    if m.virtio.is_empty() {
        let (base, size, n, spi) = VIRTIO_MMIO;
        m.virtio = dtb::fixed_windows(base, size, n, |i| gic::intid(0, spi + i));
    }
    m
}

/// The Rust entry, called by the boot code.
///
/// # Safety
/// Called once, by `_start`, on CPU 0 with .bss zeroed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rust_main() -> ! {
    // First, so the FIFO switch happens before a client can be writing.
    let (mut uart, fifo) = pl011::Pl011::new();
    // SAFETY: early at boot, MMU off, at EL1 on the virt machine.
    unsafe { mmu::enable() };
    let clock = clock::Clock::init();
    let machine = read_dtb();
    // SAFETY: the arena is static RAM, identity-mapped, used by nothing else.
    unsafe { nanoqga_board::dma::init(start::take_dma_arena()) };
    let mut notes = heapless::String::<256>::new();
    machine.gic.init();
    machine.gic.enable(machine.timer_irq);
    machine.gic.enable(machine.uart_irq);
    uart.enable_rx_interrupt();
    // rust_main runs once, so the cell is always there.
    let Some(slot) = CONSOLE.init_none() else {
        psci::halt()
    };
    let gic = machine.gic;
    // SAFETY: each window is a virtio-mmio register block from the device
    // tree (or the virt machine's fixed layout), identity-mapped as device
    // memory by `mmu::enable`, used by nothing else.
    let virtio = unsafe {
        dtb::find_console(
            &machine.virtio,
            |id| gic.enable(id),
            clock::uptime_ns,
            &mut notes,
            slot,
        )
    };
    let board = start::board(
        Aarch64 { clock },
        machine.cpus,
        machine.ram,
        clock::uptime_ns,
        nanoqga_board::stack::high_water,
    );
    let mut agent = start::agent(board);
    let (channel, pending) = start::choose(virtio, || Some(uart));
    agent.platform().trace(format_args!(
        "nanoqga {} on aarch64 virt: {} cpu(s), {} virtio-mmio window(s), {:?}, uart irq {}, timer irq {}",
        env!("CARGO_PKG_VERSION"),
        machine.cpus,
        machine.virtio.len(),
        machine.gic,
        machine.uart_irq,
        machine.timer_irq,
    ));
    if !notes.is_empty() {
        agent.platform().trace(format_args!("{notes}"));
    }
    trace_channel(
        agent.platform(),
        &channel,
        if fifo {
            "PL011 (FIFO on)"
        } else {
            "PL011 (FIFO off: a client was writing at boot)"
        },
    );
    serve::<_, _, MmioTransport<'static>>(&mut agent, channel, pending)
}

/// Exceptions: none are expected (interrupts only wake `wfi`; IRQs stay
/// masked). Report and reset, so the agent comes back rather than leaving
/// the guest mute.
#[unsafe(no_mangle)]
extern "C" fn exception(kind: u64, esr: u64, elr: u64, far: u64) -> ! {
    pl011::emergency(format_args!(
        "\nnanoqga: exception {kind} esr={esr:#x} elr={elr:#x} far={far:#x}\n"
    ));
    psci::reboot()
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    // The core has no panics on input; should board code ever panic,
    // report it and reset.
    pl011::emergency(format_args!("\nnanoqga: panic: {info}\n"));
    psci::reboot()
}
