//! `guest-file-*` on the host, confined to `--file-root` (or, for a guest
//! agent, unconfined: [`RootedFiles::unconfined`]).
//!
//! A guest path `/a/b` means `ROOT/a/b` and a relative path `a/b` resolves
//! against `ROOT` too. Paths are opened with `openat2(RESOLVE_BENEATH |
//! RESOLVE_NO_MAGICLINKS)` relative to the root directory, so `..` and
//! symbolic links that would leave the root are refused by the kernel
//! (reported as EACCES, "Permission denied"), race-free. Files are opened as
//! qemu-ga opens them: fopen modes, `O_NONBLOCK | O_NOCTTY | O_CLOEXEC`, and
//! newly created files get mode 0666 whatever the umask.

use std::ffi::CStr;
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nanoqga::error::{Errno, HookError};
use nanoqga::platform::{FileId, FileStore, OpenMode, Whence};

use crate::sys::last_errno;

/// Files open at once (the agent's own table is the limit that clients see).
const MAX_OPEN: usize = 64;

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_BENEATH: u64 = 0x08;

/// The store.
pub struct RootedFiles {
    root: PathBuf,
    dir: OwnedFd,
    /// Paths stay beneath the root (else they are the machine's own).
    confined: bool,
    open: Vec<Option<File>>,
}

impl RootedFiles {
    /// A store over `root`.
    pub fn new(root: &Path) -> std::io::Result<Self> {
        let dir = File::open(root)?;
        Ok(RootedFiles {
            root: root.to_path_buf(),
            dir: dir.into(),
            confined: true,
            open: (0..MAX_OPEN).map(|_| None).collect(),
        })
    }

    /// The machine's own files, as qemu-ga opens them: absolute paths as
    /// they are, relative ones from `/` (a guest agent's working directory).
    pub fn unconfined() -> std::io::Result<Self> {
        let mut f = RootedFiles::new(Path::new("/"))?;
        f.confined = false;
        Ok(f)
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn openat2(&self, path: &CStr, flags: i32) -> Result<OwnedFd, Errno> {
        let how = OpenHow {
            flags: (flags | libc::O_CLOEXEC) as u64,
            mode: if flags & libc::O_CREAT != 0 { 0o666 } else { 0 },
            resolve: if self.confined {
                RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS
            } else {
                0
            },
        };
        // SAFETY: the arguments are a valid directory fd, a NUL-terminated
        // path, a properly laid out `open_how` and its size.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                self.dir.as_raw_fd(),
                path.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        if fd < 0 {
            let e = last_errno();
            // Leaving the root shows as EXDEV; say what it means.
            return Err(if e.0 == libc::EXDEV { Errno::EACCES } else { e });
        }
        // SAFETY: the kernel just returned this descriptor to us.
        Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
    }

    fn file(&mut self, id: FileId) -> Result<&mut File, HookError> {
        self.open
            .get_mut(id.0 as usize)
            .and_then(Option::as_mut)
            .ok_or(HookError::Errno(Errno::EBADF))
    }
}

impl FileStore for RootedFiles {
    fn open(&mut self, path: &str, mode: OpenMode) -> Result<FileId, HookError> {
        let slot = self
            .open
            .iter()
            .position(Option::is_none)
            .ok_or(HookError::Errno(Errno::EMFILE))?;
        // Confined, the guest's "/" is the root: drop leading slashes.
        let rel = if self.confined {
            path.trim_start_matches('/')
        } else {
            path
        };
        let rel = if rel.is_empty() { "." } else { rel };
        let mut buf = [0u8; 4097];
        if rel.len() >= buf.len() {
            return Err(Errno::ENAMETOOLONG.into());
        }
        if rel.as_bytes().contains(&0) {
            return Err(Errno::EINVAL.into());
        }
        buf[..rel.len()].copy_from_slice(rel.as_bytes());
        let cpath =
            CStr::from_bytes_until_nul(&buf).map_err(|_| HookError::Errno(Errno::EINVAL))?;
        let mut flags = match (mode.read, mode.write) {
            (true, true) => libc::O_RDWR,
            (false, true) => libc::O_WRONLY,
            _ => libc::O_RDONLY,
        } | libc::O_NOCTTY
            | libc::O_NONBLOCK;
        if mode.append {
            flags |= libc::O_APPEND;
        }
        if mode.truncate {
            flags |= libc::O_TRUNC;
        }
        let fd = if mode.create {
            // Like qemu-ga: create exclusively and set 0666 regardless of the
            // umask; an existing file is opened as it is.
            match self.openat2(cpath, flags | libc::O_CREAT | libc::O_EXCL) {
                Ok(fd) => {
                    // SAFETY: `fd` is open and owned.
                    unsafe { libc::fchmod(fd.as_raw_fd(), 0o666) };
                    fd
                }
                Err(e) if e == Errno::EEXIST => self.openat2(cpath, flags)?,
                Err(e) => return Err(e.into()),
            }
        } else {
            self.openat2(cpath, flags)?
        };
        self.open[slot] = Some(File::from(fd));
        Ok(FileId(slot as u32))
    }

    fn read(&mut self, id: FileId, buf: &mut [u8]) -> Result<usize, HookError> {
        let fd = self.file(id)?.as_raw_fd();
        let mut done = 0;
        while done < buf.len() {
            let rest = &mut buf[done..];
            // SAFETY: `rest` is valid for `rest.len()` bytes of writes.
            let n = unsafe { libc::read(fd, rest.as_mut_ptr().cast(), rest.len()) };
            if n > 0 {
                done += n as usize;
            } else if n == 0 {
                break;
            } else {
                let e = last_errno();
                if e.0 == libc::EINTR {
                    continue;
                }
                // Data already read is returned; the error shows next time.
                if done > 0 || e.0 == libc::EAGAIN {
                    break;
                }
                return Err(e.into());
            }
        }
        Ok(done)
    }

    fn write(&mut self, id: FileId, data: &[u8]) -> Result<usize, HookError> {
        let fd = self.file(id)?.as_raw_fd();
        let mut done = 0;
        while done < data.len() {
            let rest = &data[done..];
            // SAFETY: `rest` is valid for `rest.len()` bytes of reads.
            let n = unsafe { libc::write(fd, rest.as_ptr().cast(), rest.len()) };
            if n > 0 {
                done += n as usize;
            } else {
                let e = last_errno();
                if e.0 == libc::EINTR {
                    continue;
                }
                if done > 0 {
                    break;
                }
                return Err(e.into());
            }
        }
        Ok(done)
    }

    fn seek(&mut self, id: FileId, offset: i64, whence: Whence) -> Result<u64, HookError> {
        let fd = self.file(id)?.as_raw_fd();
        let w = match whence {
            Whence::Set => libc::SEEK_SET,
            Whence::Cur => libc::SEEK_CUR,
            Whence::End => libc::SEEK_END,
        };
        // SAFETY: plain syscall on an owned descriptor.
        let pos = unsafe { libc::lseek(fd, offset, w) };
        if pos < 0 {
            return Err(HookError::Errno(last_errno()));
        }
        Ok(pos as u64)
    }

    fn flush(&mut self, id: FileId) -> Result<(), HookError> {
        // No user-space buffering: writes are already with the kernel.
        self.file(id).map(|_| ())
    }

    fn close(&mut self, id: FileId) -> Result<(), HookError> {
        let file = self
            .open
            .get_mut(id.0 as usize)
            .and_then(Option::take)
            .ok_or(HookError::Errno(Errno::EBADF))?;
        let fd = file.into_raw_fd();
        // SAFETY: we own `fd` and close it exactly once.
        if unsafe { libc::close(fd) } != 0 {
            return Err(HookError::Errno(last_errno()));
        }
        Ok(())
    }
}
