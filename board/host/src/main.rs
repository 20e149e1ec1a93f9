//! `nanoqga-host`: the agent on a Linux host. See `nanoqga_host::main`.

fn main() {
    std::process::exit(nanoqga_host::main(std::env::args_os().skip(1)));
}
