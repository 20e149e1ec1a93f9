//! The virt machine's PL011 UART at 0x0900_0000, with embedded-io traits
//! and its receive interrupt as the main loop's wake-up.
//!
//! Receiving: QEMU's PL011 raises its receive interrupt as soon as one byte
//! is in the FIFO (it does not model the FIFO trigger levels), and hands
//! over the next byte only after the guest has read one (with the FIFOs
//! off, which they are when a client was writing at boot, one byte at a
//! time). Waking for every byte costs more than the byte, so a read that
//! got bytes keeps reading while the next one follows within
//! [`STREAM_GAP_NS`]: a request in transit goes in at the line's pace, and
//! the loop sleeps on the interrupt again once the line is quiet. Output
//! never waits on QEMU's PL011.
//!
//! Contract: [`Pl011::new`] runs first thing at boot and switches the FIFOs
//! on (without them QEMU hands over one received byte per main-loop round,
//! about 3.5x slower), unless a byte is already waiting: on QEMU, switching
//! the FIFOs empties the receive side, and reading the byte first makes
//! QEMU hand over the next one at once, which would race with the switch.
//! So when a client is already writing at boot (it stayed connected across
//! a reboot, or connected while the guest was paused) the FIFOs stay off
//! until the line has been quiet for 100 ms with nothing waiting (a client
//! waits for its answer, so that is between its requests): about 10x
//! slower input until then, but no byte is lost. Otherwise a byte can only
//! be lost if it arrives within the two register accesses of a switch.

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

/// How long a read waits for the next byte of a stream (QEMU hands one
/// over about every 8 µs while the guest keeps reading).
const STREAM_GAP_NS: u64 = 50_000;
/// How often the stream wait looks at the flags register.
const FR_POLL_NS: u64 = 2_000;
/// Bytes are waiting that the agent did not take (its buffer is full):
/// look again this often rather than wake on the interrupt, which stays
/// asserted while the FIFO is not empty.
const BACKLOG_NS: u64 = 1_000_000;

/// With the FIFOs left off at boot, how long the line must have been quiet
/// before they are switched on (see the module documentation).
const QUIET_FOR_FIFO_NS: u64 = 100_000_000;

/// The UART.
pub struct Pl011 {
    fifo: bool,
    /// When the last byte arrived (uptime).
    last_rx_ns: u64,
}

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
        (
            Pl011 {
                fifo,
                last_rx_ns: 0,
            },
            fifo,
        )
    }
}

/// Receive interrupt (FIFO not empty, on QEMU) and receive timeout.
const IMSC_RX: u32 = (1 << 4) | (1 << 6);

impl Pl011 {
    /// Lets received data raise the UART's interrupt (which only wakes the
    /// main loop: see `gic`).
    pub fn enable_rx_interrupt(&mut self) {
        write(IMSC, IMSC_RX);
    }
}

impl nanoqga_board::serve::SerialPort for Pl011 {
    fn prepare_sleep(&mut self, _output_waiting: bool) -> Option<u64> {
        if read(FR) & FR_RXFE == 0 {
            // Input the agent did not take: the interrupt would not let
            // the loop sleep at all.
            write(IMSC, 0);
            return Some(BACKLOG_NS);
        }
        write(IMSC, IMSC_RX);
        if self.fifo {
            return None;
        }
        let quiet = crate::clock::uptime_ns().saturating_sub(self.last_rx_ns);
        if quiet < QUIET_FOR_FIFO_NS {
            return Some(QUIET_FOR_FIFO_NS - quiet);
        }
        // Quiet and empty: switch the FIFOs on (QEMU empties its receive
        // side on the switch; nothing is there to lose, unless a byte
        // arrives within these two register accesses).
        if read(FR) & FR_RXFE != 0 {
            write(LCR_H, LCR_8N1 | LCR_FEN);
            self.fifo = true;
        }
        None
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
    /// Takes what has arrived, and what follows it closely (see the module
    /// documentation); nothing if nothing has (the agent asks
    /// [`ReadReady`] first).
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let mut n = 0;
        let mut last = 0;
        for slot in buf.iter_mut() {
            if read(FR) & FR_RXFE != 0 {
                if n == 0 {
                    break;
                }
                // Wait a little for the stream's next byte.
                if last == 0 {
                    last = crate::clock::uptime_ns();
                }
                let gap_end = last.saturating_add(STREAM_GAP_NS);
                while read(FR) & FR_RXFE != 0 {
                    let now = crate::clock::uptime_ns();
                    if now > gap_end {
                        self.last_rx_ns = now;
                        return Ok(n);
                    }
                    // Each register read takes QEMU's big lock, which its
                    // main loop needs to hand the byte over: look only every
                    // couple of microseconds (counter reads are free).
                    while crate::clock::uptime_ns() < now + FR_POLL_NS {
                        core::hint::spin_loop();
                    }
                }
                last = crate::clock::uptime_ns();
            }
            *slot = read(DR) as u8;
            n += 1;
        }
        if n > 0 {
            self.last_rx_ns = crate::clock::uptime_ns();
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
