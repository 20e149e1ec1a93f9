//! The README's "Writing a board" example test, kept compiling and passing.

use nanoqga::AgentConfig;
use nanoqga::error::HookError;
use nanoqga::platform::{Clock, Platform};
use nanoqga_testkit::{Harness, MockSerial};

struct Rtc(i64);
impl Clock for Rtc {
    fn now_ns(&mut self) -> Result<i64, HookError> {
        Ok(self.0)
    }
}
struct MyBoard {
    rtc: Rtc,
}
impl Platform for MyBoard {
    fn clock(&mut self) -> Option<&mut dyn Clock> {
        Some(&mut self.rtc)
    }
}

#[test]
fn get_time_over_one_byte_reads_and_three_byte_writes_answers_the_rtc() {
    let mut h = Harness::new(MyBoard { rtc: Rtc(42) }, AgentConfig::default());
    h.serial = MockSerial::new()
        .with_read_chunks(&[1])
        .with_tx_budget(&[3]);
    assert_eq!(h.ok(r#"{"execute":"guest-get-time"}"#), 42);
    // What the board lacks answers qemu-ga's "not supported".
    let (class, desc) = h.err(r#"{"execute":"guest-get-vcpus"}"#);
    assert_eq!(class, "GenericError");
    assert_eq!(desc, "this feature or command is not currently supported");
}
