//! The PC's serial ports COM1–COM4 (16550s), interrupt-driven, with
//! embedded-io traits.
//!
//! Contract:
//! * [`Com::probe`] answers `None` when no UART is at an address (port
//!   reads float to 0xFF under `-nodefaults`). Set-up never discards
//!   received bytes: a client may have written while the guest booted. This
//!   is why the board does not use the `uart_16550` crate here: its `init`
//!   resets the receive FIFO and drains what it holds.
//! * Receiving: the data-ready interrupt wakes the main loop, which drains
//!   the FIFO completely into the port's ring on every round
//!   ([`SerialPort::service`]). QEMU refills a 16550's FIFO only after the
//!   guest has emptied it, and only as many bytes as the trigger level (14),
//!   so how fast a request goes in depends on how soon each refill is taken.
//! * Sending: the transmit FIFO is filled while it is empty; when the agent
//!   has output the UART did not take, the THR-empty interrupt is armed
//!   ([`SerialPort::prepare_sleep`]) and disarmed once the output is
//!   gone (it would otherwise keep firing while the transmitter is idle).
//! * Several ports ([`ComPorts`]): Proxmox's `agent: type=isa` adds the
//!   agent's `isa-serial` after the serial ports the VM already has, so the
//!   agent may be on COM2. Every port that exists is watched; the one that
//!   most recently received a well-formed request (a JSON object with a
//!   string `execute`, checked by nanoqga's own envelope) carries the
//!   channel. Until one has, nothing is read from any. When another port
//!   receives such a request, the channel moves there and the agent starts
//!   over, as for a new client, with that request first. Bytes on the
//!   other ports that never form a request (a console, noise) are dropped.
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
use heapless::Vec;
use nanoqga::error::QgaError;
use nanoqga::json::frame::Frame;
use nanoqga::json::parse::KeySlot;
use nanoqga::receiver::Receiver;
use nanoqga_board::serve::SerialPort;

use crate::io::{inb, outb};
use crate::irq;

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

/// Received bytes the driver holds for the agent: a whole candidate
/// request can be handed over when the channel moves (see [`ComPorts`]).
const RING: usize = 1024;
/// The longest first request a port that does not carry the channel can
/// make to take it (0xFF + `guest-sync-delimited` is 60 bytes).
pub const CANDIDATE: usize = 512;

/// A byte ring.
struct Ring {
    buf: [u8; RING],
    head: usize,
    len: usize,
}

impl Ring {
    const fn new() -> Ring {
        Ring {
            buf: [0; RING],
            head: 0,
            len: 0,
        }
    }

    fn is_full(&self) -> bool {
        self.len == RING
    }

    fn push(&mut self, b: u8) {
        if self.len < RING {
            self.buf[(self.head + self.len) % RING] = b;
            self.len += 1;
        }
    }

    fn pop(&mut self) -> Option<u8> {
        if self.len == 0 {
            return None;
        }
        let b = self.buf[self.head];
        self.head = (self.head + 1) % RING;
        self.len -= 1;
        Some(b)
    }

    fn clear(&mut self) {
        self.len = 0;
    }
}

/// One 16550, set up for 115200 8N1 with FIFOs.
pub struct Com {
    base: u16,
    irq: u8,
    /// Bytes the transmitter takes once THRE is set: 16 with FIFOs, else 1.
    tx_room: usize,
    ier: u8,
    ring: Ring,
}

impl Com {
    /// Finds and sets up the UART at `base` (115200 8N1, FIFOs, the
    /// data-ready interrupt on IRQ `irq`). Bytes already received are kept.
    pub fn probe(base: u16, irq: u8) -> Option<Com> {
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
                outb(base + MCR, MCR_DTR_RTS_OUT2);
            }
            if inb(base + IIR_FCR) & IIR_FIFO_ON == IIR_FIFO_ON {
                com.tx_room = FIFO;
            }
        }
        com.set_ier(IER_RDA);
        irq::enable(irq);
        Some(com)
    }

    /// The port's I/O base.
    pub fn base(&self) -> u16 {
        self.base
    }

    fn lsr(&self) -> u8 {
        // SAFETY: reading the line status has no side effect we rely on (it
        // clears error bits, which we do not use).
        unsafe { inb(self.base + LSR) }
    }

    fn set_ier(&mut self, ier: u8) {
        if ier != self.ier {
            self.ier = ier;
            // SAFETY: the interrupt enable register of this port.
            unsafe { outb(self.base + IER, ier) };
        }
    }

    /// Moves received bytes from the FIFO into the ring while it has room.
    fn drain(&mut self) {
        while !self.ring.is_full() && self.lsr() & LSR_DR != 0 {
            // SAFETY: data is ready; reading RBR takes it.
            let b = unsafe { inb(self.base + RBR_THR) };
            self.ring.push(b);
        }
    }

    fn readable(&mut self) -> bool {
        self.drain();
        self.ring.len > 0
    }

    fn take(&mut self, buf: &mut [u8]) -> usize {
        self.drain();
        let mut n = 0;
        for slot in buf.iter_mut() {
            match self.ring.pop() {
                Some(b) => *slot = b,
                None => break,
            }
            n += 1;
        }
        n
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
}

/// A port's framer for requests that would move the channel to it.
struct Candidate {
    rx: Receiver<'static>,
}

/// Every serial port the machine has; the one that last received a
/// well-formed request carries the channel (see the module documentation).
pub struct ComPorts {
    ports: Vec<Com, 4>,
    candidates: Vec<Candidate, 4>,
    owner: Option<usize>,
    /// The channel moved since the main loop last asked.
    moved: bool,
    /// Two ports share an IRQ: QEMU's ISA line is then the last writer's
    /// level, so edges can be lost; the loop also looks now and then.
    shared_irq: bool,
}

/// How often ports that share an IRQ are looked at without an interrupt.
const SHARED_IRQ_POLL_NS: u64 = 20_000_000;

impl ComPorts {
    /// The ports found; with a single one it carries the channel at once.
    /// `buffers` are the candidate framers' buffers, one per port.
    pub fn new(ports: Vec<Com, 4>, buffers: &'static mut [[u8; CANDIDATE]; 4]) -> Option<ComPorts> {
        if ports.is_empty() {
            return None;
        }
        let mut candidates = Vec::new();
        for b in buffers.iter_mut() {
            let _ = candidates.push(Candidate {
                rx: Receiver::new(b),
            });
        }
        let shared_irq = ports
            .iter()
            .enumerate()
            .any(|(i, a)| ports.iter().skip(i + 1).any(|b| b.irq == a.irq));
        let owner = (ports.len() == 1).then_some(0);
        Some(ComPorts {
            ports,
            candidates,
            owner,
            moved: false,
            shared_irq,
        })
    }

    /// The ports found, by I/O base.
    pub fn bases(&self) -> impl Iterator<Item = u16> + '_ {
        self.ports.iter().map(Com::base)
    }

    /// The port carrying the channel, by I/O base.
    pub fn owner(&self) -> Option<u16> {
        self.owner.and_then(|i| self.ports.get(i)).map(Com::base)
    }

    /// Frames what the ports without the channel received; a well-formed
    /// request moves the channel to its port.
    fn scan(&mut self) {
        if self.ports.len() < 2 {
            return;
        }
        for i in 0..self.ports.len() {
            if Some(i) == self.owner {
                continue;
            }
            let (Some(port), Some(cand)) = (self.ports.get_mut(i), self.candidates.get_mut(i))
            else {
                continue;
            };
            let space = cand.rx.space();
            let n = port.take(space);
            cand.rx.commit(n);
            while let Some(frame) = cand.rx.peek(nanoqga::config::DEFAULT_MAX_DEPTH) {
                if let Frame::Message { start, end } = frame
                    && well_formed(cand.rx.bytes(), start..end)
                {
                    self.take_over(i, start);
                    return;
                }
                cand.rx.accept();
                cand.rx.release();
            }
        }
    }

    /// Moves the channel to port `i`, whose candidate buffer holds its
    /// request from `start` on.
    fn take_over(&mut self, i: usize, start: usize) {
        if let Some(old) = self.owner.and_then(|o| self.ports.get_mut(o)) {
            old.ring.clear();
            old.set_ier(IER_RDA);
        }
        if let (Some(port), Some(cand)) = (self.ports.get_mut(i), self.candidates.get_mut(i)) {
            // The request first, then what the FIFO still holds.
            let mut pending = Ring::new();
            for &b in cand.rx.bytes().get(start..).unwrap_or(&[]) {
                pending.push(b);
            }
            while let Some(b) = port.ring.pop() {
                pending.push(b);
            }
            port.ring = pending;
            cand.rx.reset();
        }
        if let Some(old) = self.owner.and_then(|o| self.candidates.get_mut(o)) {
            old.rx.reset();
        }
        self.owner = Some(i);
        self.moved = true;
    }

    fn owner_port(&mut self) -> Option<&mut Com> {
        self.owner.and_then(|i| self.ports.get_mut(i))
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

/// Whether `buf[msg]` is a request nanoqga's envelope accepts.
fn well_formed(buf: &[u8], msg: core::ops::Range<usize>) -> bool {
    let mut keys = [KeySlot::EMPTY; 32];
    let mut err = QgaError::empty();
    nanoqga::envelope::parse(buf, msg, &mut keys, &mut err).is_ok()
}

impl ErrorType for ComPorts {
    type Error = core::convert::Infallible;
}

impl ReadReady for ComPorts {
    fn read_ready(&mut self) -> Result<bool, Self::Error> {
        Ok(self.owner_port().is_some_and(Com::readable))
    }
}

impl Read for ComPorts {
    /// Takes what has arrived (possibly nothing: the agent asks
    /// [`ReadReady`] first).
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        Ok(self.owner_port().map_or(0, |p| p.take(buf)))
    }
}

impl WriteReady for ComPorts {
    fn write_ready(&mut self) -> Result<bool, Self::Error> {
        Ok(match self.owner_port() {
            Some(p) => p.lsr() & LSR_THRE != 0,
            // Nobody to answer: output vanishes.
            None => true,
        })
    }
}

impl Write for ComPorts {
    /// Fills the transmit FIFO if it is empty (else takes nothing).
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        Ok(match self.owner_port() {
            Some(p) => p.send(buf),
            None => buf.len(),
        })
    }

    /// Waits until everything is sent (bounded: used before power-off).
    fn flush(&mut self) -> Result<(), Self::Error> {
        if let Some(p) = self.owner_port() {
            for _ in 0..10_000_000 {
                if p.lsr() & LSR_TEMT != 0 {
                    break;
                }
                core::hint::spin_loop();
            }
        }
        Ok(())
    }
}

impl SerialPort for ComPorts {
    fn service(&mut self) {
        if let Some(p) = self.owner_port() {
            p.drain();
        }
        self.scan();
    }

    fn prepare_sleep(&mut self, output_waiting: bool) -> Option<u64> {
        // THRE is armed whenever output waits: if the transmitter is
        // already empty the interrupt is raised at once, so the sleep ends
        // at once.
        if let Some(p) = self.owner_port() {
            p.set_ier(if output_waiting {
                IER_RDA | IER_THRE
            } else {
                IER_RDA
            });
        }
        self.shared_irq.then_some(SHARED_IRQ_POLL_NS)
    }

    fn take_moved(&mut self) -> bool {
        core::mem::take(&mut self.moved)
    }

    fn port_name(&self) -> &'static str {
        self.owner().map_or("no serial port", name)
    }
}
