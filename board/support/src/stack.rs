//! The stack high-water mark of a bare-metal board.
//!
//! Contract: the board's linker script defines `__stack_bottom` and
//! `__stack_top` around the boot stack, which grows down from `__stack_top`,
//! is 8-byte aligned and lies in .bss (zeroed before Rust runs). Then the
//! lowest non-zero word marks the deepest point the stack ever reached. Only
//! boards call [`high_water`]; a build that never calls it needs no such
//! symbols. A board whose stack is a static array of its own (the UEFI
//! application) calls [`high_water_of`] with its bounds instead.

/// Stack bytes ever used (the high-water mark) and the stack's size.
pub fn high_water() -> (usize, usize) {
    unsafe extern "C" {
        static __stack_bottom: u8;
        static __stack_top: u8;
    }
    let bottom = core::ptr::addr_of!(__stack_bottom) as usize;
    let top = core::ptr::addr_of!(__stack_top) as usize;
    // SAFETY: the linker script's symbols bound the boot stack, as the
    // module contract requires.
    unsafe { high_water_of(bottom, top) }
}

/// Stack bytes ever used and the stack's size, for a stack in
/// `bottom..top`: 8-byte aligned RAM, zeroed before it was first used,
/// growing down from `top`.
///
/// # Safety
/// `bottom..top` must be such a stack, mapped and 8-byte aligned.
pub unsafe fn high_water_of(bottom: usize, top: usize) -> (usize, usize) {
    let size = top.saturating_sub(bottom);
    let mut p = bottom;
    while p < top {
        // SAFETY: `p` is an aligned address inside the stack region, which
        // the caller guarantees is mapped RAM; reading it races with
        // nothing (one CPU).
        if unsafe { core::ptr::read_volatile(p as *const u64) } != 0 {
            break;
        }
        p += 8;
    }
    (top - p, size)
}
