//! Idle cost and wire rates of the bare-metal boards, per wiring.
//!
//! For each board and wiring (COM1, COM2, virtio-pci on x86_64 q35; PL011
//! and virtio-mmio on aarch64 virt; the NS16550A and virtio-mmio on
//! riscv64 virt; the UEFI application under OVMF on COM1 and virtio-pci),
//! one boot measures:
//!
//! * boot to first answer (QEMU started to the first `guest-sync-delimited`
//!   reply; for the UEFI application that includes OVMF's boot);
//! * QEMU's CPU share of one core (user + system time from
//!   `/proc/PID/stat`) over 5 s of idle with the host client connected
//!   after one answered sync, and over 5 s with no client;
//! * 50 sequential pings right after the idle period: p50 and p99;
//! * inbound: one 256 KiB request (answered with the size-limit error once
//!   its last byte is in); a 16 KiB file written in 2 KiB pieces and read
//!   back in 4 KiB pieces (file bytes per second, as qemu-boards.md §5
//!   counts them; a read's reply is 1.37 times as many bytes on the wire),
//!   every byte checked.
//!
//! Figures are printed as a table with the Linux + qemu-ga 7.2 reference
//! measured on this machine's kind (`../shared/design/qemu-boards.md` §5).
//! Nothing here is asserted: this is a measurement, not a test.
//!
//! ```sh
//! cargo run --release -p nanoqga-tests-host --bin wake
//! ```

use std::time::{Duration, Instant};

use nanoqga_tests_host::process::idle_share;
use nanoqga_tests_host::qemu::{
    AARCH64_VIRT, Boot, QEMU_AARCH64, QEMU_RISCV64, QEMU_X86_64, RISCV64_VIRT, VIRT_SERIAL, Vm,
    VmConfig, build_board, hand_written_channel,
};
use nanoqga_tests_host::uefi;
use nanoqga_tests_host::{b64decode, b64encode};

struct Row {
    name: &'static str,
    boot_ms: f64,
    idle_connected: f64,
    idle_no_client: f64,
    ping_p50_ms: f64,
    ping_p99_ms: f64,
    inbound_kbs: f64,
    outbound_kbs: f64,
    write_kbs: f64,
}

fn measure(name: &'static str, cfg: &VmConfig<'_>) -> Row {
    measure_vm(name, Vm::start(cfg), false)
}

/// Measures a booted VM; `firmware`: the boot goes through OVMF, whose
/// console may take the first bytes on a COM port, so the first sync is
/// retried (every 250 ms) as patient clients do.
fn measure_vm(name: &'static str, vm: Vm, firmware: bool) -> Row {
    let pid = vm.child.id();
    let mut c = vm.client();
    if firmware {
        c.resync_retrying(0xB007, Duration::from_millis(250), Duration::from_secs(120));
    } else {
        c.resync(0xB007);
    }
    let boot_ms = vm.started.elapsed().as_secs_f64() * 1000.0;
    // Let boot-time work (the clock's second edge) settle.
    std::thread::sleep(Duration::from_millis(1500));
    let idle_connected = idle_share(pid, Duration::from_secs(5));
    let mut lat = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        let r = c.call(r#"{"execute":"guest-ping"}"#);
        assert_eq!(r["return"], serde_json::json!({}), "{r}");
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    lat.sort_by(f64::total_cmp);
    // Inbound: one 256 KiB request; the answer comes once it is all in.
    let mut big = br#"{"execute":"guest-ping","arguments":{"pad":""#.to_vec();
    big.extend(std::iter::repeat_n(b'A', 256 * 1024));
    big.extend_from_slice(b"\"}}\n");
    let t = Instant::now();
    c.send(&big);
    let r = c.reply();
    let inbound_kbs = big.len() as f64 / t.elapsed().as_secs_f64() / 1000.0;
    assert!(r["error"]["desc"].is_string(), "{r}");
    // A 16 KiB file: written in 2 KiB pieces, read in 4 KiB pieces.
    let h = c.call(r#"{"execute":"guest-file-open","arguments":{"path":"/tmp/wire","mode":"w+"}}"#)
        ["return"]
        .as_i64()
        .expect("handle");
    let data: Vec<u8> = (0..16384u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let t = Instant::now();
    for part in data.chunks(2048) {
        let r = c.call(&format!(
            r#"{{"execute":"guest-file-write","arguments":{{"handle":{h},"buf-b64":"{}"}}}}"#,
            b64encode(part)
        ));
        assert_eq!(r["return"]["count"], part.len(), "{r}");
    }
    let write_kbs = data.len() as f64 / t.elapsed().as_secs_f64() / 1000.0;
    c.call(&format!(
        r#"{{"execute":"guest-file-seek","arguments":{{"handle":{h},"offset":0,"whence":"set"}}}}"#
    ));
    let mut back = Vec::new();
    let t = Instant::now();
    for _ in 0..4 {
        let v = c.call(&format!(
            r#"{{"execute":"guest-file-read","arguments":{{"handle":{h},"count":4096}}}}"#
        ));
        back.extend(b64decode(v["return"]["buf-b64"].as_str().expect("buf-b64")));
    }
    let outbound_kbs = back.len() as f64 / t.elapsed().as_secs_f64() / 1000.0;
    assert_eq!(back, data);
    drop(c);
    std::thread::sleep(Duration::from_millis(500));
    let idle_no_client = idle_share(pid, Duration::from_secs(5));
    Row {
        name,
        boot_ms,
        idle_connected,
        idle_no_client,
        ping_p50_ms: lat[lat.len() / 2],
        ping_p99_ms: lat[lat.len() * 99 / 100],
        inbound_kbs,
        outbound_kbs,
        write_kbs,
    }
}

/// OVMF with no boot volume idles in its boot manager: its own idle cost,
/// the floor for an application that sleeps on its timer.
fn ovmf_alone_idle() -> f64 {
    let dir = nanoqga_tests_host::process::TempDir::new("ovmf");
    let vars = dir.path().join("vars.fd");
    std::fs::copy(uefi::OVMF_VARS, &vars).expect("vars");
    let boot = [
        "-drive".to_string(),
        format!("if=pflash,format=raw,readonly=on,file={}", uefi::OVMF_CODE),
        "-drive".to_string(),
        format!("if=pflash,format=raw,file={}", vars.display()),
    ];
    let vm = Vm::start_in(
        dir,
        &Boot {
            qemu: QEMU_X86_64,
            machine: &["-machine", "q35", "-accel", "tcg"],
            memory: "256M",
            boot: &boot,
        },
        &[],
        false,
    );
    // Past the boot attempts, into the boot manager's wait for a key.
    std::thread::sleep(Duration::from_secs(20));
    idle_share(vm.child.id(), Duration::from_secs(5))
}

fn main() {
    let x86 = build_board("qemu-x86_64", "x86_64-unknown-none");
    let a64 = build_board("qemu-aarch64-virt", "aarch64-unknown-none");
    let rv64 = build_board("qemu-riscv64-virt", "riscv64gc-unknown-none-elf");
    let q35: &[&str] = &["-machine", "q35"];
    let pci = hand_written_channel("virtio-serial-pci");
    let pci: Vec<&str> = pci.iter().map(String::as_str).collect();
    let mmio = hand_written_channel("virtio-serial-device");
    let mmio: Vec<&str> = mmio.iter().map(String::as_str).collect();
    let com1: &[&str] = &[
        "-chardev",
        "socket,id=qga0,path={QGA},server=on,wait=off",
        "-device",
        "isa-serial,chardev=qga0",
    ];
    let com2: &[&str] = &[
        "-chardev",
        "null,id=console0",
        "-device",
        "isa-serial,chardev=console0",
        "-chardev",
        "socket,id=qga0,path={QGA},server=on,wait=off",
        "-device",
        "isa-serial,chardev=qga0",
    ];
    let x86_cfg = |devices| VmConfig {
        qemu: QEMU_X86_64,
        machine: q35,
        image: &x86,
        devices,
        qmp: false,
    };
    let a64_cfg = |devices| VmConfig {
        qemu: QEMU_AARCH64,
        machine: AARCH64_VIRT,
        image: &a64,
        devices,
        qmp: false,
    };
    let rv64_cfg = |devices| VmConfig {
        qemu: QEMU_RISCV64,
        machine: RISCV64_VIRT,
        image: &rv64,
        devices,
        qmp: false,
    };
    let uefi_vm = |devices: &[&str]| {
        uefi::boot(uefi::Volume::Directory, &[], devices, "256M", false).map(|f| f.vm)
    };
    let mut rows = vec![
        measure("x86_64 q35, COM1", &x86_cfg(com1)),
        measure("x86_64 q35, COM2 (COM1 a console)", &x86_cfg(com2)),
        measure("x86_64 q35, virtio-serial-pci", &x86_cfg(&pci)),
        measure("aarch64 virt, PL011", &a64_cfg(VIRT_SERIAL)),
        measure("aarch64 virt, virtio-mmio", &a64_cfg(&mmio)),
        measure("riscv64 virt, NS16550A", &rv64_cfg(VIRT_SERIAL)),
        measure("riscv64 virt, virtio-mmio", &rv64_cfg(&mmio)),
    ];
    let mut ovmf_idle = None;
    if let Some(vm) = uefi_vm(com1) {
        rows.push(measure_vm("UEFI application (OVMF) q35, COM1", vm, true));
    }
    if let Some(vm) = uefi_vm(&pci) {
        rows.push(measure_vm(
            "UEFI application (OVMF) q35, virtio-serial-pci",
            vm,
            true,
        ));
        ovmf_idle = Some(ovmf_alone_idle());
    }
    // The firmware stage's first answer varies with OVMF's boot: five boots.
    let mut firsts = Vec::new();
    for _ in 0..5 {
        let Some(vm) = uefi_vm(&pci) else { break };
        let mut c = vm.client();
        c.resync_retrying(1, Duration::from_millis(250), Duration::from_secs(120));
        firsts.push(vm.started.elapsed().as_secs_f64() * 1000.0);
    }
    firsts.sort_by(f64::total_cmp);
    println!("# Idle cost and wire rates (QEMU 7.2 TCG, one boot per wiring)\n");
    println!(
        "| guest | boot to first answer | idle, host connected | idle, no host client | ping p50 / p99 after idle | inbound, one 256 KiB request | 4 KiB file reads | 2 KiB file writes |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| nanoqga {} | {:.0} ms | {:.1}% | {:.1}% | {:.2} / {:.2} ms | {:.0} KB/s | {:.0} KB/s | {:.0} KB/s |",
            r.name,
            r.boot_ms,
            r.idle_connected,
            r.idle_no_client,
            r.ping_p50_ms,
            r.ping_p99_ms,
            r.inbound_kbs,
            r.outbound_kbs,
            r.write_kbs
        );
    }
    println!(
        "| Linux 6.1 + qemu-ga 7.2, ttyS0 (reference, qemu-boards.md §5) | | 0.3% | 2.3% | 2.4 ms (p50) | 141 KB/s | 214 KB/s | 85 KB/s |"
    );
    println!(
        "| Linux 6.1 + qemu-ga 7.2, virtio-serial (reference) | | 0.3% | 2.3% | 2.4 ms (p50) | | 857 KB/s | 567 KB/s |"
    );
    if let Some(idle) = ovmf_idle {
        println!(
            "| OVMF 2022.11 alone, idle at its boot manager (reference) | | {idle:.1}% | | | | | |"
        );
        if let (Some(lo), Some(hi)) = (firsts.first(), firsts.last()) {
            println!(
                "\nUEFI application, QEMU start to first answer over virtio-serial (OVMF's boot included), {} boots: median {:.0} ms [{lo:.0}..{hi:.0}] (Linux 6.1 + qemu-ga 7.2: 7.24 s, linux-guest.md)",
                firsts.len(),
                firsts[firsts.len() / 2]
            );
        }
        let app = std::fs::metadata(uefi::application()).map_or(0, |m| m.len());
        println!(
            "\nUEFI application: {app} bytes ({:.0} KiB) as built (release, with symbols).",
            app as f64 / 1024.0
        );
    }
    println!();
    let goal = |ok: bool| if ok { "met" } else { "NOT met" };
    for r in &rows {
        println!(
            "* {}: idle <= 1% ({}), ping p50 <= 1.5 ms ({})",
            r.name,
            goal(r.idle_connected <= 1.0 && r.idle_no_client <= 1.0),
            goal(r.ping_p50_ms <= 1.5)
        );
    }
    println!(
        "* COM1 inbound >= 100 KB/s: {} ({:.0} KB/s)",
        goal(rows[0].inbound_kbs >= 100.0),
        rows[0].inbound_kbs
    );
}
