//! The virt machine's PL011 UART at 0x0900_0000, polled, with embedded-io
//! traits.
//!
//! Contract: [`Pl011::new`] runs first thing at boot and switches the FIFOs
//! on (without them QEMU hands over one received byte per main-loop round,
//! about 3.5x slower), unless a byte is already waiting: on QEMU, switching
//! the FIFOs empties the receive side, and reading the byte first makes
//! QEMU hand over the next one at once, which would race with the switch.
//! So when a client is already writing at boot (it stayed connected across
//! a reboot, or connected while the guest was paused) the FIFOs stay off
//! for this boot: slower, but no byte is lost. Otherwise a byte can only be
//! lost if it arrives within the two register accesses of the switch, a
//! few microseconds after the guest starts.

use embedded_io::{ErrorType, Read, ReadReady, Write, WriteReady};

const BASE: usize = 0x0900_0000;
const DR: usize = 0x000;
const FR: usize = 0x018;
const IBRD: usize = 0x024;
const FBRD: usize = 0x028;
const LCR_H: usize = 0x02C;
const CR: usize = 0x030;
const IMSC: usize = 0x038;

const FR_BUSY: u32 = 1 << 3;
const FR_RXFE: u32 = 1 << 4;
const FR_TXFF: u32 = 1 << 5;
/// 8 data bits, no parity, one stop bit.
const LCR_8N1: u32 = 0x60;
/// FIFOs enabled.
const LCR_FEN: u32 = 0x10;
/// UART, transmitter and receiver enabled.
const CR_ENABLE: u32 = 0x301;

/// The UART.
pub struct Pl011(());

fn reg(offset: usize) -> *mut u32 {
    (BASE + offset) as *mut u32
}

fn read(offset: usize) -> u32 {
    // SAFETY: a PL011 register, identity-mapped as device memory; this image
    // is the UART's only user.
    unsafe { core::ptr::read_volatile(reg(offset)) }
}

fn write(offset: usize, value: u32) {
    // SAFETY: as in `read`.
    unsafe { core::ptr::write_volatile(reg(offset), value) }
}

impl Pl011 {
    /// Sets the UART up: 115200 8N1 at QEMU's 24 MHz clock, no
    /// interrupts, FIFOs on unless a byte is waiting (see the module docs).
    /// Returns the UART and whether the FIFOs are on.
    pub fn new() -> (Pl011, bool) {
        write(IMSC, 0);
        write(IBRD, 13);
        write(FBRD, 1);
        let on = read(LCR_H) & LCR_FEN != 0;
        let fifo = on || read(FR) & FR_RXFE != 0;
        write(LCR_H, if fifo { LCR_8N1 | LCR_FEN } else { LCR_8N1 });
        write(CR, CR_ENABLE);
        (Pl011(()), fifo)
    }
}

impl ErrorType for Pl011 {
    type Error = core::convert::Infallible;
}

impl ReadReady for Pl011 {
    fn read_ready(&mut self) -> Result<bool, Self::Error> {
        Ok(read(FR) & FR_RXFE == 0)
    }
}

impl Read for Pl011 {
    /// Takes what has arrived, at least one byte (waits for it: the agent
    /// asks [`ReadReady`] first).
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let mut n = 0;
        for slot in buf.iter_mut() {
            if read(FR) & FR_RXFE != 0 {
                if n > 0 {
                    break;
                }
                while read(FR) & FR_RXFE != 0 {
                    core::hint::spin_loop();
                }
            }
            *slot = read(DR) as u8;
            n += 1;
        }
        Ok(n)
    }
}

impl WriteReady for Pl011 {
    fn write_ready(&mut self) -> Result<bool, Self::Error> {
        Ok(read(FR) & FR_TXFF == 0)
    }
}

impl Write for Pl011 {
    /// Writes while the transmit FIFO has room (waits for the first byte's
    /// room).
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        let mut n = 0;
        for &b in buf {
            if read(FR) & FR_TXFF != 0 {
                if n > 0 {
                    break;
                }
                while read(FR) & FR_TXFF != 0 {
                    core::hint::spin_loop();
                }
            }
            write(DR, u32::from(b));
            n += 1;
        }
        Ok(n)
    }

    /// Waits until everything is sent.
    fn flush(&mut self) -> Result<(), Self::Error> {
        while read(FR) & FR_BUSY != 0 {
            core::hint::spin_loop();
        }
        Ok(())
    }
}

/// Writes a line straight to the UART, for fatal errors only.
pub fn emergency(args: core::fmt::Arguments<'_>) {
    struct Raw;
    impl core::fmt::Write for Raw {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            for b in s.bytes() {
                while read(FR) & FR_TXFF != 0 {}
                write(DR, u32::from(b));
            }
            Ok(())
        }
    }
    let _ = core::fmt::Write::write_fmt(&mut Raw, args);
}
