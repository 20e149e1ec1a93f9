//! Command arguments: the schema check qemu-ga's generated marshallers do,
//! and the typed argument structs handlers receive.
//!
//! Contract:
//! * [`check`] visits a command's [`Field`]s in schema order; the first
//!   missing or ill-typed member wins (`Parameter 'x' is missing`, `Invalid
//!   parameter type for 'x', expected: integer`, `Parameter 'x' expects
//!   uint64`, `Parameter 'whence' does not accept value 'foo'`); list
//!   elements and members of struct elements are named as qemu names them
//!   (`vcpus[1].online`); only when every member passed are leftover keys
//!   reported (`Parameter 'foo' is unexpected`, also for commands without
//!   arguments). qemu-ga reports the first leftover key in its hash table's
//!   order; we report the first in the request, which only differs when a
//!   request has several unexpected keys.
//! * Each command's arguments are one struct declared with [`arguments!`](crate::arguments):
//!   the macro derives both the field list the check uses and the decoder
//!   that builds the struct from the checked spans, so a table row and its
//!   handler cannot disagree. Decoding cannot fail: the check already proved
//!   every value's type.
//! * A field's type carries its own check function, so a board that links a
//!   few commands links only the checks those need.

use core::ops::Range;

use crate::error::{ParamName, QgaError};
use crate::json::walk::{Elements, Kind, Members, kind_at, str_eq};
use crate::platform::{CaptureMode, Whence};

/// Checks one value against a member's type; on failure writes the error
/// into the last argument and returns false.
pub type CheckFn = fn(&[u8], Range<usize>, &ParamName, &mut QgaError) -> bool;

/// One member of a command's argument struct.
#[derive(Clone, Copy)]
pub struct Field {
    /// Wire name.
    pub name: &'static str,
    /// Whether it may be omitted.
    pub optional: bool,
    check: CheckFn,
}

impl core::fmt::Debug for Field {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Field")
            .field("name", &self.name)
            .field("optional", &self.optional)
            .finish()
    }
}

impl Field {
    /// The member `name` of type `T`.
    pub const fn of<T: Arg>(name: &'static str) -> Field {
        Field {
            name,
            optional: T::OPTIONAL,
            check: T::CHECK,
        }
    }
}

/// Most members of one argument struct (`guest-exec` has five).
pub const MAX_FIELDS: usize = 5;

/// Value ranges of the members that were given, by schema position.
#[derive(Clone, Debug, Default)]
pub struct Spans {
    spans: [Option<(u32, u32)>; MAX_FIELDS],
}

impl Spans {
    /// The value range of member `i`, if given.
    pub fn get(&self, i: usize) -> Option<Range<usize>> {
        self.spans
            .get(i)
            .copied()
            .flatten()
            .map(|(s, e)| s as usize..e as usize)
    }
}

fn pack(r: &Range<usize>) -> (u32, u32) {
    (
        u32::try_from(r.start).unwrap_or(u32::MAX),
        u32::try_from(r.end).unwrap_or(u32::MAX),
    )
}

/// Validates `arguments` (the object at `args`, or none) against `fields`.
/// On failure the error is written into `err` and `None` returned.
pub fn check(
    buf: &[u8],
    args: Option<Range<usize>>,
    fields: &[Field],
    err: &mut QgaError,
) -> Option<Spans> {
    let mut out = Spans::default();
    // One walk over the members (a value can be megabytes long; walking it
    // once per field would cost a pass each): the last value of each known
    // field (duplicates were rejected earlier) and the first unknown key.
    let mut unknown = None;
    if let Some(a) = args.as_ref() {
        for (key, value) in Members::new(buf, a.start) {
            match fields
                .iter()
                .position(|f| str_eq(buf, key.clone(), f.name.as_bytes()))
            {
                Some(i) => {
                    if let Some(slot) = out.spans.get_mut(i) {
                        *slot = Some(pack(&value));
                    }
                }
                None => {
                    if unknown.is_none() {
                        unknown = Some(key);
                    }
                }
            }
        }
    }
    // qemu-ga's order: fields in schema order (missing, then type), then
    // the first member nobody asked for.
    for (i, f) in fields.iter().enumerate() {
        let Some(value) = out.get(i) else {
            if f.optional {
                continue;
            }
            err.missing(&ParamName::top(f.name));
            return None;
        };
        if !(f.check)(buf, value, &ParamName::top(f.name), err) {
            return None;
        }
    }
    if let Some(key) = unknown {
        err.unexpected(&ParamName::key(key));
        return None;
    }
    Some(out)
}

/// A command's argument struct (declare one with [`arguments!`](crate::arguments)).
pub trait Arguments: Sized {
    /// Its members, in schema order.
    const FIELDS: &'static [Field];
    /// Builds the struct from the spans [`check`] returned for
    /// [`Self::FIELDS`].
    fn decode(buf: &[u8], spans: &Spans) -> Self;
}

/// The arguments of a command that takes none.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoArgs;

impl Arguments for NoArgs {
    const FIELDS: &'static [Field] = &[];
    fn decode(_: &[u8], _: &Spans) -> Self {
        NoArgs
    }
}

/// The type of one argument member: how it is checked and decoded.
pub trait Arg: Sized {
    /// Whether the member may be omitted.
    const OPTIONAL: bool = false;
    /// The type check.
    const CHECK: CheckFn;
    /// The value at `span` (checked); `None` only for an omitted optional
    /// member.
    fn decode(buf: &[u8], span: Option<Range<usize>>) -> Self;
}

/// A required member type (so that `Option<T>` is its optional form).
pub trait Required: Arg {}

impl<T: Required> Arg for Option<T> {
    const OPTIONAL: bool = true;
    const CHECK: CheckFn = T::CHECK;
    fn decode(buf: &[u8], span: Option<Range<usize>>) -> Self {
        span.map(|s| T::decode(buf, Some(s)))
    }
}

/// Declares a command's argument struct: its members with their wire names,
/// in schema order. Generates the struct and its [`Arguments`] impl.
///
/// ```ignore
/// arguments! {
///     /// `guest-file-read`
///     pub struct FileReadArgs {
///         /// The handle.
///         handle: i64 = "handle",
///         /// Bytes wanted (default 4096).
///         count: Option<i64> = "count",
///     }
/// }
/// ```
#[macro_export]
macro_rules! arguments {
    ($(#[$doc:meta])* $vis:vis struct $name:ident {
        $($(#[$fdoc:meta])* $field:ident : $ty:ty = $wire:literal),* $(,)?
    }) => {
        $(#[$doc])*
        #[derive(Clone, Debug)]
        $vis struct $name {
            $($(#[$fdoc])* pub $field: $ty,)*
        }
        impl $crate::args::Arguments for $name {
            const FIELDS: &'static [$crate::args::Field] =
                &[$($crate::args::Field::of::<$ty>($wire)),*];
            #[allow(unused_assignments)]
            fn decode(buf: &[u8], spans: &$crate::args::Spans) -> Self {
                let mut i = 0usize;
                $(
                    let $field = <$ty as $crate::args::Arg>::decode(buf, spans.get(i));
                    i = i.wrapping_add(1);
                )*
                $name { $($field,)* }
            }
        }
    };
}

fn kind(buf: &[u8], span: &Option<Range<usize>>) -> Kind {
    span.as_ref()
        .map(|s| kind_at(buf, s.start))
        .unwrap_or(Kind::Invalid)
}

/// Writes `Invalid parameter type for '<name>', expected: <what>`; false.
fn wrong(err: &mut QgaError, name: &ParamName, what: &'static str) -> bool {
    err.invalid_type(name, what);
    false
}

fn check_int(buf: &[u8], v: Range<usize>, name: &ParamName, err: &mut QgaError) -> bool {
    matches!(kind_at(buf, v.start), Kind::Int(_)) || wrong(err, name, "integer")
}

impl Arg for i64 {
    const CHECK: CheckFn = check_int;
    fn decode(buf: &[u8], span: Option<Range<usize>>) -> Self {
        match kind(buf, &span) {
            Kind::Int(v) => v,
            _ => 0,
        }
    }
}
impl Required for i64 {}

fn check_bool(buf: &[u8], v: Range<usize>, name: &ParamName, err: &mut QgaError) -> bool {
    matches!(kind_at(buf, v.start), Kind::Bool(_)) || wrong(err, name, "boolean")
}

impl Arg for bool {
    const CHECK: CheckFn = check_bool;
    fn decode(buf: &[u8], span: Option<Range<usize>>) -> Self {
        kind(buf, &span) == Kind::Bool(true)
    }
}
impl Required for bool {}

/// A string member: its token in the request buffer, decoded by the handler
/// (in place) when it needs the text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Text {
    start: u32,
    end: u32,
}

impl Text {
    /// The string token, quotes included.
    pub fn token(&self) -> Range<usize> {
        self.start as usize..self.end as usize
    }
}

fn check_str(buf: &[u8], v: Range<usize>, name: &ParamName, err: &mut QgaError) -> bool {
    kind_at(buf, v.start) == Kind::String || wrong(err, name, "string")
}

impl Arg for Text {
    const CHECK: CheckFn = check_str;
    fn decode(_: &[u8], span: Option<Range<usize>>) -> Self {
        // A checked string value's span is its token, quotes included (no
        // second scan of what may be megabytes of base64).
        let (start, end) = pack(&span.unwrap_or(0..0));
        Text { start, end }
    }
}
impl Required for Text {}

/// `GuestFileWhence`: an integer or `set`/`cur`/`end`. An integer other
/// than 0, 1, 2 passes the check (qemu-ga rejects it in the command, with
/// `invalid whence code <n>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhenceArg {
    /// A known origin.
    Known(Whence),
    /// Another integer.
    Code(i64),
}

fn check_whence(buf: &[u8], v: Range<usize>, name: &ParamName, err: &mut QgaError) -> bool {
    match kind_at(buf, v.start) {
        Kind::Int(_) => true,
        Kind::Uint(_) | Kind::Double => wrong(err, name, "integer"),
        Kind::String => enum_value(buf, v, name, &["set", "cur", "end"], err),
        _ => wrong(err, name, "GuestFileWhence"),
    }
}

/// Whether the string at `v` is one of `values`; else writes qemu's "does
/// not accept value" error.
fn enum_value(
    buf: &[u8],
    v: Range<usize>,
    name: &ParamName,
    values: &[&str],
    err: &mut QgaError,
) -> bool {
    if values.iter().any(|s| str_eq(buf, v.clone(), s.as_bytes())) {
        return true;
    }
    err.generic("Parameter '")
        .name(name)
        .lit("' does not accept value '")
        .req_str(v)
        .lit("'");
    false
}

impl Arg for WhenceArg {
    const CHECK: CheckFn = check_whence;
    fn decode(buf: &[u8], span: Option<Range<usize>>) -> Self {
        match kind(buf, &span) {
            Kind::Int(0) => WhenceArg::Known(Whence::Set),
            Kind::Int(1) => WhenceArg::Known(Whence::Cur),
            Kind::Int(2) => WhenceArg::Known(Whence::End),
            Kind::Int(n) => WhenceArg::Code(n),
            _ => {
                let s = span.unwrap_or(0..0);
                WhenceArg::Known(if str_eq(buf, s.clone(), b"set") {
                    Whence::Set
                } else if str_eq(buf, s, b"cur") {
                    Whence::Cur
                } else {
                    Whence::End
                })
            }
        }
    }
}
impl Required for WhenceArg {}

const CAPTURE_MODES: [&str; 5] = ["none", "stdout", "stderr", "separated", "merged"];

fn check_capture(buf: &[u8], v: Range<usize>, name: &ParamName, err: &mut QgaError) -> bool {
    match kind_at(buf, v.start) {
        Kind::Bool(_) => true,
        Kind::String => enum_value(buf, v, name, &CAPTURE_MODES, err),
        _ => wrong(err, name, "GuestExecCaptureOutput"),
    }
}

/// `GuestExecCaptureOutput` (qemu-ga 8.1): a boolean, or a
/// `GuestExecCaptureOutputMode` name.
impl Arg for CaptureMode {
    const CHECK: CheckFn = check_capture;
    fn decode(buf: &[u8], span: Option<Range<usize>>) -> Self {
        match kind(buf, &span) {
            Kind::Bool(true) => CaptureMode::Separated,
            Kind::String => {
                let s = span.unwrap_or(0..0);
                match CAPTURE_MODES
                    .iter()
                    .position(|m| str_eq(buf, s.clone(), m.as_bytes()))
                {
                    Some(1) => CaptureMode::Stdout,
                    Some(2) => CaptureMode::Stderr,
                    Some(3) => CaptureMode::Separated,
                    Some(4) => CaptureMode::Merged,
                    _ => CaptureMode::None,
                }
            }
            _ => CaptureMode::None,
        }
    }
}
impl Required for CaptureMode {}

/// A list member: its `[...]` in the request buffer. The element type is
/// the const parameter: one of [`STR_LIST`], [`VCPU_LIST`],
/// [`MEM_BLOCK_LIST`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct List<const ELEM: u8> {
    start: u32,
    end: u32,
}

/// `['str']`
pub const STR_LIST: u8 = 0;
/// `['GuestLogicalProcessor']`
pub const VCPU_LIST: u8 = 1;
/// `['GuestMemoryBlock']`
pub const MEM_BLOCK_LIST: u8 = 2;

/// `['str']`
pub type StrListArg = List<STR_LIST>;
/// `['GuestLogicalProcessor']`
pub type VcpuListArg = List<VCPU_LIST>;
/// `['GuestMemoryBlock']`
pub type MemBlockListArg = List<MEM_BLOCK_LIST>;

impl<const ELEM: u8> List<ELEM> {
    /// The list's value range.
    pub fn span(&self) -> Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// The list's elements' value ranges.
pub(crate) fn elements<const ELEM: u8>(
    buf: &[u8],
    list: &List<ELEM>,
) -> impl Iterator<Item = Range<usize>> {
    Elements::new(buf, list.start as usize)
}

/// Checks an array whose elements `elem` checks (with the list's name and
/// the element's index).
fn check_array(
    buf: &[u8],
    v: &Range<usize>,
    name: &ParamName,
    err: &mut QgaError,
    elem: fn(&[u8], Range<usize>, &'static str, usize, &mut QgaError) -> bool,
) -> bool {
    if kind_at(buf, v.start) != Kind::Array {
        return wrong(err, name, "array");
    }
    let list = name.top_name();
    Elements::new(buf, v.start)
        .enumerate()
        .all(|(index, e)| elem(buf, e, list, index, err))
}

fn check_str_list(buf: &[u8], v: Range<usize>, name: &ParamName, err: &mut QgaError) -> bool {
    check_array(buf, &v, name, err, |buf, e, list, index, err| {
        check_str(buf, e, &ParamName::elem(list, index), err)
    })
}

fn check_vcpu_list(buf: &[u8], v: Range<usize>, name: &ParamName, err: &mut QgaError) -> bool {
    check_array(buf, &v, name, err, |buf, e, list, index, err| {
        check_struct(buf, e, list, index, "logical-id", false, err)
    })
}

fn check_mem_block_list(buf: &[u8], v: Range<usize>, name: &ParamName, err: &mut QgaError) -> bool {
    check_array(buf, &v, name, err, |buf, e, list, index, err| {
        check_struct(buf, e, list, index, "phys-index", true, err)
    })
}

impl<const ELEM: u8> Arg for List<ELEM> {
    const CHECK: CheckFn = match ELEM {
        STR_LIST => check_str_list,
        VCPU_LIST => check_vcpu_list,
        _ => check_mem_block_list,
    };
    fn decode(_: &[u8], span: Option<Range<usize>>) -> Self {
        let (start, end) = pack(&span.unwrap_or(0..0));
        List { start, end }
    }
}
impl<const ELEM: u8> Required for List<ELEM> {}

/// Checks one `GuestLogicalProcessor` / `GuestMemoryBlock` element:
/// `{<id>: int|uint64, online: bool, can-offline?: bool}`.
fn check_struct(
    buf: &[u8],
    elem: Range<usize>,
    list: &'static str,
    index: usize,
    id_name: &'static str,
    uint: bool,
    err: &mut QgaError,
) -> bool {
    if kind_at(buf, elem.start) != Kind::Object {
        return wrong(err, &ParamName::elem(list, index), "object");
    }
    let members = [(id_name, false), ("online", false), ("can-offline", true)];
    for (i, (mname, optional)) in members.into_iter().enumerate() {
        let found =
            Members::new(buf, elem.start).find(|(k, _)| str_eq(buf, k.clone(), mname.as_bytes()));
        let name = ParamName::elem(list, index).member(mname);
        let Some((_, v)) = found else {
            if optional {
                continue;
            }
            err.missing(&name);
            return false;
        };
        match (i, kind_at(buf, v.start)) {
            (0, Kind::Int(_)) => {}
            (0, Kind::Uint(_)) if uint => {}
            (0, _) if uint => {
                err.expects(&name, "uint64");
                return false;
            }
            (0, _) => return wrong(err, &name, "integer"),
            (_, Kind::Bool(_)) => {}
            _ => return wrong(err, &name, "boolean"),
        }
    }
    for (key, _) in Members::new(buf, elem.start) {
        if !members
            .iter()
            .any(|(n, _)| str_eq(buf, key.clone(), n.as_bytes()))
        {
            err.unexpected(&ParamName::elem(list, index).member_key(key));
            return false;
        }
    }
    true
}

/// Reads the `(id, online)` of a checked `GuestLogicalProcessor` /
/// `GuestMemoryBlock` element: the id as a signed and an unsigned value.
pub(crate) fn id_and_online(buf: &[u8], elem: &Range<usize>, id_name: &str) -> (i64, u64, bool) {
    let mut id = (0i64, 0u64);
    let mut online = false;
    for (k, v) in Members::new(buf, elem.start) {
        if str_eq(buf, k.clone(), id_name.as_bytes()) {
            id = match kind_at(buf, v.start) {
                Kind::Int(i) => (i, i.cast_unsigned()),
                Kind::Uint(u) => (i64::try_from(u).unwrap_or(i64::MAX), u),
                _ => id,
            };
        } else if str_eq(buf, k, b"online") {
            online = kind_at(buf, v.start) == Kind::Bool(true);
        }
    }
    (id.0, id.1, online)
}
