//! Replays every input the fuzzers ever failed on (`tests/fuzz_regressions/
//! TARGET/*`) and the seeds (`fuzz/seeds/TARGET/*`) through the
//! fuzz targets' own bodies (`nanoqga_tests_host::fuzzing`), so a fixed
//! failure stays fixed and the targets keep working in every CI run.

use std::path::Path;

fn replay(dir: &Path, target: fn(&[u8])) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut n = 0;
    for e in entries.flatten() {
        let data = std::fs::read(e.path()).expect("read input");
        target(&data);
        n += 1;
    }
    n
}

fn run(name: &str, target: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let kept = replay(&root.join("tests/fuzz_regressions").join(name), target);
    let seeds = replay(&root.join("fuzz/seeds").join(name), target);
    assert!(seeds > 0, "no seed corpus for {name}");
    eprintln!("{name}: {kept} kept failure(s), {seeds} seed(s) replayed");
}

#[test]
fn framer_inputs_replay_clean() {
    run("framer", nanoqga_tests_host::fuzzing::framer);
}

#[test]
fn envelope_inputs_replay_clean() {
    run("envelope", nanoqga_tests_host::fuzzing::envelope);
}

#[test]
fn agent_inputs_replay_clean() {
    run("agent", nanoqga_tests_host::fuzzing::agent);
}
