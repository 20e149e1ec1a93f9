//! Channels: a unix socket client, stdio, or a character device (a serial
//! tty, or a virtio-serial port).
//!
//! Contract:
//! * Input does not go through `embedded_io::Read`: when the agent is idle
//!   the serve loop reads straight into the agent's request buffer
//!   ([`Conn::receive`]), blocking when nothing else needs doing. A request
//!   then costs one read and one write, like a plain echo server.
//! * Output goes through `embedded_io::Write` without blocking
//!   (`MSG_DONTWAIT` on sockets, `O_NONBLOCK` on devices); a full channel is
//!   reported as a would-block error and the loop waits for room. Nothing is
//!   dropped: what a write did not take stays in the agent's reply buffer.
//! * A tty is put in raw mode (no echo, no line discipline) before anything
//!   is read, then the input that arrived before is flushed: a kernel that
//!   echoed it in canonical mode must not see it answered.
//! * A virtio-serial port with no host side polls `POLLHUP` and reads 0 at
//!   once. Instead of polling in a loop, the port is set for `SIGIO`
//!   (`O_ASYNC`), which the kernel's `virtio_console` raises when the host
//!   opens or closes its side, and the channel sleeps on a `signalfd` for
//!   it. The host leaving is reported once ([`Received::Hangup`]), so the
//!   agent starts over with a clean parser for the next host.
//! * A virtio port that is unplugged polls `POLLHUP` too; a read then fails
//!   with ENODEV instead of returning 0. Whenever the port polls `POLLHUP`
//!   (and while it waits for a host, on every kernel uevent, which an
//!   unplug sends), a zero-length read tells the two apart: an unplugged
//!   port is reported as [`Received::Error`] (the caller finds the port
//!   again).

use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

/// An I/O error for the agent: its kind, and whether it only means "try
/// again later".
#[derive(Debug, Clone, Copy)]
pub struct IoError {
    /// What went wrong.
    pub kind: embedded_io::ErrorKind,
    /// Whether it only means "not now" (EAGAIN, EINTR).
    pub would_block: bool,
}

impl core::fmt::Display for IoError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:?}", self.kind)
    }
}

impl core::error::Error for IoError {}

impl embedded_io::Error for IoError {
    fn kind(&self) -> embedded_io::ErrorKind {
        self.kind
    }
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn io_error(err: i32) -> IoError {
    use embedded_io::ErrorKind as K;
    let would_block = err == libc::EAGAIN || err == libc::EWOULDBLOCK || err == libc::EINTR;
    let kind = match err {
        libc::EPIPE => K::BrokenPipe,
        libc::ECONNRESET => K::ConnectionReset,
        libc::EINTR => K::Interrupted,
        _ => K::Other,
    };
    IoError { kind, would_block }
}

/// A virtio-serial port and what tells when its host side changes.
struct Port {
    file: File,
    /// `SIGIO`, as a descriptor.
    signals: OwnedFd,
    /// The kernel's uevents (an unplug), if netlink is there.
    uevents: Option<OwnedFd>,
    /// Whether a host was connected when last seen.
    connected: bool,
}

enum Kind {
    Socket(UnixStream),
    Stdio,
    Device(File),
    Port(Port),
}

/// One channel.
pub struct Conn {
    kind: Kind,
}

/// What [`Conn::receive`] got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// Bytes read into the buffer.
    Bytes(usize),
    /// Nothing within the timeout (or a signal).
    Nothing,
    /// The client closed the channel (sockets, stdio).
    Eof,
    /// The host side of a virtio port went away; the next host is waited
    /// for on the next calls.
    Hangup,
    /// The channel failed (the device went away).
    Error,
}

/// What waiting on a channel found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ready {
    /// The event asked for.
    Yes,
    /// Nothing within the timeout.
    No,
    /// The host side of a virtio port went away.
    Hangup,
    /// The virtio port itself went away (unplugged).
    Gone,
}

/// Opens a character device read-write, non-blocking. A terminal is put in
/// raw mode (no echo, no line discipline, as qemu-ga does for isa-serial)
/// and its earlier input flushed; see the module documentation.
pub fn open_device(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)?;
    let fd = file.as_raw_fd();
    // SAFETY: `fd` is an open descriptor owned by `file`; `tio` is a plain C
    // struct filled by tcgetattr before use.
    unsafe {
        if libc::isatty(fd) == 1 {
            let mut tio: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(fd, &mut tio) == 0 {
                libc::cfmakeraw(&mut tio);
                tio.c_cc[libc::VMIN] = 1;
                tio.c_cc[libc::VTIME] = 0;
                libc::tcsetattr(fd, libc::TCSANOW, &tio);
            }
            // What a client sent while the tty still echoed.
            libc::tcflush(fd, libc::TCIFLUSH);
        }
    }
    Ok(file)
}

/// Whether `file` is a virtio-serial port (its character device's sysfs
/// class is `virtio-ports`).
fn is_virtio_port(file: &File) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = file.metadata() else {
        return false;
    };
    let rdev = meta.rdev();
    let (major, minor) = (libc::major(rdev), libc::minor(rdev));
    std::fs::read_link(format!("/sys/dev/char/{major}:{minor}/subsystem"))
        .is_ok_and(|p| p.ends_with("virtio-ports"))
}

/// Sets `file` to raise `SIGIO` (blocked, read through a signalfd) on the
/// port's state changes.
fn port_signals(file: &File) -> Option<OwnedFd> {
    let fd = file.as_raw_fd();
    // SAFETY: plain syscalls on a valid descriptor; `set` is initialised by
    // sigemptyset before use. SIGIO is blocked for the process so that it
    // only ever shows on the signalfd (children get an empty mask from
    // std's spawn).
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGIO);
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return None;
        }
        let sfd = libc::signalfd(-1, &set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC);
        if sfd < 0 {
            return None;
        }
        let signals = OwnedFd::from_raw_fd(sfd);
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0
            || libc::fcntl(fd, libc::F_SETOWN, libc::getpid()) != 0
            || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_ASYNC) != 0
        {
            return None;
        }
        Some(signals)
    }
}

/// The kernel's uevent broadcast (netlink group 1, what udev reads),
/// non-blocking; `None` without netlink.
pub fn uevents() -> Option<OwnedFd> {
    // SAFETY: plain socket calls; `addr` is a zeroed sockaddr_nl with its
    // family and group set, passed with its size.
    unsafe {
        let fd = libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            libc::NETLINK_KOBJECT_UEVENT,
        );
        if fd < 0 {
            return None;
        }
        let sock = OwnedFd::from_raw_fd(fd);
        let mut addr: libc::sockaddr_nl = std::mem::zeroed();
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        addr.nl_groups = 1;
        let r = libc::bind(
            fd,
            (&addr as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        );
        (r == 0).then_some(sock)
    }
}

/// Reads and drops whatever `fd` (non-blocking) holds.
pub fn drain(fd: RawFd) {
    let mut buf = [0u8; 4096];
    // SAFETY: reads into a buffer of its size; the descriptor is
    // non-blocking.
    while unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) } > 0 {}
}

/// Polls `fds` for up to `timeout_ms` (-1: forever); the revents.
fn poll_fds<const N: usize>(
    fds: [(RawFd, libc::c_short); N],
    timeout_ms: i32,
) -> [libc::c_short; N] {
    let mut p = fds.map(|(fd, events)| libc::pollfd {
        fd,
        events,
        revents: 0,
    });
    // SAFETY: `p` is an array of N valid pollfds.
    let r = unsafe { libc::poll(p.as_mut_ptr(), N as libc::nfds_t, timeout_ms) };
    if r > 0 { p.map(|x| x.revents) } else { [0; N] }
}

impl Port {
    /// Drops the pending `SIGIO`s and uevents.
    fn drain_wakeups(&self) {
        drain(self.signals.as_raw_fd());
        if let Some(u) = &self.uevents {
            drain(u.as_raw_fd());
        }
    }

    /// Whether the port was unplugged (a zero-length read fails with
    /// ENODEV; with no host it returns 0, and it never consumes input).
    fn unplugged(&self) -> bool {
        let mut b = [0u8; 1];
        // SAFETY: a zero-length read into a valid buffer.
        let r = unsafe { libc::read(self.file.as_raw_fd(), b.as_mut_ptr().cast(), 0) };
        r < 0 && errno() == libc::ENODEV
    }

    /// Waits for `events`, or for the host side to change while it is
    /// away. Reports the host leaving once, and the port going away.
    fn wait(&mut self, events: libc::c_short, timeout_ms: i32) -> Ready {
        let fd = self.file.as_raw_fd();
        if !self.connected {
            // Is a host there now? (A signal queued since then wakes us.)
            self.drain_wakeups();
            // (With no host the port also polls readable: a read would
            // return 0. POLLHUP is what tells.)
            let [rev] = poll_fds([(fd, events)], 0);
            if rev & libc::POLLHUP != 0 {
                if self.unplugged() {
                    return Ready::Gone;
                }
                let uevents = self.uevents.as_ref().map_or(-1, |u| u.as_raw_fd());
                let _ = poll_fds(
                    [
                        (self.signals.as_raw_fd(), libc::POLLIN),
                        (uevents, libc::POLLIN),
                    ],
                    timeout_ms,
                );
                return Ready::No;
            }
            self.connected = true;
        }
        let [rev, _] = poll_fds(
            [(fd, events), (self.signals.as_raw_fd(), libc::POLLIN)],
            timeout_ms,
        );
        if rev & libc::POLLHUP != 0 {
            self.connected = false;
            return if self.unplugged() {
                Ready::Gone
            } else {
                Ready::Hangup
            };
        }
        if rev & events != 0 {
            return Ready::Yes;
        }
        drain(self.signals.as_raw_fd());
        Ready::No
    }
}

impl Conn {
    /// A unix socket client.
    pub fn socket(s: UnixStream) -> Self {
        Conn {
            kind: Kind::Socket(s),
        }
    }

    /// Standard input and output.
    pub fn stdio() -> Self {
        Conn { kind: Kind::Stdio }
    }

    /// A character device opened with [`open_device`]: a virtio port is
    /// watched for its host side (see the module documentation).
    pub fn device(f: File) -> Self {
        if is_virtio_port(&f)
            && let Some(signals) = port_signals(&f)
        {
            return Conn {
                kind: Kind::Port(Port {
                    file: f,
                    signals,
                    uevents: uevents(),
                    connected: true,
                }),
            };
        }
        Conn {
            kind: Kind::Device(f),
        }
    }

    /// Whether this is a virtio port (its host side can come and go).
    pub fn is_port(&self) -> bool {
        matches!(self.kind, Kind::Port(_))
    }

    fn read_fd(&self) -> RawFd {
        match &self.kind {
            Kind::Socket(s) => s.as_raw_fd(),
            Kind::Stdio => 0,
            Kind::Device(f) => f.as_raw_fd(),
            Kind::Port(p) => p.file.as_raw_fd(),
        }
    }

    fn write_fd(&self) -> RawFd {
        match &self.kind {
            Kind::Socket(s) => s.as_raw_fd(),
            Kind::Stdio => 1,
            Kind::Device(f) => f.as_raw_fd(),
            Kind::Port(p) => p.file.as_raw_fd(),
        }
    }

    /// Waits up to `timeout_ms` (-1: forever) for `events`.
    fn wait(&mut self, fd: RawFd, events: libc::c_short, timeout_ms: i32) -> Ready {
        if let Kind::Port(p) = &mut self.kind {
            return p.wait(events, timeout_ms);
        }
        let [rev] = poll_fds([(fd, events)], timeout_ms);
        if rev != 0 { Ready::Yes } else { Ready::No }
    }

    /// Waits until the channel can take output (or `timeout_ms` passes).
    pub fn wait_writable(&mut self, timeout_ms: i32) -> Ready {
        self.wait(self.write_fd(), libc::POLLOUT, timeout_ms)
    }

    /// Reads into `buf`. With `timeout_ms < 0` it blocks until input arrives;
    /// otherwise it waits at most that long.
    pub fn receive(&mut self, buf: &mut [u8], timeout_ms: i32) -> Received {
        if buf.is_empty() {
            // The request buffer is full until a reply goes out.
            let t = if timeout_ms < 0 { 100 } else { timeout_ms };
            return match self.wait_writable(t) {
                Ready::Hangup => Received::Hangup,
                Ready::Gone => Received::Error,
                _ => Received::Nothing,
            };
        }
        let fd = self.read_fd();
        let blocking_fd = matches!(self.kind, Kind::Socket(_) | Kind::Stdio);
        if timeout_ms >= 0 || !blocking_fd {
            match self.wait(fd, libc::POLLIN, timeout_ms) {
                Ready::Yes => {}
                Ready::No => return Received::Nothing,
                Ready::Hangup => return Received::Hangup,
                Ready::Gone => return Received::Error,
            }
        }
        // SAFETY: `buf` is valid for `buf.len()` bytes of writes.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n > 0 {
            return Received::Bytes(n as usize);
        }
        if n == 0 {
            return match &mut self.kind {
                // The host side went away between the poll and the read.
                Kind::Port(p) => {
                    p.connected = false;
                    Received::Hangup
                }
                // A tty does not end.
                Kind::Device(_) => Received::Nothing,
                _ => Received::Eof,
            };
        }
        let e = errno();
        if e == libc::EINTR || e == libc::EAGAIN {
            Received::Nothing
        } else if e == libc::ECONNRESET {
            Received::Eof
        } else {
            Received::Error
        }
    }
}

impl embedded_io::ErrorType for Conn {
    type Error = IoError;
}

impl embedded_io::Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, IoError> {
        match self.receive(buf, 0) {
            Received::Bytes(n) => Ok(n),
            Received::Eof => Ok(0),
            Received::Nothing | Received::Hangup => Err(io_error(libc::EAGAIN)),
            Received::Error => Err(io_error(errno())),
        }
    }
}

impl embedded_io::ReadReady for Conn {
    /// Input is fed by the serve loop, so the agent never reads by itself.
    fn read_ready(&mut self) -> Result<bool, IoError> {
        Ok(false)
    }
}

impl embedded_io::Write for Conn {
    fn write(&mut self, buf: &[u8]) -> Result<usize, IoError> {
        if buf.is_empty() {
            return Ok(0);
        }
        let fd = self.write_fd();
        let n = match self.kind {
            // SAFETY: `buf` is valid for `buf.len()` bytes of reads.
            Kind::Socket(_) => unsafe {
                libc::send(
                    fd,
                    buf.as_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
                )
            },
            // SAFETY: as above.
            _ => unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) },
        };
        if n > 0 {
            Ok(n as usize)
        } else {
            Err(io_error(if n == 0 { libc::EAGAIN } else { errno() }))
        }
    }

    fn flush(&mut self) -> Result<(), IoError> {
        Ok(())
    }
}

impl embedded_io::WriteReady for Conn {
    fn write_ready(&mut self) -> Result<bool, IoError> {
        Ok(true)
    }
}
