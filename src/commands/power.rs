//! guest-shutdown, guest-suspend-disk, -ram, -hybrid.
//!
//! None of them answers on success (qemu-ga's `success-response: false`);
//! the agent runs them only once every earlier reply has been handed to
//! the transport, so the board may power off right away.

use super::{Call, Outcome, command, failed, unsupported};
use crate::args::{NoArgs, Text};
use crate::arguments;
use crate::platform::{Platform, ShutdownMode, SuspendMode};

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

fn shutdown<P: Platform>(call: &mut Call<'_, '_, P>, args: ShutdownArgs) -> Outcome {
    const MODES: [(&[u8], ShutdownMode); 3] = [
        (b"powerdown", ShutdownMode::Powerdown),
        (b"halt", ShutdownMode::Halt),
        (b"reboot", ShutdownMode::Reboot),
    ];
    let mode = match &args.mode {
        None => ShutdownMode::Powerdown,
        Some(t) => {
            let r = call.decode(t);
            let text = call.rx.get(r).unwrap_or(&[]);
            match MODES.iter().find(|(name, _)| *name == text) {
                Some(&(_, mode)) => mode,
                // qemu-ga's text, unbalanced parenthesis included.
                None => {
                    call.err
                        .generic("mode is invalid (valid values are: halt|powerdown|reboot");
                    return Outcome::Failed;
                }
            }
        }
    };
    let Some(power) = call.platform.power() else {
        return unsupported(call.err);
    };
    match power.shutdown(mode) {
        Ok(()) => Outcome::NoReply,
        Err(e) => failed(call.err, e, "child process has failed to shutdown"),
    }
}

fn suspend<P: Platform>(call: &mut Call<'_, '_, P>, mode: SuspendMode) -> Outcome {
    let Some(power) = call.platform.power() else {
        return unsupported(call.err);
    };
    match power.suspend(mode) {
        Ok(()) => Outcome::NoReply,
        Err(e) => failed(call.err, e, "failed to suspend"),
    }
}

fn suspend_disk<P: Platform>(call: &mut Call<'_, '_, P>, _: NoArgs) -> Outcome {
    suspend(call, SuspendMode::Disk)
}

fn suspend_ram<P: Platform>(call: &mut Call<'_, '_, P>, _: NoArgs) -> Outcome {
    suspend(call, SuspendMode::Ram)
}

fn suspend_hybrid<P: Platform>(call: &mut Call<'_, '_, P>, _: NoArgs) -> Outcome {
    suspend(call, SuspendMode::Hybrid)
}
