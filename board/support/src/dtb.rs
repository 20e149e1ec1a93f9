//! What the device tree tells a board that boots with one (aarch64 and
//! RISC-V virt): RAM, processors, virtio-mmio windows, and the virtio
//! consoles among them.
//!
//! Contract: the functions read a parsed [`fdt::Fdt`] and never fail;
//! what is missing comes back empty (the board falls back to its
//! machine's fixed layout). Interrupt specifiers differ per interrupt
//! controller, so the caller decodes a node's `interrupts` ([`cells`]
//! splits them).

use core::ptr::NonNull;

use fdt::Fdt;
use fdt::node::FdtNode;
use heapless::Vec;
use virtio_drivers::transport::mmio::{MmioTransport, VirtIOHeader};
use virtio_drivers::transport::{DeviceType, Transport};

use crate::board::RamMap;
use crate::console::VirtioConsole;
use crate::serve::{Found, find_port};

/// A virtio-mmio window: base, size, interrupt.
pub type Window = (usize, usize, Option<u32>);

/// Virtio-mmio windows a device tree may list (QEMU's virt has 32 on
/// aarch64 and 8 on RISC-V).
pub const WINDOWS: usize = 32;

/// A device-tree cell list as big-endian u32s.
pub fn cells(bytes: &[u8]) -> impl Iterator<Item = u32> + '_ {
    bytes
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
}

/// The cells of a node's `interrupts` property (empty without one).
pub fn interrupts<'a>(node: &FdtNode<'_, 'a>) -> impl Iterator<Item = u32> + 'a {
    cells(node.property("interrupts").map_or(&[][..], |p| p.value))
}

/// The RAM regions the device tree lists (unused entries have length 0).
pub fn ram(fdt: &Fdt<'_>) -> RamMap {
    let mut map: RamMap = [(0, 0); 16];
    for (slot, r) in map.iter_mut().zip(fdt.memory().regions()) {
        *slot = (r.starting_address as u64, r.size.unwrap_or(0) as u64);
    }
    map
}

/// Processors the device tree lists (at least 1).
pub fn cpus(fdt: &Fdt<'_>) -> u32 {
    u32::try_from(fdt.cpus().count()).unwrap_or(1).max(1)
}

/// The first `reg` address of the first node compatible with one of
/// `compatible`, and that node.
pub fn device<'b, 'a>(fdt: &'b Fdt<'a>, compatible: &[&str]) -> Option<(usize, FdtNode<'b, 'a>)> {
    let node = fdt.find_compatible(compatible)?;
    let addr = node.reg()?.next()?.starting_address as usize;
    Some((addr, node))
}

/// A machine's fixed virtio-mmio layout, for when the device tree lists no
/// window: `count` windows of `size` bytes from `base`, window `i`
/// interrupting on `irq(i)`.
pub fn fixed_windows(
    base: usize,
    size: usize,
    count: usize,
    irq: impl Fn(u32) -> u32,
) -> Vec<Window, WINDOWS> {
    (0..count.min(WINDOWS))
        .map(|i| (base + i * size, size, Some(irq(i as u32))))
        .collect()
}

/// The `virtio,mmio` windows, in address order, with the interrupt
/// `irq` decodes from each node.
pub fn virtio_windows(
    fdt: &Fdt<'_>,
    irq: impl Fn(&FdtNode<'_, '_>) -> Option<u32>,
) -> Vec<Window, WINDOWS> {
    let mut out = Vec::new();
    for node in fdt.all_nodes() {
        let is_virtio = node
            .compatible()
            .is_some_and(|c| c.all().any(|s| s == "virtio,mmio"));
        if let (true, Some(mut regs)) = (is_virtio, node.reg())
            && let Some(r) = regs.next()
        {
            let _ = out.push((
                r.starting_address as usize,
                r.size.unwrap_or(0x200),
                irq(&node),
            ));
        }
    }
    // QEMU lists the transports top-down; the device lands in the last.
    out.sort_unstable();
    out
}

/// The virtio consoles among `windows`, with their interrupts.
///
/// # Safety
/// Each window must be a virtio-mmio register block (from the device tree
/// or the machine's fixed layout), identity-mapped as device memory, that
/// nothing else uses.
pub unsafe fn consoles(
    windows: &[Window],
) -> impl Iterator<Item = (MmioTransport<'static>, Option<u32>)> + '_ {
    windows.iter().filter_map(|&(addr, size, irq)| {
        let header = NonNull::new(addr as *mut VirtIOHeader)?;
        // SAFETY: the caller's contract: a virtio-mmio block, ours alone.
        let t = unsafe { MmioTransport::new(header, size) }.ok()?;
        (t.device_type() == DeviceType::Console).then_some((t, irq))
    })
}

/// [`find_port`] over the virtio consoles among `windows`, each one's
/// interrupt enabled with `enable` as it is tried; a console without one
/// is noted (it is served when the agent polls, as the timer wakes it).
///
/// # Safety
/// As [`consoles`].
pub unsafe fn find_console(
    windows: &[Window],
    mut enable: impl FnMut(u32),
    uptime_ns: impl Fn() -> u64,
    notes: &mut impl core::fmt::Write,
    slot: &'static mut Option<VirtioConsole<MmioTransport<'static>>>,
) -> Found<MmioTransport<'static>> {
    let mut without_interrupt = false;
    // SAFETY: the caller's contract.
    let transports = unsafe { consoles(windows) }.map(|(t, irq)| {
        match irq {
            Some(id) => enable(id),
            None => without_interrupt = true,
        }
        t
    });
    let found = find_port(transports, uptime_ns, notes, slot);
    if without_interrupt {
        let _ = notes.write_str("virtio console without interrupt; ");
    }
    found
}
