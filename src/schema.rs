//! Argument validation, as qemu-ga's generated marshallers do it.
//!
//! Contract: [`check`] visits the schema's members in schema order; the first
//! missing or ill-typed member wins (`Parameter 'x' is missing`, `Invalid
//! parameter type for 'x', expected: integer`, `Parameter 'x' expects
//! uint64`, `Parameter 'whence' does not accept value 'foo'`); list elements
//! and members of struct elements are named as qemu names them
//! (`vcpus[1].online`); only when every member passed are leftover keys
//! reported (`Parameter 'foo' is unexpected`, also for commands without
//! arguments). qemu-ga reports the first leftover key in its hash table's
//! order; we report the first in the request, which only differs when a
//! request has several unexpected keys.
//!
//! On success the value ranges of the members are returned; handlers read
//! them knowing their types are right.

use core::ops::Range;

use crate::error::{Member, ParamName, QgaError};
use crate::json::walk::{Elements, Kind, Members, kind_at, str_eq};

/// Type of one argument member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    /// `int` (int64)
    Int,
    /// `str`
    Str,
    /// `bool`
    Bool,
    /// `GuestFileWhence`: int or `set`/`cur`/`end`
    Whence,
    /// `['str']`
    StrList,
    /// `['GuestLogicalProcessor']`
    VcpuList,
    /// `['GuestMemoryBlock']`
    MemBlockList,
}

/// One member of a command's argument struct.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    /// Wire name.
    pub name: &'static str,
    /// Type.
    pub ty: Ty,
    /// Whether it may be omitted.
    pub optional: bool,
}

/// Shorthand for a required member.
pub const fn req(name: &'static str, ty: Ty) -> Field {
    Field {
        name,
        ty,
        optional: false,
    }
}

/// Shorthand for an optional member.
pub const fn opt(name: &'static str, ty: Ty) -> Field {
    Field {
        name,
        ty,
        optional: true,
    }
}

/// Most members of one argument struct (`guest-exec` has five).
pub const MAX_FIELDS: usize = 5;

/// Value ranges of the members that were given, by schema position.
#[derive(Clone, Debug, Default)]
pub struct Args {
    spans: [Option<(u32, u32)>; MAX_FIELDS],
}

impl Args {
    /// The value range of member `i`, if given.
    pub fn get(&self, i: usize) -> Option<Range<usize>> {
        self.spans
            .get(i)
            .copied()
            .flatten()
            .map(|(s, e)| s as usize..e as usize)
    }
}

fn span(r: &Range<usize>) -> (u32, u32) {
    (
        u32::try_from(r.start).unwrap_or(u32::MAX),
        u32::try_from(r.end).unwrap_or(u32::MAX),
    )
}

/// Validates `arguments` (the object at `args`, or none) against `fields`.
pub fn check(buf: &[u8], args: Option<Range<usize>>, fields: &[Field]) -> Result<Args, QgaError> {
    let mut out = Args::default();
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
                        *slot = Some(span(&value));
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
            return Err(QgaError::missing(&ParamName::Top(f.name)));
        };
        check_value(buf, value, f.ty, &ParamName::Top(f.name))?;
    }
    if let Some(key) = unknown {
        return Err(QgaError::unexpected(&ParamName::Key(key)));
    }
    Ok(out)
}

/// Reports the first member of the object at `obj` whose key is not among
/// `names`.
fn leftover<'n>(
    buf: &[u8],
    obj: usize,
    names: impl Iterator<Item = &'n str> + Clone,
    name_of: impl Fn(Range<usize>) -> ParamName,
) -> Result<(), QgaError> {
    for (key, _) in Members::new(buf, obj) {
        let known = names
            .clone()
            .any(|n| str_eq(buf, key.clone(), n.as_bytes()));
        if !known {
            return Err(QgaError::unexpected(&name_of(key)));
        }
    }
    Ok(())
}

fn check_value(buf: &[u8], value: Range<usize>, ty: Ty, name: &ParamName) -> Result<(), QgaError> {
    let kind = kind_at(buf, value.start);
    match ty {
        Ty::Int => match kind {
            Kind::Int(_) => Ok(()),
            _ => Err(QgaError::invalid_type(name, "integer")),
        },
        Ty::Str => match kind {
            Kind::String => Ok(()),
            _ => Err(QgaError::invalid_type(name, "string")),
        },
        Ty::Bool => match kind {
            Kind::Bool(_) => Ok(()),
            _ => Err(QgaError::invalid_type(name, "boolean")),
        },
        Ty::Whence => match kind {
            Kind::Int(_) => Ok(()),
            Kind::Uint(_) | Kind::Double => Err(QgaError::invalid_type(name, "integer")),
            Kind::String => {
                let t = value.clone();
                if ["set", "cur", "end"]
                    .iter()
                    .any(|v| str_eq(buf, t.clone(), v.as_bytes()))
                {
                    Ok(())
                } else {
                    Err(QgaError::generic("Parameter '")
                        .name(name)
                        .lit("' does not accept value '")
                        .req_str(t)
                        .lit("'"))
                }
            }
            _ => Err(QgaError::invalid_type(name, "GuestFileWhence")),
        },
        Ty::StrList | Ty::VcpuList | Ty::MemBlockList => {
            if kind != Kind::Array {
                return Err(QgaError::invalid_type(name, "array"));
            }
            let list = match name {
                ParamName::Top(n) => n,
                _ => "",
            };
            for (index, elem) in Elements::new(buf, value.start).enumerate() {
                let ename = ParamName::Elem {
                    list,
                    index,
                    member: None,
                };
                match ty {
                    Ty::StrList => check_value(buf, elem, Ty::Str, &ename)?,
                    Ty::VcpuList => check_struct(buf, elem, list, index, "logical-id", Ty::Int)?,
                    _ => check_struct(buf, elem, list, index, "phys-index", Ty::Int)?,
                }
            }
            Ok(())
        }
    }
}

/// Checks one `GuestLogicalProcessor` / `GuestMemoryBlock` element:
/// `{<id>: int|uint64, online: bool, can-offline?: bool}`.
fn check_struct(
    buf: &[u8],
    elem: Range<usize>,
    list: &'static str,
    index: usize,
    id_name: &'static str,
    _id_ty: Ty,
) -> Result<(), QgaError> {
    let at = |member| ParamName::Elem {
        list,
        index,
        member,
    };
    if kind_at(buf, elem.start) != Kind::Object {
        return Err(QgaError::invalid_type(&at(None), "object"));
    }
    let uint = id_name == "phys-index";
    let members = [(id_name, false), ("online", false), ("can-offline", true)];
    for (mname, optional) in members {
        let found =
            Members::new(buf, elem.start).find(|(k, _)| str_eq(buf, k.clone(), mname.as_bytes()));
        let name = at(Some(Member::Name(mname)));
        let Some((_, v)) = found else {
            if optional {
                continue;
            }
            return Err(QgaError::missing(&name));
        };
        let kind = kind_at(buf, v.start);
        let ok = match (mname, kind) {
            ("online" | "can-offline", Kind::Bool(_)) => true,
            ("online" | "can-offline", _) => return Err(QgaError::invalid_type(&name, "boolean")),
            (_, Kind::Int(_)) => true,
            (_, Kind::Uint(_)) => uint,
            _ => false,
        };
        if !ok {
            return Err(if uint {
                QgaError::expects(&name, "uint64")
            } else {
                QgaError::invalid_type(&name, "integer")
            });
        }
    }
    leftover(buf, elem.start, members.iter().map(|(n, _)| *n), |k| {
        ParamName::Elem {
            list,
            index,
            member: Some(Member::Key(
                u32::try_from(k.start).unwrap_or(u32::MAX),
                u32::try_from(k.end).unwrap_or(u32::MAX),
            )),
        }
    })
}
