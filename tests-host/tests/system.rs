//! System information: test-qga.c `network-get-interfaces`, `get-vcpus`,
//! `get-fsinfo`, `get-memory-block-info`, `get-memory-blocks`,
//! `guest-get-osinfo`, `guest-get-host-name`, `guest-get-timezone`,
//! `guest-get-users`, with qemu-ga's shapes and key order.

use nanoqga::platform::{IpKind, Vcpu};
use nanoqga::{Agent, AgentConfig, Storage};
use nanoqga_tests_host::{Harness, MockPlatform, MockSerial, parse_replies};

fn text(h: &mut Harness, cmd: &str) -> String {
    String::from_utf8(h.exchange(format!(r#"{{"execute":"{cmd}"}}"#).as_bytes())).unwrap()
}

#[test]
fn network_interfaces_have_names_addresses_and_statistics() {
    let mut h = Harness::mock();
    let r = h.ok(r#"{"execute":"guest-network-get-interfaces"}"#);
    assert_eq!(r[0]["name"], "lo");
    assert_eq!(r[0]["hardware-address"], "00:00:00:00:00:00");
    assert_eq!(
        r[0]["ip-addresses"][1],
        serde_json::json!({"ip-address-type": "ipv6", "ip-address": "::1", "prefix": 128})
    );
    assert_eq!(r[1]["statistics"]["tx-packets"], 4);
    let t = text(&mut h, "guest-network-get-interfaces");
    assert!(t.starts_with(
        r#"{"return": [{"name": "lo", "ip-addresses": [{"ip-address-type": "ipv4", "ip-address": "127.0.0.1", "prefix": 8}"#
    ));
    assert!(t.contains(r#""statistics": {"tx-packets": 4, "tx-errs": 0, "rx-bytes": 1, "rx-dropped": 0, "rx-packets": 2, "rx-errs": 0, "tx-bytes": 3, "tx-dropped": 0}, "hardware-address": "52:54:00:12:34:56"}"#));
}

#[test]
fn interface_without_addresses_omits_the_list() {
    let mut h = Harness::mock();
    h.platform().interfaces = vec![("dummy0".into(), vec![])];
    let r = h.ok(r#"{"execute":"guest-network-get-interfaces"}"#);
    assert!(r[0].get("ip-addresses").is_none());
}

#[test]
fn vcpus_keep_board_order_and_shape() {
    let mut h = Harness::mock();
    assert_eq!(
        text(&mut h, "guest-get-vcpus"),
        "{\"return\": [{\"online\": true, \"can-offline\": true, \"logical-id\": 1}, {\"online\": true, \"can-offline\": false, \"logical-id\": 0}]}\n"
    );
}

#[test]
fn long_lists_stream_entry_by_entry_through_small_buffer() {
    let mut h = Harness::mock();
    h.platform().vcpus = (0..500)
        .map(|i| Vcpu {
            logical_id: i,
            online: i % 3 != 0,
            can_offline: Some(i != 0),
        })
        .collect();
    h.platform().interfaces = (0..100)
        .map(|i| {
            (
                format!("veth{i}"),
                vec![(IpKind::V4, format!("10.0.{i}.1"), 24)],
            )
        })
        .collect();
    let expected_vcpus = h.ok(r#"{"execute":"guest-get-vcpus"}"#);
    assert_eq!(expected_vcpus.as_array().unwrap().len(), 500);
    assert_eq!(expected_vcpus[499]["logical-id"], 499);
    h.serial = MockSerial::new().with_tx_budget(&[1, 100]);
    let r = h.ok(r#"{"execute":"guest-network-get-interfaces"}"#);
    assert_eq!(r.as_array().unwrap().len(), 100);
    assert_eq!(r[99]["ip-addresses"][0]["ip-address"], "10.0.99.1");
}

#[test]
fn fsinfo_has_name_mountpoint_type_disk() {
    let mut h = Harness::mock();
    assert_eq!(
        text(&mut h, "guest-get-fsinfo"),
        "{\"return\": [{\"name\": \"vda1\", \"total-bytes\": 4294967296, \"mountpoint\": \"/\", \"disk\": [{\"serial\": \"MOCK-SERIAL\", \"bus-type\": \"virtio\", \"bus\": 0, \"unit\": 0, \"pci-controller\": {\"bus\": 0, \"slot\": 5, \"domain\": 0, \"function\": 0}, \"dev\": \"/dev/vda\", \"target\": 0}], \"used-bytes\": 1073741824, \"type\": \"ext4\"}]}\n"
    );
}

#[test]
fn memory_blocks_and_block_info() {
    let mut h = Harness::mock();
    assert_eq!(
        h.ok(r#"{"execute":"guest-get-memory-block-info"}"#)["size"],
        134217728
    );
    assert_eq!(
        text(&mut h, "guest-get-memory-blocks"),
        "{\"return\": [{\"online\": true, \"can-offline\": true, \"phys-index\": 188}]}\n"
    );
}

#[test]
fn osinfo_has_qemu_key_order_and_escapes() {
    let mut h = Harness::mock();
    assert_eq!(
        text(&mut h, "guest-get-osinfo"),
        "{\"return\": {\"name\": \"nanoqga mock\", \"kernel-release\": \"0.1.0\", \"variant\": \"Unit test \\\"'$`\\\\ and \\\\\\\\ etc.\", \"pretty-name\": \"nanoqga mock board\", \"version-id\": \"1\", \"machine\": \"x86_64\", \"id\": \"nanoqga\"}}\n"
    );
    let r = h.ok(r#"{"execute":"guest-get-osinfo"}"#);
    assert_eq!(r["variant"], "Unit test \"'$`\\ and \\\\ etc.");
}

#[test]
fn host_name_timezone_users() {
    let mut h = Harness::mock();
    assert_eq!(
        text(&mut h, "guest-get-host-name"),
        "{\"return\": {\"host-name\": \"mock-guest\"}}\n"
    );
    assert_eq!(
        text(&mut h, "guest-get-timezone"),
        "{\"return\": {\"zone\": \"UTC\", \"offset\": 0}}\n"
    );
    assert_eq!(
        text(&mut h, "guest-get-users"),
        "{\"return\": [{\"login-time\": 1700000000.5, \"user\": \"root\"}]}\n"
    );
    h.platform().users.clear();
    assert_eq!(text(&mut h, "guest-get-users"), "{\"return\": []}\n");
}

#[test]
fn host_name_longer_than_reply_buffer_is_clipped_not_broken() {
    let mut h = Harness::mock();
    h.platform().host_name = "h".repeat(5000);
    let r = parse_replies(&h.exchange(br#"{"execute":"guest-get-host-name","id":1}"#));
    assert_eq!(r.len(), 1);
    let name = r[0]["return"]["host-name"].as_str().unwrap();
    assert!(name.len() > 500 && name.chars().all(|c| c == 'h'));
    assert_eq!(r[0]["id"], 1);
}

#[test]
fn every_info_command_without_hooks_is_not_supported() {
    let storage: &'static mut nanoqga_tests_host::SmallStorage =
        Box::leak(Box::new(Storage::new()));
    let mut h = Harness::from_agent(Agent::new(
        storage,
        MockPlatform::bare(),
        AgentConfig::default(),
    ));
    for cmd in [
        "guest-network-get-interfaces",
        "guest-get-vcpus",
        "guest-get-fsinfo",
        "guest-get-memory-block-info",
        "guest-get-memory-blocks",
        "guest-get-osinfo",
        "guest-get-host-name",
        "guest-get-timezone",
        "guest-get-users",
    ] {
        let (class, desc) = h.err(&format!(r#"{{"execute":"{cmd}"}}"#));
        assert_eq!(
            (class.as_str(), desc.as_str()),
            (
                "GenericError",
                "this feature or command is not currently supported"
            ),
            "{cmd}"
        );
    }
}

#[test]
fn load_has_the_three_averages_in_qemu_key_order() {
    let mut h = Harness::mock();
    assert_eq!(
        text(&mut h, "guest-get-load"),
        "{\"return\": {\"load15m\": 1, \"load5m\": 0.5, \"load1m\": 0.25}}\n"
    );
}

#[test]
fn cpustats_entries_are_type_linux_in_qemu_key_order() {
    let mut h = Harness::mock();
    let t = text(&mut h, "guest-get-cpustats");
    assert!(t.starts_with(
        "{\"return\": [{\"cpu\": 0, \"idle\": 1000, \"steal\": 0, \"iowait\": 1, \"system\": 50, \"guest\": 0, \"nice\": 0, \"irq\": 2, \"type\": \"linux\", \"user\": 100, \"softirq\": 3}, {\"cpu\": 1"
    ), "{t}");
}

#[test]
fn diskstats_have_counters_the_board_knows_only() {
    let mut h = Harness::mock();
    assert_eq!(
        text(&mut h, "guest-get-diskstats"),
        "{\"return\": [{\"name\": \"vda\", \"stats\": {\"write-ios\": 5, \"read-ios\": 10, \"write-sectors\": 40, \"read-sectors\": 80}, \"minor\": 0, \"major\": 254}]}\n"
    );
}

#[test]
fn disks_list_partitions_dependencies_and_addresses() {
    let mut h = Harness::mock();
    let t = text(&mut h, "guest-get-disks");
    assert_eq!(
        t,
        "{\"return\": [{\"name\": \"/dev/vda1\", \"dependencies\": [\"/dev/vda\"], \"partition\": true}, {\"name\": \"/dev/vda\", \"dependencies\": [], \"partition\": false, \"address\": {\"serial\": \"MOCK-SERIAL\", \"bus-type\": \"virtio\", \"bus\": 0, \"unit\": 0, \"pci-controller\": {\"bus\": 0, \"slot\": 5, \"domain\": 0, \"function\": 0}, \"dev\": \"/dev/vda\", \"target\": 0}}]}\n"
    );
}

#[test]
fn routes_have_qemu_key_order() {
    let mut h = Harness::mock();
    assert_eq!(
        text(&mut h, "guest-network-get-route"),
        "{\"return\": [{\"flags\": 3, \"metric\": 100, \"refcnt\": 0, \"window\": 0, \"version\": 4, \"iface\": \"eth0\", \"destination\": \"0.0.0.0\", \"irtt\": 0, \"gateway\": \"10.0.2.2\", \"use\": 0, \"mtu\": 0, \"mask\": \"0.0.0.0\"}]}\n"
    );
}

#[test]
fn devices_without_the_capability_are_not_supported() {
    // The mock board's system information has no devices (qemu-ga lists
    // them on Windows only).
    let mut h = Harness::mock();
    assert_eq!(
        h.err(r#"{"execute":"guest-get-devices"}"#).1,
        "this feature or command is not currently supported"
    );
}

#[test]
fn later_commands_without_capabilities_are_not_supported() {
    let storage: &'static mut nanoqga_tests_host::SmallStorage =
        Box::leak(Box::new(Storage::new()));
    let mut h = Harness::from_agent(Agent::new(
        storage,
        MockPlatform::bare(),
        AgentConfig::default(),
    ));
    for cmd in [
        "guest-get-disks",
        "guest-get-diskstats",
        "guest-get-cpustats",
        "guest-get-load",
        "guest-network-get-route",
    ] {
        assert_eq!(
            h.err(&format!(r#"{{"execute":"{cmd}"}}"#)).1,
            "this feature or command is not currently supported",
            "{cmd}"
        );
    }
}
