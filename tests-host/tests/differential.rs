//! Byte-for-byte comparison with the reference agent, qemu-ga 7.2.
//!
//! Each input goes to both agents on a fresh connection; the bytes that come
//! back must be identical. qemu-ga keeps its parser state across
//! connections, so every case ends with `\n\xff\n` (one stray error each,
//! then a clean lexer). State-changing commands are blocked in qemu-ga and
//! never sent. Known differences, by design: commands newer than QGA 4.2
//! (`guest-get-devices`, …) are unknown here, and an object-valued `id` is
//! echoed with its members in the client's order (qemu-ga sorts them by its
//! hash table). `capture-output` takes qemu-ga 8.1's enum form as well as
//! the boolean (7.2 answers `expected: boolean` to a string), and the
//! commands qemu-ga added after 7.2 (`guest-get-load`,
//! `guest-network-get-route`) exist here.

use std::time::Duration;

use nanoqga_tests_host::process::{Proc, QEMU_GA, spawn_host, spawn_qemu_ga};
use nanoqga_tests_host::require_tool;

const BIN: &str = env!("CARGO_BIN_EXE_nanoqga-host-test");

const CASES: &[&[u8]] = &[
    // A duplicate key before a syntax error: QEMU's parser works in
    // document order, so the duplicate is reported.
    b"{\x22a\x22:1,\x22a\x22:2,\x22b\x22:]}",
    b"[{\x22x\x22:1,\x22x\x22:2}, nul]",
    b"{\x22execute\x22:\x22guest-ping\x22,\x22arguments\x22:{\x22q\x22:1,\x22q\x22:2}}",
    b"{\x22execute\x22:\x22guest-ping\x22}",
    b"{\x22execute\x22:\x22guest-ping\x22,\x22id\x22:{\x22a\x22:[1,2.5,null,true]}}",
    b"{\x22execute\x22:\x22guest-sync\x22,\x22arguments\x22:{\x22id\x22:123}}",
    b"\xff{\x22execute\x22:\x22guest-sync-delimited\x22,\x22arguments\x22:{\x22id\x22:123}}",
    b"42\x0a",
    b"}",
    b"{\x22execute\x22:\x22guest-ping\x22]",
    b"{\x22execute\x22 \x22guest-ping\x22}",
    b"{1: \x22guest-ping\x22}",
    b"{\x22execute\x22:\x22guest-sync\x22,\x22arguments\x22:{\x22id\x22:007}}",
    b"{\x22execute\x22:\x22guest-sync\x22,\x22arguments\x22:{\x22id\x22:+7}}",
    b"{\x22execute\x22:\x22guest-ping\x22,\x22id\x22:-}",
    b"{\x22execute\x22:\x22guest-ping\x22,\x22id\x22:5.}",
    b"{\x22execute\x22:\x22guest\x01ping\x22}",
    b"{\x22execute\x22:\x22guest-pi\xffng\x22}",
    b"abc{\x22execute\x22:\x22guest-ping\x22}",
    b"{}",
    b"{\x22id\x22:7}",
    b"{\x22execute\x22:1}",
    b"{\x22execute\x22:null,\x22id\x22:\x22n\x22}",
    b"{\x22exec-oob\x22:\x22guest-ping\x22}",
    b"{\x22execute\x22:\x22guest-ping\x22,\x22foo\x22:1}",
    b"{\x22execute\x22:\x22guest-ping\x22,\x22arguments\x22:[]}",
    b"{\x22execute\x22:\x22foo\x22,\x22id\x22:5}",
    b"{\x22execute\x22:\x22GUEST-PING\x22}",
    b"{\x22execute\x22:\x22guest-ping\x22,\x22arguments\x22:{\x22x\x22:1}}",
    b"{\x22execute\x22:\x22guest-sync\x22,\x22arguments\x22:{}}",
    b"{\x22execute\x22:\x22guest-sync\x22,\x22arguments\x22:{\x22id\x22:\x221\x22}}",
    b"{\x22execute\x22:\x22guest-sync\x22,\x22arguments\x22:{\x22id\x22:\x221\x22,\x22x\x22:2}}",
    b"{\x22execute\x22:\x22guest-sync\x22,\x22arguments\x22:{\x22id\x22:9223372036854775808}}",
    b"{\x22execute\x22:\x22guest-sync\x22,\x22arguments\x22:{\x22id\x22:-9223372036854775808}}",
    b"{\x22execute\x22:\x22guest-sync\x22,\x22arguments\x22:{\x22id\x22:1.0}}",
    b"{\x22execute\x22:\x22guest-sync\x22,\x22arguments\x22:{\x22id\x22:-0}}",
    b"{\x22execute\x22:\x22guest-ping\x22,\x22id\x22:\x22\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\x22}",
    b"{\x22execute\x22:\x22guest-ping\x22,\x22id\x22:\x22\x5cud83d\x5cude00\x5cu0000\x5c/\x22}",
    b"{\x22execute\x22:\x22guest-ping\x22,\x22id\x22:\x22\x5cud83d\x22}",
    b"{\x22execute\x22:\x22guest-ping\x22,\x22id\x22:\x22\x5cx\x22}",
    b"{\x22execute\x22:\x22guest-ping\x22,\x22id\x22:\x22\xc3\x22}",
    b"{\x22execute\x22:\x22guest-ping\x22,\x22id\x22:123456789012345678901234567890}",
    b"{\x22execute\x22:\x22guest-ping\x22,\x22id\x22:0.1}",
    b"{\x22execute\x22:\x22guest-ping\x22,\x22id\x22:1e400}",
    b"{\x22execute\x22:\x22guest-ping\x22,\x22id\x22:18446744073709551615}",
    b"{'execute':'guest-ping','id':'it\x5c's'}",
    b"{\x22execute\x22:\x22guest-ping\x22,\x22execute\x22:\x22guest-ping\x22}",
    b"{\x22execute\x22:\x22guest-ping\x22,\x22id\x22:1,\x22id\x22:2}",
    b"{\x22execute\x22:\x22guest-shutdown\x22,\x22id\x22:6}",
    b"{\x22execute\x22:\x22guest-file-read\x22,\x22arguments\x22:{\x22handle\x22:1}}",
    b"{\x22execute\x22:\x22guest-file-read\x22,\x22arguments\x22:{\x22handle\x22:1,\x22count\x22:-1}}",
    b"{\x22execute\x22:\x22guest-file-read\x22,\x22arguments\x22:{\x22handle\x22:1,\x22count\x22:50331649}}",
    b"{\x22execute\x22:\x22guest-exec-status\x22,\x22arguments\x22:{\x22pid\x22:0}}",
    b"{\x22execute\x22:\x22guest-file-seek\x22,\x22arguments\x22:{\x22handle\x22:1,\x22offset\x22:0,\x22whence\x22:\x22foo\x22}}",
    b"{\x22execute\x22:\x22guest-file-seek\x22,\x22arguments\x22:{\x22handle\x22:1,\x22offset\x22:0,\x22whence\x22:1.5}}",
    b"{\x22execute\x22:\x22guest-file-seek\x22,\x22arguments\x22:{\x22handle\x22:1,\x22offset\x22:0,\x22whence\x22:true}}",
    b"{\x22execute\x22:\x22guest-file-open\x22,\x22arguments\x22:{\x22path\x22:\x22nonexist\x22,\x22mode\x22:\x22rw\x22}}",
    b"{\x22execute\x22:\x22guest-file-open\x22,\x22arguments\x22:{\x22path\x22:\x22nonexist\x22}}",
    b"{\x22execute\x22:\x22guest-get-timezone\x22}",
    b"{\x22execute\x22:\x22guest-fsfreeze-status\x22}",
    b"{\x22execute\x22:\x22guest-set-vcpus\x22,\x22arguments\x22:{\x22vcpus\x22:[{\x22logical-id\x22:1}]}}",
    b"{\x22execute\x22:\x22guest-set-vcpus\x22,\x22arguments\x22:{\x22vcpus\x22:[{\x22logical-id\x22:1,\x22online\x22:true,\x22x\x22:1}]}}",
    b"{\x22execute\x22:\x22guest-set-vcpus\x22,\x22arguments\x22:{\x22vcpus\x22:[1]}}",
    b"{\x22execute\x22:\x22guest-set-memory-blocks\x22,\x22arguments\x22:{\x22mem-blks\x22:[{\x22phys-index\x22:-1.5,\x22online\x22:true}]}}",
    b"{\x22execute\x22:\x22guest-exec\x22,\x22arguments\x22:{\x22path\x22:\x22/bin/echo\x22,\x22arg\x22:[1]}}",
    b"{\x22execute\x22:\x22guest-exec\x22,\x22arguments\x22:{\x22path\x22:\x22/bin/invalid-cmd42\x22}}",
    b"  \x0a\x09\x0d {\x22execute\x22 :  \x22guest-ping\x22 , \x22id\x22 : 3 }  \x0a",
    b"[1,2]",
    b"\x22str\x22",
    b"null\x0a",
    b"{\x22execute\x22:\x22guest-ping\x22,\x22arguments\x22:{}}{\x22execute\x22:\x22guest-ping\x22,\x22id\x22:2}",
    b"{\x22execute\x22:\x22guest-ping\x22 \x00 }",
    b"\xef\xbb\xbf{\x22execute\x22:\x22guest-ping\x22}",
    b"{\x22execute\x22:\x22guest-ping\x22,\x22id\x22:\x22\x5cuFFFF\x22}",
    b"{\x22execute\x22:\x22guest-ping\x22,\x22id\x22:\x22a\x7fb\x22}",
    b"{\x22execute\x22:\x22guest-ping\x22,\x22id\x22:\x22\x5cu00zz\x22}",
    b"{\x22execute\x22:\x22guest-ping\x22,\x22id\x22:\x22\x5cu12\x22}",
    b"{\x22foo\x22:1,\x22execute\x22:2}",
    b"{\x22bar\x22:1,\x22execute\x22:2}",
    b"{\x22foo\x22:1,\x22arguments\x22:2}",
    b"{\x22execute\x22:\x22guest-ping\x22,\x22arguments\x22:{\x22f\x5cu006fo\x22:1}}",
    b"{\x22execute\x22:\x22\x5cu0067uest-nope\x22}",
    // Limits and sizes below qemu-ga's but within ours.
    b"{\"execute\":\"guest-ping\",\"id\":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]}",
    b"{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":1}}{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":2}}",
    b"{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":\"x\"}}",
    b"{\"execute\":\"guest-sync\",\"arguments\":{\"id\":9223372036854775807},\"id\":\"a\\u00e9\"}",
    b"{\"execute\":\"guest-file-open\",\"arguments\":{\"path\":\"/nonexistent/\\u00e9\",\"mode\":\"r\"}}",
    b"{\"execute\":\"guest-file-open\",\"arguments\":{\"path\":\"x\",\"mode\":\"\"}}",
    b"{\"execute\":\"guest-file-close\",\"arguments\":{\"handle\":99999}}",
    b"{\"execute\":\"guest-file-write\",\"arguments\":{\"handle\":99999,\"buf-b64\":\"!!\"}}",
    b"{\"execute\":\"guest-file-seek\",\"arguments\":{\"handle\":99999,\"offset\":0,\"whence\":7}}",
    b"{\"execute\":\"guest-exec-status\",\"arguments\":{\"pid\":12345}}",
    b"{\"execute\":\"guest-exec-status\",\"arguments\":{}}",
    b"{\"execute\":\"guest-get-memory-block-info\",\"arguments\":{\"x\":null}}",
    b"{\"execute\":\"guest-shutdown\",\"arguments\":{\"mode\":\"x\"}}",
    // Commands qemu-ga added after 4.2: argument checks and refusals.
    b"{\"execute\":\"guest-ssh-get-authorized-keys\"}",
    b"{\"execute\":\"guest-ssh-get-authorized-keys\",\"arguments\":{\"username\":5}}",
    b"{\"execute\":\"guest-ssh-get-authorized-keys\",\"arguments\":{\"username\":\"nanoqga-no-such-user\"}}",
    b"{\"execute\":\"guest-ssh-add-authorized-keys\",\"arguments\":{\"username\":\"root\",\"keys\":[\"k\"]},\"id\":1}",
    b"{\"execute\":\"guest-ssh-remove-authorized-keys\",\"arguments\":{}}",
    b"{\"execute\":\"guest-get-cpustats\",\"arguments\":{\"x\":1}}",
    b"{\"execute\":\"guest-get-diskstats\",\"id\":3,\"arguments\":{\"y\":2}}",
    b"{\"execute\":\"guest-get-disks\",\"arguments\":{\"z\":[]}}",
    b"{\"execute\":\"guest-exec\",\"arguments\":{\"path\":\"/bin/true\",\"capture-output\":true,\"x\":1}}",
];

fn agents() -> Option<(Proc, Proc)> {
    if !require_tool(
        QEMU_GA,
        "apt-get install -y --no-install-recommends qemu-guest-agent",
    ) {
        return None;
    }
    // qemu-ga and nanoqga-host block the same state-changing commands, so
    // both answer "disabled" to them; nanoqga-host serves files from its
    // directory like qemu-ga does from its working directory.
    let q = spawn_qemu_ga("");
    let block = nanoqga_tests_host::process::QEMU_GA_BLOCKED;
    let n = spawn_host(BIN, &["--file-root", ".", "-b", block]);
    Some((q, n))
}

fn exchange(p: &Proc, input: &[u8]) -> Vec<u8> {
    let mut c = p.connect();
    c.send(input);
    c.send(b"\n\xff\n");
    // Both agents answer a stray 0xFF; wait for that last line.
    let mut out = Vec::new();
    let tail = b"stray '\\uFFFD'\"}}\n";
    let end = std::time::Instant::now() + Duration::from_secs(10);
    while !out.ends_with(tail) && std::time::Instant::now() < end {
        out.extend(c.drain(Duration::from_millis(50)));
    }
    out
}

#[test]
fn replies_are_byte_identical_to_qemu_ga() {
    let Some((q, n)) = agents() else { return };
    let mut differ = Vec::new();
    for case in CASES {
        let a = exchange(&q, case);
        let b = exchange(&n, case);
        if a != b {
            differ.push(format!(
                "input {:?}\n  qemu-ga:  {:?}\n  nanoqga:  {:?}",
                String::from_utf8_lossy(case),
                String::from_utf8_lossy(&a),
                String::from_utf8_lossy(&b)
            ));
        }
    }
    assert!(
        differ.is_empty(),
        "{} of {} cases differ:\n{}",
        differ.len(),
        CASES.len(),
        differ.join("\n")
    );
}

/// The names of `v`'s object members, depth first (values ignored), as a
/// key-order fingerprint.
fn key_order(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                out.push(k.clone());
                key_order(x, out);
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| key_order(x, out)),
        _ => {}
    }
}

#[test]
fn later_commands_have_qemu_shapes_and_key_order() {
    let Some((q, n)) = agents() else { return };
    // tests-host's serde_json keeps member order (feature preserve_order).
    let keys = |p: &Proc, req: &str| {
        let mut c = p.connect();
        let raw = c.call_raw(req);
        let v: serde_json::Value = serde_json::from_slice(&raw[..raw.len() - 1]).expect("json");
        let mut names = Vec::new();
        key_order(&v, &mut names);
        (names, v)
    };
    for req in [
        r#"{"execute":"guest-get-cpustats"}"#,
        r#"{"execute":"guest-get-diskstats"}"#,
    ] {
        let (a, va) = keys(&q, req);
        let (b, vb) = keys(&n, req);
        assert!(va["return"].is_array() && vb["return"].is_array(), "{req}");
        assert_eq!(
            va["return"].as_array().map(Vec::len),
            vb["return"].as_array().map(Vec::len),
            "{req}: entries"
        );
        assert_eq!(a, b, "{req}: member order");
    }
    // Disks: the same disks and partitions; nanoqga also reads the serial
    // from sysfs, where qemu-ga needs udev's database.
    let (_, va) = keys(&q, r#"{"execute":"guest-get-disks"}"#);
    let (_, vb) = keys(&n, r#"{"execute":"guest-get-disks"}"#);
    let strip = |v: &serde_json::Value| {
        let mut v = v["return"].clone();
        for d in v.as_array_mut().into_iter().flatten() {
            if let Some(a) = d.get_mut("address").and_then(|a| a.as_object_mut()) {
                a.remove("serial");
            }
        }
        v
    };
    assert_eq!(strip(&va), strip(&vb));
}

#[test]
fn file_session_is_byte_identical_to_qemu_ga() {
    let Some((q, n)) = agents() else { return };
    let session: &[&str] = &[
        r#"{"execute":"guest-file-open","arguments":{"path":"foo","mode":"w+"}}"#,
        r#"{"execute":"guest-file-write","arguments":{"handle":1000,"buf-b64":"SGVsbG8gV29ybGQhCgA="}}"#,
        r#"{"execute":"guest-file-read","arguments":{"handle":1000}}"#,
        r#"{"execute":"guest-file-seek","arguments":{"handle":1000,"offset":6,"whence":"set"}}"#,
        r#"{"execute":"guest-file-read","arguments":{"handle":1000,"count":3}}"#,
        r#"{"execute":"guest-file-read","arguments":{"handle":1000,"count":5}}"#,
        r#"{"execute":"guest-file-read","arguments":{"handle":1000,"count":-1}}"#,
        r#"{"execute":"guest-file-seek","arguments":{"handle":1000,"offset":-100,"whence":0}}"#,
        r#"{"execute":"guest-file-seek","arguments":{"handle":1000,"offset":100,"whence":"end"}}"#,
        r#"{"execute":"guest-file-write","arguments":{"handle":1000,"buf-b64":"a=Gk=","count":2}}"#,
        r#"{"execute":"guest-file-write","arguments":{"handle":1000,"buf-b64":"aGk","count":1}}"#,
        r#"{"execute":"guest-file-flush","arguments":{"handle":1000}}"#,
        r#"{"execute":"guest-file-close","arguments":{"handle":1000}}"#,
        r#"{"execute":"guest-file-close","arguments":{"handle":1000}}"#,
        r#"{"execute":"guest-file-open","arguments":{"path":"foo","mode":"r"}}"#,
        r#"{"execute":"guest-file-write","arguments":{"handle":1001,"buf-b64":"QQ=="}}"#,
        r#"{"execute":"guest-file-read","arguments":{"handle":1001,"count":200}}"#,
        r#"{"execute":"guest-file-open","arguments":{"path":"missing","mode":"r"}}"#,
        r#"{"execute":"guest-file-open","arguments":{"path":"foo","mode":"a+"}}"#,
        r#"{"execute":"guest-file-read","arguments":{"handle":1002}}"#,
    ];
    // Raw reply bytes: key order, spacing and escapes count.
    let run = |p: &Proc| {
        let mut c = p.connect();
        session
            .iter()
            .map(|r| String::from_utf8_lossy(&c.call_raw(r)).into_owned())
            .collect::<Vec<_>>()
    };
    let a = run(&q);
    let b = run(&n);
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert_eq!(x, y, "request {}: {}", i, session[i]);
    }
}
