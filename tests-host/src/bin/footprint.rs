//! Footprint and boot report: image sections, agent RAM, and the time from
//! starting QEMU to the first `guest-sync-delimited` answer (median of 5
//! boots) for every board and channel. Prints Markdown tables.
//!
//! Run: `cargo run --release -p nanoqga-tests-host --bin footprint`

use std::time::Duration;

use nanoqga_tests_host::elf::sections;
use nanoqga_tests_host::qemu::{QEMU_X86_64, Vm, VmConfig, build_board};

fn kib(b: u64) -> String {
    format!("{:.1} KiB", b as f64 / 1024.0)
}

/// Boots and returns the time to the first delimited-sync answer.
fn boot_once(cfg: &VmConfig<'_>) -> Duration {
    let vm = Vm::start(cfg);
    let mut c = vm.client();
    c.resync(0xB007);
    vm.started.elapsed()
}

fn stats(mut v: Vec<Duration>) -> (Duration, Duration, Duration) {
    v.sort();
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

const ISA: &[&str] = &[
    "-chardev",
    "socket,id=qga0,path={QGA},server=on,wait=off",
    "-device",
    "isa-serial,chardev=qga0",
];

fn main() {
    struct B;
    impl nanoqga::Platform for B {}
    let storage = std::mem::size_of::<nanoqga::Storage>();
    let agent = std::mem::size_of::<nanoqga::Agent<'static, B>>();
    println!("## Agent RAM at the default (bare-metal) capacities\n");
    println!("| part | bytes |\n|---|---|");
    println!("| Storage (buffers and tables) | {storage} |");
    println!("| Agent struct | {agent} |");
    println!(
        "| total | {} ({}) |\n",
        storage + agent,
        kib((storage + agent) as u64)
    );

    println!("## Board images\n");
    println!("| image | .text | .rodata | .data | .bss | loaded (text+rodata+data) |");
    println!("|---|---|---|---|---|---|");
    let x86 = build_board("qemu-x86_64", "x86_64-unknown-none");
    let images = vec![("qemu-x86_64", &x86)];
    for (name, img) in images {
        let s = sections(img);
        println!(
            "| {name} | {} | {} | {} | {} | {} |",
            kib(s.text),
            kib(s.rodata),
            kib(s.data),
            kib(s.bss),
            kib(s.text + s.rodata + s.data)
        );
    }

    println!(
        "\n## Boot to first answer (QEMU start to the first guest-sync-delimited reply, 5 boots)\n"
    );
    println!("| board | machine | channel | median | min | max |\n|---|---|---|---|---|---|");
    for machine in ["q35", "pc"] {
        let m = ["-machine", machine];
        let cfg = VmConfig {
            qemu: QEMU_X86_64,
            machine: &m,
            image: &x86,
            devices: ISA,
            qmp: false,
        };
        let runs: Vec<Duration> = (0..5).map(|_| boot_once(&cfg)).collect();
        let (med, min, max) = stats(runs);
        println!(
            "| qemu-x86_64 | {machine} | isa-serial | {:.0} ms | {:.0} ms | {:.0} ms |",
            med.as_secs_f64() * 1e3,
            min.as_secs_f64() * 1e3,
            max.as_secs_f64() * 1e3
        );
    }
}
