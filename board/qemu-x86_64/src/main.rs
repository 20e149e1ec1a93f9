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
mod platform;
mod power;

use nanoqga::platform::ShutdownMode;
use nanoqga::{Agent, AgentConfig, Poll, Storage};
use nanoqga_board::BoardPrograms;
use pvh::start_info::reader::StartInfoReader;
use static_cell::ConstStaticCell;
use uart_16550::Uart16550;

use crate::platform::{Board, Files, RamMap};

static STORAGE: ConstStaticCell<Storage> = ConstStaticCell::new(Storage::new());
static FILES: ConstStaticCell<Files> = ConstStaticCell::new(Files::new());
/// Memory the health check tests.
static HEALTH_REGION: ConstStaticCell<[u8; 64 * 1024]> = ConstStaticCell::new([0; 64 * 1024]);

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
    // SAFETY: 0x3F8 is COM1; this image is its only user.
    let mut uart = match unsafe { Uart16550::new_port(0x3F8) } {
        Ok(u) => u,
        Err(_) => power::halt(),
    };
    // 8N1 with the FIFO on. No loopback test: nothing but replies goes out.
    let _ = uart.init(uart_16550::Config::default());
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
    loop {
        let idle = matches!(agent.poll(&mut uart), Ok(Poll::Idle));
        agent.platform().clock.tick();
        if let Some(mode) = agent.platform().power.take() {
            agent
                .platform()
                .trace(format_args!("guest-shutdown {mode:?}"));
            // Let the UART send everything before the machine goes.
            let _ = embedded_io::Write::flush(&mut uart);
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
