//! Wire protocol: framing, recovery, envelope, errors, limits, output form.
//!
//! Mirrors test-qga.c's sync-delimited, sync, ping, id, invalid-oob,
//! invalid-cmd and invalid-args cases, and every rule of
//! `wire-protocol.md` §1-§4 that applies, with qemu-ga 7.2's exact bytes.

use nanoqga::{AgentConfig, Event, Limit};
use nanoqga_tests_host::{Harness, MockSerial, error_of, parse_replies, split_replies};

fn generic(desc: &str) -> String {
    format!(r#"{{"error": {{"class": "GenericError", "desc": "{desc}"}}}}"#) + "\n"
}

fn out(h: &mut Harness, input: &[u8]) -> String {
    String::from_utf8(h.exchange(input)).expect("replies are ASCII")
}

// ---- test-qga.c cases ------------------------------------------------------

#[test]
fn sync_delimited_after_ff_returns_sentinel_then_id() {
    let mut h = Harness::mock();
    let o = h.exchange(b"\xff{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":123}}");
    // qemu-ga complains about the 0xFF first, then sends 0xFF + the reply.
    let mut expected = generic(r"JSON parse error, stray '\uFFFD'").into_bytes();
    expected.extend_from_slice(b"\xff{\"return\": 123}\n");
    assert_eq!(o, expected);
}

#[test]
fn sync_returns_id_exactly() {
    let mut h = Harness::mock();
    for id in [0i64, 123, -5, 4_294_967_295, i64::MAX, i64::MIN] {
        let r = h.ok(&format!(
            r#"{{"execute":"guest-sync","arguments":{{"id":{id}}}}}"#
        ));
        assert_eq!(r.as_i64(), Some(id));
    }
}

#[test]
fn sync_rejects_ids_that_are_not_int64() {
    let mut h = Harness::mock();
    for id in [
        "9223372036854775808",
        "18446744073709551615",
        "1.0",
        "1e3",
        "true",
        "\"1\"",
        "null",
    ] {
        let (class, desc) = h.err(&format!(
            r#"{{"execute":"guest-sync","arguments":{{"id":{id}}}}}"#
        ));
        assert_eq!(class, "GenericError");
        assert_eq!(
            desc, "Invalid parameter type for 'id', expected: integer",
            "id {id}"
        );
    }
    assert_eq!(
        h.ok(r#"{"execute":"guest-sync","arguments":{"id":-0}}"#)
            .as_i64(),
        Some(0)
    );
}

#[test]
fn ping_returns_empty_object() {
    let mut h = Harness::mock();
    assert_eq!(
        out(&mut h, br#"{"execute":"guest-ping"}"#),
        "{\"return\": {}}\n"
    );
}

#[test]
fn id_is_echoed_after_return_and_before_error() {
    let mut h = Harness::mock();
    assert_eq!(
        out(&mut h, br#"{'execute': 'guest-ping', 'id': 1}"#),
        "{\"return\": {}, \"id\": 1}\n"
    );
    assert_eq!(
        out(&mut h, br#"{"execute":"foo","id":5}"#),
        "{\"id\": 5, \"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command foo has not been found\"}}\n"
    );
}

#[test]
fn id_of_any_type_is_reserialised_like_qemu() {
    let mut h = Harness::mock();
    let cases: &[(&str, &str)] = &[
        (
            r#"{"a":[1,2.5,null,true]}"#,
            r#"{"a": [1, 2.5, null, true]}"#,
        ),
        ("null", "null"),
        ("\"x\"", "\"x\""),
        ("123456789012345678901234567890", "1.2345678901234568e+29"),
        ("18446744073709551615", "18446744073709551615"),
        ("0.1", "0.10000000000000001"),
        ("1.0", "1"),
        ("1e400", "inf"),
        (
            "\"\u{e9}\u{20ac}\u{1f600}\"",
            r#""\u00E9\u20AC\uD83D\uDE00""#,
        ),
        (r#""\ud83d\ude00\u0000\/""#, r#""\uD83D\uDE00\u0000/""#),
    ];
    for (id, echoed) in cases {
        let o = out(
            &mut h,
            format!(r#"{{"execute":"guest-ping","id":{id}}}"#).as_bytes(),
        );
        assert_eq!(
            o,
            format!("{{\"return\": {{}}, \"id\": {echoed}}}\n"),
            "id {id}"
        );
    }
}

#[test]
fn exec_oob_is_rejected() {
    let mut h = Harness::mock();
    let (class, desc) = h.err(r#"{'exec-oob': 'guest-ping'}"#);
    assert_eq!(class, "GenericError");
    assert_eq!(desc, "QMP input member 'exec-oob' is unexpected");
}

#[test]
fn unknown_command_is_command_not_found() {
    let mut h = Harness::mock();
    for name in [
        "guest-invalid-cmd",
        "GUEST-PING",
        "",
        "guest-ping ",
        "guest-get-everything",
    ] {
        let (class, desc) = h.err(&format!(r#"{{"execute":"{name}"}}"#));
        assert_eq!(class, "CommandNotFound");
        assert_eq!(desc, format!("The command {name} has not been found"));
    }
}

#[test]
fn unexpected_argument_is_named() {
    let mut h = Harness::mock();
    assert_eq!(
        h.err(r#"{'execute': 'guest-ping', 'arguments': {'foo': 42}}"#)
            .1,
        "Parameter 'foo' is unexpected"
    );
    // Escaped keys are named decoded, as qemu-ga prints them.
    assert_eq!(
        h.err(r#"{"execute":"guest-ping","arguments":{"f\u006fo":1}}"#)
            .1,
        "Parameter 'foo' is unexpected"
    );
}

// ---- envelope (§2.2) --------------------------------------------------------

#[test]
fn envelope_errors_match_qemu_texts_and_id_echo() {
    let mut h = Harness::mock();
    let cases: &[(&str, &str)] = &[
        (
            "{}",
            r#"{"error": {"class": "GenericError", "desc": "QMP input lacks member 'execute'"}}"#,
        ),
        (
            r#"{"arguments":{}}"#,
            r#"{"error": {"class": "GenericError", "desc": "QMP input lacks member 'execute'"}}"#,
        ),
        (
            r#"{"id":7}"#,
            r#"{"id": 7, "error": {"class": "GenericError", "desc": "QMP input lacks member 'execute'"}}"#,
        ),
        (
            r#"{"execute":1}"#,
            r#"{"error": {"class": "GenericError", "desc": "QMP input member 'execute' must be a string"}}"#,
        ),
        (
            r#"{"execute":null,"id":"n"}"#,
            r#"{"id": "n", "error": {"class": "GenericError", "desc": "QMP input member 'execute' must be a string"}}"#,
        ),
        (
            r#"{"execute":"guest-ping","foo":1}"#,
            r#"{"error": {"class": "GenericError", "desc": "QMP input member 'foo' is unexpected"}}"#,
        ),
        (
            r#"{"execute":"guest-ping","arguments":[]}"#,
            r#"{"error": {"class": "GenericError", "desc": "QMP input member 'arguments' must be an object"}}"#,
        ),
        (
            "[1,2]",
            r#"{"error": {"class": "GenericError", "desc": "QMP input must be a JSON object"}}"#,
        ),
        (
            "\"str\"",
            r#"{"error": {"class": "GenericError", "desc": "QMP input must be a JSON object"}}"#,
        ),
        (
            "null\n",
            r#"{"error": {"class": "GenericError", "desc": "QMP input must be a JSON object"}}"#,
        ),
        (
            "42\n",
            r#"{"error": {"class": "GenericError", "desc": "QMP input must be a JSON object"}}"#,
        ),
    ];
    for (input, reply) in cases {
        assert_eq!(
            out(&mut h, input.as_bytes()),
            format!("{reply}\n"),
            "input {input}"
        );
    }
}

#[test]
fn envelope_members_are_checked_in_qdict_order() {
    // qemu-ga walks the request's QDict in hash order (tdb_hash % 512):
    // bar 254 < execute 299 < arguments 447 < foo 490. The first failing
    // member in that order is reported, whatever order the client used.
    let mut h = Harness::mock();
    for req in [r#"{"foo":1,"execute":2}"#, r#"{"execute":2,"foo":1}"#] {
        assert_eq!(h.err(req).1, "QMP input member 'execute' must be a string");
    }
    for req in [r#"{"bar":1,"execute":2}"#, r#"{"execute":2,"bar":1}"#] {
        assert_eq!(h.err(req).1, "QMP input member 'bar' is unexpected");
    }
    assert_eq!(
        h.err(r#"{"foo":1,"arguments":2}"#).1,
        "QMP input member 'arguments' must be an object"
    );
}

#[test]
fn argument_errors_follow_schema_order_then_leftovers() {
    let mut h = Harness::mock();
    let sync = |args: &str| format!(r#"{{"execute":"guest-sync","arguments":{args}}}"#);
    assert_eq!(h.err(&sync(r#"{}"#)).1, "Parameter 'id' is missing");
    assert_eq!(h.err(&sync(r#"{"x":2}"#)).1, "Parameter 'id' is missing");
    assert_eq!(
        h.err(&sync(r#"{"id":"1","x":2}"#)).1,
        "Invalid parameter type for 'id', expected: integer"
    );
    assert_eq!(
        h.err(&sync(r#"{"id":1,"x":2}"#)).1,
        "Parameter 'x' is unexpected"
    );
    let seek = |w: &str| {
        format!(
            r#"{{"execute":"guest-file-seek","arguments":{{"handle":1000,"offset":0,"whence":{w}}}}}"#
        )
    };
    assert_eq!(
        h.err(&seek("\"foo\"")).1,
        "Parameter 'whence' does not accept value 'foo'"
    );
    assert_eq!(
        h.err(&seek("1.5")).1,
        "Invalid parameter type for 'whence', expected: integer"
    );
    assert_eq!(
        h.err(&seek("true")).1,
        "Invalid parameter type for 'whence', expected: GuestFileWhence"
    );
    assert_eq!(
        h.err(r#"{"execute":"guest-file-read","arguments":{"handle":1000,"count":null}}"#)
            .1,
        "Invalid parameter type for 'count', expected: integer"
    );
    assert_eq!(
        h.err(r#"{"execute":"guest-exec","arguments":{"path":"/bin/echo","arg":[1]}}"#)
            .1,
        "Invalid parameter type for 'arg[0]', expected: string"
    );
    // qemu-ga 8.1's alternate: a boolean or a capture mode's name.
    assert_eq!(
        h.err(
            r#"{"execute":"guest-exec","arguments":{"path":"/bin/echo","capture-output":"bogus"}}"#
        )
        .1,
        "Parameter 'capture-output' does not accept value 'bogus'"
    );
    assert_eq!(
        h.err(r#"{"execute":"guest-exec","arguments":{"path":"/bin/echo","capture-output":1}}"#)
            .1,
        "Invalid parameter type for 'capture-output', expected: GuestExecCaptureOutput"
    );
    assert_eq!(
        h.err(r#"{"execute":"guest-set-vcpus","arguments":{"vcpus":[{"logical-id":1}]}}"#)
            .1,
        "Parameter 'vcpus[0].online' is missing"
    );
    assert_eq!(
        h.err(r#"{"execute":"guest-set-vcpus","arguments":{"vcpus":[{"logical-id":1,"online":true,"x":1}]}}"#).1,
        "Parameter 'vcpus[0].x' is unexpected"
    );
    assert_eq!(
        h.err(r#"{"execute":"guest-set-vcpus","arguments":{"vcpus":[1]}}"#)
            .1,
        "Invalid parameter type for 'vcpus[0]', expected: object"
    );
    assert_eq!(
        h.err(r#"{"execute":"guest-set-memory-blocks","arguments":{"mem-blks":[{"phys-index":-1.5,"online":true}]}}"#).1,
        "Parameter 'mem-blks[0].phys-index' expects uint64"
    );
}

// ---- framing and recovery (§1) ------------------------------------------

#[test]
fn receiving_requests_without_newline_dispatches_on_closing_brace() {
    let mut h = Harness::mock();
    assert_eq!(
        out(
            &mut h,
            br#"{"execute":"guest-ping"}{"execute":"guest-ping","id":2}"#
        ),
        "{\"return\": {}}\n{\"return\": {}, \"id\": 2}\n"
    );
}

#[test]
fn receiving_whitespace_and_crlf_between_tokens_is_ignored() {
    let mut h = Harness::mock();
    assert_eq!(
        out(
            &mut h,
            b"  \n\t\r {\"execute\" :  \"guest-ping\" , \"id\" : 3 }  \r\n"
        ),
        "{\"return\": {}, \"id\": 3}\n"
    );
}

#[test]
fn receiving_newlines_inside_an_object_waits_for_its_end() {
    let mut h = Harness::mock();
    assert_eq!(out(&mut h, b"{\"execute\":\"guest-ping\"\n\n"), "");
    assert_eq!(out(&mut h, b"}\n"), "{\"return\": {}}\n");
}

#[test]
fn receiving_lexical_errors_gives_qemu_stray_texts() {
    let mut h = Harness::mock();
    let cases: &[(&[u8], &[&str])] = &[
        (b"\xff", &[r"JSON parse error, stray '\uFFFD'"]),
        (
            b"\xff\xff",
            &[
                r"JSON parse error, stray '\uFFFD'",
                r"JSON parse error, stray '\uFFFD'",
            ],
        ),
        (b"\x00\n", &["JSON parse error, stray ''"]),
        (b"\xef\xbb\xbf\n", &[r"JSON parse error, stray '\uFFFD'"]),
        (
            b"{\"execute\":\"guest-ping\"\xff",
            &[r"JSON parse error, stray '\uFFFD'"],
        ),
        (
            b"{\"execute\":\"guest-pi\xffng\"}",
            &[
                r#"JSON parse error, stray '\"guest-pi\uFFFD'"#,
                "JSON parse error, expecting value",
            ],
        ),
        (
            b"{\"execute\":\"guest\x01ping\"}",
            &[
                r#"JSON parse error, stray '\"guest\u0001'"#,
                "JSON parse error, expecting value",
            ],
        ),
        (
            b"{\"execute\":\"guest-sync\",\"arguments\":{\"id\":007}}",
            &[
                "JSON parse error, stray '00'",
                "JSON parse error, expecting value",
                "JSON parse error, expecting value",
            ],
        ),
        (
            b"{\"execute\":\"guest-sync\",\"arguments\":{\"id\":+7}}",
            &[
                "JSON parse error, stray '+'",
                "JSON parse error, expecting value",
                "JSON parse error, expecting value",
            ],
        ),
        (
            b"{\"execute\":\"guest-ping\",\"id\":-}",
            &["JSON parse error, stray '-}'"],
        ),
        (
            b"{\"execute\":\"guest-ping\",\"id\":5.}",
            &["JSON parse error, stray '5.}'"],
        ),
        (b"}", &["JSON parse error, expecting value"]),
        (
            b"{\"execute\":\"guest-ping\"]",
            &["JSON parse error, expected separator in dict"],
        ),
        (
            b"{\"execute\" \"guest-ping\"}",
            &["JSON parse error, missing : in object pair"],
        ),
        (
            b"{1: \"guest-ping\"}",
            &["JSON parse error, key is not a string in object"],
        ),
        (b"abc\n", &["JSON parse error, invalid keyword 'abc'"]),
        (
            b"{\"execute\":\"guest-ping\",\"execute\":\"guest-ping\"}",
            &["JSON parse error, duplicate key"],
        ),
        (
            b"{\"execute\":\"guest-ping\",\"id\":\"\\x\"}",
            &["JSON parse error, invalid escape sequence in string"],
        ),
        (
            b"{\"execute\":\"guest-ping\",\"id\":\"\\ud83d\"}",
            &[r"JSON parse error, \\ud83d is not a valid Unicode character"],
        ),
        (
            b"{\"execute\":\"guest-ping\",\"id\":\"\\u12\"}",
            &[r#"JSON parse error, \\u12\" is not a valid Unicode character"#],
        ),
        (
            b"{\"execute\":\"guest-ping\",\"id\":\"\xc3\"}",
            &["JSON parse error, invalid UTF-8 sequence in string"],
        ),
    ];
    for (input, descs) in cases {
        let expected: String = descs.iter().map(|d| generic(d)).collect();
        // A newline after each case ends any recovery it left behind.
        let mut i = input.to_vec();
        i.push(b'\n');
        assert_eq!(
            out(&mut h, &i),
            expected,
            "input {:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn receiving_garbage_then_request_answers_both() {
    let mut h = Harness::mock();
    assert_eq!(
        out(&mut h, br#"abc{"execute":"guest-ping"}"#),
        generic("JSON parse error, invalid keyword 'abc'") + "{\"return\": {}}\n"
    );
}

#[test]
fn single_quoted_strings_and_escaped_apostrophes_are_accepted() {
    let mut h = Harness::mock();
    assert_eq!(
        out(&mut h, br#"{'execute':'guest-ping','id':'it\'s'}"#),
        "{\"return\": {}, \"id\": \"it's\"}\n"
    );
}

#[test]
fn output_never_contains_raw_ff_except_sentinel() {
    let mut h = Harness::mock();
    let o = h.exchange(b"\xff\xfe{\"execute\":\"guest-ping\",\"id\":\"\xff\"}\xff");
    let replies = split_replies(&o);
    assert!(replies.iter().all(|(s, _)| !s), "no sentinel expected");
    assert_eq!(o.iter().filter(|&&b| b == 0xFF).count(), 0);
}

#[test]
fn two_delimited_syncs_each_get_one_sentinel() {
    let mut h = Harness::mock();
    assert_eq!(
        h.exchange(br#"{"execute":"guest-sync-delimited","arguments":{"id":1}}{"execute":"guest-sync-delimited","arguments":{"id":2}}"#),
        b"\xff{\"return\": 1}\n\xff{\"return\": 2}\n"
    );
    // A failed delimited sync has no sentinel.
    assert_eq!(
        h.exchange(br#"{"execute":"guest-sync-delimited","arguments":{"id":"x"}}"#),
        generic("Invalid parameter type for 'id', expected: integer").into_bytes()
    );
}

// ---- chunking and transport budgets -------------------------------------

const CONVERSATION: &[u8] =
    b"\xff{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":42}} \
{\"execute\":\"guest-info\",\"id\":[1,{\"k\":\"\\u00e9\"}]}\n{'execute':'guest-ping'}\
garbage\xff{\"execute\":\"guest-get-time\",\"id\":\"t\"}{\"execute\":\"nope\"}\
{\"execute\":\"guest-get-osinfo\"}{\"execute\":\"guest-network-get-interfaces\"}\
{\"execute\":\"guest-file-open\",\"arguments\":{\"path\":\"/tmp/x\",\"mode\":\"w+\"}}";

#[test]
fn byte_at_a_time_input_and_output_match_single_chunk_run() {
    let mut whole = Harness::mock();
    let expected = whole.exchange(CONVERSATION);
    assert!(parse_replies(&expected).len() >= 9);
    for (reads, budget) in [
        (&[1usize][..], &[1usize][..]),
        (&[1], &[0, 1, 0, 7]),
        (&[3, 1, 64], &[5, 0, 300]),
    ] {
        let mut h = Harness::mock();
        h.serial = MockSerial::new()
            .with_read_chunks(reads)
            .with_tx_budget(budget);
        let got = h.exchange(CONVERSATION);
        assert_eq!(got, expected, "reads {reads:?} budget {budget:?}");
    }
}

#[test]
fn readiness_stalls_lose_nothing() {
    let mut whole = Harness::mock();
    let expected = whole.exchange(CONVERSATION);
    let mut h = Harness::mock();
    h.serial.read_stall = 50;
    h.serial.write_stall = 50;
    h.send(CONVERSATION);
    h.drive();
    assert_eq!(h.serial.output, expected);
}

// ---- limits -------------------------------------------------------------

#[test]
fn too_deep_request_gets_one_error_and_stream_stays_in_sync() {
    let mut h = Harness::with_config(AgentConfig {
        max_depth: 4,
        ..Default::default()
    });
    let o = out(
        &mut h,
        b"{\"execute\":\"guest-ping\",\"id\":[[[[[1]]]]]}{\"execute\":\"guest-ping\",\"id\":1}",
    );
    assert_eq!(
        o,
        generic("JSON nesting depth limit exceeded") + "{\"return\": {}, \"id\": 1}\n"
    );
    // Exactly at the limit is fine: 1 object + 3 arrays.
    assert_eq!(
        out(&mut h, br#"{"execute":"guest-ping","id":[[[1]]]}"#),
        "{\"return\": {}, \"id\": [[[1]]]}\n"
    );
    assert!(h.events.contains(&Event::Limit(Limit::Depth)));
}

#[test]
fn depth_1024_like_qemu_is_accepted_by_default() {
    let mut h = Harness::medium();
    let id = format!("{}1{}", "[".repeat(1023), "]".repeat(1023));
    let r = h.request(&format!(r#"{{"execute":"guest-ping","id":{id}}}"#));
    assert_eq!(r.len(), 1);
    assert!(r[0].get("return").is_some());
    let id = format!("{}1{}", "[".repeat(1024), "]".repeat(1024));
    let r = h.request(&format!(
        r#"{{"execute":"guest-ping","id":{id}}}{{"execute":"guest-ping"}}"#
    ));
    assert_eq!(r.len(), 2);
    assert_eq!(
        error_of(&r[0]).unwrap().1,
        "JSON nesting depth limit exceeded"
    );
    assert!(r[1].get("return").is_some());
}

#[test]
fn oversized_request_gets_one_error_and_stream_stays_in_sync() {
    let mut h = Harness::mock();
    let big = format!(
        r#"{{"execute":"guest-ping","id":"{}"}}"#,
        "x".repeat(10_000)
    );
    let r = h.request(&format!("{big}{{\"execute\":\"guest-ping\",\"id\":2}}"));
    assert_eq!(r.len(), 2, "{r:?}");
    let (class, desc) = error_of(&r[0]).unwrap();
    assert_eq!(class, "GenericError");
    assert!(desc.starts_with("JSON token size limit exceeded"), "{desc}");
    assert!(desc.contains("4096"), "{desc}");
    assert_eq!(r[1]["id"], 2);
}

#[test]
fn oversized_request_split_in_bytes_also_stays_in_sync() {
    let mut h = Harness::mock();
    h.serial = MockSerial::new().with_read_chunks(&[1, 7, 100]);
    let big = format!(
        r#"{{"execute":"guest-ping","id":["{}",{{"a":"}}]}}"}}]}}"#,
        "y".repeat(9000)
    );
    let r = h.request(&format!("{big}{{\"execute\":\"guest-ping\",\"id\":3}}"));
    assert_eq!(r.len(), 2, "{r:?}");
    assert_eq!(r[1]["id"], 3);
}

#[test]
fn large_id_streams_through_small_reply_buffer() {
    // The reply buffer is 1 KiB; the id is 3 KiB and must come back whole.
    let mut h = Harness::mock();
    let id = "z".repeat(3000);
    let r = h.call(&format!(r#"{{"execute":"guest-nope","id":"{id}"}}"#));
    assert_eq!(r["id"], id.as_str());
    let r = h.call(&format!(r#"{{"execute":"guest-ping","id":"{id}"}}"#));
    assert_eq!(r["id"], id.as_str());
}

#[test]
fn long_command_name_in_error_streams_through_small_reply_buffer() {
    let mut h = Harness::mock();
    let name = format!("guest-{}", "\u{e9}".repeat(1000));
    let (class, desc) = h.err(&format!(r#"{{"execute":"{name}"}}"#));
    assert_eq!(class, "CommandNotFound");
    assert_eq!(desc, format!("The command {name} has not been found"));
}
