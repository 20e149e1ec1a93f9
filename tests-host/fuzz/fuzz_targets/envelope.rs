//! Envelope and argument decoding over one arbitrary message: the syntax
//! and duplicate-key pass, the member and element walkers, value kinds,
//! string decoding, the argument check of every command, base64.
//! Checks: no panic; walkers stay inside the message and terminate.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| nanoqga_tests_host::fuzzing::envelope(data));
