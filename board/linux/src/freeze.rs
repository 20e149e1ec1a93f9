//! `guest-fsfreeze-*` and `guest-fstrim` over the mount table, as qemu-ga
//! 7.2 does them (`qga/commands-posix.c`).
//!
//! Contract:
//! * The file systems are the mounts of `/proc/self/mountinfo` whose source
//!   is a device path (it starts with `/`), less `smbfs` and `cifs`:
//!   virtual and network file systems are skipped. A mount point mounted
//!   twice is taken once (its last mount).
//! * Freeze goes in reverse mount order (a file system before the ones it
//!   is mounted on), with `FIFREEZE` on the mount point. EOPNOTSUPP means
//!   "not freezable" and is skipped; any other error thaws everything
//!   frozen so far and fails with `failed to freeze <mount point>`. With a
//!   list of mount points, only those are frozen (unknown ones ignored).
//!   The count of frozen file systems is returned.
//! * Thaw runs `FITHAW` on every file system until the kernel says it is not
//!   frozen (a file system frozen twice needs two), counting each thawed
//!   file system once.
//! * Trim runs `FITRIM` on every file system in mount order, reporting the
//!   trimmed bytes or the error per path; ENOTTY and EOPNOTSUPP (a file
//!   system that cannot trim) are not errors.
//! * The agent itself only writes to the channel and to its log on
//!   stderr, and the serve loop stops logging while frozen, so freezing
//!   the file system the agent's own files live on cannot block it.

use std::ops::ControlFlow;

use nanoqga::error::{Errno, HookError};
use nanoqga::platform::{StrList, TrimResult};

/// `_IOWR('X', 119, int)`
const FIFREEZE: libc::c_ulong = 0xC004_5877;
/// `_IOWR('X', 120, int)`
const FITHAW: libc::c_ulong = 0xC004_5878;
/// `_IOWR('X', 121, struct fstrim_range)`
const FITRIM: libc::c_ulong = 0xC018_5879;

/// `struct fstrim_range`
#[repr(C)]
struct FstrimRange {
    start: u64,
    len: u64,
    minlen: u64,
}

/// A file system qemu-ga would freeze.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    /// Where it is mounted.
    pub dir: String,
    /// Its type.
    pub fstype: String,
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && b.get(i + 1..i + 4)
                .is_some_and(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The freezable mounts of a mountinfo text, in mount order.
pub fn mounts_of(mountinfo: &str) -> Vec<Mount> {
    let mut out: Vec<Mount> = Vec::new();
    for line in mountinfo.lines() {
        // id parent major:minor root mountpoint options... - type source superopts
        let mut fields = line.split(' ');
        let Some(dir) = fields.nth(4) else { continue };
        let Some(rest) = line.split_once(" - ") else {
            continue;
        };
        let mut tail = rest.1.split(' ');
        let (Some(fstype), Some(source)) = (tail.next(), tail.next()) else {
            continue;
        };
        if !source.starts_with('/') || fstype == "smbfs" || fstype == "cifs" {
            continue;
        }
        let dir = unescape(dir);
        out.retain(|m| m.dir != dir);
        out.push(Mount {
            dir,
            fstype: fstype.to_string(),
        });
    }
    out
}

fn mounts() -> Result<Vec<Mount>, HookError> {
    let text = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| nanoqga_host::sys::io_error(&e))?;
    Ok(mounts_of(&text))
}

fn open_dir(dir: &str) -> Result<std::fs::File, i32> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(dir)
        .map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))
}

fn ioctl_int(file: &std::fs::File, request: libc::c_ulong) -> Result<(), i32> {
    use std::os::fd::AsRawFd;
    let mut arg: libc::c_int = 0;
    // SAFETY: FIFREEZE and FITHAW take an int argument.
    if unsafe { libc::ioctl(file.as_raw_fd(), request as _, &mut arg) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO))
    }
}

/// qemu-ga's "failed to freeze <dir>: <strerror>", kept once per text
/// (a board message lives for the program; the texts are bounded by the
/// mount points and errors there are).
fn freeze_failed(dir: &str, errno: i32) -> &'static str {
    use std::sync::Mutex;
    static TEXTS: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let want = format!(
        "failed to freeze {dir}: {}",
        Errno(errno).text().unwrap_or("Unknown error")
    );
    let mut texts = TEXTS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(t) = texts.iter().find(|t| **t == want) {
        return t;
    }
    let t: &'static str = Box::leak(want.into_boxed_str());
    texts.push(t);
    t
}

/// Freezes (see the module documentation).
pub fn freeze(mountpoints: &StrList<'_>) -> Result<i64, HookError> {
    let wanted: Option<Vec<String>> = mountpoints.is_present().then(|| {
        mountpoints
            .iter()
            .map(|s| String::from_utf8_lossy(&s.bytes().collect::<Vec<u8>>()).into_owned())
            .collect()
    });
    let mut frozen = 0i64;
    for m in mounts()?.iter().rev() {
        if let Some(w) = &wanted
            && !w.contains(&m.dir)
        {
            continue;
        }
        let result = open_dir(&m.dir).and_then(|f| ioctl_int(&f, FIFREEZE));
        match result {
            Ok(()) => frozen += 1,
            Err(libc::EOPNOTSUPP) => {}
            Err(e) => {
                let _ = thaw();
                return Err(HookError::Message(freeze_failed(&m.dir, e)));
            }
        }
    }
    Ok(frozen)
}

/// Thaws everything; how many file systems were thawed.
pub fn thaw() -> Result<i64, HookError> {
    let mut thawed = 0i64;
    for m in mounts()? {
        let Ok(f) = open_dir(&m.dir) else { continue };
        let mut counted = false;
        // A file system frozen n times needs n thaws.
        for _ in 0..64 {
            if ioctl_int(&f, FITHAW).is_err() {
                break;
            }
            if !counted {
                thawed += 1;
                counted = true;
            }
        }
    }
    Ok(thawed)
}

/// Trims every file system (see the module documentation).
pub fn trim(
    minimum: Option<i64>,
    f: &mut dyn FnMut(&TrimResult<'_>) -> ControlFlow<()>,
) -> Result<(), HookError> {
    use std::os::fd::AsRawFd;
    let minlen = u64::try_from(minimum.unwrap_or(0)).unwrap_or(0);
    for m in mounts()? {
        let mut error = None;
        let mut trimmed = None;
        match open_dir(&m.dir) {
            Err(e) => {
                error = Some(format!(
                    "failed to open: {}",
                    Errno(e).text().unwrap_or("?")
                ))
            }
            Ok(file) => {
                let mut r = FstrimRange {
                    start: 0,
                    len: u64::MAX,
                    minlen,
                };
                // SAFETY: FITRIM reads and updates a `struct fstrim_range`.
                if unsafe { libc::ioctl(file.as_raw_fd(), FITRIM as _, &mut r) } == 0 {
                    trimmed = Some(i64::try_from(r.len).unwrap_or(i64::MAX));
                } else {
                    let e = std::io::Error::last_os_error()
                        .raw_os_error()
                        .unwrap_or(libc::EIO);
                    if e != libc::ENOTTY && e != libc::EOPNOTSUPP {
                        error = Some(format!(
                            "failed to trim: {}",
                            Errno(e).text().unwrap_or("?")
                        ));
                    }
                }
            }
        }
        let result = TrimResult {
            path: &m.dir,
            trimmed,
            minimum: minimum.or(Some(0)).filter(|_| error.is_none()),
            error: error.as_deref(),
        };
        if f(&result).is_break() {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str = "\
22 1 0:21 / / rw - rootfs rootfs rw
23 22 0:22 / /proc rw - proc proc rw
24 22 0:5 / /dev rw - devtmpfs devtmpfs rw
25 22 0:23 / /tmp rw - tmpfs tmpfs rw
30 22 254:0 / /mnt/data rw,relatime - ext4 /dev/vda rw
31 30 254:16 / /mnt/data/inner\\040dir rw - ext4 /dev/vdb rw
32 22 0:40 / /net rw - cifs //server/share rw
";

    #[test]
    fn only_device_backed_mounts_are_freezable_in_mount_order() {
        let m = mounts_of(INFO);
        assert_eq!(
            m.iter().map(|m| m.dir.as_str()).collect::<Vec<_>>(),
            ["/mnt/data", "/mnt/data/inner dir"]
        );
        assert_eq!(m[0].fstype, "ext4");
    }

    #[test]
    fn a_mount_point_mounted_again_counts_once() {
        let twice =
            "30 22 254:0 / /m rw - ext4 /dev/vda rw\n31 22 254:16 / /m rw - xfs /dev/vdb rw\n";
        let m = mounts_of(twice);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].fstype, "xfs");
    }
}
