//! Probe.
#![no_std]
#![no_main]
use uefi::prelude::*;

#[entry]
fn main() -> Status {
    uefi::boot::stall(core::time::Duration::from_millis(10));
    Status::SUCCESS
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}
