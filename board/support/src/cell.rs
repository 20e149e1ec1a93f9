//! [`BootCell`]: a static taken once, for values that are not `Send` (the
//! virtio transports hold raw MMIO pointers).
//!
//! Contract: `take` hands out the only `&'static mut` to the value, once;
//! a second call returns `None`. Boards are single-core and take their
//! cells at boot.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};

/// A static value handed out once.
pub struct BootCell<T> {
    taken: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the value is only reachable through `take`, which hands it out
// once (the flag is atomic), so no two threads can ever reach it.
unsafe impl<T> Sync for BootCell<T> {}

impl<T> BootCell<T> {
    /// A cell holding `value`.
    pub const fn new(value: T) -> Self {
        BootCell {
            taken: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// The value, the first time; `None` after that.
    #[allow(
        clippy::mut_from_ref,
        reason = "the atomic flag makes this the only reference ever handed out"
    )]
    pub fn take(&'static self) -> Option<&'static mut T> {
        if self.taken.swap(true, Ordering::AcqRel) {
            return None;
        }
        // SAFETY: the flag was false, so this is the only reference ever
        // handed out; it lives as long as the static.
        Some(unsafe { &mut *self.value.get() })
    }
}
