//! Small wrappers over the C library that every other module uses.

use nanoqga::error::{Errno, HookError};

/// The calling thread's `errno`.
pub fn last_errno() -> Errno {
    Errno(
        std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO),
    )
}

/// `errno` as a hook error.
pub fn hook_errno() -> HookError {
    HookError::Errno(last_errno())
}

/// An I/O error as a hook error.
pub fn io_error(e: &std::io::Error) -> HookError {
    HookError::Errno(Errno(e.raw_os_error().unwrap_or(libc::EIO)))
}

/// Reads clock `id` in nanoseconds.
pub fn clock_ns(id: libc::clockid_t) -> Result<i64, HookError> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer.
    if unsafe { libc::clock_gettime(id, &mut ts) } != 0 {
        return Err(hook_errno());
    }
    Ok(ts
        .tv_sec
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec))
}
