//! The static command table and the handlers.
//!
//! Contract:
//! * [`COMMANDS`] has one row per command of the QGA 4.2 schema (35), in the
//!   schema's registration order; `guest-info` lists them in reverse, as
//!   qemu-ga does. Tests pin the table: unique names, every manual command.
//! * A handler receives validated arguments (see [`crate::schema`]), performs
//!   the command exactly once, and either writes its complete return value
//!   after the reply prefix or returns a [`Body`] the reply writer streams
//!   later. On error nothing it wrote is sent.
//! * Commands that qemu-ga registers with `success-response: false`
//!   (shutdown, suspend) send nothing on success.

mod control;
mod core_cmds;
mod exec;
mod file;
mod system;

use core::ops::Range;

use crate::error::QgaError;
use crate::json::out::Out;
use crate::json::walk::{Kind, decode_in_place, kind_at, token_at};
use crate::platform::Platform;
use crate::schema::{Args, Field, Ty, opt, req};
use crate::state::State;

pub use core_cmds::check_settable_time;
pub(crate) use exec::{ExecReport, render_exec_status};
pub(crate) use file::FileRead;
pub(crate) use system::{ListKind, ObjectKind, render_list, render_object};

/// Identifies a command (its row in [`COMMANDS`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum CommandId {
    SyncDelimited,
    Sync,
    Ping,
    GetTime,
    SetTime,
    Info,
    Shutdown,
    FileOpen,
    FileClose,
    FileRead,
    FileWrite,
    FileSeek,
    FileFlush,
    FsfreezeStatus,
    FsfreezeFreeze,
    FsfreezeFreezeList,
    FsfreezeThaw,
    Fstrim,
    SuspendDisk,
    SuspendRam,
    SuspendHybrid,
    NetworkGetInterfaces,
    GetVcpus,
    SetVcpus,
    GetFsinfo,
    SetUserPassword,
    GetMemoryBlocks,
    SetMemoryBlocks,
    GetMemoryBlockInfo,
    ExecStatus,
    Exec,
    GetHostName,
    GetUsers,
    GetTimezone,
    GetOsinfo,
}

/// What a handler leaves for the reply writer.
#[derive(Clone, Debug)]
pub(crate) enum Body {
    /// The whole value was written after the prefix.
    Rendered,
    /// Success without a reply (`success-response: false`).
    NoReply,
    /// `guest-info`, streamed entry by entry over the table.
    Info,
    /// A board object rendered whole when the buffer has room.
    Object(ObjectKind),
    /// A board list; `done` entries are already written after `[`.
    List { kind: ListKind, done: u32 },
    /// File data, streamed.
    FileRead(FileRead),
    /// `guest-exec-status` of an exited program in this slot, streamed.
    ExecStatus { slot: u16 },
}

/// A command handler.
pub(crate) type Handler = fn(&mut Ctx<'_, '_>) -> Result<Body, QgaError>;

/// One row of the command table.
pub struct Command {
    /// Wire name.
    pub name: &'static str,
    /// Identity.
    pub id: CommandId,
    /// qemu-ga's `success-response` flag.
    pub success_response: bool,
    /// Still enabled while file systems are frozen (qemu-ga's
    /// `ga_freeze_allowlist`).
    pub allowed_frozen: bool,
    pub(crate) args: &'static [Field],
    pub(crate) handler: Handler,
}

impl Command {
    /// The command's parameters, in schema order.
    pub fn args(&self) -> &'static [Field] {
        self.args
    }
}

macro_rules! row {
    ($name:literal, $id:ident, $args:expr, $handler:path) => {
        row!($name, $id, $args, $handler, true, false)
    };
    ($name:literal, $id:ident, $args:expr, $handler:path, $resp:expr, $frozen:expr) => {
        Command {
            name: $name,
            id: CommandId::$id,
            success_response: $resp,
            allowed_frozen: $frozen,
            args: $args,
            handler: $handler,
        }
    };
}

const NONE: &[Field] = &[];
const ID: &[Field] = &[req("id", Ty::Int)];
const HANDLE: &[Field] = &[req("handle", Ty::Int)];

/// Every command of the QGA 4.2 schema, in registration order.
pub static COMMANDS: [Command; 35] = [
    row!(
        "guest-sync-delimited",
        SyncDelimited,
        ID,
        core_cmds::sync,
        true,
        true
    ),
    row!("guest-sync", Sync, ID, core_cmds::sync, true, true),
    row!("guest-ping", Ping, NONE, core_cmds::ping, true, true),
    row!("guest-get-time", GetTime, NONE, core_cmds::get_time),
    row!(
        "guest-set-time",
        SetTime,
        &[opt("time", Ty::Int)],
        core_cmds::set_time
    ),
    row!("guest-info", Info, NONE, core_cmds::info, true, true),
    row!(
        "guest-shutdown",
        Shutdown,
        &[opt("mode", Ty::Str)],
        core_cmds::shutdown,
        false,
        false
    ),
    row!(
        "guest-file-open",
        FileOpen,
        &[req("path", Ty::Str), opt("mode", Ty::Str)],
        file::open
    ),
    row!("guest-file-close", FileClose, HANDLE, file::close),
    row!(
        "guest-file-read",
        FileRead,
        &[req("handle", Ty::Int), opt("count", Ty::Int)],
        file::read
    ),
    row!(
        "guest-file-write",
        FileWrite,
        &[
            req("handle", Ty::Int),
            req("buf-b64", Ty::Str),
            opt("count", Ty::Int)
        ],
        file::write
    ),
    row!(
        "guest-file-seek",
        FileSeek,
        &[
            req("handle", Ty::Int),
            req("offset", Ty::Int),
            req("whence", Ty::Whence)
        ],
        file::seek
    ),
    row!("guest-file-flush", FileFlush, HANDLE, file::flush),
    row!(
        "guest-fsfreeze-status",
        FsfreezeStatus,
        NONE,
        control::fsfreeze_status,
        true,
        true
    ),
    row!(
        "guest-fsfreeze-freeze",
        FsfreezeFreeze,
        NONE,
        control::fsfreeze_freeze
    ),
    row!(
        "guest-fsfreeze-freeze-list",
        FsfreezeFreezeList,
        &[opt("mountpoints", Ty::StrList)],
        control::fsfreeze_freeze
    ),
    row!(
        "guest-fsfreeze-thaw",
        FsfreezeThaw,
        NONE,
        control::fsfreeze_thaw,
        true,
        true
    ),
    row!(
        "guest-fstrim",
        Fstrim,
        &[opt("minimum", Ty::Int)],
        control::fstrim
    ),
    row!(
        "guest-suspend-disk",
        SuspendDisk,
        NONE,
        core_cmds::suspend,
        false,
        false
    ),
    row!(
        "guest-suspend-ram",
        SuspendRam,
        NONE,
        core_cmds::suspend,
        false,
        false
    ),
    row!(
        "guest-suspend-hybrid",
        SuspendHybrid,
        NONE,
        core_cmds::suspend,
        false,
        false
    ),
    row!(
        "guest-network-get-interfaces",
        NetworkGetInterfaces,
        NONE,
        system::list
    ),
    row!("guest-get-vcpus", GetVcpus, NONE, system::list),
    row!(
        "guest-set-vcpus",
        SetVcpus,
        &[req("vcpus", Ty::VcpuList)],
        control::set_vcpus
    ),
    row!("guest-get-fsinfo", GetFsinfo, NONE, system::list),
    row!(
        "guest-set-user-password",
        SetUserPassword,
        &[
            req("username", Ty::Str),
            req("password", Ty::Str),
            req("crypted", Ty::Bool)
        ],
        control::set_user_password
    ),
    row!(
        "guest-get-memory-blocks",
        GetMemoryBlocks,
        NONE,
        system::list
    ),
    row!(
        "guest-set-memory-blocks",
        SetMemoryBlocks,
        &[req("mem-blks", Ty::MemBlockList)],
        control::set_memory_blocks
    ),
    row!(
        "guest-get-memory-block-info",
        GetMemoryBlockInfo,
        NONE,
        system::memory_block_info
    ),
    row!(
        "guest-exec-status",
        ExecStatus,
        &[req("pid", Ty::Int)],
        exec::status
    ),
    row!(
        "guest-exec",
        Exec,
        &[
            req("path", Ty::Str),
            opt("arg", Ty::StrList),
            opt("env", Ty::StrList),
            opt("input-data", Ty::Str),
            opt("capture-output", Ty::Bool)
        ],
        exec::exec
    ),
    row!("guest-get-host-name", GetHostName, NONE, system::object),
    row!("guest-get-users", GetUsers, NONE, system::list),
    row!("guest-get-timezone", GetTimezone, NONE, system::object),
    row!("guest-get-osinfo", GetOsinfo, NONE, system::object),
];

impl CommandId {
    /// Index of the command's row.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The command's row.
    pub fn command(self) -> &'static Command {
        // `CommandId` is the row index by construction (tested).
        COMMANDS.get(self.index()).unwrap_or(&COMMANDS[0])
    }
}

/// Looks a command up by its exact (case-sensitive) wire name.
pub fn find(name: &[u8]) -> Option<&'static Command> {
    COMMANDS.iter().find(|c| c.name.as_bytes() == name)
}

/// A set of commands (qemu-ga's allow and block lists), one bit per row.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CommandSet(u64);

const _: () = assert!(COMMANDS.len() <= 64);

impl CommandSet {
    /// No commands.
    pub const EMPTY: CommandSet = CommandSet(0);

    /// Every command.
    pub const fn all() -> CommandSet {
        CommandSet((1u64 << COMMANDS.len()).wrapping_sub(1))
    }

    /// Adds a command.
    pub fn insert(&mut self, id: CommandId) {
        self.0 |= 1u64 << id.index();
    }

    /// Removes a command.
    pub fn remove(&mut self, id: CommandId) {
        self.0 &= !(1u64 << id.index());
    }

    /// Whether the command is in the set.
    pub fn contains(&self, id: CommandId) -> bool {
        self.0 & (1u64 << id.index()) != 0
    }

    /// Adds every command named in a comma-separated list (qemu-ga's
    /// `-b`/`-a` syntax). Unknown names are skipped, as qemu-ga does (a list
    /// written for a newer agent still works); their count is returned.
    pub fn insert_names(&mut self, list: &str) -> usize {
        let mut unknown = 0usize;
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match find(name.as_bytes()) {
                Some(c) => self.insert(c.id),
                None => unknown = unknown.saturating_add(1),
            }
        }
        unknown
    }
}

/// What a handler works with.
pub(crate) struct Ctx<'r, 's> {
    /// The request buffer (the message is somewhere inside).
    pub rx: &'r mut [u8],
    /// Validated argument ranges.
    pub args: Args,
    /// The board.
    pub platform: &'r mut dyn Platform,
    /// Agent state (handles, programs, flags).
    pub state: &'r mut State<'s>,
    /// Space for the return value, right after the reply prefix.
    pub out: Out<'r>,
    /// Which command runs.
    pub id: CommandId,
}

impl Ctx<'_, '_> {
    /// Integer argument `i`.
    pub fn int(&self, i: usize) -> Option<i64> {
        match kind_at(self.rx, self.args.get(i)?.start) {
            Kind::Int(v) => Some(v),
            _ => None,
        }
    }

    /// Boolean argument `i`.
    pub fn bool(&self, i: usize) -> Option<bool> {
        match kind_at(self.rx, self.args.get(i)?.start) {
            Kind::Bool(v) => Some(v),
            _ => None,
        }
    }

    /// The string token of argument `i`.
    pub fn str_token(&self, i: usize) -> Option<Range<usize>> {
        let r = self.args.get(i)?;
        let t = token_at(self.rx, r.start)?;
        Some(t.start..t.end)
    }

    /// Decodes string argument `i` in place; returns the decoded range.
    pub fn decode(&mut self, i: usize) -> Option<Range<usize>> {
        let t = self.str_token(i)?;
        Some(decode_in_place(self.rx, t))
    }

    /// The decoded text at `r` (from [`Self::decode`]).
    pub fn text(&self, r: &Range<usize>) -> &str {
        text(self.rx, r)
    }
}

/// The decoded text at `r` of `rx` (empty if it is not UTF-8, which a
/// validated and decoded string always is).
pub(crate) fn text<'a>(rx: &'a [u8], r: &Range<usize>) -> &'a str {
    rx.get(r.clone())
        .and_then(|b| core::str::from_utf8(b).ok())
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_rows_match_their_ids() {
        for (i, c) in COMMANDS.iter().enumerate() {
            assert_eq!(c.id.index(), i, "{}", c.name);
        }
    }

    #[test]
    fn table_names_are_unique_and_qga_prefixed() {
        for (i, a) in COMMANDS.iter().enumerate() {
            assert!(a.name.starts_with("guest-"));
            for b in COMMANDS.iter().skip(i + 1) {
                assert_ne!(a.name, b.name);
            }
        }
    }

    #[test]
    fn only_shutdown_and_suspend_lack_success_response() {
        let silent: std::vec::Vec<_> = COMMANDS
            .iter()
            .filter(|c| !c.success_response)
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
        let allowed: std::vec::Vec<_> = COMMANDS
            .iter()
            .filter(|c| c.allowed_frozen)
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
    fn command_set_parses_lists_and_skips_unknown_names() {
        let mut s = CommandSet::EMPTY;
        assert_eq!(
            s.insert_names("guest-ping, guest-get-time,guest-get-devices"),
            1
        );
        assert!(s.contains(CommandId::Ping));
        assert!(s.contains(CommandId::GetTime));
        assert!(!s.contains(CommandId::Info));
        assert_eq!(CommandSet::all().0.count_ones(), 35);
    }
}
