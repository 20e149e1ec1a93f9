//! The bare-metal boards' `guest-exec` programs.
//!
//! The standard ones from [`nanoqga::programs`] (`/bin/echo`, `/bin/cat` of
//! `input-data`, `/bin/true`, `/bin/false`), `/bin/uptime` and `/bin/sleep`
//! on the board's boot clock, the health check, a march test over a memory
//! region the board sets aside, run a slice per poll, and [`STATS_PATH`],
//! which prints the board's resource figures (stack high-water mark, DMA
//! arena use). Programs that run across polls tag their state in word 3.

use nanoqga::error::{Errno, HookError};
use nanoqga::platform::{ExecIo, ExecRequest, ExecState, ExecStatus, Programs};
use nanoqga::programs::{self, HEALTH_CHECK_PATH, MemTest, SLEEP_PATH, Sleep, UPTIME_PATH};

/// State word 3 of a running health check.
const TAG_HEALTH: u64 = 1;
/// State word 3 of a running sleep.
const TAG_SLEEP: u64 = 2;

/// Prints the board's resource figures, one `name: value` per line.
pub const STATS_PATH: &str = "/usr/libexec/nanoqga/stats";

/// The programs of a bare-metal board.
pub struct BoardPrograms<'a> {
    /// Memory the health check tests (it is overwritten).
    pub region: &'a mut [u8],
    /// Nanoseconds since boot.
    pub uptime_ns: fn() -> u64,
    /// Stack bytes ever used (the high-water mark) and the stack's size.
    pub stack: fn() -> (usize, usize),
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
            HEALTH_CHECK_PATH => {
                state[3] = TAG_HEALTH;
                Ok(MemTest::start(self.region, state, io))
            }
            SLEEP_PATH => {
                state[3] = TAG_SLEEP;
                Ok(Sleep::start(req, (self.uptime_ns)(), state, io))
            }
            STATS_PATH => {
                use core::fmt::Write as _;
                let (used, size) = (self.stack)();
                let (dma_used, dma_size) = crate::dma::stats();
                let _ = writeln!(io.stdout(), "stack-used: {used}");
                let _ = writeln!(io.stdout(), "stack-size: {size}");
                let _ = writeln!(io.stdout(), "dma-used: {dma_used}");
                let _ = writeln!(io.stdout(), "dma-size: {dma_size}");
                Ok(ExecStatus::Exited(0))
            }
            _ => Err(HookError::Errno(Errno::ENOENT)),
        }
    }

    fn resume(&mut self, state: &mut ExecState, io: &mut ExecIo<'_>) -> ExecStatus {
        match state[3] {
            TAG_SLEEP => Sleep::resume((self.uptime_ns)(), state),
            _ => MemTest::resume(self.region, state, io),
        }
    }
}
