//! The 16550-compatible UART (the PC's COM ports, RISC-V virt's NS16550A),
//! interrupt-driven or polled, over any register access ([`Regs`]: port
//! I/O on x86, MMIO elsewhere).
//!
//! Contract:
//! * [`Ns16550::probe`] answers `None` when no UART answers at the
//!   registers (port reads float to 0xFF under `-nodefaults`). Set-up never discards
//!   received bytes: a client may have written while the guest booted. This
//!   is why the board does not use the `uart_16550` crate here: its `init`
//!   resets the receive FIFO and drains what it holds.
//! * Interrupts are the caller's choice: [`Ns16550::probe`] with an
//!   interrupt line enables the UART's interrupts (the board routes that
//!   line in its interrupt controller); without one (under UEFI, whose
//!   firmware owns the interrupt controller) the UART never interrupts and
//!   the main loop looks at it on the firmware's timer.
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

use crate::serial::{Ring, Uart};

/// Access to a 16550's eight byte registers (0–7).
pub trait Regs {
    /// Reads register `reg`.
    fn read(&self, reg: u8) -> u8;
    /// Writes register `reg`.
    fn write(&self, reg: u8, value: u8);
}

/// Byte registers in memory, one byte apart (`reg-shift` 0).
pub struct Mmio(usize);

impl Mmio {
    /// The registers at `base`.
    ///
    /// # Safety
    /// `base` must be a 16550's register block, mapped as device memory
    /// (identity-mapped), that nothing else uses.
    pub unsafe fn new(base: usize) -> Mmio {
        Mmio(base)
    }
}

impl Regs for Mmio {
    fn read(&self, reg: u8) -> u8 {
        // SAFETY: `new`'s contract: a 16550's registers, ours alone.
        unsafe { core::ptr::read_volatile((self.0 + usize::from(reg)) as *const u8) }
    }

    fn write(&self, reg: u8, value: u8) {
        // SAFETY: as for `read`.
        unsafe { core::ptr::write_volatile((self.0 + usize::from(reg)) as *mut u8, value) }
    }
}

const RBR_THR: u8 = 0;
const IER: u8 = 1;
const IIR_FCR: u8 = 2;
const LCR: u8 = 3;
const MCR: u8 = 4;
const LSR: u8 = 5;
const SCR: u8 = 7;

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
/// DTR, RTS, and OUT2, which connects a PC UART's interrupt to the PIC
/// (elsewhere it is an unused output).
const MCR_DTR_RTS_OUT2: u8 = 0x0B;
const MCR_LOOP: u8 = 1 << 4;
const IIR_FIFO_ON: u8 = 0b11 << 6;
const FIFO: usize = 16;

/// One 16550, set up for 115200 8N1 with FIFOs.
pub struct Ns16550<R: Regs> {
    regs: R,
    name: &'static str,
    /// The line its interrupts go to (`None`: polled, interrupts off).
    irq: Option<u32>,
    /// Bytes the transmitter takes once THRE is set: 16 with FIFOs, else 1.
    tx_room: usize,
    ier: u8,
    /// Bytes taken from the receiver while setting it up, for the first
    /// [`Uart::drain`].
    early: heapless::Vec<u8, 2>,
}

impl<R: Regs> Ns16550<R> {
    /// Finds and sets up the UART at `regs`, called `name` in the trace
    /// (115200 8N1, FIFOs, and with `irq` the data-ready interrupt, which
    /// the caller routes). Bytes already received are kept.
    pub fn probe(regs: R, name: &'static str, irq: Option<u32>) -> Option<Self> {
        // The scratch register has no effect on the UART; the line
        // settings leave received data alone.
        let old = regs.read(SCR);
        let present = [0x5A, 0xA5].iter().all(|&v| {
            regs.write(SCR, v);
            regs.read(SCR) == v
        });
        regs.write(SCR, old);
        if !present {
            return None;
        }
        regs.write(IER, 0);
        // 115200 baud (divisor 1), then 8N1.
        regs.write(LCR, 0x80);
        regs.write(RBR_THR, 1);
        regs.write(IER, 0);
        regs.write(LCR, 0x03);
        let mut uart = Ns16550 {
            regs,
            name,
            irq,
            tx_room: 1,
            ier: 0,
            early: heapless::Vec::new(),
        };
        let r = &uart.regs;
        if r.read(IIR_FCR) & IIR_FIFO_ON != IIR_FIFO_ON {
            r.write(MCR, MCR_DTR_RTS_OUT2 | MCR_LOOP);
            // Without FIFOs at most one byte waits.
            if r.read(LSR) & LSR_DR != 0 {
                let _ = uart.early.push(r.read(RBR_THR));
            }
            r.write(IIR_FCR, FCR_ENABLE | FCR_TRIGGER_14);
            r.write(MCR, MCR_DTR_RTS_OUT2);
            // Ask QEMU for more: reading an empty FIFO gives 0 and wakes
            // its main loop. A byte that raced in is kept.
            if r.read(LSR) & LSR_DR == 0 {
                let b = r.read(RBR_THR);
                if b != 0 {
                    let _ = uart.early.push(b);
                }
            }
        } else {
            // Already on (firmware set it up): only the trigger level
            // changes, which QEMU does without touching the FIFOs.
            r.write(IIR_FCR, FCR_ENABLE | FCR_TRIGGER_14);
            r.write(MCR, MCR_DTR_RTS_OUT2);
        }
        if r.read(IIR_FCR) & IIR_FIFO_ON == IIR_FIFO_ON {
            uart.tx_room = FIFO;
        }
        if uart.irq.is_some() {
            uart.set_ier(IER_RDA);
        }
        Some(uart)
    }

    fn lsr(&self) -> u8 {
        // Reading the line status clears error bits, which are not used.
        self.regs.read(LSR)
    }

    fn set_ier(&mut self, ier: u8) {
        if ier != self.ier && self.irq.is_some() {
            self.ier = ier;
            self.regs.write(IER, ier);
        }
    }
}

impl<R: Regs> Uart for Ns16550<R> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn line(&self) -> Option<u32> {
        self.irq
    }

    fn drain(&mut self, ring: &mut Ring) {
        for b in core::mem::take(&mut self.early) {
            ring.push(b);
        }
        while !ring.is_full() && self.lsr() & LSR_DR != 0 {
            // Data is ready; reading RBR takes it.
            let b = self.regs.read(RBR_THR);
            ring.push(b);
        }
    }

    fn send(&mut self, buf: &[u8]) -> usize {
        if buf.is_empty() || self.lsr() & LSR_THRE == 0 {
            return 0;
        }
        let n = buf.len().min(self.tx_room);
        for &b in &buf[..n] {
            // The transmitter was empty, so it takes `tx_room` bytes.
            self.regs.write(RBR_THR, b);
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
