//! End-to-end scenarios every board runs the same way in QEMU.
//!
//! Contract: each function drives a booted [`Vm`] through one scenario and
//! panics (with what came back) when the guest does not behave as qemu-ga
//! would; the board's test file only chooses the machine and the devices.

use std::time::Duration;

use crate::process::Client;
use crate::qemu::{Qmp, Vm};
use crate::suite;

/// The agent's trace file, read through the agent (after a resync).
pub fn read_trace(c: &mut Client) -> String {
    c.resync(5);
    let h = c.call(r#"{"execute":"guest-file-open","arguments":{"path":"/var/log/nanoqga.log"}}"#)
        ["return"]
        .as_i64()
        .expect("trace handle");
    let r = c.call(&format!(
        r#"{{"execute":"guest-file-read","arguments":{{"handle":{h},"count":65536}}}}"#
    ));
    String::from_utf8(crate::b64decode(
        r["return"]["buf-b64"].as_str().expect("buf-b64"),
    ))
    .expect("utf-8 trace")
}

/// A VM started paused (`-S`) with libvirt's channel `channel0` (the agent
/// port) and an unrelated `channel1`: continues it, waits for the
/// `VSERPORT_CHANGE` open event libvirt waits for before it calls the agent
/// connected, runs the suite and the `qapi` client, checks that the guest
/// never opened the other port and says it serves port 1, then runs
/// [`sleeping`].
pub fn libvirt_channel_serves_the_suite(vm: &Vm, machine: &str) {
    let mut qmp = Qmp::connect(vm.qmp.as_ref().expect("VM started with QMP"));
    qmp.command(r#"{"execute":"cont"}"#);
    let ev = qmp.wait_event(
        |e| {
            e["event"] == "VSERPORT_CHANGE"
                && e["data"]["id"] == "channel0"
                && e["data"]["open"] == true
        },
        Duration::from_secs(20),
    );
    assert_eq!(ev["data"]["open"], true);
    let mut c = vm.client();
    suite::run(&mut c, machine);
    suite::qapi_client(&c.stream);
    assert!(
        !qmp.events
            .iter()
            .any(|e| e["event"] == "VSERPORT_CHANGE" && e["data"]["id"] == "channel1"),
        "{:?}",
        qmp.events
    );
    let t = read_trace(&mut c);
    assert!(t.contains("channel: virtio-serial port Some(1)"), "{t}");
    sleeping(&mut c, vm.debug_log().as_deref());
}

/// A client that connected as QEMU started, before the guest opened its
/// side of the port, is answered at once (no other event needed), and
/// keeps being answered.
pub fn client_connected_at_boot_is_answered(vm: &Vm) {
    let mut c = vm.client();
    c.resync(0xB007);
    for id in 0..3 {
        let r = c.call(&format!(
            r#"{{"execute":"guest-sync","arguments":{{"id":{id}}}}}"#
        ));
        assert_eq!(r["return"], id, "{r}");
    }
}

/// The host leaves with half a request sent, then three clients in turn
/// resync, get their `guest-sync` answered, and leave mid-reply.
pub fn host_disconnect_mid_request_then_resync_recovers(vm: &Vm) {
    let mut c = vm.client();
    c.resync(1);
    c.send(br#"{"execute":"guest-sync","arguments":{"id":"#);
    drop(c);
    std::thread::sleep(Duration::from_millis(200));
    for round in 0..3 {
        let mut c = Client::connect(&vm.qga, Duration::from_secs(10));
        // The old half request must not swallow the new client's input.
        c.resync(100 + round);
        assert_eq!(
            c.call(r#"{"execute":"guest-sync","arguments":{"id":9}}"#)["return"],
            9
        );
        // Leave mid-reply: ask for a long reply and hang up at once.
        c.send(br#"{"execute":"guest-info"}"#);
        drop(c);
    }
}

/// `guest-shutdown` with `mode`: no reply comes back and QEMU exits with
/// status 0 within 10 s.
pub fn shutdown_exits_qemu(vm: &mut Vm, mode: &str) {
    let mut c = vm.client();
    c.resync(1);
    c.send(
        format!(r#"{{"execute":"guest-shutdown","arguments":{{"mode":"{mode}"}},"id":9}}"#)
            .as_bytes(),
    );
    let status = vm
        .wait_exit(Duration::from_secs(10))
        .unwrap_or_else(|| panic!("QEMU still running after {mode}"));
    assert_eq!(status.code(), Some(0), "{}", vm.stderr());
    assert!(
        !c.drain(Duration::from_millis(100)).contains(&b'{'),
        "no reply on success"
    );
}

/// `guest-shutdown` reboot on a VM started with QMP (and without
/// `-no-reboot`): QEMU reports the guest's reset, and the agent that comes
/// back is a fresh one (its RAM store no longer holds a file written
/// before).
///
/// Waiting for QMP's `RESET` makes the test independent of how long the
/// reboot takes: bytes sent before the reset could reach the old agent,
/// which dies without answering them. Bytes sent while the new guest boots
/// can be lost too (QEMU's 16550 after a reset keeps only the first byte of
/// a chunk sized for the old, FIFO-on state), so the client resynchronises
/// the way clients do: again, with a new id, when no answer comes.
pub fn reboot_comes_back_fresh(vm: &Vm) {
    let mut qmp = Qmp::connect(vm.qmp.as_ref().expect("VM started with QMP"));
    let mut c = vm.client();
    c.resync(1);
    let fh = c.call(r#"{"execute":"guest-file-open","arguments":{"path":"/tmp/x","mode":"w"}}"#)
        ["return"]
        .as_i64();
    assert_eq!(fh, Some(1000));
    c.send(br#"{"execute":"guest-shutdown","arguments":{"mode":"reboot"}}"#);
    let reset = qmp.wait_event(|e| e["event"] == "RESET", Duration::from_secs(20));
    assert_eq!(reset["data"]["guest"], true, "{reset}");
    // Nothing came back for the shutdown itself.
    assert!(
        !c.drain(Duration::from_millis(50)).contains(&b'{'),
        "no reply on success"
    );
    c.resync_retrying(2, Duration::from_secs(1), Duration::from_secs(20));
    let r = c.call(r#"{"execute":"guest-file-open","arguments":{"path":"/tmp/x","mode":"r"}}"#);
    assert!(
        r["error"]["desc"]
            .as_str()
            .unwrap_or("")
            .contains("No such file"),
        "{r}"
    );
    let fh = c.call(r#"{"execute":"guest-file-open","arguments":{"path":"/tmp/y","mode":"w"}}"#)
        ["return"]
        .as_i64();
    assert_eq!(fh, Some(1000), "handles count from 1000 again");
}

/// Seconds of uptime at the start of a trace line (`[    1.234567] …`).
fn trace_seconds(line: &str) -> Option<f64> {
    let inner = line.strip_prefix('[')?.split(']').next()?;
    inner.trim().parse().ok()
}

/// The board asleep between requests: it answers after an idle period; a
/// request that arrives in pieces, with the board asleep between them, is
/// answered whole; a file written in slow pieces reads back unchanged; and
/// a running program's deadline wakes the board: `/bin/sleep` finishes
/// while no client speaks. `debug_log` is the board's trace mirror on the
/// host (x86's debug console), when there is one: the exit must show up
/// there with no request in flight. Without it, the trace's own clock
/// shows the exit long before the next request.
pub fn sleeping(c: &mut Client, debug_log: Option<&std::path::Path>) {
    c.resync(101);
    // Idle, then answered.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        c.call(r#"{"execute":"guest-ping"}"#)["return"],
        serde_json::json!({})
    );
    // One request in pieces, a pause after each.
    let req = br#"{"execute":"guest-sync","arguments":{"id":987654321}}"#;
    for piece in req.chunks(5) {
        c.send(piece);
        std::thread::sleep(Duration::from_millis(15));
    }
    c.send(b"\n");
    assert_eq!(c.reply()["return"], 987654321);
    // A file written in slow pieces.
    let h = c.call(r#"{"execute":"guest-file-open","arguments":{"path":"/tmp/slow","mode":"w+"}}"#)
        ["return"]
        .as_i64()
        .expect("handle");
    let data: Vec<u8> = (0..1500u32).map(|i| (i * 7 + 3) as u8).collect();
    for part in data.chunks(500) {
        let req = format!(
            r#"{{"execute":"guest-file-write","arguments":{{"handle":{h},"buf-b64":"{}"}}}}"#,
            crate::b64encode(part)
        );
        for piece in req.as_bytes().chunks(97) {
            c.send(piece);
            std::thread::sleep(Duration::from_millis(3));
        }
        c.send(b"\n");
        assert_eq!(c.reply()["return"]["count"], part.len());
    }
    c.call(&format!(
        r#"{{"execute":"guest-file-seek","arguments":{{"handle":{h},"offset":0,"whence":"set"}}}}"#
    ));
    let r = c.call(&format!(
        r#"{{"execute":"guest-file-read","arguments":{{"handle":{h},"count":4096}}}}"#
    ));
    assert_eq!(
        crate::b64decode(r["return"]["buf-b64"].as_str().expect("buf-b64")),
        data
    );
    c.call(&format!(
        r#"{{"execute":"guest-file-close","arguments":{{"handle":{h}}}}}"#
    ));
    // A program's deadline wakes the board.
    let pid = c.call(r#"{"execute":"guest-exec","arguments":{"path":"/bin/sleep","arg":["0.2"]}}"#)
        ["return"]["pid"]
        .as_i64()
        .expect("pid");
    let exited = format!("Exited {{ pid: {pid} }}");
    match debug_log {
        Some(log) => {
            // Nothing is sent until the exit shows up in the mirror.
            let end = std::time::Instant::now() + Duration::from_secs(30);
            loop {
                let text = std::fs::read_to_string(log).unwrap_or_default();
                if text.contains(&exited) {
                    break;
                }
                assert!(std::time::Instant::now() < end, "no {exited} in\n{text}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        None => std::thread::sleep(Duration::from_secs(3)),
    }
    let trace = read_trace(c);
    let exit_line = trace
        .lines()
        .find(|l| l.contains(&exited))
        .unwrap_or_else(|| panic!("no {exited} in\n{trace}"));
    if debug_log.is_none() {
        // The exit was traced on its own wake-up, not with the resync that
        // ended three quiet seconds (the trace's clock; the margin is wide).
        let resync = trace
            .lines()
            .rev()
            .find(|l| l.contains("guest-sync-delimited"))
            .expect("resync traced");
        let (t_exit, t_sync) = (trace_seconds(exit_line), trace_seconds(resync));
        let (Some(t_exit), Some(t_sync)) = (t_exit, t_sync) else {
            panic!("no times in {exit_line:?} / {resync:?}");
        };
        assert!(
            t_sync - t_exit > 1.0,
            "exit at {t_exit}, resync at {t_sync}"
        );
    }
    let st = c.call(&format!(
        r#"{{"execute":"guest-exec-status","arguments":{{"pid":{pid}}}}}"#
    ));
    assert_eq!(st["return"]["exited"], true, "{st}");
    assert_eq!(st["return"]["exitcode"], 0, "{st}");
}
