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
//!   dropped, and inline text is cut at a character boundary.

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

/// Bytes of inline text one description holds.
pub const INLINE_TEXT: usize = 64;

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
    /// A decimal integer.
    Int(i64),
    /// The error's inline text.
    Text,
}

/// An error reply: class and description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QgaError {
    class: ErrorClass,
    pieces: heapless::Vec<Piece, MAX_PIECES>,
    text: heapless::String<INLINE_TEXT>,
}

impl QgaError {
    /// An empty description of class `class`.
    pub fn new(class: ErrorClass) -> Self {
        QgaError {
            class,
            pieces: heapless::Vec::new(),
            text: heapless::String::new(),
        }
    }

    /// A `GenericError` with fixed text.
    pub fn generic(text: &'static str) -> Self {
        QgaError::new(ErrorClass::GenericError).lit(text)
    }

    /// qemu-ga's "not supported" GenericError.
    pub fn unsupported() -> Self {
        QgaError::generic(UNSUPPORTED)
    }

    /// The class.
    pub fn class(&self) -> ErrorClass {
        self.class
    }

    /// The pieces of the description.
    pub fn pieces(&self) -> &[Piece] {
        &self.pieces
    }

    /// The inline text (for [`Piece::Text`]).
    pub fn inline_text(&self) -> &str {
        &self.text
    }

    /// Appends fixed text.
    pub fn lit(mut self, s: &'static str) -> Self {
        let _ = self.pieces.push(Piece::Lit(s));
        self
    }

    /// Appends bytes of the request buffer.
    pub fn req(mut self, r: Range<usize>) -> Self {
        let start = u32::try_from(r.start).unwrap_or(u32::MAX);
        let end = u32::try_from(r.end).unwrap_or(u32::MAX);
        let _ = self.pieces.push(Piece::Req { start, end });
        self
    }

    /// Appends the decoded text of a JSON string token of the request buffer.
    pub fn req_str(mut self, tok: Range<usize>) -> Self {
        let start = u32::try_from(tok.start).unwrap_or(u32::MAX);
        let end = u32::try_from(tok.end).unwrap_or(u32::MAX);
        let _ = self.pieces.push(Piece::ReqStr { start, end });
        self
    }

    /// Appends an integer.
    pub fn int(mut self, v: i64) -> Self {
        let _ = self.pieces.push(Piece::Int(v));
        self
    }

    /// Appends text that is copied into the error (at most [`INLINE_TEXT`]
    /// bytes over the error's lifetime, cut at a character boundary).
    pub fn text(mut self, s: &str) -> Self {
        let room = INLINE_TEXT.saturating_sub(self.text.len());
        let mut cut = s.len().min(room);
        while !s.is_char_boundary(cut) {
            cut = cut.saturating_sub(1);
        }
        if self.text.push_str(s.get(..cut).unwrap_or("")).is_ok() {
            let _ = self.pieces.push(Piece::Text);
        }
        self
    }

    /// Appends a parameter name as qemu's input visitor prints it.
    pub fn name(self, n: &ParamName) -> Self {
        match *n {
            ParamName::Top(s) => self.lit(s),
            ParamName::Key(ref r) => self.req_str(r.clone()),
            ParamName::Elem {
                list,
                index,
                member,
            } => {
                let e = self
                    .lit(list)
                    .lit("[")
                    .int(i64::try_from(index).unwrap_or(i64::MAX))
                    .lit("]");
                match member {
                    None => e,
                    Some(Member::Name(m)) => e.lit(".").lit(m),
                    Some(Member::Key(start, end)) => {
                        e.lit(".").req_str(start as usize..end as usize)
                    }
                }
            }
        }
    }

    /// `Parameter '<name>' is missing`
    pub fn missing(n: &ParamName) -> Self {
        QgaError::generic("Parameter '").name(n).lit("' is missing")
    }

    /// `Invalid parameter type for '<name>', expected: <what>`
    pub fn invalid_type(n: &ParamName, expected: &'static str) -> Self {
        QgaError::generic("Invalid parameter type for '")
            .name(n)
            .lit("', expected: ")
            .lit(expected)
    }

    /// `Parameter '<name>' is unexpected`
    pub fn unexpected(n: &ParamName) -> Self {
        QgaError::generic("Parameter '")
            .name(n)
            .lit("' is unexpected")
    }

    /// `Parameter '<name>' expects <what>`
    pub fn expects(n: &ParamName, what: &'static str) -> Self {
        QgaError::generic("Parameter '")
            .name(n)
            .lit("' expects ")
            .lit(what)
    }

    /// `value '<v>' is invalid for argument <arg>`
    pub fn invalid_value(v: i64, arg: &'static str) -> Self {
        QgaError::generic("value '")
            .int(v)
            .lit("' is invalid for argument ")
            .lit(arg)
    }

    /// Appends `: <strerror>` for an errno.
    pub fn errno(self, e: Errno) -> Self {
        let s = self.lit(": ");
        match e.text() {
            Some(t) => s.lit(t),
            None => s.lit("Unknown error ").int(i64::from(e.0)),
        }
    }
}

/// A member name inside a list element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Member {
    /// A schema member name.
    Name(&'static str),
    /// A key from the request: its string token (start, end).
    Key(u32, u32),
}

/// A parameter name as qemu's input visitor spells it in errors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParamName {
    /// A top-level argument: `count`.
    Top(&'static str),
    /// A key of the request (for unexpected keys): its string token.
    Key(Range<usize>),
    /// A list element or a member of one: `vcpus[1]`, `vcpus[1].online`.
    Elem {
        /// The list argument's name.
        list: &'static str,
        /// The element index.
        index: usize,
        /// The member inside the element, if any.
        member: Option<Member>,
    },
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
        Some(match self.0 {
            0 => "Success",
            1 => "Operation not permitted",
            2 => "No such file or directory",
            3 => "No such process",
            4 => "Interrupted system call",
            5 => "Input/output error",
            6 => "No such device or address",
            7 => "Argument list too long",
            8 => "Exec format error",
            9 => "Bad file descriptor",
            10 => "No child processes",
            11 => "Resource temporarily unavailable",
            12 => "Cannot allocate memory",
            13 => "Permission denied",
            14 => "Bad address",
            16 => "Device or resource busy",
            17 => "File exists",
            18 => "Invalid cross-device link",
            19 => "No such device",
            20 => "Not a directory",
            21 => "Is a directory",
            22 => "Invalid argument",
            23 => "Too many open files in system",
            24 => "Too many open files",
            26 => "Text file busy",
            27 => "File too large",
            28 => "No space left on device",
            29 => "Illegal seek",
            30 => "Read-only file system",
            31 => "Too many links",
            32 => "Broken pipe",
            36 => "File name too long",
            38 => "Function not implemented",
            39 => "Directory not empty",
            40 => "Too many levels of symbolic links",
            75 => "Value too large for defined data type",
            95 => "Operation not supported",
            110 => "Connection timed out",
            _ => return None,
        })
    }
}

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
}

impl From<Errno> for HookError {
    fn from(e: Errno) -> Self {
        HookError::Errno(e)
    }
}

impl HookError {
    /// The wire error for a hook failure of a command whose qemu-ga text for
    /// OS failures is `<context>: <strerror>`. `context` is any prefix built
    /// by the caller.
    pub fn into_qga(self, context: QgaError) -> QgaError {
        match self {
            HookError::Unsupported => QgaError::unsupported(),
            HookError::Errno(e) => context.errno(e),
            HookError::Message(m) => QgaError::generic(m),
        }
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
    fn inline_text_is_cut_at_char_boundary() {
        let long = "é".repeat(40);
        let e = QgaError::generic("x").text(&long);
        assert_eq!(e.inline_text().len(), 64);
        assert!(e.inline_text().chars().all(|c| c == 'é'));
    }

    #[test]
    fn pieces_beyond_capacity_are_dropped() {
        let mut e = QgaError::generic("a");
        for _ in 0..20 {
            e = e.lit("b");
        }
        assert_eq!(e.pieces().len(), MAX_PIECES);
    }
}
