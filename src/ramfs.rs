//! A fixed-size RAM file store for boards without a disk.
//!
//! Contract: [`RamFs`] holds up to `FILES` files of at most `SIZE` bytes each,
//! with names up to [`MAX_NAME`] bytes under one prefix (such as `/tmp/`),
//! and up to `OPEN` open files. It implements [`FileStore`] with fopen
//! semantics: `r`/`r+` need the file, `w`/`w+` create or truncate, `a`/`a+`
//! create and write at the end; reads on a write-only file and writes on a
//! read-only one fail with EBADF; seeking past the end is allowed and a write
//! there fills the gap with zeros. Running out of files is ENOSPC, of names
//! ENAMETOOLONG, of open slots EMFILE; a write that finds no room at all is
//! ENOSPC (a partial write returns the bytes written). Nothing allocates.
//!
//! Paths outside the prefix answer ENOENT (for reads) or EACCES (for
//! creation), and `..` components are refused.

use crate::error::{Errno, HookError};
use crate::platform::{FileId, FileStore, OpenMode, Whence};

/// Longest file name (the whole path).
pub const MAX_NAME: usize = 64;

#[derive(Clone, Copy)]
struct RamFile<const SIZE: usize> {
    used: bool,
    name: [u8; MAX_NAME],
    name_len: u8,
    len: usize,
    data: [u8; SIZE],
}

impl<const SIZE: usize> RamFile<SIZE> {
    const EMPTY: Self = RamFile {
        used: false,
        name: [0; MAX_NAME],
        name_len: 0,
        len: 0,
        data: [0; SIZE],
    };

    fn name(&self) -> &[u8] {
        self.name.get(..usize::from(self.name_len)).unwrap_or(&[])
    }
}

/// An open file. No `Option` here: an unused slot must be all zero bytes
/// (see `RamFs::prefix`).
#[derive(Clone, Copy)]
struct Open {
    used: bool,
    file: usize,
    pos: u64,
    mode: OpenMode,
}

impl Open {
    const CLOSED: Open = Open {
        used: false,
        file: 0,
        pos: 0,
        mode: OpenMode {
            read: false,
            write: false,
            append: false,
            create: false,
            truncate: false,
        },
    };
}

/// The store.
pub struct RamFs<const FILES: usize, const SIZE: usize, const OPEN: usize> {
    /// Paths served (`None`: any path). An `Option` keeps an empty store
    /// all-zero, so a store in a `static` costs `.bss`, not image bytes.
    prefix: Option<&'static str>,
    files: [RamFile<SIZE>; FILES],
    open: [Open; OPEN],
}

impl<const FILES: usize, const SIZE: usize, const OPEN: usize> RamFs<FILES, SIZE, OPEN> {
    /// An empty store for paths under `prefix` (e.g. `"/tmp/"`).
    pub const fn new(prefix: &'static str) -> Self {
        let mut fs = Self::any();
        fs.prefix = Some(prefix);
        fs
    }

    /// An empty store for any path (the caller decides which paths reach it).
    pub const fn any() -> Self {
        RamFs {
            prefix: None,
            files: [RamFile::EMPTY; FILES],
            open: [Open::CLOSED; OPEN],
        }
    }

    /// Whether this store serves `path`.
    pub fn serves(&self, path: &str) -> bool {
        match self.prefix {
            Some(p) => path.starts_with(p) && path.len() > p.len(),
            None => !path.is_empty(),
        }
    }

    /// Bytes of data stored.
    pub fn used_bytes(&self) -> usize {
        self.files.iter().filter(|f| f.used).map(|f| f.len).sum()
    }

    fn find(&self, path: &str) -> Option<usize> {
        self.files
            .iter()
            .position(|f| f.used && f.name() == path.as_bytes())
    }

    fn create(&mut self, path: &str) -> Result<usize, HookError> {
        if path.len() > MAX_NAME {
            return Err(Errno::ENAMETOOLONG.into());
        }
        let i = self
            .files
            .iter()
            .position(|f| !f.used)
            .ok_or(HookError::Errno(Errno::ENOSPC))?;
        let f = self
            .files
            .get_mut(i)
            .ok_or(HookError::Errno(Errno::ENOSPC))?;
        f.used = true;
        f.len = 0;
        f.name_len = u8::try_from(path.len()).unwrap_or(0);
        if let Some(dst) = f.name.get_mut(..path.len()) {
            dst.copy_from_slice(path.as_bytes());
        }
        Ok(i)
    }

    fn slot(&mut self, id: FileId) -> Result<&mut Open, HookError> {
        match self.open.get_mut(id.0 as usize) {
            Some(o) if o.used => Ok(o),
            _ => Err(Errno::EBADF.into()),
        }
    }

    /// Removes a file (not part of QGA; boards may expose it).
    pub fn remove(&mut self, path: &str) -> bool {
        match self.find(path) {
            Some(i) => {
                if let Some(f) = self.files.get_mut(i) {
                    f.used = false;
                }
                true
            }
            None => false,
        }
    }
}

impl<const FILES: usize, const SIZE: usize, const OPEN: usize> FileStore
    for RamFs<FILES, SIZE, OPEN>
{
    fn open(&mut self, path: &str, mode: OpenMode) -> Result<FileId, HookError> {
        if path.split('/').any(|c| c == "..") {
            return Err(Errno::EACCES.into());
        }
        if !self.serves(path) {
            return Err(if mode.create {
                Errno::EACCES
            } else {
                Errno::ENOENT
            }
            .into());
        }
        let slot = self
            .open
            .iter()
            .position(|o| !o.used)
            .ok_or(HookError::Errno(Errno::EMFILE))?;
        let file = match (self.find(path), mode.create) {
            (Some(i), _) => i,
            (None, true) => self.create(path)?,
            (None, false) => return Err(Errno::ENOENT.into()),
        };
        if mode.truncate
            && let Some(f) = self.files.get_mut(file)
        {
            f.len = 0;
        }
        if let Some(o) = self.open.get_mut(slot) {
            *o = Open {
                used: true,
                file,
                pos: 0,
                mode,
            };
        }
        Ok(FileId(u32::try_from(slot).unwrap_or(u32::MAX)))
    }

    fn read(&mut self, id: FileId, buf: &mut [u8]) -> Result<usize, HookError> {
        let o = *self.slot(id)?;
        if !o.mode.read {
            return Err(Errno::EBADF.into());
        }
        let f = self
            .files
            .get(o.file)
            .ok_or(HookError::Errno(Errno::EBADF))?;
        let pos = usize::try_from(o.pos).unwrap_or(usize::MAX).min(f.len);
        let n = f.len.saturating_sub(pos).min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), f.data.get(pos..pos.saturating_add(n))) {
            dst.copy_from_slice(src);
        }
        self.slot(id)?.pos = o.pos.saturating_add(n as u64);
        Ok(n)
    }

    fn write(&mut self, id: FileId, data: &[u8]) -> Result<usize, HookError> {
        let o = *self.slot(id)?;
        let mode = o.mode;
        if !mode.write {
            return Err(Errno::EBADF.into());
        }
        let f = self
            .files
            .get_mut(o.file)
            .ok_or(HookError::Errno(Errno::EBADF))?;
        let pos = if mode.append {
            f.len
        } else {
            usize::try_from(o.pos).unwrap_or(usize::MAX)
        };
        if pos > SIZE || (pos == SIZE && !data.is_empty()) {
            return Err(Errno::ENOSPC.into());
        }
        if pos > f.len
            && let Some(gap) = f.data.get_mut(f.len..pos)
        {
            gap.fill(0);
        }
        let n = data.len().min(SIZE.saturating_sub(pos));
        if let (Some(dst), Some(src)) = (f.data.get_mut(pos..pos.saturating_add(n)), data.get(..n))
        {
            dst.copy_from_slice(src);
        }
        f.len = f.len.max(pos.saturating_add(n));
        self.slot(id)?.pos = (pos.saturating_add(n)) as u64;
        if n == 0 && !data.is_empty() {
            return Err(Errno::ENOSPC.into());
        }
        Ok(n)
    }

    fn seek(&mut self, id: FileId, offset: i64, whence: Whence) -> Result<u64, HookError> {
        let o = *self.slot(id)?;
        let len = i64::try_from(self.files.get(o.file).map_or(0, |f| f.len)).unwrap_or(i64::MAX);
        let base = match whence {
            Whence::Set => 0,
            Whence::Cur => i64::try_from(o.pos).unwrap_or(i64::MAX),
            Whence::End => len,
        };
        let pos = base
            .checked_add(offset)
            .ok_or(HookError::Errno(Errno::EOVERFLOW))?;
        let pos = u64::try_from(pos).map_err(|_| HookError::Errno(Errno::EINVAL))?;
        self.slot(id)?.pos = pos;
        Ok(pos)
    }

    fn close(&mut self, id: FileId) -> Result<(), HookError> {
        let o = self.slot(id)?;
        *o = Open::CLOSED;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(m: &str) -> OpenMode {
        OpenMode::parse(m.as_bytes()).unwrap()
    }

    #[test]
    fn write_seek_read_cycle() {
        let mut fs: RamFs<2, 32, 2> = RamFs::new("/tmp/");
        let f = fs.open("/tmp/a", mode("w+")).unwrap();
        assert_eq!(fs.write(f, b"Hello World!\n\0").unwrap(), 14);
        let mut buf = [0u8; 32];
        assert_eq!(fs.read(f, &mut buf).unwrap(), 0);
        assert_eq!(fs.seek(f, 6, Whence::Set).unwrap(), 6);
        assert_eq!(fs.read(f, &mut buf).unwrap(), 8);
        assert_eq!(&buf[..8], b"World!\n\0");
        fs.close(f).unwrap();
        assert!(fs.read(f, &mut buf).is_err());
    }

    #[test]
    fn modes_follow_fopen() {
        let mut fs: RamFs<2, 8, 2> = RamFs::new("/tmp/");
        assert_eq!(
            fs.open("/tmp/x", mode("r")),
            Err(HookError::Errno(Errno::ENOENT))
        );
        assert_eq!(
            fs.open("/etc/x", mode("w")),
            Err(HookError::Errno(Errno::EACCES))
        );
        assert_eq!(
            fs.open("/tmp/../x", mode("w")),
            Err(HookError::Errno(Errno::EACCES))
        );
        let w = fs.open("/tmp/x", mode("w")).unwrap();
        assert_eq!(fs.read(w, &mut [0; 4]), Err(HookError::Errno(Errno::EBADF)));
        assert_eq!(fs.write(w, b"0123456789").unwrap(), 8);
        assert_eq!(fs.write(w, b"x"), Err(HookError::Errno(Errno::ENOSPC)));
        fs.close(w).unwrap();
        let r = fs.open("/tmp/x", mode("r")).unwrap();
        assert_eq!(fs.write(r, b"x"), Err(HookError::Errno(Errno::EBADF)));
        let a = fs.open("/tmp/y", mode("a")).unwrap();
        assert_eq!(
            fs.open("/tmp/z", mode("w")),
            Err(HookError::Errno(Errno::EMFILE))
        );
        fs.close(a).unwrap();
        fs.close(r).unwrap();
        // Both files exist: no room for a third.
        assert_eq!(
            fs.open("/tmp/z", mode("w")),
            Err(HookError::Errno(Errno::ENOSPC))
        );
        assert!(fs.remove("/tmp/y"));
        assert!(fs.open("/tmp/z", mode("w")).is_ok());
    }

    #[test]
    fn write_past_end_fills_zeros() {
        let mut fs: RamFs<1, 16, 1> = RamFs::new("/tmp/");
        let f = fs.open("/tmp/g", mode("w+")).unwrap();
        fs.seek(f, 4, Whence::Set).unwrap();
        fs.write(f, b"ab").unwrap();
        fs.seek(f, 0, Whence::Set).unwrap();
        let mut buf = [9u8; 8];
        assert_eq!(fs.read(f, &mut buf).unwrap(), 6);
        assert_eq!(&buf[..6], b"\0\0\0\0ab");
    }
}
