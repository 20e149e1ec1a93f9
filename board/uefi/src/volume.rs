//! The boot volume as the agent's file store (Simple File System).
//!
//! Contract:
//! * Paths are POSIX-style and absolute or relative to the volume's root:
//!   `/EFI/BOOT/x` is `\EFI\BOOT\x`. A path that is not UCS-2 or holds a
//!   backslash answers EINVAL (a backslash would name a different file than
//!   the client wrote).
//! * Modes follow qemu-ga's `fopen`: `r` and `r+` need the file; `w` and
//!   `w+` create it or cut it to nothing; `a` and `a+` create it and every
//!   write goes to its end. Reads fill the buffer as far as the file allows
//!   (a short count is end of file); seeking past the end is allowed and a
//!   write there extends the file, as with stdio.
//! * Firmware errors map to the errno qemu-ga would report: NOT_FOUND →
//!   ENOENT, WRITE_PROTECTED → EROFS, ACCESS_DENIED → EACCES, VOLUME_FULL
//!   → ENOSPC, a directory → EISDIR, anything else → EIO.
//! * At most [`OPEN`] files are open at once (EMFILE beyond); ids are
//!   [`ID_BASE`] plus a slot, so they never meet the RAM files' or the
//!   trace's.

use nanoqga::error::{Errno, HookError};
use nanoqga::platform::{FileId, OpenMode, Whence};
use uefi::boot::{self, ScopedProtocol};
use uefi::proto::media::file::{
    Directory, File, FileAttribute, FileInfo, FileMode, FileSystemInfo, RegularFile,
};
use uefi::proto::media::fs::SimpleFileSystem;
use uefi::{CStr16, Handle, Status};

/// Files open on the volume at once.
pub const OPEN: usize = 8;
/// The first volume file id.
pub const ID_BASE: u32 = 0x4000_0000;
/// Longest path, in UCS-2 code units with the terminating NUL (FAT's
/// limit is 260).
pub const PATH_UNITS: usize = 261;

/// File information read from the firmware (8-byte aligned, as `FileInfo`
/// requires; room for a 200-unit name).
#[repr(C, align(8))]
struct InfoBuf([u8; 512]);

/// One open file.
struct Open {
    file: RegularFile,
    append: bool,
}

/// The volume the agent was loaded from.
pub struct Volume {
    /// The volume's device handle (its device path leads images there).
    pub device: Option<Handle>,
    _fs: Option<ScopedProtocol<SimpleFileSystem>>,
    root: Option<Directory>,
    open: [Option<Open>; OPEN],
}

/// Maps a firmware status to the errno qemu-ga would report.
fn errno(status: Status) -> HookError {
    HookError::Errno(match status {
        Status::NOT_FOUND => Errno::ENOENT,
        Status::WRITE_PROTECTED => Errno::EROFS,
        Status::ACCESS_DENIED => Errno::EACCES,
        Status::VOLUME_FULL => Errno::ENOSPC,
        Status::OUT_OF_RESOURCES => Errno::ENOMEM,
        Status::INVALID_PARAMETER => Errno::EINVAL,
        _ => Errno::EIO,
    })
}

/// `path` as a firmware path (`\`-separated, NUL-terminated) in `buf`.
pub fn firmware_path<'b>(
    path: &str,
    buf: &'b mut [u16; PATH_UNITS],
) -> Result<&'b CStr16, HookError> {
    let rel = path.trim_start_matches('/');
    let mut n = 0;
    for c in rel.chars() {
        let unit = match c {
            '/' => u16::from(b'\\'),
            '\\' | '\0' => return Err(Errno::EINVAL.into()),
            c => u16::try_from(u32::from(c)).map_err(|_| HookError::Errno(Errno::EINVAL))?,
        };
        *buf.get_mut(n)
            .ok_or(HookError::Errno(Errno::ENAMETOOLONG))? = unit;
        n += 1;
    }
    if n == 0 {
        // The root is a directory.
        return Err(Errno::EISDIR.into());
    }
    *buf.get_mut(n)
        .ok_or(HookError::Errno(Errno::ENAMETOOLONG))? = 0;
    CStr16::from_u16_with_nul(&buf[..=n]).map_err(|_| HookError::Errno(Errno::EINVAL))
}

impl Volume {
    /// The volume the running image was loaded from (empty if the
    /// firmware gives none: every open then answers ENOENT).
    pub fn of_image() -> Volume {
        let image = boot::image_handle();
        let device = boot::open_protocol_exclusive::<uefi::proto::loaded_image::LoadedImage>(image)
            .ok()
            .and_then(|li| li.device());
        let mut fs = boot::get_image_file_system(image).ok();
        let root = fs.as_mut().and_then(|fs| fs.open_volume().ok());
        Volume {
            device,
            _fs: fs,
            root,
            open: [const { None }; OPEN],
        }
    }

    /// Whether there is a volume.
    pub fn present(&self) -> bool {
        self.root.is_some()
    }

    fn slot(&mut self, id: FileId) -> Result<&mut Open, HookError> {
        id.0.checked_sub(ID_BASE)
            .and_then(|i| self.open.get_mut(i as usize))
            .and_then(Option::as_mut)
            .ok_or(HookError::Errno(Errno::EBADF))
    }

    /// Whether `id` is one of the volume's.
    pub fn owns(id: FileId) -> bool {
        (ID_BASE..ID_BASE + OPEN as u32).contains(&id.0)
    }

    fn open_raw(&mut self, name: &CStr16, mode: FileMode) -> Result<RegularFile, HookError> {
        let root = self.root.as_mut().ok_or(HookError::Errno(Errno::ENOENT))?;
        let h = root
            .open(name, mode, FileAttribute::empty())
            .map_err(|e| errno(e.status()))?;
        h.into_regular_file().ok_or(HookError::Errno(Errno::EISDIR))
    }

    /// Whether `path` names a regular file on the volume.
    pub fn is_file(&mut self, path: &str) -> bool {
        let mut buf = [0u16; PATH_UNITS];
        match firmware_path(path, &mut buf) {
            Ok(name) => self.open_raw(name, FileMode::Read).is_ok(),
            Err(_) => false,
        }
    }

    /// Opens `path` with `mode` (see the module contract).
    pub fn open(&mut self, path: &str, mode: OpenMode) -> Result<FileId, HookError> {
        let slot = self
            .open
            .iter()
            .position(Option::is_none)
            .ok_or(HookError::Errno(Errno::EMFILE))?;
        let mut buf = [0u16; PATH_UNITS];
        let name = firmware_path(path, &mut buf)?;
        let fw_mode = if mode.create {
            FileMode::CreateReadWrite
        } else if mode.write {
            FileMode::ReadWrite
        } else {
            FileMode::Read
        };
        let mut file = self.open_raw(name, fw_mode)?;
        if mode.truncate && file_size(&mut file)? != 0 {
            // No truncate in the protocol: delete and create again.
            file.delete().map_err(|e| errno(e.status()))?;
            file = self.open_raw(name, FileMode::CreateReadWrite)?;
        }
        if let Some(s) = self.open.get_mut(slot) {
            *s = Some(Open {
                file,
                append: mode.append,
            });
        }
        Ok(FileId(ID_BASE + slot as u32))
    }

    /// Reads from the current position.
    pub fn read(&mut self, id: FileId, buf: &mut [u8]) -> Result<usize, HookError> {
        let o = self.slot(id)?;
        let mut n = 0;
        while n < buf.len() {
            let got = o.file.read(&mut buf[n..]).map_err(|e| errno(e.status()))?;
            if got == 0 {
                break;
            }
            n += got;
        }
        Ok(n)
    }

    /// Writes at the current position (the end, in append mode).
    pub fn write(&mut self, id: FileId, data: &[u8]) -> Result<usize, HookError> {
        let o = self.slot(id)?;
        if o.append {
            o.file
                .set_position(RegularFile::END_OF_FILE)
                .map_err(|e| errno(e.status()))?;
        }
        match o.file.write(data) {
            Ok(()) => Ok(data.len()),
            Err(e) if *e.data() > 0 => Ok(*e.data()),
            Err(e) => Err(errno(e.status())),
        }
    }

    /// Moves the position.
    pub fn seek(&mut self, id: FileId, offset: i64, whence: Whence) -> Result<u64, HookError> {
        let o = self.slot(id)?;
        let base = match whence {
            Whence::Set => 0,
            Whence::Cur => o.file.get_position().map_err(|e| errno(e.status()))?,
            Whence::End => file_size(&mut o.file)?,
        };
        let pos = i64::try_from(base)
            .ok()
            .and_then(|b| b.checked_add(offset))
            .and_then(|p| u64::try_from(p).ok())
            .ok_or(HookError::Errno(Errno::EINVAL))?;
        o.file.set_position(pos).map_err(|e| errno(e.status()))?;
        Ok(pos)
    }

    /// Pushes writes down to the disk.
    pub fn flush(&mut self, id: FileId) -> Result<(), HookError> {
        self.slot(id)?.file.flush().map_err(|e| errno(e.status()))
    }

    /// Closes (the firmware writes what it still holds).
    pub fn close(&mut self, id: FileId) -> Result<(), HookError> {
        self.slot(id)?;
        let i = (id.0 - ID_BASE) as usize;
        if let Some(o) = self.open.get_mut(i).and_then(Option::take) {
            let mut file = o.file;
            let _ = file.flush();
        }
        Ok(())
    }

    /// (used bytes, total bytes) of the volume.
    pub fn usage(&mut self) -> Option<(u64, u64)> {
        let root = self.root.as_mut()?;
        let mut buf = InfoBuf([0; 512]);
        let info = root.get_info::<FileSystemInfo>(&mut buf.0).ok()?;
        let total = info.volume_size();
        Some((total.saturating_sub(info.free_space()), total))
    }
}

/// A file's size.
fn file_size(file: &mut RegularFile) -> Result<u64, HookError> {
    let mut buf = InfoBuf([0; 512]);
    let info = file
        .get_info::<FileInfo>(&mut buf.0)
        .map_err(|e| errno(e.status()))?;
    Ok(info.file_size())
}
