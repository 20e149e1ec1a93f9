//! Taking the channel's devices from the firmware, and giving them back.
//!
//! Contract:
//! * Virtio consoles: every firmware driver bound to a virtio console PCI
//!   function (OVMF's Virtio10Dxe or VirtioPciDeviceDxe, and edk2's
//!   VirtioSerialDxe on top where it exists) is disconnected before the
//!   board drives the device itself ([`VirtioHandles::take`]);
//!   [`VirtioHandles::give_back`] connects the firmware's drivers again
//!   (before another image runs, so the firmware is as it was) and
//!   [`VirtioHandles::take`] takes them again when the image returns.
//! * COM ports: each firmware Serial I/O handle whose device path names a
//!   PC serial port (ACPI `PNP0501`, UID 0–3 = COM1–COM4) is opened
//!   exclusively, which disconnects the terminal driver and so takes the
//!   port out of the firmware's console: from then on the firmware writes
//!   nothing on it. [`SerialHandles::give_back`] returns the ports that do
//!   not carry the channel to the console before another image runs.
//!
//! The PCI I/O protocol is declared here with the two functions used (the
//! `uefi` crate has no wrapper for it).

use core::ffi::c_void;

use heapless::Vec;
use uefi::boot::{self, OpenProtocolAttributes, OpenProtocolParams, ScopedProtocol, SearchType};
use uefi::proto::console::serial::Serial;
use uefi::proto::device_path::{DevicePath, DevicePathNodeEnum};
use uefi::proto::unsafe_protocol;
use uefi::{Handle, Status};

/// Virtio's PCI vendor id.
const VIRTIO_VENDOR: u16 = 0x1AF4;
/// Virtio console device ids: transitional and modern.
const CONSOLE_DEVICES: [u16; 2] = [0x1003, 0x1043];
/// `EisaIdFromString("PNP0501")`: a 16550-compatible serial port.
const PNP0501: u32 = 0x0501_41D0;
/// The I/O bases of COM1–COM4, by ACPI UID.
const COM_BASES: [u16; 4] = [0x3F8, 0x2F8, 0x3E8, 0x2E8];

/// `EFI_PCI_IO_PROTOCOL`, as far as this board calls it.
#[repr(C)]
#[unsafe_protocol("4cf5b200-68b8-4ca5-9eec-b23e3f50029a")]
struct PciIo {
    poll_mem: usize,
    poll_io: usize,
    mem: [usize; 2],
    io: [usize; 2],
    pci_read: unsafe extern "efiapi" fn(
        this: *mut PciIo,
        width: u32,
        offset: u32,
        count: usize,
        buffer: *mut c_void,
    ) -> Status,
    pci_write: usize,
    copy_mem: usize,
    map: usize,
    unmap: usize,
    allocate_buffer: usize,
    free_buffer: usize,
    flush: usize,
    get_location: unsafe extern "efiapi" fn(
        this: *mut PciIo,
        segment: *mut usize,
        bus: *mut usize,
        device: *mut usize,
        function: *mut usize,
    ) -> Status,
    attributes: unsafe extern "efiapi" fn(
        this: *mut PciIo,
        operation: u32,
        attributes: u64,
        result: *mut u64,
    ) -> Status,
}

/// `EfiPciIoWidthUint32`.
const WIDTH_U32: u32 = 2;
/// `EfiPciIoAttributeOperationEnable`.
const ATTRIBUTES_ENABLE: u32 = 2;
/// `EFI_PCI_IO_ATTRIBUTE_IO`, `_MEMORY`, `_BUS_MASTER`.
const DECODE_IO: u64 = 0x100;
const DECODE_MEMORY: u64 = 0x200;
const BUS_MASTER: u64 = 0x400;

/// Turns on memory (and I/O, where the function has it) decoding and bus
/// mastering, which a firmware driver turns off when it lets go.
fn enable(handle: Handle) -> bool {
    let Some(mut pci) = peek::<PciIo>(handle) else {
        return false;
    };
    let this: *mut PciIo = &mut *pci;
    [
        DECODE_IO | DECODE_MEMORY | BUS_MASTER,
        DECODE_MEMORY | BUS_MASTER,
    ]
    .iter()
    .any(|&attrs| {
        // SAFETY: `this` is the live protocol instance; Enable changes
        // the function's command register through the PCI bus driver.
        unsafe { ((*this).attributes)(this, ATTRIBUTES_ENABLE, attrs, core::ptr::null_mut()) }
            .is_success()
    })
}

/// Opens `P` on `handle` without taking it from anyone.
fn peek<P: uefi::proto::ProtocolPointer + ?Sized>(handle: Handle) -> Option<ScopedProtocol<P>> {
    // SAFETY: GetProtocol takes nothing from the protocol's owner; the
    // interface is only used while the scoped protocol lives, within boot
    // services, and no driver uninstalls these protocols meanwhile (the
    // board runs nothing else until it connects controllers itself).
    unsafe {
        boot::open_protocol::<P>(
            OpenProtocolParams {
                handle,
                agent: boot::image_handle(),
                controller: None,
            },
            OpenProtocolAttributes::GetProtocol,
        )
    }
    .ok()
}

/// The device path of `handle`.
pub fn device_path(handle: Handle) -> Option<ScopedProtocol<DevicePath>> {
    peek::<DevicePath>(handle)
}

/// Whether the PCI function behind `handle` is a virtio console.
fn is_virtio_console(handle: Handle) -> bool {
    let Some(mut pci) = peek::<PciIo>(handle) else {
        return false;
    };
    let this: *mut PciIo = &mut *pci;
    let mut id: u32 = 0;
    // SAFETY: `this` is the live protocol instance; one dword of
    // configuration space is read into `id`.
    let status = unsafe { ((*this).pci_read)(this, WIDTH_U32, 0, 1, (&raw mut id).cast()) };
    status.is_success()
        && (id & 0xFFFF) as u16 == VIRTIO_VENDOR
        && CONSOLE_DEVICES.contains(&((id >> 16) as u16))
}

/// The virtio console PCI handles taken from the firmware's drivers.
pub struct VirtioHandles {
    handles: Vec<Handle, 8>,
}

impl VirtioHandles {
    /// Finds the virtio console PCI functions and disconnects the
    /// firmware's drivers from them; what happened goes to `notes`.
    pub fn find(notes: &mut impl core::fmt::Write) -> VirtioHandles {
        let mut handles = Vec::new();
        if let Ok(all) = boot::locate_handle_buffer(SearchType::from_proto::<PciIo>()) {
            for &h in all.iter().filter(|&&h| is_virtio_console(h)) {
                let _ = handles.push(h);
            }
        }
        let mut v = VirtioHandles { handles };
        v.take(notes);
        v
    }

    /// Disconnects every driver from the consoles.
    pub fn take(&mut self, notes: &mut impl core::fmt::Write) {
        for (i, &h) in self.handles.iter().enumerate() {
            // NOT_FOUND: no driver was bound.
            match boot::disconnect_controller(h, None, None) {
                Ok(()) => {
                    let _ = write!(notes, "virtio console {i}: firmware driver disconnected; ");
                }
                Err(e) if e.status() == Status::NOT_FOUND => {}
                Err(e) => {
                    let _ = write!(notes, "virtio console {i}: disconnect: {:?}; ", e.status());
                }
            }
            if !enable(h) {
                let _ = write!(notes, "virtio console {i}: decoding not enabled; ");
            }
        }
    }

    /// Connects the firmware's drivers again (the board has reset the
    /// devices).
    pub fn give_back(&mut self) {
        for &h in &self.handles {
            let _ = boot::connect_controller(h, &[], None, true);
        }
    }
}

/// The UID of the PC serial port a device path names, if it names one.
fn com_uid(path: &DevicePath) -> Option<u32> {
    path.node_iter().find_map(|node| match node.as_enum() {
        Ok(DevicePathNodeEnum::AcpiAcpi(a)) if a.hid() == PNP0501 => Some(a.uid()),
        _ => None,
    })
}

/// One firmware serial port.
struct Port {
    handle: Handle,
    base: u16,
    /// Open exclusively (out of the console) while this is held.
    taken: Option<ScopedProtocol<Serial>>,
}

/// The firmware's PC serial ports, taken out of its console.
pub struct SerialHandles {
    ports: Vec<Port, 4>,
}

impl SerialHandles {
    /// None taken (the channel is a virtio port: the console stays).
    pub fn none() -> SerialHandles {
        SerialHandles { ports: Vec::new() }
    }

    /// Finds the firmware's COM ports and takes each out of the console.
    pub fn take_all() -> SerialHandles {
        let mut ports = Vec::new();
        if let Ok(all) = boot::locate_handle_buffer(SearchType::from_proto::<Serial>()) {
            for &handle in all.iter() {
                let uid = peek::<DevicePath>(handle).and_then(|p| com_uid(&p));
                let Some(&base) = uid.and_then(|u| COM_BASES.get(u as usize)) else {
                    continue;
                };
                let _ = ports.push(Port {
                    handle,
                    base,
                    taken: None,
                });
            }
        }
        let mut s = SerialHandles { ports };
        s.retake();
        s
    }

    /// The I/O bases of the ports taken.
    pub fn bases(&self) -> impl Iterator<Item = u16> + '_ {
        self.ports
            .iter()
            .filter(|p| p.taken.is_some())
            .map(|p| p.base)
    }

    /// Returns every port but `keep` (the channel's, if it is a COM port)
    /// to the firmware's console.
    pub fn give_back(&mut self, keep: Option<u16>) {
        for p in self.ports.iter_mut().filter(|p| Some(p.base) != keep) {
            if p.taken.take().is_some() {
                let _ = boot::connect_controller(p.handle, &[], None, true);
            }
        }
    }

    /// Takes the ports given back out of the console again.
    pub fn retake(&mut self) {
        for p in self.ports.iter_mut().filter(|p| p.taken.is_none()) {
            p.taken = boot::open_protocol_exclusive::<Serial>(p.handle).ok();
        }
    }
}
