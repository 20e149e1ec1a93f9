//! guest-get-host-name, -osinfo, -timezone, -users, -vcpus, -fsinfo,
//! -memory-blocks, -memory-block-info, guest-network-get-interfaces.
//!
//! Return shapes follow the 4.2 schema field by field; optional fields are
//! omitted when the board does not know them, and keys come in the order
//! qemu-ga 7.2 serialises them (its hash order, wire-protocol.md §3.3).
//!
//! These hooks have no side effects, so their replies are rendered in pieces
//! that can be retried: an object is written whole once the reply buffer has
//! room for it, a list one entry at a time, and after a flush the board is
//! asked again and the entries already sent are skipped. An entry larger
//! than the whole reply buffer is left out (and an object too large is sent
//! with its optional strings dropped) so the reply stays valid JSON.

use core::ops::ControlFlow;

use super::{Body, CommandId, Ctx};
use crate::error::{HookError, QgaError};
use crate::json::out::{Out, escape_str};
use crate::platform::{
    DiskAddress, FsInfo, IpKind, MemoryBlock, NetInterface, OsInfo, Platform, Timezone, User, Vcpu,
};

/// Which board object a reply renders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ObjectKind {
    HostName,
    OsInfo,
    Timezone,
}

/// Which board list a reply renders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ListKind {
    Interfaces,
    Vcpus,
    FsInfo,
    MemoryBlocks,
    Users,
}

fn object_kind(id: CommandId) -> ObjectKind {
    match id {
        CommandId::GetHostName => ObjectKind::HostName,
        CommandId::GetTimezone => ObjectKind::Timezone,
        _ => ObjectKind::OsInfo,
    }
}

fn list_kind(id: CommandId) -> ListKind {
    match id {
        CommandId::NetworkGetInterfaces => ListKind::Interfaces,
        CommandId::GetVcpus => ListKind::Vcpus,
        CommandId::GetFsinfo => ListKind::FsInfo,
        CommandId::GetMemoryBlocks => ListKind::MemoryBlocks,
        _ => ListKind::Users,
    }
}

fn hook_error(e: HookError) -> QgaError {
    e.into_qga(QgaError::generic("failed to query the guest"))
}

/// Handler of the object commands.
pub(super) fn object(ctx: &mut Ctx<'_, '_>) -> Result<Body, QgaError> {
    let kind = object_kind(ctx.id);
    match render_object(kind, ctx.platform, &mut ctx.out, false) {
        Ok(true) => Ok(Body::Rendered),
        Ok(false) => Ok(Body::Object(kind)),
        Err(e) => Err(hook_error(e)),
    }
}

/// Handler of the list commands.
pub(super) fn list(ctx: &mut Ctx<'_, '_>) -> Result<Body, QgaError> {
    let kind = list_kind(ctx.id);
    ctx.out.str("[");
    let (done, complete) =
        render_list(kind, ctx.platform, &mut ctx.out, 0, false).map_err(hook_error)?;
    if complete {
        ctx.out.str("]");
        if ctx.out.ok() {
            return Ok(Body::Rendered);
        }
    }
    Ok(Body::List { kind, done })
}

/// `guest-get-memory-block-info`.
pub(super) fn memory_block_info(ctx: &mut Ctx<'_, '_>) -> Result<Body, QgaError> {
    let size = ctx.platform.memory_block_size().map_err(hook_error)?;
    ctx.out.str("{\"size\": ");
    ctx.out.u64(size);
    ctx.out.str("}");
    Ok(Body::Rendered)
}

/// Writes `"key": "value", ` when `value` is given.
fn opt_str(out: &mut Out<'_>, key: &str, value: Option<&str>, first: &mut bool) {
    if let Some(v) = value {
        if !*first {
            out.str(", ");
        }
        *first = false;
        out.key(key);
        out.quoted(v.as_bytes());
    }
}

/// Writes a string clipped to what fits while keeping `reserve` bytes free.
fn quoted_clipped(out: &mut Out<'_>, s: &str, reserve: usize) {
    out.str("\"");
    let room = out.remaining().saturating_sub(reserve.saturating_add(1));
    let mut tmp_len = 0usize;
    {
        let spare = out.spare();
        let limit = room.min(spare.len());
        let mut w = Out::new(spare.get_mut(..limit).unwrap_or(&mut []));
        escape_str(s.as_bytes(), 0, &mut w);
        tmp_len = tmp_len.saturating_add(w.len());
    }
    out.advance(tmp_len);
    out.str("\"");
}

/// Renders a board object. `fallback` drops optional strings and clips
/// required ones so that the object fits an empty reply buffer.
///
/// Returns `Ok(false)` (nothing kept) when it does not fit.
pub(crate) fn render_object(
    kind: ObjectKind,
    platform: &mut dyn Platform,
    out: &mut Out<'_>,
    fallback: bool,
) -> Result<bool, HookError> {
    let mark = out.len();
    match kind {
        ObjectKind::HostName => platform.host_name(&mut |name| {
            out.str("{\"host-name\": ");
            if fallback {
                quoted_clipped(out, name, 1);
            } else {
                out.quoted(name.as_bytes());
            }
            out.str("}");
        })?,
        ObjectKind::Timezone => platform.timezone(&mut |tz: &Timezone<'_>| {
            out.str("{");
            if let (Some(z), false) = (tz.zone, fallback) {
                out.key("zone");
                out.quoted(z.as_bytes());
                out.str(", ");
            }
            out.key("offset");
            out.i64(tz.offset);
            out.str("}");
        })?,
        ObjectKind::OsInfo => platform.os_info(&mut |i: &OsInfo<'_>| {
            out.str("{");
            if !fallback {
                let mut first = true;
                opt_str(out, "name", i.name, &mut first);
                opt_str(out, "kernel-release", i.kernel_release, &mut first);
                opt_str(out, "version", i.version, &mut first);
                opt_str(out, "variant", i.variant, &mut first);
                opt_str(out, "pretty-name", i.pretty_name, &mut first);
                opt_str(out, "version-id", i.version_id, &mut first);
                opt_str(out, "variant-id", i.variant_id, &mut first);
                opt_str(out, "kernel-version", i.kernel_version, &mut first);
                opt_str(out, "machine", i.machine, &mut first);
                opt_str(out, "id", i.id, &mut first);
            }
            out.str("}");
        })?,
    }
    if out.ok() && out.len() > mark {
        Ok(true)
    } else {
        out.truncate(mark);
        Ok(false)
    }
}

/// Renders list entries after the first `skip` while they fit, each preceded
/// by `, ` except the very first. Returns (entries written in total, whether
/// the list is complete).
///
/// `buffer_empty` says the whole reply buffer is empty: an entry that does
/// not fit then can never fit, and is left out so the list makes progress.
pub(crate) fn render_list(
    kind: ListKind,
    platform: &mut dyn Platform,
    out: &mut Out<'_>,
    skip: u32,
    buffer_empty: bool,
) -> Result<(u32, bool), HookError> {
    let mut index: u32 = 0;
    let mut done = skip;
    let mut full = false;
    let alone = buffer_empty && out.is_empty();
    let mut entry = |out: &mut Out<'_>, render: &mut dyn FnMut(&mut Out<'_>)| -> ControlFlow<()> {
        let i = index;
        index = index.saturating_add(1);
        if i < skip {
            return ControlFlow::Continue(());
        }
        let mark = out.len();
        if i > 0 {
            out.str(", ");
        }
        render(out);
        if out.ok() {
            done = done.saturating_add(1);
            ControlFlow::Continue(())
        } else {
            out.truncate(mark);
            if alone && done == skip {
                // Too large for the whole buffer: leave it out.
                done = done.saturating_add(1);
                return ControlFlow::Continue(());
            }
            full = true;
            ControlFlow::Break(())
        }
    };
    match kind {
        ListKind::Vcpus => platform.vcpus(&mut |v: &Vcpu| {
            entry(out, &mut |o| {
                o.str("{\"online\": ");
                o.bool(v.online);
                if let Some(c) = v.can_offline {
                    o.str(", \"can-offline\": ");
                    o.bool(c);
                }
                o.str(", \"logical-id\": ");
                o.i64(v.logical_id);
                o.str("}");
            })
        })?,
        ListKind::MemoryBlocks => platform.memory_blocks(&mut |m: &MemoryBlock| {
            entry(out, &mut |o| {
                o.str("{\"online\": ");
                o.bool(m.online);
                if let Some(c) = m.can_offline {
                    o.str(", \"can-offline\": ");
                    o.bool(c);
                }
                o.str(", \"phys-index\": ");
                o.u64(m.phys_index);
                o.str("}");
            })
        })?,
        ListKind::Users => platform.users(&mut |u: &User<'_>| {
            entry(out, &mut |o| {
                o.str("{\"login-time\": ");
                o.f64(u.login_time);
                if let Some(d) = u.domain {
                    o.str(", \"domain\": ");
                    o.quoted(d.as_bytes());
                }
                o.str(", \"user\": ");
                o.quoted(u.user.as_bytes());
                o.str("}");
            })
        })?,
        ListKind::FsInfo => {
            platform.fs_info(&mut |f: &FsInfo<'_>| entry(out, &mut |o| render_fs(o, f)))?
        }
        ListKind::Interfaces => platform.network_interfaces(&mut |n: &NetInterface<'_>| {
            entry(out, &mut |o| render_iface(o, n))
        })?,
    }
    Ok((done, !full))
}

fn render_fs(o: &mut Out<'_>, f: &FsInfo<'_>) {
    o.str("{\"name\": ");
    o.quoted(f.name.as_bytes());
    if let Some(t) = f.total_bytes {
        o.str(", \"total-bytes\": ");
        o.u64(t);
    }
    o.str(", \"mountpoint\": ");
    o.quoted(f.mountpoint.as_bytes());
    o.str(", \"disk\": [");
    for (i, d) in f.disks.iter().enumerate() {
        if i > 0 {
            o.str(", ");
        }
        render_disk(o, d);
    }
    o.str("]");
    if let Some(u) = f.used_bytes {
        o.str(", \"used-bytes\": ");
        o.u64(u);
    }
    o.str(", \"type\": ");
    o.quoted(f.fs_type.as_bytes());
    o.str("}");
}

fn render_disk(o: &mut Out<'_>, d: &DiskAddress<'_>) {
    o.str("{");
    if let Some(s) = d.serial {
        o.str("\"serial\": ");
        o.quoted(s.as_bytes());
        o.str(", ");
    }
    o.str("\"bus-type\": ");
    o.quoted(d.bus_type.as_bytes());
    o.str(", \"bus\": ");
    o.i64(d.bus);
    o.str(", \"unit\": ");
    o.i64(d.unit);
    o.str(", \"pci-controller\": {\"bus\": ");
    o.i64(d.pci_controller.bus);
    o.str(", \"slot\": ");
    o.i64(d.pci_controller.slot);
    o.str(", \"domain\": ");
    o.i64(d.pci_controller.domain);
    o.str(", \"function\": ");
    o.i64(d.pci_controller.function);
    o.str("}");
    if let Some(dev) = d.dev {
        o.str(", \"dev\": ");
        o.quoted(dev.as_bytes());
    }
    o.str(", \"target\": ");
    o.i64(d.target);
    o.str("}");
}

fn render_iface(o: &mut Out<'_>, n: &NetInterface<'_>) {
    o.str("{\"name\": ");
    o.quoted(n.name.as_bytes());
    if !n.addresses.is_empty() {
        o.str(", \"ip-addresses\": [");
        for (i, a) in n.addresses.iter().enumerate() {
            if i > 0 {
                o.str(", ");
            }
            o.str("{\"ip-address-type\": ");
            o.str(match a.kind {
                IpKind::V4 => "\"ipv4\"",
                IpKind::V6 => "\"ipv6\"",
            });
            o.str(", \"ip-address\": ");
            o.quoted(a.address.as_bytes());
            o.str(", \"prefix\": ");
            o.i64(a.prefix);
            o.str("}");
        }
        o.str("]");
    }
    if let Some(s) = n.statistics {
        let fields = [
            ("tx-packets", s.tx_packets),
            ("tx-errs", s.tx_errs),
            ("rx-bytes", s.rx_bytes),
            ("rx-dropped", s.rx_dropped),
            ("rx-packets", s.rx_packets),
            ("rx-errs", s.rx_errs),
            ("tx-bytes", s.tx_bytes),
            ("tx-dropped", s.tx_dropped),
        ];
        o.str(", \"statistics\": {");
        for (i, (k, v)) in fields.iter().enumerate() {
            if i > 0 {
                o.str(", ");
            }
            o.key(k);
            o.u64(*v);
        }
        o.str("}");
    }
    if let Some(h) = n.hardware_address {
        o.str(", \"hardware-address\": ");
        o.quoted(h.as_bytes());
    }
    o.str("}");
}
