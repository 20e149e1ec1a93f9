//! Footprint and boot report: image sections, agent RAM, and the time from
//! starting QEMU to the first `guest-sync-delimited` answer (median of 5
//! boots) for every board and channel. Prints Markdown tables.
//!
//! Run: `cargo run --release -p nanoqga-tests-host --bin footprint [-- --sizes]`
//! (`--sizes`: only the size tables, no QEMU boots).

use std::time::Duration;

use nanoqga_tests_host::elf::sections;
use nanoqga_tests_host::qemu::{
    AARCH64_VIRT, ISA_SERIAL, QEMU_AARCH64, QEMU_RISCV64, QEMU_X86_64, RISCV64_VIRT, VIRT_SERIAL,
    Vm, VmConfig, build_board, libvirt_channel,
};

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

    println!(
        "## The core alone (tests-host/size-probe: clock, power, RAM files, built-in programs; opt-level z, LTO)\n"
    );
    println!(
        "| target | table | float-ids | .text | .rodata | .data | .bss |\n|---|---|---|---|---|---|---|"
    );
    let probe = nanoqga_tests_host::qemu::repo_root().join("tests-host/size-probe");
    // (table, features, .text goal on thumbv7em)
    let builds: [(&str, Option<&str>, Option<u64>); 3] = [
        ("ALL", None, Some(32 * 1024)),
        ("ALL", Some("float-ids"), None),
        ("HEALTH", Some("health"), Some(16 * 1024)),
    ];
    let mut goals = Vec::new();
    for target in ["thumbv7em-none-eabihf", "riscv64gc-unknown-none-elf"] {
        for (table, feature, goal) in builds {
            let mut cmd = std::process::Command::new("cargo");
            cmd.current_dir(&probe).env_remove("RUSTFLAGS").args([
                "build",
                "--release",
                "--quiet",
                "--target",
                target,
            ]);
            if let Some(f) = feature {
                cmd.args(["--features", f]);
            }
            let ok = cmd.status().is_ok_and(|s| s.success());
            assert!(
                ok,
                "size probe build for {target} (rustup target add {target})"
            );
            let s = sections(&probe.join(format!("target/{target}/release/nanoqga-size-probe")));
            println!(
                "| {target} | {table} | {} | {} ({} B) | {} | {} | {} |",
                if feature == Some("float-ids") {
                    "on"
                } else {
                    "off"
                },
                kib(s.text),
                s.text,
                kib(s.rodata),
                kib(s.data),
                kib(s.bss)
            );
            if let (Some(goal), "thumbv7em-none-eabihf") = (goal, target) {
                goals.push((table, s.text, goal));
            }
        }
    }
    println!();
    for (table, text, goal) in goals {
        println!(
            "* thumbv7em `.text` with table {table}: {text} B, goal <= {goal} B: {}",
            if text <= goal { "met" } else { "not met" }
        );
    }
    println!();

    println!("## Board images\n");
    println!("| image | .text | .rodata | .data | .bss | loaded (text+rodata+data) |");
    println!("|---|---|---|---|---|---|");
    let x86 = build_board("qemu-x86_64", "x86_64-unknown-none");
    let a64 = build_board("qemu-aarch64-virt", "aarch64-unknown-none");
    let rv64 = build_board("qemu-riscv64-virt", "riscv64gc-unknown-none-elf");
    for (name, img) in [
        ("qemu-x86_64", &x86),
        ("qemu-aarch64-virt", &a64),
        ("qemu-riscv64-virt", &rv64),
    ] {
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

    if std::env::args().any(|a| a == "--sizes") {
        return;
    }

    struct Case<'a> {
        board: &'a str,
        channel: &'a str,
        qemu: &'a str,
        machine: &'a [&'a str],
        image: &'a std::path::Path,
        devices: &'a [&'a str],
    }
    let pci = libvirt_channel("virtio-serial-pci,id=virtio-serial0");
    let pci: Vec<&str> = pci.iter().map(String::as_str).collect();
    let mmio = libvirt_channel("virtio-serial-device,id=virtio-serial0");
    let mmio: Vec<&str> = mmio.iter().map(String::as_str).collect();
    let cases = [
        Case {
            board: "qemu-x86_64",
            channel: "isa-serial (q35)",
            qemu: QEMU_X86_64,
            machine: &["-machine", "q35"],
            image: &x86,
            devices: ISA_SERIAL,
        },
        Case {
            board: "qemu-x86_64",
            channel: "isa-serial (pc)",
            qemu: QEMU_X86_64,
            machine: &["-machine", "pc"],
            image: &x86,
            devices: ISA_SERIAL,
        },
        Case {
            board: "qemu-x86_64",
            channel: "virtio-serial-pci (q35)",
            qemu: QEMU_X86_64,
            machine: &["-machine", "q35"],
            image: &x86,
            devices: &pci,
        },
        Case {
            board: "qemu-aarch64-virt",
            channel: "PL011",
            qemu: QEMU_AARCH64,
            machine: AARCH64_VIRT,
            image: &a64,
            devices: VIRT_SERIAL,
        },
        Case {
            board: "qemu-aarch64-virt",
            channel: "virtio-serial-device (mmio)",
            qemu: QEMU_AARCH64,
            machine: AARCH64_VIRT,
            image: &a64,
            devices: &mmio,
        },
        Case {
            board: "qemu-riscv64-virt",
            channel: "NS16550A",
            qemu: QEMU_RISCV64,
            machine: RISCV64_VIRT,
            image: &rv64,
            devices: VIRT_SERIAL,
        },
        Case {
            board: "qemu-riscv64-virt",
            channel: "virtio-serial-device (mmio)",
            qemu: QEMU_RISCV64,
            machine: RISCV64_VIRT,
            image: &rv64,
            devices: &mmio,
        },
    ];

    println!(
        "\n## Boot to first answer (QEMU start to the first guest-sync-delimited reply, 5 boots)\n"
    );
    println!("| board | channel | median | min | max |\n|---|---|---|---|---|");
    for case in &cases {
        let cfg = VmConfig {
            qemu: case.qemu,
            machine: case.machine,
            image: case.image,
            devices: case.devices,
            qmp: false,
        };
        let runs: Vec<Duration> = (0..5).map(|_| boot_once(&cfg)).collect();
        let (med, min, max) = stats(runs);
        println!(
            "| {} | {} | {:.0} ms | {:.0} ms | {:.0} ms |",
            case.board,
            case.channel,
            med.as_secs_f64() * 1e3,
            min.as_secs_f64() * 1e3,
            max.as_secs_f64() * 1e3
        );
    }

    println!(
        "\n## guest-file-read of a 16 KiB RAM file (count 16384; 5 runs of 20 reads; file bytes per second)\n"
    );
    println!(
        "| board | channel | median | min | max | virtio DMA in use | stack high-water |\n|---|---|---|---|---|---|---|"
    );
    for case in &cases {
        let vm = Vm::start(&VmConfig {
            qemu: case.qemu,
            machine: case.machine,
            image: case.image,
            devices: case.devices,
            qmp: false,
        });
        let mut c = vm.client();
        c.resync(1);
        // A full suite run first, so the stack figure covers every command.
        nanoqga_tests_host::suite::run(
            &mut c,
            match case.qemu {
                QEMU_X86_64 => "x86_64",
                QEMU_RISCV64 => "riscv64",
                _ => "aarch64",
            },
        );
        let h = c.call(r#"{"execute":"guest-file-open","arguments":{"path":"/tmp/f","mode":"w+"}}"#)["return"]
            .as_i64()
            .expect("open");
        // The board's request buffer is 4 KiB: write in 2 KiB pieces.
        let piece = nanoqga_tests_host::b64encode(&[0x5A; 2048]);
        for _ in 0..8 {
            let r = c.call(&format!(
                r#"{{"execute":"guest-file-write","arguments":{{"handle":{h},"buf-b64":"{piece}"}}}}"#
            ));
            assert_eq!(r["return"]["count"], 2048, "{r}");
        }
        let mut rates = Vec::new();
        for _ in 0..5 {
            let t = std::time::Instant::now();
            for _ in 0..20 {
                c.call(&format!(
                    r#"{{"execute":"guest-file-seek","arguments":{{"handle":{h},"offset":0,"whence":"set"}}}}"#
                ));
                let r = c.call(&format!(
                    r#"{{"execute":"guest-file-read","arguments":{{"handle":{h},"count":16384}}}}"#
                ));
                assert_eq!(r["return"]["count"], 16384, "{r}");
            }
            rates.push(20.0 * 16384.0 / t.elapsed().as_secs_f64());
        }
        rates.sort_by(f64::total_cmp);
        let stack = board_stats(&mut c, "stack-used");
        let dma = match board_stats(&mut c, "dma-used").as_str() {
            "0" => "-".to_string(),
            used => format!("{used} of {} B", board_stats(&mut c, "dma-size")),
        };
        println!(
            "| {} | {} | {:.0} KB/s | {:.0} KB/s | {:.0} KB/s | {dma} | {stack} B |",
            case.board,
            case.channel,
            rates[2] / 1e3,
            rates[0] / 1e3,
            rates[4] / 1e3
        );
    }
}

/// A figure printed by the board's stats program.
fn board_stats(c: &mut nanoqga_tests_host::process::Client, name: &str) -> String {
    let pid = c.call(r#"{"execute":"guest-exec","arguments":{"path":"/usr/libexec/nanoqga/stats","capture-output":true}}"#)["return"]["pid"]
        .as_i64()
        .expect("stats pid");
    let r = c.call(&format!(
        r#"{{"execute":"guest-exec-status","arguments":{{"pid":{pid}}}}}"#
    ));
    let out = String::from_utf8_lossy(&nanoqga_tests_host::b64decode(
        r["return"]["out-data"].as_str().unwrap_or(""),
    ))
    .into_owned();
    out.lines()
        .find_map(|l| {
            l.strip_prefix(name)
                .and_then(|v| v.strip_prefix(": "))
                .map(str::to_string)
        })
        .unwrap_or_else(|| "-".into())
}
