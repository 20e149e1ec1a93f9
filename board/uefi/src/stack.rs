//! The agent's own stack.
//!
//! Contract: [`run_on_own_stack`] moves execution onto a static 128 KiB
//! stack and never returns. The firmware's stack is of unknown size and
//! shared with whatever started the application; on a stack of its own
//! the agent knows its depth ([`high_water`]) and an image it starts gets
//! the rest. The stack lies in `.bss`, which the firmware's PE loader
//! zero-fills, as [`nanoqga_board::stack::high_water_of`] needs.

use core::cell::UnsafeCell;

/// Stack size.
pub const SIZE: usize = 128 * 1024;

/// The stack memory.
#[repr(C, align(16))]
struct Stack(UnsafeCell<[u64; SIZE / 8]>);

// SAFETY: the stack is only ever used as the CPU's stack, by the one CPU
// that runs the agent; Rust code never takes a reference into it.
unsafe impl Sync for Stack {}

static STACK: Stack = Stack(UnsafeCell::new([0; SIZE / 8]));

fn bounds() -> (usize, usize) {
    let bottom = STACK.0.get() as usize;
    (bottom, bottom + SIZE)
}

/// Stack bytes ever used and the stack's size.
pub fn high_water() -> (usize, usize) {
    let (bottom, top) = bounds();
    // SAFETY: `bottom..top` is the static stack: mapped, 8-byte aligned,
    // zeroed by the loader before first use, growing down from `top`.
    unsafe { nanoqga_board::stack::high_water_of(bottom, top) }
}

/// Calls `f` on the static stack.
pub fn run_on_own_stack(f: extern "efiapi" fn() -> !) -> ! {
    let (_, top) = bounds();
    // SAFETY: `top` is the 16-byte aligned end of a static stack nothing
    // else uses. The Microsoft x64 convention wants 32 bytes of shadow
    // space above the return address and the stack 16-byte aligned before
    // the call; `f` never returns, so the firmware's stack is left as it
    // is for good.
    unsafe {
        core::arch::asm!(
            "mov rsp, {top}",
            "sub rsp, 32",
            "call {f}",
            "ud2",
            top = in(reg) top,
            f = in(reg) f,
            options(noreturn),
        )
    }
}
