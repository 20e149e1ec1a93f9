//! guest-info and command enablement: test-qga.c `info`, `blockedrpcs`,
//! `allowedrpcs`, the frozen state's allow-list, and command tables.

use nanoqga::AgentConfig;
use nanoqga::commands::{Commands, Table};
use nanoqga_tests_host::{Harness, MockPlatform, MockSerial};

const ALL: Table<MockPlatform> = Commands::ALL;
const HEALTH: Table<MockPlatform> = Commands::HEALTH;

/// qemu-ga's schema in registration order: the QGA 4.2 manual's 35
/// commands with those added up to qemu-ga 10.0 where the schema puts them.
const SCHEMA: [&str; 44] = [
    "guest-sync-delimited",
    "guest-sync",
    "guest-ping",
    "guest-get-time",
    "guest-set-time",
    "guest-info",
    "guest-shutdown",
    "guest-file-open",
    "guest-file-close",
    "guest-file-read",
    "guest-file-write",
    "guest-file-seek",
    "guest-file-flush",
    "guest-fsfreeze-status",
    "guest-fsfreeze-freeze",
    "guest-fsfreeze-freeze-list",
    "guest-fsfreeze-thaw",
    "guest-fstrim",
    "guest-suspend-disk",
    "guest-suspend-ram",
    "guest-suspend-hybrid",
    "guest-network-get-interfaces",
    "guest-get-vcpus",
    "guest-set-vcpus",
    "guest-get-disks",
    "guest-get-fsinfo",
    "guest-set-user-password",
    "guest-get-memory-blocks",
    "guest-set-memory-blocks",
    "guest-get-memory-block-info",
    "guest-exec-status",
    "guest-exec",
    "guest-get-host-name",
    "guest-get-users",
    "guest-get-timezone",
    "guest-get-osinfo",
    "guest-get-devices",
    "guest-ssh-get-authorized-keys",
    "guest-ssh-add-authorized-keys",
    "guest-ssh-remove-authorized-keys",
    "guest-get-diskstats",
    "guest-get-cpustats",
    "guest-get-load",
    "guest-network-get-route",
];

#[test]
fn info_lists_every_schema_command_in_reverse_registration_order() {
    let mut h = Harness::mock();
    let r = h.ok(r#"{"execute":"guest-info"}"#);
    assert_eq!(r["version"], "7.2.0");
    let names: Vec<&str> = r["supported_commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    let mut expected = SCHEMA.to_vec();
    expected.reverse();
    assert_eq!(names, expected);
    for c in r["supported_commands"].as_array().unwrap() {
        assert_eq!(c["enabled"], true);
        let silent = [
            "guest-shutdown",
            "guest-suspend-disk",
            "guest-suspend-ram",
            "guest-suspend-hybrid",
        ];
        assert_eq!(
            c["success-response"],
            !silent.contains(&c["name"].as_str().unwrap())
        );
    }
}

#[test]
fn info_entries_have_qemu_key_order() {
    let mut h = Harness::mock();
    let out = String::from_utf8(h.exchange(br#"{"execute":"guest-info"}"#)).unwrap();
    assert!(out.starts_with(
        r#"{"return": {"version": "7.2.0", "supported_commands": [{"enabled": true, "name": "guest-network-get-route", "success-response": true}, "#
    ));
    assert!(out.ends_with(
        "{\"enabled\": true, \"name\": \"guest-sync-delimited\", \"success-response\": true}]}}\n"
    ));
}

#[test]
fn info_streams_through_one_byte_transport() {
    let mut whole = Harness::mock();
    let expected = whole.exchange(br#"{"execute":"guest-info","id":"i"}"#);
    let mut h = Harness::mock();
    h.serial = MockSerial::new()
        .with_read_chunks(&[1])
        .with_tx_budget(&[1]);
    assert_eq!(
        h.exchange(br#"{"execute":"guest-info","id":"i"}"#),
        expected
    );
    assert!(expected.len() > 1024 * 2, "longer than the reply buffer");
}

#[test]
fn table_matches_the_schema() {
    let names: Vec<&str> = ALL.iter().map(|c| c.name).collect();
    assert_eq!(names, SCHEMA.to_vec());
}

#[test]
fn health_table_serves_only_its_commands_and_lists_only_them() {
    let mut h = Harness::with_config(AgentConfig::new(HEALTH));
    let info = h.ok(r#"{"execute":"guest-info"}"#);
    let names: Vec<&str> = info["supported_commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "guest-shutdown",
            "guest-info",
            "guest-get-time",
            "guest-ping",
            "guest-sync",
            "guest-sync-delimited"
        ]
    );
    h.ok(r#"{"execute":"guest-get-time"}"#);
    let (class, desc) = h.err(r#"{"execute":"guest-file-open","arguments":{"path":"/x"}}"#);
    assert_eq!(class, "CommandNotFound");
    assert_eq!(desc, "The command guest-file-open has not been found");
}

#[test]
fn board_table_of_its_own_serves_those_commands() {
    static MINE: Table<MockPlatform> =
        &[&Commands::GUEST_SYNC_DELIMITED, &Commands::GUEST_GET_LOAD];
    let mut h = Harness::with_config(AgentConfig::new(MINE));
    assert_eq!(h.ok(r#"{"execute":"guest-get-load"}"#)["load5m"], 0.5);
    assert_eq!(h.err(r#"{"execute":"guest-ping"}"#).0, "CommandNotFound");
}

#[test]
fn block_list_names_missing_from_the_table_are_ignored() {
    let mut cfg = AgentConfig::new(HEALTH);
    assert_eq!(cfg.block("guest-ping,guest-exec,nonsense"), 2);
    let mut h = Harness::with_config(cfg);
    assert_eq!(
        h.err(r#"{"execute":"guest-ping"}"#).1,
        "Command guest-ping has been disabled"
    );
}

#[test]
fn blocked_commands_are_disabled_with_qemu_7_2_text() {
    let mut cfg = AgentConfig::default();
    cfg.block("guest-ping,guest-get-time");
    let mut h = Harness::with_config(cfg);
    for name in ["guest-ping", "guest-get-time"] {
        let (class, desc) = h.err(&format!(r#"{{"execute":"{name}","id":9}}"#));
        assert_eq!(class, "CommandNotFound");
        assert_eq!(desc, format!("Command {name} has been disabled"));
    }
    h.ok(r#"{"execute":"guest-get-fsinfo"}"#);
    let info = h.ok(r#"{"execute":"guest-info"}"#);
    for c in info["supported_commands"].as_array().unwrap() {
        let blocked = c["name"] == "guest-ping" || c["name"] == "guest-get-time";
        assert_eq!(c["enabled"], !blocked, "{}", c["name"]);
    }
}

#[test]
fn disabled_check_comes_before_argument_check() {
    let mut cfg = AgentConfig::default();
    cfg.block("guest-sync");
    let mut h = Harness::with_config(cfg);
    assert_eq!(
        h.err(r#"{"execute":"guest-sync","arguments":{"bad":1}}"#).1,
        "Command guest-sync has been disabled"
    );
}

#[test]
fn allow_list_enables_only_named_commands() {
    let mut cfg = AgentConfig::default();
    cfg.allow("guest-ping,guest-get-time");
    let mut h = Harness::with_config(cfg);
    h.ok(r#"{"execute":"guest-ping"}"#);
    h.ok(r#"{"execute":"guest-get-time"}"#);
    let (class, desc) = h.err(r#"{"execute":"guest-get-fsinfo"}"#);
    assert_eq!(class, "CommandNotFound");
    assert_eq!(desc, "Command guest-get-fsinfo has been disabled");
    // guest-info itself is disabled here, as with qemu-ga's -a.
    assert_eq!(h.err(r#"{"execute":"guest-info"}"#).0, "CommandNotFound");
}

#[test]
fn frozen_state_disables_all_but_the_allow_list() {
    let mut h = Harness::mock();
    assert_eq!(h.ok(r#"{"execute":"guest-fsfreeze-freeze"}"#), 1);
    assert_eq!(h.ok(r#"{"execute":"guest-fsfreeze-status"}"#), "frozen");
    let (class, desc) = h.err(r#"{"execute":"guest-get-time"}"#);
    assert_eq!(class, "CommandNotFound");
    assert_eq!(
        desc,
        "Command guest-get-time has been disabled: the agent is in frozen state"
    );
    h.ok(r#"{"execute":"guest-ping"}"#);
    h.ok(r#"{"execute":"guest-sync","arguments":{"id":1}}"#);
    let info = h.ok(r#"{"execute":"guest-info"}"#);
    let enabled: Vec<&str> = info["supported_commands"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["enabled"] == true)
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        enabled,
        [
            "guest-fsfreeze-thaw",
            "guest-fsfreeze-status",
            "guest-info",
            "guest-ping",
            "guest-sync",
            "guest-sync-delimited"
        ]
    );
    assert_eq!(h.ok(r#"{"execute":"guest-fsfreeze-thaw"}"#), 1);
    h.ok(r#"{"execute":"guest-get-time"}"#);
}
