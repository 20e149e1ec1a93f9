//! The firmware stage in QEMU: OVMF boots `nanoqga-uefi` as
//! `EFI/BOOT/BOOTX64.EFI` of a boot volume (`../shared/design/uefi.md` has
//! the facts).
//!
//! Contract:
//! * [`boot`] builds the application (once per process), lays out the
//!   boot volume in the VM's temporary directory, copies OVMF's variable
//!   store there (each VM writes its own), and starts QEMU on q35 with the
//!   given channel wiring and the trace mirror on the debug console.
//! * [`Volume::Directory`] is QEMU's `fat:rw:` view of a host directory,
//!   as a user boots from one. [`Volume::Image`] is a FAT disk image made
//!   here (the `fatfs` crate): QEMU 7.2's `fat:` driver does not write a
//!   new or grown file's bytes back to the host directory (it copies the
//!   file when its directory entry changes, which the firmware's FAT driver
//!   writes before the data; fixed in QEMU 9.1), so what the guest writes
//!   is checked in an image, read back with [`read_image_file`] once QEMU
//!   has exited.
//! * Missing OVMF or QEMU is reported by [`crate::require_tool`].

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use crate::process::TempDir;
use crate::qemu::{Boot, QEMU_X86_64, Vm, build_board};

/// OVMF's code (read-only flash).
pub const OVMF_CODE: &str = "/usr/share/OVMF/OVMF_CODE.fd";
/// OVMF's variable store template (each VM gets a copy).
pub const OVMF_VARS: &str = "/usr/share/OVMF/OVMF_VARS.fd";
/// The boot volume's path of the application.
pub const BOOT_PATH: &str = "EFI/BOOT/BOOTX64.EFI";

/// The application, built once per process.
pub fn application() -> PathBuf {
    build_board("uefi", "x86_64-unknown-uefi")
}

/// The boot volume's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Volume {
    /// A host directory through `-drive file=fat:rw:DIR`.
    Directory,
    /// A FAT disk image (64 MiB plus what the files need).
    Image,
}

/// A firmware VM.
pub struct Firmware {
    /// The VM (its QGA socket is `vm.qga`).
    pub vm: Vm,
    /// The boot volume: the directory or the image file.
    pub volume: PathBuf,
}

/// Whether OVMF and QEMU are here (one line, or a CI failure, if not).
pub fn tools() -> bool {
    crate::require_tool(
        QEMU_X86_64,
        "apt-get install -y --no-install-recommends qemu-system-x86",
    ) && crate::require_tool(OVMF_CODE, "apt-get install -y --no-install-recommends ovmf")
}

/// Writes a FAT image at `img` holding `files` (volume path, contents).
fn make_image(img: &Path, files: &[(String, Vec<u8>)]) {
    let need: u64 = files.iter().map(|(_, d)| d.len() as u64).sum();
    let size = (64 << 20) + need * 2;
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(img)
        .expect("create image");
    f.set_len(size).expect("size image");
    fatfs::format_volume(
        &mut f,
        fatfs::FormatVolumeOptions::new().volume_label(*b"NANOQGA    "),
    )
    .expect("format image");
    let fs = fatfs::FileSystem::new(&mut f, fatfs::FsOptions::new()).expect("open image");
    let root = fs.root_dir();
    for (path, data) in files {
        let parts: Vec<&str> = path.split('/').collect();
        let mut dir = root.clone();
        for d in &parts[..parts.len() - 1] {
            dir = match dir.open_dir(d) {
                Ok(d) => d,
                Err(_) => dir.create_dir(d).expect("mkdir in image"),
            };
        }
        let mut file = dir
            .create_file(parts[parts.len() - 1])
            .expect("create file in image");
        file.truncate().expect("truncate");
        file.write_all(data).expect("write file in image");
    }
}

/// A file of the FAT image at `img` (`None` if it is not there).
pub fn read_image_file(img: &Path, path: &str) -> Option<Vec<u8>> {
    let mut f = std::fs::File::open(img).ok()?;
    let fs = fatfs::FileSystem::new(&mut f, fatfs::FsOptions::new()).ok()?;
    let mut file = fs.root_dir().open_file(path).ok()?;
    let mut out = Vec::new();
    file.read_to_end(&mut out).ok()?;
    Some(out)
}

/// Boots OVMF with the application on a `volume` that also holds `files`
/// (volume path, contents), `devices` wiring the channel (`{QGA}` is the
/// socket), `memory` of RAM. `None` when tools are missing outside CI.
pub fn boot(
    volume: Volume,
    files: &[(String, Vec<u8>)],
    devices: &[&str],
    memory: &str,
    qmp: bool,
) -> Option<Firmware> {
    if !tools() {
        return None;
    }
    let app = std::fs::read(application()).expect("application");
    let dir = TempDir::new("uefi");
    let vars = dir.path().join("vars.fd");
    std::fs::copy(OVMF_VARS, &vars).expect("copy OVMF_VARS");
    let mut all = vec![(BOOT_PATH.to_string(), app)];
    all.extend(files.iter().cloned());
    let (volume_path, drive) = match volume {
        Volume::Directory => {
            let root = dir.path().join("volume");
            for (path, data) in &all {
                let p = root.join(path);
                std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
                std::fs::write(&p, data).expect("write volume file");
            }
            let arg = format!("format=raw,file=fat:rw:{}", root.display());
            (root, arg)
        }
        Volume::Image => {
            let img = dir.path().join("volume.img");
            make_image(&img, &all);
            let arg = format!("format=raw,file={}", img.display());
            (img, arg)
        }
    };
    let boot_args: Vec<String> = [
        "-drive".to_string(),
        format!("if=pflash,format=raw,readonly=on,file={OVMF_CODE}"),
        "-drive".to_string(),
        format!("if=pflash,format=raw,file={}", vars.display()),
        "-drive".to_string(),
        drive,
    ]
    .to_vec();
    let vm = Vm::start_in(
        dir,
        &Boot {
            qemu: QEMU_X86_64,
            machine: &[
                "-machine",
                "q35",
                "-accel",
                "tcg",
                "-smp",
                "2",
                "-no-reboot",
            ],
            memory,
            boot: &boot_args,
        },
        devices,
        qmp,
    );
    Some(Firmware {
        vm,
        volume: volume_path,
    })
}
