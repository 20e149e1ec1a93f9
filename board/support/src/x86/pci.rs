//! PCI: finding virtio console devices on q35 and pc.
//!
//! Configuration space is reached through the legacy 0xCF8/0xCFC ports, which
//! both machines have (pc has no ECAM). The scan starts at bus 0 and follows
//! PCI-to-PCI bridges, so a device behind a `pcie-root-port` (bus 1 or
//! later, modern-only) is found as well as one on the root bus
//! (transitional). SeaBIOS has assigned the BARs; the scan turns on memory
//! decoding and bus mastering (INTx stays enabled: the board sleeps until
//! it fires), then hands the device to virtio-drivers' modern PCI
//! transport.

use crate::dma::Dma;
use heapless::Vec;
use virtio_drivers::transport::DeviceType;
use virtio_drivers::transport::pci::bus::{
    Command, ConfigurationAccess, DeviceFunction, HeaderType, PciRoot,
};
use virtio_drivers::transport::pci::{PciTransport, virtio_device_type};

use super::io::{inl, outl};

/// Configuration space through the 0xCF8/0xCFC ports.
pub struct PortIoCam;

fn address(df: DeviceFunction, offset: u8) -> u32 {
    0x8000_0000
        | (u32::from(df.bus) << 16)
        | (u32::from(df.device) << 11)
        | (u32::from(df.function) << 8)
        | u32::from(offset & 0xFC)
}

impl ConfigurationAccess for PortIoCam {
    fn read_word(&self, df: DeviceFunction, offset: u8) -> u32 {
        // SAFETY: 0xCF8/0xCFC are the PCI configuration ports of the host
        // bridge; this image is their only user.
        unsafe {
            outl(0xCF8, address(df, offset));
            inl(0xCFC)
        }
    }

    fn write_word(&mut self, df: DeviceFunction, offset: u8, data: u32) {
        // SAFETY: as in `read_word`.
        unsafe {
            outl(0xCF8, address(df, offset));
            outl(0xCFC, data);
        }
    }

    unsafe fn unsafe_clone(&self) -> Self {
        PortIoCam
    }
}

/// Every virtio console device found, in bus order (at most 8), with the
/// ISA IRQ its INTx line is routed to (the interrupt line register SeaBIOS
/// set; `None` if it set none).
pub fn console_transports() -> Vec<(PciTransport, Option<u8>), 8> {
    let mut root = PciRoot::new(PortIoCam);
    let mut found = Vec::new();
    let mut buses: Vec<u8, 32> = Vec::new();
    let _ = buses.push(0);
    let mut next = 0;
    while let Some(&bus) = buses.get(next) {
        next += 1;
        let devices: Vec<(DeviceFunction, bool, Option<DeviceType>), 64> = root
            .enumerate_bus(bus)
            .map(|(df, info)| {
                (
                    df,
                    matches!(info.header_type, HeaderType::PciPciBridge),
                    virtio_device_type(&info),
                )
            })
            .collect();
        for (df, bridge, ty) in devices {
            if bridge {
                // Secondary bus number: byte 1 of the dword at 0x18.
                let secondary = ((PortIoCam.read_word(df, 0x18) >> 8) & 0xFF) as u8;
                if secondary != 0 && !buses.contains(&secondary) {
                    let _ = buses.push(secondary);
                }
            }
            if ty == Some(DeviceType::Console) {
                root.set_command(
                    df,
                    Command::IO_SPACE | Command::MEMORY_SPACE | Command::BUS_MASTER,
                );
                // Interrupt line: byte 0 of the dword at 0x3C.
                let line = (PortIoCam.read_word(df, 0x3C) & 0xFF) as u8;
                let line = (line < 16).then_some(line);
                if let Ok(t) = PciTransport::new::<Dma, _>(&mut root, df) {
                    let _ = found.push((t, line));
                }
            }
        }
    }
    found
}
