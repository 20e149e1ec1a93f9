//! nanoqga: a QEMU Guest Agent for guests too small for qemu-ga.
//!
//! Unikernels, bare-metal images, initramfs systems and firmware stages that
//! must answer a health check can link this `#![no_std]`, heap-free,
//! `unsafe`-free library and serve the QEMU Guest Agent protocol on a UART or
//! a virtio-console port. On the wire it behaves like qemu-ga 7.2: the same
//! framing (by JSON structure, 0xFF resynchronisation), the same replies byte
//! for byte (`{"return": …}` with qemu-ga's separators, ASCII-only escapes),
//! the same error classes, texts and validation order, and the QGA 4.2
//! command set.
//!
//! # Layers
//!
//! * [`json`]: framing, validation, walking and serialisation of qemu-ga's
//!   JSON dialect, total on arbitrary bytes.
//! * [`schema`] and [`commands`]: the static command table, argument
//!   validation, and the handlers.
//! * [`platform`]: the board's hooks (clock, power, files, programs, system
//!   information); each defaults to qemu-ga's "not supported" error.
//! * [`Agent`]: the polled state machine over an `embedded-io` transport,
//!   with all memory in a [`Storage`] the board owns.
//! * [`programs`], [`ramfs`], [`trace`]: portable building blocks boards
//!   share (built-in `guest-exec` programs, a RAM file store, a trace ring).
//!
//! # Use
//!
//! ```
//! use nanoqga::{Agent, AgentConfig, Platform, Poll, Storage};
//!
//! struct Board;
//! impl Platform for Board {}
//!
//! let mut storage: Storage = Storage::new();
//! let mut agent = Agent::new(&mut storage, Board, AgentConfig::default());
//! // In the board's main loop, with `uart` implementing embedded-io's
//! // Read + ReadReady + Write + WriteReady:
//! // loop { if agent.poll(&mut uart)? == Poll::Idle { /* wait */ } }
//! # let _ = &mut agent;
//! ```
#![cfg_attr(not(test), no_std)]
// `QgaError` carries its description pieces inline (no heap); it is built
// once per failed request and moved a few times, so its size is fine.
#![allow(clippy::result_large_err)]
// The no-panic lints of Cargo.toml apply to the agent, not to its tests.
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_possible_wrap
    )
)]

pub mod agent;
pub mod args;
pub mod base64;
pub mod commands;
pub mod config;
pub mod dispatch;
pub mod envelope;
pub mod error;
pub mod event;
pub mod json;
mod mem;
pub mod platform;
pub mod programs;
pub mod ramfs;
pub mod receiver;
mod reply;
mod state;
pub mod trace;

pub use agent::{Agent, AgentConfig, AgentState, Poll, Stats, Storage};
pub use error::{Errno, ErrorClass, HookError, QgaError};
pub use event::Event;
pub use json::frame::Limit;
pub use platform::Platform;
