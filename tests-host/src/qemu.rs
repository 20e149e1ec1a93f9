//! Booting board images in QEMU for end-to-end tests.

/// Path of the x86_64 system emulator.
pub const QEMU_X86_64: &str = "/usr/bin/qemu-system-x86_64";
