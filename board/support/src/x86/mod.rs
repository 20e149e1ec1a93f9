//! x86_64 pieces more than one image needs: port I/O, the COM ports and
//! the PCI scan for
//! virtio consoles (the bare-metal board and the UEFI application both run
//! in ring 0 on identity-mapped memory).

pub mod com;
pub mod io;
pub mod pci;
