//! Freeze, trim, CPU and memory-block changes, passwords: test-qga.c
//! `fsfreeze-status`, and each command's success and error paths.

use nanoqga::{Agent, AgentConfig, Storage};
use nanoqga_tests_host::{Harness, MockPlatform, b64encode};

#[test]
fn fsfreeze_status_is_thawed() {
    let mut h = Harness::mock();
    assert_eq!(h.ok(r#"{"execute":"guest-fsfreeze-status"}"#), "thawed");
}

#[test]
fn freeze_list_passes_mountpoints_and_zero_stays_thawed() {
    let mut h = Harness::mock();
    assert_eq!(
        h.ok(r#"{"execute":"guest-fsfreeze-freeze-list","arguments":{"mountpoints":["/nope"]}}"#),
        0
    );
    assert_eq!(
        h.platform().freeze_list.as_deref(),
        Some(&["/nope".to_string()][..])
    );
    assert_eq!(h.ok(r#"{"execute":"guest-fsfreeze-status"}"#), "thawed");
    assert_eq!(
        h.ok(r#"{"execute":"guest-fsfreeze-freeze-list","arguments":{"mountpoints":["/","/x"]}}"#),
        1
    );
    assert_eq!(h.ok(r#"{"execute":"guest-fsfreeze-status"}"#), "frozen");
    assert_eq!(h.ok(r#"{"execute":"guest-fsfreeze-thaw"}"#), 1);
    assert_eq!(h.ok(r#"{"execute":"guest-fsfreeze-status"}"#), "thawed");
}

#[test]
fn fstrim_results_have_qemu_shape() {
    let mut h = Harness::mock();
    let o = String::from_utf8(
        h.exchange(br#"{"execute":"guest-fstrim","arguments":{"minimum":65536}}"#),
    )
    .unwrap();
    assert_eq!(
        o,
        "{\"return\": {\"paths\": [{\"minimum\": 65536, \"path\": \"/\", \"trimmed\": 4096}, {\"path\": \"/boot\", \"error\": \"trim not supported\"}]}}\n"
    );
}

#[test]
fn set_vcpus_counts_processed_and_fails_only_on_first() {
    let mut h = Harness::mock();
    let body = r#"{"execute":"guest-set-vcpus","arguments":{"vcpus":[{"logical-id":0,"online":true},{"logical-id":1,"online":false,"can-offline":true},{"logical-id":2,"online":true}]}}"#;
    assert_eq!(h.ok(body), 3);
    assert_eq!(
        h.platform().vcpu_changes,
        vec![(0, true), (1, false), (2, true)]
    );
    h.platform().vcpu_fails = Some(1);
    assert_eq!(h.ok(body), 1);
    assert_eq!(
        h.err(r#"{"execute":"guest-set-vcpus","arguments":{"vcpus":[{"logical-id":1,"online":false}]}}"#).1,
        "logical processor #1 can't be offlined"
    );
    assert_eq!(
        h.ok(r#"{"execute":"guest-set-vcpus","arguments":{"vcpus":[]}}"#),
        0
    );
}

#[test]
fn set_memory_blocks_answers_per_block() {
    let mut h = Harness::mock();
    let o = String::from_utf8(h.exchange(
        br#"{"execute":"guest-set-memory-blocks","arguments":{"mem-blks":[{"phys-index":188,"online":false},{"phys-index":18446744073709551615,"online":true}]}}"#,
    ))
    .unwrap();
    assert_eq!(
        o,
        "{\"return\": [{\"response\": \"success\", \"phys-index\": 188}, {\"response\": \"not-found\", \"phys-index\": 18446744073709551615}]}\n"
    );
}

#[test]
fn set_user_password_decodes_and_checks() {
    let mut h = Harness::mock();
    let call = |h: &mut Harness, user: &str, pw: &[u8], crypted: bool| {
        h.call(&format!(
            r#"{{"execute":"guest-set-user-password","arguments":{{"username":"{user}","password":"{}","crypted":{crypted}}}}}"#,
            b64encode(pw)
        ))
    };
    assert_eq!(
        call(&mut h, "root", b"s3cret", false)["return"],
        serde_json::json!({})
    );
    assert_eq!(
        h.platform().passwords,
        vec![("root".to_string(), b"s3cret".to_vec(), false)]
    );
    assert_eq!(
        call(&mut h, "root", b"a\nb", false)["error"]["desc"],
        "forbidden characters in raw password"
    );
    assert_eq!(
        call(&mut h, "a:b", b"x", true)["error"]["desc"],
        "forbidden characters in username"
    );
    assert!(call(&mut h, "root", b"a\nb", true).get("return").is_some());
}

#[test]
fn control_commands_without_hooks_are_not_supported() {
    let storage: &'static mut nanoqga_tests_host::SmallStorage =
        Box::leak(Box::new(Storage::new()));
    let mut h = Harness::from_agent(Agent::new(
        storage,
        MockPlatform::bare(),
        AgentConfig::default(),
    ));
    assert_eq!(h.ok(r#"{"execute":"guest-fsfreeze-status"}"#), "thawed");
    for req in [
        r#"{"execute":"guest-fsfreeze-freeze"}"#,
        r#"{"execute":"guest-fsfreeze-freeze-list"}"#,
        r#"{"execute":"guest-fsfreeze-thaw"}"#,
        r#"{"execute":"guest-fstrim"}"#,
        r#"{"execute":"guest-set-vcpus","arguments":{"vcpus":[{"logical-id":0,"online":true}]}}"#,
        r#"{"execute":"guest-set-memory-blocks","arguments":{"mem-blks":[{"phys-index":1,"online":true}]}}"#,
        r#"{"execute":"guest-set-user-password","arguments":{"username":"u","password":"eA==","crypted":false}}"#,
        r#"{"execute":"guest-exec","arguments":{"path":"/bin/true"}}"#,
    ] {
        assert_eq!(
            h.err(req).1,
            "this feature or command is not currently supported",
            "{req}"
        );
    }
}
