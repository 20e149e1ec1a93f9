//! `nanoqga-host` built inside the test package (same entry point), so
//! process tests can find it through `CARGO_BIN_EXE_nanoqga-host-test`.

fn main() {
    std::process::exit(nanoqga_host::main(std::env::args_os().skip(1)));
}
