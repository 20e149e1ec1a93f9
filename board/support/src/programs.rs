//! The bare-metal boards' `guest-exec` programs.
//!
//! The standard ones from [`nanoqga::programs`] (`/bin/echo`, `/bin/cat` of
//! `input-data`, `/bin/true`, `/bin/false`), `/bin/uptime` from the board's
//! boot clock, and the health check, a march test over a memory region the
//! board sets aside, run a slice per poll.

use nanoqga::error::{Errno, HookError};
use nanoqga::platform::{ExecIo, ExecRequest, ExecState, ExecStatus, Programs};
use nanoqga::programs::{self, HEALTH_CHECK_PATH, MemTest, UPTIME_PATH};

/// The programs of a bare-metal board.
pub struct BoardPrograms<'a> {
    /// Memory the health check tests (it is overwritten).
    pub region: &'a mut [u8],
    /// Nanoseconds since boot.
    pub uptime_ns: fn() -> u64,
}

impl Programs for BoardPrograms<'_> {
    fn start(
        &mut self,
        req: &ExecRequest<'_>,
        state: &mut ExecState,
        io: &mut ExecIo<'_>,
    ) -> Result<ExecStatus, HookError> {
        if let Some(s) = programs::start_standard(req, io) {
            return Ok(s);
        }
        match req.path {
            UPTIME_PATH => Ok(programs::uptime(io, (self.uptime_ns)())),
            HEALTH_CHECK_PATH => Ok(MemTest::start(self.region, state, io)),
            _ => Err(HookError::Errno(Errno::ENOENT)),
        }
    }

    fn resume(&mut self, state: &mut ExecState, io: &mut ExecIo<'_>) -> ExecStatus {
        // Only the health check runs across polls.
        MemTest::resume(self.region, state, io)
    }
}
