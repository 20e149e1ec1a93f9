//! guest-exec and guest-exec-status.
//!
//! A program is started through the board's [`crate::platform::Programs`];
//! an unknown path fails at `guest-exec` time with qemu-ga's glib text. The
//! status slot keeps the exit status and the captured output until
//! `guest-exec-status` has reported `exited: true`: that report takes the
//! pid away at once (a second status call is `Invalid parameter 'pid'`, as
//! in qemu-ga), streams the output as base64 from the slot, and frees the
//! slot when the reply is written. `exitcode`/`signal`, `out-data`/
//! `err-data` and the `*-truncated` flags appear as in qemu-ga 7.2.22: data
//! only when non-empty, each flag beside its data. `capture-output` takes
//! qemu-ga 8.1's forms: a boolean, or `none`, `stdout`, `stderr`,
//! `separated`, `merged`.

use super::{Call, Outcome, Progress, command, text, unsupported};
use crate::args::{StrListArg, Text};
use crate::arguments;
use crate::base64;
use crate::error::{Errno, HookError, QgaError};
use crate::json::out::Out;
use crate::platform::{CaptureMode, ExecRequest, ExecStatus, Platform, StrList};
use crate::state::SlotState;

arguments! {
    /// `guest-exec`.
    pub struct ExecArgs {
        /// The program.
        path: Text = "path",
        /// Its arguments.
        arg: Option<StrListArg> = "arg",
        /// Its whole environment.
        env: Option<StrListArg> = "env",
        /// Its standard input, base64.
        input_data: Option<Text> = "input-data",
        /// What to capture.
        capture_output: Option<CaptureMode> = "capture-output",
    }
}

arguments! {
    /// `guest-exec-status`.
    pub struct StatusArgs {
        /// The pid `guest-exec` returned.
        pid: i64 = "pid",
    }
}

command!(
    /// `guest-exec`: `{"pid": n}`.
    GUEST_EXEC = "guest-exec", ExecArgs, exec
);
command!(
    /// `guest-exec-status`.
    GUEST_EXEC_STATUS = "guest-exec-status", StatusArgs, status
);

const COMMAND_FAILED: &str = "Guest agent command failed, error was '";

fn spawn_failed(err: &mut QgaError, path: core::ops::Range<usize>, e: Errno) {
    // glib's g_spawn message inside qemu-ga's QERR_QGA_COMMAND_FAILED.
    err.generic(COMMAND_FAILED)
        .lit("Failed to execute child process “")
        .req(path)
        .lit("” (");
    match e.text() {
        Some(t) => err.lit(t),
        None => err.lit("Unknown error ").int(i64::from(e.0)),
    }
    .lit(")'");
}

fn exec<P: Platform>(call: &mut Call<'_, '_, P>, args: ExecArgs) -> Outcome {
    // A reply that streamed a report and was abandoned left its slot.
    call.state.execs.reap_reported();
    let path = call.decode(&args.path);
    // input-data: JSON string, then base64, both decoded in place.
    let input = match &args.input_data {
        Some(t) => {
            let r = call.decode(t);
            let data = call.rx.get_mut(r.clone()).unwrap_or(&mut []);
            if !base64::validate(data) {
                call.err.generic("Base64 data contains invalid characters");
                return Outcome::Failed;
            }
            let n = base64::decode_in_place(data);
            r.start..r.start.wrapping_add(n)
        }
        None => 0..0,
    };
    let capture = args.capture_output.unwrap_or_default();
    let rx: &[u8] = call.rx;
    let Some(programs) = call.platform.programs() else {
        return unsupported(call.err);
    };
    let execs = &mut call.state.execs;
    let Some(slot) = execs.free_slot() else {
        call.err
            .generic(COMMAND_FAILED)
            .lit(Errno::EAGAIN.text().unwrap_or(""))
            .lit("'");
        return Outcome::Failed;
    };
    let req = ExecRequest {
        path: text(rx, &path),
        args: StrList::new(rx, args.arg.map(|a| a.span())),
        env: StrList::new(rx, args.env.map(|a| a.span())),
        input: rx.get(input).unwrap_or(&[]),
        capture,
    };
    let Some((program_state, mut io)) = execs.begin(slot, capture) else {
        call.err.generic("Guest agent command failed");
        return Outcome::Failed;
    };
    let status = match programs.start(&req, program_state, &mut io) {
        Ok(s) => s,
        Err(e) => {
            execs.free(slot);
            match e {
                HookError::Errno(e) => spawn_failed(call.err, path, e),
                other => {
                    call.err.failed(other, "Guest agent command failed");
                }
            }
            return Outcome::Failed;
        }
    };
    let pid = execs.started(slot, status);
    call.out.str("{\"pid\": ");
    call.out.i64(pid);
    call.out.str("}");
    Outcome::Done
}

fn status<P: Platform>(call: &mut Call<'_, '_, P>, args: StatusArgs) -> Outcome {
    call.state.execs.reap_reported();
    let Some(slot) = call.state.execs.find(args.pid) else {
        return invalid_pid(call.err);
    };
    // Give a running program one more step first, so a client polling in a
    // loop sees progress even when the board polls rarely.
    if let Some(p) = call.platform.programs() {
        call.state.execs.step(slot, p);
    }
    let Some(s) = call.state.execs.slot_mut(slot) else {
        return invalid_pid(call.err);
    };
    let SlotState::Done(st) = s.state else {
        call.out.str("{\"exited\": false}");
        return Outcome::Done;
    };
    s.state = SlotState::Reaping(st);
    let mut progress = Progress::ExecStatus(StatusProgress {
        slot: u16::try_from(slot).unwrap_or(u16::MAX),
        part: Part::Head,
        offset: 0,
    });
    if status_step(call, &mut progress) {
        Outcome::Done
    } else {
        call.more(status_step, progress)
    }
}

fn invalid_pid(err: &mut QgaError) -> Outcome {
    err.generic("Invalid parameter 'pid'");
    Outcome::Failed
}

/// The parts of an exit report, in qemu-ga's key order: exitcode, err-data,
/// out-data, err-truncated, signal, out-truncated, exited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    /// `{` and `exitcode`.
    Head,
    /// `err-data`.
    ErrData,
    /// `out-data`.
    OutData,
    /// The flags, `signal`, `exited` and `}`.
    Tail,
    /// Written.
    Done,
}

/// Progress through an exit report.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StatusProgress {
    slot: u16,
    part: Part,
    /// Bytes of the current data stream already encoded.
    offset: u32,
}

fn status_step<P: Platform>(call: &mut Call<'_, '_, P>, progress: &mut Progress<P>) -> bool {
    let Progress::ExecStatus(rep) = progress else {
        return true;
    };
    let slot = usize::from(rep.slot);
    let execs = &mut call.state.execs;
    let Some(s) = execs.slot(slot) else {
        return true;
    };
    let status = match s.state {
        SlotState::Reaping(st) => st,
        _ => ExecStatus::Exited(0),
    };
    let (out_trunc, err_trunc) = (s.out_truncated, s.err_truncated);
    let (out_data, err_data) = execs.captured(slot);
    let out = &mut call.out;
    loop {
        let mark = out.len();
        let next = match rep.part {
            Part::Head => {
                out.str("{");
                if let ExecStatus::Exited(code) = status {
                    out.str("\"exitcode\": ");
                    out.i64(i64::from(code));
                    out.str(", ");
                }
                Part::ErrData
            }
            Part::ErrData | Part::OutData => {
                let (data, key, next) = if rep.part == Part::ErrData {
                    (err_data, "\"err-data\": \"", Part::OutData)
                } else {
                    (out_data, "\"out-data\": \"", Part::Tail)
                };
                if !data.is_empty() {
                    if rep.offset == 0 {
                        out.str(key);
                        if !out.ok() {
                            out.truncate(mark);
                            return false;
                        }
                    }
                    if !stream_b64(data, &mut rep.offset, out) {
                        return false;
                    }
                    out.str("\", ");
                }
                next
            }
            Part::Tail => {
                if !err_data.is_empty() {
                    out.str("\"err-truncated\": ");
                    out.bool(err_trunc);
                    out.str(", ");
                }
                if let ExecStatus::Signaled(sig) = status {
                    out.str("\"signal\": ");
                    out.i64(i64::from(sig));
                    out.str(", ");
                }
                if !out_data.is_empty() {
                    out.str("\"out-truncated\": ");
                    out.bool(out_trunc);
                    out.str(", ");
                }
                out.str("\"exited\": true}");
                Part::Done
            }
            Part::Done => break,
        };
        if !out.ok() {
            out.truncate(mark);
            return false;
        }
        rep.part = next;
        rep.offset = 0;
    }
    execs.free(slot);
    true
}

/// Encodes `data[offset..]` in 3-byte-aligned pieces while they fit.
/// Returns true once all of it is written (the closing quote is the
/// caller's).
fn stream_b64(data: &[u8], offset: &mut u32, out: &mut Out<'_>) -> bool {
    loop {
        let at = *offset as usize;
        let rest = data.get(at..).unwrap_or(&[]);
        if rest.is_empty() {
            return true;
        }
        let room = (out.remaining() / 4).saturating_mul(3);
        let n = if rest.len() <= room {
            rest.len()
        } else {
            (room / 3).saturating_mul(3)
        };
        if n == 0 {
            return false;
        }
        let enc = base64::encode(rest.get(..n).unwrap_or(&[]), out.spare()).unwrap_or(0);
        out.advance(enc);
        *offset = u32::try_from(at.wrapping_add(n)).unwrap_or(u32::MAX);
    }
}
