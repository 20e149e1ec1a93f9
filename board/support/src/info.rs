//! System information common to the bare-metal boards.

use nanoqga::platform::OsInfo;

/// `guest-get-osinfo` of a bare-metal nanoqga image on `machine`.
pub fn os_info(machine: &'static str) -> OsInfo<'static> {
    OsInfo {
        kernel_release: Some(env!("CARGO_PKG_VERSION")),
        kernel_version: Some("nanoqga bare metal"),
        machine: Some(machine),
        id: Some("nanoqga"),
        name: Some("nanoqga"),
        pretty_name: Some(concat!(
            "nanoqga ",
            env!("CARGO_PKG_VERSION"),
            " (bare metal)"
        )),
        version: Some(env!("CARGO_PKG_VERSION")),
        version_id: Some(env!("CARGO_PKG_VERSION")),
        variant: None,
        variant_id: None,
    }
}
