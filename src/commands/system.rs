//! guest-get-host-name, -osinfo, -timezone, -users, -load, -cpustats,
//! -devices: the board's [`crate::platform::SystemInfo`].
//!
//! Return shapes follow qemu-ga's schema field by field; optional fields are
//! omitted when the board does not know them, and keys come in the order
//! qemu-ga serialises them (its hash order, wire-protocol.md §3.3).

use super::render::{Entries, Obj, list, object};
use super::{Call, Outcome, command};
use crate::args::NoArgs;
use crate::error::HookError;
use crate::json::out::{Out, escape_str};
use crate::platform::{CpuStats, DeviceInfo, OsInfo, Platform, SystemInfo, Timezone, User};

command!(
    /// `guest-get-host-name`: `{"host-name": …}`.
    GUEST_GET_HOST_NAME = "guest-get-host-name", NoArgs, host_name
);
command!(
    /// `guest-get-users`.
    GUEST_GET_USERS = "guest-get-users", NoArgs, users
);
command!(
    /// `guest-get-timezone`.
    GUEST_GET_TIMEZONE = "guest-get-timezone", NoArgs, timezone
);
command!(
    /// `guest-get-osinfo`.
    GUEST_GET_OSINFO = "guest-get-osinfo", NoArgs, os_info
);
command!(
    /// `guest-get-devices`.
    GUEST_GET_DEVICES = "guest-get-devices", NoArgs, devices
);
command!(
    /// `guest-get-cpustats`.
    GUEST_GET_CPUSTATS = "guest-get-cpustats", NoArgs, cpu_stats
);
command!(
    /// `guest-get-load`.
    GUEST_GET_LOAD = "guest-get-load", NoArgs, load
);

fn system<P: Platform>(p: &mut P) -> Result<&mut dyn SystemInfo, HookError> {
    p.system().ok_or(HookError::Unsupported)
}

/// Writes a string clipped to what fits while keeping `reserve` bytes free
/// (the fallback form of a host name longer than the reply buffer).
fn quoted_clipped(out: &mut Out<'_>, s: &str, reserve: usize) {
    out.str("\"");
    let room = out.remaining().saturating_sub(reserve.wrapping_add(1));
    let spare = out.spare();
    let limit = room.min(spare.len());
    let mut w = Out::new(spare.get_mut(..limit).unwrap_or(&mut []));
    escape_str(s.as_bytes(), 0, &mut w);
    let n = w.len();
    out.advance(n);
    out.str("\"");
}

fn host_name<P: Platform>(call: &mut Call<'_, '_, P>, _: NoArgs) -> Outcome {
    fn render<P: Platform>(p: &mut P, out: &mut Out<'_>, fallback: bool) -> Result<(), HookError> {
        system(p)?.host_name(&mut |name| {
            out.str("{\"host-name\": ");
            if fallback {
                quoted_clipped(out, name, 1);
            } else {
                out.quoted(name.as_bytes());
            }
            out.str("}");
        })
    }
    object(call, render)
}

fn timezone<P: Platform>(call: &mut Call<'_, '_, P>, _: NoArgs) -> Outcome {
    fn render<P: Platform>(p: &mut P, out: &mut Out<'_>, fallback: bool) -> Result<(), HookError> {
        system(p)?.timezone(&mut |tz: &Timezone<'_>| {
            let mut o = Obj::open(out);
            if !fallback {
                o.opt_str("zone", tz.zone);
            }
            o.int("offset", tz.offset);
            o.close();
        })
    }
    object(call, render)
}

fn os_info<P: Platform>(call: &mut Call<'_, '_, P>, _: NoArgs) -> Outcome {
    fn render<P: Platform>(p: &mut P, out: &mut Out<'_>, fallback: bool) -> Result<(), HookError> {
        system(p)?.os_info(&mut |i: &OsInfo<'_>| {
            let mut o = Obj::open(out);
            if !fallback {
                o.opt_str("name", i.name);
                o.opt_str("kernel-release", i.kernel_release);
                o.opt_str("version", i.version);
                o.opt_str("variant", i.variant);
                o.opt_str("pretty-name", i.pretty_name);
                o.opt_str("version-id", i.version_id);
                o.opt_str("variant-id", i.variant_id);
                o.opt_str("kernel-version", i.kernel_version);
                o.opt_str("machine", i.machine);
                o.opt_str("id", i.id);
            }
            o.close();
        })
    }
    object(call, render)
}

fn load<P: Platform>(call: &mut Call<'_, '_, P>, _: NoArgs) -> Outcome {
    fn render<P: Platform>(p: &mut P, out: &mut Out<'_>, _: bool) -> Result<(), HookError> {
        let l = system(p)?.load()?;
        let mut o = Obj::open(out);
        o.float("load15m", l.load15m);
        o.float("load5m", l.load5m);
        o.float("load1m", l.load1m);
        o.close();
        Ok(())
    }
    object(call, render)
}

fn users<P: Platform>(call: &mut Call<'_, '_, P>, _: NoArgs) -> Outcome {
    fn visit<P: Platform>(p: &mut P, e: &mut Entries<'_, '_>) -> Result<(), HookError> {
        system(p)?.users(&mut |u: &User<'_>| {
            e.entry(|o| {
                let mut o = Obj::open(o);
                o.float("login-time", u.login_time);
                o.opt_str("domain", u.domain);
                o.str("user", u.user);
                o.close();
            })
        })
    }
    list(call, visit)
}

fn cpu_stats<P: Platform>(call: &mut Call<'_, '_, P>, _: NoArgs) -> Outcome {
    fn visit<P: Platform>(p: &mut P, e: &mut Entries<'_, '_>) -> Result<(), HookError> {
        system(p)?.cpu_stats(&mut |c: &CpuStats| {
            e.entry(|o| {
                let mut o = Obj::open(o);
                o.int("cpu", c.cpu);
                o.opt_uint("guestnice", c.guestnice);
                o.uint("idle", c.idle);
                o.opt_uint("steal", c.steal);
                o.opt_uint("iowait", c.iowait);
                o.uint("system", c.system);
                o.opt_uint("guest", c.guest);
                o.uint("nice", c.nice);
                o.opt_uint("irq", c.irq);
                o.raw("type", "\"linux\"");
                o.uint("user", c.user);
                o.opt_uint("softirq", c.softirq);
                o.close();
            })
        })
    }
    list(call, visit)
}

fn devices<P: Platform>(call: &mut Call<'_, '_, P>, _: NoArgs) -> Outcome {
    fn visit<P: Platform>(p: &mut P, e: &mut Entries<'_, '_>) -> Result<(), HookError> {
        system(p)?.devices(&mut |d: &DeviceInfo<'_>| {
            e.entry(|o| {
                let mut o = Obj::open(o);
                o.opt_int("driver-date", d.driver_date);
                o.str("driver-name", d.driver_name);
                o.opt_str("driver-version", d.driver_version);
                if let Some((vendor, device)) = d.pci_id {
                    let out = o.key("id");
                    let mut id = Obj::open(out);
                    id.uint("device-id", u64::from(device));
                    id.uint("vendor-id", u64::from(vendor));
                    id.raw("type", "\"pci\"");
                    id.close();
                }
                o.close();
            })
        })
    }
    list(call, visit)
}
