//! guest-fsfreeze-*, guest-fstrim, guest-set-vcpus, guest-set-memory-blocks,
//! guest-set-user-password.
//!
//! The agent keeps the frozen flag itself (qemu-ga reports its own flag, not
//! the kernel's): `guest-fsfreeze-status` answers `"thawed"` until a board
//! hook has frozen something. While frozen, every command but the freeze
//! allow-list is disabled, as in qemu-ga.

use core::ops::ControlFlow;

use super::{Body, Ctx};
use crate::base64;
use crate::error::{HookError, QgaError};
use crate::json::walk::{Elements, Kind, Members, kind_at, str_eq};
use crate::platform::{MemoryBlockResponse, StrList, TrimResult};

fn hook_error(e: HookError, what: &'static str) -> QgaError {
    e.into_qga(QgaError::generic(what))
}

/// `guest-fsfreeze-status`.
pub(super) fn fsfreeze_status(ctx: &mut Ctx<'_, '_>) -> Result<Body, QgaError> {
    ctx.out.str(if ctx.state.frozen {
        "\"frozen\""
    } else {
        "\"thawed\""
    });
    Ok(Body::Rendered)
}

/// `guest-fsfreeze-freeze` and `guest-fsfreeze-freeze-list`.
pub(super) fn fsfreeze_freeze(ctx: &mut Ctx<'_, '_>) -> Result<Body, QgaError> {
    let list = StrList::new(ctx.rx, ctx.args.get(0));
    let n = ctx
        .platform
        .fsfreeze_freeze(&list)
        .map_err(|e| hook_error(e, "failed to freeze"))?;
    // Nothing frozen leaves the state thawed (qemu-ga does the same).
    ctx.state.frozen = n > 0;
    ctx.out.i64(n);
    Ok(Body::Rendered)
}

/// `guest-fsfreeze-thaw`.
pub(super) fn fsfreeze_thaw(ctx: &mut Ctx<'_, '_>) -> Result<Body, QgaError> {
    let n = ctx
        .platform
        .fsfreeze_thaw()
        .map_err(|e| hook_error(e, "failed to thaw"))?;
    ctx.state.frozen = false;
    ctx.out.i64(n);
    Ok(Body::Rendered)
}

/// `guest-fstrim`: `{"paths": [...]}`. Results are written as the board
/// reports them; results beyond the free reply space are left out.
pub(super) fn fstrim(ctx: &mut Ctx<'_, '_>) -> Result<Body, QgaError> {
    let minimum = ctx.int(0);
    let out = &mut ctx.out;
    out.str("{\"paths\": [");
    let mut first = true;
    ctx.platform
        .fstrim(minimum, &mut |r: &TrimResult<'_>| {
            let mark = out.len();
            if !first {
                out.str(", ");
            }
            out.str("{");
            if let Some(m) = r.minimum {
                out.str("\"minimum\": ");
                out.i64(m);
                out.str(", ");
            }
            out.str("\"path\": ");
            out.quoted(r.path.as_bytes());
            if let Some(t) = r.trimmed {
                out.str(", \"trimmed\": ");
                out.i64(t);
            }
            if let Some(e) = r.error {
                out.str(", \"error\": ");
                out.quoted(e.as_bytes());
            }
            out.str("}");
            // Keep room for the closing brackets.
            if out.ok() && out.remaining() >= 2 {
                first = false;
                ControlFlow::Continue(())
            } else {
                out.truncate(mark);
                ControlFlow::Break(())
            }
        })
        .map_err(|e| hook_error(e, "failed to trim"))?;
    out.str("]}");
    Ok(Body::Rendered)
}

/// Reads the `(id, online)` of a `GuestLogicalProcessor` / `GuestMemoryBlock`
/// element (already validated).
fn element(rx: &[u8], elem: &core::ops::Range<usize>, id_name: &str) -> (i64, u64, bool) {
    let mut id = (0i64, 0u64);
    let mut online = false;
    for (k, v) in Members::new(rx, elem.start) {
        if str_eq(rx, k.clone(), id_name.as_bytes()) {
            id = match kind_at(rx, v.start) {
                Kind::Int(i) => (i, i.cast_unsigned()),
                Kind::Uint(u) => (i64::try_from(u).unwrap_or(i64::MAX), u),
                _ => id,
            };
        } else if str_eq(rx, k, b"online") {
            online = kind_at(rx, v.start) == Kind::Bool(true);
        }
    }
    (id.0, id.1, online)
}

/// `guest-set-vcpus`: the number of leading entries processed; an error
/// only when the first entry fails (qemu-ga's semantics).
pub(super) fn set_vcpus(ctx: &mut Ctx<'_, '_>) -> Result<Body, QgaError> {
    let list = ctx.args.get(0).map(|r| r.start).unwrap_or(0);
    let mut processed: i64 = 0;
    for elem in Elements::new(ctx.rx, list) {
        let (id, _, online) = element(ctx.rx, &elem, "logical-id");
        match ctx.platform.set_vcpu(id, online) {
            Ok(()) => processed = processed.saturating_add(1),
            Err(e) if processed == 0 => return Err(hook_error(e, "failed to set vCPU state")),
            Err(_) => break,
        }
    }
    ctx.out.i64(processed);
    Ok(Body::Rendered)
}

/// `guest-set-memory-blocks`: one response per entry, in order. Responses
/// beyond the free reply space stop the processing (the client sees a
/// shorter list, as when qemu-ga stops early).
pub(super) fn set_memory_blocks(ctx: &mut Ctx<'_, '_>) -> Result<Body, QgaError> {
    let list = ctx.args.get(0).map(|r| r.start).unwrap_or(0);
    let out = &mut ctx.out;
    out.str("[");
    let mut first = true;
    for elem in Elements::new(ctx.rx, list) {
        let (_, index, online) = element(ctx.rx, &elem, "phys-index");
        let resp = match ctx.platform.set_memory_block(index, online) {
            Ok(r) => r,
            Err(e) if first => return Err(hook_error(e, "failed to set memory block state")),
            Err(_) => MemoryBlockResponse::OperationFailed(None),
        };
        let mark = out.len();
        if !first {
            out.str(", ");
        }
        out.str("{\"response\": ");
        let (text, code) = match resp {
            MemoryBlockResponse::Success => ("\"success\"", None),
            MemoryBlockResponse::NotFound => ("\"not-found\"", None),
            MemoryBlockResponse::OperationNotSupported => ("\"operation-not-supported\"", None),
            MemoryBlockResponse::OperationFailed(c) => ("\"operation-failed\"", c),
        };
        out.str(text);
        if let Some(c) = code {
            out.str(", \"error-code\": ");
            out.i64(c);
        }
        out.str(", \"phys-index\": ");
        out.u64(index);
        out.str("}");
        if !out.ok() || out.remaining() < 1 {
            out.truncate(mark);
            break;
        }
        first = false;
    }
    out.str("]");
    Ok(Body::Rendered)
}

/// `guest-set-user-password`.
pub(super) fn set_user_password(ctx: &mut Ctx<'_, '_>) -> Result<Body, QgaError> {
    let crypted = ctx.bool(2).unwrap_or(false);
    let user = ctx.decode(0).unwrap_or(0..0);
    let pw = ctx.decode(1).unwrap_or(0..0);
    let data = ctx.rx.get_mut(pw.clone()).unwrap_or(&mut []);
    if !base64::validate(data) {
        return Err(QgaError::generic("Base64 data contains invalid characters"));
    }
    let n = base64::decode_in_place(data);
    let rx: &[u8] = ctx.rx;
    let password = rx.get(pw.start..pw.start.saturating_add(n)).unwrap_or(&[]);
    if !crypted && password.contains(&b'\n') {
        return Err(QgaError::generic("forbidden characters in raw password"));
    }
    let username = super::text(rx, &user);
    if username.contains(['\n', ':']) {
        return Err(QgaError::generic("forbidden characters in username"));
    }
    ctx.platform
        .set_user_password(username, password, crypted)
        .map_err(|e| hook_error(e, "failed to set password"))?;
    ctx.out.str("{}");
    Ok(Body::Rendered)
}
