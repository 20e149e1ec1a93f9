//! JSON as qemu-ga speaks it: lexing, framing, validation, walking, output.
//!
//! The data path is `frame` (bytes → messages, by structure) → `parse`
//! (syntax and string validity, qemu-ga's error texts) → `walk` (typed access
//! to a validated message in place) → `out` (qemu-ga's exact serialisation).
//! Nothing here allocates, recurses or panics; every function is total on
//! arbitrary bytes.

pub mod frame;
pub mod lex;
pub mod out;
pub mod parse;
pub mod walk;
