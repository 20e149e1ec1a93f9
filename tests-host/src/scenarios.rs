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
/// connected, runs the suite and the `qapi` client, and checks that the
/// guest never opened the other port and says it serves port 1.
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
