//! guest-shutdown and guest-suspend-*: no reply on success, errors as
//! qemu-ga, and the request waits until earlier replies are out.

use nanoqga::platform::{ShutdownMode, SuspendMode};
use nanoqga::{Agent, AgentConfig, Storage};
use nanoqga_tests_host::{Harness, MockPlatform, MockSerial, parse_replies};

#[test]
fn shutdown_success_sends_nothing_even_with_id() {
    let mut h = Harness::mock();
    assert_eq!(h.exchange(br#"{"execute":"guest-shutdown","id":7}"#), b"");
    assert_eq!(
        h.exchange(br#"{"execute":"guest-shutdown","arguments":{"mode":"reboot"}}"#),
        b""
    );
    assert_eq!(
        h.exchange(br#"{"execute":"guest-shutdown","arguments":{"mode":"halt"}}"#),
        b""
    );
    assert_eq!(
        h.platform().shutdowns,
        vec![
            ShutdownMode::Powerdown,
            ShutdownMode::Reboot,
            ShutdownMode::Halt
        ]
    );
    // The agent keeps answering afterwards.
    h.ok(r#"{"execute":"guest-ping"}"#);
}

#[test]
fn shutdown_bad_mode_is_qemu_text() {
    let mut h = Harness::mock();
    let r = h.call(r#"{"execute":"guest-shutdown","arguments":{"mode":"off"},"id":1}"#);
    assert_eq!(r["id"], 1);
    assert_eq!(
        r["error"]["desc"],
        "mode is invalid (valid values are: halt|powerdown|reboot"
    );
    assert!(h.platform().shutdowns.is_empty());
}

#[test]
fn shutdown_without_power_hook_is_not_supported() {
    let storage: &'static mut nanoqga_tests_host::SmallStorage =
        Box::leak(Box::new(Storage::new()));
    let mut h = Harness::from_agent(Agent::new(
        storage,
        MockPlatform::bare(),
        AgentConfig::default(),
    ));
    assert_eq!(
        h.err(r#"{"execute":"guest-shutdown"}"#).1,
        "this feature or command is not currently supported"
    );
    assert_eq!(
        h.err(r#"{"execute":"guest-suspend-ram"}"#).1,
        "this feature or command is not currently supported"
    );
}

#[test]
fn suspend_success_sends_nothing() {
    let mut h = Harness::mock();
    for c in ["guest-suspend-disk", "guest-suspend-ram"] {
        assert_eq!(
            h.exchange(format!(r#"{{"execute":"{c}","id":1}}"#).as_bytes()),
            b""
        );
    }
    assert_eq!(
        h.platform().suspends,
        vec![SuspendMode::Disk, SuspendMode::Ram]
    );
}

#[test]
fn suspend_mode_the_board_lacks_answers_qemu_ga_text_with_id() {
    let mut h = Harness::mock();
    assert_eq!(
        String::from_utf8(h.exchange(br#"{"execute":"guest-suspend-hybrid","id":1}"#)).unwrap(),
        "{\"id\": 1, \"error\": {\"class\": \"GenericError\", \"desc\": \"the requested suspend mode is not supported by the guest\"}}\n"
    );
}

#[test]
fn shutdown_waits_until_earlier_replies_are_written() {
    // A slow transport: the ping's reply must be out before the board is
    // asked to power off.
    let mut h = Harness::mock();
    h.serial = MockSerial::new().with_tx_budget(&[0, 0, 3]);
    h.send(br#"{"execute":"guest-ping","id":1}{"execute":"guest-shutdown"}"#);
    let mut polls = 0;
    while h.platform().shutdowns.is_empty() {
        h.serial.new_poll();
        let _ = h.agent.poll(&mut h.serial);
        polls += 1;
        assert!(polls < 10_000);
    }
    let replies = parse_replies(&h.serial.output);
    assert_eq!(replies.len(), 1, "ping reply complete before shutdown");
    assert_eq!(replies[0]["id"], 1);
}
