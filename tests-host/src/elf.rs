//! Section sizes of an ELF image.

use object::{Object, ObjectSection, SectionKind};

/// Bytes by kind: text, read-only data, data, bss.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sections {
    /// Code.
    pub text: u64,
    /// Read-only data (and notes).
    pub rodata: u64,
    /// Initialised data.
    pub data: u64,
    /// Zero-initialised data (stack and page tables included on boards).
    pub bss: u64,
}

/// Sums the allocated sections of the ELF file at `path` by kind.
pub fn sections(path: &std::path::Path) -> Sections {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let file = object::File::parse(&*bytes).expect("ELF");
    let mut s = Sections::default();
    for sec in file.sections() {
        let size = sec.size();
        match sec.kind() {
            SectionKind::Text => s.text += size,
            SectionKind::ReadOnlyData | SectionKind::ReadOnlyString | SectionKind::Note => {
                s.rodata += size
            }
            SectionKind::Data | SectionKind::Tls => s.data += size,
            SectionKind::UninitializedData | SectionKind::UninitializedTls => s.bss += size,
            _ => {}
        }
    }
    s
}
