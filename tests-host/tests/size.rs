//! The core's size goals on a Cortex-M (thumbv7em-none-eabihf, opt-level
//! "z", LTO, without `float-ids`), measured on `tests-host/size-probe` as
//! the footprint report measures them. Sizes are deterministic for a given
//! toolchain, so they are asserted; times never are.

use std::process::Command;

use nanoqga_tests_host::elf::sections;
use nanoqga_tests_host::qemu::repo_root;

const TARGET: &str = "thumbv7em-none-eabihf";

/// `.text` of the size probe built with `features`, or `None` (after one
/// line saying how to install it) when the target is missing outside CI.
fn probe_text(features: &[&str]) -> Option<u64> {
    let sysroot = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .expect("rustc");
    let sysroot = String::from_utf8_lossy(&sysroot.stdout).trim().to_string();
    let lib = format!("{sysroot}/lib/rustlib/{TARGET}");
    if !nanoqga_tests_host::require_tool(&lib, &format!("rustup target add {TARGET}")) {
        return None;
    }
    let probe = repo_root().join("tests-host/size-probe");
    // Its own target directory per feature set, so parallel tests do not
    // overwrite each other's image.
    let dir = probe.join(format!("target/size-test-{}", features.join("-")));
    let mut cmd = Command::new("cargo");
    cmd.current_dir(&probe)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .args(["build", "--release", "--quiet", "--target", TARGET])
        .arg("--target-dir")
        .arg(&dir);
    if !features.is_empty() {
        cmd.args(["--features", &features.join(",")]);
    }
    let status = cmd.status().expect("cargo");
    assert!(status.success(), "size probe build failed");
    let image = dir.join(format!("{TARGET}/release/nanoqga-size-probe"));
    Some(sections(&image).text)
}

#[test]
fn core_with_every_command_fits_32_kib_on_cortex_m() {
    let Some(text) = probe_text(&[]) else { return };
    assert!(text <= 32 * 1024, ".text {text} B > 32 KiB");
}

#[test]
fn core_with_the_health_table_fits_16_kib_on_cortex_m() {
    let Some(text) = probe_text(&["health"]) else {
        return;
    };
    assert!(text <= 16 * 1024, ".text {text} B > 16 KiB");
}

/// The guest agent's contract: a static binary of at most 1 MiB stripped,
/// for x86_64 and aarch64.
#[test]
fn nanoqga_linux_is_static_and_at_most_1_mib_stripped_on_x86_64_and_aarch64() {
    for target in ["x86_64-unknown-linux-musl", "aarch64-unknown-linux-musl"] {
        let sysroot = Command::new("rustc")
            .args(["--print", "sysroot"])
            .output()
            .expect("rustc");
        let sysroot = String::from_utf8_lossy(&sysroot.stdout).trim().to_string();
        let lib = format!("{sysroot}/lib/rustlib/{target}");
        if !nanoqga_tests_host::require_tool(&lib, &format!("rustup target add {target}")) {
            return;
        }
        let bin = nanoqga_tests_host::linux::build_nanoqga_linux(target);
        let data = std::fs::read(&bin).expect("binary");
        let file = object::File::parse(&*data).expect("ELF");
        use object::Object as _;
        assert!(
            file.imports().map(|i| i.is_empty()).unwrap_or(true)
                && !data.windows(b"ld-linux".len()).any(|w| w == b"ld-linux"),
            "{target}: not static"
        );
        let size = std::fs::metadata(nanoqga_tests_host::linux::stripped(&bin))
            .expect("stripped")
            .len();
        assert!(size <= 1 << 20, "{target}: {size} B stripped");
    }
}
