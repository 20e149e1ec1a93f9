//! `nanoqga-host` as a process: command line, signals, socket handling,
//! clients, confinement, channels, and test-qga.c's sequences against the
//! real binary (file-ops, file-write-read, guest-exec, osinfo, blockedrpcs,
//! and the information commands).

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use nanoqga_tests_host::process::{Client, Proc, TempDir, spawn_host};
use nanoqga_tests_host::{b64decode, b64encode, error_of};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_nanoqga-host-test");

fn host(args: &[&str]) -> (Proc, Client) {
    let p = spawn_host(BIN, args);
    let c = p.connect();
    (p, c)
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).output().expect("run");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(c: &mut Client, json: &str) -> Value {
    let r = c.call(json);
    r.get("return")
        .cloned()
        .unwrap_or_else(|| panic!("{json} failed: {r}"))
}

// ---- command line ---------------------------------------------------------

#[test]
fn help_and_version_exit_zero() {
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("--unix PATH") && out.contains("--file-root DIR"));
    let (code, out, _) = run(&["--version"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("nanoqga-host 0.1.0"), "{out}");
}

#[test]
fn bad_flags_and_paths_fail_with_one_line() {
    for (args, code, needle) in [
        (&["--bogus"][..], 2, "unknown option '--bogus'"),
        (&[][..], 2, "give a channel"),
        (&["--stdio", "--unix", "x"][..], 2, "only one of"),
        (&["--unix"][..], 2, "needs a value"),
        (
            &["--stdio", "--file-root", "/nonexistent-nanoqga"][..],
            1,
            "--file-root /nonexistent-nanoqga",
        ),
        (
            &["--unix", "/nonexistent-dir-nanoqga/s.sock"][..],
            1,
            "/nonexistent-dir-nanoqga/s.sock",
        ),
        (
            &["--device", "/nonexistent-nanoqga-dev"][..],
            1,
            "/nonexistent-nanoqga-dev",
        ),
    ] {
        let (got, _, err) = run(args);
        assert_eq!(got, code, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(err.trim_end().lines().count() <= 2, "{args:?}: {err}");
    }
}

#[test]
fn socket_path_in_use_is_refused_and_stale_socket_is_reused() {
    let (p, _c) = host(&[]);
    let (code, _, err) = run(&["--unix", p.socket.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("in use"), "{err}");
    // A stale socket file (server gone) is replaced.
    let dir = TempDir::new("stale");
    let sock = dir.path().join("s.sock");
    drop(std::os::unix::net::UnixListener::bind(&sock).unwrap());
    assert!(sock.exists());
    let mut child = Command::new(BIN).arg("--unix").arg(&sock).spawn().unwrap();
    let mut c = Client::connect(&sock, Duration::from_secs(10));
    ok(&mut c, r#"{"execute":"guest-ping"}"#);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn sigterm_exits_zero_idle_and_with_client() {
    let mut p = spawn_host(BIN, &[]);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        p.terminate(Duration::from_secs(5)).and_then(|s| s.code()),
        Some(0)
    );
    let (mut p, mut c) = host(&[]);
    ok(&mut c, r#"{"execute":"guest-ping"}"#);
    assert_eq!(
        p.terminate(Duration::from_secs(5)).and_then(|s| s.code()),
        Some(0)
    );
}

#[test]
fn shutdown_ends_process_with_zero_and_no_reply() {
    let (mut p, mut c) = host(&[]);
    ok(&mut c, r#"{"execute":"guest-ping"}"#);
    c.send(br#"{"execute":"guest-shutdown","arguments":{"mode":"powerdown"},"id":1}"#);
    let status = p.wait(Duration::from_secs(5)).expect("process exits");
    assert_eq!(status.code(), Some(0));
    assert_eq!(
        c.drain(Duration::from_millis(200)),
        b"",
        "no reply to a successful shutdown"
    );
}

// ---- clients --------------------------------------------------------------

#[test]
fn new_client_starts_with_clean_parser() {
    let (_p, mut a) = host(&[]);
    a.send(br#"{"execute":"guest-ping""#);
    drop(a);
    std::thread::sleep(Duration::from_millis(100));
    let mut b = Client::connect(&_p.socket, Duration::from_secs(5));
    b.send(br#","id":"from-second-conn"}"#);
    b.send(b"\n");
    let out = b.drain(Duration::from_millis(300));
    assert!(
        !String::from_utf8_lossy(&out).contains("from-second-conn"),
        "old request completed: {out:?}"
    );
    // ...and the new client is served normally.
    ok(&mut b, r#"{"execute":"guest-ping"}"#);
}

#[test]
fn second_client_waits_for_the_first() {
    let (p, mut a) = host(&[]);
    ok(&mut a, r#"{"execute":"guest-ping"}"#);
    let mut b = Client::connect(&p.socket, Duration::from_secs(5));
    b.send(br#"{"execute":"guest-sync","arguments":{"id":2}}"#);
    assert_eq!(
        b.drain(Duration::from_millis(300)),
        b"",
        "served while the first client is connected"
    );
    ok(&mut a, r#"{"execute":"guest-ping"}"#);
    drop(a);
    assert_eq!(b.reply()["return"], 2);
}

#[test]
fn test_qga_resync_sequence_against_binary() {
    let (_p, mut c) = host(&[]);
    c.resync(0x1234_5678);
    assert_eq!(
        ok(
            &mut c,
            r#"{"execute":"guest-sync","arguments":{"id":305419896}}"#
        ),
        305_419_896
    );
    ok(&mut c, r#"{"execute":"guest-ping"}"#);
    let info = ok(&mut c, r#"{"execute":"guest-info"}"#);
    assert_eq!(info["version"], "7.2.0");
    assert!(
        ok(&mut c, r#"{"execute":"guest-get-time"}"#)
            .as_i64()
            .unwrap()
            > 0
    );
    assert_eq!(c.call(r#"{'execute': 'guest-ping', 'id': 1}"#)["id"], 1);
    let r = c.call(r#"{'exec-oob': 'guest-ping'}"#);
    assert_eq!(error_of(&r).unwrap().0, "GenericError");
    let r = c.call(r#"{"execute":"guest-invalid-cmd"}"#);
    assert_eq!(error_of(&r).unwrap().0, "CommandNotFound");
    let r = c.call(r#"{'execute': 'guest-ping', 'arguments': {'foo': 42}}"#);
    assert_eq!(error_of(&r).unwrap().1, "Parameter 'foo' is unexpected");
    assert_eq!(
        ok(&mut c, r#"{"execute":"guest-fsfreeze-status"}"#),
        "thawed"
    );
}

#[test]
fn blocked_rpcs_flag() {
    let (_p, mut c) = host(&["-b", "guest-ping,guest-get-time"]);
    for name in ["guest-ping", "guest-get-time"] {
        let (class, desc) = error_of(&c.call(&format!(r#"{{"execute":"{name}"}}"#))).unwrap();
        assert_eq!(class, "CommandNotFound");
        assert!(desc.contains("has been disabled"));
    }
    ok(&mut c, r#"{"execute":"guest-get-fsinfo"}"#);
}

#[test]
fn allowed_rpcs_flag() {
    let (_p, mut c) = host(&["-a", "guest-ping,guest-get-time"]);
    ok(&mut c, r#"{"execute":"guest-ping"}"#);
    ok(&mut c, r#"{"execute":"guest-get-time"}"#);
    let (class, desc) = error_of(&c.call(r#"{"execute":"guest-get-fsinfo"}"#)).unwrap();
    assert_eq!(class, "CommandNotFound");
    assert!(desc.contains("has been disabled"));
}

// ---- files ----------------------------------------------------------------

#[test]
fn test_qga_file_ops_against_binary() {
    let (p, mut c) = host(&["--file-root", "."]);
    let root = p.dir.path().to_path_buf();
    let fh = ok(
        &mut c,
        r#"{"execute":"guest-file-open","arguments":{"path":"foo","mode":"w+"}}"#,
    )
    .as_i64()
    .unwrap();
    assert_eq!(fh, 1000);
    let hello = b"Hello World!\n\0";
    let w = ok(
        &mut c,
        &format!(
            r#"{{"execute":"guest-file-write","arguments":{{"handle":{fh},"buf-b64":"{}"}}}}"#,
            b64encode(hello)
        ),
    );
    assert_eq!(
        (w["count"].as_i64(), w["eof"].as_bool()),
        (Some(14), Some(false))
    );
    ok(
        &mut c,
        &format!(r#"{{"execute":"guest-file-flush","arguments":{{"handle":{fh}}}}}"#),
    );
    ok(
        &mut c,
        &format!(r#"{{"execute":"guest-file-close","arguments":{{"handle":{fh}}}}}"#),
    );
    assert_eq!(std::fs::read(root.join("foo")).unwrap(), hello);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(root.join("foo"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o666
    );
    let fh = ok(
        &mut c,
        r#"{"execute":"guest-file-open","arguments":{"path":"foo","mode":"r"}}"#,
    )
    .as_i64()
    .unwrap();
    let r = ok(
        &mut c,
        &format!(r#"{{"execute":"guest-file-read","arguments":{{"handle":{fh}}}}}"#),
    );
    assert_eq!(
        (
            r["count"].as_i64(),
            r["eof"].as_bool(),
            r["buf-b64"].as_str()
        ),
        (Some(14), Some(true), Some("SGVsbG8gV29ybGQhCgA="))
    );
    let r = ok(
        &mut c,
        &format!(r#"{{"execute":"guest-file-read","arguments":{{"handle":{fh}}}}}"#),
    );
    assert_eq!(
        (
            r["count"].as_i64(),
            r["eof"].as_bool(),
            r["buf-b64"].as_str()
        ),
        (Some(0), Some(true), Some(""))
    );
    let s = ok(
        &mut c,
        &format!(
            r#"{{"execute":"guest-file-seek","arguments":{{"handle":{fh},"offset":6,"whence":"set"}}}}"#
        ),
    );
    assert_eq!(
        (s["position"].as_i64(), s["eof"].as_bool()),
        (Some(6), Some(false))
    );
    let r = ok(
        &mut c,
        &format!(r#"{{"execute":"guest-file-read","arguments":{{"handle":{fh}}}}}"#),
    );
    assert_eq!(r["count"], 8);
    assert_eq!(b64decode(r["buf-b64"].as_str().unwrap()), &hello[6..]);
    ok(
        &mut c,
        &format!(r#"{{"execute":"guest-file-close","arguments":{{"handle":{fh}}}}}"#),
    );
}

#[test]
fn test_qga_file_write_read_against_binary() {
    let (_p, mut c) = host(&["--file-root", "."]);
    let fh = ok(
        &mut c,
        r#"{"execute":"guest-file-open","arguments":{"path":"foo","mode":"w+"}}"#,
    )
    .as_i64()
    .unwrap();
    let w = ok(
        &mut c,
        &format!(
            r#"{{"execute":"guest-file-write","arguments":{{"handle":{fh},"buf-b64":"{}"}}}}"#,
            b64encode(b"Hello World!\n\0")
        ),
    );
    assert_eq!(w["count"], 14);
    let r = ok(
        &mut c,
        &format!(r#"{{"execute":"guest-file-read","arguments":{{"handle":{fh}}}}}"#),
    );
    assert_eq!(
        (
            r["count"].as_i64(),
            r["eof"].as_bool(),
            r["buf-b64"].as_str()
        ),
        (Some(0), Some(true), Some(""))
    );
    ok(
        &mut c,
        &format!(
            r#"{{"execute":"guest-file-seek","arguments":{{"handle":{fh},"offset":0,"whence":"set"}}}}"#
        ),
    );
    let r = ok(
        &mut c,
        &format!(r#"{{"execute":"guest-file-read","arguments":{{"handle":{fh}}}}}"#),
    );
    assert_eq!(
        (
            r["count"].as_i64(),
            r["eof"].as_bool(),
            r["buf-b64"].as_str()
        ),
        (Some(14), Some(true), Some("SGVsbG8gV29ybGQhCgA="))
    );
}

#[test]
fn files_are_confined_to_the_root() {
    let (p, mut c) = host(&["--file-root", "."]);
    let root = p.dir.path();
    std::fs::create_dir(root.join("sub")).unwrap();
    std::fs::write(root.join("sub/inside"), b"in").unwrap();
    std::os::unix::fs::symlink("/etc/hostname", root.join("escape")).unwrap();
    std::os::unix::fs::symlink("sub/inside", root.join("ok-link")).unwrap();
    let open = |c: &mut Client, path: &str| {
        c.call(&format!(
            r#"{{"execute":"guest-file-open","arguments":{{"path":"{path}"}}}}"#
        ))
    };
    for bad in ["../outside", "sub/../../x", "escape", "/escape"] {
        let (_, desc) = error_of(&open(&mut c, bad)).unwrap_or_else(|| panic!("{bad} opened"));
        assert_eq!(
            desc,
            format!("failed to open file '{bad}' (mode: 'r'): Permission denied")
        );
    }
    // /etc/passwd means ROOT/etc/passwd, which does not exist.
    let (_, desc) = error_of(&open(&mut c, "/etc/passwd")).unwrap();
    assert!(desc.ends_with("No such file or directory"), "{desc}");
    for good in ["sub/inside", "/sub/inside", "ok-link", "sub/../sub/inside"] {
        let fh = open(&mut c, good)["return"]
            .as_i64()
            .unwrap_or_else(|| panic!("{good} refused"));
        let r = ok(
            &mut c,
            &format!(r#"{{"execute":"guest-file-read","arguments":{{"handle":{fh}}}}}"#),
        );
        assert_eq!(b64decode(r["buf-b64"].as_str().unwrap()), b"in");
    }
    // A directory opens, and reading it fails as with qemu-ga.
    let fh = open(&mut c, "/")["return"].as_i64().unwrap();
    let r = c.call(&format!(
        r#"{{"execute":"guest-file-read","arguments":{{"handle":{fh}}}}}"#
    ));
    assert_eq!(
        error_of(&r).unwrap().1,
        "failed to read file: Is a directory"
    );
}

#[test]
fn without_file_root_files_are_not_supported() {
    let (_p, mut c) = host(&[]);
    let r = c.call(r#"{"execute":"guest-file-open","arguments":{"path":"foo","mode":"w"}}"#);
    assert_eq!(
        error_of(&r).unwrap().1,
        "this feature or command is not currently supported"
    );
}

#[test]
fn large_file_round_trip_is_byte_exact() {
    let (p, mut c) = host(&["--file-root", "."]);
    let data: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(p.dir.path().join("big"), &data).unwrap();
    let fh = ok(
        &mut c,
        r#"{"execute":"guest-file-open","arguments":{"path":"big"}}"#,
    )
    .as_i64()
    .unwrap();
    let mut got = Vec::new();
    loop {
        let r = ok(
            &mut c,
            &format!(
                r#"{{"execute":"guest-file-read","arguments":{{"handle":{fh},"count":1048576}}}}"#
            ),
        );
        got.extend(b64decode(r["buf-b64"].as_str().unwrap()));
        if r["eof"] == true {
            break;
        }
    }
    assert_eq!(got, data);
    let wh = ok(
        &mut c,
        r#"{"execute":"guest-file-open","arguments":{"path":"copy","mode":"wb"}}"#,
    )
    .as_i64()
    .unwrap();
    for chunk in data.chunks(1 << 20) {
        let w = ok(
            &mut c,
            &format!(
                r#"{{"execute":"guest-file-write","arguments":{{"handle":{wh},"buf-b64":"{}"}}}}"#,
                b64encode(chunk)
            ),
        );
        assert_eq!(w["count"].as_u64(), Some(chunk.len() as u64));
    }
    ok(
        &mut c,
        &format!(r#"{{"execute":"guest-file-close","arguments":{{"handle":{wh}}}}}"#),
    );
    assert_eq!(std::fs::read(p.dir.path().join("copy")).unwrap(), data);
}

// ---- programs -------------------------------------------------------------

fn exec_wait(c: &mut Client, args: &str) -> Value {
    let pid = ok(
        c,
        &format!(r#"{{"execute":"guest-exec","arguments":{args}}}"#),
    )["pid"]
        .as_i64()
        .unwrap();
    for _ in 0..500 {
        let s = ok(
            c,
            &format!(r#"{{"execute":"guest-exec-status","arguments":{{"pid":{pid}}}}}"#),
        );
        if s["exited"] == true {
            return s;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("pid {pid} did not exit");
}

#[test]
fn test_qga_guest_exec_against_binary() {
    let (_p, mut c) = host(&[]);
    let s = exec_wait(
        &mut c,
        r#"{"path":"/bin/echo","arg":["-n","\" test_str \""],"capture-output":true}"#,
    );
    assert_eq!(s["exitcode"], 0);
    assert_eq!(
        b64decode(s["out-data"].as_str().unwrap()),
        b"\" test_str \""
    );
    let r = c.call(r#"{"execute":"guest-exec","arguments":{"path":"/bin/invalid-cmd42"}}"#);
    let (class, desc) = error_of(&r).unwrap();
    assert_eq!(class, "GenericError");
    assert!(!desc.is_empty());
    let r = c.call(r#"{"execute":"guest-exec-status","arguments":{"pid":0}}"#);
    assert_eq!(error_of(&r).unwrap().1, "Invalid parameter 'pid'");
}

#[test]
fn builtin_programs_on_the_host() {
    let (p, mut c) = host(&["--file-root", "."]);
    std::fs::write(p.dir.path().join("note"), b"from a file\n").unwrap();
    let s = exec_wait(
        &mut c,
        r#"{"path":"/bin/cat","arg":["note","-","missing"],"input-data":"c3RkaW4K","capture-output":true}"#,
    );
    assert_eq!(
        b64decode(s["out-data"].as_str().unwrap()),
        b"from a file\nstdin\n"
    );
    assert_eq!(
        b64decode(s["err-data"].as_str().unwrap()),
        b"cat: missing: No such file or directory\n"
    );
    assert_eq!(s["exitcode"], 1);
    assert_eq!(exec_wait(&mut c, r#"{"path":"/bin/false"}"#)["exitcode"], 1);
    let s = exec_wait(&mut c, r#"{"path":"/bin/uptime","capture-output":true}"#);
    assert!(
        String::from_utf8(b64decode(s["out-data"].as_str().unwrap()))
            .unwrap()
            .starts_with("up ")
    );
    let s = exec_wait(
        &mut c,
        r#"{"path":"/usr/libexec/nanoqga/health-check","capture-output":true}"#,
    );
    let out = String::from_utf8(b64decode(s["out-data"].as_str().unwrap())).unwrap();
    assert!(
        out.contains("testing 1048576 bytes") && out.ends_with("PASS\n"),
        "{out}"
    );
    // Real programs are off without --allow-exec.
    let r = c.call(r#"{"execute":"guest-exec","arguments":{"path":"/usr/bin/env"}}"#);
    assert!(
        error_of(&r)
            .unwrap()
            .1
            .contains("No such file or directory")
    );
}

#[test]
fn real_programs_with_allow_exec() {
    let (_p, mut c) = host(&["--allow-exec"]);
    let s = exec_wait(
        &mut c,
        r#"{"path":"/bin/sh","arg":["-c","read x; echo out:$x; echo err:$V >&2; exit 7"],"env":["V=v1"],"input-data":"aGkK","capture-output":true}"#,
    );
    assert_eq!(s["exitcode"], 7);
    assert_eq!(b64decode(s["out-data"].as_str().unwrap()), b"out:hi\n");
    assert_eq!(b64decode(s["err-data"].as_str().unwrap()), b"err:v1\n");
    let s = exec_wait(&mut c, r#"{"path":"sh","arg":["-c","kill -9 $$"]}"#);
    assert_eq!(s["signal"], 9);
    let r = c.call(r#"{"execute":"guest-exec","arguments":{"path":"/bin/invalid-cmd42"}}"#);
    assert_eq!(
        error_of(&r).unwrap().1,
        "Guest agent command failed, error was 'Failed to execute child process \u{201c}/bin/invalid-cmd42\u{201d} (No such file or directory)'"
    );
}

// ---- system information ------------------------------------------------------

#[test]
fn test_qga_information_commands_against_binary() {
    let (_p, mut c) = host(&[]);
    let ifaces = ok(&mut c, r#"{"execute":"guest-network-get-interfaces"}"#);
    assert!(ifaces[0].get("name").is_some());
    if std::path::Path::new("/sys/devices/system/cpu/cpu0").exists() {
        let v = ok(&mut c, r#"{"execute":"guest-get-vcpus"}"#);
        assert!(v[0].get("online").is_some() && v[0].get("logical-id").is_some());
    }
    let fs = ok(&mut c, r#"{"execute":"guest-get-fsinfo"}"#);
    if let Some(first) = fs.as_array().and_then(|a| a.first()) {
        for k in ["name", "mountpoint", "type", "disk"] {
            assert!(first.get(k).is_some(), "fsinfo lacks {k}");
        }
    }
    let r = c.call(r#"{"execute":"guest-get-memory-block-info"}"#);
    if let Some(v) = r.get("return") {
        assert!(v["size"].as_u64().unwrap() > 0);
    }
    let r = c.call(r#"{"execute":"guest-get-memory-blocks"}"#);
    if let Some(Value::Array(a)) = r.get("return")
        && let Some(b) = a.first()
    {
        assert!(b.get("phys-index").is_some() && b.get("online").is_some());
    }
    assert!(
        ok(&mut c, r#"{"execute":"guest-get-host-name"}"#)
            .get("host-name")
            .is_some()
    );
    assert!(
        ok(&mut c, r#"{"execute":"guest-get-timezone"}"#)
            .get("offset")
            .is_some()
    );
    assert!(ok(&mut c, r#"{"execute":"guest-get-users"}"#).is_array());
    let r = c.call(r#"{"execute":"guest-set-time","arguments":{"time":1}}"#);
    assert_eq!(
        error_of(&r).unwrap().1,
        "this feature or command is not currently supported"
    );
    for req in [
        r#"{"execute":"guest-fsfreeze-freeze"}"#,
        r#"{"execute":"guest-fstrim"}"#,
        r#"{"execute":"guest-suspend-ram"}"#,
    ] {
        assert_eq!(
            error_of(&c.call(req)).unwrap().1,
            "this feature or command is not currently supported"
        );
    }
}

#[test]
fn test_qga_guest_get_osinfo_with_test_data() {
    let dir = TempDir::new("osrel");
    let file = dir.path().join("os-release");
    std::fs::write(
        &file,
        "ID=qemu-ga-test\nNAME=QEMU-GA\nPRETTY_NAME=\"QEMU Guest Agent test\"\nVERSION=\"Test 1\"\nVERSION_ID=1\n\
         VARIANT=\"Unit test \\\"\\'\\$\\`\\\\ and \\\\\\\\ etc.\"\nVARIANT_ID=unit-test\n",
    )
    .unwrap();
    let sock = dir.path().join("s.sock");
    let mut child = Command::new(BIN)
        .arg("--unix")
        .arg(&sock)
        .env("QGA_OS_RELEASE", &file)
        .spawn()
        .unwrap();
    let mut c = Client::connect(&sock, Duration::from_secs(10));
    let r = ok(&mut c, r#"{"execute":"guest-get-osinfo"}"#);
    assert_eq!(r["id"], "qemu-ga-test");
    assert_eq!(r["name"], "QEMU-GA");
    assert_eq!(r["pretty-name"], "QEMU Guest Agent test");
    assert_eq!(r["version"], "Test 1");
    assert_eq!(r["version-id"], "1");
    assert_eq!(r["variant"], "Unit test \"'$`\\ and \\\\ etc.");
    assert_eq!(r["variant-id"], "unit-test");
    child.kill().unwrap();
    child.wait().unwrap();
}

// ---- other channels -----------------------------------------------------------

#[test]
fn stdio_channel_serves_and_exits_on_end_of_input() {
    let mut child = Command::new(BIN)
        .arg("--stdio")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"{\"execute\":\"guest-sync\",\"arguments\":{\"id\":5}}\n{\"execute\":\"guest-ping\",\"id\":1}").unwrap();
    drop(stdin);
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert_eq!(out, "{\"return\": 5}\n{\"return\": {}, \"id\": 1}\n");
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

#[test]
fn device_channel_on_a_pty_in_raw_mode() {
    // A pty stands in for a serial port: the agent opens the slave side and
    // must put it in raw mode (no echo, no CR/LF translation).
    // SAFETY: plain libc calls on descriptors this test owns.
    let (master, slave_path) = unsafe {
        let m = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
        assert!(m >= 0);
        assert_eq!(libc::grantpt(m), 0);
        assert_eq!(libc::unlockpt(m), 0);
        let name = std::ffi::CStr::from_ptr(libc::ptsname(m))
            .to_string_lossy()
            .into_owned();
        (m, name)
    };
    let mut child = Command::new(BIN)
        .args(["--device", &slave_path])
        .spawn()
        .unwrap();
    // SAFETY: `master` is ours; the File takes it over.
    let mut m = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(master) };
    std::thread::sleep(Duration::from_millis(300));
    m.write_all(b"{\"execute\":\"guest-sync\",\"arguments\":{\"id\":77}}")
        .unwrap();
    let mut buf = [0u8; 64];
    let mut got = Vec::new();
    while !got.ends_with(b"\n") {
        let n = m.read(&mut buf).unwrap();
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(
        got, b"{\"return\": 77}\n",
        "raw mode: no echo, LF not turned into CR LF"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn socket_client_sees_replies_in_order_when_pipelining() {
    let (_p, c) = host(&[]);
    let mut s: UnixStream = c.stream;
    let mut req = Vec::new();
    for i in 0..2000 {
        req.extend(format!(r#"{{"execute":"guest-sync","arguments":{{"id":{i}}}}}"#).bytes());
    }
    let writer = {
        let mut s = s.try_clone().unwrap();
        std::thread::spawn(move || s.write_all(&req).unwrap())
    };
    let mut all = Vec::new();
    let mut buf = [0u8; 65536];
    while all.iter().filter(|&&b| b == b'\n').count() < 2000 {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0);
        all.extend_from_slice(&buf[..n]);
    }
    writer.join().unwrap();
    for (i, line) in all.split(|&b| b == b'\n').take(2000).enumerate() {
        assert_eq!(line, format!("{{\"return\": {i}}}").as_bytes());
    }
}

#[test]
fn host_answers_later_read_only_commands_from_the_os() {
    let (_p, mut c) = host(&[]);
    let load = ok(&mut c, r#"{"execute":"guest-get-load"}"#);
    for k in ["load1m", "load5m", "load15m"] {
        assert!(load[k].as_f64().is_some_and(|v| v >= 0.0), "{load}");
    }
    let cpus = ok(&mut c, r#"{"execute":"guest-get-cpustats"}"#);
    assert!(!cpus.as_array().unwrap().is_empty());
    assert_eq!(cpus[0]["type"], "linux");
    let stats = ok(&mut c, r#"{"execute":"guest-get-diskstats"}"#);
    assert!(stats.as_array().is_some());
    let routes = ok(&mut c, r#"{"execute":"guest-network-get-route"}"#);
    for r in routes.as_array().unwrap() {
        assert!(r["version"] == 4 || r["version"] == 6, "{r}");
    }
    let disks = ok(&mut c, r#"{"execute":"guest-get-disks"}"#);
    assert!(disks.as_array().is_some());
    // Reading keys works; changing them would change the host.
    let r = c.call(r#"{"execute":"guest-ssh-get-authorized-keys","arguments":{"username":"nanoqga-no-such-user"}}"#);
    assert_eq!(
        error_of(&r).unwrap().1,
        "failed to lookup user 'nanoqga-no-such-user': Success"
    );
    let r = c.call(r#"{"execute":"guest-ssh-add-authorized-keys","arguments":{"username":"root","keys":["algo k"]}}"#);
    assert_eq!(
        error_of(&r).unwrap().1,
        "this feature or command is not currently supported"
    );
}
