//! [`BootCell`]: static storage initialised and handed out once, for values
//! that are not `Send` (the virtio transports hold raw MMIO pointers).
//!
//! Contract: `init` stores the value and hands out the only `&'static mut`
//! to it, once; a second call returns `None`. The storage is uninitialised
//! until then, so it lives in `.bss` whatever the value's bit pattern (an
//! `Option` of a large type may use a non-zero niche for `None`, which
//! would put the whole cell in the image's `.data`). Boards are single-core
//! and take their cells at boot.

use core::cell::UnsafeCell;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicBool, Ordering};

/// Static storage for one value, initialised and handed out once.
pub struct BootCell<T> {
    taken: AtomicBool,
    value: UnsafeCell<MaybeUninit<T>>,
}

// SAFETY: the value is only reachable through `take`, which hands it out
// once (the flag is atomic), so no two threads can ever reach it.
unsafe impl<T> Sync for BootCell<T> {}

impl<T> BootCell<T> {
    /// An empty cell.
    pub const fn new() -> Self {
        BootCell {
            taken: AtomicBool::new(false),
            value: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    /// Stores `value` and returns it, the first time; `None` after that.
    #[allow(
        clippy::mut_from_ref,
        reason = "the atomic flag makes this the only reference ever handed out"
    )]
    pub fn init(&'static self, value: T) -> Option<&'static mut T> {
        if self.taken.swap(true, Ordering::AcqRel) {
            return None;
        }
        // SAFETY: the flag was false, so nobody else has or will ever get a
        // reference to the storage; it lives as long as the static.
        let slot = unsafe { &mut *self.value.get() };
        Some(slot.write(value))
    }
}

impl<T> BootCell<Option<T>> {
    /// [`BootCell::init`] with `None`, written in place: a large `T` is
    /// never built on the stack and copied in (as `init(None)` does).
    #[allow(
        clippy::mut_from_ref,
        reason = "the atomic flag makes this the only reference ever handed out"
    )]
    pub fn init_none(&'static self) -> Option<&'static mut Option<T>> {
        if self.taken.swap(true, Ordering::AcqRel) {
            return None;
        }
        // SAFETY: as in `init`: the only reference ever handed out.
        let slot = unsafe { &mut *self.value.get() };
        let ptr = slot.as_mut_ptr();
        // SAFETY: `ptr` is valid for writes and aligned (the cell's own
        // storage). `None` is built in place, so only its tag (or niche)
        // is stored; the payload bytes stay uninitialised, as `None`
        // allows.
        unsafe { ptr.write(None) };
        // SAFETY: just initialised.
        Some(unsafe { slot.assume_init_mut() })
    }
}

impl<T> Default for BootCell<T> {
    fn default() -> Self {
        Self::new()
    }
}
