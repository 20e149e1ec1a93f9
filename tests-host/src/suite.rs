//! The end-to-end suite every board image must pass, over whatever channel
//! the VM wires (ISA serial, virtio-serial port, virtconsole).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::process::Client;
use crate::qemu::Qmp;
use crate::{b64decode, b64encode, error_of};

fn ok(c: &mut Client, json: &str) -> Value {
    let r = c.call(json);
    r.get("return")
        .cloned()
        .unwrap_or_else(|| panic!("{json} failed: {r}"))
}

fn err(c: &mut Client, json: &str) -> String {
    let r = c.call(json);
    error_of(&r)
        .unwrap_or_else(|| panic!("{json} did not fail: {r}"))
        .1
}

fn host_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_nanos() as i64
}

/// Leading garbage then the canonical resync.
pub fn resync_after_garbage(c: &mut Client) {
    c.send(b"garbage {\"half\": [1, \"open string\xff\x00 }}]] ");
    c.resync(0x7E57_0001);
}

/// What `guest-get-time` is checked against.
pub enum TimeReference<'a> {
    /// The host's clock. A board's RTC starts from it (QEMU truncates it to
    /// the second), so the guest is within 2 s of it.
    Host,
    /// The PC's RTC as QEMU reports it (QMP `qom-get /machine rtc-time`,
    /// whole seconds). Firmware that rewrites the RTC while it boots
    /// (OVMF does, once per boot, dropping the sub-second part each time)
    /// leaves it up to 2 s behind the host, and an agent in the firmware
    /// can only be as right as the RTC: it must match the RTC to within
    /// its second edge.
    Rtc(&'a mut Qmp),
}

/// The RTC's time in seconds since the epoch (UTC, as QEMU keeps it).
fn rtc_seconds(qmp: &mut Qmp) -> i64 {
    let tm = qmp
        .command(r#"{"execute":"qom-get","arguments":{"path":"/machine","property":"rtc-time"}}"#);
    let field = |k: &str| {
        tm[k]
            .as_i64()
            .unwrap_or_else(|| panic!("rtc-time {k}: {tm}"))
    };
    let days = nanoqga_board::civil::days_from_civil(
        field("tm_year") + 1900,
        field("tm_mon") + 1,
        field("tm_mday"),
    );
    days * 86_400 + field("tm_hour") * 3600 + field("tm_min") * 60 + field("tm_sec")
}

/// The suite: protocol, time, files, programs, errors.
pub fn run(c: &mut Client, machine: &str) {
    run_as(c, machine, "nanoqga", TimeReference::Host);
}

/// The suite, for an image whose `guest-get-osinfo` reports `os_id` (the
/// UEFI application reports `uefi`), its clock checked against `time`.
pub fn run_as(c: &mut Client, machine: &str, os_id: &str, time: TimeReference<'_>) {
    resync_after_garbage(c);
    assert_eq!(
        ok(c, r#"{"execute":"guest-sync","arguments":{"id":77}}"#),
        77
    );
    ok(c, r#"{"execute":"guest-ping"}"#);
    let info = ok(c, r#"{"execute":"guest-info"}"#);
    assert_eq!(info["version"], "7.2.0");
    assert_eq!(
        info["supported_commands"].as_array().map(Vec::len),
        Some(nanoqga::commands::ALL_COUNT)
    );
    // qemu-ga's later commands: a bare-metal board has no disks and no
    // network devices (empty lists), and no load accounting.
    assert_eq!(
        ok(c, r#"{"execute":"guest-get-disks"}"#),
        serde_json::json!([])
    );
    assert_eq!(
        ok(c, r#"{"execute":"guest-network-get-route"}"#),
        serde_json::json!([])
    );
    assert_eq!(
        err(c, r#"{"execute":"guest-get-load"}"#),
        "this feature or command is not currently supported"
    );

    // Time: as the reference says, then set and read back.
    match time {
        TimeReference::Host => {
            let t = ok(c, r#"{"execute":"guest-get-time"}"#)
                .as_i64()
                .expect("time");
            let dt = (t - host_ns()).abs();
            assert!(
                dt < 2_000_000_000,
                "guest clock off by {} ms",
                dt / 1_000_000
            );
        }
        TimeReference::Rtc(qmp) => {
            // The RTC showed `before` when the request left and `after` when
            // the answer came: the guest's time lies in that span of whole
            // seconds (plus 50 ms for finding the second's edge).
            let before = rtc_seconds(qmp);
            let t = ok(c, r#"{"execute":"guest-get-time"}"#)
                .as_i64()
                .expect("time");
            let after = rtc_seconds(qmp);
            let (lo, hi) = (
                before * 1_000_000_000 - 50_000_000,
                (after + 1) * 1_000_000_000 + 50_000_000,
            );
            assert!(
                (lo..hi).contains(&t),
                "guest clock {} ms outside the RTC's [{}, {}] s (host: {} ms)",
                t / 1_000_000,
                before,
                after + 1,
                host_ns() / 1_000_000
            );
        }
    }
    let target = host_ns() + 3_600 * 1_000_000_000;
    ok(
        c,
        &format!(r#"{{"execute":"guest-set-time","arguments":{{"time":{target}}}}}"#),
    );
    let t = ok(c, r#"{"execute":"guest-get-time"}"#)
        .as_i64()
        .expect("time");
    assert!(
        (t - target).abs() < 2_000_000_000,
        "after set-time: off by {} ms",
        (t - target) / 1_000_000
    );
    // Re-read from the hardware clock: the RTC now holds the set time.
    ok(c, r#"{"execute":"guest-set-time"}"#);
    let t = ok(c, r#"{"execute":"guest-get-time"}"#)
        .as_i64()
        .expect("time");
    assert!(
        (t - target).abs() < 3_000_000_000,
        "RTC did not keep the set time: off by {} ms",
        (t - target) / 1_000_000
    );
    let now = host_ns();
    ok(
        c,
        &format!(r#"{{"execute":"guest-set-time","arguments":{{"time":{now}}}}}"#),
    );
    assert_eq!(
        err(
            c,
            r#"{"execute":"guest-set-time","arguments":{"time":-5000000000}}"#
        ),
        "Invalid time"
    );

    // Files on the RAM store: write, seek, read back byte-exact.
    let data: Vec<u8> = (0..3000u32).map(|i| (i * 31 + 7) as u8).collect();
    let fh = ok(
        c,
        r#"{"execute":"guest-file-open","arguments":{"path":"/tmp/e2e.bin","mode":"w+"}}"#,
    )
    .as_i64()
    .expect("handle");
    assert_eq!(fh, 1000);
    for chunk in data.chunks(1000) {
        let w = ok(
            c,
            &format!(
                r#"{{"execute":"guest-file-write","arguments":{{"handle":{fh},"buf-b64":"{}"}}}}"#,
                b64encode(chunk)
            ),
        );
        assert_eq!(w["count"].as_u64(), Some(chunk.len() as u64));
    }
    let s = ok(
        c,
        &format!(
            r#"{{"execute":"guest-file-seek","arguments":{{"handle":{fh},"offset":0,"whence":"set"}}}}"#
        ),
    );
    assert_eq!(s["position"], 0);
    let r = ok(
        c,
        &format!(r#"{{"execute":"guest-file-read","arguments":{{"handle":{fh},"count":10000}}}}"#),
    );
    assert_eq!(
        (r["count"].as_u64(), r["eof"].as_bool()),
        (Some(3000), Some(true))
    );
    assert_eq!(b64decode(r["buf-b64"].as_str().expect("data")), data);
    ok(
        c,
        &format!(r#"{{"execute":"guest-file-close","arguments":{{"handle":{fh}}}}}"#),
    );
    // The trace ring shows what the agent saw.
    let th = ok(
        c,
        r#"{"execute":"guest-file-open","arguments":{"path":"/var/log/nanoqga.log"}}"#,
    )
    .as_i64()
    .expect("h");
    let r = ok(
        c,
        &format!(r#"{{"execute":"guest-file-read","arguments":{{"handle":{th},"count":65536}}}}"#),
    );
    let trace = String::from_utf8(b64decode(r["buf-b64"].as_str().expect("trace"))).expect("text");
    assert!(
        trace.contains(&format!("nanoqga 0.1.0 on {machine}")),
        "{trace}"
    );
    assert!(
        trace.contains(r#"Command { name: "guest-file-write", ok: true }"#),
        "{trace}"
    );
    ok(
        c,
        &format!(r#"{{"execute":"guest-file-close","arguments":{{"handle":{th}}}}}"#),
    );

    // Programs: the health check runs across polls.
    let pid = ok(c, r#"{"execute":"guest-exec","arguments":{"path":"/usr/libexec/nanoqga/health-check","capture-output":true}}"#)
        ["pid"]
        .as_i64()
        .expect("pid");
    let status = (0..2000)
        .find_map(|_| {
            let s = ok(
                c,
                &format!(r#"{{"execute":"guest-exec-status","arguments":{{"pid":{pid}}}}}"#),
            );
            (s["exited"] == true).then_some(s)
        })
        .expect("health check finishes");
    assert_eq!(status["exitcode"], 0);
    let out =
        String::from_utf8(b64decode(status["out-data"].as_str().expect("out"))).expect("text");
    assert!(out.ends_with("4 patterns, 0 errors\nPASS\n"), "{out}");
    let pid = ok(c, r#"{"execute":"guest-exec","arguments":{"path":"/bin/echo","arg":["-n","hi"],"capture-output":true}}"#)
        ["pid"]
        .as_i64()
        .expect("pid");
    let s = ok(
        c,
        &format!(r#"{{"execute":"guest-exec-status","arguments":{{"pid":{pid}}}}}"#),
    );
    assert_eq!(b64decode(s["out-data"].as_str().expect("out")), b"hi");

    // System information.
    let os = ok(c, r#"{"execute":"guest-get-osinfo"}"#);
    assert_eq!(
        (os["id"].as_str(), os["machine"].as_str()),
        (Some(os_id), Some(machine))
    );
    assert!(ok(c, r#"{"execute":"guest-get-host-name"}"#)["host-name"].is_string());
    assert!(
        !ok(c, r#"{"execute":"guest-get-vcpus"}"#)
            .as_array()
            .expect("vcpus")
            .is_empty()
    );
    assert!(
        ok(c, r#"{"execute":"guest-get-memory-block-info"}"#)["size"]
            .as_u64()
            .unwrap_or(0)
            > 0
    );

    // Errors.
    let r = c.call(r#"{"execute":"guest-nope","id":"e"}"#);
    assert_eq!(r["id"], "e");
    assert_eq!(error_of(&r).expect("error").0, "CommandNotFound");
    assert_eq!(
        err(c, r#"{"execute":"guest-ping","arguments":{"x":1}}"#),
        "Parameter 'x' is unexpected"
    );
    assert_eq!(
        err(
            c,
            r#"{"execute":"guest-file-read","arguments":{"handle":4242}}"#
        ),
        "handle '4242' has not been found"
    );
    assert_eq!(
        err(
            c,
            r#"{"execute":"guest-file-open","arguments":{"path":"/etc/passwd"}}"#
        ),
        "failed to open file '/etc/passwd' (mode: 'r'): No such file or directory"
    );
    assert!(
        err(
            c,
            r#"{"execute":"guest-exec","arguments":{"path":"/bin/sh"}}"#
        )
        .contains("No such file or directory")
    );
    assert_eq!(
        err(c, r#"{"execute":"guest-fstrim"}"#),
        "this feature or command is not currently supported"
    );
}

/// The `qapi` crate as an independent client over the VM's channel.
pub fn qapi_client(stream: &std::os::unix::net::UnixStream) {
    use qapi::{Qga, qga};
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut q = Qga::from_stream(stream);
    q.guest_sync(0x5151).expect("sync");
    q.execute(&qga::guest_ping {}).expect("ping");
    let info = q.execute(&qga::guest_info {}).expect("info");
    assert_eq!(info.supported_commands.len(), nanoqga::commands::ALL_COUNT);
    let t = q.execute(&qga::guest_get_time {}).expect("time");
    assert!((t - host_ns()).abs() < 3_000_000_000);
}
