//! Built-in `guest-exec` programs every board can offer.
//!
//! Contract: these are portable, deterministic and bounded. Each writes only
//! through [`ExecIo`] (so output beyond the capture buffers is dropped and
//! flagged as truncated) and returns an exit status like its coreutils
//! namesake. Boards register them under the paths clients already use:
//!
//! | path | behaviour |
//! |---|---|
//! | `/bin/echo` | arguments joined by spaces plus a newline; leading `-n`, `-e`, `-E` (and combinations such as `-ne`) as coreutils |
//! | `/bin/cat` | copies `input-data` (and, where the board has files, the named files) to stdout |
//! | `/bin/true`, `/bin/false` | exit 0, exit 1 |
//! | `/bin/uptime` | time since boot, `up D days, HH:MM:SS` |
//! | [`HEALTH_CHECK_PATH`] | a march memory test over a region the board gives, run a slice per poll; prints a report and exits 0 on success, 1 on a fault |
//! | [`SLEEP_PATH`] | waits the given time (`0.5`, `2`, `1m`, as coreutils' `sleep`) without holding the agent: it asks to be stepped again when its time is up, so a board that sleeps wakes for it |
//!
//! [`start_standard`] starts the first four; a board adds its own paths.

use core::time::Duration;

use crate::error::Errno;
use crate::platform::{ExecIo, ExecRequest, ExecState, ExecStatus, FileStore, OpenMode, Str};

/// Path of the health check program.
pub const HEALTH_CHECK_PATH: &str = "/usr/libexec/nanoqga/health-check";

/// Path of the uptime program.
pub const UPTIME_PATH: &str = "/bin/uptime";

/// Path of the sleep program.
pub const SLEEP_PATH: &str = "/bin/sleep";

/// Starts `/bin/echo`, `/bin/cat` (input only), `/bin/true` or `/bin/false`;
/// `None` for any other path.
pub fn start_standard(req: &ExecRequest<'_>, io: &mut ExecIo<'_>) -> Option<ExecStatus> {
    Some(match req.path {
        "/bin/echo" => echo(req, io),
        "/bin/cat" => cat(req, io, None),
        "/bin/true" => ExecStatus::Exited(0),
        "/bin/false" => ExecStatus::Exited(1),
        _ => return None,
    })
}

fn write_str(io: &mut ExecIo<'_>, s: &Str<'_>) {
    match s.as_str() {
        Some(t) => io.stdout().write(t.as_bytes()),
        None => {
            for b in s.bytes() {
                io.stdout().write(&[b]);
            }
        }
    }
}

/// `echo`, as coreutils' `/bin/echo`.
pub fn echo(req: &ExecRequest<'_>, io: &mut ExecIo<'_>) -> ExecStatus {
    let mut newline = true;
    let mut escapes = false;
    let mut args = req.args.iter().peekable();
    // Leading arguments made only of n, e, E after a dash are options.
    while let Some(a) = args.peek() {
        let is_opt = a.len() > 1
            && a.bytes().next() == Some(b'-')
            && a.bytes().skip(1).all(|c| matches!(c, b'n' | b'e' | b'E'));
        if !is_opt {
            break;
        }
        for c in a.bytes().skip(1) {
            match c {
                b'n' => newline = false,
                b'e' => escapes = true,
                _ => escapes = false,
            }
        }
        args.next();
    }
    let mut first = true;
    for a in args {
        if !first {
            io.stdout().write(b" ");
        }
        first = false;
        if escapes {
            if echo_escapes(&a, io) {
                return ExecStatus::Exited(0);
            }
        } else {
            write_str(io, &a);
        }
    }
    if newline {
        io.stdout().write(b"\n");
    }
    ExecStatus::Exited(0)
}

/// Writes `s` interpreting coreutils `echo -e` escapes. Returns true at `\c`
/// (stop all output).
fn echo_escapes(s: &Str<'_>, io: &mut ExecIo<'_>) -> bool {
    let mut bytes = s.bytes().peekable();
    while let Some(b) = bytes.next() {
        if b != b'\\' {
            io.stdout().write(&[b]);
            continue;
        }
        let Some(e) = bytes.next() else {
            io.stdout().write(b"\\");
            break;
        };
        let out = match e {
            b'\\' => b'\\',
            b'a' => 0x07,
            b'b' => 0x08,
            b'c' => return true,
            b'e' => 0x1B,
            b'f' => 0x0C,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'v' => 0x0B,
            b'0' | b'x' => {
                let (radix, max) = if e == b'0' { (8u32, 3) } else { (16u32, 2) };
                let mut v: u32 = 0;
                let mut digits = 0u8;
                while digits < max {
                    match bytes.peek().and_then(|&c| char::from(c).to_digit(radix)) {
                        Some(d) => {
                            v = v.wrapping_mul(radix).wrapping_add(d);
                            bytes.next();
                            digits = digits.wrapping_add(1);
                        }
                        None => break,
                    }
                }
                if e == b'x' && digits == 0 {
                    io.stdout().write(b"\\x");
                    continue;
                }
                u8::try_from(v & 0xFF).unwrap_or(0)
            }
            other => {
                io.stdout().write(&[b'\\', other]);
                continue;
            }
        };
        io.stdout().write(&[out]);
    }
    false
}

/// `cat`: with no arguments (or `-`) copies `input-data`; other arguments
/// are read through `files` when the board has them. A missing file is
/// reported on stderr as coreutils does and the exit status is 1.
pub fn cat(
    req: &ExecRequest<'_>,
    io: &mut ExecIo<'_>,
    mut files: Option<&mut dyn FileStore>,
) -> ExecStatus {
    if req.args.is_empty() {
        io.stdout().write(req.input);
        return ExecStatus::Exited(0);
    }
    let mut status = 0;
    for a in req.args.iter() {
        if a.eq_str("-") {
            io.stdout().write(req.input);
            continue;
        }
        let mut name = [0u8; 256];
        let err = match (a.decode_into(&mut name), files.as_deref_mut()) {
            (Some(path), Some(f)) => copy_file(f, path, io).err(),
            (None, _) => Some(Errno::ENAMETOOLONG),
            (_, None) => Some(Errno::ENOENT),
        };
        if let Some(e) = err {
            io.stderr().write(b"cat: ");
            write_str_err(io, &a);
            io.stderr().write(b": ");
            io.stderr()
                .write(e.text().unwrap_or("Input/output error").as_bytes());
            io.stderr().write(b"\n");
            status = 1;
        }
    }
    ExecStatus::Exited(status)
}

fn write_str_err(io: &mut ExecIo<'_>, s: &Str<'_>) {
    for b in s.bytes() {
        io.stderr().write(&[b]);
    }
}

fn copy_file(files: &mut dyn FileStore, path: &str, io: &mut ExecIo<'_>) -> Result<(), Errno> {
    let mode = OpenMode {
        read: true,
        write: false,
        append: false,
        create: false,
        truncate: false,
    };
    let id = files.open(path, mode).map_err(errno)?;
    let mut buf = [0u8; 256];
    let result = loop {
        if io.stdout().room() == 0 {
            // Capture full: the rest is not read, only flagged.
            io.stdout().mark_truncated();
            break Ok(());
        }
        match files.read(id, &mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => io.stdout().write(buf.get(..n).unwrap_or(&[])),
            Err(e) => break Err(errno(e)),
        }
    };
    let _ = files.close(id);
    result
}

fn errno(e: crate::error::HookError) -> Errno {
    match e {
        crate::error::HookError::Errno(e) => e,
        _ => Errno::EIO,
    }
}

/// `uptime`: prints `up D days, HH:MM:SS` for `nanos` since boot.
pub fn uptime(io: &mut ExecIo<'_>, nanos: u64) -> ExecStatus {
    let secs = nanos / 1_000_000_000;
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    let out = &mut io.stdout();
    out.write(b"up ");
    out.write_dec(d, 1);
    out.write(b" days, ");
    out.write_dec(h, 2);
    out.write(b":");
    out.write_dec(m, 2);
    out.write(b":");
    out.write_dec(s, 2);
    out.write(b"\n");
    ExecStatus::Exited(0)
}

/// The health check: a march test (write a pattern, verify it, write its
/// complement, verify that) over a memory region, a slice per step so the
/// agent keeps answering while it runs.
///
/// It uses state words `[0]` (offset reached), `[1]` (pass, 0..4) and `[2]`
/// (errors found); word `[3]` is left to the board (e.g. to tag which of its
/// programs owns the state). The board passes the same region to every step.
pub struct MemTest;

impl MemTest {
    /// Bytes tested per step.
    pub const STEP: usize = 4096;

    /// Starts a test of `region`; prints the header.
    pub fn start(region: &[u8], state: &mut ExecState, io: &mut ExecIo<'_>) -> ExecStatus {
        state[0] = 0;
        state[1] = 0;
        state[2] = 0;
        io.stdout().write(b"health-check: testing ");
        io.stdout().write_dec(region.len() as u64, 1);
        io.stdout().write(b" bytes at ");
        io.stdout().write_hex(region.as_ptr() as usize as u64);
        io.stdout().write(b"\n");
        ExecStatus::Running(Duration::ZERO)
    }

    /// Runs one slice of the test over `region` (the same region each time).
    pub fn resume(region: &mut [u8], state: &mut ExecState, io: &mut ExecIo<'_>) -> ExecStatus {
        const PATTERNS: [u8; 4] = [0x55, 0xAA, 0x00, 0xFF];
        let [offset, pass, errors, _] = *state;
        let Some(&pattern) = PATTERNS.get(usize::try_from(pass).unwrap_or(usize::MAX)) else {
            io.stdout().write(b"health-check: ");
            io.stdout().write_dec(PATTERNS.len() as u64, 1);
            io.stdout().write(b" patterns, ");
            io.stdout().write_dec(errors, 1);
            io.stdout().write(if errors == 0 {
                b" errors\nPASS\n"
            } else {
                b" errors\nFAIL\n"
            });
            return ExecStatus::Exited(if errors == 0 { 0 } else { 1 });
        };
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let end = start.wrapping_add(Self::STEP).min(region.len());
        let mut found = 0u64;
        if let Some(chunk) = region.get_mut(start..end) {
            // Address-dependent data catches address-line faults as well as
            // stuck bits; `black_box` makes the compiler assume the memory
            // may have changed between writing and reading it back.
            let rot = u32::try_from(pass).unwrap_or(0);
            let value =
                |i: usize| pattern ^ start.wrapping_add(i).to_le_bytes()[0].rotate_left(rot);
            for (i, b) in chunk.iter_mut().enumerate() {
                *b = value(i);
            }
            let chunk = core::hint::black_box(chunk);
            for (i, b) in chunk.iter().enumerate() {
                if *b != value(i) {
                    found = found.wrapping_add(1);
                    if found <= 8 {
                        io.stderr().write(b"health-check: mismatch at +");
                        io.stderr().write_hex(start.wrapping_add(i) as u64);
                        io.stderr().write(b"\n");
                    }
                }
            }
        }
        let (next_offset, next_pass) = if end >= region.len() {
            (0, pass.wrapping_add(1))
        } else {
            (end as u64, pass)
        };
        state[0] = next_offset;
        state[1] = next_pass;
        state[2] = errors.wrapping_add(found);
        ExecStatus::Running(Duration::ZERO)
    }
}

/// `/bin/sleep DURATION`: exits 0 once the time has passed. The duration is
/// a decimal number of seconds with an optional `s`, `m`, `h` or `d` suffix
/// (coreutils' syntax, one operand); a bad or missing operand prints
/// coreutils' message and exits 1.
///
/// It uses state word `[0]` (the deadline, in the board's uptime
/// nanoseconds); word `[3]` is left to the board. Between steps it asks for
/// the time remaining, which the agent passes on as its poll delay.
pub struct Sleep;

impl Sleep {
    /// Starts a sleep at uptime `now_ns`.
    pub fn start(
        req: &ExecRequest<'_>,
        now_ns: u64,
        state: &mut ExecState,
        io: &mut ExecIo<'_>,
    ) -> ExecStatus {
        let mut args = req.args.iter();
        let Some(arg) = args.next() else {
            io.stderr().write(b"sleep: missing operand\n");
            return ExecStatus::Exited(1);
        };
        let Some(ns) = arg.as_str().and_then(parse_duration) else {
            io.stderr().write(b"sleep: invalid time interval '");
            write_bytes(io, &arg);
            io.stderr().write(b"'\n");
            return ExecStatus::Exited(1);
        };
        state[0] = now_ns.saturating_add(ns);
        Self::resume(now_ns, state)
    }

    /// Checks the time at uptime `now_ns`.
    pub fn resume(now_ns: u64, state: &ExecState) -> ExecStatus {
        match state[0].checked_sub(now_ns) {
            Some(left) if left > 0 => ExecStatus::Running(Duration::from_nanos(left)),
            _ => ExecStatus::Exited(0),
        }
    }
}

fn write_bytes(io: &mut ExecIo<'_>, s: &Str<'_>) {
    for b in s.bytes() {
        io.stderr().write(&[b]);
    }
}

/// `2`, `0.25`, `1.5m`: nanoseconds, or `None` (saturating for huge values).
fn parse_duration(text: &str) -> Option<u64> {
    let (number, unit) = match text.as_bytes().last()? {
        b's' => (text.get(..text.len().wrapping_sub(1))?, 1u64),
        b'm' => (text.get(..text.len().wrapping_sub(1))?, 60),
        b'h' => (text.get(..text.len().wrapping_sub(1))?, 3600),
        b'd' => (text.get(..text.len().wrapping_sub(1))?, 86_400),
        _ => (text, 1),
    };
    let (int, frac) = match number.split_once('.') {
        Some((i, f)) => (i, f),
        None => (number, ""),
    };
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let mut ns: u64 = 0;
    for b in int.bytes() {
        ns = ns
            .saturating_mul(10)
            .saturating_add(u64::from(b.wrapping_sub(b'0')));
    }
    ns = ns.saturating_mul(1_000_000_000);
    let mut scale: u64 = 100_000_000;
    for b in frac.bytes() {
        ns = ns.saturating_add(u64::from(b.wrapping_sub(b'0')).saturating_mul(scale));
        scale /= 10;
    }
    Some(ns.saturating_mul(unit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleep_durations_parse_as_coreutils() {
        assert_eq!(parse_duration("2"), Some(2_000_000_000));
        assert_eq!(parse_duration("0.25"), Some(250_000_000));
        assert_eq!(parse_duration(".5"), Some(500_000_000));
        assert_eq!(parse_duration("1.5m"), Some(90_000_000_000));
        assert_eq!(parse_duration("1d"), Some(86_400_000_000_000));
        assert_eq!(parse_duration("3s"), Some(3_000_000_000));
        assert_eq!(parse_duration("0.0000000019"), Some(1));
        assert_eq!(parse_duration(""), None);
        assert_eq!(parse_duration("."), None);
        assert_eq!(parse_duration("s"), None);
        assert_eq!(parse_duration("-1"), None);
        assert_eq!(parse_duration("1x"), None);
        assert_eq!(parse_duration("99999999999999999999"), Some(u64::MAX));
    }

    #[test]
    fn sleep_runs_until_its_deadline_then_exits_0() {
        let mut state = [0u64; 4];
        state[0] = 1_000;
        assert_eq!(
            Sleep::resume(400, &state),
            ExecStatus::Running(Duration::from_nanos(600))
        );
        assert_eq!(Sleep::resume(1_000, &state), ExecStatus::Exited(0));
        assert_eq!(Sleep::resume(5_000, &state), ExecStatus::Exited(0));
    }
}
