//! nanoqga-linux and qemu-ga side by side in the same minimal Linux guest
//! (Debian's kernel, a busybox initramfs; the agent on libvirt's
//! virtio-serial wiring), under QEMU TCG.
//!
//! For each agent: QEMU start to first answer (median of 5 boots), the
//! stripped agent and what it needs (qemu-ga: its shared libraries), the
//! initramfs, the agent's RSS in the guest (its own `/proc/self/status`,
//! read through it), QEMU's CPU share over 5 s idle with the host client
//! connected and with none, file write and read rates (1 MiB in 64 KiB
//! pieces, every byte checked), and answers lost when a client writes 120
//! pings and then 80 more in a second write (10 runs). Nothing is asserted:
//! this is a measurement.
//!
//! ```sh
//! cargo run --release -p nanoqga-tests-host --bin linux-guest
//! ```

use std::time::{Duration, Instant};

use nanoqga_tests_host::linux::{self, Agent, Wiring};
use nanoqga_tests_host::process::Client;
use nanoqga_tests_host::process::idle_share;
use nanoqga_tests_host::{b64decode, b64encode};

fn call(c: &mut Client, json: &str) -> serde_json::Value {
    let r = c.call(json);
    r.get("return")
        .cloned()
        .unwrap_or_else(|| panic!("{json}: {r}"))
}

/// One agent's figures.
struct Figures {
    first_answer_ms: Vec<f64>,
    binary: u64,
    initramfs: u64,
    rss_kb: u64,
    idle_connected: f64,
    idle_no_client: f64,
    write_kbs: f64,
    read_kbs: f64,
    lost: usize,
    sent: usize,
}

fn boot_and_answer(agent: &Agent) -> (linux::Guest, Client, f64) {
    let g = linux::boot(agent, Wiring::Virtio, false, false).expect("guest");
    let mut c = g.vm.client();
    c.resync_retrying(1, Duration::from_millis(250), Duration::from_secs(120));
    let ms = g.vm.started.elapsed().as_secs_f64() * 1000.0;
    (g, c, ms)
}

/// Two bursts of pings; the answers that never came.
fn bursts(c: &mut Client) -> (usize, usize) {
    use std::io::Read as _;
    let mut first = Vec::new();
    for _ in 0..120 {
        first.extend_from_slice(br#"{"execute":"guest-ping"}"#);
    }
    let mut second = Vec::new();
    for _ in 0..80 {
        second.extend_from_slice(b"{\"execute\":\"guest-ping\"}\n");
    }
    c.send(&first);
    c.send(&second);
    let _ = c.stream.set_read_timeout(Some(Duration::from_secs(3)));
    let mut got = 0usize;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    while got < 200 {
        match c.stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                got = buf.iter().filter(|&&b| b == b'\n').count();
            }
        }
    }
    let _ = c.stream.set_read_timeout(Some(Duration::from_secs(10)));
    (200usize.saturating_sub(got), 200)
}

fn measure(name: &str, agent: &Agent, binary: u64) -> Figures {
    eprintln!("{name}: 5 boots");
    let mut first = Vec::new();
    for _ in 0..4 {
        let (_g, _c, ms) = boot_and_answer(agent);
        first.push(ms);
    }
    let (g, mut c, ms) = boot_and_answer(agent);
    first.push(ms);
    first.sort_by(f64::total_cmp);
    let initramfs = std::fs::metadata(&g.initrd).map(|m| m.len()).unwrap_or(0);
    let status = String::from_utf8_lossy(&read(&mut c, "/proc/self/status")).into_owned();
    let rss_kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    let pid = g.vm.child.id();
    std::thread::sleep(Duration::from_secs(2));
    let idle_connected = idle_share(pid, Duration::from_secs(5));
    // 1 MiB in 64 KiB pieces, written then read back.
    let data: Vec<u8> = (0..1u32 << 20)
        .map(|i| (i.wrapping_mul(2654435761) >> 11) as u8)
        .collect();
    let h = call(
        &mut c,
        r#"{"execute":"guest-file-open","arguments":{"path":"/tmp/bench","mode":"w+"}}"#,
    )
    .as_i64()
    .expect("handle");
    let t = Instant::now();
    for part in data.chunks(65536) {
        call(
            &mut c,
            &format!(
                r#"{{"execute":"guest-file-write","arguments":{{"handle":{h},"buf-b64":"{}"}}}}"#,
                b64encode(part)
            ),
        );
    }
    let write_kbs = data.len() as f64 / t.elapsed().as_secs_f64() / 1000.0;
    call(
        &mut c,
        &format!(
            r#"{{"execute":"guest-file-seek","arguments":{{"handle":{h},"offset":0,"whence":"set"}}}}"#
        ),
    );
    let t = Instant::now();
    let mut back = Vec::new();
    while back.len() < data.len() {
        let r = call(
            &mut c,
            &format!(
                r#"{{"execute":"guest-file-read","arguments":{{"handle":{h},"count":65536}}}}"#
            ),
        );
        back.extend(b64decode(r["buf-b64"].as_str().expect("data")));
        if r["eof"] == true {
            break;
        }
    }
    let read_kbs = back.len() as f64 / t.elapsed().as_secs_f64() / 1000.0;
    assert!(back == data, "{name}: file read back differs");
    call(
        &mut c,
        &format!(r#"{{"execute":"guest-file-close","arguments":{{"handle":{h}}}}}"#),
    );
    let (mut lost, mut sent) = (0, 0);
    for run in 0..10 {
        let (l, s) = bursts(&mut c);
        lost += l;
        sent += s;
        if l > 0 {
            eprintln!("{name}: run {run}: {l} of {s} answers lost");
        }
        c.resync_retrying(
            1000 + run * 100,
            Duration::from_secs(2),
            Duration::from_secs(30),
        );
    }
    drop(c);
    std::thread::sleep(Duration::from_millis(500));
    let idle_no_client = idle_share(pid, Duration::from_secs(5));
    Figures {
        first_answer_ms: first,
        binary,
        initramfs,
        rss_kb,
        idle_connected,
        idle_no_client,
        write_kbs,
        read_kbs,
        lost,
        sent,
    }
}

fn read(c: &mut Client, path: &str) -> Vec<u8> {
    let h = call(
        c,
        &format!(r#"{{"execute":"guest-file-open","arguments":{{"path":"{path}"}}}}"#),
    )
    .as_i64()
    .expect("handle");
    let r = call(
        c,
        &format!(r#"{{"execute":"guest-file-read","arguments":{{"handle":{h},"count":65536}}}}"#),
    );
    call(
        c,
        &format!(r#"{{"execute":"guest-file-close","arguments":{{"handle":{h}}}}}"#),
    );
    b64decode(r["buf-b64"].as_str().expect("data"))
}

fn main() {
    let ours = std::fs::metadata(linux::stripped(&linux::nanoqga_linux()))
        .map(|m| m.len())
        .unwrap_or(0);
    let qga = linux::qemu_ga_footprint();
    let n = measure("nanoqga-linux", &Agent::Nanoqga(Vec::new()), ours);
    let q = measure("qemu-ga", &Agent::QemuGa, qga);
    let kib = |b: u64| format!("{:.0} KiB", b as f64 / 1024.0);
    let median = |v: &[f64]| v[v.len() / 2];
    println!("# nanoqga-linux and qemu-ga in the same guest (QEMU 7.2 TCG, virtio-serial)\n");
    println!("| | nanoqga-linux | qemu-ga 7.2 |\n|---|---|---|");
    println!(
        "| QEMU start to first answer, median of 5 [min .. max] | {:.0} ms [{:.0} .. {:.0}] | {:.0} ms [{:.0} .. {:.0}] |",
        median(&n.first_answer_ms),
        n.first_answer_ms[0],
        n.first_answer_ms[4],
        median(&q.first_answer_ms),
        q.first_answer_ms[0],
        q.first_answer_ms[4]
    );
    println!(
        "| agent on disk (stripped; qemu-ga with its libraries) | {} | {} |",
        kib(n.binary),
        kib(q.binary)
    );
    println!(
        "| initramfs | {} | {} |",
        kib(n.initramfs),
        kib(q.initramfs)
    );
    println!(
        "| agent RSS in the guest | {} kB | {} kB |",
        n.rss_kb, q.rss_kb
    );
    println!(
        "| QEMU CPU idle, host connected / no client | {:.1}% / {:.1}% | {:.1}% / {:.1}% |",
        n.idle_connected, n.idle_no_client, q.idle_connected, q.idle_no_client
    );
    println!(
        "| file write / read, 64 KiB pieces | {:.0} / {:.0} KB/s | {:.0} / {:.0} KB/s |",
        n.write_kbs, n.read_kbs, q.write_kbs, q.read_kbs
    );
    println!(
        "| answers lost, 120 + 80 pings in two writes, 10 runs | {} of {} | {} of {} |",
        n.lost, n.sent, q.lost, q.sent
    );
}
