//! ACPI tables: what power control and system information need.
//!
//! From the RSDP that PVH hands over: the FADT's PM1a control port, reset
//! register and DSDT; `_S5`'s sleep type from the DSDT; the CPU count from the
//! MADT; the HPET's address. Tables are read in place (identity-mapped) and
//! every field is bounds-checked against the table's own length, so bad
//! tables give "not found", never a fault.

/// What the agent uses from ACPI.
#[derive(Clone, Copy, Debug, Default)]
pub struct Acpi {
    /// PM1a control block I/O port.
    pub pm1a_cnt: Option<u16>,
    /// SLP_TYPa of the S5 (soft-off) state.
    pub s5_slp_typ: u16,
    /// FADT reset register: (address space, address, value).
    pub reset: Option<(u8, u64, u8)>,
    /// Enabled processors in the MADT.
    pub cpus: u32,
    /// HPET base address.
    pub hpet: Option<u64>,
}

/// A table in physical memory.
struct Table {
    base: u64,
    len: usize,
}

impl Table {
    /// # Safety
    /// `base` must point to a readable ACPI table (identity-mapped).
    unsafe fn at(base: u64) -> Option<Table> {
        if base == 0 {
            return None;
        }
        // SAFETY: the caller guarantees a readable table header (36 bytes).
        let len = unsafe { core::ptr::read_unaligned((base + 4) as *const u32) } as usize;
        if !(36..=1 << 20).contains(&len) {
            return None;
        }
        Some(Table { base, len })
    }

    fn signature(&self) -> [u8; 4] {
        let mut s = [0u8; 4];
        for (i, b) in s.iter_mut().enumerate() {
            *b = self.u8(i).unwrap_or(0);
        }
        s
    }

    fn bytes(&self) -> &'static [u8] {
        // SAFETY: the table is readable for its declared length (checked to
        // be at most 1 MiB) and ACPI tables are never freed.
        unsafe { core::slice::from_raw_parts(self.base as *const u8, self.len) }
    }

    fn u8(&self, off: usize) -> Option<u8> {
        self.bytes().get(off).copied()
    }

    fn u32(&self, off: usize) -> Option<u32> {
        let b = self.bytes().get(off..off + 4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&self, off: usize) -> Option<u64> {
        let b = self.bytes().get(off..off + 8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Some(u64::from_le_bytes(a))
    }
}

/// Reads the ACPI tables reachable from `rsdp`.
///
/// # Safety
/// `rsdp` must be 0 or the address of a valid RSDP in identity-mapped memory
/// (QEMU's PVH start_info provides one).
pub unsafe fn parse(rsdp: u64) -> Acpi {
    let mut acpi = Acpi::default();
    if rsdp == 0 {
        return acpi;
    }
    // SAFETY: the caller guarantees a valid RSDP (at least 20 bytes; 36 when
    // revision >= 2).
    let (rev, rsdt, xsdt) = unsafe {
        let p = rsdp as *const u8;
        if core::slice::from_raw_parts(p, 8) != b"RSD PTR " {
            return acpi;
        }
        let rev = *p.add(15);
        let rsdt = u64::from(core::ptr::read_unaligned(p.add(16) as *const u32));
        let xsdt = if rev >= 2 {
            core::ptr::read_unaligned(p.add(24) as *const u64)
        } else {
            0
        };
        (rev, rsdt, xsdt)
    };
    let _ = rev;
    let (root, entry_size) = if xsdt != 0 { (xsdt, 8) } else { (rsdt, 4) };
    // SAFETY: the RSDP points to the root table.
    let Some(root) = (unsafe { Table::at(root) }) else {
        return acpi;
    };
    let mut off = 36;
    while off + entry_size <= root.len {
        let addr = if entry_size == 8 {
            root.u64(off)
        } else {
            root.u32(off).map(u64::from)
        };
        off += entry_size;
        // SAFETY: entries of the root table point to tables.
        let Some(t) = addr.and_then(|a| unsafe { Table::at(a) }) else {
            continue;
        };
        match &t.signature() {
            b"FACP" => fadt(&t, &mut acpi),
            b"APIC" => acpi.cpus = madt_cpus(&t),
            b"HPET" => acpi.hpet = t.u64(44).filter(|&a| a != 0),
            _ => {}
        }
    }
    acpi
}

fn fadt(t: &Table, acpi: &mut Acpi) {
    acpi.pm1a_cnt = t
        .u32(64)
        .and_then(|p| u16::try_from(p).ok())
        .filter(|&p| p != 0);
    // RESET_REG is valid from FADT revision 2 when flag RESET_REG_SUP (bit 10) is set.
    let flags = t.u32(112).unwrap_or(0);
    if t.len >= 129
        && flags & (1 << 10) != 0
        && let (Some(space), Some(addr), Some(value)) = (t.u8(116), t.u64(120), t.u8(128))
    {
        acpi.reset = Some((space, addr, value));
    }
    let dsdt = match t.u64(140) {
        Some(x) if t.len >= 148 && x != 0 => x,
        _ => u64::from(t.u32(40).unwrap_or(0)),
    };
    // SAFETY: the FADT's DSDT field points to the DSDT.
    if let Some(d) = unsafe { Table::at(dsdt) } {
        acpi.s5_slp_typ = s5(d.bytes()).unwrap_or(0);
    }
}

/// SLP_TYPa from `Name (_S5, Package () { a, b, ... })` in AML.
fn s5(aml: &[u8]) -> Option<u16> {
    let at = aml.windows(4).position(|w| w == b"_S5_")?;
    let mut p = at + 4;
    if *aml.get(p)? != 0x12 {
        return None; // not a PackageOp
    }
    p += 1;
    let lead = *aml.get(p)?;
    p += 1 + usize::from(lead >> 6); // PkgLength bytes
    p += 1; // NumElements
    match *aml.get(p)? {
        0x0A => aml.get(p + 1).map(|&b| u16::from(b)), // BytePrefix
        0x00 => Some(0),                               // ZeroOp
        0x01 => Some(1),                               // OneOp
        b => Some(u16::from(b)),
    }
}

fn madt_cpus(t: &Table) -> u32 {
    let mut n = 0;
    let mut off = 44;
    while let (Some(ty), Some(len)) = (t.u8(off), t.u8(off + 1)) {
        if len < 2 {
            break;
        }
        let enabled = match ty {
            0 => t.u32(off + 4).is_some_and(|f| f & 1 != 0),
            9 => t.u32(off + 8).is_some_and(|f| f & 1 != 0),
            _ => false,
        };
        n += u32::from(enabled);
        off += usize::from(len);
    }
    n
}
