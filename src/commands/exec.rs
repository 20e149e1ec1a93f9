//! guest-exec and guest-exec-status.
//!
//! A program is started through the board's [`crate::platform::Programs`];
//! an unknown path fails at `guest-exec` time with qemu-ga's glib text. The
//! status slot keeps the exit status and the captured output until
//! `guest-exec-status` has reported `exited: true`; that reply streams the
//! output as base64 from the slot, and the slot is freed once it is written.
//! `exitcode`/`signal`, `out-data`/`err-data` and the `*-truncated` flags
//! appear as in qemu-ga 7.2.22: data only when non-empty, each flag beside
//! its data.

use super::{Body, Ctx};
use crate::base64;
use crate::error::{Errno, HookError, QgaError};
use crate::json::out::Out;
use crate::platform::{ExecRequest, ExecStatus, StrList};
use crate::state::SlotState;

fn spawn_failed(path: core::ops::Range<usize>, e: Errno) -> QgaError {
    // glib's g_spawn message inside qemu-ga's QERR_QGA_COMMAND_FAILED.
    let base = QgaError::generic(
        "Guest agent command failed, error was 'Failed to execute child process “",
    )
    .req(path)
    .lit("” (");
    match e.text() {
        Some(t) => base.lit(t),
        None => base.lit("Unknown error ").int(i64::from(e.0)),
    }
    .lit(")'")
}

/// `guest-exec`.
pub(super) fn exec(ctx: &mut Ctx<'_, '_>) -> Result<Body, QgaError> {
    let path = ctx.decode(0).unwrap_or(0..0);
    // input-data: JSON string, then base64, both decoded in place.
    let input = match ctx.decode(3) {
        Some(r) => {
            let data = ctx.rx.get_mut(r.clone()).unwrap_or(&mut []);
            if !base64::validate(data) {
                return Err(QgaError::generic("Base64 data contains invalid characters"));
            }
            let n = base64::decode_in_place(data);
            r.start..r.start.saturating_add(n)
        }
        None => 0..0,
    };
    let capture = ctx.bool(4).unwrap_or(false);
    let (args, env) = (ctx.args.get(1), ctx.args.get(2));
    let Ctx {
        rx,
        platform,
        state,
        out,
        ..
    } = ctx;
    let rx: &[u8] = rx;
    let programs = platform.programs().ok_or_else(QgaError::unsupported)?;
    let Some(slot) = state.execs.free_slot() else {
        return Err(QgaError::generic("Guest agent command failed, error was '")
            .lit(Errno::EAGAIN.text().unwrap_or(""))
            .lit("'"));
    };
    let req = ExecRequest {
        path: super::text(rx, &path),
        args: StrList::new(rx, args),
        env: StrList::new(rx, env),
        input: rx.get(input).unwrap_or(&[]),
        capture,
    };
    let Some((program_state, mut io)) = state.execs.begin(slot, capture) else {
        return Err(QgaError::generic("Guest agent command failed"));
    };
    let status = match programs.start(&req, program_state, &mut io) {
        Ok(s) => s,
        Err(e) => {
            state.execs.free(slot);
            return Err(match e {
                HookError::Errno(e) => spawn_failed(path, e),
                other => other.into_qga(QgaError::generic("Guest agent command failed")),
            });
        }
    };
    let pid = state.execs.started(slot, status);
    out.str("{\"pid\": ");
    out.i64(pid);
    out.str("}");
    Ok(Body::Rendered)
}

/// `guest-exec-status`.
pub(super) fn status(ctx: &mut Ctx<'_, '_>) -> Result<Body, QgaError> {
    let pid = ctx.int(0).unwrap_or(0);
    let Some(slot) = ctx.state.execs.find(pid) else {
        return Err(QgaError::generic("Invalid parameter 'pid'"));
    };
    // Give a running program one more step first, so a client polling in a
    // loop sees progress even when the board polls rarely.
    if let Some(p) = ctx.platform.programs() {
        ctx.state.execs.step(slot, p);
    }
    let Some(s) = ctx.state.execs.slot_mut(slot) else {
        return Err(QgaError::generic("Invalid parameter 'pid'"));
    };
    match s.state {
        SlotState::Done(st) => {
            s.state = SlotState::Reaping(st);
            Ok(Body::ExecStatus {
                slot: u16::try_from(slot).unwrap_or(u16::MAX),
            })
        }
        _ => {
            ctx.out.str("{\"exited\": false}");
            Ok(Body::Rendered)
        }
    }
}

/// Progress through an exit report: which part comes next.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ExecReport {
    part: u8,
    offset: u32,
}

/// Writes the `guest-exec-status` value of an exited program while it fits;
/// returns true once complete. Order as qemu-ga serialises it: exitcode,
/// err-data, out-data, err-truncated, signal, out-truncated, exited.
pub(crate) fn render_exec_status(
    rep: &mut ExecReport,
    status: ExecStatus,
    out_data: &[u8],
    err_data: &[u8],
    out_trunc: bool,
    err_trunc: bool,
    out: &mut Out<'_>,
) -> bool {
    loop {
        let mark = out.len();
        match rep.part {
            0 => {
                out.str("{");
                if let ExecStatus::Exited(code) = status {
                    out.str("\"exitcode\": ");
                    out.i64(i64::from(code));
                    out.str(", ");
                }
            }
            1 | 3 => {
                let data = if rep.part == 1 { err_data } else { out_data };
                if !data.is_empty() {
                    if rep.offset == 0 {
                        out.str(if rep.part == 1 {
                            "\"err-data\": \""
                        } else {
                            "\"out-data\": \""
                        });
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
            }
            2 => {}
            4 => {
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
            }
            _ => return true,
        }
        if !out.ok() {
            out.truncate(mark);
            return false;
        }
        rep.part = rep.part.saturating_add(1);
        rep.offset = 0;
    }
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
        *offset = u32::try_from(at.saturating_add(n)).unwrap_or(u32::MAX);
    }
}
