//! Links with `linker/qemu-riscv64-virt.ld`, 4 KiB pages in the file (lld
//! would pad to 64 KiB otherwise).

include!("../support/link.rs");

fn main() {
    link("qemu-riscv64-virt.ld", &["-zmax-page-size=4096"]);
}
