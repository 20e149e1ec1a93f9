//! The envelope: from one framed message to `execute`, `arguments` and `id`.
//!
//! Contract: [`parse`] is a pure function of the message bytes (and a
//! scratch table for duplicate keys). It checks, in qemu-ga 7.2's order and
//! with its texts (wire-protocol.md §2):
//! 1. the JSON syntax (`JSON parse error, …`, duplicate keys included);
//! 2. that the message is an object (`QMP input must be a JSON object`);
//! 3. its members, in the order of QEMU's QDict buckets: `execute` must be a
//!    string, `arguments` an object, `id` anything, and nothing else is
//!    allowed (`QMP input member 'x' is unexpected`, `exec-oob` included);
//! 4. that `execute` is there (`QMP input lacks member 'execute'`).
//!
//! The `id` is returned with errors from step 3 on, so the reply can echo
//! it. Frames that are not messages get their errors from [`stray`] and
//! [`limit`]. Nothing here allocates, recurses or panics.

use core::ops::Range;

use crate::error::QgaError;
use crate::json::frame::Limit;
use crate::json::lex::TokenKind;
use crate::json::parse::{KeySlot, SyntaxError, validate};
use crate::json::walk::{Kind, Members, kind_at, qdict_bucket, str_eq, token_at};

/// A request whose envelope is valid: ranges into the message buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The `execute` string token (quotes included).
    pub execute: Range<usize>,
    /// The `arguments` object, if given.
    pub arguments: Option<Range<usize>>,
    /// The `id` value, if given.
    pub id: Option<Range<usize>>,
}

/// The `id` value to echo with an envelope error (none when the message
/// was not an object or had no `id`).
pub type Rejected = Option<Range<usize>>;

/// Checks the message `buf[msg]`; see the module documentation.
///
/// # Errors
/// The first envelope error, in qemu-ga's order, is written into `err`; the
/// `id` to echo with it is returned.
pub fn parse(
    buf: &[u8],
    msg: Range<usize>,
    keys: &mut [KeySlot],
    err: &mut QgaError,
) -> Result<Request, Rejected> {
    let buf = buf.get(..msg.end).unwrap_or(&[]);
    // 1. Syntax.
    let top = match validate(buf, msg.start, keys) {
        Ok(top) => top,
        Err(e) => {
            let err = err.generic("JSON parse error, ");
            match e {
                SyntaxError::InvalidKeyword(r) => err.lit("invalid keyword '").req(r).lit("'"),
                SyntaxError::InvalidUnicode(r) => {
                    err.req(r).lit(" is not a valid Unicode character")
                }
                other => err.lit(other.text()),
            };
            return Err(None);
        }
    };
    // 2. An object.
    if top != TokenKind::LCurly {
        err.generic("QMP input must be a JSON object");
        return Err(None);
    }
    // 3. Members, checked in qemu-ga's QDict order: the first bad member by
    // bucket, and within a bucket the later member first.
    const KEYS: [&[u8]; 3] = [b"execute", b"arguments", b"id"];
    let mut found: [Option<Range<usize>>; 3] = [None, None, None];
    // (QDict order, which known key, the key's token)
    type Bad = ((u32, u32), Option<usize>, Range<usize>);
    let mut first_bad: Option<Bad> = None;
    for (index, (key, value)) in Members::new(buf, msg.start).enumerate() {
        let which = KEYS.iter().position(|k| str_eq(buf, key.clone(), k));
        let ok = match which {
            Some(0) => token_at(buf, value.start).map(|t| t.kind) == Some(TokenKind::String),
            Some(1) => kind_at(buf, value.start) == Kind::Object,
            Some(_) => true,
            None => false,
        };
        if ok {
            if let Some(slot) = which.and_then(|w| found.get_mut(w)) {
                *slot = Some(value);
            }
            continue;
        }
        let order = (
            qdict_bucket(buf, key.clone()),
            u32::MAX.saturating_sub(u32::try_from(index).unwrap_or(u32::MAX)),
        );
        if first_bad.as_ref().is_none_or(|(o, _, _)| order < *o) {
            first_bad = Some((order, which, key));
        }
    }
    let [execute, arguments, id] = found;
    if let Some((_, which, key)) = first_bad {
        match which {
            Some(0) => err.generic("QMP input member 'execute' must be a string"),
            Some(_) => err.generic("QMP input member 'arguments' must be an object"),
            None => err
                .generic("QMP input member '")
                .req_str(key)
                .lit("' is unexpected"),
        };
        return Err(id);
    }
    // 4. `execute` present.
    match execute {
        Some(execute) => Ok(Request {
            execute,
            arguments,
            id,
        }),
        None => {
            err.generic("QMP input lacks member 'execute'");
            Err(id)
        }
    }
}

/// The error for a lexical error: `JSON parse error, stray '<text>'`, the
/// token text up to the bad byte (qemu-ga prints it with `%s`, so a NUL
/// ends it).
pub fn stray(buf: &[u8], token: Range<usize>, err: &mut QgaError) {
    let text = buf.get(token.clone()).unwrap_or(&[]);
    let cut = text.iter().position(|&b| b == 0).unwrap_or(text.len());
    err.generic("JSON parse error, stray '")
        .req(token.start..token.start.wrapping_add(cut))
        .lit("'");
}

/// The error for a message that broke a limit (`capacity`: the request
/// buffer's size).
pub fn limit(limit: Limit, capacity: usize, err: &mut QgaError) {
    match limit {
        Limit::Depth => err.generic("JSON nesting depth limit exceeded"),
        Limit::Size => err
            .generic("JSON token size limit exceeded: request larger than the agent's ")
            .int(i64::try_from(capacity).unwrap_or(i64::MAX))
            .lit("-byte buffer"),
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Piece;

    /// The request, or the error's text and the id to echo.
    fn run(msg: &[u8]) -> Result<Request, (std::string::String, Rejected)> {
        let mut keys = [KeySlot::EMPTY; 16];
        let mut err = QgaError::empty();
        parse(msg, 0..msg.len(), &mut keys, &mut err).map_err(|id| (text(msg, &err), id))
    }

    fn text(msg: &[u8], e: &QgaError) -> std::string::String {
        let mut s = std::string::String::new();
        for p in e.pieces() {
            match *p {
                Piece::Lit(t) => s.push_str(t),
                Piece::Req { start, end } => {
                    s.push_str(core::str::from_utf8(&msg[start as usize..end as usize]).unwrap())
                }
                // Test strings have no escapes: the body between the quotes.
                Piece::ReqStr { start, end } => s.push_str(
                    core::str::from_utf8(&msg[start as usize + 1..end as usize - 1]).unwrap(),
                ),
                Piece::Int(..) => s.push_str(&p.int_value().to_string()),
            }
        }
        s
    }

    #[test]
    fn envelope_with_every_member_returns_their_ranges() {
        let msg = br#"{"id":[1],"arguments":{"a":2},"execute":"guest-ping"}"#;
        let r = run(msg).unwrap();
        assert_eq!(&msg[r.execute], br#""guest-ping""#);
        assert_eq!(&msg[r.arguments.unwrap()], br#"{"a":2}"#);
        assert_eq!(&msg[r.id.unwrap()], b"[1]");
    }

    #[test]
    fn envelope_of_non_object_is_rejected_without_id() {
        let (e, id) = run(b"[1,2]").unwrap_err();
        assert_eq!(id, None);
        assert_eq!(e, "QMP input must be a JSON object");
    }

    #[test]
    fn envelope_with_unexpected_member_echoes_the_id() {
        let msg = br#"{"execute":"guest-ping","foo":1,"id":7}"#;
        let (e, id) = run(msg).unwrap_err();
        assert_eq!(&msg[id.unwrap()], b"7");
        assert_eq!(e, "QMP input member 'foo' is unexpected");
    }

    #[test]
    fn envelope_without_execute_lacks_member() {
        let msg = br#"{"id":"x"}"#;
        let (e, _) = run(msg).unwrap_err();
        assert_eq!(e, "QMP input lacks member 'execute'");
    }

    #[test]
    fn envelope_bad_members_are_reported_in_qdict_order() {
        // `execute` (bucket 75) must be a string; `arguments` (bucket 441)
        // must be an object: qemu-ga reports `execute` first.
        let msg = br#"{"arguments":1,"execute":2}"#;
        let (e, _) = run(msg).unwrap_err();
        assert_eq!(e, "QMP input member 'execute' must be a string");
    }

    #[test]
    fn envelope_syntax_error_names_the_keyword() {
        let msg = br#"{"execute":nul}"#;
        let (e, _) = run(msg).unwrap_err();
        assert_eq!(e, "JSON parse error, invalid keyword 'nul'");
    }
}
