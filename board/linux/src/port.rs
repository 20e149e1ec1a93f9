//! Finding the agent's virtio-serial port without udev.
//!
//! Contract: the port is the `/sys/class/virtio-ports/<dev>` whose `name`
//! is `org.qemu.guest_agent.0`; its device node is `/dev/<dev>` (devtmpfs
//! creates it; `/dev/virtio-ports/<name>` exists only with udev's rule).
//! The port appears once `virtio_console` has probed the device, and its
//! name only when the host has sent it. [`wait_for_port`] therefore listens
//! to the kernel's uevents (the netlink socket udev itself reads): a port
//! added, or its name arriving (a `change` event), makes it look again. It
//! sleeps in between; without netlink (a kernel built without it) it looks
//! once a second.

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// The port name QEMU's guest agent channel has.
pub const AGENT_PORT: &str = "org.qemu.guest_agent.0";

/// The sysfs class of virtio ports.
const CLASS: &str = "/sys/class/virtio-ports";

/// The device node of the port named `name`, if it exists now.
pub fn find_port(name: &str) -> Option<PathBuf> {
    find_port_in(Path::new(CLASS), name).map(|dev| Path::new("/dev").join(dev))
}

/// The entry of `class` whose `name` file is `name`.
fn find_port_in(class: &Path, name: &str) -> Option<String> {
    let mut found: Vec<String> = std::fs::read_dir(class)
        .ok()?
        .flatten()
        .filter(|e| {
            std::fs::read_to_string(e.path().join("name")).is_ok_and(|n| n.trim_end() == name)
        })
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    found.sort();
    found.into_iter().next()
}

/// Waits until the port named `name` exists (or `stop` says to give up,
/// checked at least once a second); returns its device node.
pub fn wait_for_port(name: &str, stop: &dyn Fn() -> bool) -> Option<PathBuf> {
    let events = nanoqga_host::io::uevents();
    loop {
        if let Some(p) = find_port(name) {
            return Some(p);
        }
        if stop() {
            return None;
        }
        match &events {
            Some(sock) => {
                let mut pfd = libc::pollfd {
                    fd: sock.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one valid pollfd. The timeout only bounds how late
                // a signal is noticed.
                let r = unsafe { libc::poll(&mut pfd, 1, 1000) };
                if r > 0 {
                    nanoqga_host::io::drain(sock.as_raw_fd());
                }
            }
            None => std::thread::sleep(std::time::Duration::from_secs(1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_is_found_by_its_name_not_its_number() {
        let dir = std::env::temp_dir().join(format!("nanoqga-ports-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for (dev, name) in [
            ("vport0p1", "com.example.other.0\n"),
            ("vport1p2", "org.qemu.guest_agent.0\n"),
            ("vport1p3", ""),
        ] {
            std::fs::create_dir_all(dir.join(dev)).unwrap();
            std::fs::write(dir.join(dev).join("name"), name).unwrap();
        }
        assert_eq!(find_port_in(&dir, AGENT_PORT).as_deref(), Some("vport1p2"));
        assert_eq!(find_port_in(&dir, "missing"), None);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(find_port_in(&dir, AGENT_PORT), None);
    }
}
