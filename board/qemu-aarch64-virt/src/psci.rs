//! Power control through PSCI, called with `hvc` (the conduit on plain
//! `-machine virt`; the device tree's `/psci` node names it).

use core::arch::asm;

const SYSTEM_OFF: u64 = 0x8400_0008;
const SYSTEM_RESET: u64 = 0x8400_0009;

fn call(function: u64) {
    // SAFETY: a PSCI call into the hypervisor (QEMU); SYSTEM_OFF and
    // SYSTEM_RESET do not return on success and touch no guest memory.
    unsafe {
        asm!("hvc #0", inout("x0") function => _, out("x1") _, out("x2") _, out("x3") _,
             options(nomem, nostack))
    };
}

/// Powers the machine off (QEMU exits with status 0).
pub fn power_off() -> ! {
    call(SYSTEM_OFF);
    halt()
}

/// Resets the machine.
pub fn reboot() -> ! {
    call(SYSTEM_RESET);
    halt()
}

/// Stops this CPU for good (QEMU keeps running).
pub fn halt() -> ! {
    loop {
        // SAFETY: waiting for an event; no interrupts are enabled.
        unsafe { asm!("wfe", options(nomem, nostack)) };
    }
}
