//! The scripted serial line.

use std::collections::VecDeque;
use std::convert::Infallible;

use crate::Cycle;

/// A scripted byte transport.
#[derive(Debug, Default)]
pub struct MockSerial {
    /// Bytes the agent will read.
    pub input: VecDeque<u8>,
    /// Bytes the agent wrote.
    pub output: Vec<u8>,
    /// Largest read per `read` call (cycled).
    pub read_chunks: Cycle,
    /// Bytes accepted per poll (cycled; `0` means not writable this poll).
    pub tx_budget: Option<Cycle>,
    budget_left: usize,
    /// `read_ready` answers false this many more times.
    pub read_stall: u32,
    /// `write_ready` answers false this many more times.
    pub write_stall: u32,
    /// Number of `read` calls.
    pub reads: u64,
    /// Number of `write` calls.
    pub writes: u64,
}

impl MockSerial {
    /// An unlimited transport.
    pub fn new() -> Self {
        MockSerial {
            budget_left: usize::MAX,
            ..Default::default()
        }
    }

    /// Reads return at most these many bytes, in turn.
    pub fn with_read_chunks(mut self, sizes: &[usize]) -> Self {
        self.read_chunks = Cycle::new(sizes);
        self
    }

    /// Each poll accepts at most these many bytes, in turn.
    pub fn with_tx_budget(mut self, sizes: &[usize]) -> Self {
        self.tx_budget = Some(Cycle::new(sizes));
        self
    }

    /// Starts a new poll: refills the TX budget.
    pub fn new_poll(&mut self) {
        self.budget_left = match self.tx_budget.as_mut() {
            Some(c) => c.next_size(),
            None => usize::MAX,
        };
    }

    /// Whether the readiness stalls have run out.
    pub fn stalls_spent(&self) -> bool {
        self.read_stall == 0 && self.write_stall == 0
    }
}

impl embedded_io::ErrorType for MockSerial {
    type Error = Infallible;
}

impl embedded_io::Read for MockSerial {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        self.reads += 1;
        let n = buf
            .len()
            .min(self.input.len())
            .min(self.read_chunks.next_size());
        let (a, b) = self.input.as_slices();
        let from_a = n.min(a.len());
        buf[..from_a].copy_from_slice(&a[..from_a]);
        buf[from_a..n].copy_from_slice(&b[..n - from_a]);
        self.input.drain(..n);
        Ok(n)
    }
}

impl embedded_io::ReadReady for MockSerial {
    fn read_ready(&mut self) -> Result<bool, Infallible> {
        if self.read_stall > 0 {
            self.read_stall -= 1;
            return Ok(false);
        }
        Ok(!self.input.is_empty())
    }
}

impl embedded_io::Write for MockSerial {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        self.writes += 1;
        let n = buf.len().min(self.budget_left);
        assert!(n > 0 || buf.is_empty(), "agent wrote without write_ready");
        self.output.extend_from_slice(&buf[..n]);
        self.budget_left -= n;
        Ok(n)
    }

    fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

impl embedded_io::WriteReady for MockSerial {
    fn write_ready(&mut self) -> Result<bool, Infallible> {
        if self.write_stall > 0 {
            self.write_stall -= 1;
            return Ok(false);
        }
        Ok(self.budget_left > 0)
    }
}
