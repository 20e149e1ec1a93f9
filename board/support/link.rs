// The build script every bare-metal board shares (`include!`d by their
// build.rs, which then calls `link`): the board's binary links with its
// machine script from the repository's `linker/` directory, relinks when
// that script or the shared layout it INCLUDEs changes, and rebuilds when
// the host name chosen at build time (NANOQGA_HOSTNAME) changes.

/// Links the board's binaries with `linker/<script>` plus `args`.
fn link(script: &str, args: &[&str]) {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("manifest dir");
    let linker = format!("{dir}/../../linker");
    println!("cargo:rerun-if-changed={linker}/{script}");
    println!("cargo:rerun-if-changed={linker}/common.ld");
    println!("cargo:rerun-if-changed={dir}/../support/link.rs");
    println!("cargo:rustc-link-arg-bins=-L{linker}");
    println!("cargo:rustc-link-arg-bins=-T{linker}/{script}");
    for arg in args {
        println!("cargo:rustc-link-arg-bins={arg}");
    }
    println!("cargo:rerun-if-env-changed=NANOQGA_HOSTNAME");
}
