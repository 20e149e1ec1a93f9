//! guest-file-*: test-qga.c `file-ops` and `file-write-read`, plus handles,
//! modes, streaming reads, base64 and every error text.

use nanoqga::{Agent, AgentConfig, Storage};
use nanoqga_tests_host::{Harness, MockPlatform, MockSerial, b64decode, b64encode};

const HELLO: &[u8] = b"Hello World!\n\0";

fn open(h: &mut Harness, path: &str, mode: &str) -> i64 {
    h.ok(&format!(
        r#"{{"execute":"guest-file-open","arguments":{{"path":"{path}","mode":"{mode}"}}}}"#
    ))
    .as_i64()
    .expect("handle")
}

fn write(h: &mut Harness, handle: i64, data: &[u8]) -> serde_json::Value {
    h.ok(&format!(
        r#"{{"execute":"guest-file-write","arguments":{{"handle":{handle},"buf-b64":"{}"}}}}"#,
        b64encode(data)
    ))
}

fn read(h: &mut Harness, handle: i64, count: Option<i64>) -> serde_json::Value {
    let c = count
        .map(|c| format!(r#","count":{c}"#))
        .unwrap_or_default();
    h.ok(&format!(
        r#"{{"execute":"guest-file-read","arguments":{{"handle":{handle}{c}}}}}"#
    ))
}

#[test]
fn file_ops_sequence_of_test_qga() {
    let mut h = Harness::mock();
    let fh = open(&mut h, "foo", "w+");
    assert_eq!(fh, 1000);
    let w = write(&mut h, fh, HELLO);
    assert_eq!(w["count"], 14);
    assert_eq!(w["eof"], false);
    h.ok(&format!(
        r#"{{"execute":"guest-file-flush","arguments":{{"handle":{fh}}}}}"#
    ));
    h.ok(&format!(
        r#"{{"execute":"guest-file-close","arguments":{{"handle":{fh}}}}}"#
    ));
    assert_eq!(h.platform().files.as_ref().unwrap().files["foo"], HELLO);

    let fh = open(&mut h, "foo", "r");
    assert_eq!(fh, 1001);
    let r = read(&mut h, fh, None);
    assert_eq!(r["count"], 14);
    assert_eq!(r["eof"], true);
    assert_eq!(r["buf-b64"], "SGVsbG8gV29ybGQhCgA=");
    let r = read(&mut h, fh, None);
    assert_eq!(
        (
            r["count"].as_i64(),
            r["eof"].as_bool(),
            r["buf-b64"].as_str()
        ),
        (Some(0), Some(true), Some(""))
    );
    let s = h.ok(&format!(
        r#"{{"execute":"guest-file-seek","arguments":{{"handle":{fh},"offset":6,"whence":"set"}}}}"#
    ));
    assert_eq!(
        (s["position"].as_i64(), s["eof"].as_bool()),
        (Some(6), Some(false))
    );
    let r = read(&mut h, fh, None);
    assert_eq!(r["count"], 8);
    assert_eq!(r["eof"], true);
    assert_eq!(b64decode(r["buf-b64"].as_str().unwrap()), &HELLO[6..]);
    h.ok(&format!(
        r#"{{"execute":"guest-file-close","arguments":{{"handle":{fh}}}}}"#
    ));
}

#[test]
fn file_write_read_sequence_of_test_qga() {
    let mut h = Harness::mock();
    let fh = open(&mut h, "foo", "w+");
    let w = write(&mut h, fh, HELLO);
    assert_eq!(
        (w["count"].as_i64(), w["eof"].as_bool()),
        (Some(14), Some(false))
    );
    let r = read(&mut h, fh, None);
    assert_eq!(
        (
            r["count"].as_i64(),
            r["eof"].as_bool(),
            r["buf-b64"].as_str()
        ),
        (Some(0), Some(true), Some(""))
    );
    let s = h.ok(&format!(
        r#"{{"execute":"guest-file-seek","arguments":{{"handle":{fh},"offset":0,"whence":"set"}}}}"#
    ));
    assert_eq!(
        (s["position"].as_i64(), s["eof"].as_bool()),
        (Some(0), Some(false))
    );
    let r = read(&mut h, fh, None);
    assert_eq!(
        (r["count"].as_i64(), r["eof"].as_bool()),
        (Some(14), Some(true))
    );
    assert_eq!(r["buf-b64"], "SGVsbG8gV29ybGQhCgA=");
    h.ok(&format!(
        r#"{{"execute":"guest-file-close","arguments":{{"handle":{fh}}}}}"#
    ));
}

#[test]
fn reply_bytes_match_qemu_key_order() {
    let mut h = Harness::mock();
    let fh = open(&mut h, "k", "w+");
    let o = h.exchange(format!(r#"{{"execute":"guest-file-write","arguments":{{"handle":{fh},"buf-b64":"aGVsbG8gd29ybGQK"}}}}"#).as_bytes());
    assert_eq!(o, b"{\"return\": {\"count\": 12, \"eof\": false}}\n");
    let o = h.exchange(format!(r#"{{"execute":"guest-file-seek","arguments":{{"handle":{fh},"offset":0,"whence":"set"}}}}"#).as_bytes());
    assert_eq!(o, b"{\"return\": {\"eof\": false, \"position\": 0}}\n");
    let o = h.exchange(
        format!(r#"{{"execute":"guest-file-read","arguments":{{"handle":{fh}}}}}"#).as_bytes(),
    );
    assert_eq!(
        o,
        b"{\"return\": {\"count\": 12, \"buf-b64\": \"aGVsbG8gd29ybGQK\", \"eof\": true}}\n"
    );
}

#[test]
fn reading_exactly_the_rest_is_not_eof() {
    let mut h = Harness::mock();
    h.platform()
        .files
        .as_mut()
        .unwrap()
        .files
        .insert("f".into(), b"hello world\n".to_vec());
    let fh = open(&mut h, "f", "r");
    let r = read(&mut h, fh, Some(5));
    assert_eq!(
        (r["count"].as_i64(), r["eof"].as_bool()),
        (Some(5), Some(false))
    );
    let r = read(&mut h, fh, Some(7));
    assert_eq!(
        (r["count"].as_i64(), r["eof"].as_bool()),
        (Some(7), Some(false))
    );
    let r = read(&mut h, fh, Some(0));
    assert_eq!(
        (
            r["count"].as_i64(),
            r["eof"].as_bool(),
            r["buf-b64"].as_str()
        ),
        (Some(0), Some(false), Some(""))
    );
    let r = read(&mut h, fh, Some(1));
    assert_eq!(
        (r["count"].as_i64(), r["eof"].as_bool()),
        (Some(0), Some(true))
    );
}

#[test]
fn large_read_streams_through_small_reply_buffer() {
    // 200 KiB through a 1 KiB reply buffer, in 1-byte transport writes for
    // part of it: the bytes must come back exactly.
    let data: Vec<u8> = (0..200 * 1024u32)
        .map(|i| (i * 7 + i / 251) as u8)
        .collect();
    for budget in [None, Some(&[1usize, 3, 4096][..])] {
        let mut h = Harness::mock();
        if let Some(b) = budget {
            h.serial = MockSerial::new().with_tx_budget(b);
        }
        h.platform()
            .files
            .as_mut()
            .unwrap()
            .files
            .insert("big".into(), data.clone());
        let fh = open(&mut h, "big", "r");
        let r = read(&mut h, fh, Some(300 * 1024));
        assert_eq!(r["count"].as_u64(), Some(data.len() as u64));
        assert_eq!(r["eof"], true);
        assert_eq!(b64decode(r["buf-b64"].as_str().unwrap()), data);
        let r = read(&mut h, fh, Some(300 * 1024));
        assert_eq!(
            (r["count"].as_i64(), r["buf-b64"].as_str()),
            (Some(0), Some(""))
        );
    }
}

#[test]
fn large_read_of_exact_size_is_not_eof() {
    let data = vec![0xA5u8; 10_000];
    let mut h = Harness::mock();
    h.platform()
        .files
        .as_mut()
        .unwrap()
        .files
        .insert("x".into(), data.clone());
    let fh = open(&mut h, "x", "r");
    let r = read(&mut h, fh, Some(10_000));
    assert_eq!(
        (r["count"].as_i64(), r["eof"].as_bool()),
        (Some(10_000), Some(false))
    );
    assert_eq!(b64decode(r["buf-b64"].as_str().unwrap()), data);
}

#[test]
fn read_count_limits_match_qemu() {
    let mut h = Harness::mock();
    h.platform()
        .files
        .as_mut()
        .unwrap()
        .files
        .insert("f".into(), vec![1; 10]);
    let fh = open(&mut h, "f", "r");
    for c in [-1i64, 50_331_649] {
        let e = h.err(&format!(
            r#"{{"execute":"guest-file-read","arguments":{{"handle":{fh},"count":{c}}}}}"#
        ));
        assert_eq!(e.1, format!("value '{c}' is invalid for argument count"));
    }
    // 48 MiB itself is allowed (and streams).
    let r = read(&mut h, fh, Some(50_331_648));
    assert_eq!(r["count"], 10);
    // The handle is checked before the count.
    assert_eq!(
        h.err(r#"{"execute":"guest-file-read","arguments":{"handle":5,"count":-1}}"#)
            .1,
        "handle '5' has not been found"
    );
}

#[test]
fn handles_count_up_and_are_never_reused() {
    let mut h = Harness::mock();
    let mut seen = Vec::new();
    for i in 0..20 {
        let fh = open(&mut h, &format!("f{i}"), "w");
        seen.push(fh);
        h.ok(&format!(
            r#"{{"execute":"guest-file-close","arguments":{{"handle":{fh}}}}}"#
        ));
    }
    assert_eq!(seen, (1000..1020).collect::<Vec<_>>());
    // A failed open does not use a number.
    h.err(r#"{"execute":"guest-file-open","arguments":{"path":"missing","mode":"r"}}"#);
    assert_eq!(open(&mut h, "f0", "r"), 1020);
}

#[test]
fn full_handle_table_is_an_error_and_recovers() {
    let mut h = Harness::mock();
    let fhs: Vec<i64> = (0..8)
        .map(|i| open(&mut h, &format!("g{i}"), "w"))
        .collect();
    let e = h.err(r#"{"execute":"guest-file-open","arguments":{"path":"g9","mode":"w"}}"#);
    assert_eq!(
        e,
        (
            "GenericError".into(),
            "failed to open file 'g9' (mode: 'w'): Too many open files".into()
        )
    );
    assert!(
        !h.platform()
            .files
            .as_ref()
            .unwrap()
            .files
            .contains_key("g9"),
        "nothing opened behind the client's back"
    );
    h.ok(&format!(
        r#"{{"execute":"guest-file-close","arguments":{{"handle":{}}}}}"#,
        fhs[0]
    ));
    open(&mut h, "g9", "w");
}

#[test]
fn unknown_and_closed_handles_are_not_found() {
    let mut h = Harness::mock();
    for cmd in ["guest-file-close", "guest-file-flush", "guest-file-read"] {
        assert_eq!(
            h.err(&format!(
                r#"{{"execute":"{cmd}","arguments":{{"handle":1234}}}}"#
            ))
            .1,
            "handle '1234' has not been found"
        );
    }
    let fh = open(&mut h, "c", "w");
    h.ok(&format!(
        r#"{{"execute":"guest-file-close","arguments":{{"handle":{fh}}}}}"#
    ));
    assert_eq!(
        h.err(&format!(
            r#"{{"execute":"guest-file-close","arguments":{{"handle":{fh}}}}}"#
        ))
        .1,
        format!("handle '{fh}' has not been found")
    );
    assert_eq!(
        h.err(r#"{"execute":"guest-file-write","arguments":{"handle":0,"buf-b64":""}}"#)
            .1,
        "handle '0' has not been found"
    );
    assert_eq!(
        h.err(r#"{"execute":"guest-file-seek","arguments":{"handle":-1,"offset":0,"whence":0}}"#)
            .1,
        "handle '-1' has not been found"
    );
}

#[test]
fn open_modes_and_errors_match_qemu() {
    let mut h = Harness::mock();
    for bad in ["", "rw", "x", "r++", "W"] {
        assert_eq!(
            h.err(&format!(
                r#"{{"execute":"guest-file-open","arguments":{{"path":"p","mode":"{bad}"}}}}"#
            ))
            .1,
            format!("invalid file open mode '{bad}'")
        );
    }
    for good in [
        "w", "wb", "a", "ab", "r+", "rb+", "r+b", "w+", "wb+", "w+b", "a+", "ab+", "a+b", "r", "rb",
    ] {
        let fh = open(&mut h, "p", good);
        h.ok(&format!(
            r#"{{"execute":"guest-file-close","arguments":{{"handle":{fh}}}}}"#
        ));
    }
    assert_eq!(
        h.err(r#"{"execute":"guest-file-open","arguments":{"path":"/nonexistent/x"}}"#)
            .1,
        "failed to open file '/nonexistent/x' (mode: 'r'): No such file or directory"
    );
    h.platform()
        .files
        .as_mut()
        .unwrap()
        .denied
        .push("/d\u{e9}ni".into());
    assert_eq!(
        h.err(r#"{"execute":"guest-file-open","arguments":{"path":"/d\u00e9ni","mode":"a+"}}"#)
            .1,
        "failed to open file '/d\u{e9}ni' (mode: 'a+'): Permission denied"
    );
}

#[test]
fn read_and_write_on_wrong_mode_are_bad_file_descriptor() {
    let mut h = Harness::mock();
    let w = open(&mut h, "m", "w");
    assert_eq!(
        h.err(&format!(
            r#"{{"execute":"guest-file-read","arguments":{{"handle":{w}}}}}"#
        ))
        .1,
        "failed to read file: Bad file descriptor"
    );
    let r = open(&mut h, "m", "r");
    assert_eq!(
        h.err(&format!(
            r#"{{"execute":"guest-file-write","arguments":{{"handle":{r},"buf-b64":"QQ=="}}}}"#
        ))
        .1,
        "failed to write to file: Bad file descriptor"
    );
}

#[test]
fn write_base64_and_count_follow_qemu() {
    let mut h = Harness::mock();
    let fh = open(&mut h, "b", "w+");
    let w = |h: &mut Harness, b64: &str, count: &str| {
        h.call(&format!(r#"{{"execute":"guest-file-write","arguments":{{"handle":{fh},"buf-b64":"{b64}"{count}}}}}"#))
    };
    for bad in ["aGk= ", "a-_b", "aGk\\t"] {
        assert_eq!(
            w(&mut h, bad, "")["error"]["desc"],
            "Base64 data contains invalid characters",
            "{bad}"
        );
    }
    // glib's lenient decoding: incomplete quanta are dropped, '\n' skipped.
    assert_eq!(w(&mut h, "aGk", "")["return"]["count"], 0);
    assert_eq!(w(&mut h, "a=Gk=", "")["return"]["count"], 3);
    assert_eq!(w(&mut h, "aG\\nk=", "")["return"]["count"], 2);
    assert_eq!(w(&mut h, "", "")["return"]["count"], 0);
    assert_eq!(w(&mut h, "aGVsbG8=", r#","count":2"#)["return"]["count"], 2);
    assert_eq!(
        w(&mut h, "aGVsbG8=", r#","count":6"#)["error"]["desc"],
        "value '6' is invalid for argument count"
    );
    assert_eq!(
        w(&mut h, "aGVsbG8=", r#","count":-1"#)["error"]["desc"],
        "value '-1' is invalid for argument count"
    );
    // JSON escapes are decoded before base64 (\/ is '/').
    assert_eq!(w(&mut h, "\\/w==", "")["return"]["count"], 1);
}

#[test]
fn seek_whence_forms_and_errors() {
    let mut h = Harness::mock();
    let fh = open(&mut h, "s", "w+");
    write(&mut h, fh, b"0123456789");
    let seek = |h: &mut Harness, off: i64, whence: &str| {
        h.call(&format!(r#"{{"execute":"guest-file-seek","arguments":{{"handle":{fh},"offset":{off},"whence":{whence}}}}}"#))
    };
    assert_eq!(seek(&mut h, 2, "0")["return"]["position"], 2);
    assert_eq!(seek(&mut h, 3, "1")["return"]["position"], 5);
    assert_eq!(seek(&mut h, -1, "2")["return"]["position"], 9);
    assert_eq!(seek(&mut h, 0, "\"cur\"")["return"]["position"], 9);
    assert_eq!(seek(&mut h, 100, "\"set\"")["return"]["position"], 100);
    assert_eq!(seek(&mut h, -4, "\"end\"")["return"]["position"], 6);
    assert_eq!(
        seek(&mut h, 0, "3")["error"]["desc"],
        "invalid whence code 3"
    );
    assert_eq!(
        seek(&mut h, -100, "0")["error"]["desc"],
        "failed to seek file: Invalid argument"
    );
}

#[test]
fn write_larger_than_request_buffer_is_refused_cleanly() {
    let mut h = Harness::mock();
    let fh = open(&mut h, "w", "w");
    let big = b64encode(&vec![7u8; 8000]);
    let r = h.request(&format!(
        r#"{{"execute":"guest-file-write","arguments":{{"handle":{fh},"buf-b64":"{big}"}}}}{{"execute":"guest-ping","id":"after"}}"#
    ));
    assert_eq!(r.len(), 2);
    assert!(
        r[0]["error"]["desc"]
            .as_str()
            .unwrap()
            .contains("request larger than the agent's 4096-byte buffer")
    );
    assert_eq!(r[1]["id"], "after");
    assert!(
        h.platform().files.as_ref().unwrap().files["w"].is_empty(),
        "nothing was written"
    );
}

#[test]
fn files_without_board_store_are_not_supported() {
    let storage: &'static mut nanoqga_tests_host::SmallStorage =
        Box::leak(Box::new(Storage::new()));
    let mut h = Harness::from_agent(Agent::new(
        storage,
        MockPlatform::bare(),
        AgentConfig::default(),
    ));
    assert_eq!(
        h.err(r#"{"execute":"guest-file-open","arguments":{"path":"foo"}}"#)
            .1,
        "this feature or command is not currently supported"
    );
}
