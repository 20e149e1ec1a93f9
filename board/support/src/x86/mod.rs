//! x86_64 pieces more than one image needs: port I/O and the PCI scan for
//! virtio consoles (the bare-metal board and the UEFI application both run
//! in ring 0 on identity-mapped memory).

pub mod io;
pub mod pci;
