//! Errors: what goes on the wire, and what boards report.
//!
//! Contract:
//! * [`QgaError`] is the only error that reaches the wire: a class (only
//!   `GenericError` and `CommandNotFound`, as qemu-ga) and a description made
//!   of a few pieces. Pieces may point into the request buffer (a command
//!   name, a path, a parameter key), so quoting a 4 KiB path in an error costs
//!   no copy; the reply writer escapes and streams them.
//! * [`HookError`] is what a board hook returns; each command turns it into
//!   qemu-ga's text for that command (`failed to open file '…' (mode: '…'):
//!   No such file or directory`, …). [`HookError::Unsupported`] always becomes
//!   qemu-ga's "not supported" error.
//! * Building an error never fails: pieces beyond the fixed capacity are
//!   dropped.

use core::ops::Range;

/// Error classes qemu-ga emits (QAPI `QapiErrorClass`; clients know five, and
/// qemu-ga only ever uses these two).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// Everything except unknown and disabled commands.
    GenericError,
    /// Unknown or disabled command.
    CommandNotFound,
}

impl ErrorClass {
    /// The class name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::GenericError => "GenericError",
            ErrorClass::CommandNotFound => "CommandNotFound",
        }
    }
}

/// qemu-ga's `QERR_UNSUPPORTED` text.
pub const UNSUPPORTED: &str = "this feature or command is not currently supported";

/// Most pieces one description holds.
pub const MAX_PIECES: usize = 10;

/// One piece of an error description.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Piece {
    /// Fixed text.
    Lit(&'static str),
    /// Bytes of the request buffer (a decoded string or a raw token),
    /// escaped as they are.
    Req {
        /// First byte.
        start: u32,
        /// One past the last byte.
        end: u32,
    },
    /// A JSON string token of the request buffer (quotes included), decoded
    /// and then escaped: how qemu-ga prints a key or value it parsed.
    ReqStr {
        /// First byte (the opening quote).
        start: u32,
        /// One past the closing quote.
        end: u32,
    },
    /// A decimal integer, as its two 32-bit halves (high, low), so that a
    /// piece is three words on 32-bit targets.
    Int(i32, u32),
}

impl Piece {
    /// The piece for integer `v`.
    pub fn int(v: i64) -> Piece {
        let bits = v.to_le_bytes();
        let hi = i32::from_le_bytes([bits[4], bits[5], bits[6], bits[7]]);
        let lo = u32::from_le_bytes([bits[0], bits[1], bits[2], bits[3]]);
        Piece::Int(hi, lo)
    }

    /// The value of an [`Piece::Int`] (0 for other pieces).
    pub fn int_value(&self) -> i64 {
        match *self {
            Piece::Int(hi, lo) => (i64::from(hi) << 32) | i64::from(lo),
            _ => 0,
        }
    }
}

/// An error reply: class and description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QgaError {
    class: ErrorClass,
    len: u8,
    pieces: [Piece; MAX_PIECES],
}

impl QgaError {
    /// An empty GenericError (the agent keeps one and rewrites it for each
    /// failing request).
    pub const fn empty() -> Self {
        QgaError {
            class: ErrorClass::GenericError,
            len: 0,
            pieces: [Piece::Lit(""); MAX_PIECES],
        }
    }

    /// The class.
    pub fn class(&self) -> ErrorClass {
        self.class
    }

    /// The pieces of the description.
    pub fn pieces(&self) -> &[Piece] {
        self.pieces.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// Starts over: class `class`, no description.
    pub fn set(&mut self, class: ErrorClass) -> &mut Self {
        self.class = class;
        self.len = 0;
        self
    }

    /// Starts over as a `GenericError` with fixed text.
    #[inline(never)]
    pub fn generic(&mut self, text: &'static str) -> &mut Self {
        self.set(ErrorClass::GenericError).lit(text)
    }

    /// Starts over as qemu-ga's "not supported" GenericError.
    pub fn unsupported(&mut self) -> &mut Self {
        self.generic(UNSUPPORTED)
    }

    /// Appends a piece (dropped beyond [`MAX_PIECES`]). Not inlined: one
    /// copy of the bounds logic serves every error of the agent.
    #[inline(never)]
    fn push(&mut self, p: Piece) -> &mut Self {
        if let Some(slot) = self.pieces.get_mut(usize::from(self.len)) {
            *slot = p;
            self.len = self.len.wrapping_add(1);
        }
        self
    }

    /// Appends fixed text.
    pub fn lit(&mut self, s: &'static str) -> &mut Self {
        self.push(Piece::Lit(s))
    }

    /// Appends bytes of the request buffer.
    pub fn req(&mut self, r: Range<usize>) -> &mut Self {
        let start = u32::try_from(r.start).unwrap_or(u32::MAX);
        let end = u32::try_from(r.end).unwrap_or(u32::MAX);
        self.push(Piece::Req { start, end })
    }

    /// Appends the decoded text of a JSON string token of the request buffer.
    pub fn req_str(&mut self, tok: Range<usize>) -> &mut Self {
        let start = u32::try_from(tok.start).unwrap_or(u32::MAX);
        let end = u32::try_from(tok.end).unwrap_or(u32::MAX);
        self.push(Piece::ReqStr { start, end })
    }

    /// Appends an integer.
    pub fn int(&mut self, v: i64) -> &mut Self {
        self.push(Piece::int(v))
    }

    /// Appends a parameter name as qemu's input visitor prints it.
    pub fn name(&mut self, n: &ParamName) -> &mut Self {
        for &p in n.pieces() {
            self.push(p);
        }
        self
    }

    /// `Parameter '<name>' is missing`
    pub fn missing(&mut self, n: &ParamName) -> &mut Self {
        self.generic("Parameter '").name(n).lit("' is missing")
    }

    /// `Invalid parameter type for '<name>', expected: <what>`
    pub fn invalid_type(&mut self, n: &ParamName, expected: &'static str) -> &mut Self {
        self.generic("Invalid parameter type for '")
            .name(n)
            .lit("', expected: ")
            .lit(expected)
    }

    /// `Parameter '<name>' is unexpected`
    pub fn unexpected(&mut self, n: &ParamName) -> &mut Self {
        self.generic("Parameter '").name(n).lit("' is unexpected")
    }

    /// `Parameter '<name>' expects <what>`
    pub fn expects(&mut self, n: &ParamName, what: &'static str) -> &mut Self {
        self.generic("Parameter '")
            .name(n)
            .lit("' expects ")
            .lit(what)
    }

    /// `value '<v>' is invalid for argument <arg>`
    pub fn invalid_value(&mut self, v: i64, arg: &'static str) -> &mut Self {
        self.generic("value '")
            .int(v)
            .lit("' is invalid for argument ")
            .lit(arg)
    }

    /// Appends `: <strerror>` for an errno.
    pub fn errno(&mut self, e: Errno) -> &mut Self {
        self.lit(": ");
        match e.text() {
            Some(t) => self.lit(t),
            None => self.lit("Unknown error ").int(i64::from(e.0)),
        }
    }

    /// Finishes a description whose context (`failed to read file`) is
    /// written, for a board failure: "not supported" and a board's own
    /// message replace the context, an errno is appended as `: <strerror>`.
    #[inline(never)]
    pub fn hook(&mut self, e: HookError) -> &mut Self {
        match e {
            HookError::Unsupported => self.unsupported(),
            HookError::Errno(n) => self.errno(n),
            HookError::Message(m) => self.generic(m),
            HookError::NoUser => self.lit(": no such user"),
        }
    }

    /// `<context>` followed by the board failure `e` (see [`Self::hook`]).
    pub fn failed(&mut self, e: HookError, context: &'static str) -> &mut Self {
        self.generic(context).hook(e)
    }
}

/// A parameter name as qemu's input visitor spells it in errors (`count`,
/// `vcpus[1]`, `vcpus[1].online`), kept as the error pieces that print it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamName {
    pieces: [Piece; 5],
    len: u8,
}

impl ParamName {
    fn of(pieces: &[Piece]) -> Self {
        let mut n = ParamName {
            pieces: [Piece::Lit(""); 5],
            len: 0,
        };
        for &p in pieces {
            n.push(p);
        }
        n
    }

    fn push(&mut self, p: Piece) {
        if let Some(slot) = self.pieces.get_mut(usize::from(self.len)) {
            *slot = p;
            self.len = self.len.wrapping_add(1);
        }
    }

    /// A top-level argument: `count`.
    pub fn top(name: &'static str) -> Self {
        ParamName::of(&[Piece::Lit(name)])
    }

    /// A key of the request (an unexpected one): its string token.
    pub fn key(tok: Range<usize>) -> Self {
        ParamName::of(&[Piece::ReqStr {
            start: u32::try_from(tok.start).unwrap_or(u32::MAX),
            end: u32::try_from(tok.end).unwrap_or(u32::MAX),
        }])
    }

    /// Element `index` of the list argument `list`: `vcpus[1]`.
    pub fn elem(list: &'static str, index: usize) -> Self {
        ParamName::of(&[
            Piece::Lit(list),
            Piece::Lit("["),
            Piece::int(i64::try_from(index).unwrap_or(i64::MAX)),
            Piece::Lit("]"),
        ])
    }

    /// Appends the `.` before a member (merged into the element's `]`, so
    /// that the longest name fits five pieces).
    fn dot(&mut self) {
        let last = usize::from(self.len).saturating_sub(1);
        match self.pieces.get_mut(last) {
            Some(p @ Piece::Lit("]")) => *p = Piece::Lit("]."),
            _ => self.push(Piece::Lit(".")),
        }
    }

    /// A schema member of a list element: `vcpus[1].online`.
    pub fn member(mut self, m: &'static str) -> Self {
        self.dot();
        self.push(Piece::Lit(m));
        self
    }

    /// A request key inside a list element: `vcpus[1].x` (its string token).
    pub fn member_key(mut self, tok: Range<usize>) -> Self {
        self.dot();
        self.push(ParamName::key(tok).pieces[0]);
        self
    }

    /// The pieces that print the name.
    pub fn pieces(&self) -> &[Piece] {
        self.pieces.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// The top-level argument's name (for naming its elements).
    pub fn top_name(&self) -> &'static str {
        match self.pieces.first() {
            Some(Piece::Lit(s)) => s,
            _ => "",
        }
    }
}

/// An error number with the C library's message (`strerror`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(pub i32);

impl Errno {
    /// EPERM
    pub const EPERM: Errno = Errno(1);
    /// ENOENT
    pub const ENOENT: Errno = Errno(2);
    /// EIO
    pub const EIO: Errno = Errno(5);
    /// EBADF
    pub const EBADF: Errno = Errno(9);
    /// ENOMEM
    pub const ENOMEM: Errno = Errno(12);
    /// EACCES
    pub const EACCES: Errno = Errno(13);
    /// EEXIST
    pub const EEXIST: Errno = Errno(17);
    /// ENOTDIR
    pub const ENOTDIR: Errno = Errno(20);
    /// EISDIR
    pub const EISDIR: Errno = Errno(21);
    /// EINVAL
    pub const EINVAL: Errno = Errno(22);
    /// ENFILE
    pub const ENFILE: Errno = Errno(23);
    /// EMFILE
    pub const EMFILE: Errno = Errno(24);
    /// EFBIG
    pub const EFBIG: Errno = Errno(27);
    /// ENOSPC
    pub const ENOSPC: Errno = Errno(28);
    /// ESPIPE
    pub const ESPIPE: Errno = Errno(29);
    /// EROFS
    pub const EROFS: Errno = Errno(30);
    /// ENAMETOOLONG
    pub const ENAMETOOLONG: Errno = Errno(36);
    /// ENOSYS
    pub const ENOSYS: Errno = Errno(38);
    /// ELOOP
    pub const ELOOP: Errno = Errno(40);
    /// EOVERFLOW
    pub const EOVERFLOW: Errno = Errno(75);
    /// EXDEV
    pub const EXDEV: Errno = Errno(18);
    /// ENXIO
    pub const ENXIO: Errno = Errno(6);
    /// E2BIG
    pub const E2BIG: Errno = Errno(7);
    /// ENOEXEC
    pub const ENOEXEC: Errno = Errno(8);
    /// EAGAIN
    pub const EAGAIN: Errno = Errno(11);
    /// EBUSY
    pub const EBUSY: Errno = Errno(16);
    /// ETXTBSY
    pub const ETXTBSY: Errno = Errno(26);
    /// EOPNOTSUPP
    pub const EOPNOTSUPP: Errno = Errno(95);

    /// glibc's message for this error number, if it is one we know.
    pub fn text(self) -> Option<&'static str> {
        let text = match self.0 {
            0..=40 => STRERROR.get(usize::try_from(self.0).ok()?).copied()?,
            75 => "Value too large for defined data type",
            95 => "Operation not supported",
            110 => "Connection timed out",
            _ => "",
        };
        (!text.is_empty()).then_some(text)
    }
}

/// glibc's `strerror` for 0 to 40 (a table: data, not code; "" for numbers
/// we do not know).
static STRERROR: [&str; 41] = [
    "Success",
    "Operation not permitted",
    "No such file or directory",
    "No such process",
    "Interrupted system call",
    "Input/output error",
    "No such device or address",
    "Argument list too long",
    "Exec format error",
    "Bad file descriptor",
    "No child processes",
    "Resource temporarily unavailable",
    "Cannot allocate memory",
    "Permission denied",
    "Bad address",
    "",
    "Device or resource busy",
    "File exists",
    "Invalid cross-device link",
    "No such device",
    "Not a directory",
    "Is a directory",
    "Invalid argument",
    "Too many open files in system",
    "Too many open files",
    "",
    "Text file busy",
    "File too large",
    "No space left on device",
    "Illegal seek",
    "Read-only file system",
    "Too many links",
    "Broken pipe",
    "",
    "",
    "",
    "File name too long",
    "",
    "Function not implemented",
    "Directory not empty",
    "Too many levels of symbolic links",
];

/// What a board hook can report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookError {
    /// The board does not have this feature. Answers qemu-ga's
    /// `this feature or command is not currently supported`.
    Unsupported,
    /// An OS-style failure; the command prefixes its own context, as qemu-ga
    /// does (`failed to read file: Bad file descriptor`).
    Errno(Errno),
    /// A complete description of the board's own.
    Message(&'static str),
    /// The user named in the request does not exist (the command says
    /// `failed to lookup user '<name>'`).
    NoUser,
}

impl From<Errno> for HookError {
    fn from(e: Errno) -> Self {
        HookError::Errno(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_classes_are_qemu_names() {
        assert_eq!(ErrorClass::GenericError.as_str(), "GenericError");
        assert_eq!(ErrorClass::CommandNotFound.as_str(), "CommandNotFound");
    }

    #[test]
    fn errno_texts_are_glibc_strerror() {
        assert_eq!(Errno::ENOENT.text(), Some("No such file or directory"));
        assert_eq!(Errno(40).text(), Some("Too many levels of symbolic links"));
        assert_eq!(Errno::EOPNOTSUPP.text(), Some("Operation not supported"));
        assert_eq!(Errno(15).text(), None);
        assert_eq!(Errno(-1).text(), None);
        assert_eq!(Errno(1000).text(), None);
    }

    #[test]
    fn int_pieces_keep_every_value() {
        for v in [0, 1, -1, i64::MIN, i64::MAX, 1 << 40, -(1 << 40) + 7] {
            assert_eq!(Piece::int(v).int_value(), v);
        }
    }

    #[test]
    fn pieces_beyond_capacity_are_dropped() {
        let mut e = QgaError::empty();
        e.generic("a");
        for _ in 0..20 {
            e.lit("b");
        }
        assert_eq!(e.pieces().len(), MAX_PIECES);
    }

    #[test]
    fn hook_failures_keep_or_replace_the_context() {
        let mut e = QgaError::empty();
        e.failed(HookError::Errno(Errno::ENOENT), "failed to read file");
        assert_eq!(
            e.pieces(),
            [
                Piece::Lit("failed to read file"),
                Piece::Lit(": "),
                Piece::Lit("No such file or directory")
            ]
        );
        e.failed(HookError::Unsupported, "x");
        assert_eq!(e.pieces(), [Piece::Lit(UNSUPPORTED)]);
    }
}
