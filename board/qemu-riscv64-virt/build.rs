//! Links with `linker/qemu-riscv64-virt.ld` and relinks when it changes.

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("manifest dir");
    let script = format!("{dir}/../../linker/qemu-riscv64-virt.ld");
    println!("cargo:rerun-if-changed={script}");
    // The machine script INCLUDEs the shared layout from the same directory.
    println!("cargo:rerun-if-changed={dir}/../../linker/common.ld");
    println!("cargo:rustc-link-arg-bins=-L{dir}/../../linker");
    println!("cargo:rustc-link-arg-bins=-T{script}");
    // 4 KiB pages in the file: lld would pad to 64 KiB otherwise.
    println!("cargo:rustc-link-arg-bins=-zmax-page-size=4096");
    // The host name the image reports, chosen at build time.
    println!("cargo:rerun-if-env-changed=NANOQGA_HOSTNAME");
}
