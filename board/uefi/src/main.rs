//! nanoqga as a UEFI application: the firmware stage answers QGA before the
//! OS boots, and boots the next stage when asked.
//!
//! Booted by the firmware (as `EFI/BOOT/BOOTX64.EFI` of a FAT volume, or a
//! boot entry), it serves QGA on the virtio-serial port
//! `org.qemu.guest_agent.0` when the machine has one (libvirt's wiring),
//! else on the COM ports (Proxmox's `agent: type=isa`), and never returns
//! to the firmware: it powers off, resets or halts on `guest-shutdown`, or
//! hands the machine to the image a `guest-exec` names.
//!
//! What it takes from the firmware, and gives back before another image
//! runs, is in [`firmware`]; what the hooks do is in [`platform`]. The
//! agent uses no heap. Boot-services allocations: the DMA pages of the
//! virtio console (once), and the pool memory the `uefi` crate uses for
//! handle lists and the memory map while it reads them (freed at once).
#![no_std]
#![no_main]

mod clock;
mod firmware;
mod image;
mod machine;
mod platform;
mod stack;
mod tick;
mod volume;

use core::fmt::Write as _;

use nanoqga_board::cell::BootCell;
use nanoqga_board::console::VirtioConsole;
use nanoqga_board::serve::{find_port, serve};
use nanoqga_board::start;
use nanoqga_board::x86::com;
use nanoqga_board::x86::pci;
use static_cell::ConstStaticCell;
use uefi::boot::{self, AllocateType, MemoryType};
use uefi::{Status, entry};

use crate::firmware::{SerialHandles, VirtioHandles};
use crate::image::Images;
use crate::machine::Uefi;
use crate::platform::{Firmware, UefiPlatform};
use crate::volume::Volume;

/// The virtio console, built in place (it is a few KiB).
static CONSOLE: BootCell<Option<VirtioConsole<virtio_drivers::transport::pci::PciTransport>>> =
    BootCell::new();
/// The images `guest-exec` boots (their paths and load options).
static IMAGES: ConstStaticCell<Images> = ConstStaticCell::new(Images::new());

/// DMA pages for virtio, from boot services (below 4 GiB): rings (two
/// pages per queue, 18 queues for 8 ports) and the console's buffers, as
/// the bare-metal boards' arena.
const DMA_PAGES: usize = 48;

#[entry]
fn main() -> Status {
    // The boot manager's 5-minute watchdog would reset a firmware stage
    // that serves for longer.
    let _ = boot::set_watchdog_timer(0, 0x10000, None);
    stack::run_on_own_stack(run)
}

/// Sets up and serves, on the agent's own stack.
extern "efiapi" fn run() -> ! {
    clock::calibrate();
    let clock = clock::Clock::init();
    let mut notes = heapless::String::<512>::new();
    match boot::allocate_pages(
        AllocateType::MaxAddress(0xFFFF_FFFF),
        MemoryType::BOOT_SERVICES_DATA,
        DMA_PAGES,
    ) {
        // SAFETY: the pages are ours alone from now on (never freed), and
        // the firmware maps memory identity.
        Ok(p) => unsafe {
            nanoqga_board::dma::init(core::slice::from_raw_parts_mut(
                p.as_ptr(),
                DMA_PAGES * 4096,
            ));
        },
        Err(e) => {
            let _ = write!(notes, "no DMA pages: {:?}; ", e.status());
        }
    }
    let virtio_fw = VirtioHandles::find(&mut notes);
    // `run` runs once, so the cell is always there.
    let Some(slot) = CONSOLE.init_none() else {
        uefi::runtime::reset(uefi::runtime::ResetType::COLD, Status::ABORTED, None)
    };
    let virtio = find_port(
        pci::console_transports().into_iter().map(|(t, _)| t),
        clock::uptime_ns,
        &mut notes,
        slot,
    );
    let mut serial_fw = SerialHandles::none();
    let (channel, pending) = start::channel(
        virtio,
        || {
            // Take the COM ports out of the firmware's console first, so it
            // writes nothing more on them; polled, without interrupts.
            serial_fw = SerialHandles::take_all();
            let mut ports = heapless::Vec::new();
            for (base, _) in com::PORTS {
                if let Some(c) = com::probe(base, None) {
                    let _ = ports.push(c);
                }
            }
            ports
        },
        &mut notes,
    );
    for base in serial_fw.bases() {
        let _ = write!(
            notes,
            "{} taken from the firmware console; ",
            com::name(base)
        );
    }
    let ram = platform::ram();
    let cpus = cpu_count();
    let firmware = Firmware::read();
    let board = start::board(
        Uefi::new(clock),
        cpus,
        ram.map,
        clock::uptime_ns,
        stack::high_water,
    );
    let volume = Volume::of_image();
    if !volume.present() {
        let _ = write!(notes, "no boot volume; ");
    }
    let platform = UefiPlatform {
        board,
        volume,
        images: IMAGES.take(),
        virtio: virtio_fw,
        serial: serial_fw,
        firmware,
        last_busy: 0,
    };
    let mut agent = start::agent(platform);
    let p = agent.platform();
    p.board.trace(format_args!(
        "nanoqga {} on x86_64 UEFI: {}, {} CPUs, {} KiB RAM in {} map entries",
        env!("CARGO_PKG_VERSION"),
        p.firmware.pretty,
        cpus,
        ram.total / 1024,
        ram.entries
    ));
    let tick = &p.board.machine.tick;
    if tick.available() {
        let _ = write!(
            notes,
            "firmware tick {} us ({} us while serving); ",
            tick.normal_ns() / 1000,
            tick::FAST_NS / 1000
        );
    } else {
        let _ = write!(notes, "no Timer protocol: the firmware's tick throughout; ");
    }
    start::trace_start(agent.platform(), &notes, &channel, "16550");
    serve(&mut agent, channel, pending)
}

/// Processors the firmware's MP services count as enabled (1 without them).
fn cpu_count() -> u32 {
    use uefi::proto::pi::mp::MpServices;
    let Ok(handle) = boot::get_handle_for_protocol::<MpServices>() else {
        return 1;
    };
    // SAFETY: GetProtocol takes the protocol from nobody; it is used here
    // and dropped at once.
    let mp = unsafe {
        boot::open_protocol::<MpServices>(
            boot::OpenProtocolParams {
                handle,
                agent: boot::image_handle(),
                controller: None,
            },
            boot::OpenProtocolAttributes::GetProtocol,
        )
    };
    mp.ok()
        .and_then(|mp| mp.get_number_of_processors().ok())
        .map_or(1, |c| u32::try_from(c.enabled).unwrap_or(1))
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    // The core has no panics on input; should board code ever panic, a
    // reset brings the agent back rather than leaving the guest mute.
    uefi::runtime::reset(uefi::runtime::ResetType::COLD, Status::ABORTED, None)
}
