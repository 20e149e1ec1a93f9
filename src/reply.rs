//! The reply writer: the reply buffer, and replies written into it piece by
//! piece.
//!
//! Contract:
//! * [`Tx`] is the reply buffer: bytes `head..len` wait for the transport;
//!   replies are appended after them, and pending bytes move to the front
//!   only when a writer needs the space.
//! * A [`Reply`] is qemu-ga's envelope around a return value or an error,
//!   byte for byte (wire-protocol.md §3.1): `{"return": <value>, "id":
//!   <id>}` and `{"id": <id>, "error": {"class": …, "desc": …}}`, one line
//!   each. [`Reply::write`] writes whole pieces while they fit and resumes
//!   where it stopped, so any reply goes out through any buffer of at least
//!   [`crate::config::MIN_TX_BYTES`]: the return value's continuation, the
//!   echoed `id` ([`IdEcho`] splits even a single long token) and the error
//!   description (its pieces are escaped and streamed from the request
//!   buffer) all resume mid-way.
//! * The `{"return": ` prefix and any 0xFF sentinel are written by the agent
//!   before the handler runs, so a handler's value lands right after them.

use core::ops::Range;

use crate::commands::{Call, Continuation};
use crate::error::{Piece, QgaError};
use crate::json::out::{IdEcho, Out, escape_decoded, escape_str};
use crate::platform::Platform;

/// The reply buffer.
pub(crate) struct Tx<'s> {
    buf: &'s mut [u8],
    head: usize,
    len: usize,
}

impl<'s> Tx<'s> {
    pub fn new(buf: &'s mut [u8]) -> Self {
        Tx {
            buf,
            head: 0,
            len: 0,
        }
    }

    /// Bytes waiting for the transport.
    pub fn pending(&self) -> &[u8] {
        self.buf.get(self.head..self.len).unwrap_or(&[])
    }

    pub fn is_empty(&self) -> bool {
        self.head >= self.len
    }

    /// The buffer's size.
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// Space left for new reply bytes (after compaction).
    pub fn free(&self) -> usize {
        self.buf
            .len()
            .saturating_sub(self.len.saturating_sub(self.head))
    }

    /// The transport took `n` pending bytes.
    pub fn consume(&mut self, n: usize) {
        self.head = self.head.saturating_add(n).min(self.len);
        if self.head == self.len {
            self.clear();
        }
    }

    /// Forgets everything (a new client).
    pub fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
    }

    /// A writer over all free space (pending bytes moved to the front).
    /// Its bytes become pending with [`Self::commit`].
    pub fn writer(&mut self) -> Out<'_> {
        if self.head > 0 {
            crate::mem::move_down(self.buf, self.head, self.len);
            self.len = self.len.saturating_sub(self.head);
            self.head = 0;
        }
        Out::new(self.buf.get_mut(self.len..).unwrap_or(&mut []))
    }

    /// The free space as one slice, for a writer built outside (the caller
    /// commits what it wrote).
    pub fn tail(&mut self) -> &mut [u8] {
        self.buf.get_mut(self.len..).unwrap_or(&mut [])
    }

    /// `n` bytes after the pending ones were written.
    pub fn commit(&mut self, n: usize) {
        self.len = self.len.saturating_add(n).min(self.buf.len());
    }

    /// Where the next reply byte goes (for [`Self::truncate`]).
    pub fn end(&self) -> usize {
        self.len
    }

    /// Drops reply bytes from `end` on (a reply that will not be sent).
    pub fn truncate(&mut self, end: usize) {
        self.len = end.max(self.head).min(self.len);
        if self.head == self.len {
            self.clear();
        }
    }
}

/// Where a success reply is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReturnPhase {
    /// The value (its continuation, if it has one).
    Value,
    /// `, "id": `
    IdKey,
    /// The id.
    Id,
    /// `}` and the newline.
    Close,
}

/// Where an error reply is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ErrorPhase {
    /// `{"id": ` or `{`.
    Open,
    /// The id.
    Id,
    /// The class.
    Class,
    /// The description, piece by piece.
    Desc,
    /// `"}}` and the newline.
    Close,
}

enum Kind<P: Platform> {
    Return {
        value: Option<Continuation<P>>,
        phase: ReturnPhase,
    },
    /// The description is the agent's one error ([`Call::err`]).
    Error {
        phase: ErrorPhase,
        /// Description piece being written, and the offset inside it.
        piece: u8,
        offset: u32,
    },
}

/// A reply in progress (one exists at a time).
pub(crate) struct Reply<P: Platform> {
    id: Option<Range<usize>>,
    echo: IdEcho,
    kind: Kind<P>,
}

impl<P: Platform> Reply<P> {
    /// The rest of a success reply whose `{"return": ` and value (or the
    /// value's first pieces) are written.
    pub fn success(value: Option<Continuation<P>>, id: Option<Range<usize>>) -> Self {
        Reply {
            echo: IdEcho::new(id.clone().unwrap_or(0..0)),
            id,
            kind: Kind::Return {
                value,
                phase: ReturnPhase::Value,
            },
        }
    }

    /// An error reply, of the error in [`Call::err`].
    pub fn error(id: Option<Range<usize>>) -> Self {
        Reply {
            echo: IdEcho::new(id.clone().unwrap_or(0..0)),
            id,
            kind: Kind::Error {
                phase: ErrorPhase::Open,
                piece: 0,
                offset: 0,
            },
        }
    }

    /// Writes as much as fits into `call.out`; true once complete.
    pub fn write(&mut self, call: &mut Call<'_, '_, P>) -> bool {
        match &mut self.kind {
            Kind::Return { value, phase } => {
                write_return(value, phase, &self.id, &mut self.echo, call)
            }
            Kind::Error {
                phase,
                piece,
                offset,
            } => {
                let mut desc = Desc {
                    err: call.err,
                    piece,
                    offset,
                };
                write_error(
                    phase,
                    &self.id,
                    &mut self.echo,
                    &mut desc,
                    call.rx,
                    &mut call.out,
                )
            }
        }
    }
}

fn write_return<P: Platform>(
    value: &mut Option<Continuation<P>>,
    phase: &mut ReturnPhase,
    id: &Option<Range<usize>>,
    echo: &mut IdEcho,
    call: &mut Call<'_, '_, P>,
) -> bool {
    loop {
        let mark = call.out.len();
        let next = match *phase {
            ReturnPhase::Value => {
                if let Some(c) = value.as_mut() {
                    call.alone = call.alone && mark == 0;
                    if !(c.step)(call, &mut c.progress) {
                        return false;
                    }
                    *value = None;
                }
                if id.is_some() {
                    ReturnPhase::IdKey
                } else {
                    ReturnPhase::Close
                }
            }
            ReturnPhase::IdKey => {
                call.out.str(", \"id\": ");
                ReturnPhase::Id
            }
            ReturnPhase::Id => {
                if !echo.step(call.rx, &mut call.out) {
                    return false;
                }
                ReturnPhase::Close
            }
            ReturnPhase::Close => {
                call.out.str("}\n");
                if call.out.ok() {
                    return true;
                }
                ReturnPhase::Close
            }
        };
        if !call.out.ok() {
            call.out.truncate(mark);
            return false;
        }
        *phase = next;
    }
}

/// An error's description and how far it is written.
struct Desc<'e> {
    err: &'e QgaError,
    piece: &'e mut u8,
    offset: &'e mut u32,
}

fn write_error(
    phase: &mut ErrorPhase,
    id: &Option<Range<usize>>,
    echo: &mut IdEcho,
    desc: &mut Desc<'_>,
    rx: &[u8],
    out: &mut Out<'_>,
) -> bool {
    loop {
        let mark = out.len();
        let next = match *phase {
            ErrorPhase::Open => {
                if id.is_some() {
                    out.str("{\"id\": ");
                    ErrorPhase::Id
                } else {
                    out.str("{");
                    ErrorPhase::Class
                }
            }
            ErrorPhase::Id => {
                if !echo.step(rx, out) {
                    return false;
                }
                out.str(", ");
                ErrorPhase::Class
            }
            ErrorPhase::Class => {
                out.str("\"error\": {\"class\": \"");
                out.str(desc.err.class().as_str());
                out.str("\", \"desc\": \"");
                ErrorPhase::Desc
            }
            ErrorPhase::Desc => {
                if !write_desc(desc, rx, out) {
                    return false;
                }
                ErrorPhase::Close
            }
            ErrorPhase::Close => {
                out.str("\"}}\n");
                if out.ok() {
                    return true;
                }
                ErrorPhase::Close
            }
        };
        if !out.ok() {
            out.truncate(mark);
            return false;
        }
        *phase = next;
    }
}

/// Streams the error description's pieces, escaped.
fn write_desc(d: &mut Desc<'_>, rx: &[u8], out: &mut Out<'_>) -> bool {
    while let Some(p) = d.err.pieces().get(usize::from(*d.piece)).copied() {
        let at = *d.offset as usize;
        let finished = match p {
            Piece::Lit(s) => stream_escaped(s.as_bytes(), at, d.offset, out),
            Piece::Req { start, end } => {
                let bytes = rx.get(start as usize..end as usize).unwrap_or(&[]);
                stream_escaped(bytes, at, d.offset, out)
            }
            Piece::ReqStr { start, end } => {
                // The token body, decoded then escaped.
                let body_start = (start as usize).wrapping_add(1);
                let body_end = (end as usize).saturating_sub(1).max(body_start);
                let body = rx.get(..body_end).unwrap_or(&[]);
                let from = body_start.wrapping_add(at);
                let next = escape_decoded(body, from, out);
                *d.offset = u32::try_from(next.saturating_sub(body_start)).unwrap_or(u32::MAX);
                next >= body_end
            }
            Piece::Int(..) => {
                let mark = out.len();
                out.i64(p.int_value());
                if out.ok() {
                    true
                } else {
                    out.truncate(mark);
                    false
                }
            }
        };
        if !finished {
            return false;
        }
        *d.piece = d.piece.wrapping_add(1);
        *d.offset = 0;
    }
    true
}

fn stream_escaped(bytes: &[u8], at: usize, offset: &mut u32, out: &mut Out<'_>) -> bool {
    let next = escape_str(bytes, at, out);
    *offset = u32::try_from(next).unwrap_or(u32::MAX);
    next >= bytes.len()
}
