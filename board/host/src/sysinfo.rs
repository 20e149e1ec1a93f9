//! System information from the host OS, as qemu-ga 7.2 gathers it on Linux.
//!
//! * host name: gethostname(); OS: uname() plus os-release (`$QGA_OS_RELEASE`,
//!   else `/etc/os-release`, else `/usr/lib/os-release`) with qemu-ga's value
//!   quoting rules;
//! * time zone: localtime's abbreviation and offset;
//! * users: utmpx USER_PROCESS entries, one per user with the earliest login;
//! * vCPUs: `/sys/devices/system/cpu/cpuN` in directory order (a missing
//!   `online` file means online and not offlinable);
//! * memory blocks: `/sys/devices/system/memory`;
//! * file systems: `/proc/self/mountinfo`, real devices only (major != 0),
//!   sizes from statvfs, disk addresses from sysfs as qemu-ga walks it
//!   (`procfs::device_addresses`);
//! * interfaces: getifaddrs() in its order, counters from `/proc/net/dev`.

use std::ffi::CStr;
use std::ops::ControlFlow;

use nanoqga::error::HookError;

unsafe extern "C" {
    /// POSIX tzset(3) (not exported by the libc crate).
    fn tzset();
}
use nanoqga::platform::{
    FsInfo, IpAddress, IpKind, MemoryBlock, NetInterface, NetStats, OsInfo, Timezone, User, Vcpu,
};

/// The host name, in `buf`.
pub fn host_name(buf: &mut [u8; 256]) -> &str {
    // SAFETY: `buf` is valid for its length; gethostname NUL-terminates
    // within it on success (we keep the last byte 0 in any case).
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len() - 1) } == 0;
    if !ok {
        return "localhost";
    }
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len() - 1);
    std::str::from_utf8(&buf[..len]).unwrap_or("localhost")
}

/// One os-release value, unquoted as qemu-ga does
/// (`commands-posix.c:ga_osrelease_replace_special`).
pub fn os_release_value(raw: &str) -> String {
    let raw = raw.trim_start();
    if let Some(body) = raw.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = body.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => break,
                '\\' => match chars.next() {
                    Some(e @ ('$' | '\'' | '"' | '\\' | '`')) => out.push(e),
                    Some(e) => {
                        out.push('\\');
                        out.push(e);
                    }
                    None => out.push('\\'),
                },
                c => out.push(c),
            }
        }
        out
    } else {
        // Unquoted (and, as upstream, single-quoted) values end at a space or ';'.
        raw.split([' ', ';']).next().unwrap_or("").to_string()
    }
}

fn uname_field(f: &[libc::c_char]) -> String {
    let bytes: Vec<u8> = f
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Calls `f` with the OS information.
pub fn os_info(f: &mut dyn FnMut(&OsInfo<'_>)) {
    // SAFETY: `utsname` is a plain C struct for which all-zero is valid.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid out-pointer for uname().
    let have_uname = unsafe { libc::uname(&mut u) } == 0;
    let (release, version, machine) = if have_uname {
        (
            uname_field(&u.release),
            uname_field(&u.version),
            uname_field(&u.machine),
        )
    } else {
        Default::default()
    };
    let text = std::env::var_os("QGA_OS_RELEASE")
        .and_then(|p| std::fs::read_to_string(p).ok())
        .or_else(|| std::fs::read_to_string("/etc/os-release").ok())
        .or_else(|| std::fs::read_to_string("/usr/lib/os-release").ok())
        .unwrap_or_default();
    let mut vals: [Option<String>; 7] = Default::default();
    const KEYS: [&str; 7] = [
        "ID",
        "NAME",
        "PRETTY_NAME",
        "VERSION",
        "VERSION_ID",
        "VARIANT",
        "VARIANT_ID",
    ];
    for line in text.lines() {
        let line = line.trim_start();
        if line.starts_with('#') {
            continue;
        }
        if let Some((k, v)) = line.split_once('=')
            && let Some(i) = KEYS.iter().position(|key| *key == k.trim())
        {
            vals[i] = Some(os_release_value(v));
        }
    }
    let get = |i: usize| vals[i].as_deref();
    f(&OsInfo {
        kernel_release: have_uname.then_some(release.as_str()),
        kernel_version: have_uname.then_some(version.as_str()),
        machine: have_uname.then_some(machine.as_str()),
        id: get(0),
        name: get(1),
        pretty_name: get(2),
        version: get(3),
        version_id: get(4),
        variant: get(5),
        variant_id: get(6),
    });
}

/// Calls `f` with the local time zone.
pub fn timezone(f: &mut dyn FnMut(&Timezone<'_>)) {
    // SAFETY: time() and localtime_r() with valid pointers; tm_zone points
    // into libc's static zone data and stays valid while we use it.
    unsafe {
        let now = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        tzset();
        if libc::localtime_r(&now, &mut tm).is_null() {
            f(&Timezone {
                zone: None,
                offset: 0,
            });
            return;
        }
        let zone = if tm.tm_zone.is_null() {
            None
        } else {
            CStr::from_ptr(tm.tm_zone).to_str().ok()
        };
        f(&Timezone {
            zone,
            offset: tm.tm_gmtoff,
        });
    }
}

/// Visits logged-in users: the `USER_PROCESS` records of the utmp file
/// (`/run/utmp`, else `/var/run/utmp`), each name once with its earliest
/// login, as qemu-ga lists them. No utmp file (an initramfs) is no users.
///
/// The file is read directly, in Linux's record layout (384 bytes on
/// x86_64 and aarch64), rather than through `getutxent`: musl's are stubs.
pub fn users(f: &mut dyn FnMut(&User<'_>) -> ControlFlow<()>) {
    const RECORD: usize = 384;
    const USER_PROCESS: i16 = 7;
    let data = std::fs::read("/run/utmp")
        .or_else(|_| std::fs::read("/var/run/utmp"))
        .unwrap_or_default();
    let mut seen: Vec<(String, f64)> = Vec::new();
    for r in data.chunks_exact(RECORD) {
        let kind = i16::from_ne_bytes([r[0], r[1]]);
        if kind != USER_PROCESS {
            continue;
        }
        let user = &r[44..76];
        let end = user.iter().position(|&b| b == 0).unwrap_or(user.len());
        let name = String::from_utf8_lossy(&user[..end]).into_owned();
        let sec = i32::from_ne_bytes([r[340], r[341], r[342], r[343]]);
        let usec = i32::from_ne_bytes([r[344], r[345], r[346], r[347]]);
        let t = f64::from(sec) + f64::from(usec) / 1_000_000.0;
        match seen.iter_mut().find(|(n, _)| *n == name) {
            Some(s) => s.1 = s.1.min(t),
            None => seen.push((name, t)),
        }
    }
    for (name, t) in &seen {
        if f(&User {
            user: name,
            domain: None,
            login_time: *t,
        })
        .is_break()
        {
            break;
        }
    }
}

fn read_trim(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

/// Visits logical CPUs.
pub fn vcpus(f: &mut dyn FnMut(&Vcpu) -> ControlFlow<()>) -> Result<(), HookError> {
    let dir = std::fs::read_dir("/sys/devices/system/cpu").map_err(|_| HookError::Unsupported)?;
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(id) = name
            .to_str()
            .and_then(|n| n.strip_prefix("cpu"))
            .and_then(|n| n.parse::<i64>().ok())
        else {
            continue;
        };
        let online_file = entry.path().join("online");
        let (online, can_offline) = match std::fs::read_to_string(&online_file) {
            Ok(s) => (s.trim() == "1", true),
            Err(_) => (true, false),
        };
        if f(&Vcpu {
            logical_id: id,
            online,
            can_offline: Some(can_offline),
        })
        .is_break()
        {
            break;
        }
    }
    Ok(())
}

/// Memory block size in bytes.
pub fn memory_block_size() -> Result<u64, HookError> {
    let s =
        read_trim("/sys/devices/system/memory/block_size_bytes").ok_or(HookError::Unsupported)?;
    u64::from_str_radix(&s, 16).map_err(|_| HookError::Unsupported)
}

/// Visits memory blocks.
pub fn memory_blocks(f: &mut dyn FnMut(&MemoryBlock) -> ControlFlow<()>) -> Result<(), HookError> {
    let dir =
        std::fs::read_dir("/sys/devices/system/memory").map_err(|_| HookError::Unsupported)?;
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(index) = name
            .to_str()
            .and_then(|n| n.strip_prefix("memory"))
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        let p = entry.path();
        let online = std::fs::read_to_string(p.join("online"))
            .map(|s| s.trim() == "1")
            .unwrap_or(true);
        let can_offline = std::fs::read_to_string(p.join("removable"))
            .map(|s| s.trim() == "1")
            .ok();
        if f(&MemoryBlock {
            phys_index: index,
            online,
            can_offline,
        })
        .is_break()
        {
            break;
        }
    }
    Ok(())
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape_mount(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Visits mounted file systems backed by a device.
pub fn fs_info(f: &mut dyn FnMut(&FsInfo<'_>) -> ControlFlow<()>) -> Result<(), HookError> {
    let text =
        std::fs::read_to_string("/proc/self/mountinfo").map_err(|_| HookError::Unsupported)?;
    for line in text.lines() {
        // id parent maj:min root mountpoint opts [optional...] - type source superopts
        let (left, right) = match line.split_once(" - ") {
            Some(p) => p,
            None => continue,
        };
        let l: Vec<&str> = left.split(' ').collect();
        let r: Vec<&str> = right.split(' ').collect();
        if l.len() < 5 || r.is_empty() {
            continue;
        }
        let Some((major, _)) = l[2].split_once(':') else {
            continue;
        };
        if major == "0" {
            continue;
        }
        let mountpoint = unescape_mount(l[4]);
        let fs_type = r[0];
        let devpath = format!("/sys/dev/block/{}", l[2]);
        let (name, addresses) = crate::procfs::device_addresses(std::path::Path::new(&devpath));
        let name = name.unwrap_or_else(|| {
            r.get(1)
                .copied()
                .unwrap_or("")
                .trim_start_matches("/dev/")
                .to_string()
        });
        let disks: Vec<_> = addresses
            .iter()
            .map(crate::procfs::Address::record)
            .collect();
        let (used, total) = statvfs(&mountpoint);
        let info = FsInfo {
            name: &name,
            mountpoint: &mountpoint,
            fs_type,
            used_bytes: used,
            total_bytes: total,
            disks: &disks,
        };
        if f(&info).is_break() {
            break;
        }
    }
    Ok(())
}

/// (used, total) bytes as qemu-ga computes them (total excludes the
/// root-reserved blocks).
fn statvfs(path: &str) -> (Option<u64>, Option<u64>) {
    let Ok(c) = std::ffi::CString::new(path) else {
        return (None, None);
    };
    // SAFETY: `statvfs` is a plain C struct for which all-zero is valid.
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid NUL-terminated path and out-struct.
    if unsafe { libc::statvfs(c.as_ptr(), &mut s) } != 0 {
        return (None, None);
    }
    let used = s
        .f_blocks
        .saturating_sub(s.f_bfree)
        .saturating_mul(s.f_frsize);
    let total = s
        .f_blocks
        .saturating_sub(s.f_bfree)
        .saturating_add(s.f_bavail)
        .saturating_mul(s.f_frsize);
    (Some(used), Some(total))
}

fn net_stats(name: &str) -> Option<NetStats> {
    let text = std::fs::read_to_string("/proc/net/dev").ok()?;
    for line in text.lines().skip(2) {
        let (n, rest) = line.split_once(':')?;
        if n.trim() != name {
            continue;
        }
        let v: Vec<u64> = rest
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        if v.len() < 12 {
            return None;
        }
        return Some(NetStats {
            rx_bytes: v[0],
            rx_packets: v[1],
            rx_errs: v[2],
            rx_dropped: v[3],
            tx_bytes: v[8],
            tx_packets: v[9],
            tx_errs: v[10],
            tx_dropped: v[11],
        });
    }
    None
}

/// Visits network interfaces.
pub fn network_interfaces(
    f: &mut dyn FnMut(&NetInterface<'_>) -> ControlFlow<()>,
) -> Result<(), HookError> {
    struct Iface {
        name: String,
        hw: Option<String>,
        addrs: Vec<(IpKind, String, i64)>,
    }
    let mut list: Vec<Iface> = Vec::new();
    // SAFETY: getifaddrs allocates a list we walk read-only and free with
    // freeifaddrs; every pointer is checked for NULL before use and sockaddr
    // casts follow sa_family.
    unsafe {
        let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
        if libc::getifaddrs(&mut head) != 0 {
            return Err(HookError::Unsupported);
        }
        let mut p = head;
        while !p.is_null() {
            let ifa = &*p;
            p = ifa.ifa_next;
            if ifa.ifa_name.is_null() {
                continue;
            }
            let name = CStr::from_ptr(ifa.ifa_name).to_string_lossy().into_owned();
            let idx = match list.iter().position(|i| i.name == name) {
                Some(i) => i,
                None => {
                    list.push(Iface {
                        name,
                        hw: None,
                        addrs: Vec::new(),
                    });
                    list.len() - 1
                }
            };
            if ifa.ifa_addr.is_null() {
                continue;
            }
            match i32::from((*ifa.ifa_addr).sa_family) {
                libc::AF_PACKET => {
                    let ll = &*(ifa.ifa_addr as *const libc::sockaddr_ll);
                    let n = usize::from(ll.sll_halen).min(8);
                    if n > 0 {
                        let mac: Vec<String> = ll.sll_addr[..n]
                            .iter()
                            .map(|b| format!("{b:02x}"))
                            .collect();
                        list[idx].hw = Some(mac.join(":"));
                    }
                }
                libc::AF_INET => {
                    let a = &*(ifa.ifa_addr as *const libc::sockaddr_in);
                    let ip = std::net::Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
                    let prefix = if ifa.ifa_netmask.is_null() {
                        32
                    } else {
                        let m = &*(ifa.ifa_netmask as *const libc::sockaddr_in);
                        i64::from(u32::from_be(m.sin_addr.s_addr).count_ones())
                    };
                    list[idx].addrs.push((IpKind::V4, ip.to_string(), prefix));
                }
                libc::AF_INET6 => {
                    let a = &*(ifa.ifa_addr as *const libc::sockaddr_in6);
                    let ip = std::net::Ipv6Addr::from(a.sin6_addr.s6_addr);
                    let prefix = if ifa.ifa_netmask.is_null() {
                        128
                    } else {
                        let m = &*(ifa.ifa_netmask as *const libc::sockaddr_in6);
                        i64::from(
                            m.sin6_addr
                                .s6_addr
                                .iter()
                                .map(|b| b.count_ones())
                                .sum::<u32>(),
                        )
                    };
                    list[idx].addrs.push((IpKind::V6, ip.to_string(), prefix));
                }
                _ => {}
            }
        }
        libc::freeifaddrs(head);
    }
    for iface in &list {
        let addrs: Vec<IpAddress<'_>> = iface
            .addrs
            .iter()
            .map(|(k, a, p)| IpAddress {
                kind: *k,
                address: a,
                prefix: *p,
            })
            .collect();
        let hw = iface
            .hw
            .clone()
            .or_else(|| (iface.name == "lo").then(|| "00:00:00:00:00:00".to_string()));
        let n = NetInterface {
            name: &iface.name,
            hardware_address: hw.as_deref(),
            addresses: &addrs,
            statistics: net_stats(&iface.name),
        };
        if f(&n).is_break() {
            break;
        }
    }
    Ok(())
}

/// The hardware clock, in nanoseconds since the epoch.
pub fn rtc_ns() -> Option<i64> {
    let s = read_trim("/sys/class/rtc/rtc0/since_epoch")?;
    s.parse::<i64>()
        .ok()
        .map(|v| v.saturating_mul(1_000_000_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_release_values_unquote_like_qemu_ga() {
        assert_eq!(
            os_release_value(r#""Unit test \"\'\$\`\\ and \\\\ etc.""#),
            "Unit test \"'$`\\ and \\\\ etc."
        );
        assert_eq!(os_release_value("debian"), "debian");
        assert_eq!(os_release_value("a b;c"), "a");
        assert_eq!(os_release_value("'x y'"), "'x");
        assert_eq!(os_release_value(r#""a\nb""#), "a\\nb");
    }

    #[test]
    fn mount_escapes() {
        assert_eq!(unescape_mount("/mnt/a\\040b"), "/mnt/a b");
    }
}
