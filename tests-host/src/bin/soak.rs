//! Soak: a million mixed requests over the host socket, then checks that
//! resident memory and the handle and exec tables are where they started.
//!
//! Run: `cargo run --release -p nanoqga-tests-host --bin soak [-- REQUESTS]`
//!
//! The mix: pings, syncs with fresh ids (checked), clock reads, guest-info,
//! file sessions (open, write, seek, read back and compare, close),
//! guest-exec of `/bin/echo` with its status, unknown commands, bad
//! arguments, and now and then garbage followed by the 0xFF +
//! `guest-sync-delimited` resync. Every reply is checked.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nanoqga_tests_host::process::TempDir;
use nanoqga_tests_host::process::rss_kb;
use nanoqga_tests_host::{b64decode, b64encode};
use serde_json::Value;

struct Conn {
    w: UnixStream,
    r: BufReader<UnixStream>,
    sent: u64,
}

impl Conn {
    fn call(&mut self, req: &str) -> Value {
        self.w.write_all(req.as_bytes()).expect("send");
        self.w.write_all(b"\n").expect("send");
        self.sent += 1;
        self.line()
    }

    fn line(&mut self) -> Value {
        let mut line = Vec::new();
        self.r.read_until(b'\n', &mut line).expect("read");
        assert!(!line.is_empty(), "agent closed the connection");
        let start = usize::from(line[0] == 0xFF);
        serde_json::from_slice(&line[start..]).expect("reply is JSON")
    }

    fn ok(&mut self, req: &str) -> Value {
        let r = self.call(req);
        r.get("return")
            .cloned()
            .unwrap_or_else(|| panic!("{req} failed: {r}"))
    }

    fn err(&mut self, req: &str) {
        let r = self.call(req);
        assert!(r.get("error").is_some(), "{req} did not fail: {r}");
    }

    fn resync(&mut self, id: i64) {
        self.w
            .write_all("\u{0}garbage{\"x\":[".as_bytes())
            .expect("send");
        self.w.write_all(b"\xff\xff").expect("send");
        self.w
            .write_all(
                format!(r#"{{"execute":"guest-sync-delimited","arguments":{{"id":{id}}}}}"#)
                    .as_bytes(),
            )
            .expect("send");
        self.sent += 1;
        loop {
            let v = self.line();
            if v.get("return").and_then(Value::as_i64) == Some(id) {
                return;
            }
        }
    }
}

/// Opens as many files as the agent allows, checks the count, closes them.
fn handle_table(c: &mut Conn) -> usize {
    let mut handles = Vec::new();
    loop {
        let r = c.call(&format!(
            r#"{{"execute":"guest-file-open","arguments":{{"path":"/t{}","mode":"w"}}}}"#,
            handles.len()
        ));
        match r.get("return").and_then(Value::as_i64) {
            Some(h) => handles.push(h),
            None => break,
        }
        assert!(handles.len() <= 10_000, "handle table without bound");
    }
    for h in &handles {
        c.ok(&format!(
            r#"{{"execute":"guest-file-close","arguments":{{"handle":{h}}}}}"#
        ));
    }
    handles.len()
}

/// Starts as many programs as the agent allows, checks the count, reaps them.
fn exec_table(c: &mut Conn) -> usize {
    let mut pids = Vec::new();
    loop {
        let r = c.call(
            r#"{"execute":"guest-exec","arguments":{"path":"/bin/cat","capture-output":true,"input-data":"eA=="}}"#,
        );
        match r["return"]["pid"].as_i64() {
            Some(p) => pids.push(p),
            None => break,
        }
        assert!(pids.len() <= 10_000, "exec table without bound");
    }
    for p in &pids {
        loop {
            let s = c.ok(&format!(
                r#"{{"execute":"guest-exec-status","arguments":{{"pid":{p}}}}}"#
            ));
            if s["exited"] == true {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    pids.len()
}

fn main() {
    let total: u64 = std::env::args()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = TempDir::new("soak");
    let socket = dir.path().join("qga.sock");
    let host = std::env::current_exe()
        .expect("exe")
        .with_file_name("nanoqga-host-test");
    let mut child = Command::new(&host)
        .arg("--unix")
        .arg(&socket)
        .arg("--file-root")
        .arg(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start nanoqga-host");
    let pid = child.id();
    let s = {
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            match UnixStream::connect(&socket) {
                Ok(s) => break s,
                Err(_) if Instant::now() < end => std::thread::sleep(Duration::from_millis(10)),
                Err(e) => panic!("connect: {e}"),
            }
        }
    };
    s.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let mut c = Conn {
        w: s.try_clone().expect("clone"),
        r: BufReader::new(s),
        sent: 0,
    };
    c.resync(1);
    let handles0 = handle_table(&mut c);
    let execs0 = exec_table(&mut c);
    // Warm up, then the baseline.
    for _ in 0..10_000 {
        c.ok(r#"{"execute":"guest-ping"}"#);
    }
    let (rss0, _) = rss_kb(pid);
    let t0 = Instant::now();
    let mut i: u64 = 0;
    let payload: Vec<u8> = (0..3000u32).map(|k| (k * 7 + 3) as u8).collect();
    let b64 = b64encode(&payload);
    while c.sent < total {
        i += 1;
        match i % 20 {
            0 => {
                let id = 1_000_000 + i as i64;
                assert_eq!(
                    c.ok(&format!(
                        r#"{{"execute":"guest-sync","arguments":{{"id":{id}}}}}"#
                    )),
                    id
                );
            }
            1 => {
                c.ok(r#"{"execute":"guest-get-time"}"#);
            }
            2 if i % 100 == 2 => {
                c.ok(r#"{"execute":"guest-info"}"#);
            }
            3 => {
                let h = c
                    .ok(r#"{"execute":"guest-file-open","arguments":{"path":"/soak.bin","mode":"w+"}}"#)
                    .as_i64()
                    .expect("handle");
                c.ok(&format!(
                    r#"{{"execute":"guest-file-write","arguments":{{"handle":{h},"buf-b64":"{b64}"}}}}"#
                ));
                c.ok(&format!(
                    r#"{{"execute":"guest-file-seek","arguments":{{"handle":{h},"offset":0,"whence":"set"}}}}"#
                ));
                let r = c.ok(&format!(
                    r#"{{"execute":"guest-file-read","arguments":{{"handle":{h},"count":4096}}}}"#
                ));
                assert_eq!(b64decode(r["buf-b64"].as_str().expect("buf")), payload);
                c.ok(&format!(
                    r#"{{"execute":"guest-file-close","arguments":{{"handle":{h}}}}}"#
                ));
            }
            4 if i % 100 == 4 => {
                let pid = c.ok(
                    r#"{"execute":"guest-exec","arguments":{"path":"/bin/echo","arg":["soak"],"capture-output":true}}"#,
                )["pid"]
                    .as_i64()
                    .expect("pid");
                loop {
                    let s = c.ok(&format!(
                        r#"{{"execute":"guest-exec-status","arguments":{{"pid":{pid}}}}}"#
                    ));
                    if s["exited"] == true {
                        assert_eq!(b64decode(s["out-data"].as_str().expect("out")), b"soak\n");
                        break;
                    }
                }
            }
            5 => c.err(r#"{"execute":"guest-no-such-thing"}"#),
            6 => c.err(r#"{"execute":"guest-file-read","arguments":{"handle":"x"}}"#),
            7 if i % 1000 == 7 => c.resync(2_000_000 + i as i64),
            _ => {
                c.ok(r#"{"execute":"guest-ping"}"#);
            }
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    let (rss1, hwm1) = rss_kb(pid);
    let handles1 = handle_table(&mut c);
    let execs1 = exec_table(&mut c);
    println!("# Soak\n");
    println!("| figure | value |\n|---|---|");
    println!("| requests | {} |", c.sent);
    println!(
        "| time | {secs:.1} s ({:.0} requests/s) |",
        c.sent as f64 / secs
    );
    println!("| VmRSS after warm-up / at the end | {rss0} kB / {rss1} kB |");
    println!("| VmHWM at the end | {hwm1} kB |");
    println!("| file handles available before / after | {handles0} / {handles1} |");
    println!("| exec slots available before / after | {execs0} / {execs1} |");
    let flat = handles0 == handles1 && execs0 == execs1 && rss1 <= rss0 + 512;
    println!("| verdict | {} |", if flat { "flat" } else { "NOT flat" });
    let _ = child.kill();
    let _ = child.wait();
    let _ = Path::new(&socket);
    if !flat {
        std::process::exit(1);
    }
}
