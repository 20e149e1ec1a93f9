//! Serial ports as a QGA channel: a receive ring per port, and the choice
//! of which of several ports carries the channel.
//!
//! Contract:
//! * A [`Uart`] is one port's driver: it moves received bytes into its
//!   [`Ring`] when asked ([`Uart::drain`]), sends what its transmitter
//!   takes, and arms a transmit-room wake-up if it has one.
//! * [`Ports`] is every port the machine has, as one [`SerialPort`]. With a
//!   single port, that port carries the channel from the start. With
//!   several, the one that most recently received a well-formed request (a
//!   JSON object with a string `execute`, checked by nanoqga's own
//!   envelope) carries it: Proxmox's `agent: type=isa` adds the agent's
//!   port after the serial ports the VM already has, so the agent may be on
//!   COM2 beside a console on COM1. Until one has, nothing is read from any.
//!   When another port receives such a request, the channel moves there
//!   and the agent starts over, as for a new client, with that request
//!   first ([`SerialPort::take_moved`]). Bytes on the other ports that never
//!   form a request (a console, noise) are dropped, and nothing is written
//!   to a port that does not carry the channel.
//! * Two ports that share a wake-up line (COM1 and COM3 share IRQ 4) may
//!   lose edges on QEMU, whose ISA line follows the last writer: the loop
//!   then also looks every 20 ms.

use embedded_io::{ErrorType, Read, ReadReady, Write, WriteReady};
use heapless::Vec;
use nanoqga::error::QgaError;
use nanoqga::json::frame::Frame;
use nanoqga::json::parse::KeySlot;
use nanoqga::receiver::Receiver;

use crate::serve::SerialPort;

/// Received bytes a driver holds for the agent: a whole candidate request
/// can be handed over when the channel moves.
pub const RING: usize = 1024;
/// The longest first request a port that does not carry the channel can
/// make to take it (0xFF + `guest-sync-delimited` is 60 bytes).
pub const CANDIDATE: usize = 512;
/// Ports watched at most.
pub const MAX_PORTS: usize = 4;
/// How often ports that share a wake-up line are looked at without one.
const SHARED_LINE_POLL_NS: u64 = 20_000_000;

/// A byte ring.
pub struct Ring {
    buf: [u8; RING],
    head: usize,
    len: usize,
}

impl Ring {
    /// An empty ring.
    pub const fn new() -> Ring {
        Ring {
            buf: [0; RING],
            head: 0,
            len: 0,
        }
    }

    /// Whether it holds [`RING`] bytes.
    pub fn is_full(&self) -> bool {
        self.len == RING
    }

    /// Bytes held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends a byte (dropped when full).
    pub fn push(&mut self, b: u8) {
        if self.len < RING {
            self.buf[(self.head + self.len) % RING] = b;
            self.len += 1;
        }
    }

    /// Takes the oldest byte.
    pub fn pop(&mut self) -> Option<u8> {
        if self.len == 0 {
            return None;
        }
        let b = self.buf[self.head];
        self.head = (self.head + 1) % RING;
        self.len -= 1;
        Some(b)
    }

    /// Moves held bytes into `buf`; how many.
    pub fn take(&mut self, buf: &mut [u8]) -> usize {
        let mut n = 0;
        for slot in buf.iter_mut() {
            match self.pop() {
                Some(b) => *slot = b,
                None => break,
            }
            n += 1;
        }
        n
    }

    /// Forgets everything held.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Puts `bytes` before what is held; what no longer fits is dropped
    /// from the end (the newest bytes), as [`Ring::push`] drops them.
    pub fn prepend(&mut self, bytes: &[u8]) {
        let bytes = &bytes[..bytes.len().min(RING)];
        self.len = self.len.min(RING - bytes.len()) + bytes.len();
        self.head = (self.head + RING - bytes.len()) % RING;
        for (k, &b) in bytes.iter().enumerate() {
            self.buf[(self.head + k) % RING] = b;
        }
    }
}

impl Default for Ring {
    fn default() -> Self {
        Ring::new()
    }
}

/// One serial port's driver.
pub trait Uart {
    /// The port's name, for the trace (`COM1`).
    fn name(&self) -> &'static str;
    /// The wake-up line the port raises, if ports can share one.
    fn line(&self) -> Option<u32> {
        None
    }
    /// Moves what the hardware received into `ring` (the port's, which
    /// [`Ports`] keeps) while it has room.
    fn drain(&mut self, ring: &mut Ring);
    /// Sends what the transmitter takes now; how many bytes.
    fn send(&mut self, buf: &[u8]) -> usize;
    /// Whether the transmitter takes bytes now.
    fn tx_ready(&mut self) -> bool;
    /// Whether everything sent has left.
    fn tx_idle(&mut self) -> bool;
    /// Arms (or disarms) the wake-up for transmit room.
    fn wake_on_tx_room(&mut self, _on: bool) {}
}

/// A port's framer for requests that would move the channel to it.
struct Candidate {
    rx: Receiver<'static>,
}

/// The memory [`Ports`] works in: each port's receive ring and candidate
/// framer buffer. It lives in a static (5.6 KiB that would otherwise be
/// copied through the boot code's frames).
pub struct Buffers {
    rings: [Ring; MAX_PORTS],
    candidates: [[u8; CANDIDATE]; MAX_PORTS],
}

impl Buffers {
    /// Empty rings and buffers.
    pub const fn new() -> Buffers {
        Buffers {
            rings: [const { Ring::new() }; MAX_PORTS],
            candidates: [[0; CANDIDATE]; MAX_PORTS],
        }
    }
}

impl Default for Buffers {
    fn default() -> Self {
        Buffers::new()
    }
}

/// Every serial port the machine has, as one channel (see the module
/// documentation).
pub struct Ports<U: Uart> {
    ports: Vec<U, MAX_PORTS>,
    /// The ports' receive rings, by index.
    rings: &'static mut [Ring; MAX_PORTS],
    candidates: Vec<Candidate, MAX_PORTS>,
    owner: Option<usize>,
    /// The channel moved since the main loop last asked.
    moved: bool,
    shared_line: bool,
}

impl<U: Uart> Ports<U> {
    /// The ports found (none: `None`), working in `buffers`; with a single
    /// one it carries the channel at once.
    pub fn new(ports: Vec<U, MAX_PORTS>, buffers: &'static mut Buffers) -> Option<Self> {
        if ports.is_empty() {
            return None;
        }
        let Buffers {
            rings,
            candidates: framers,
        } = buffers;
        let mut candidates = Vec::new();
        for b in framers.iter_mut() {
            let _ = candidates.push(Candidate {
                rx: Receiver::new(b),
            });
        }
        let shared_line = ports.iter().enumerate().any(|(i, a)| {
            ports
                .iter()
                .skip(i + 1)
                .any(|b| a.line().is_some() && a.line() == b.line())
        });
        let owner = (ports.len() == 1).then_some(0);
        Some(Ports {
            ports,
            rings,
            candidates,
            owner,
            moved: false,
            shared_line,
        })
    }

    /// The ports' names.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.ports.iter().map(Uart::name)
    }

    /// The port carrying the channel.
    pub fn owner(&self) -> Option<&U> {
        self.owner.and_then(|i| self.ports.get(i))
    }

    /// The port carrying the channel, with its ring.
    fn owner_port(&mut self) -> Option<(&mut U, &mut Ring)> {
        let i = self.owner?;
        Some((self.ports.get_mut(i)?, self.rings.get_mut(i)?))
    }

    /// Every port, by index (e.g. to release them before a handover).
    pub fn ports_mut(&mut self) -> impl Iterator<Item = &mut U> {
        self.ports.iter_mut()
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
            let (Some(port), Some(ring), Some(cand)) = (
                self.ports.get_mut(i),
                self.rings.get_mut(i),
                self.candidates.get_mut(i),
            ) else {
                continue;
            };
            port.drain(ring);
            let n = ring.take(cand.rx.space());
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
        if let Some((old, ring)) = self.owner_port() {
            ring.clear();
            old.wake_on_tx_room(false);
        }
        if let (Some(ring), Some(cand)) = (self.rings.get_mut(i), self.candidates.get_mut(i)) {
            // The request first, then what the port still holds.
            ring.prepend(cand.rx.bytes().get(start..).unwrap_or(&[]));
            cand.rx.reset();
        }
        if let Some(old) = self.owner.and_then(|o| self.candidates.get_mut(o)) {
            old.rx.reset();
        }
        self.owner = Some(i);
        self.moved = true;
    }
}

/// Whether `buf[msg]` is a request nanoqga's envelope accepts.
fn well_formed(buf: &[u8], msg: core::ops::Range<usize>) -> bool {
    let mut keys = [KeySlot::EMPTY; 32];
    let mut err = QgaError::empty();
    nanoqga::envelope::parse(buf, msg, &mut keys, &mut err).is_ok()
}

impl<U: Uart> ErrorType for Ports<U> {
    type Error = core::convert::Infallible;
}

impl<U: Uart> ReadReady for Ports<U> {
    fn read_ready(&mut self) -> Result<bool, Self::Error> {
        Ok(self.owner_port().is_some_and(|(p, ring)| {
            p.drain(ring);
            !ring.is_empty()
        }))
    }
}

impl<U: Uart> Read for Ports<U> {
    /// Takes what has arrived (possibly nothing: the agent asks
    /// [`ReadReady`] first).
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        Ok(self.owner_port().map_or(0, |(p, ring)| {
            p.drain(ring);
            ring.take(buf)
        }))
    }
}

impl<U: Uart> WriteReady for Ports<U> {
    fn write_ready(&mut self) -> Result<bool, Self::Error> {
        // Nobody to answer: output vanishes.
        Ok(self.owner_port().is_none_or(|(p, _)| p.tx_ready()))
    }
}

impl<U: Uart> Write for Ports<U> {
    /// Gives the transmitter what it takes now (possibly nothing).
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        Ok(match self.owner_port() {
            Some((p, _)) => p.send(buf),
            None => buf.len(),
        })
    }

    /// Waits until everything is sent (bounded: used before power-off).
    fn flush(&mut self) -> Result<(), Self::Error> {
        if let Some((p, _)) = self.owner_port() {
            for _ in 0..10_000_000 {
                if p.tx_idle() {
                    break;
                }
                core::hint::spin_loop();
            }
        }
        Ok(())
    }
}

impl<U: Uart> SerialPort for Ports<U> {
    fn service(&mut self) {
        if let Some((p, ring)) = self.owner_port() {
            p.drain(ring);
        }
        self.scan();
    }

    fn prepare_sleep(&mut self, output_waiting: bool) -> Option<u64> {
        if let Some((p, _)) = self.owner_port() {
            p.wake_on_tx_room(output_waiting);
        }
        self.shared_line.then_some(SHARED_LINE_POLL_NS)
    }

    fn take_moved(&mut self) -> bool {
        core::mem::take(&mut self.moved)
    }

    fn port_name(&self) -> &'static str {
        self.owner().map_or("no serial port", Uart::name)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::{RING, Ring};

    fn drain(r: &mut Ring) -> std::vec::Vec<u8> {
        let mut out = std::vec::Vec::new();
        while let Some(b) = r.pop() {
            out.push(b);
        }
        out
    }

    #[test]
    fn ring_holding_bytes_prepended_a_request_yields_the_request_first() {
        let mut r = Ring::new();
        // Wrap the head around the end first.
        for _ in 0..RING - 3 {
            r.push(0);
        }
        while r.pop().is_some() {}
        r.push(b'x');
        r.push(b'y');
        r.prepend(b"{req}");
        assert_eq!(drain(&mut r), b"{req}xy");
    }

    #[test]
    fn full_ring_prepended_drops_its_newest_bytes() {
        let mut r = Ring::new();
        for i in 0..RING {
            r.push(i as u8);
        }
        r.prepend(b"abc");
        let out = drain(&mut r);
        assert_eq!(out.len(), RING);
        assert_eq!(&out[..3], b"abc");
        assert_eq!(
            out[3..],
            (0..RING - 3).map(|i| i as u8).collect::<std::vec::Vec<_>>()[..]
        );
    }

    #[test]
    fn empty_ring_prepended_more_than_it_holds_keeps_the_first_ring_of_bytes() {
        let mut r = Ring::new();
        let long: std::vec::Vec<u8> = (0..RING + 10).map(|i| i as u8).collect();
        r.prepend(&long);
        assert_eq!(drain(&mut r), long[..RING]);
    }
}
