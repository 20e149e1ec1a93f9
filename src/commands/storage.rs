//! guest-get-fsinfo, guest-get-disks, guest-get-diskstats: the board's
//! [`crate::platform::Disks`].
//!
//! Keys come in qemu-ga's serialisation order (wire-protocol.md §3.3); a
//! board without disks answers an empty list, which is what qemu-ga says of
//! a guest without block devices.

use super::render::{Entries, Obj, list};
use super::{Call, Outcome, command};
use crate::args::NoArgs;
use crate::error::HookError;
use crate::json::out::Out;
use crate::platform::{DiskAddress, DiskInfo, DiskStats, Disks, FsInfo, Platform};

command!(
    /// `guest-get-fsinfo`.
    GUEST_GET_FSINFO = "guest-get-fsinfo", NoArgs, fs_info
);
command!(
    /// `guest-get-disks`.
    GUEST_GET_DISKS = "guest-get-disks", NoArgs, disks
);
command!(
    /// `guest-get-diskstats`.
    GUEST_GET_DISKSTATS = "guest-get-diskstats", NoArgs, disk_stats
);

fn board<P: Platform>(p: &mut P) -> Result<&mut dyn Disks, HookError> {
    p.disks().ok_or(HookError::Unsupported)
}

/// `GuestDiskAddress`: ccw-address, serial, bus-type, bus, unit,
/// pci-controller, dev, target.
fn address(out: &mut Out<'_>, d: &DiskAddress<'_>) {
    let mut o = Obj::open(out);
    o.opt_str("serial", d.serial);
    o.str("bus-type", d.bus_type);
    o.int("bus", d.bus);
    o.int("unit", d.unit);
    let pci = o.key("pci-controller");
    let mut p = Obj::open(pci);
    p.int("bus", d.pci_controller.bus);
    p.int("slot", d.pci_controller.slot);
    p.int("domain", d.pci_controller.domain);
    p.int("function", d.pci_controller.function);
    p.close();
    o.opt_str("dev", d.dev);
    o.int("target", d.target);
    o.close();
}

fn fs_info<P: Platform>(call: &mut Call<'_, '_, P>, _: NoArgs) -> Outcome {
    fn visit<P: Platform>(p: &mut P, e: &mut Entries<'_, '_>) -> Result<(), HookError> {
        board(p)?.fs_info(&mut |f: &FsInfo<'_>| {
            e.entry(|out| {
                let mut o = Obj::open(out);
                o.str("name", f.name);
                o.opt_uint("total-bytes", f.total_bytes);
                o.str("mountpoint", f.mountpoint);
                let disks = o.key("disk");
                disks.str("[");
                for (i, d) in f.disks.iter().enumerate() {
                    if i > 0 {
                        disks.str(", ");
                    }
                    address(disks, d);
                }
                disks.str("]");
                o.opt_uint("used-bytes", f.used_bytes);
                o.str("type", f.fs_type);
                o.close();
            })
        })
    }
    list(call, visit)
}

fn disks<P: Platform>(call: &mut Call<'_, '_, P>, _: NoArgs) -> Outcome {
    fn visit<P: Platform>(p: &mut P, e: &mut Entries<'_, '_>) -> Result<(), HookError> {
        board(p)?.disks(&mut |d: &DiskInfo<'_>| {
            e.entry(|out| {
                let mut o = Obj::open(out);
                o.str("name", d.name);
                if let Some(deps) = d.dependencies {
                    o.str_list("dependencies", deps);
                }
                o.bool("partition", d.partition);
                if let Some(a) = &d.address {
                    address(o.key("address"), a);
                }
                o.opt_str("alias", d.alias);
                o.close();
            })
        })
    }
    list(call, visit)
}

fn disk_stats<P: Platform>(call: &mut Call<'_, '_, P>, _: NoArgs) -> Outcome {
    fn visit<P: Platform>(p: &mut P, e: &mut Entries<'_, '_>) -> Result<(), HookError> {
        board(p)?.disk_stats(&mut |d: &DiskStats<'_>| {
            e.entry(|out| {
                let mut o = Obj::open(out);
                o.str("name", d.name);
                let s = &d.stats;
                let mut st = Obj::open(o.key("stats"));
                st.opt_uint("discard-sectors", s.discard_sectors);
                st.opt_uint("write-ios", s.write_ios);
                st.opt_uint("discard-ios", s.discard_ios);
                st.opt_uint("discard-ticks", s.discard_ticks);
                st.opt_uint("weight-ticks", s.weight_ticks);
                st.opt_uint("read-ios", s.read_ios);
                st.opt_uint("flush-ios", s.flush_ios);
                st.opt_uint("write-sectors", s.write_sectors);
                st.opt_uint("write-merges", s.write_merges);
                st.opt_uint("write-ticks", s.write_ticks);
                st.opt_uint("ios-pgr", s.ios_pgr);
                st.opt_uint("read-sectors", s.read_sectors);
                st.opt_uint("read-merges", s.read_merges);
                st.opt_uint("total-ticks", s.total_ticks);
                st.opt_uint("discard-merges", s.discard_merges);
                st.opt_uint("flush-ticks", s.flush_ticks);
                st.opt_uint("read-ticks", s.read_ticks);
                st.close();
                o.uint("minor", d.minor);
                o.uint("major", d.major);
                o.close();
            })
        })
    }
    list(call, visit)
}
