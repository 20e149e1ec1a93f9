//! guest-shutdown, guest-suspend-disk, -ram, -hybrid.
//!
//! None of them answers on success (qemu-ga's `success-response: false`);
//! the agent runs them only once every earlier reply has been handed to
//! the transport, so the board may power off right away.

use super::{Call, Flow, command, failed};
use crate::args::{NoArgs, Text};
use crate::arguments;
use crate::error::QgaError;
use crate::platform::{ShutdownMode, SuspendMode};

arguments! {
    /// `guest-shutdown`.
    pub struct ShutdownArgs {
        /// `powerdown` (the default), `halt` or `reboot`.
        mode: Option<Text> = "mode",
    }
}

command!(
    /// `guest-shutdown`.
    GUEST_SHUTDOWN = "guest-shutdown", ShutdownArgs, shutdown, SILENT
);
command!(
    /// `guest-suspend-disk`.
    GUEST_SUSPEND_DISK = "guest-suspend-disk", NoArgs, suspend_disk, SILENT
);
command!(
    /// `guest-suspend-ram`.
    GUEST_SUSPEND_RAM = "guest-suspend-ram", NoArgs, suspend_ram, SILENT
);
command!(
    /// `guest-suspend-hybrid`.
    GUEST_SUSPEND_HYBRID = "guest-suspend-hybrid", NoArgs, suspend_hybrid, SILENT
);

fn shutdown(call: &mut Call<'_, '_>, args: ShutdownArgs) -> Result<Flow, QgaError> {
    let mode = match &args.mode {
        None => ShutdownMode::Powerdown,
        Some(t) => {
            let r = call.decode(t);
            match call.rx.get(r) {
                Some(b"powerdown") => ShutdownMode::Powerdown,
                Some(b"halt") => ShutdownMode::Halt,
                Some(b"reboot") => ShutdownMode::Reboot,
                // qemu-ga's text, unbalanced parenthesis included.
                _ => {
                    return Err(QgaError::generic(
                        "mode is invalid (valid values are: halt|powerdown|reboot",
                    ));
                }
            }
        }
    };
    let power = call.platform.power().ok_or_else(QgaError::unsupported)?;
    power
        .shutdown(mode)
        .map_err(|e| failed(e, "child process has failed to shutdown"))?;
    Ok(Flow::NoReply)
}

fn suspend(call: &mut Call<'_, '_>, mode: SuspendMode) -> Result<Flow, QgaError> {
    let power = call.platform.power().ok_or_else(QgaError::unsupported)?;
    power
        .suspend(mode)
        .map_err(|e| failed(e, "failed to suspend"))?;
    Ok(Flow::NoReply)
}

fn suspend_disk(call: &mut Call<'_, '_>, _: NoArgs) -> Result<Flow, QgaError> {
    suspend(call, SuspendMode::Disk)
}

fn suspend_ram(call: &mut Call<'_, '_>, _: NoArgs) -> Result<Flow, QgaError> {
    suspend(call, SuspendMode::Ram)
}

fn suspend_hybrid(call: &mut Call<'_, '_>, _: NoArgs) -> Result<Flow, QgaError> {
    suspend(call, SuspendMode::Hybrid)
}
