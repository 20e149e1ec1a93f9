//! Capacities and protocol limits, each with its reason, in one place.
//!
//! Every buffer and table of the agent is sized here. The `DEFAULT_*` values
//! are the bare-metal defaults: they keep the agent's whole RAM under 16 KiB
//! (see [`DEFAULT_AGENT_RAM`]). A board that has more or less RAM picks its
//! own sizes as the const parameters of [`crate::Storage`]; the checks in
//! [`check_capacities`] run at compile time for every choice, so a size that
//! cannot work is a build error, never a runtime surprise.
//!
//! Sizes relate to each other: the TX buffer must hold the largest reply piece
//! that is written in one step, the request buffer must hold the largest
//! request, and file-read chunks are derived from the TX size. Those relations
//! are written out as functions of the chosen sizes, not repeated numbers.

/// Default size of the request buffer (bytes).
///
/// A request must fit whole in this buffer: the agent parses it in place and
/// echoes its `id` from it. 4096 bytes take every QGA request except large
/// `guest-file-write` payloads: about 2.9 KiB of file data per write fits.
/// Longer requests get one GenericError and the stream stays in sync.
pub const DEFAULT_RX_BYTES: usize = 4096;

/// Default size of the reply buffer (bytes).
///
/// Replies never need a buffer as large as their payload: file data, exec
/// output, the echoed `id` and request strings quoted in errors are streamed
/// through this buffer in pieces. It must hold the largest piece that is
/// written in one step (one `guest-info` entry, one network interface, one
/// object of `guest-get-osinfo`), which [`MIN_TX_BYTES`] bounds.
pub const DEFAULT_TX_BYTES: usize = 1024;

/// Default number of open file handles (`guest-file-open`).
///
/// qemu-ga has no limit; a minimal guest rarely keeps more than one or two
/// files open. A full table answers a GenericError.
pub const DEFAULT_FILE_HANDLES: usize = 8;

/// Default number of `guest-exec` status slots.
///
/// A slot lives from `guest-exec` until `guest-exec-status` has reported the
/// program exited. A full table answers a GenericError.
pub const DEFAULT_EXEC_SLOTS: usize = 4;

/// Default bytes captured per output stream (stdout, stderr) of one program.
///
/// qemu-ga captures up to 16 MiB per stream; output beyond the capture buffer
/// is dropped and reported with `out-truncated`/`err-truncated`, as qemu-ga
/// does at its own cap.
pub const DEFAULT_EXEC_CAPTURE_BYTES: usize = 512;

/// Default slots of the duplicate-key table used while validating a request.
///
/// Objects with more members than half of this are checked in several
/// passes, so the table bounds memory, not correctness.
pub const DEFAULT_KEY_SLOTS: usize = 32;

/// Largest nesting depth the agent can be configured to accept.
///
/// This is qemu-ga's own limit (`MAX_NESTING` in QEMU's json-streamer.c).
/// The parser keeps two bits per level on its stack, so this costs 256 bytes
/// of stack during validation and nothing at rest.
pub const MAX_NESTING: usize = 1024;

/// Default nesting depth limit (`{` plus `[` open at once).
///
/// The same as qemu-ga, so deeply nested but valid requests behave the same.
pub const DEFAULT_MAX_DEPTH: usize = MAX_NESTING;

/// Smallest request buffer that can hold any request the 4.2 schema needs
/// besides file and exec payloads (about 200 bytes with an id).
pub const MIN_RX_BYTES: usize = 256;

/// Smallest TX buffer: the largest piece written in one step.
///
/// The biggest fixed piece is a `guest-info` entry (about 90 bytes) or an
/// error envelope head; a formatted number or escaped character is at most
/// 32 bytes. Board-supplied strings (host name, OS info, interface names) are
/// rendered whole, so a board with long strings needs a larger TX buffer.
pub const MIN_TX_BYTES: usize = 256;

/// Smallest duplicate-key table.
pub const MIN_KEY_SLOTS: usize = 4;

/// Largest number of handle, exec and key slots (indices are stored as `u16`).
pub const MAX_SLOTS: usize = 1 << 15;

/// First handle returned by `guest-file-open` (qemu-ga's
/// `QGA_PSTATE_DEFAULT_FD_COUNTER`).
pub const FIRST_FILE_HANDLE: i64 = 1000;

/// `guest-file-read` count when the request gives none (qemu-ga's
/// `QGA_READ_COUNT_DEFAULT`).
pub const FILE_READ_COUNT_DEFAULT: i64 = 4096;

/// Largest `guest-file-read` count (qemu-ga 7.2's `GUEST_FILE_READ_COUNT_MAX`,
/// 48 MiB, chosen so that the base64 reply stays under the host's 64 MiB
/// JSON limit). The reply is streamed, so this costs no memory.
pub const FILE_READ_COUNT_MAX: i64 = 48 << 20;

/// Compile-time checks of one choice of capacities.
///
/// [`crate::Storage`] evaluates this for its parameters, so a board that picks
/// unusable sizes gets a build error.
pub const fn check_capacities(
    rx: usize,
    tx: usize,
    handles: usize,
    exec_slots: usize,
    capture: usize,
    key_slots: usize,
) {
    assert!(
        rx >= MIN_RX_BYTES,
        "request buffer smaller than MIN_RX_BYTES"
    );
    assert!(tx >= MIN_TX_BYTES, "reply buffer smaller than MIN_TX_BYTES");
    // Offsets into the request buffer are stored as u32.
    assert!(rx <= u32::MAX as usize, "request buffer larger than 4 GiB");
    assert!(tx <= u32::MAX as usize, "reply buffer larger than 4 GiB");
    assert!(
        handles >= 1 && handles <= MAX_SLOTS,
        "file handle table size"
    );
    assert!(
        exec_slots >= 1 && exec_slots <= MAX_SLOTS,
        "exec table size"
    );
    assert!(
        capture <= u32::MAX as usize,
        "capture buffer larger than 4 GiB"
    );
    assert!(
        key_slots >= MIN_KEY_SLOTS && key_slots <= MAX_SLOTS,
        "duplicate-key table size"
    );
    assert!(
        key_slots.is_power_of_two(),
        "key table size must be a power of two"
    );
    // One base64 quantum per step at least: a file-read piece needs room for
    // the encoded chunk and its raw bytes side by side.
    assert!(
        file_read_chunk(tx) >= 3,
        "reply buffer too small to stream file data"
    );
}

/// Raw bytes read from a file per streaming step for a TX buffer of `tx` bytes.
///
/// The raw bytes are read into the tail of the free TX space and encoded into
/// its head, so `raw + raw * 4 / 3 <= free`: at most 3/7 of the buffer, rounded
/// down to whole base64 quanta.
pub const fn file_read_chunk(tx: usize) -> usize {
    (tx / 7).saturating_mul(3)
}

/// Bytes of RAM the agent's storage takes at the default capacities.
///
/// Buffers and tables only; the per-slot bookkeeping is measured by the
/// footprint report (`tests-host`), which prints `size_of::<Storage>()`.
pub const DEFAULT_AGENT_RAM: usize = DEFAULT_RX_BYTES
    + DEFAULT_TX_BYTES
    + DEFAULT_EXEC_SLOTS * 2 * DEFAULT_EXEC_CAPTURE_BYTES
    + DEFAULT_KEY_SLOTS * 12;

const _: () = check_capacities(
    DEFAULT_RX_BYTES,
    DEFAULT_TX_BYTES,
    DEFAULT_FILE_HANDLES,
    DEFAULT_EXEC_SLOTS,
    DEFAULT_EXEC_CAPTURE_BYTES,
    DEFAULT_KEY_SLOTS,
);
const _: () = assert!(DEFAULT_AGENT_RAM <= 16 * 1024, "bare-metal RAM budget");
const _: () = assert!(DEFAULT_MAX_DEPTH <= MAX_NESTING);
