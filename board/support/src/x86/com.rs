//! The PC's serial ports COM1–COM4 (16550s), interrupt-driven or polled,
//! with embedded-io traits.
//!
//! Contract:
//! * [`Com::probe`] answers `None` when no UART is at an address (port
//!   reads float to 0xFF under `-nodefaults`). Set-up never discards
//!   received bytes: a client may have written while the guest booted. This
//!   is why the board does not use the `uart_16550` crate here: its `init`
//!   resets the receive FIFO and drains what it holds.
//! * Interrupts are the caller's choice: [`Com::probe`] with an IRQ enables
//!   the UART's interrupts (the bare-metal board unmasks that line in its
//!   PIC); without one (under UEFI, whose firmware owns the interrupt
//!   controller) the UART never interrupts and the main loop polls it on
//!   the firmware's timer.
//! * Receiving: the data-ready interrupt wakes the main loop, which drains
//!   the FIFO completely into the port's ring on every round
//!   (`SerialPort::service`). QEMU refills a 16550's FIFO only after the
//!   guest has emptied it, and only as many bytes as the trigger level (14),
//!   so how fast a request goes in depends on how soon each refill is taken.
//! * Sending: the transmit FIFO is filled while it is empty; when the agent
//!   has output the UART did not take, the THR-empty interrupt is armed
//!   (`SerialPort::prepare_sleep`) and disarmed once the output is
//!   gone (it would otherwise keep firing while the transmitter is idle).
//! * Several ports: `nanoqga_board::serial::Ports` chooses the one that
//!   carries the channel (the one that last received a well-formed
//!   request).
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

use super::io::{inb, outb};
use crate::serial::{Ring, Uart};

/// The four PC serial ports: (I/O base, IRQ).
pub const PORTS: [(u16, u8); 4] = [(0x3F8, 4), (0x2F8, 3), (0x3E8, 4), (0x2E8, 3)];

const RBR_THR: u16 = 0;
const IER: u16 = 1;
const IIR_FCR: u16 = 2;
const LCR: u16 = 3;
const MCR: u16 = 4;
const LSR: u16 = 5;
const SCR: u16 = 7;

const IER_RDA: u8 = 1 << 0;
const IER_THRE: u8 = 1 << 1;
const LSR_DR: u8 = 1 << 0;
const LSR_THRE: u8 = 1 << 5;
const LSR_TEMT: u8 = 1 << 6;
const FCR_ENABLE: u8 = 1 << 0;
/// Receive trigger at 14 bytes: QEMU offers as many bytes per refill as
/// the trigger level, so a higher level moves more per round trip. A
/// request's tail shorter than that raises the character-timeout interrupt
/// (four character times later) instead.
const FCR_TRIGGER_14: u8 = 0b11 << 6;
/// DTR, RTS, and OUT2, which connects the UART's interrupt to the PIC.
const MCR_DTR_RTS_OUT2: u8 = 0x0B;
const MCR_LOOP: u8 = 1 << 4;
const IIR_FIFO_ON: u8 = 0b11 << 6;
const FIFO: usize = 16;

/// One 16550, set up for 115200 8N1 with FIFOs.
pub struct Com {
    base: u16,
    /// The IRQ its interrupts go to (`None`: polled, interrupts off).
    irq: Option<u8>,
    /// Bytes the transmitter takes once THRE is set: 16 with FIFOs, else 1.
    tx_room: usize,
    ier: u8,
    ring: Ring,
}

impl Com {
    /// Finds and sets up the UART at `base` (115200 8N1, FIFOs, and with
    /// `irq` the data-ready interrupt, which the caller routes). Bytes
    /// already received are kept.
    pub fn probe(base: u16, irq: Option<u8>) -> Option<Com> {
        // SAFETY: a PC serial port's registers; this image is their only
        // user. The scratch register has no effect on the UART; the line
        // settings leave received data alone.
        unsafe {
            let old = inb(base + SCR);
            let present = [0x5A, 0xA5].iter().all(|&v| {
                outb(base + SCR, v);
                inb(base + SCR) == v
            });
            outb(base + SCR, old);
            if !present {
                return None;
            }
            outb(base + IER, 0);
            // 115200 baud (divisor 1), then 8N1.
            outb(base + LCR, 0x80);
            outb(base + RBR_THR, 1);
            outb(base + IER, 0);
            outb(base + LCR, 0x03);
        }
        let mut com = Com {
            base,
            irq,
            tx_room: 1,
            ier: 0,
            ring: Ring::new(),
        };
        // SAFETY: as above.
        unsafe {
            if inb(base + IIR_FCR) & IIR_FIFO_ON != IIR_FIFO_ON {
                outb(base + MCR, MCR_DTR_RTS_OUT2 | MCR_LOOP);
                // Without FIFOs at most one byte waits.
                if inb(base + LSR) & LSR_DR != 0 {
                    com.ring.push(inb(base + RBR_THR));
                }
                outb(base + IIR_FCR, FCR_ENABLE | FCR_TRIGGER_14);
                outb(base + MCR, MCR_DTR_RTS_OUT2);
                // Ask QEMU for more: reading an empty FIFO gives 0 and
                // wakes its main loop. A byte that raced in is kept.
                if inb(base + LSR) & LSR_DR == 0 {
                    let b = inb(base + RBR_THR);
                    if b != 0 {
                        com.ring.push(b);
                    }
                }
            } else {
                // Already on (firmware set it up): only the trigger level
                // changes, which QEMU does without touching the FIFOs.
                outb(base + IIR_FCR, FCR_ENABLE | FCR_TRIGGER_14);
                outb(base + MCR, MCR_DTR_RTS_OUT2);
            }
            if inb(base + IIR_FCR) & IIR_FIFO_ON == IIR_FIFO_ON {
                com.tx_room = FIFO;
            }
        }
        if com.irq.is_some() {
            com.set_ier(IER_RDA);
        }
        Some(com)
    }

    fn lsr(&self) -> u8 {
        // SAFETY: reading the line status has no side effect we rely on (it
        // clears error bits, which we do not use).
        unsafe { inb(self.base + LSR) }
    }

    fn set_ier(&mut self, ier: u8) {
        if ier != self.ier && self.irq.is_some() {
            self.ier = ier;
            // SAFETY: the interrupt enable register of this port.
            unsafe { outb(self.base + IER, ier) };
        }
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

impl Uart for Com {
    fn name(&self) -> &'static str {
        name(self.base)
    }

    fn line(&self) -> Option<u32> {
        self.irq.map(u32::from)
    }

    fn ring(&mut self) -> &mut Ring {
        &mut self.ring
    }

    fn drain(&mut self) {
        while !self.ring.is_full() && self.lsr() & LSR_DR != 0 {
            // SAFETY: data is ready; reading RBR takes it.
            let b = unsafe { inb(self.base + RBR_THR) };
            self.ring.push(b);
        }
    }

    fn send(&mut self, buf: &[u8]) -> usize {
        if buf.is_empty() || self.lsr() & LSR_THRE == 0 {
            return 0;
        }
        let n = buf.len().min(self.tx_room);
        for &b in &buf[..n] {
            // SAFETY: the transmitter was empty, so it takes `tx_room` bytes.
            unsafe { outb(self.base + RBR_THR, b) };
        }
        n
    }

    fn tx_ready(&mut self) -> bool {
        self.lsr() & LSR_THRE != 0
    }

    fn tx_idle(&mut self) -> bool {
        self.lsr() & LSR_TEMT != 0
    }

    /// Armed whenever output waits: if the transmitter is already empty the
    /// interrupt is raised at once, so the sleep ends at once.
    fn wake_on_tx_room(&mut self, on: bool) {
        self.set_ier(if on { IER_RDA | IER_THRE } else { IER_RDA });
    }
}
