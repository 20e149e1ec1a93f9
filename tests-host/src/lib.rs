//! Test support for nanoqga inside this repository: the board-author kit
//! ([`nanoqga_testkit`], re-exported), and harnesses that run
//! `nanoqga-host`, qemu-ga and QEMU.
//!
//! * [`process`] spawns `nanoqga-host` and qemu-ga on unix sockets under a
//!   temporary directory; [`qemu`] boots board images in QEMU, [`linux`]
//!   Linux guests and [`uefi`] the firmware stage;
//! * [`suite`] and [`scenarios`] are the end-to-end checks every board image
//!   passes; [`fuzzing`] holds the fuzz targets' bodies.

pub mod elf;
pub mod fuzzing;
pub mod linux;
pub mod process;
pub mod qemu;
pub mod scenarios;
pub mod suite;
pub mod uefi;
pub mod virt;

pub use nanoqga_testkit::*;

/// Whether tests run under `.ci/run` (where missing tools are failures, not
/// skips).
pub fn in_ci() -> bool {
    std::env::var_os("NANOQGA_CI").is_some()
}

/// Handles a missing external tool: panics in CI, otherwise prints one line
/// saying how to install it and returns false (the caller then skips).
pub fn require_tool(path: &str, install: &str) -> bool {
    if std::path::Path::new(path).exists() {
        return true;
    }
    if in_ci() {
        panic!("{path} is missing in CI: {install}");
    }
    eprintln!("skipping: {path} not found; install with: {install}");
    false
}
