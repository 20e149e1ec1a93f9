//! nanoqga: a QEMU Guest Agent for guests too small for qemu-ga.
//!
//! Unikernels, bare-metal images, initramfs systems and firmware stages that
//! must answer a health check can link this `#![no_std]`, heap-free,
//! `unsafe`-free library and serve the QEMU Guest Agent protocol on a UART or
//! a virtio-console port. On the wire it behaves like qemu-ga 7.2: the same
//! framing (by JSON structure, 0xFF resynchronisation), the same replies byte
//! for byte (`{"return": …}` with qemu-ga's separators, ASCII-only escapes),
//! the same error classes, texts and validation order. The command set is
//! qemu-ga's schema up to 10.0 (QGA 4.2's 35 commands and the 9 read-mostly
//! ones added since).
//!
//! # The data path, one module per stage
//!
//! * [`receiver`]: the request buffer and the framer ([`json::frame`]):
//!   bytes in, whole messages (or a stray token, or a broken limit) out.
//! * [`envelope`]: one message to `execute`, `arguments` and `id`, with
//!   qemu-ga's checks and texts.
//! * [`dispatch`]: table lookup, enablement (`-b`/`-a`, frozen state) and
//!   the argument schema check of [`args`].
//! * [`commands`]: one module per family; each command decodes its typed
//!   argument struct, runs once, and streams its value.
//! * The reply writer (private): `{"return": …}` or `{"error": …}` with the
//!   `id` echoed, in pieces that fit whatever room the transport gives.
//! * [`Agent`]: I/O, the buffers, the state machine around those stages;
//!   [`event`] tells the board what happened.
//!
//! # The board side
//!
//! * [`platform`]: one small trait per capability (clock, power, files,
//!   programs, system information, processors, memory, disks, network,
//!   freeze, passwords, ssh keys); a board implements the ones it has and
//!   the rest answer qemu-ga's "not supported".
//! * [`programs`], [`ramfs`], [`trace`]: portable building blocks boards
//!   share (built-in `guest-exec` programs, a RAM file store, a trace ring).
//! * [`config`]: every capacity, with its reason.
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
