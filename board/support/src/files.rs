//! The bare-metal file store: RAM files under `/tmp/` and the trace file.
//!
//! * Any path under `/tmp/` names a RAM file (a fixed number of files of a
//!   fixed size; see [`nanoqga::ramfs::RamFs`] for the exact semantics).
//! * [`TRACE_PATH`] is read-only and shows the agent's trace ring: what it
//!   received, answered and rejected, since the QGA channel carries nothing
//!   but replies. Reading starts at the oldest line still held.
//! * Every other path answers ENOENT (EACCES when creating).

use nanoqga::error::{Errno, HookError};
use nanoqga::platform::{FileId, FileStore, OpenMode, Whence};
use nanoqga::ramfs::RamFs;
use nanoqga::trace::TraceRing;

/// The read-only trace file.
pub const TRACE_PATH: &str = "/var/log/nanoqga.log";

/// File ids at or above this are trace readers.
const TRACE_ID: u32 = 0x8000_0000;

/// RAM files live under this directory.
pub const RAM_PREFIX: &str = "/tmp/";

/// Trace readers open at once.
const TRACE_READERS: usize = 4;

/// RAM files plus the trace file.
pub struct BoardFiles<const FILES: usize, const SIZE: usize, const OPEN: usize, const TRACE: usize>
{
    /// Files under `/tmp/`.
    pub ram: RamFs<FILES, SIZE, OPEN>,
    /// The trace ring.
    pub trace: TraceRing<TRACE>,
    readers: [Option<u64>; TRACE_READERS],
}

impl<const FILES: usize, const SIZE: usize, const OPEN: usize, const TRACE: usize>
    BoardFiles<FILES, SIZE, OPEN, TRACE>
{
    /// An empty store.
    pub const fn new() -> Self {
        BoardFiles {
            ram: RamFs::any(),
            trace: TraceRing::new(),
            readers: [None; TRACE_READERS],
        }
    }

    fn reader(&mut self, id: FileId) -> Option<&mut Option<u64>> {
        id.0.checked_sub(TRACE_ID)
            .and_then(|i| self.readers.get_mut(i as usize))
    }
}

impl<const FILES: usize, const SIZE: usize, const OPEN: usize, const TRACE: usize> Default
    for BoardFiles<FILES, SIZE, OPEN, TRACE>
{
    fn default() -> Self {
        Self::new()
    }
}

impl<const FILES: usize, const SIZE: usize, const OPEN: usize, const TRACE: usize> FileStore
    for BoardFiles<FILES, SIZE, OPEN, TRACE>
{
    fn open(&mut self, path: &str, mode: OpenMode) -> Result<FileId, HookError> {
        if path == TRACE_PATH {
            if mode.write {
                return Err(Errno::EACCES.into());
            }
            let oldest = self.trace.oldest();
            let slot = self
                .readers
                .iter()
                .position(Option::is_none)
                .ok_or(HookError::Errno(Errno::EMFILE))?;
            if let Some(r) = self.readers.get_mut(slot) {
                *r = Some(oldest);
            }
            return Ok(FileId(
                TRACE_ID.saturating_add(u32::try_from(slot).unwrap_or(0)),
            ));
        }
        if !path.starts_with(RAM_PREFIX) || path.len() <= RAM_PREFIX.len() {
            return Err(if mode.create {
                Errno::EACCES
            } else {
                Errno::ENOENT
            }
            .into());
        }
        self.ram.open(path, mode)
    }

    fn read(&mut self, file: FileId, buf: &mut [u8]) -> Result<usize, HookError> {
        if file.0 >= TRACE_ID {
            let pos = self
                .reader(file)
                .and_then(|r| *r)
                .ok_or(HookError::Errno(Errno::EBADF))?;
            let (n, next) = self.trace.read_at(pos, buf);
            if let Some(r) = self.reader(file) {
                *r = Some(next);
            }
            return Ok(n);
        }
        self.ram.read(file, buf)
    }

    fn write(&mut self, file: FileId, data: &[u8]) -> Result<usize, HookError> {
        if file.0 >= TRACE_ID {
            return Err(Errno::EBADF.into());
        }
        self.ram.write(file, data)
    }

    fn seek(&mut self, file: FileId, offset: i64, whence: Whence) -> Result<u64, HookError> {
        if file.0 >= TRACE_ID {
            let (oldest, total) = (self.trace.oldest(), self.trace.total());
            let r = self.reader(file).ok_or(HookError::Errno(Errno::EBADF))?;
            let cur = r.ok_or(HookError::Errno(Errno::EBADF))?;
            let base = match whence {
                Whence::Set => oldest,
                Whence::Cur => cur,
                Whence::End => total,
            };
            let pos = i64::try_from(base)
                .ok()
                .and_then(|b| b.checked_add(offset))
                .and_then(|p| u64::try_from(p).ok())
                .ok_or(HookError::Errno(Errno::EINVAL))?;
            *r = Some(pos);
            return Ok(pos.saturating_sub(oldest));
        }
        self.ram.seek(file, offset, whence)
    }

    fn close(&mut self, file: FileId) -> Result<(), HookError> {
        if file.0 >= TRACE_ID {
            let r = self.reader(file).ok_or(HookError::Errno(Errno::EBADF))?;
            if r.take().is_none() {
                return Err(Errno::EBADF.into());
            }
            return Ok(());
        }
        self.ram.close(file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write as _;

    #[test]
    fn trace_file_reads_lines_and_refuses_writes() {
        let mut f: BoardFiles<2, 64, 2, 64> = BoardFiles::new();
        let _ = writeln!(f.trace, "boot");
        let r = OpenMode::parse(b"r").unwrap();
        let id = f.open(TRACE_PATH, r).unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(f.read(id, &mut buf).unwrap(), 5);
        assert_eq!(&buf[..5], b"boot\n");
        assert_eq!(f.write(id, b"x"), Err(HookError::Errno(Errno::EBADF)));
        assert_eq!(
            f.open(TRACE_PATH, OpenMode::parse(b"a").unwrap()),
            Err(HookError::Errno(Errno::EACCES))
        );
        f.close(id).unwrap();
        assert_eq!(f.close(id), Err(HookError::Errno(Errno::EBADF)));
        assert_eq!(f.open("/etc/x", r), Err(HookError::Errno(Errno::ENOENT)));
        let w = f.open("/tmp/a/b", OpenMode::parse(b"w").unwrap()).unwrap();
        assert_eq!(f.write(w, b"hi").unwrap(), 2);
    }
}
