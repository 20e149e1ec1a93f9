//! Dispatch: from a request's envelope to a command, enabled and with
//! checked arguments.
//!
//! Contract: [`dispatch`] looks the `execute` name up in the board's table
//! (exact, case-sensitive, escapes decoded), checks that the command is
//! enabled, then checks its arguments against the command's schema
//! ([`crate::args::check`]), in qemu-ga's order and with its texts:
//! * not in the table: CommandNotFound `The command <name> has not been
//!   found` (what qemu-ga answers for commands it does not have);
//! * blocked (`-b`), or not allowed (`-a`): CommandNotFound `Command <name>
//!   has been disabled`;
//! * frozen out: CommandNotFound `Command <name> has been disabled: the
//!   agent is in frozen state`;
//! * then the first argument error.

use crate::args::{Spans, check};
use crate::commands::{Command, CommandSet, Table};
use crate::envelope::Request;
use crate::error::{ErrorClass, QgaError};
use crate::json::walk::str_eq;
use crate::platform::Platform;

/// Which commands the board's operator switched off (qemu-ga's
/// `--block-rpcs` and `--allow-rpcs`), as rows of the table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// Disabled rows.
    pub blocked: CommandSet,
    /// If set, only these rows are enabled; `blocked` applies on top.
    pub allowed: Option<CommandSet>,
}

impl Policy {
    /// Rows disabled by the operator.
    fn off(&self, row: usize) -> bool {
        self.blocked.contains(row) || self.allowed.is_some_and(|a| !a.contains(row))
    }
}

/// The rows of `table` enabled under `policy`, with file systems `frozen`
/// or not.
pub fn enabled<P: Platform>(table: Table<P>, policy: &Policy, frozen: bool) -> CommandSet {
    let mut set = CommandSet::EMPTY;
    for (row, c) in table.iter().enumerate() {
        if !policy.off(row) && (!frozen || c.allowed_frozen()) {
            set.insert(row);
        }
    }
    set
}

/// A command ready to run.
#[derive(Debug)]
pub struct Dispatched<P: Platform> {
    /// Its row in the table.
    pub row: usize,
    /// The command.
    pub command: &'static Command<P>,
    /// Its arguments' value ranges, checked.
    pub spans: Spans,
}

/// Resolves `req` (its ranges index `buf`); see the module documentation.
/// On failure the unknown-command, disabled-command or argument error, as
/// qemu-ga words it, is written into `err` and `None` returned.
pub fn dispatch<P: Platform>(
    buf: &[u8],
    req: &Request,
    table: Table<P>,
    policy: &Policy,
    frozen: bool,
    err: &mut QgaError,
) -> Option<Dispatched<P>> {
    let found = table
        .iter()
        .enumerate()
        .find(|(_, c)| str_eq(buf, req.execute.clone(), c.name.as_bytes()));
    let Some((row, &command)) = found else {
        err.set(ErrorClass::CommandNotFound)
            .lit("The command ")
            .req_str(req.execute.clone())
            .lit(" has not been found");
        return None;
    };
    let reason = if policy.off(row) {
        Some("")
    } else if frozen && !command.allowed_frozen() {
        Some(": the agent is in frozen state")
    } else {
        None
    };
    if let Some(reason) = reason {
        err.set(ErrorClass::CommandNotFound)
            .lit("Command ")
            .lit(command.name)
            .lit(" has been disabled")
            .lit(reason);
        return None;
    }
    let spans = check(buf, req.arguments.clone(), command.fields(), err)?;
    Some(Dispatched {
        row,
        command,
        spans,
    })
}
