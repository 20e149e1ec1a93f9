//! The commands: one [`Command`] per command, grouped by family, and the
//! tables a board picks from, all as associated constants of
//! [`Commands<P>`](Commands) for the board's platform `P`.
//!
//! Contract:
//! * A command lives in one place, its family's module: its argument struct
//!   (declared with [`crate::arguments!`], so the schema check and the
//!   decoder come from one declaration), its handler, and the continuation
//!   that streams whatever does not fit the reply buffer at once.
//! * A handler receives checked, typed arguments, does the work exactly
//!   once, and either writes its whole return value after the reply prefix
//!   (`Outcome::Done`), sends nothing (`Outcome::NoReply`, for
//!   qemu-ga's `success-response: false` commands), or leaves a
//!   continuation the agent calls until the value is complete. A
//!   failing handler writes its error in place (`Call::err`, the agent's
//!   one error) and returns `Outcome::Failed`; nothing it wrote is sent.
//! * A board hands the agent a [`Table`]. [`Commands::ALL`] has every
//!   command in the order of qemu-ga's schema (registration order:
//!   `guest-info` lists them in reverse, as qemu-ga does);
//!   [`Commands::HEALTH`] is the smallest useful one. A board may build its
//!   own from the `Commands::GUEST_*` rows. Commands not in the table answer
//!   CommandNotFound "has not been found", and their code is not linked:
//!   nothing but a table refers to a command.
//! * Handlers are compiled for the board's platform type, so a capability
//!   the board does not have (its accessor is the trait's default `None`)
//!   folds to "not supported" at compile time and the code that would
//!   render it is not linked either.

mod exec;
mod file;
mod freeze;
mod hardware;
mod info;
mod network;
mod power;
mod render;
mod storage;
mod sync;
mod system;
mod time;
mod users;

use crate::args::{Field, Spans};
use crate::error::{HookError, QgaError};
use crate::json::out::Out;
use crate::platform::Platform;
use crate::state::State;
use core::marker::PhantomData;

/// A command table: what a board with platform `P` serves, in
/// registration order.
pub type Table<P> = &'static [&'static Command<P>];

/// The commands and tables for a board whose platform is `P`: each
/// `GUEST_*` row is one command (`Commands::<P>::GUEST_PING`), [`ALL`] and
/// [`HEALTH`] are ready-made tables.
///
/// [`ALL`]: Commands::ALL
/// [`HEALTH`]: Commands::HEALTH
///
/// ```
/// use nanoqga::Platform;
/// use nanoqga::commands::{Commands, Table};
///
/// struct Board;
/// impl Platform for Board {}
///
/// /// Answers ping and the syncs, nothing else.
/// static TABLE: Table<Board> = &[
///     &Commands::GUEST_SYNC_DELIMITED,
///     &Commands::GUEST_SYNC,
///     &Commands::GUEST_PING,
/// ];
/// assert_eq!(TABLE.len(), 3);
/// ```
pub struct Commands<P>(PhantomData<P>);

/// Largest table (enablement is one bit per row).
pub const MAX_COMMANDS: usize = 64;

impl<P: Platform> Commands<P> {
    /// Every command, in the order of qemu-ga's schema (QGA 4.2's 35, then those
    /// added up to qemu-ga 10.0, each where the schema puts it).
    pub const ALL: Table<P> = &[
        &Self::GUEST_SYNC_DELIMITED,
        &Self::GUEST_SYNC,
        &Self::GUEST_PING,
        &Self::GUEST_GET_TIME,
        &Self::GUEST_SET_TIME,
        &Self::GUEST_INFO,
        &Self::GUEST_SHUTDOWN,
        &Self::GUEST_FILE_OPEN,
        &Self::GUEST_FILE_CLOSE,
        &Self::GUEST_FILE_READ,
        &Self::GUEST_FILE_WRITE,
        &Self::GUEST_FILE_SEEK,
        &Self::GUEST_FILE_FLUSH,
        &Self::GUEST_FSFREEZE_STATUS,
        &Self::GUEST_FSFREEZE_FREEZE,
        &Self::GUEST_FSFREEZE_FREEZE_LIST,
        &Self::GUEST_FSFREEZE_THAW,
        &Self::GUEST_FSTRIM,
        &Self::GUEST_SUSPEND_DISK,
        &Self::GUEST_SUSPEND_RAM,
        &Self::GUEST_SUSPEND_HYBRID,
        &Self::GUEST_NETWORK_GET_INTERFACES,
        &Self::GUEST_GET_VCPUS,
        &Self::GUEST_SET_VCPUS,
        &Self::GUEST_GET_DISKS,
        &Self::GUEST_GET_FSINFO,
        &Self::GUEST_SET_USER_PASSWORD,
        &Self::GUEST_GET_MEMORY_BLOCKS,
        &Self::GUEST_SET_MEMORY_BLOCKS,
        &Self::GUEST_GET_MEMORY_BLOCK_INFO,
        &Self::GUEST_EXEC_STATUS,
        &Self::GUEST_EXEC,
        &Self::GUEST_GET_HOST_NAME,
        &Self::GUEST_GET_USERS,
        &Self::GUEST_GET_TIMEZONE,
        &Self::GUEST_GET_OSINFO,
        &Self::GUEST_GET_DEVICES,
        &Self::GUEST_SSH_GET_AUTHORIZED_KEYS,
        &Self::GUEST_SSH_ADD_AUTHORIZED_KEYS,
        &Self::GUEST_SSH_REMOVE_AUTHORIZED_KEYS,
        &Self::GUEST_GET_DISKSTATS,
        &Self::GUEST_GET_CPUSTATS,
        &Self::GUEST_GET_LOAD,
        &Self::GUEST_NETWORK_GET_ROUTE,
    ];

    /// A health-check agent: resynchronise, ping, describe itself, tell the
    /// time, power off.
    pub const HEALTH: Table<P> = &[
        &Self::GUEST_SYNC_DELIMITED,
        &Self::GUEST_SYNC,
        &Self::GUEST_PING,
        &Self::GUEST_GET_TIME,
        &Self::GUEST_INFO,
        &Self::GUEST_SHUTDOWN,
    ];
}

/// Commands in [`Commands::ALL`].
pub const ALL_COUNT: usize = 44;

const _: () = assert!(ALL_COUNT <= MAX_COMMANDS);

/// Flag: the command sends nothing on success (qemu-ga's `success-response:
/// false`).
pub(crate) const SILENT: u8 = 1 << 0;
/// Flag: still enabled while file systems are frozen (qemu-ga's
/// `ga_freeze_allowlist`).
pub(crate) const FROZEN_OK: u8 = 1 << 1;
/// Flag: the reply is preceded by the 0xFF sentinel.
pub(crate) const DELIMITED: u8 = 1 << 2;

/// What a handler does with a call.
pub(crate) type RunFn<P> = fn(&mut Call<'_, '_, P>, &Spans) -> Outcome;

/// One command, compiled for platform `P`.
pub struct Command<P: Platform> {
    /// Wire name.
    pub name: &'static str,
    pub(crate) flags: u8,
    pub(crate) fields: &'static [Field],
    pub(crate) run: RunFn<P>,
}

impl<P: Platform> Command<P> {
    /// qemu-ga's `success-response` flag.
    pub fn success_response(&self) -> bool {
        self.flags & SILENT == 0
    }

    /// Whether the command stays enabled while file systems are frozen.
    pub fn allowed_frozen(&self) -> bool {
        self.flags & FROZEN_OK != 0
    }

    /// The command's parameters, in schema order.
    pub fn fields(&self) -> &'static [Field] {
        self.fields
    }
}

impl<P: Platform> core::fmt::Debug for Command<P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name)
    }
}

/// Declares a command, a row of [`Commands`]: `NAME = "wire-name",
/// ArgsType, handler[, FLAG...]`; the handler is generic over the platform.
macro_rules! command {
    ($(#[$doc:meta])* $id:ident = $name:literal, $args:ty, $handler:ident $(, $flag:ident)*) => {
        impl<P: $crate::platform::Platform> $crate::commands::Commands<P> {
            $(#[$doc])*
            pub const $id: $crate::commands::Command<P> = $crate::commands::Command {
                name: $name,
                flags: 0 $(| $crate::commands::$flag)*,
                fields: <$args as $crate::args::Arguments>::FIELDS,
                run: |call, spans| {
                    let args = <$args as $crate::args::Arguments>::decode(call.rx, spans);
                    $handler(call, args)
                },
            };
        }
    };
}
pub(crate) use command;

/// A set of commands of a table (allow and block lists), one bit per row.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CommandSet(u64);

impl CommandSet {
    /// No commands.
    pub const EMPTY: CommandSet = CommandSet(0);

    /// Every row of a table of `len` commands.
    pub const fn all(len: usize) -> CommandSet {
        if len >= 64 {
            CommandSet(u64::MAX)
        } else {
            CommandSet((1u64 << len).wrapping_sub(1))
        }
    }

    /// Adds row `i`.
    pub fn insert(&mut self, i: usize) {
        if let Some(bit) = 1u64.checked_shl(u32::try_from(i).unwrap_or(u32::MAX)) {
            self.0 |= bit;
        }
    }

    /// Whether row `i` is in the set.
    pub fn contains(&self, i: usize) -> bool {
        1u64.checked_shl(u32::try_from(i).unwrap_or(u32::MAX))
            .is_some_and(|bit| self.0 & bit != 0)
    }

    /// Rows in either set.
    pub fn union(self, other: CommandSet) -> CommandSet {
        CommandSet(self.0 | other.0)
    }

    /// Number of rows in the set.
    pub fn len(&self) -> usize {
        self.0.count_ones() as usize
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    /// The rows of `table` named in a comma-separated list (qemu-ga's
    /// `-b`/`-a` syntax), and how many names `table` does not have (they
    /// are skipped, as qemu-ga skips unknown names, so a list written for a
    /// bigger agent still works).
    pub fn from_names<P: Platform>(table: Table<P>, list: &str) -> (CommandSet, usize) {
        let mut set = CommandSet::EMPTY;
        let mut unknown = 0usize;
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match table.iter().position(|c| c.name == name) {
                Some(i) => set.insert(i),
                None => unknown = unknown.wrapping_add(1),
            }
        }
        (set, unknown)
    }
}

/// What `guest-info` reports about the agent.
pub(crate) struct AgentInfo<P: Platform> {
    pub table: Table<P>,
    /// Rows enabled right now.
    pub enabled: CommandSet,
    pub version: &'static str,
}

impl<P: Platform> Clone for AgentInfo<P> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P: Platform> Copy for AgentInfo<P> {}

/// What a handler or continuation works with.
pub(crate) struct Call<'a, 's, P: Platform> {
    /// Where a failing handler writes its error (then returns
    /// [`Outcome::Failed`]).
    pub err: &'a mut QgaError,
    /// Where a handler leaves its value's continuation (then returns
    /// [`Outcome::More`]).
    pub more: Option<Continuation<P>>,
    /// The request buffer (the message is somewhere inside); handlers decode
    /// string arguments in place.
    pub rx: &'a mut [u8],
    /// The board.
    pub platform: &'a mut P,
    /// Handles, programs, the frozen flag.
    pub state: &'a mut State<'s>,
    /// Free reply space, right after what is already written.
    pub out: Out<'a>,
    /// The agent's table and settings.
    pub agent: AgentInfo<P>,
    /// The whole reply buffer was empty when this call started: a piece that
    /// does not fit now never will.
    pub alone: bool,
}

impl<P: Platform> Call<'_, '_, P> {
    /// Decodes a string argument in place and returns the range of its text
    /// in [`Self::rx`]. Each argument may be decoded once.
    pub fn decode(&mut self, t: &crate::args::Text) -> core::ops::Range<usize> {
        crate::json::walk::decode_in_place(self.rx, t.token())
    }
}

/// The text at `r` of `rx` (a range from [`Call::decode`], which is UTF-8).
pub(crate) fn text<'a>(rx: &'a [u8], r: &core::ops::Range<usize>) -> &'a str {
    rx.get(r.clone())
        .and_then(|b| core::str::from_utf8(b).ok())
        .unwrap_or("")
}

/// How a handler finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The whole return value was written.
    Done,
    /// Success without a reply (`success-response: false`).
    NoReply,
    /// The return value continues ([`Call::more`]).
    More,
    /// The command failed ([`Call::err`]); nothing it wrote is sent.
    Failed,
}

impl<P: Platform> Call<'_, '_, P> {
    /// Leaves `step` to finish the value.
    pub fn more(&mut self, step: StepFn<P>, progress: Progress<P>) -> Outcome {
        self.more = Some(Continuation { step, progress });
        Outcome::More
    }
}

/// Fails with qemu-ga's "not supported".
pub(crate) fn unsupported(err: &mut QgaError) -> Outcome {
    err.unsupported();
    Outcome::Failed
}

/// Fails with `<context>` and the board's failure (see [`QgaError::hook`]).
pub(crate) fn failed(err: &mut QgaError, e: HookError, context: &'static str) -> Outcome {
    err.failed(e, context);
    Outcome::Failed
}

/// Writes more of a return value while it fits; true once complete. A
/// continuation that is never completed (the client left) is dropped.
pub(crate) type StepFn<P> = fn(&mut Call<'_, '_, P>, &mut Progress<P>) -> bool;

/// The rest of a return value: the function that writes it and where it is.
pub(crate) struct Continuation<P: Platform> {
    pub step: StepFn<P>,
    pub progress: Progress<P>,
}

/// Where a continuation is; each family keeps its own kind.
pub(crate) enum Progress<P: Platform> {
    /// `guest-info`: entries written.
    Info(u32),
    /// A board object, rendered once it fits.
    Object(render::ObjectFn<P>),
    /// A board list: entries written.
    List { visit: render::ListFn<P>, done: u32 },
    /// `guest-file-read`.
    FileRead(file::ReadProgress),
    /// `guest-exec-status` of an exited program.
    ExecStatus(exec::StatusProgress),
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoHooks;
    impl Platform for NoHooks {}

    const ALL: Table<NoHooks> = Commands::ALL;
    const HEALTH: Table<NoHooks> = Commands::HEALTH;

    #[test]
    fn table_names_are_unique_and_qga_prefixed() {
        for (i, a) in ALL.iter().enumerate() {
            assert!(a.name.starts_with("guest-"));
            for b in ALL.iter().skip(i + 1) {
                assert_ne!(a.name, b.name);
            }
        }
        assert_eq!(ALL.len(), ALL_COUNT);
    }

    #[test]
    fn table_has_every_manual_command_of_qga_4_2() {
        let manual = [
            "guest-sync-delimited",
            "guest-sync",
            "guest-ping",
            "guest-get-time",
            "guest-set-time",
            "guest-info",
            "guest-shutdown",
            "guest-file-open",
            "guest-file-close",
            "guest-file-read",
            "guest-file-write",
            "guest-file-seek",
            "guest-file-flush",
            "guest-fsfreeze-status",
            "guest-fsfreeze-freeze",
            "guest-fsfreeze-freeze-list",
            "guest-fsfreeze-thaw",
            "guest-fstrim",
            "guest-suspend-disk",
            "guest-suspend-ram",
            "guest-suspend-hybrid",
            "guest-network-get-interfaces",
            "guest-get-vcpus",
            "guest-set-vcpus",
            "guest-get-fsinfo",
            "guest-set-user-password",
            "guest-get-memory-blocks",
            "guest-set-memory-blocks",
            "guest-get-memory-block-info",
            "guest-exec-status",
            "guest-exec",
            "guest-get-host-name",
            "guest-get-users",
            "guest-get-timezone",
            "guest-get-osinfo",
        ];
        for m in manual {
            assert!(ALL.iter().any(|c| c.name == m), "{m} missing");
        }
    }

    #[test]
    fn only_shutdown_and_suspend_lack_success_response() {
        let silent: std::vec::Vec<_> = ALL
            .iter()
            .filter(|c| !c.success_response())
            .map(|c| c.name)
            .collect();
        assert_eq!(
            silent,
            [
                "guest-shutdown",
                "guest-suspend-disk",
                "guest-suspend-ram",
                "guest-suspend-hybrid"
            ]
        );
    }

    #[test]
    fn frozen_allowlist_matches_qemu_ga() {
        let allowed: std::vec::Vec<_> = ALL
            .iter()
            .filter(|c| c.allowed_frozen())
            .map(|c| c.name)
            .collect();
        assert_eq!(
            allowed,
            [
                "guest-sync-delimited",
                "guest-sync",
                "guest-ping",
                "guest-info",
                "guest-fsfreeze-status",
                "guest-fsfreeze-thaw"
            ]
        );
    }

    #[test]
    fn health_table_is_a_subset_in_registration_order() {
        let mut last = 0;
        for c in HEALTH {
            let i = ALL.iter().position(|a| a.name == c.name).unwrap();
            assert!(i >= last);
            last = i;
        }
    }

    #[test]
    fn command_set_from_names_skips_unknown_names() {
        let (s, unknown) = CommandSet::from_names(HEALTH, "guest-ping, guest-get-time,guest-exec");
        assert_eq!(unknown, 1);
        assert!(s.contains(2));
        assert!(s.contains(3));
        assert!(!s.contains(4));
        assert_eq!(CommandSet::all(ALL.len()).len(), 44);
    }
}
