//! An independent client: the `qapi` crate (feature `qga`) talking to
//! `nanoqga-host` over a unix socket, exactly as a Rust host tool would.
//! The same calls run against the reference qemu-ga when it is installed,
//! so the test itself is checked against the real agent.

use std::os::unix::net::UnixStream;
use std::time::Duration;

use nanoqga_tests_host::process::{Proc, QEMU_GA, spawn_host, spawn_qemu_ga};
use nanoqga_tests_host::require_tool;
use qapi::{Qga, qga};

const BIN: &str = env!("CARGO_BIN_EXE_nanoqga-host-test");

fn connect(p: &Proc) -> UnixStream {
    let c = p.connect();
    c.stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    c.stream
}

fn core_calls(stream: &UnixStream) -> String {
    let mut q = Qga::from_stream(stream);
    q.guest_sync(0x1234).expect("guest-sync handshake");
    q.execute(&qga::guest_ping {}).expect("ping");
    let info = q.execute(&qga::guest_info {}).expect("info");
    assert!(
        info.supported_commands
            .iter()
            .any(|c| c.name == "guest-sync-delimited" && c.enabled)
    );
    assert!(
        info.supported_commands
            .iter()
            .all(|c| (c.name == "guest-shutdown") != c.success_response
                || !c.name.contains("shutdown"))
    );
    let t = q.execute(&qga::guest_get_time {}).expect("time");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64;
    assert!(
        (t - now).abs() < 60_000_000_000,
        "clock off by {} ns",
        t - now
    );
    // An error reply parses into the crate's error type.
    let e = q
        .execute(&qga::guest_exec_status { pid: 0 })
        .expect_err("pid 0");
    assert!(format!("{e}").contains("Invalid parameter 'pid'"), "{e}");
    info.version
}

#[test]
fn qapi_client_core_commands_against_nanoqga_host() {
    let p = spawn_host(BIN, &[]);
    assert_eq!(core_calls(&connect(&p)), "7.2.0");
}

#[test]
fn qapi_client_core_commands_against_reference_qemu_ga() {
    if !require_tool(
        QEMU_GA,
        "apt-get install -y --no-install-recommends qemu-guest-agent",
    ) {
        return;
    }
    let p = spawn_qemu_ga("");
    assert!(core_calls(&connect(&p)).starts_with("7.2"));
}

#[test]
fn qapi_client_file_round_trip_is_byte_exact() {
    let p = spawn_host(BIN, &["--file-root", "."]);
    let data: Vec<u8> = (0..200_000u32).map(|i| (i ^ (i >> 7)) as u8).collect();
    std::fs::write(p.dir.path().join("in.bin"), &data).unwrap();
    let stream = connect(&p);
    let mut q = Qga::from_stream(&stream);
    q.guest_sync(1).unwrap();
    let h = q
        .execute(&qga::guest_file_open {
            path: "/in.bin".into(),
            mode: Some("rb".into()),
        })
        .unwrap();
    let mut got = Vec::new();
    loop {
        let r = q
            .execute(&qga::guest_file_read {
                handle: h,
                count: Some(65536),
            })
            .unwrap();
        assert_eq!(r.count as usize, r.buf_b64.len());
        got.extend(r.buf_b64);
        if r.eof {
            break;
        }
    }
    q.execute(&qga::guest_file_close { handle: h }).unwrap();
    assert_eq!(got, data);
    let w = q
        .execute(&qga::guest_file_open {
            path: "out.bin".into(),
            mode: Some("wb+".into()),
        })
        .unwrap();
    let r = q
        .execute(&qga::guest_file_write {
            handle: w,
            buf_b64: data[..70_000].to_vec(),
            count: None,
        })
        .unwrap();
    assert_eq!((r.count, r.eof), (70_000, false));
    let s = q
        .execute(&qga::guest_file_seek {
            handle: w,
            offset: 0,
            whence: qga::GuestFileWhence::name(qga::QGASeek::set),
        })
        .unwrap();
    assert_eq!((s.position, s.eof), (0, false));
    q.execute(&qga::guest_file_flush { handle: w }).unwrap();
    q.execute(&qga::guest_file_close { handle: w }).unwrap();
    assert_eq!(
        std::fs::read(p.dir.path().join("out.bin")).unwrap(),
        &data[..70_000]
    );
}

#[test]
fn qapi_client_runs_a_program() {
    let p = spawn_host(BIN, &[]);
    let stream = connect(&p);
    let mut q = Qga::from_stream(&stream);
    q.guest_sync(2).unwrap();
    let pid = q
        .execute(&qga::guest_exec {
            path: "/bin/cat".into(),
            arg: None,
            env: None,
            input_data: Some(b"piped through cat\n".to_vec()),
            capture_output: Some(qga::GuestExecCaptureOutput::flag(true)),
        })
        .unwrap()
        .pid;
    let status = loop {
        let s = q.execute(&qga::guest_exec_status { pid }).unwrap();
        if s.exited {
            break s;
        }
    };
    assert_eq!(status.exitcode, Some(0));
    assert_eq!(
        status.out_data.as_deref(),
        Some(&b"piped through cat\n"[..])
    );
    assert_eq!(status.out_truncated, Some(false));
}

#[test]
fn qapi_client_reads_system_information() {
    let p = spawn_host(BIN, &[]);
    let stream = connect(&p);
    let mut q = Qga::from_stream(&stream);
    q.guest_sync(3).unwrap();
    let os = q.execute(&qga::guest_get_osinfo {}).unwrap();
    assert!(os.kernel_release.is_some() && os.machine.is_some());
    let h = q.execute(&qga::guest_get_host_name {}).unwrap();
    assert!(!h.host_name.is_empty());
    let ifs = q.execute(&qga::guest_network_get_interfaces {}).unwrap();
    assert!(ifs.iter().any(|i| i.name == "lo"));
    q.execute(&qga::guest_get_timezone {}).unwrap();
    q.execute(&qga::guest_get_users {}).unwrap();
    q.execute(&qga::guest_get_vcpus {}).unwrap();
    q.execute(&qga::guest_get_fsinfo {}).unwrap();
}
