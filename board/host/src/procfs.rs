//! Linux system statistics read from procfs and sysfs, as qemu-ga 10.0
//! reads them (`qga/commands-linux.c`):
//!
//! * load: `getloadavg()`;
//! * CPU time: the `cpuN` lines of `/proc/stat`, in milliseconds
//!   (`ticks * 1000 / CLK_TCK`), optional counters present as far as the
//!   kernel reports them;
//! * disk I/O: `/proc/diskstats`, with the 4-field, 11-field, 15-field and
//!   17-field layouts of successive kernels;
//! * disks: `/sys/block/*` of non-zero size, their partitions, their
//!   `slaves`, and the device-mapper name as the alias; listed in qemu-ga's
//!   order (it prepends while it walks);
//! * routes: `/proc/net/route` and `/proc/net/ipv6_route`;
//! * SSH keys: the user's `~/.ssh/authorized_keys`, last line first (qemu-ga
//!   prepends too), blank lines and comments skipped.

use std::ops::ControlFlow;

use nanoqga::error::{Errno, HookError};
use nanoqga::platform::{CpuStats, DiskCounters, DiskInfo, DiskStats, LoadAverage, Route};

use crate::sys::io_error;

/// `getloadavg()`.
pub fn load() -> Result<LoadAverage, HookError> {
    let mut v = [0f64; 3];
    // SAFETY: `v` holds three doubles, as asked for.
    if unsafe { libc::getloadavg(v.as_mut_ptr(), 3) } != 3 {
        return Err(HookError::Message("failed to get load average"));
    }
    Ok(LoadAverage {
        load1m: v[0],
        load5m: v[1],
        load15m: v[2],
    })
}

fn read(path: &str) -> Result<String, HookError> {
    std::fs::read_to_string(path).map_err(|e| io_error(&e))
}

/// One `cpuN` line of `/proc/stat` in milliseconds (`tck`: CLK_TCK).
fn cpu_line(line: &str, tck: u64) -> Option<CpuStats> {
    let mut it = line.split_whitespace();
    let name = it.next()?;
    let index = name.strip_prefix("cpu").filter(|n| !n.is_empty())?;
    let v: Vec<u64> = it.map_while(|x| x.parse().ok()).take(10).collect();
    if v.len() < 4 {
        return None;
    }
    let ms = |i: usize| v.get(i).map(|t| t.saturating_mul(1000) / tck.max(1));
    Some(CpuStats {
        cpu: index.parse().unwrap_or(0),
        user: ms(0)?,
        nice: ms(1)?,
        system: ms(2)?,
        idle: ms(3)?,
        iowait: ms(4),
        // qemu-ga sets softirq whenever irq was read.
        irq: ms(5),
        softirq: ms(5).map(|_| ms(6).unwrap_or(0)),
        steal: ms(7),
        guest: ms(8),
        guestnice: ms(9),
    })
}

/// Visits the `cpuN` lines of `/proc/stat`.
pub fn cpu_stats(f: &mut dyn FnMut(&CpuStats) -> ControlFlow<()>) -> Result<(), HookError> {
    let text = read("/proc/stat")?;
    // SAFETY: sysconf has no preconditions.
    let tck = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).unwrap_or(100);
    for c in text.lines().filter_map(|l| cpu_line(l, tck)) {
        if f(&c).is_break() {
            break;
        }
    }
    Ok(())
}

/// One line of `/proc/diskstats`, by qemu-ga's rules for each kernel's
/// layout.
fn diskstats_line(line: &str) -> Option<(String, u64, u64, DiskCounters)> {
    let mut it = line.split_whitespace();
    let major = it.next()?.parse().ok()?;
    let minor = it.next()?.parse().ok()?;
    let name = it.next()?.to_string();
    let v: Vec<u64> = it.map_while(|x| x.parse().ok()).take(17).collect();
    let at = |i: usize| v.get(i).copied();
    let mut c = DiskCounters::default();
    match v.len() {
        0..=3 => return None,
        4..=10 => {
            // Kernels before 2.6.25 printed only these for partitions.
            c.read_ios = at(0);
            c.read_sectors = at(1);
            c.write_ios = at(2);
            c.write_sectors = at(3);
        }
        n => {
            c.read_ios = at(0);
            c.read_merges = at(1);
            c.read_sectors = at(2);
            c.read_ticks = at(3);
            c.write_ios = at(4);
            c.write_merges = at(5);
            c.write_sectors = at(6);
            c.write_ticks = at(7);
            c.ios_pgr = at(8);
            c.total_ticks = at(9);
            c.weight_ticks = at(10);
            if n >= 15 {
                c.discard_ios = at(11);
                c.discard_merges = at(12);
                c.discard_sectors = at(13);
                c.discard_ticks = at(14);
            }
            if n >= 17 {
                c.flush_ios = at(15);
                c.flush_ticks = at(16);
            }
        }
    }
    Some((name, major, minor, c))
}

/// Visits `/proc/diskstats`.
pub fn disk_stats(f: &mut dyn FnMut(&DiskStats<'_>) -> ControlFlow<()>) -> Result<(), HookError> {
    let text = read("/proc/diskstats")?;
    for (name, major, minor, stats) in text.lines().filter_map(diskstats_line) {
        let d = DiskStats {
            name: &name,
            major,
            minor,
            stats,
        };
        if f(&d).is_break() {
            break;
        }
    }
    Ok(())
}

/// A disk or partition for `guest-get-disks`.
struct Disk {
    name: String,
    partition: bool,
    dependencies: Option<Vec<String>>,
    alias: Option<String>,
    address: Option<Address>,
}

fn names_in(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The disks and partitions under `root` (`/sys/block`), in qemu-ga's
/// order.
fn list_disks(root: &std::path::Path) -> Result<Vec<Disk>, HookError> {
    let mut out = Vec::new();
    if !root.is_dir() {
        return Err(HookError::Errno(Errno::ENOENT));
    }
    for name in names_in(root) {
        let dir = root.join(&name);
        let size = std::fs::read_to_string(dir.join("size")).unwrap_or_default();
        if size.trim().is_empty() || size.trim() == "0" {
            continue;
        }
        let dev = format!("/dev/{name}");
        let slaves = dir.join("slaves");
        let dependencies = slaves.is_dir().then(|| {
            names_in(&slaves)
                .iter()
                .map(|s| format!("/dev/{s}"))
                .collect()
        });
        let alias = std::fs::read_to_string(dir.join("dm/name"))
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        // Addresses only for non-virtual devices, as qemu-ga.
        let virtual_dev = std::fs::canonicalize(&dir)
            .map(|p| p.to_string_lossy().contains("/devices/virtual/block/"))
            .unwrap_or(true);
        let address = if virtual_dev {
            None
        } else {
            device_addresses(&dir).1.into_iter().next()
        };
        out.push(Disk {
            name: dev.clone(),
            partition: false,
            dependencies,
            alias,
            address,
        });
        for part in names_in(&dir) {
            let rest = part.strip_prefix(name.as_str()).unwrap_or("");
            let numbered = rest
                .strip_prefix('p')
                .unwrap_or(rest)
                .starts_with(|c: char| c.is_ascii_digit());
            if !part.starts_with(name.as_str()) || !numbered || !dir.join(&part).is_dir() {
                continue;
            }
            out.push(Disk {
                name: format!("/dev/{part}"),
                partition: true,
                dependencies: Some(vec![dev.clone()]),
                alias: None,
                address: None,
            });
        }
    }
    // qemu-ga prepends every entry as it walks.
    out.reverse();
    Ok(out)
}

/// Visits disks and partitions.
pub fn disks(f: &mut dyn FnMut(&DiskInfo<'_>) -> ControlFlow<()>) -> Result<(), HookError> {
    for d in list_disks(std::path::Path::new("/sys/block"))? {
        let deps: Option<Vec<&str>> = d
            .dependencies
            .as_ref()
            .map(|v| v.iter().map(String::as_str).collect());
        let info = DiskInfo {
            name: &d.name,
            partition: d.partition,
            dependencies: deps.as_deref(),
            address: d.address.as_ref().map(Address::record),
            alias: d.alias.as_deref(),
        };
        if f(&info).is_break() {
            break;
        }
    }
    Ok(())
}

/// An IPv4 address as `/proc/net/route` prints it (hex, host order of a
/// network-order word).
fn ipv4_hex(hex: &str) -> Option<String> {
    let v = u32::from_str_radix(hex, 16).ok()?;
    let b = v.to_le_bytes();
    Some(format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3]))
}

/// An IPv6 address as `/proc/net/ipv6_route` prints it (32 hex digits).
fn ipv6_hex(hex: &str) -> Option<String> {
    if hex.len() != 32 {
        return None;
    }
    let mut b = [0u8; 16];
    for (i, byte) in b.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(std::net::Ipv6Addr::from(b).to_string())
}

/// One route with its strings.
#[derive(Default)]
struct RouteLine {
    iface: String,
    destination: String,
    gateway: Option<String>,
    mask: Option<String>,
    source: Option<String>,
    nexthop: Option<String>,
    desprefixlen: Option<String>,
    srcprefixlen: Option<String>,
    metric: i64,
    flags: u64,
    refcnt: i64,
    use_count: i64,
    mtu: Option<i64>,
    window: Option<i64>,
    irtt: Option<i64>,
    version: i64,
}

fn route4(line: &str) -> Option<RouteLine> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() < 11 {
        return None;
    }
    let dec = |s: &str| s.parse::<i64>().ok();
    Some(RouteLine {
        iface: f[0].to_string(),
        destination: ipv4_hex(f[1])?,
        gateway: Some(ipv4_hex(f[2])?),
        flags: u64::from_str_radix(f[3], 16).ok()?,
        refcnt: dec(f[4])?,
        use_count: dec(f[5])?,
        metric: dec(f[6])?,
        mask: Some(ipv4_hex(f[7])?),
        mtu: Some(dec(f[8])?),
        window: Some(dec(f[9])?),
        irtt: Some(dec(f[10])?),
        version: 4,
        ..RouteLine::default()
    })
}

fn route6(line: &str) -> Option<RouteLine> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() < 10 {
        return None;
    }
    let hex = |s: &str| i64::from_str_radix(s, 16).ok();
    Some(RouteLine {
        destination: ipv6_hex(f[0])?,
        desprefixlen: Some(hex(f[1])?.to_string()),
        source: Some(ipv6_hex(f[2])?),
        srcprefixlen: Some(hex(f[3])?.to_string()),
        nexthop: Some(ipv6_hex(f[4])?),
        metric: hex(f[5])?,
        refcnt: hex(f[6])?,
        use_count: hex(f[7])?,
        flags: u64::from_str_radix(f[8], 16).ok()?,
        iface: f[9].to_string(),
        version: 6,
        ..RouteLine::default()
    })
}

/// Visits the IPv4 and IPv6 routes.
pub fn routes(f: &mut dyn FnMut(&Route<'_>) -> ControlFlow<()>) -> Result<(), HookError> {
    let v4 = std::fs::read_to_string("/proc/net/route");
    let v6 = std::fs::read_to_string("/proc/net/ipv6_route");
    if let (Err(e), Err(_)) = (&v4, &v6) {
        return Err(io_error(e));
    }
    let v4 = v4.unwrap_or_default();
    let v6 = v6.unwrap_or_default();
    let lines = v4
        .lines()
        .skip(1)
        .filter_map(route4)
        .chain(v6.lines().filter_map(route6));
    for r in lines {
        let route = Route {
            iface: &r.iface,
            destination: &r.destination,
            metric: r.metric,
            gateway: r.gateway.as_deref(),
            mask: r.mask.as_deref(),
            irtt: r.irtt,
            flags: Some(r.flags),
            refcnt: Some(r.refcnt),
            use_count: Some(r.use_count),
            window: r.window,
            mtu: r.mtu,
            desprefixlen: r.desprefixlen.as_deref(),
            source: r.source.as_deref(),
            srcprefixlen: r.srcprefixlen.as_deref(),
            nexthop: r.nexthop.as_deref(),
            version: r.version,
        };
        if f(&route) == ControlFlow::Break(()) {
            break;
        }
    }
    Ok(())
}

/// The home directory of `user` (`getpwnam_r`).
pub fn home_of(user: &str) -> Result<std::path::PathBuf, HookError> {
    let name = std::ffi::CString::new(user).map_err(|_| HookError::NoUser)?;
    let mut buf = vec![0u8; 16384];
    // SAFETY: `passwd` is a plain C struct for which all-zero is valid.
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut out: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: valid name, out-struct, buffer of the given size, out-pointer.
    let rc = unsafe {
        libc::getpwnam_r(
            name.as_ptr(),
            &mut pw,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut out,
        )
    };
    if rc != 0 || out.is_null() || pw.pw_dir.is_null() {
        return Err(HookError::NoUser);
    }
    // SAFETY: getpwnam_r filled `pw_dir` with a NUL-terminated string in `buf`.
    let dir = unsafe { std::ffi::CStr::from_ptr(pw.pw_dir) };
    Ok(std::path::PathBuf::from(dir.to_string_lossy().into_owned()))
}

/// The keys of `~user/.ssh/authorized_keys`, in qemu-ga's reply order (last
/// line first), trimmed, without blank lines and comments.
pub fn authorized_keys(user: &str) -> Result<Vec<String>, HookError> {
    let path = home_of(user)?.join(".ssh/authorized_keys");
    let text = std::fs::read_to_string(path).map_err(|e| io_error(&e))?;
    Ok(text
        .split('\n')
        .map(str::trim)
        .filter(|k| !k.is_empty() && !k.starts_with('#'))
        .rev()
        .map(str::to_string)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lines_convert_ticks_to_milliseconds() {
        let c = cpu_line("cpu3 10 20 30 40 50 60 70 80 90 100", 100).unwrap();
        assert_eq!((c.cpu, c.user, c.idle), (3, 100, 400));
        assert_eq!(
            (c.irq, c.softirq, c.guestnice),
            (Some(600), Some(700), Some(1000))
        );
        assert!(cpu_line("cpu 1 2 3 4 5", 100).is_none());
        let old = cpu_line("cpu0 1 2 3 4", 100).unwrap();
        assert_eq!((old.iowait, old.irq, old.softirq), (None, None, None));
    }

    #[test]
    fn diskstats_lines_follow_each_kernel_layout() {
        let (name, major, minor, c) =
            diskstats_line(" 254       0 vda 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17").unwrap();
        assert_eq!((name.as_str(), major, minor), ("vda", 254, 0));
        assert_eq!(
            (c.read_ios, c.read_sectors, c.write_ticks),
            (Some(1), Some(3), Some(8))
        );
        assert_eq!((c.discard_ticks, c.flush_ticks), (Some(15), Some(17)));
        let (_, _, _, old) = diskstats_line("3 1 hda1 1 2 3 4").unwrap();
        assert_eq!(
            (old.read_sectors, old.write_ios, old.read_merges),
            (Some(2), Some(3), None)
        );
    }

    #[test]
    fn route_lines_decode_addresses() {
        let r = route4("eth0\t0002000A\t0102000A\t0003\t0\t0\t100\t00FFFFFF\t0\t0\t0").unwrap();
        assert_eq!(r.destination, "10.0.2.0");
        assert_eq!(r.gateway.as_deref(), Some("10.0.2.1"));
        assert_eq!(r.mask.as_deref(), Some("255.255.255.0"));
        assert_eq!((r.flags, r.metric), (3, 100));
        let r6 = route6("fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0").unwrap();
        assert_eq!(r6.destination, "fe80::");
        assert_eq!(r6.desprefixlen.as_deref(), Some("64"));
        assert_eq!((r6.metric, r6.refcnt), (256, 1));
    }

    #[test]
    fn disks_list_partitions_after_their_disk_in_reverse() {
        let root = std::env::temp_dir().join(format!("nanoqga-sysblock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for (dir, size) in [
            ("vda", "100"),
            ("vda/vda1", "50"),
            ("loop0", "0"),
            ("vdb", "8"),
        ] {
            std::fs::create_dir_all(root.join(dir)).unwrap();
            std::fs::write(root.join(dir).join("size"), format!("{size}\n")).unwrap();
        }
        std::fs::create_dir_all(root.join("vda/slaves")).unwrap();
        let names: Vec<(String, bool)> = list_disks(&root)
            .unwrap()
            .into_iter()
            .map(|d| (d.name, d.partition))
            .collect();
        assert_eq!(
            names,
            [
                ("/dev/vdb".into(), false),
                ("/dev/vda1".into(), true),
                ("/dev/vda".into(), false)
            ]
        );
        let _ = std::fs::remove_dir_all(&root);
    }
}

/// A disk's address as qemu-ga derives it from sysfs
/// (`build_guest_fsinfo_for_real_device`), owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address {
    /// `pci-controller` (-1 where unknown).
    pub pci: nanoqga::platform::PciAddress,
    /// `bus-type`.
    pub bus_type: &'static str,
    /// `bus`, `target`, `unit`.
    pub bus: i64,
    /// `target`
    pub target: i64,
    /// `unit`
    pub unit: i64,
    /// `serial` (udev's ID_SERIAL; here the device's `serial` attribute).
    pub serial: Option<String>,
    /// `dev`: the device node.
    pub dev: Option<String>,
}

impl Address {
    /// The record the core renders.
    pub fn record(&self) -> nanoqga::platform::DiskAddress<'_> {
        nanoqga::platform::DiskAddress {
            pci_controller: self.pci,
            bus_type: self.bus_type,
            bus: self.bus,
            target: self.target,
            unit: self.unit,
            serial: self.serial.as_deref(),
            dev: self.dev.as_deref(),
        }
    }
}

/// Parses `DDDD:BB:SS.F` at the start of `s`; returns it and its length.
fn pci_bdf(s: &str) -> Option<([i64; 4], usize)> {
    let end = s.find('/').unwrap_or(s.len());
    let part = &s[..end];
    let (dom, rest) = part.split_once(':')?;
    let (bus, rest) = rest.split_once(':')?;
    let (slot, func) = rest.split_once('.')?;
    let hex = |x: &str| i64::from_str_radix(x, 16).ok();
    Some(([hex(dom)?, hex(bus)?, hex(slot)?, hex(func)?], end))
}

/// The basename of the `driver` link of the device at `path`.
fn driver_of(path: &str) -> Option<String> {
    std::fs::read_link(format!("{path}/driver"))
        .ok()
        .and_then(|l| l.file_name().map(|n| n.to_string_lossy().into_owned()))
}

/// Sorted numbers of the `host<N>` (or `ata<N>`) entries in `dir`.
fn host_numbers(dir: &str, ata: bool) -> Vec<u32> {
    let prefix = if ata { "ata" } else { "host" };
    let mut v: Vec<u32> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter_map(|e| {
                    e.file_name()
                        .to_str()
                        .and_then(|n| n.strip_prefix(prefix))
                        .and_then(|n| n.parse().ok())
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort_unstable();
    v
}

/// qemu-ga's `build_guest_fsinfo_for_pci_dev` over a resolved sysfs path.
fn pci_address(syspath: &str, a: &mut Address) -> bool {
    let Some(at) = syspath.find("/devices/pci") else {
        return false;
    };
    // "/devices/pci0000:00/0000:00:02.0/..."
    let after = &syspath[at + 12..];
    let Some(slash) = after.find('/') else {
        return false;
    };
    let mut pos = at + 12 + slash + 1;
    let Some((mut pci, len)) = pci_bdf(&syspath[pos..]) else {
        return false;
    };
    pos += len;
    let driver = loop {
        match driver_of(&syspath[..pos]) {
            Some(d)
                if ["ata_piix", "sym53c8xx", "virtio-pci", "ahci", "nvme"]
                    .contains(&d.as_str()) =>
            {
                break d;
            }
            _ => {}
        }
        match syspath[pos..].strip_prefix('/').and_then(pci_bdf) {
            Some((p, len)) => {
                pci = p;
                pos += 1 + len;
            }
            None => return false,
        }
    };
    // ".../target0:0:1/0:0:1:0" -> (channel, target, lun) of the last part.
    let tgt: Option<[i64; 3]> = syspath.find("/target").and_then(|t| {
        let rest = &syspath[t + 7..];
        let lun = rest.split('/').nth(1)?;
        let f: Vec<i64> = lun
            .split(':')
            .map(|x| x.parse().ok())
            .collect::<Option<_>>()?;
        (f.len() == 4).then(|| [f[1], f[2], f[3]])
    });
    let (host_at, ata) = match syspath.find("/ata") {
        Some(p) => (Some(p), true),
        None => (syspath.find("/host"), false),
    };
    let host: Option<(u32, Vec<u32>)> = host_at.and_then(|p| {
        let digits: String = syspath[p + if ata { 4 } else { 5 }..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let n = digits.parse().ok()?;
        Some((n, host_numbers(&syspath[..p], ata)))
    });
    let index = |host: &Option<(u32, Vec<u32>)>| -> Option<i64> {
        let (n, all) = host.as_ref()?;
        all.iter().position(|h| h == n).map(|i| i as i64)
    };
    a.pci = nanoqga::platform::PciAddress {
        domain: pci[0],
        bus: pci[1],
        slot: pci[2],
        function: pci[3],
    };
    match driver.as_str() {
        "ata_piix" => {
            let (Some(bus), Some(t)) = (index(&host), tgt) else {
                return false;
            };
            a.bus_type = "ide";
            a.bus = bus;
            a.unit = t[1];
        }
        "sym53c8xx" => {
            let Some(t) = tgt else { return false };
            a.bus_type = "scsi";
            a.unit = t[1];
        }
        "virtio-pci" => match tgt {
            Some(t) => {
                a.bus_type = "scsi";
                a.unit = t[2];
            }
            None => a.bus_type = "virtio",
        },
        "ahci" => {
            let (Some(unit), Some(_)) = (index(&host), tgt) else {
                return false;
            };
            a.bus_type = "sata";
            a.unit = unit;
        }
        _ => a.bus_type = "nvme",
    }
    true
}

/// The addresses of the disks under the block device at `devpath` (a
/// sysfs path), as qemu-ga's `build_guest_fsinfo_for_device` lists them:
/// one for a real device, the slaves' (recursively, 8 levels at most) for
/// a virtual one, newest first. Returns the device's name too.
pub fn device_addresses(devpath: &std::path::Path) -> (Option<String>, Vec<Address>) {
    let mut out = Vec::new();
    let name = std::fs::canonicalize(devpath)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
    collect_addresses(devpath, &mut out, 0);
    (name, out)
}

fn collect_addresses(devpath: &std::path::Path, out: &mut Vec<Address>, depth: u32) {
    let Ok(real) = std::fs::canonicalize(devpath) else {
        return;
    };
    let syspath = real.to_string_lossy().into_owned();
    if syspath.contains("/devices/virtual/block/") {
        if depth >= 8 {
            return;
        }
        for s in names_in(&real.join("slaves")) {
            collect_addresses(&real.join("slaves").join(s), out, depth + 1);
        }
        return;
    }
    let name = real
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let serial = ["serial", "device/serial"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(real.join(f)).ok())
        .map(|s| s.trim().to_string())
        .find(|s| !s.is_empty());
    let mut a = Address {
        pci: nanoqga::platform::PciAddress {
            domain: -1,
            bus: -1,
            slot: -1,
            function: -1,
        },
        bus_type: "unknown",
        bus: 0,
        target: 0,
        unit: 0,
        serial,
        dev: Some(format!("/dev/{name}")),
    };
    if syspath.contains("/devices/pci") {
        pci_address(&syspath, &mut a);
    } else if syspath.contains("/virtio") && syspath.contains("/block") {
        a.bus_type = "virtio";
    }
    // qemu-ga prepends each address.
    out.insert(0, a);
}
