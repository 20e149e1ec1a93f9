//! Writing board records: objects member by member in qemu-ga's key order,
//! and lists and objects that survive a full reply buffer.
//!
//! Contract:
//! * [`Obj`] writes one JSON object with qemu-ga's separators; optional
//!   members that are `None` are left out, so a renderer lists members in
//!   the order qemu-ga serialises them (its QDict hash order, computed per
//!   struct in wire-protocol.md §3.3) and nothing else.
//! * Board hooks have no side effects, so their records are rendered in
//!   pieces that can be retried: an object is written whole once the reply
//!   buffer has room for it ([`object`]), a list one entry at a time
//!   ([`list`]); after a flush the board is asked again and the entries
//!   already sent are skipped. An entry larger than the whole reply buffer
//!   is left out, and an object that large is sent in its fallback form
//!   (optional strings dropped), so the reply stays valid JSON.

use core::ops::ControlFlow;

use super::{Call, Outcome, Progress, failed};
use crate::error::HookError;
use crate::json::out::Out;
use crate::platform::Platform;

/// A JSON object being written.
pub(crate) struct Obj<'o, 'b> {
    out: &'o mut Out<'b>,
    first: bool,
}

impl<'o, 'b> Obj<'o, 'b> {
    /// Writes `{`.
    pub fn open(out: &'o mut Out<'b>) -> Self {
        out.str("{");
        Obj { out, first: true }
    }

    /// Writes the key of the next member (and the separator before it).
    pub fn key(&mut self, k: &str) -> &mut Out<'b> {
        if !self.first {
            self.out.str(", ");
        }
        self.first = false;
        self.out.key(k);
        self.out
    }

    /// A string member.
    pub fn str(&mut self, k: &str, v: &str) {
        self.key(k).quoted(v.as_bytes());
    }

    /// A string member, if given.
    pub fn opt_str(&mut self, k: &str, v: Option<&str>) {
        if let Some(v) = v {
            self.str(k, v);
        }
    }

    /// An integer member.
    pub fn int(&mut self, k: &str, v: i64) {
        self.key(k).i64(v);
    }

    /// An integer member, if given.
    pub fn opt_int(&mut self, k: &str, v: Option<i64>) {
        if let Some(v) = v {
            self.int(k, v);
        }
    }

    /// An unsigned integer member.
    pub fn uint(&mut self, k: &str, v: u64) {
        self.key(k).u64(v);
    }

    /// An unsigned integer member, if given.
    pub fn opt_uint(&mut self, k: &str, v: Option<u64>) {
        if let Some(v) = v {
            self.uint(k, v);
        }
    }

    /// A boolean member.
    pub fn bool(&mut self, k: &str, v: bool) {
        self.key(k).bool(v);
    }

    /// A boolean member, if given.
    pub fn opt_bool(&mut self, k: &str, v: Option<bool>) {
        if let Some(v) = v {
            self.bool(k, v);
        }
    }

    /// A number member (C's `%.17g`).
    pub fn float(&mut self, k: &str, v: f64) {
        self.key(k).f64(v);
    }

    /// A member whose value is already JSON (an enum's quoted name).
    pub fn raw(&mut self, k: &str, v: &str) {
        self.key(k).str(v);
    }

    /// A list of strings.
    pub fn str_list(&mut self, k: &str, items: &[&str]) {
        let o = self.key(k);
        o.str("[");
        for (i, s) in items.iter().enumerate() {
            if i > 0 {
                o.str(", ");
            }
            o.quoted(s.as_bytes());
        }
        o.str("]");
    }

    /// Writes `}`.
    pub fn close(self) {
        self.out.str("}");
    }
}

/// Renders a board object into `out`; `fallback` asks for the form without
/// optional strings.
pub(crate) type ObjectFn<P> = fn(&mut P, &mut Out<'_>, bool) -> Result<(), HookError>;

/// Renders a board list's entries through [`Entries::entry`].
pub(crate) type ListFn<P> = fn(&mut P, &mut Entries<'_, '_>) -> Result<(), HookError>;

/// The context of board queries' failures (qemu-ga's texts vary by OS call;
/// boards give their own with [`HookError::Message`]).
const QUERY_FAILED: &str = "failed to query the guest";

/// Writes `render`'s object now if it fits, else leaves a continuation.
pub(crate) fn object<P: Platform>(call: &mut Call<'_, '_, P>, render: ObjectFn<P>) -> Outcome {
    let mark = call.out.len();
    if let Err(e) = render(call.platform, &mut call.out, false) {
        return failed(call.err, e, QUERY_FAILED);
    }
    if call.out.ok() {
        return Outcome::Done;
    }
    call.out.truncate(mark);
    call.more(object_step, Progress::Object(render))
}

fn object_step<P: Platform>(call: &mut Call<'_, '_, P>, progress: &mut Progress<P>) -> bool {
    let Progress::Object(render) = *progress else {
        return true;
    };
    let mark = call.out.len();
    for fallback in [false, true] {
        let r = render(call.platform, &mut call.out, fallback);
        if r.is_ok() && call.out.ok() {
            return true;
        }
        call.out.truncate(mark);
        if r.is_err() {
            break;
        }
        if !call.alone {
            return false;
        }
    }
    // The board failed after the reply started, or even the fallback is
    // larger than the whole buffer: an empty object keeps the reply valid.
    call.out.str("{}");
    call.out.ok()
}

/// The entries of a list being written.
pub(crate) struct Entries<'o, 'b> {
    out: &'o mut Out<'b>,
    /// Entries already sent, skipped this time.
    skip: u32,
    index: u32,
    done: u32,
    full: bool,
    alone: bool,
}

impl<'b> Entries<'_, 'b> {
    /// Writes one entry (unless already sent); `Break` once the buffer is
    /// full.
    pub fn entry(&mut self, render: impl FnOnce(&mut Out<'b>)) -> ControlFlow<()> {
        let i = self.index;
        self.index = self.index.wrapping_add(1);
        if i < self.skip {
            return ControlFlow::Continue(());
        }
        let mark = self.out.len();
        if i > 0 {
            self.out.str(", ");
        }
        render(self.out);
        if self.out.ok() {
            self.done = self.done.wrapping_add(1);
            return ControlFlow::Continue(());
        }
        self.out.truncate(mark);
        if self.alone && self.done == self.skip {
            // Too large for the whole buffer: leave it out.
            self.done = self.done.wrapping_add(1);
            return ControlFlow::Continue(());
        }
        self.full = true;
        ControlFlow::Break(())
    }
}

/// Renders entries after the first `skip`; returns (entries written in
/// total, whether the list is complete).
fn entries<P: Platform>(
    call: &mut Call<'_, '_, P>,
    visit: ListFn<P>,
    skip: u32,
) -> Result<(u32, bool), HookError> {
    let alone = call.alone && call.out.is_empty();
    let mut e = Entries {
        out: &mut call.out,
        skip,
        index: 0,
        done: skip,
        full: false,
        alone,
    };
    visit(call.platform, &mut e)?;
    Ok((e.done, !e.full))
}

/// Writes `visit`'s list, leaving a continuation for what does not fit.
pub(crate) fn list<P: Platform>(call: &mut Call<'_, '_, P>, visit: ListFn<P>) -> Outcome {
    call.out.str("[");
    let (done, complete) = match entries(call, visit, 0) {
        Ok(r) => r,
        Err(e) => return failed(call.err, e, QUERY_FAILED),
    };
    if complete {
        call.out.str("]");
        if call.out.ok() {
            return Outcome::Done;
        }
    }
    call.more(list_step, Progress::List { visit, done })
}

fn list_step<P: Platform>(call: &mut Call<'_, '_, P>, progress: &mut Progress<P>) -> bool {
    let Progress::List { visit, done } = progress else {
        return true;
    };
    // A board that fails after the reply started ends the list there.
    let (n, complete) = entries(call, *visit, *done).unwrap_or((*done, true));
    *done = n;
    if !complete {
        return false;
    }
    call.out.str("]");
    call.out.ok()
}
