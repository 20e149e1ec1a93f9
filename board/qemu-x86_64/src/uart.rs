//! COM1, a 16550 at I/O port 0x3F8, polled, with embedded-io traits.
//!
//! Contract: [`Com1::probe`] answers `None` when no UART is there (port
//! reads float to 0xFF under `-nodefaults`). Set-up never discards received
//! bytes: a client may have written while the guest booted. This is why the
//! board does not use the `uart_16550` crate here: its `init` resets the
//! receive FIFO and drains what it holds.
//!
//! FIFOs: without them QEMU hands over one byte per main-loop round
//! (about 1 KB/s measured), so they are switched on. On QEMU that switch
//! empties the receive side, and reading the holding register makes QEMU
//! hand over the next byte at once (`qemu_chr_fe_accept_input`), which would
//! race with the switch. So the switch happens in loopback mode, where a
//! read does not ask for more: take the byte waiting (if any), switch, leave
//! loopback, then one read of the empty FIFO asks QEMU for the rest. A byte
//! is lost only if QEMU's main loop wakes for an unrelated reason within
//! those few port accesses while a client is writing during boot; clients
//! resynchronise with 0xFF and `guest-sync-delimited` anyway.

use embedded_io::{ErrorType, Read, ReadReady, Write, WriteReady};

use crate::io::{inb, outb};

const BASE: u16 = 0x3F8;
const RBR_THR: u16 = BASE;
const IER: u16 = BASE + 1;
const IIR_FCR: u16 = BASE + 2;
const LCR: u16 = BASE + 3;
const MCR: u16 = BASE + 4;
const LSR: u16 = BASE + 5;
const SCR: u16 = BASE + 7;

const LSR_DR: u8 = 1 << 0;
const FCR_ENABLE: u8 = 1 << 0;
/// Receive trigger at 14 bytes: QEMU offers up to this many per round.
const FCR_TRIGGER_14: u8 = 0b11 << 6;
const MCR_DTR_RTS_OUT2: u8 = 0x0B;
const MCR_LOOP: u8 = 1 << 4;
const LSR_THRE: u8 = 1 << 5;
const IIR_FIFO_ON: u8 = 0b11 << 6;
const FIFO: usize = 16;

/// COM1, set up for 115200 8N1.
pub struct Com1 {
    /// Bytes the transmitter takes once THRE is set: 16 with FIFOs, else 1.
    tx_room: usize,
}

impl Com1 {
    /// Finds and sets up COM1 (115200 8N1, FIFOs, no interrupts). Bytes
    /// already received are written to `early` (at most 16: the FIFO);
    /// returns the UART and how many.
    pub fn probe(early: &mut [u8; 16]) -> Option<(Com1, usize)> {
        // SAFETY: COM1's registers; this image is their only user. The
        // scratch register has no effect on the UART; the line settings
        // leave received data alone.
        unsafe {
            let old = inb(SCR);
            let present = [0x5A, 0xA5].iter().all(|&v| {
                outb(SCR, v);
                inb(SCR) == v
            });
            outb(SCR, old);
            if !present {
                return None;
            }
            outb(IER, 0);
            // 115200 baud (divisor 1), then 8N1.
            outb(LCR, 0x80);
            outb(RBR_THR, 1);
            outb(IER, 0);
            outb(LCR, 0x03);
            let mut n = 0;
            if inb(IIR_FCR) & IIR_FIFO_ON != IIR_FIFO_ON {
                outb(MCR, MCR_DTR_RTS_OUT2 | MCR_LOOP);
                // Without FIFOs at most one byte waits.
                if inb(LSR) & LSR_DR != 0 {
                    early[0] = inb(RBR_THR);
                    n = 1;
                }
                outb(IIR_FCR, FCR_ENABLE | FCR_TRIGGER_14);
                outb(MCR, MCR_DTR_RTS_OUT2);
                // Ask QEMU for more: reading an empty FIFO gives 0 and
                // wakes its main loop. A byte that raced in is kept.
                if inb(LSR) & LSR_DR == 0 {
                    let b = inb(RBR_THR);
                    if b != 0 {
                        early[n] = b;
                        n += 1;
                    }
                }
            } else {
                outb(MCR, MCR_DTR_RTS_OUT2);
            }
            let fifo = inb(IIR_FCR) & IIR_FIFO_ON == IIR_FIFO_ON;
            Some((
                Com1 {
                    tx_room: if fifo { FIFO } else { 1 },
                },
                n,
            ))
        }
    }

    fn lsr(&self) -> u8 {
        // SAFETY: reading COM1's line status has no side effect we rely on
        // (it clears error bits, which we do not use).
        unsafe { inb(LSR) }
    }
}

impl ErrorType for Com1 {
    type Error = core::convert::Infallible;
}

impl ReadReady for Com1 {
    fn read_ready(&mut self) -> Result<bool, Self::Error> {
        Ok(self.lsr() & LSR_DR != 0)
    }
}

impl Read for Com1 {
    /// Takes what has arrived, at least one byte (waits for it: the agent
    /// asks [`ReadReady`] first).
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let mut n = 0;
        for slot in buf.iter_mut() {
            if self.lsr() & LSR_DR == 0 {
                if n > 0 {
                    break;
                }
                while self.lsr() & LSR_DR == 0 {
                    core::hint::spin_loop();
                }
            }
            // SAFETY: data is ready; reading RBR takes it.
            *slot = unsafe { inb(RBR_THR) };
            n += 1;
        }
        Ok(n)
    }
}

impl WriteReady for Com1 {
    fn write_ready(&mut self) -> Result<bool, Self::Error> {
        Ok(self.lsr() & LSR_THRE != 0)
    }
}

impl Write for Com1 {
    /// Fills the transmit FIFO (waits until it is empty).
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.lsr() & LSR_THRE == 0 {
            core::hint::spin_loop();
        }
        let n = buf.len().min(self.tx_room);
        for &b in &buf[..n] {
            // SAFETY: the transmitter was empty, so it takes `tx_room` bytes.
            unsafe { outb(RBR_THR, b) };
        }
        Ok(n)
    }

    /// Waits until everything is sent.
    fn flush(&mut self) -> Result<(), Self::Error> {
        // Transmitter empty (TEMT, bit 6).
        while self.lsr() & (1 << 6) == 0 {
            core::hint::spin_loop();
        }
        Ok(())
    }
}
