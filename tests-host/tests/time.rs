//! guest-get-time and guest-set-time (test-qga.c `get-time`).

use nanoqga::platform::SetTime;
use nanoqga::{Agent, AgentConfig, Storage};
use nanoqga_tests_host::{Harness, MockPlatform};

fn bare() -> Harness {
    let storage: &'static mut nanoqga_tests_host::SmallStorage =
        Box::leak(Box::new(Storage::new()));
    Harness::from_agent(Agent::new(
        storage,
        MockPlatform::bare(),
        AgentConfig::default(),
    ))
}

#[test]
fn get_time_returns_board_clock_in_ns() {
    let mut h = Harness::mock();
    let t = h.ok(r#"{"execute":"guest-get-time"}"#);
    assert_eq!(t.as_i64(), Some(1_795_904_065_870_159_000));
}

#[test]
fn get_time_without_clock_is_not_supported() {
    let mut h = bare();
    assert_eq!(
        h.err(r#"{"execute":"guest-get-time"}"#),
        (
            "GenericError".into(),
            "this feature or command is not currently supported".into()
        )
    );
}

#[test]
fn set_time_then_get_time() {
    let mut h = Harness::mock();
    h.ok(r#"{"execute":"guest-set-time","arguments":{"time":1700000000123456789}}"#);
    assert_eq!(
        h.ok(r#"{"execute":"guest-get-time"}"#),
        1_700_000_000_123_456_789i64
    );
    h.ok(r#"{"execute":"guest-set-time"}"#);
    assert_eq!(
        h.platform().set_times,
        vec![
            SetTime::To(1_700_000_000_123_456_789),
            SetTime::FromHardware
        ]
    );
}

#[test]
fn set_time_outside_1970_to_2069_is_invalid() {
    let mut h = Harness::mock();
    // qemu-ga truncates toward zero (C division): -1 ns is second 0, 1970,
    // but a whole second before the epoch is 1969.
    for t in ["-1000000000", "3155760000000000000", "9223372036854775807"] {
        assert_eq!(
            h.err(&format!(
                r#"{{"execute":"guest-set-time","arguments":{{"time":{t}}}}}"#
            ))
            .1,
            "Invalid time"
        );
    }
    assert!(h.platform().set_times.is_empty());
}

#[test]
fn set_time_without_settable_clock_is_not_supported_first() {
    let mut h = bare();
    let (_, desc) = h.err(r#"{"execute":"guest-set-time","arguments":{"time":-1}}"#);
    assert_eq!(desc, "this feature or command is not currently supported");
}
