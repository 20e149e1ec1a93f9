//! guest-sync, guest-sync-delimited, guest-ping, guest-info, guest-get-time,
//! guest-set-time, guest-shutdown, guest-suspend-*.

use super::{Body, CommandId, Ctx};
use crate::error::{HookError, QgaError};
use crate::platform::{ShutdownMode, SuspendMode};

/// `guest-sync` and `guest-sync-delimited`: echo the int64 id. The 0xFF
/// sentinel of the delimited form is written by the reply writer, and only
/// on success.
pub(super) fn sync(ctx: &mut Ctx<'_, '_>) -> Result<Body, QgaError> {
    let id = ctx.int(0).unwrap_or(0);
    ctx.out.i64(id);
    Ok(Body::Rendered)
}

/// `guest-ping`: `{}`.
pub(super) fn ping(ctx: &mut Ctx<'_, '_>) -> Result<Body, QgaError> {
    ctx.out.str("{}");
    Ok(Body::Rendered)
}

/// `guest-info`: streamed over the command table.
pub(super) fn info(_ctx: &mut Ctx<'_, '_>) -> Result<Body, QgaError> {
    Ok(Body::Info)
}

/// `guest-get-time`: nanoseconds since the epoch.
pub(super) fn get_time(ctx: &mut Ctx<'_, '_>) -> Result<Body, QgaError> {
    let t = ctx
        .platform
        .now_ns()
        .map_err(|e| e.into_qga(QgaError::generic("failed to get time")))?;
    ctx.out.i64(t);
    Ok(Body::Rendered)
}

/// Checks a `guest-set-time` value as qemu-ga does before setting the clock:
/// the date must fall in the years 1970 to 2069. Boards call this from
/// [`crate::Platform::set_time`] once they know they can set the clock, so
/// that a board without a settable clock answers "not supported" first, as
/// qemu-ga without `hwclock` does.
pub fn check_settable_time(time_ns: i64) -> Result<(), HookError> {
    // 1970-01-01 .. 2070-01-01 in seconds.
    const END: i64 = 3_155_760_000;
    let secs = time_ns.div_euclid(1_000_000_000);
    if (0..END).contains(&secs) {
        Ok(())
    } else {
        Err(HookError::Message("Invalid time"))
    }
}

/// `guest-set-time`.
pub(super) fn set_time(ctx: &mut Ctx<'_, '_>) -> Result<Body, QgaError> {
    let time = ctx.int(0);
    ctx.platform
        .set_time(time)
        .map_err(|e| e.into_qga(QgaError::generic("Failed to set time to guest")))?;
    ctx.out.str("{}");
    Ok(Body::Rendered)
}

/// `guest-shutdown`: no reply on success.
pub(super) fn shutdown(ctx: &mut Ctx<'_, '_>) -> Result<Body, QgaError> {
    let mode = match ctx.decode(0) {
        None => ShutdownMode::Powerdown,
        Some(r) => match ctx.text(&r) {
            "powerdown" => ShutdownMode::Powerdown,
            "halt" => ShutdownMode::Halt,
            "reboot" => ShutdownMode::Reboot,
            // qemu-ga's text, unbalanced parenthesis included.
            _ => {
                return Err(QgaError::generic(
                    "mode is invalid (valid values are: halt|powerdown|reboot",
                ));
            }
        },
    };
    ctx.platform
        .shutdown(mode)
        .map_err(|e| e.into_qga(QgaError::generic("child process has failed to shutdown")))?;
    Ok(Body::NoReply)
}

/// `guest-suspend-disk`, `-ram`, `-hybrid`: no reply on success.
pub(super) fn suspend(ctx: &mut Ctx<'_, '_>) -> Result<Body, QgaError> {
    let mode = match ctx.id {
        CommandId::SuspendDisk => SuspendMode::Disk,
        CommandId::SuspendRam => SuspendMode::Ram,
        _ => SuspendMode::Hybrid,
    };
    // A board that has suspend machinery but not this mode answers
    // qemu-ga's "the requested suspend mode is not supported by the guest"
    // with `HookError::Message`.
    ctx.platform
        .suspend(mode)
        .map_err(|e| e.into_qga(QgaError::generic("failed to suspend")))?;
    Ok(Body::NoReply)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settable_time_is_years_1970_to_2069() {
        assert!(check_settable_time(0).is_ok());
        assert!(check_settable_time(1_795_904_065_870_159_000).is_ok());
        assert!(check_settable_time(-1).is_err());
        assert!(check_settable_time(3_155_760_000 * 1_000_000_000).is_err());
        assert!(check_settable_time(i64::MAX).is_err());
    }
}
