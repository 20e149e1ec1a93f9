//! End to end in a real Linux guest: Debian's kernel, a busybox initramfs,
//! and nanoqga-linux as the guest agent, on libvirt's virtio-serial wiring
//! (with a second, unrelated port and an ext4 data disk) and on ttyS0 as
//! Proxmox's `type=isa` wires it.

use std::time::Duration;

use nanoqga_tests_host::linux::{self, Agent, Wiring};
use nanoqga_tests_host::qemu::Qmp;

/// libvirt's wiring: the suite, the data disk frozen and thawed, the port
/// taken away and given back (the agent finds it again), then power-off.
#[test]
fn virtio_guest_serves_the_suite_freezes_finds_its_port_again_and_powers_off() {
    let Some(mut g) = linux::boot(
        &Agent::Nanoqga(vec!["-v".into()]),
        Wiring::Virtio,
        true,
        true,
    ) else {
        return;
    };
    let mut qmp = Qmp::connect(g.vm.qmp.as_ref().expect("qmp"));
    let mut c = g.vm.client();
    c.resync_retrying(1, Duration::from_secs(2), Duration::from_secs(120));
    linux::suite(&mut c);
    linux::freeze(&mut c);
    // The host leaves and comes back: the agent waits without polling
    // (the host leaving shows once) and the new host gets a clean parser.
    c.send(br#"{"execute":"guest-sync","argu"#);
    drop(c);
    std::thread::sleep(Duration::from_secs(2));
    let mut c = g.vm.client();
    c.resync_retrying(100, Duration::from_secs(2), Duration::from_secs(60));
    assert_eq!(
        c.call(r#"{"execute":"guest-sync","arguments":{"id":5}}"#)["return"],
        5
    );
    let left = g.console().matches("host left the port").count();
    assert_eq!(left, 1, "{}", g.console());
    // The port goes away and comes back.
    qmp.command(r#"{"execute":"device_del","arguments":{"id":"channel0"}}"#);
    qmp.wait_event(
        |e| e["event"] == "DEVICE_DELETED" && e["data"]["device"] == "channel0",
        Duration::from_secs(30),
    );
    qmp.command(r#"{"execute":"device_add","arguments":{"driver":"virtserialport","bus":"virtio-serial0.0","nr":1,"chardev":"charchannel0","id":"channel0","name":"org.qemu.guest_agent.0"}}"#);
    c.resync_retrying(200, Duration::from_secs(2), Duration::from_secs(60));
    assert_eq!(
        c.call(r#"{"execute":"guest-ping"}"#)["return"],
        serde_json::json!({})
    );
    // Power-off: no answer, QEMU ends.
    c.send(br#"{"execute":"guest-shutdown"}"#);
    let st = g.vm.wait_exit(Duration::from_secs(60));
    assert!(
        st.is_some(),
        "QEMU still running; console:\n{}",
        g.console()
    );
}

/// Proxmox's `type=isa`: the agent on ttyS0. The client writes before the
/// agent runs (the tty would echo it back in canonical mode): nothing it
/// sent comes back, and the suite runs.
#[test]
fn ttys0_guest_never_echoes_and_serves_the_suite() {
    let Some(mut g) = linux::boot(
        &Agent::Nanoqga(vec!["--device".into(), "/dev/ttyS0".into()]),
        Wiring::Ttys0,
        false,
        false,
    ) else {
        return;
    };
    let mut c = g.vm.client();
    // Early bytes, before the agent set raw mode.
    c.send(b"{\"execute\":\"guest-ping\",\"id\":\"early\"}\n");
    c.resync_retrying(1, Duration::from_secs(2), Duration::from_secs(120));
    linux::suite(&mut c);
    let rest = c.drain(Duration::from_millis(500));
    assert!(
        rest.is_empty(),
        "stray output {:?}",
        String::from_utf8_lossy(&rest)
    );
    c.send(br#"{"execute":"guest-shutdown","arguments":{"mode":"reboot"}}"#);
    // -no-reboot: a reboot ends QEMU too.
    assert!(
        g.vm.wait_exit(Duration::from_secs(60)).is_some(),
        "{}",
        g.console()
    );
}
