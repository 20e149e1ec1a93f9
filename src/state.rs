//! Agent state that outlives one request: file handles, programs, flags.
//!
//! Contract:
//! * File handles count up from 1000 and are never reused while the agent
//!   runs (a failed open does not use a number, as in qemu-ga); the table is
//!   bounded, and a full table is an ordinary error.
//! * Program ids (pids) count up from 1 and are never reused; a status slot
//!   lives from `guest-exec` until `guest-exec-status` has reported the
//!   program exited. That report marks the slot *reaping*: the pid is gone
//!   (as in qemu-ga) but the captured output stays until the reply has
//!   streamed it; the continuation frees the slot when it is done, and any
//!   reaping slot left by a reply that was abandoned (the client left) is
//!   freed by the next exec command.
//! * Nothing here allocates; all tables are borrowed from [`crate::Storage`].

use core::time::Duration;

use crate::config::FIRST_FILE_HANDLE;
use crate::platform::{Capture, CaptureMode, ExecIo, ExecState, ExecStatus, FileId, Programs};

/// One slot of the file handle table.
#[derive(Clone, Copy, Debug, Default)]
pub struct HandleSlot {
    /// qemu-ga handle number; 0 when free.
    handle: i64,
    file: FileId,
}

impl HandleSlot {
    /// A free slot.
    pub const EMPTY: HandleSlot = HandleSlot {
        handle: 0,
        file: FileId(0),
    };
}

/// The file handle table.
pub(crate) struct Handles<'s> {
    slots: &'s mut [HandleSlot],
    next: i64,
}

impl<'s> Handles<'s> {
    pub fn new(slots: &'s mut [HandleSlot]) -> Self {
        slots.iter_mut().for_each(|s| *s = HandleSlot::default());
        Handles {
            slots,
            next: FIRST_FILE_HANDLE,
        }
    }

    /// Whether another file can be opened.
    pub fn has_room(&self) -> bool {
        self.slots.iter().any(|s| s.handle == 0)
    }

    /// Records an open file; returns its new handle, or `None` when full.
    pub fn insert(&mut self, file: FileId) -> Option<i64> {
        let slot = self.slots.iter_mut().find(|s| s.handle == 0)?;
        let handle = self.next;
        self.next = self.next.saturating_add(1);
        *slot = HandleSlot { handle, file };
        Some(handle)
    }

    /// The file behind a handle.
    pub fn get(&self, handle: i64) -> Option<FileId> {
        if handle == 0 {
            return None;
        }
        self.slots
            .iter()
            .find(|s| s.handle == handle)
            .map(|s| s.file)
    }

    /// Forgets a handle, returning its file.
    pub fn remove(&mut self, handle: i64) -> Option<FileId> {
        if handle == 0 {
            return None;
        }
        let slot = self.slots.iter_mut().find(|s| s.handle == handle)?;
        let file = slot.file;
        *slot = HandleSlot::default();
        Some(file)
    }

    /// Number of open handles.
    pub fn open_count(&self) -> usize {
        self.slots.iter().filter(|s| s.handle != 0).count()
    }
}

/// Where a program slot is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SlotState {
    /// Free.
    #[default]
    Free,
    /// Running.
    Running,
    /// Finished; status not reported yet.
    Done(ExecStatus),
    /// Reported; freed once the reply has streamed its output.
    Reaping(ExecStatus),
}

/// One `guest-exec` status slot.
#[derive(Clone, Copy, Debug, Default)]
pub struct ExecSlot {
    pid: i64,
    pub(crate) state: SlotState,
    capture: CaptureMode,
    /// While running: how soon the program wants its next step.
    wake: Duration,
    pub(crate) out_len: u32,
    pub(crate) err_len: u32,
    pub(crate) out_truncated: bool,
    pub(crate) err_truncated: bool,
    program: ExecState,
}

impl ExecSlot {
    /// A free slot.
    pub const EMPTY: ExecSlot = ExecSlot {
        pid: 0,
        state: SlotState::Free,
        capture: CaptureMode::None,
        wake: Duration::ZERO,
        out_len: 0,
        err_len: 0,
        out_truncated: false,
        err_truncated: false,
        program: [0; 4],
    };
}

/// The program table and its capture buffers.
pub(crate) struct Execs<'s> {
    slots: &'s mut [ExecSlot],
    capture: &'s mut [u8],
    per_stream: usize,
    next_pid: i64,
}

impl<'s> Execs<'s> {
    pub fn new(slots: &'s mut [ExecSlot], capture: &'s mut [u8]) -> Self {
        slots.iter_mut().for_each(|s| *s = ExecSlot::default());
        let per_stream = capture
            .len()
            .checked_div(slots.len().saturating_mul(2))
            .unwrap_or(0);
        Execs {
            slots,
            capture,
            per_stream,
            next_pid: 1,
        }
    }

    /// Index of a free slot.
    pub fn free_slot(&self) -> Option<usize> {
        self.slots.iter().position(|s| s.state == SlotState::Free)
    }

    /// Slot of a reported-or-not program by pid.
    pub fn find(&self, pid: i64) -> Option<usize> {
        self.slots.iter().position(|s| {
            pid != 0 && s.pid == pid && matches!(s.state, SlotState::Running | SlotState::Done(_))
        })
    }

    pub fn slot(&self, i: usize) -> Option<&ExecSlot> {
        self.slots.get(i)
    }

    pub fn slot_mut(&mut self, i: usize) -> Option<&mut ExecSlot> {
        self.slots.get_mut(i)
    }

    /// The captured stdout and stderr of slot `i`.
    pub fn captured(&self, i: usize) -> (&[u8], &[u8]) {
        let Some(s) = self.slots.get(i) else {
            return (&[], &[]);
        };
        let base = i.saturating_mul(2).saturating_mul(self.per_stream);
        let out = base..base.wrapping_add(s.out_len as usize);
        let err_base = base.wrapping_add(self.per_stream);
        let err = err_base..err_base.wrapping_add(s.err_len as usize);
        (
            self.capture.get(out).unwrap_or(&[]),
            self.capture.get(err).unwrap_or(&[]),
        )
    }

    /// Prepares slot `i` for a new program and returns its I/O and state.
    pub fn begin(
        &mut self,
        i: usize,
        capture: CaptureMode,
    ) -> Option<(&mut ExecState, ExecIo<'_>)> {
        let base = i.saturating_mul(2).saturating_mul(self.per_stream);
        let per = self.per_stream;
        let slot = self.slots.get_mut(i)?;
        *slot = ExecSlot {
            capture,
            ..ExecSlot::default()
        };
        let region = self
            .capture
            .get_mut(base..base.saturating_add(per.saturating_mul(2)))?;
        Some(streams(region, per, slot))
    }

    /// Records the start result of slot `i` and gives it a pid.
    pub fn started(&mut self, i: usize, status: ExecStatus) -> i64 {
        let pid = self.next_pid;
        self.next_pid = self.next_pid.saturating_add(1);
        if let Some(s) = self.slots.get_mut(i) {
            s.pid = pid;
            s.state = match status {
                ExecStatus::Running(wake) => {
                    s.wake = wake;
                    SlotState::Running
                }
                done => SlotState::Done(done),
            };
        }
        pid
    }

    /// Frees slot `i` (start failed, or its exit was reported).
    pub fn free(&mut self, i: usize) {
        if let Some(s) = self.slots.get_mut(i) {
            *s = ExecSlot::default();
        }
    }

    /// Whether any program is running.
    pub fn any_running(&self) -> bool {
        self.slots.iter().any(|s| s.state == SlotState::Running)
    }

    /// Number of slots holding a program not yet reported.
    pub fn used(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| matches!(s.state, SlotState::Running | SlotState::Done(_)))
            .count()
    }

    /// The shortest delay a running program asked for before its next step.
    pub fn next_wake(&self) -> Option<Duration> {
        self.slots
            .iter()
            .filter(|s| s.state == SlotState::Running)
            .map(|s| s.wake)
            .min()
    }

    /// Gives each running program one step.
    pub fn step_all(&mut self, programs: &mut dyn Programs, exited: &mut dyn FnMut(i64)) {
        for i in 0..self.slots.len() {
            if let Some(pid) = self.step(i, programs) {
                exited(pid);
            }
        }
    }

    /// Gives the program in slot `i` one step, if it runs; its pid if it
    /// finished in this step.
    pub fn step(&mut self, i: usize, programs: &mut dyn Programs) -> Option<i64> {
        let base = i.saturating_mul(2).saturating_mul(self.per_stream);
        let per = self.per_stream;
        let slot = self.slots.get_mut(i)?;
        if slot.state != SlotState::Running {
            return None;
        }
        let region = self
            .capture
            .get_mut(base..base.saturating_add(per.saturating_mul(2)))?;
        let (program, mut io) = streams(region, per, slot);
        let status = programs.resume(program, &mut io);
        match status {
            ExecStatus::Running(wake) => {
                slot.wake = wake;
                None
            }
            done => {
                slot.state = SlotState::Done(done);
                Some(slot.pid)
            }
        }
    }

    /// Frees slots whose exit report was handed to a reply (call only while
    /// no reply streams one).
    pub fn reap_reported(&mut self) {
        for s in self.slots.iter_mut() {
            if matches!(s.state, SlotState::Reaping(_)) {
                *s = ExecSlot::default();
            }
        }
    }
}

/// The output streams of a slot over its capture `region` (`per` bytes
/// each), and its program state.
fn streams<'a>(
    region: &'a mut [u8],
    per: usize,
    slot: &'a mut ExecSlot,
) -> (&'a mut ExecState, ExecIo<'a>) {
    let (out, err) = region.split_at_mut(per.min(region.len()));
    let mode = slot.capture;
    let io = ExecIo::new(
        Capture::new(
            out,
            &mut slot.out_len,
            &mut slot.out_truncated,
            mode.stdout(),
        ),
        Capture::new(
            err,
            &mut slot.err_len,
            &mut slot.err_truncated,
            mode == CaptureMode::Stderr || mode == CaptureMode::Separated,
        ),
        mode == CaptureMode::Merged,
    );
    (&mut slot.program, io)
}

/// State that outlives one request.
pub(crate) struct State<'s> {
    pub handles: Handles<'s>,
    pub execs: Execs<'s>,
    /// File systems frozen (`guest-fsfreeze-*`).
    pub frozen: bool,
}
