//! A heap-free virtio console driver with MULTIPORT, serving the port named
//! `org.qemu.guest_agent.0`. It is polled from the board's main loop; used
//! buffers raise the device's interrupt, which only wakes that loop
//! ([`VirtioConsole::poll`] acknowledges it).
//!
//! virtio-drivers' own console is single-port and waits on the device to send;
//! this one speaks the multiport control protocol (virtio spec, "Console
//! Device"; QEMU `hw/char/virtio-serial-bus.c`) and never waits:
//!
//! 1. Negotiate MULTIPORT (and VERSION_1); set up the control queues and the
//!    data queues of ports `0..MAX_PORTS` before DRIVER_OK.
//! 2. Post control receive buffers, then DRIVER_OK, then DEVICE_READY: QEMU
//!    drops control messages when no buffer is posted, and sends PORT_ADD for
//!    every port at once.
//! 3. Answer each PORT_ADD with PORT_READY, so QEMU sends the port's name
//!    (PORT_NAME), a CONSOLE_PORT for virtconsoles, and PORT_OPEN if the host
//!    side is connected. One PORT_READY is outstanding at a time, so the
//!    replies always find receive buffers.
//! 4. The port named [`AGENT_PORT`] is served: its receive buffers are posted
//!    and the guest side is opened (PORT_OPEN 1), which QEMU reports to
//!    management as `VSERPORT_CHANGE open: true` (libvirt waits for it).
//!    The receive queue is kicked once more after the open is sent: under
//!    TCG nothing else makes QEMU read a client that connected before.
//!    Console ports are opened as the spec requires; other ports are left
//!    alone.
//! 5. A host hang-up (PORT_OPEN 0 on the served port) discards what the
//!    old client sent and [`VirtioConsole::take_hangup`] tells the board,
//!    which resets the agent. Only data provably older than the hang-up is
//!    dropped: control and data travel on separate queues, so after seeing
//!    the hang-up the driver drains the data queue once more and then checks
//!    that the control queue is still quiet. A new client's data needs a
//!    PORT_OPEN 1 queued *before* it, so a quiet control queue proves that
//!    every received byte is the old client's. If a reconnect raced in,
//!    nothing is dropped and the new client resyncs with 0xFF, exactly as it
//!    must with qemu-ga (which never learns of hang-ups on virtio-serial).
//!    A reset after a hang-up (to get back a transmit buffer QEMU keeps)
//!    first closes the guest side and waits for QEMU to take the close, so
//!    bytes of a client that connected meanwhile are never reset away.
//!
//! Without MULTIPORT (`-device virtio-serial,max_ports=1` with a
//! `virtconsole`), port 0 is served directly.
//!
//! Never blocking: a throttled port (host connected but not reading) keeps
//! our transmit buffers; then `write_ready` is false and the agent waits
//! instead of spinning. All memory (rings and buffers) comes from the DMA
//! arena ([`crate::dma`]) at start-up.

use heapless::Deque;
use virtio_drivers::queue::VirtQueue;
use virtio_drivers::transport::{DeviceStatus, DeviceType, Transport};

use crate::dma::{self, Dma};

/// The port the agent serves.
pub const AGENT_PORT: &[u8] = b"org.qemu.guest_agent.0";

/// Ports with data queues (0 ..= 7). An agent port numbered higher is not
/// served (libvirt and Proxmox use port 1).
pub const MAX_PORTS: usize = 8;

/// Ring size of every queue (descriptors).
const QUEUE: usize = 8;
/// Alignment of data and control buffers.
const BUF_ALIGN: usize = 16;
/// Control receive buffers (each holds a message and a port name).
const CTRL_RX: usize = 8;
const CTRL_RX_LEN: usize = 256;
/// Control transmit buffers.
const CTRL_TX: usize = 4;
/// How many times a hang-up's reset looks for QEMU to have taken the
/// guest-side close (each look reads the used ring; QEMU under TCG takes
/// it before the first).
const CLOSE_WAIT_POLLS: usize = 100_000;
/// Data receive buffers of the served port.
const DATA_RX: usize = 4;
const DATA_RX_LEN: usize = 1024;
/// Data transmit buffers of the served port.
const DATA_TX: usize = 4;
const DATA_TX_LEN: usize = 2048;

const MULTIPORT: u64 = 1 << 1;
const VERSION_1: u64 = 1 << 32;

const DEVICE_READY: u16 = 0;
const PORT_ADD: u16 = 1;
const PORT_REMOVE: u16 = 2;
const PORT_READY: u16 = 3;
const CONSOLE_PORT: u16 = 4;
const PORT_OPEN: u16 = 6;
const PORT_NAME: u16 = 7;

bitflags::bitflags! {
    /// The feature bits this driver negotiates.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    struct Features: u64 {
        const MULTIPORT = MULTIPORT;
        const VERSION_1 = VERSION_1;
    }
}

/// Why the driver could not start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The device is not a console.
    NotConsole,
    /// The DMA arena is too small.
    OutOfDma,
    /// virtio-drivers refused a queue.
    Queue(u16),
}

/// Buffers of one queue: each is `&'static mut` memory in the DMA arena;
/// `posted` remembers which buffer each device token owns, in order.
struct Ring<const N: usize> {
    queue: VirtQueue<Dma, QUEUE>,
    index: u16,
    bufs: [&'static mut [u8]; N],
    posted: Deque<(u16, u8), N>,
}

impl<const N: usize> Ring<N> {
    fn new<T: Transport>(t: &mut T, index: u16, len: usize) -> Result<Self, Error> {
        let queue = VirtQueue::new(t, index, false, false).map_err(|_| Error::Queue(index))?;
        Self::with_queue(queue, index, len)
    }

    fn with_queue(mut queue: VirtQueue<Dma, QUEUE>, index: u16, len: usize) -> Result<Self, Error> {
        // Used buffers interrupt: the board sleeps until one arrives.
        queue.set_dev_notify(true);
        Ok(Ring {
            queue,
            index,
            bufs: alloc_bufs(len)?,
            posted: Deque::new(),
        })
    }

    /// Gives buffer `i` to the device to fill.
    fn post_rx(&mut self, i: usize) -> bool {
        let Some(buf) = self.bufs.get_mut(i) else {
            return false;
        };
        // SAFETY: the buffer is arena memory owned by this ring; it is not
        // touched again until `pop` returns it with the same token.
        let token = match unsafe { self.queue.add(&[], &mut [&mut **buf]) } {
            Ok(t) => t,
            Err(_) => return false,
        };
        self.posted.push_back((token, i as u8)).is_ok()
    }

    /// Sends the first `len` bytes of buffer `i`.
    fn post_tx(&mut self, i: usize, len: usize) -> bool {
        let Some(buf) = self.bufs.get(i) else {
            return false;
        };
        let data = &buf[..len.min(buf.len())];
        // SAFETY: as in `post_rx`; the device only reads these bytes.
        let token = match unsafe { self.queue.add(&[data], &mut []) } {
            Ok(t) => t,
            Err(_) => return false,
        };
        self.posted.push_back((token, i as u8)).is_ok()
    }

    /// Gives the buffers back to the arena (the device must be reset).
    fn free(self) {
        for b in self.bufs {
            dma::free(b, BUF_ALIGN);
        }
    }

    /// Takes back the next buffer the device finished: (buffer, length).
    /// Buffers posted before it and not returned are lost (QEMU finishes a
    /// queue's buffers in order, so a skipped one was dropped by the
    /// device); they are forgotten and `lost` counts them.
    fn pop(&mut self, lost: &mut usize) -> Option<(usize, usize)> {
        let token = self.queue.peek_used()?;
        let at = self.posted.iter().position(|&(t, _)| t == token)?;
        for _ in 0..at {
            self.posted.pop_front();
            *lost = lost.saturating_add(1);
        }
        let &(_, i) = self.posted.front()?;
        let i = usize::from(i);
        let buf = self.bufs.get_mut(i)?;
        let len = if self.index.is_multiple_of(2) {
            // SAFETY: `token` was returned by `add` for exactly this buffer,
            // as a receive buffer; the device is done with it.
            unsafe { self.queue.pop_used(token, &[], &mut [&mut **buf]) }
        } else {
            // SAFETY: as above, as a transmit buffer.
            unsafe { self.queue.pop_used(token, &[&**buf], &mut []) }
        };
        self.posted.pop_front();
        len.ok().map(|l| (i, l as usize))
    }

    fn notify<T: Transport>(&mut self, t: &mut T) {
        if self.queue.should_notify() {
            t.notify(self.index);
        }
    }
}

/// A control message: port id, event, value (little-endian).
fn ctrl_message(id: u32, event: u16, value: u16) -> [u8; 8] {
    let mut m = [0u8; 8];
    m[..4].copy_from_slice(&id.to_le_bytes());
    m[4..6].copy_from_slice(&event.to_le_bytes());
    m[6..].copy_from_slice(&value.to_le_bytes());
    m
}

/// Receive queue index of port `p`.
fn rx_queue(p: usize) -> u16 {
    if p == 0 { 0 } else { (4 + 2 * (p - 1)) as u16 }
}

/// Port state learned from the control queue.
#[derive(Clone, Copy, Default)]
struct Port {
    added: bool,
    console: bool,
    agent: bool,
}

/// The driver.
pub struct VirtioConsole<T: Transport> {
    transport: T,
    multiport: bool,
    ctrl_rx: Option<Ring<CTRL_RX>>,
    ctrl_tx: Option<Ring<CTRL_TX>>,
    /// Data queues of ports 0..MAX_PORTS: (rx, tx) set up at start.
    queues: [Option<(VirtQueue<Dma, QUEUE>, VirtQueue<Dma, QUEUE>)>; MAX_PORTS],
    ports: [Port; MAX_PORTS],
    /// PORT_READY still to send, oldest first.
    ready_todo: Deque<u32, MAX_PORTS>,
    /// Waiting for QEMU's replies to a PORT_READY.
    ready_pending: bool,
    /// Control messages waiting for a transmit buffer.
    ctrl_out: Deque<[u8; 8], 16>,
    /// The served port and its rings.
    served: Option<(usize, Ring<DATA_RX>, Ring<DATA_TX>)>,
    free_tx: Deque<u8, DATA_TX>,
    /// Received bytes: (buffer, length, consumed).
    received: Deque<(u8, u16, u16), DATA_RX>,
    host_open: bool,
    /// The host connected (for the board's trace).
    new_client: bool,
    /// The host hung up; input is gated until the board takes it.
    hangup: bool,
    /// Transmit buffers the device kept (QEMU drops a throttled buffer
    /// without returning it when the host hangs up).
    lost_tx: usize,
    /// Recent control messages (id, event, value), for the board's trace.
    log: Deque<(u32, u16, u16), 16>,
}

impl<T: Transport> VirtioConsole<T> {
    /// Negotiates, sets up the queues and starts the device, in `slot`
    /// (the driver is a few KiB; built in place it is never copied on the
    /// stack). On error the slot is left empty.
    pub fn new_in(slot: &mut Option<Self>, transport: T) -> Result<&mut Self, Error> {
        if transport.device_type() != DeviceType::Console {
            return Err(Error::NotConsole);
        }
        let con = slot.insert(VirtioConsole {
            transport,
            multiport: false,
            ctrl_rx: None,
            ctrl_tx: None,
            queues: [const { None }; MAX_PORTS],
            ports: [Port::default(); MAX_PORTS],
            ready_todo: Deque::new(),
            ready_pending: false,
            ctrl_out: Deque::new(),
            served: None,
            free_tx: Deque::new(),
            received: Deque::new(),
            host_open: false,
            new_client: false,
            hangup: false,
            lost_tx: 0,
            log: Deque::new(),
        });
        if let Err(e) = con.start() {
            con.stop();
            *slot = None;
            return Err(e);
        }
        slot.as_mut().ok_or(Error::NotConsole)
    }

    fn start(&mut self) -> Result<(), Error> {
        let features = self
            .transport
            .begin_init(Features::MULTIPORT | Features::VERSION_1);
        self.multiport = features.contains(Features::MULTIPORT);
        let ports = if self.multiport {
            // max_nr_ports: config offset 4.
            let n: u32 = self.transport.read_config_space(4).unwrap_or(1);
            (n as usize).clamp(1, MAX_PORTS)
        } else {
            1
        };
        for p in 0..ports {
            let rx = rx_queue(p);
            let r = VirtQueue::new(&mut self.transport, rx, false, false)
                .map_err(|_| Error::Queue(rx))?;
            let t = VirtQueue::new(&mut self.transport, rx + 1, false, false)
                .map_err(|_| Error::Queue(rx + 1))?;
            self.queues[p] = Some((r, t));
        }
        if self.multiport {
            self.ctrl_rx = Some(Ring::new(&mut self.transport, 2, CTRL_RX_LEN)?);
            self.ctrl_tx = Some(Ring::new(&mut self.transport, 3, 64)?);
        }
        self.host_open = !self.multiport;
        if let Some(rx) = self.ctrl_rx.as_mut() {
            for i in 0..CTRL_RX {
                rx.post_rx(i);
            }
            rx.notify(&mut self.transport);
        }
        if !self.multiport {
            self.serve(0)?;
        }
        self.transport.finish_init();
        if self.multiport {
            self.send_ctrl(0, DEVICE_READY, 1);
        }
        self.poll();
        Ok(())
    }

    /// Resets the device and gives every ring and buffer back to the arena.
    fn stop(&mut self) {
        // After the reset the device no longer touches any of our memory.
        self.transport.set_status(DeviceStatus::empty());
        if let Some(r) = self.ctrl_rx.take() {
            r.free();
        }
        if let Some(r) = self.ctrl_tx.take() {
            r.free();
        }
        if let Some((_, rx, tx)) = self.served.take() {
            rx.free();
            tx.free();
        }
        for q in self.queues.iter_mut() {
            *q = None;
        }
        self.ports = [Port::default(); MAX_PORTS];
        self.ready_todo.clear();
        self.ready_pending = false;
        self.ctrl_out.clear();
        self.free_tx.clear();
        self.received.clear();
        self.host_open = false;
        self.lost_tx = 0;
    }

    /// Resets the device and frees its memory (for a console not used, or
    /// before another program takes the device over).
    pub fn reset(&mut self) {
        self.stop();
    }

    /// Opens or closes the guest's side of the served port (PORT_OPEN).
    /// While it is closed QEMU delivers nothing more to the port: the
    /// host's bytes wait in its chardev. A console without multiport has
    /// no such message; nothing happens.
    pub fn set_guest_open(&mut self, open: bool) {
        if let Some(p) = self.port()
            && self.multiport
        {
            self.send_ctrl(p as u32, PORT_OPEN, u16::from(open));
            self.poll();
        }
    }

    /// Resets the device and starts it again from scratch: negotiation,
    /// queues and port discovery, as at boot.
    ///
    /// # Errors
    /// The queues could not be set up again (the device is left reset).
    pub fn restart(&mut self) -> Result<(), Error> {
        self.stop();
        let r = self.start();
        if r.is_err() {
            self.stop();
        }
        r
    }

    /// Transmit buffers the device never gave back (see [`Self::take_hangup`]).
    pub fn lost_tx(&self) -> usize {
        self.lost_tx
    }

    /// Bytes of the DMA arena in use (rings and buffers of every driver).
    pub fn dma_used() -> usize {
        dma::stats().0
    }

    /// The served port, once found.
    pub fn port(&self) -> Option<usize> {
        self.served.as_ref().map(|s| s.0)
    }

    /// Whether the host side of the served port is connected.
    pub fn host_connected(&self) -> bool {
        self.host_open
    }

    /// Whether port discovery is still going on: a control message we sent
    /// (DEVICE_READY, PORT_READY) has not been taken yet, or its replies
    /// are still to be handled. QEMU may take a while when its main loop is
    /// busy; boards bound the wait with their clock and keep polling.
    pub fn discovering(&self) -> bool {
        self.ready_pending
            || !self.ready_todo.is_empty()
            || !self.ctrl_out.is_empty()
            || self.ctrl_tx.as_ref().is_some_and(|t| !t.posted.is_empty())
    }

    /// Whether every transmitted buffer has been taken by the device.
    pub fn tx_idle(&mut self) -> bool {
        self.poll();
        self.served
            .as_ref()
            .is_none_or(|(_, _, tx)| tx.posted.is_empty())
    }

    /// The oldest control message not yet taken: (port, event, value).
    pub fn take_log(&mut self) -> Option<(u32, u16, u16)> {
        self.log.pop_front()
    }

    /// True once after the host side (re)connected.
    pub fn take_new_client(&mut self) -> bool {
        core::mem::take(&mut self.new_client)
    }

    /// True once after the host hung up and the old client's input was
    /// discarded: the board resets the agent (partial request, owed reply).
    /// Until then nothing is readable.
    ///
    /// QEMU 7.2 (`discard_throttle_data`) detaches the transmit buffer it
    /// was stuck on when the host hangs up without ever returning it, and
    /// its descriptor stays taken. If any transmit buffer is still out at
    /// the hang-up (or one was seen skipped), the device is reset and
    /// started again here, between clients, so such losses never pile up.
    /// The reset costs one port discovery (about a millisecond).
    ///
    /// # Errors
    /// A restart that could not set the queues up again.
    pub fn take_hangup(&mut self) -> Result<bool, Error> {
        if !core::mem::take(&mut self.hangup) {
            return Ok(false);
        }
        let stuck = self
            .served
            .as_ref()
            .is_some_and(|(_, _, tx)| !tx.posted.is_empty());
        if (stuck || self.lost_tx > 0) && self.quiet_after_guest_close() {
            self.stop();
            self.start()?;
        }
        Ok(true)
    }

    /// Before a reset: closes the guest side of the served port, so QEMU
    /// delivers nothing more to it, and waits (bounded) until QEMU has
    /// taken the close. Whether nothing arrived meanwhile: then a reset
    /// loses nothing. A client that connected since the hang-up was seen
    /// may have had bytes delivered already; they are kept and the port is
    /// opened again (the stuck buffer stays lost until a later hang-up).
    fn quiet_after_guest_close(&mut self) -> bool {
        if !self.multiport {
            return true;
        }
        self.set_guest_open(false);
        // QEMU hands a control buffer back once it has handled it; under
        // TCG that is at once, with KVM's ioeventfd its main loop does it.
        for _ in 0..CLOSE_WAIT_POLLS {
            self.flush_ctrl();
            if self.ctrl_out.is_empty() && self.ctrl_tx.as_ref().is_none_or(|t| t.posted.is_empty())
            {
                break;
            }
            core::hint::spin_loop();
        }
        self.poll_data();
        // Control messages still queued (a new client's PORT_OPEN) are
        // sent again after the reset, as at boot; only data would be lost.
        let quiet = self.received.is_empty();
        if !quiet {
            self.set_guest_open(true);
        }
        quiet
    }

    fn serve(&mut self, port: usize) -> Result<(), Error> {
        let Some((rxq, txq)) = self.queues.get_mut(port).and_then(Option::take) else {
            return Ok(());
        };
        let rx_index = rx_queue(port);
        let mut rx = Ring::<DATA_RX>::with_queue(rxq, rx_index, DATA_RX_LEN)?;
        let tx = Ring::<DATA_TX>::with_queue(txq, rx_index + 1, DATA_TX_LEN)?;
        for i in 0..DATA_RX {
            rx.post_rx(i);
        }
        rx.notify(&mut self.transport);
        self.free_tx.clear();
        for i in 0..DATA_TX {
            let _ = self.free_tx.push_back(i as u8);
        }
        self.received.clear();
        self.served = Some((port, rx, tx));
        Ok(())
    }

    fn send_ctrl(&mut self, id: u32, event: u16, value: u16) {
        let _ = self.ctrl_out.push_back(ctrl_message(id, event, value));
        self.flush_ctrl();
    }

    fn flush_ctrl(&mut self) {
        let Some(tx) = self.ctrl_tx.as_mut() else {
            return;
        };
        let mut free: heapless::Vec<usize, CTRL_TX> = (0..CTRL_TX).collect();
        while let Some((i, _)) = tx.pop(&mut 0) {
            let _ = free.push(i);
        }
        free.retain(|i| !tx.posted.iter().any(|&(_, p)| usize::from(p) == *i));
        let mut sent = false;
        let mut opened = false;
        let served = self.served.as_ref().map(|(p, _, _)| *p as u32);
        while let (Some(&m), Some(i)) = (self.ctrl_out.front(), free.pop()) {
            tx.bufs[i][..8].copy_from_slice(&m);
            if !tx.post_tx(i, 8) {
                break;
            }
            self.ctrl_out.pop_front();
            sent = true;
            opened |= m == ctrl_message(served.unwrap_or(u32::MAX), PORT_OPEN, 1);
        }
        if sent {
            tx.notify(&mut self.transport);
        }
        if opened && let Some((_, rx, _)) = self.served.as_mut() {
            // QEMU looks at the port's chardev again only when its main
            // loop wakes, and opening the guest side (handled on the vCPU
            // thread under TCG) does not wake it: a client that connected
            // first would wait for an unrelated event (a management
            // VSERPORT_CHANGE, a timer). A kick of the receive queue after
            // the open makes QEMU accept input at once.
            self.transport.notify(rx.index);
        }
    }

    /// Handles control messages and completed data buffers. Cheap when
    /// nothing happened; never waits.
    pub fn poll(&mut self) {
        // Acknowledge first: the device's interrupt line drops, and any
        // buffer it uses after this raises it again, so a board that sleeps
        // after this poll misses nothing.
        let _ = self.transport.ack_interrupt();
        if self.multiport {
            self.poll_control();
        }
        self.poll_data();
    }

    fn poll_control(&mut self) {
        let was_open = self.host_open;
        // QEMU queues its replies to a control message before it hands the
        // message's buffer back, and may do so later than the notify (its
        // main loop serves the queue). So: reclaim first, and if nothing we
        // sent is still out, the drain below sees every reply.
        self.flush_ctrl();
        let settled =
            self.ctrl_out.is_empty() && self.ctrl_tx.as_ref().is_none_or(|t| t.posted.is_empty());
        let mut handled = false;
        loop {
            let Some(rx) = self.ctrl_rx.as_mut() else {
                return;
            };
            let Some((i, len)) = rx.pop(&mut 0) else {
                break;
            };
            let mut msg = [0u8; CTRL_RX_LEN];
            let len = len.min(CTRL_RX_LEN);
            msg[..len].copy_from_slice(&rx.bufs[i][..len]);
            rx.post_rx(i);
            handled = true;
            if len >= 8 {
                self.control(&msg[..len]);
            }
        }
        if handled && let Some(rx) = self.ctrl_rx.as_mut() {
            rx.notify(&mut self.transport);
        }
        if was_open && !self.host_open {
            self.hung_up();
        }
        // One PORT_READY at a time: its replies must find posted buffers.
        let replies_in = self
            .ctrl_rx
            .as_ref()
            .is_some_and(|r| r.posted.len() == CTRL_RX);
        if self.ready_pending && settled && replies_in {
            self.ready_pending = false;
        }
        if !self.ready_pending
            && let Some(id) = self.ready_todo.pop_front()
        {
            self.ready_pending = true;
            self.send_ctrl(id, PORT_READY, 1);
        }
        self.flush_ctrl();
    }

    fn control(&mut self, msg: &[u8]) {
        let id = u32::from_le_bytes([msg[0], msg[1], msg[2], msg[3]]);
        let event = u16::from_le_bytes([msg[4], msg[5]]);
        let value = u16::from_le_bytes([msg[6], msg[7]]);
        if self.log.is_full() {
            self.log.pop_front();
        }
        let _ = self.log.push_back((id, event, value));
        let p = id as usize;
        match event {
            PORT_ADD => {
                if let Some(port) = self.ports.get_mut(p) {
                    port.added = true;
                }
                // Ready every port (also those without queues) to learn names.
                let _ = self.ready_todo.push_back(id);
            }
            PORT_REMOVE => {
                if let Some(port) = self.ports.get_mut(p) {
                    *port = Port::default();
                }
                if self.port() == Some(p) {
                    self.served = None;
                    self.host_open = false;
                }
            }
            CONSOLE_PORT => {
                if let Some(port) = self.ports.get_mut(p) {
                    port.console = true;
                }
                // The spec requires the driver to open console ports.
                self.send_ctrl(id, PORT_OPEN, 1);
            }
            PORT_NAME => {
                // QEMU appends a NUL the spec does not ask for.
                let name = &msg[8..];
                let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
                if name == AGENT_PORT && self.served.is_none() && p < MAX_PORTS {
                    if let Some(port) = self.ports.get_mut(p) {
                        port.agent = true;
                    }
                    if self.serve(p).is_ok() && self.served.is_some() {
                        self.send_ctrl(id, PORT_OPEN, 1);
                    }
                }
            }
            PORT_OPEN if self.port() == Some(p) => {
                let open = value != 0;
                if open && !self.host_open {
                    self.new_client = true;
                }
                self.host_open = open;
            }
            _ => {}
        }
    }

    /// The control queue ended in "host closed": drop the old client's
    /// input if that is provably all we hold (see the module docs).
    fn hung_up(&mut self) {
        self.poll_data();
        let quiet = self.ctrl_rx.as_ref().is_none_or(|r| !r.queue.can_pop());
        if !quiet {
            return;
        }
        if let Some((_, rx, _)) = self.served.as_mut() {
            while let Some((i, _, _)) = self.received.pop_front() {
                rx.post_rx(usize::from(i));
            }
            rx.notify(&mut self.transport);
        }
        self.hangup = true;
    }

    fn poll_data(&mut self) {
        let Some((_, rx, tx)) = self.served.as_mut() else {
            return;
        };
        while let Some((i, len)) = rx.pop(&mut 0) {
            if len == 0 {
                rx.post_rx(i);
                continue;
            }
            let _ = self
                .received
                .push_back((i as u8, len.min(u16::MAX as usize) as u16, 0));
        }
        while let Some((i, _)) = tx.pop(&mut self.lost_tx) {
            let _ = self.free_tx.push_back(i as u8);
        }
    }

    /// Received bytes waiting. While a hang-up is not yet taken (see
    /// [`Self::take_hangup`]) nothing is readable: later bytes must reach
    /// a freshly reset agent, not the old client's parser.
    pub fn readable(&mut self) -> bool {
        self.poll();
        !self.hangup && !self.received.is_empty()
    }

    /// Copies received bytes into `out`; 0 when none.
    pub fn recv(&mut self, out: &mut [u8]) -> usize {
        let mut n = 0;
        while n < out.len() {
            let Some(&mut (i, len, ref mut used)) = self.received.front_mut() else {
                break;
            };
            let Some((_, rx, _)) = self.served.as_mut() else {
                break;
            };
            let buf = &rx.bufs[usize::from(i)][usize::from(*used)..usize::from(len)];
            let k = buf.len().min(out.len() - n);
            out[n..n + k].copy_from_slice(&buf[..k]);
            n += k;
            *used += k as u16;
            if *used >= len {
                self.received.pop_front();
                rx.post_rx(usize::from(i));
                rx.notify(&mut self.transport);
            }
        }
        n
    }

    /// Whether a transmit buffer is free (false while the port is
    /// throttled or not served).
    pub fn writable(&mut self) -> bool {
        self.poll();
        self.served.is_some() && !self.free_tx.is_empty()
    }

    /// Queues up to one buffer's worth of `data`; returns how much.
    pub fn send(&mut self, data: &[u8]) -> usize {
        let Some((_, _, tx)) = self.served.as_mut() else {
            return 0;
        };
        let Some(i) = self.free_tx.pop_front() else {
            return 0;
        };
        let i = usize::from(i);
        let n = data.len().min(tx.bufs[i].len());
        tx.bufs[i][..n].copy_from_slice(&data[..n]);
        if !tx.post_tx(i, n) {
            let _ = self.free_tx.push_front(i as u8);
            return 0;
        }
        tx.notify(&mut self.transport);
        n
    }
}

fn alloc_bufs<const N: usize>(len: usize) -> Result<[&'static mut [u8]; N], Error> {
    let mut bufs: [Option<&'static mut [u8]>; N] = [const { None }; N];
    for b in bufs.iter_mut() {
        *b = Some(dma::alloc(len, BUF_ALIGN).ok_or(Error::OutOfDma)?);
    }
    Ok(bufs.map(|b| b.unwrap_or_default()))
}

/// The driver's I/O error (none can happen; the type exists for embedded-io).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Never;

impl core::fmt::Display for Never {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("virtio console")
    }
}

impl core::error::Error for Never {}

impl embedded_io::Error for Never {
    fn kind(&self) -> embedded_io::ErrorKind {
        embedded_io::ErrorKind::Other
    }
}

impl<T: Transport> embedded_io::ErrorType for VirtioConsole<T> {
    type Error = Never;
}

impl<T: Transport> embedded_io::ReadReady for VirtioConsole<T> {
    fn read_ready(&mut self) -> Result<bool, Never> {
        Ok(self.readable())
    }
}

impl<T: Transport> embedded_io::Read for VirtioConsole<T> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Never> {
        if buf.is_empty() {
            return Ok(0);
        }
        // Only called after read_ready (the agent asks first).
        while !self.readable() {
            core::hint::spin_loop();
        }
        Ok(self.recv(buf))
    }
}

impl<T: Transport> embedded_io::WriteReady for VirtioConsole<T> {
    fn write_ready(&mut self) -> Result<bool, Never> {
        Ok(self.writable())
    }
}

impl<T: Transport> embedded_io::Write for VirtioConsole<T> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Never> {
        if buf.is_empty() {
            return Ok(0);
        }
        // Only called after write_ready (the agent asks first).
        loop {
            let n = self.send(buf);
            if n > 0 {
                return Ok(n);
            }
            self.poll();
            core::hint::spin_loop();
        }
    }

    fn flush(&mut self) -> Result<(), Never> {
        Ok(())
    }
}
