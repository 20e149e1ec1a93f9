//! Links with `linker/qemu-x86_64.ld`, not position-independent (PVH
//! enters at the physical address the ELF names).

include!("../support/link.rs");

fn main() {
    link("qemu-x86_64.ld", &["--no-pie"]);
}
