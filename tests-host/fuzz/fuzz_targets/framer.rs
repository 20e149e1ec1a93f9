//! The framer over arbitrary bytes arriving in arbitrary chunks, driven the
//! way the agent drives it (a bounded buffer, compaction, overflow).
//! Checks: no panic; every frame lies inside the scanned bytes and frames
//! come in order; each `advance` makes progress or waits for input (calls
//! per byte bounded); the result does not depend on the chunking.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| nanoqga_tests_host::fuzzing::framer(data));
