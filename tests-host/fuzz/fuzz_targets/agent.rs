//! The whole agent over `MockSerial` with the mock board: arbitrary input
//! bytes, read chunk sizes and per-poll TX budgets taken from the input.
//! Checks: no panic; polls bounded per input byte (no livelock); the output
//! is a sequence of complete, ASCII JSON objects each ending in `\n`, with
//! 0xFF only directly before a `guest-sync-delimited` reply; memory bounded
//! (fixed storage, reused for every input).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| nanoqga_tests_host::fuzzing::agent(data));
