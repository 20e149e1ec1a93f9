//! The PC's serial ports COM1–COM4: 16550s ([`crate::ns16550`]) on port
//! I/O, with their ISA interrupt lines and DOS names.

use super::io::{inb, outb};
use crate::ns16550::{Ns16550, Regs};

/// The four PC serial ports: (I/O base, IRQ).
pub const PORTS: [(u16, u8); 4] = [(0x3F8, 4), (0x2F8, 3), (0x3E8, 4), (0x2E8, 3)];

/// A PC serial port.
pub type Com = Ns16550<PortIo>;

/// A 16550's registers in I/O space.
pub struct PortIo(u16);

impl PortIo {
    /// The registers at I/O port `base`.
    ///
    /// # Safety
    /// `base..base + 8` must be a serial port's registers (or unclaimed
    /// ports) that nothing else uses.
    pub unsafe fn new(base: u16) -> PortIo {
        PortIo(base)
    }
}

impl Regs for PortIo {
    fn read(&self, reg: u8) -> u8 {
        // SAFETY: `new`'s contract: the port's registers, ours alone.
        unsafe { inb(self.0 + u16::from(reg)) }
    }

    fn write(&self, reg: u8, value: u8) {
        // SAFETY: as for `read`.
        unsafe { outb(self.0 + u16::from(reg), value) }
    }
}

/// A port's DOS name.
pub fn name(base: u16) -> &'static str {
    match base {
        0x3F8 => "COM1",
        0x2F8 => "COM2",
        0x3E8 => "COM3",
        0x2E8 => "COM4",
        _ => "serial port",
    }
}

/// Finds and sets up the PC serial port at `base` (see
/// [`Ns16550::probe`]); with `irq`, its data-ready interrupt is on.
pub fn probe(base: u16, irq: Option<u8>) -> Option<Com> {
    // SAFETY: a PC serial port's I/O range; the board owns the COM ports
    // (under UEFI, after taking them from the firmware).
    let regs = unsafe { PortIo::new(base) };
    Ns16550::probe(regs, name(base), irq.map(u32::from))
}
