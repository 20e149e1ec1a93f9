//! Shared pieces of nanoqga's bare-metal boards.
//!
//! Everything two boards need lives here once: the file store (a RAM store
//! under `/tmp/` plus the read-only trace file), the `guest-exec` programs,
//! and the bare-metal system information. Hardware drivers that more than
//! one machine uses live here too, and so do the board hooks themselves
//! ([`Board`], over a small [`Machine`] trait). Boards add only their
//! hardware: boot code, the UART, the clock, power control.
#![no_std]
#![deny(missing_docs)]

pub mod board;
pub mod cell;
pub mod civil;
pub mod console;
pub mod dma;
pub mod dtb;
pub mod files;
pub mod info;
pub mod ns16550;
pub mod programs;
pub mod serial;
pub mod serve;
pub mod stack;
pub mod start;
#[cfg(target_arch = "x86_64")]
pub mod x86;

pub use board::{Board, Machine, WallClock};
pub use files::BoardFiles;
pub use programs::BoardPrograms;
