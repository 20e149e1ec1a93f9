//! nanoqga on QEMU riscv64 `virt`: a bare-metal image booted with
//! `-machine virt -kernel` under QEMU's default OpenSBI (S-mode), serving
//! QGA on the virtio-serial port `org.qemu.guest_agent.0` (`-device
//! virtio-serial-device`, i.e. virtio-mmio, as libvirt wires riscv64
//! guests) when there is one, else on the NS16550A UART.
//!
//! The UART carries nothing but QGA replies: no banner, no logs. What the
//! agent sees is kept in a trace ring readable as `/var/log/nanoqga.log`.
//!
//! When the agent has nothing to do the hart waits (`wfi`) for the UART's
//! or the virtio console's interrupt through the PLIC, or the SBI timer at
//! the agent's next deadline.
#![no_std]
#![no_main]

mod boot;
mod clock;
mod platform;
mod plic;
mod sbi;

use core::fmt::Write as _;

use nanoqga_board::board::RamMap;
use nanoqga_board::cell::BootCell;
use nanoqga_board::console::VirtioConsole;
use nanoqga_board::dtb;
use nanoqga_board::ns16550::{Mmio, Ns16550};
use nanoqga_board::serve::serve;
use nanoqga_board::start;
use virtio_drivers::transport::mmio::MmioTransport;

use crate::platform::Riscv64;

/// The virtio console, built in place (it is a few KiB).
static CONSOLE: BootCell<Option<VirtioConsole<MmioTransport<'static>>>> = BootCell::new();
/// The virt machine's fixed layout, for what the device tree does not say.
const UART: (usize, u32) = (0x1000_0000, 10);
const RTC: usize = 0x0010_1000;
const TEST: usize = 0x0010_0000;
const PLIC: usize = 0x0c00_0000;
/// virtio-mmio transports: base, stride, count, the first one's source.
const VIRTIO_MMIO: (usize, usize, usize, u32) = (0x1000_1000, 0x1000, 8, 1);
/// The S-mode external interrupt's cause (in `interrupts-extended`).
const S_EXTERNAL: u32 = 9;

/// What the device tree tells.
struct Machine {
    cpus: u32,
    ram: RamMap,
    timebase: u64,
    uart: (usize, u32),
    rtc: usize,
    test: Option<usize>,
    plic: usize,
    context: usize,
    virtio: heapless::Vec<dtb::Window, { dtb::WINDOWS }>,
}

/// The first cell of a node's `interrupts` (a PLIC source).
fn source(node: &fdt::node::FdtNode<'_, '_>) -> Option<u32> {
    dtb::interrupts(node).next()
}

/// The PLIC context of `hart`'s S-mode: the index of the pair in the
/// PLIC's `interrupts-extended` that names the hart's interrupt controller
/// with the S-mode external cause.
fn plic_context(
    fdt: &fdt::Fdt<'_>,
    plic: &fdt::node::FdtNode<'_, '_>,
    hart: usize,
) -> Option<usize> {
    let mut path = heapless::String::<48>::new();
    write!(path, "/cpus/cpu@{hart:x}/interrupt-controller").ok()?;
    let intc = fdt.find_node(&path)?;
    let phandle = u32::try_from(intc.property("phandle")?.as_usize()?).ok()?;
    let pairs: heapless::Vec<u32, 64> =
        dtb::cells(plic.property("interrupts-extended")?.value).collect();
    pairs
        .chunks_exact(2)
        .position(|p| p[0] == phandle && p[1] == S_EXTERNAL)
}

fn read_dtb(dtb_addr: usize, hart: usize) -> Machine {
    let mut m = Machine {
        cpus: 1,
        ram: [(0, 0); 16],
        timebase: 10_000_000,
        uart: UART,
        rtc: RTC,
        test: Some(TEST),
        plic: PLIC,
        context: 2 * hart + 1,
        virtio: heapless::Vec::new(),
    };
    // SAFETY: OpenSBI passes the device tree's address in a1; the header's
    // magic and size are checked first.
    match unsafe { fdt::Fdt::from_ptr(dtb_addr as *const u8) } {
        Ok(fdt) => {
            m.cpus = dtb::cpus(&fdt);
            m.ram = dtb::ram(&fdt);
            if let Some(tb) = fdt
                .find_node("/cpus")
                .and_then(|n| n.property("timebase-frequency"))
                .and_then(|p| p.as_usize())
            {
                m.timebase = tb as u64;
            }
            if let Some((addr, node)) = dtb::device(&fdt, &["ns16550a"]) {
                m.uart = (addr, source(&node).unwrap_or(UART.1));
            }
            if let Some((addr, _)) = dtb::device(&fdt, &["google,goldfish-rtc"]) {
                m.rtc = addr;
            }
            m.test = dtb::device(&fdt, &["sifive,test0"]).map(|(a, _)| a);
            if let Some((addr, node)) = dtb::device(&fdt, &["riscv,plic0", "sifive,plic-1.0.0"]) {
                m.plic = addr;
                if let Some(c) = plic_context(&fdt, &node, hart) {
                    m.context = c;
                }
            }
            m.virtio = dtb::virtio_windows(&fdt, source);
        }
        Err(_) => {
            m.ram[0] = (0x8000_0000, 128 << 20);
        }
    }
    if m.virtio.is_empty() {
        let (base, size, n, first) = VIRTIO_MMIO;
        m.virtio = dtb::fixed_windows(base, size, n, |i| first + i);
    }
    m
}

/// The Rust entry, called by the boot code.
///
/// # Safety
/// Called once, by `_start`, with .bss zeroed, `hart` the boot hart and
/// `dtb_addr` the device tree OpenSBI passed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rust_main(hart: usize, dtb_addr: usize) -> ! {
    let machine = read_dtb(dtb_addr, hart);
    clock::set_timebase(machine.timebase);
    // SAFETY: the UART's registers from the device tree, identity-mapped
    // (the MMU is off), used by nothing else once OpenSBI handed over.
    let regs = unsafe { Mmio::new(machine.uart.0) };
    let uart = Ns16550::probe(regs, "NS16550A", Some(machine.uart.1));
    // SAFETY: the goldfish RTC's registers from the device tree.
    let rtc = unsafe { clock::Clock::new(machine.rtc) };
    // SAFETY: the arena is static RAM, identity-mapped, used by nothing else.
    unsafe { nanoqga_board::dma::init(start::take_dma_arena()) };
    let mut notes = heapless::String::<256>::new();
    let plic = plic::Plic::init(machine.plic, machine.context);
    plic.enable(machine.uart.1);
    let time_ext = sbi::has_time();
    let srst = sbi::has_srst();
    // rust_main runs once, so the cell is always there.
    let Some(slot) = CONSOLE.init_none() else {
        platform::halt()
    };
    // SAFETY: each window is a virtio-mmio register block from the device
    // tree (or virt's fixed layout), identity-mapped, used by nothing else.
    let virtio = unsafe {
        dtb::find_console(
            &machine.virtio,
            |id| plic.enable(id),
            clock::uptime_ns,
            &mut notes,
            slot,
        )
    };
    let board = start::board(
        Riscv64 {
            clock: rtc,
            plic,
            time_ext,
            srst,
            test: machine.test,
        },
        machine.cpus,
        machine.ram,
        clock::uptime_ns,
        nanoqga_board::stack::high_water,
    );
    let mut agent = start::agent(board);
    if uart.is_none() {
        let _ = write!(notes, "no NS16550 at {:#x}; ", machine.uart.0);
    }
    let (channel, pending) = start::channel(
        virtio,
        || {
            let mut found = heapless::Vec::new();
            if let Some(u) = uart {
                let _ = found.push(u);
            }
            found
        },
        &mut notes,
    );
    agent.platform().trace(format_args!(
        "nanoqga {} on riscv64 virt: hart {hart}, {} cpu(s), {} virtio-mmio window(s), PLIC {:#x} context {}, uart irq {}, SBI TIME {time_ext}, SRST {srst}",
        env!("CARGO_PKG_VERSION"),
        machine.cpus,
        machine.virtio.len(),
        machine.plic,
        machine.context,
        machine.uart.1,
    ));
    start::trace_start(agent.platform(), &notes, &channel, "NS16550A");
    serve(&mut agent, channel, pending)
}

/// Writes to the UART with no driver state, for traps and panics.
fn emergency(args: core::fmt::Arguments<'_>) {
    struct Raw;
    impl core::fmt::Write for Raw {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            for b in s.bytes() {
                // SAFETY: the virt machine's NS16550A, identity-mapped; the
                // agent is done with it (the machine resets next).
                unsafe {
                    while core::ptr::read_volatile((UART.0 + 5) as *const u8) & 0x20 == 0 {}
                    core::ptr::write_volatile(UART.0 as *mut u8, b);
                }
            }
            Ok(())
        }
    }
    let _ = Raw.write_fmt(args);
}

/// Traps: none are expected (interrupts only end `wfi`). Report and reset,
/// so the agent comes back rather than leaving the guest mute.
#[unsafe(no_mangle)]
extern "C" fn trap(cause: usize, epc: usize, tval: usize) -> ! {
    emergency(format_args!(
        "\nnanoqga: trap scause={cause:#x} sepc={epc:#x} stval={tval:#x}\n"
    ));
    sbi::reset(sbi::Reset::ColdReboot);
    platform::halt()
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    // The core has no panics on input; should board code ever panic,
    // report it and reset.
    emergency(format_args!("\nnanoqga: panic: {info}\n"));
    sbi::reset(sbi::Reset::ColdReboot);
    platform::halt()
}
