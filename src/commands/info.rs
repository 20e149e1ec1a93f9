//! guest-info: the agent's version and its table.
//!
//! `{"version": …, "supported_commands": [...]}` with the table's commands
//! in reverse registration order, as qemu-ga lists them, each with its
//! `enabled` state right now (blocked, not allowed, or frozen out) and its
//! `success-response` flag. Only the board's table is listed: commands it
//! did not link do not exist. The list streams entry by entry.

use super::{Call, Outcome, Progress, command};
use crate::args::NoArgs;
use crate::platform::Platform;

command!(
    /// `guest-info`.
    GUEST_INFO = "guest-info", NoArgs, info, FROZEN_OK
);

fn info<P: Platform>(call: &mut Call<'_, '_, P>, _: NoArgs) -> Outcome {
    let mut progress = Progress::Info(0);
    if step(call, &mut progress) {
        Outcome::Done
    } else {
        call.more(step, progress)
    }
}

fn step<P: Platform>(call: &mut Call<'_, '_, P>, progress: &mut Progress<P>) -> bool {
    let Progress::Info(written) = progress else {
        return true;
    };
    let table = call.agent.table;
    let total = u32::try_from(table.len()).unwrap_or(0);
    let out = &mut call.out;
    loop {
        let mark = out.len();
        match *written {
            0 => {
                out.str("{\"version\": ");
                out.quoted(call.agent.version.as_bytes());
                out.str(", \"supported_commands\": [");
            }
            n if n <= total => {
                let row = total.saturating_sub(n) as usize;
                let Some(c) = table.get(row) else {
                    return true;
                };
                if n > 1 {
                    out.str(", ");
                }
                out.str("{\"enabled\": ");
                out.bool(call.agent.enabled.contains(row));
                out.str(", \"name\": \"");
                out.str(c.name);
                out.str("\", \"success-response\": ");
                out.bool(c.success_response());
                out.str("}");
            }
            _ => {
                out.str("]}");
                if out.ok() {
                    return true;
                }
            }
        }
        if !out.ok() {
            out.truncate(mark);
            return false;
        }
        *written = written.wrapping_add(1);
    }
}
