//! guest-exec and guest-exec-status: test-qga.c `guest-exec` and
//! `guest-exec-invalid`, plus programs across polls, capture limits, reaping
//! and the status reply's shape.

use nanoqga_tests_host::{Harness, MockSerial, b64decode, b64encode};
use serde_json::Value;

fn exec(h: &mut Harness, args: &str) -> i64 {
    h.ok(&format!(r#"{{"execute":"guest-exec","arguments":{args}}}"#))["pid"]
        .as_i64()
        .expect("pid")
}

fn status(h: &mut Harness, pid: i64) -> Value {
    h.ok(&format!(
        r#"{{"execute":"guest-exec-status","arguments":{{"pid":{pid}}}}}"#
    ))
}

fn wait(h: &mut Harness, pid: i64) -> Value {
    for _ in 0..100 {
        let s = status(h, pid);
        if s["exited"] == true {
            return s;
        }
    }
    panic!("program {pid} did not exit");
}

#[test]
fn guest_exec_echo_of_test_qga() {
    let mut h = Harness::mock();
    let pid = exec(
        &mut h,
        r#"{"path":"/bin/echo","arg":["-n","\" test_str \""],"capture-output":true}"#,
    );
    assert!(pid > 0);
    let s = wait(&mut h, pid);
    assert_eq!(s["exitcode"], 0);
    assert_eq!(
        b64decode(s["out-data"].as_str().unwrap()),
        b"\" test_str \""
    );
    assert_eq!(s["out-truncated"], false);
    assert!(s.get("err-data").is_none());
    assert!(s.get("signal").is_none());
}

#[test]
fn guest_exec_invalid_of_test_qga() {
    let mut h = Harness::mock();
    let (class, desc) =
        h.err(r#"{"execute":"guest-exec","arguments":{"path":"/bin/invalid-cmd42"}}"#);
    assert_eq!(class, "GenericError");
    assert_eq!(
        desc,
        "Guest agent command failed, error was 'Failed to execute child process \u{201c}/bin/invalid-cmd42\u{201d} (No such file or directory)'"
    );
    assert_eq!(
        h.err(r#"{"execute":"guest-exec-status","arguments":{"pid":0}}"#)
            .1,
        "Invalid parameter 'pid'"
    );
}

#[test]
fn status_reply_bytes_match_qemu_key_order() {
    let mut h = Harness::mock();
    let pid = exec(
        &mut h,
        r#"{"path":"/bin/fail","arg":["2","x"],"capture-output":true}"#,
    );
    let o = h.exchange(
        format!(r#"{{"execute":"guest-exec-status","arguments":{{"pid":{pid}}}}}"#).as_bytes(),
    );
    assert_eq!(
        String::from_utf8(o).unwrap(),
        format!(
            "{{\"return\": {{\"exitcode\": 2, \"err-data\": \"{}\", \"err-truncated\": false, \"exited\": true}}}}\n",
            b64encode(b"2x")
        )
    );
}

#[test]
fn status_is_reaped_once_reported() {
    let mut h = Harness::mock();
    let pid = exec(&mut h, r#"{"path":"/bin/true"}"#);
    let s = status(&mut h, pid);
    assert_eq!(
        (s["exited"].as_bool(), s["exitcode"].as_i64()),
        (Some(true), Some(0))
    );
    assert_eq!(
        h.err(&format!(
            r#"{{"execute":"guest-exec-status","arguments":{{"pid":{pid}}}}}"#
        ))
        .1,
        "Invalid parameter 'pid'"
    );
    assert_eq!(h.agent.exec_slots_used(), 0);
}

#[test]
fn false_and_signals_report_status() {
    let mut h = Harness::mock();
    let pid = exec(&mut h, r#"{"path":"/bin/false"}"#);
    assert_eq!(wait(&mut h, pid)["exitcode"], 1);
    let pid = exec(&mut h, r#"{"path":"/bin/kill-me"}"#);
    let s = wait(&mut h, pid);
    assert_eq!(s["signal"], 9);
    assert!(s.get("exitcode").is_none());
}

#[test]
fn program_running_across_polls_reports_not_exited_then_output() {
    let mut h = Harness::mock();
    h.platform().programs.as_mut().unwrap().slow_polls = 1000;
    let pid = exec(&mut h, r#"{"path":"/bin/slow","capture-output":true}"#);
    let s = status(&mut h, pid);
    assert_eq!(s, serde_json::json!({"exited": false}));
    h.run_programs(10_000);
    let s = status(&mut h, pid);
    assert_eq!(s["exited"], true);
    let out = b64decode(s["out-data"].as_str().unwrap());
    assert!(out.starts_with(b"step 1\nstep 2\n"));
    assert_eq!(
        s["out-truncated"], true,
        "1000 lines exceed the 512-byte capture"
    );
}

#[test]
fn program_advances_while_agent_idles() {
    let mut h = Harness::mock();
    let pid = exec(&mut h, r#"{"path":"/bin/slow","capture-output":true}"#);
    assert!(h.agent.programs_running() || status(&mut h, pid)["exited"] == true);
    for _ in 0..10 {
        h.serial.new_poll();
        let _ = h.agent.poll(&mut h.serial);
    }
    assert!(!h.agent.programs_running());
    assert_eq!(status(&mut h, pid)["exited"], true);
}

#[test]
fn capture_truncates_and_flags() {
    let mut h = Harness::mock();
    let input = b64encode(b"0123456789");
    let pid = exec(
        &mut h,
        &format!(r#"{{"path":"/bin/spew","input-data":"{input}","capture-output":true}}"#),
    );
    let s = wait(&mut h, pid);
    let out = b64decode(s["out-data"].as_str().unwrap());
    assert_eq!(out.len(), 512);
    assert!(out.starts_with(b"0123456789012"));
    assert_eq!(s["out-truncated"], true);
}

#[test]
fn without_capture_output_no_data_is_returned() {
    let mut h = Harness::mock();
    let pid = exec(&mut h, r#"{"path":"/bin/echo","arg":["hello"]}"#);
    let s = wait(&mut h, pid);
    assert_eq!(s, serde_json::json!({"exitcode": 0, "exited": true}));
}

#[test]
fn cat_copies_input_data_and_env_reaches_program() {
    let mut h = Harness::mock();
    let data: Vec<u8> = (0..=255u8).collect();
    let pid = exec(
        &mut h,
        &format!(
            r#"{{"path":"/bin/cat","input-data":"{}","capture-output":true}}"#,
            b64encode(&data[..200])
        ),
    );
    assert_eq!(
        b64decode(wait(&mut h, pid)["out-data"].as_str().unwrap()),
        &data[..200]
    );
    let pid = exec(
        &mut h,
        r#"{"path":"/usr/bin/env","env":["A=1","B=\u00e9"],"capture-output":true}"#,
    );
    assert_eq!(
        b64decode(wait(&mut h, pid)["out-data"].as_str().unwrap()),
        "A=1\nB=\u{e9}\n".as_bytes()
    );
    assert_eq!(
        h.err(r#"{"execute":"guest-exec","arguments":{"path":"/bin/cat","input-data":"!!"}}"#)
            .1,
        "Base64 data contains invalid characters"
    );
}

#[test]
fn echo_follows_coreutils_options() {
    let mut h = Harness::mock();
    let cases: &[(&str, &[u8])] = &[
        (r#"["a","b"]"#, b"a b\n"),
        (r#"["-n","a"]"#, b"a"),
        (r#"["-e","a\\tb\\c","x"]"#, b"a\tb"),
        (r#"["-ne","x\\x41"]"#, b"xA"),
        (r#"["--","-n"]"#, b"-- -n\n"),
        (r#"["-nx"]"#, b"-nx\n"),
        ("[]", b"\n"),
    ];
    for (args, expected) in cases {
        let pid = exec(
            &mut h,
            &format!(r#"{{"path":"/bin/echo","arg":{args},"capture-output":true}}"#),
        );
        let s = wait(&mut h, pid);
        let out = s
            .get("out-data")
            .map(|d| b64decode(d.as_str().unwrap()))
            .unwrap_or_default();
        assert_eq!(out, *expected, "echo {args}");
    }
}

#[test]
fn health_check_runs_across_polls_and_passes() {
    let mut h = Harness::mock();
    let pid = exec(
        &mut h,
        r#"{"path":"/usr/libexec/nanoqga/health-check","capture-output":true}"#,
    );
    let s = wait(&mut h, pid);
    assert_eq!(s["exitcode"], 0);
    let out = String::from_utf8(b64decode(s["out-data"].as_str().unwrap())).unwrap();
    assert!(out.contains("testing 65536 bytes"), "{out}");
    assert!(out.ends_with("4 patterns, 0 errors\nPASS\n"), "{out}");
}

#[test]
fn full_exec_table_is_an_error_and_pids_are_not_reused() {
    let mut h = Harness::mock();
    h.platform().programs.as_mut().unwrap().slow_polls = u64::MAX;
    let pids: Vec<i64> = (0..4)
        .map(|_| exec(&mut h, r#"{"path":"/bin/slow"}"#))
        .collect();
    assert_eq!(pids, vec![1, 2, 3, 4]);
    assert_eq!(
        h.err(r#"{"execute":"guest-exec","arguments":{"path":"/bin/true"}}"#)
            .1,
        "Guest agent command failed, error was 'Resource temporarily unavailable'"
    );
    assert_eq!(h.agent.exec_slots_used(), 4);
}

#[test]
fn status_with_large_output_streams_through_one_byte_transport() {
    let mut h = Harness::mock();
    h.platform().programs.as_mut().unwrap().slow_polls = 60;
    let pid = exec(&mut h, r#"{"path":"/bin/slow","capture-output":true}"#);
    for _ in 0..100 {
        h.serial.new_poll();
        let _ = h.agent.poll(&mut h.serial);
    }
    h.serial = MockSerial::new().with_tx_budget(&[1]);
    let s = status(&mut h, pid);
    assert_eq!(s["exited"], true);
    assert!(b64decode(s["out-data"].as_str().unwrap()).starts_with(b"step 1\n"));
}

#[test]
fn capture_output_modes_of_qemu_ga_8_1() {
    let mut h = Harness::mock();
    let run = |h: &mut Harness, mode: &str| {
        let pid = exec(
            h,
            &format!(r#"{{"path":"/bin/both","capture-output":{mode}}}"#),
        );
        wait(h, pid)
    };
    let sep = run(&mut h, "true");
    assert_eq!(b64decode(sep["out-data"].as_str().unwrap()), b"out\n");
    assert_eq!(b64decode(sep["err-data"].as_str().unwrap()), b"err\n");
    assert_eq!(run(&mut h, r#""separated""#), sep);
    let merged = run(&mut h, r#""merged""#);
    assert_eq!(
        b64decode(merged["out-data"].as_str().unwrap()),
        b"out\nerr\n"
    );
    assert!(merged.get("err-data").is_none());
    let out = run(&mut h, r#""stdout""#);
    assert!(out.get("out-data").is_some() && out.get("err-data").is_none());
    let err = run(&mut h, r#""stderr""#);
    assert!(err.get("out-data").is_none() && err.get("err-data").is_some());
    for none in [r#""none""#, "false"] {
        let r = run(&mut h, none);
        assert!(r.get("out-data").is_none() && r.get("err-data").is_none());
    }
}

#[test]
fn running_program_sets_the_poll_delay() {
    let mut h = Harness::mock();
    assert_eq!(h.agent.poll_delay(), None);
    let pid = exec(&mut h, r#"{"path":"/bin/sleep"}"#);
    assert_eq!(h.agent.poll_delay(), Some(nanoqga_testkit_sleep()));
    let done = wait(&mut h, pid);
    assert_eq!(done["exitcode"], 0);
    assert_eq!(h.agent.poll_delay(), None);
    // A program that works in slices asks for no delay at all.
    exec(&mut h, r#"{"path":"/usr/libexec/nanoqga/health-check"}"#);
    assert_eq!(h.agent.poll_delay(), Some(std::time::Duration::ZERO));
}

fn nanoqga_testkit_sleep() -> std::time::Duration {
    nanoqga_tests_host::SLEEP_STEP
}
