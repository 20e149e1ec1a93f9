//! Channels: a unix socket client, stdio, or a character device.
//!
//! Input does not go through `embedded_io::Read`: when the agent is idle the
//! serve loop reads straight into the agent's request buffer
//! ([`Conn::receive`]), blocking when nothing else needs doing. A request
//! then costs one read and one write, like a plain echo server. Output goes
//! through `embedded_io::Write` without blocking (`MSG_DONTWAIT` on sockets);
//! a full socket is reported as a would-block error and the loop waits for
//! room.

use std::fs::File;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

/// An I/O error for the agent: its kind, and whether it only means "try
/// again later".
#[derive(Debug, Clone, Copy)]
pub struct IoError {
    pub kind: embedded_io::ErrorKind,
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

enum Kind {
    Socket(UnixStream),
    Stdio,
    Device(File),
}

/// One channel.
pub struct Conn {
    kind: Kind,
}

/// What [`Conn::receive`] got.
pub enum Received {
    Bytes(usize),
    Nothing,
    Eof,
    Error,
}

/// Opens a character device read-write and, if it is a terminal, puts it in
/// raw mode (no echo, no line discipline), as qemu-ga does for isa-serial.
pub fn open_device(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open(path)?;
    let fd = file.as_raw_fd();
    // SAFETY: `fd` is an open descriptor owned by `file`; `tio` is a plain C
    // struct filled by tcgetattr before use.
    unsafe {
        if libc::isatty(fd) == 1 {
            let mut tio: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(fd, &mut tio) == 0 {
                libc::cfmakeraw(&mut tio);
                libc::tcsetattr(fd, libc::TCSANOW, &tio);
            }
        }
    }
    Ok(file)
}

impl Conn {
    pub fn socket(s: UnixStream) -> Self {
        Conn {
            kind: Kind::Socket(s),
        }
    }

    pub fn stdio() -> Self {
        Conn { kind: Kind::Stdio }
    }

    pub fn device(f: File) -> Self {
        Conn {
            kind: Kind::Device(f),
        }
    }

    fn read_fd(&self) -> RawFd {
        match &self.kind {
            Kind::Socket(s) => s.as_raw_fd(),
            Kind::Stdio => 0,
            Kind::Device(f) => f.as_raw_fd(),
        }
    }

    fn write_fd(&self) -> RawFd {
        match &self.kind {
            Kind::Socket(s) => s.as_raw_fd(),
            Kind::Stdio => 1,
            Kind::Device(f) => f.as_raw_fd(),
        }
    }

    /// Waits up to `timeout_ms` (-1: forever) for `events` on `fd`.
    fn wait(fd: RawFd, events: libc::c_short, timeout_ms: i32) -> libc::c_short {
        let mut pfd = libc::pollfd {
            fd,
            events,
            revents: 0,
        };
        // SAFETY: one valid pollfd, count 1.
        let r = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
        if r > 0 { pfd.revents } else { 0 }
    }

    /// Waits until the channel can take output (or `timeout_ms` passes).
    pub fn wait_writable(&self, timeout_ms: i32) {
        Self::wait(self.write_fd(), libc::POLLOUT, timeout_ms);
    }

    /// Reads into `buf`. With `timeout_ms < 0` it blocks until input arrives;
    /// otherwise it waits at most that long.
    pub fn receive(&mut self, buf: &mut [u8], timeout_ms: i32) -> Received {
        if buf.is_empty() {
            // The request buffer is full until a reply goes out.
            Self::wait(
                self.write_fd(),
                libc::POLLOUT,
                if timeout_ms < 0 { 100 } else { timeout_ms },
            );
            return Received::Nothing;
        }
        let fd = self.read_fd();
        if timeout_ms >= 0 || matches!(self.kind, Kind::Device(_)) {
            let t = if timeout_ms < 0 { -1 } else { timeout_ms };
            let rev = Self::wait(fd, libc::POLLIN, t);
            if rev == 0 {
                return Received::Nothing;
            }
            if rev & libc::POLLIN == 0 && matches!(self.kind, Kind::Device(_)) {
                // A virtio port with no host side reports POLLHUP in a loop:
                // back off instead of spinning (qemu-ga sleeps 100 ms too).
                std::thread::sleep(std::time::Duration::from_millis(100));
                return Received::Nothing;
            }
        }
        // SAFETY: `buf` is valid for `buf.len()` bytes of writes.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n > 0 {
            return Received::Bytes(n as usize);
        }
        if n == 0 {
            return match self.kind {
                Kind::Device(_) => {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                    Received::Nothing
                }
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
            Received::Nothing => Err(io_error(libc::EAGAIN)),
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
