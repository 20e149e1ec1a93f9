//! guest-file-open, -close, -read, -write, -seek, -flush.
//!
//! Semantics and texts are qemu-ga 7.2's (wire-protocol.md §5): handles from
//! 1000; `handle '<n>' has not been found`; read `count` defaults to 4096 and
//! may be 0..=48 MiB; `eof` is true only when a read hit the end of the file;
//! `buf-b64` is `""` when nothing was read.
//!
//! A read whose base64 fits the free reply space is answered in one piece,
//! keys in qemu-ga's order (`count`, `buf-b64`, `eof`). A larger read streams:
//! the file is read in 3-byte-aligned chunks straight into the reply buffer
//! and encoded in place, so a 48 MiB read needs no buffer of its size; its
//! keys come as `buf-b64`, `count`, `eof`. If the file fails after the first
//! chunk was sent, the reply ends early with the bytes sent so far counted.

use core::ops::Range;

use super::{Call, Outcome, Progress, command, failed, text, unsupported};
use crate::args::{Text, WhenceArg};
use crate::arguments;
use crate::base64;
use crate::config::{FILE_READ_COUNT_DEFAULT, FILE_READ_COUNT_MAX, file_read_chunk};
use crate::error::{Errno, HookError, QgaError};
use crate::json::out::Out;
use crate::platform::{FileId, FileStore, OpenMode, Platform};

arguments! {
    /// `guest-file-open`.
    pub struct OpenArgs {
        /// The path, as the board understands it.
        path: Text = "path",
        /// An fopen() mode (default `r`).
        mode: Option<Text> = "mode",
    }
}

arguments! {
    /// `guest-file-close` and `guest-file-flush`.
    pub struct HandleArgs {
        /// The handle.
        handle: i64 = "handle",
    }
}

arguments! {
    /// `guest-file-read`.
    pub struct ReadArgs {
        /// The handle.
        handle: i64 = "handle",
        /// Bytes wanted (default 4096).
        count: Option<i64> = "count",
    }
}

arguments! {
    /// `guest-file-write`.
    pub struct WriteArgs {
        /// The handle.
        handle: i64 = "handle",
        /// The data, base64.
        buf_b64: Text = "buf-b64",
        /// Bytes of the decoded data to write (default all).
        count: Option<i64> = "count",
    }
}

arguments! {
    /// `guest-file-seek`.
    pub struct SeekArgs {
        /// The handle.
        handle: i64 = "handle",
        /// The offset.
        offset: i64 = "offset",
        /// The origin.
        whence: WhenceArg = "whence",
    }
}

command!(
    /// `guest-file-open`: a new handle.
    GUEST_FILE_OPEN = "guest-file-open", OpenArgs, open
);
command!(
    /// `guest-file-close`.
    GUEST_FILE_CLOSE = "guest-file-close", HandleArgs, close
);
command!(
    /// `guest-file-read`.
    GUEST_FILE_READ = "guest-file-read", ReadArgs, read
);
command!(
    /// `guest-file-write`.
    GUEST_FILE_WRITE = "guest-file-write", WriteArgs, write
);
command!(
    /// `guest-file-seek`.
    GUEST_FILE_SEEK = "guest-file-seek", SeekArgs, seek
);
command!(
    /// `guest-file-flush`.
    GUEST_FILE_FLUSH = "guest-file-flush", HandleArgs, flush
);

fn not_found(err: &mut QgaError, handle: i64) -> Outcome {
    err.generic("handle '")
        .int(handle)
        .lit("' has not been found");
    Outcome::Failed
}

/// The file behind `handle`, or `None` with the error written.
fn lookup<P: Platform>(call: &mut Call<'_, '_, P>, handle: i64) -> Option<FileId> {
    let id = call.state.handles.get(handle);
    if id.is_none() {
        not_found(call.err, handle);
    }
    id
}

/// The board's store and the file behind `handle` (qemu-ga looks the handle
/// up first, so an unknown handle is reported even by a board without
/// files), or `None` with the error written.
fn file<'c, P: Platform>(
    call: &'c mut Call<'_, '_, P>,
    handle: i64,
) -> Option<(&'c mut dyn FileStore, FileId)> {
    let id = lookup(call, handle)?;
    match call.platform.files() {
        Some(store) => Some((store, id)),
        None => {
            call.err.unsupported();
            None
        }
    }
}

/// `failed to open file '<path>' (mode: '<mode>')`.
fn open_failed<'e>(
    err: &'e mut QgaError,
    path: &Range<usize>,
    mode: &Option<Range<usize>>,
) -> &'e mut QgaError {
    err.generic("failed to open file '")
        .req(path.clone())
        .lit("' (mode: '");
    match mode {
        Some(m) => err.req(m.clone()),
        None => err.lit("r"),
    }
    .lit("')")
}

fn open<P: Platform>(call: &mut Call<'_, '_, P>, args: OpenArgs) -> Outcome {
    let path = call.decode(&args.path);
    let mode_range = args.mode.as_ref().map(|m| call.decode(m));
    let mode_text: &[u8] = match &mode_range {
        Some(r) => call.rx.get(r.clone()).unwrap_or(&[]),
        None => b"r",
    };
    let Some(mode) = OpenMode::parse(mode_text) else {
        let r = mode_range.unwrap_or(0..0);
        call.err.generic("invalid file open mode '").req(r).lit("'");
        return Outcome::Failed;
    };
    if !call.state.handles.has_room() {
        // Checked before opening so that no file is left open without a handle.
        open_failed(call.err, &path, &mode_range).errno(Errno::EMFILE);
        return Outcome::Failed;
    }
    let rx: &[u8] = call.rx;
    let Some(files) = call.platform.files() else {
        return unsupported(call.err);
    };
    let id = match files.open(text(rx, &path), mode) {
        Ok(id) => id,
        Err(e) => {
            open_failed(call.err, &path, &mode_range).hook(e);
            return Outcome::Failed;
        }
    };
    match call.state.handles.insert(id) {
        Some(handle) => {
            call.out.i64(handle);
            Outcome::Done
        }
        None => {
            let _ = files.close(id);
            open_failed(call.err, &path, &mode_range).errno(Errno::EMFILE);
            Outcome::Failed
        }
    }
}

fn close<P: Platform>(call: &mut Call<'_, '_, P>, args: HandleArgs) -> Outcome {
    let Some((store, id)) = file(call, args.handle) else {
        return Outcome::Failed;
    };
    let result = store.close(id);
    // The handle is gone either way: its file is closed or unusable.
    call.state.handles.remove(args.handle);
    if let Err(e) = result {
        return failed(call.err, e, "failed to close handle");
    }
    call.out.str("{}");
    Outcome::Done
}

/// A streaming `guest-file-read` in progress.
#[derive(Clone, Debug)]
pub(crate) struct ReadProgress {
    file: FileId,
    /// Bytes still wanted.
    remaining: u64,
    /// Bytes sent so far.
    count: u64,
    /// A read came back short.
    eof: bool,
}

fn read<P: Platform>(call: &mut Call<'_, '_, P>, args: ReadArgs) -> Outcome {
    // qemu-ga looks the handle up before it checks the count.
    let Some(id) = lookup(call, args.handle) else {
        return Outcome::Failed;
    };
    let count = args.count.unwrap_or(FILE_READ_COUNT_DEFAULT);
    if !(0..=FILE_READ_COUNT_MAX).contains(&count) {
        call.err.invalid_value(count, "count");
        return Outcome::Failed;
    }
    let want = usize::try_from(count).unwrap_or(usize::MAX);
    let Some(files) = call.platform.files() else {
        return unsupported(call.err);
    };
    let out = &mut call.out;

    // First read as much as the one-piece layout fits: raw bytes at the end
    // of the free space, the reply written in front of them. If that read
    // satisfies the count or hits end of file, the reply goes out whole in
    // qemu-ga's key order; otherwise those bytes become the first streamed
    // chunk.
    const HEAD: usize = 44; // {"count": <20 digits>, "buf-b64": "
    const TAIL: usize = 16; // ", "eof": false}
    let avail = out.remaining();
    let fit = (avail.saturating_sub(HEAD.wrapping_add(TAIL)) / 7).saturating_mul(3);
    let first = want.min(fit);
    let spare = out.spare();
    let (front, back) = spare.split_at_mut(avail.saturating_sub(first));
    let raw = back.get_mut(..first).unwrap_or(&mut []);
    let n = match files.read(id, raw) {
        Ok(n) => n.min(first),
        Err(e) => return failed(call.err, e, "failed to read file"),
    };
    let raw = raw.get(..n).unwrap_or(&[]);
    let mut w = Out::new(front);
    if n < first || n == want {
        w.str("{\"count\": ");
        w.u64(n as u64);
        w.str(", \"buf-b64\": \"");
        let enc = base64::encode(raw, w.spare()).unwrap_or(0);
        w.advance(enc);
        w.str("\", \"eof\": ");
        w.bool(n < want);
        w.str("}");
        let total = w.len();
        out.advance(total);
        return Outcome::Done;
    }
    w.str("{\"buf-b64\": \"");
    let enc = base64::encode(raw, w.spare()).unwrap_or(0);
    w.advance(enc);
    let total = w.len();
    out.advance(total);
    let mut st = ReadProgress {
        file: id,
        remaining: u64::try_from(want.saturating_sub(n)).unwrap_or(0),
        count: n as u64,
        eof: false,
    };
    // More chunks while there is room (errors now end the stream early).
    if st.pump(files, out).is_err() {
        st.remaining = 0;
    }
    call.more(read_step, Progress::FileRead(st))
}

impl ReadProgress {
    /// Reads and encodes chunks into `out` while they fit. Returns `Ok` when
    /// it stopped for lack of room or because the data is complete.
    fn pump(&mut self, files: &mut dyn FileStore, out: &mut Out<'_>) -> Result<(), HookError> {
        while self.remaining > 0 && !self.eof {
            let chunk = file_read_chunk(out.remaining());
            let want = usize::try_from(self.remaining)
                .unwrap_or(usize::MAX)
                .min(chunk);
            if want == 0 {
                return Ok(());
            }
            let avail = out.remaining();
            let spare = out.spare();
            let (front, back) = spare.split_at_mut(avail.saturating_sub(want));
            let raw = back.get_mut(..want).unwrap_or(&mut []);
            let n = files.read(self.file, raw)?.min(want);
            if n < want {
                self.eof = true;
            }
            let enc = base64::encode(raw.get(..n).unwrap_or(&[]), front).unwrap_or(0);
            out.advance(enc);
            self.remaining = self.remaining.saturating_sub(n as u64);
            self.count = self.count.wrapping_add(n as u64);
        }
        Ok(())
    }
}

fn read_step<P: Platform>(call: &mut Call<'_, '_, P>, progress: &mut Progress<P>) -> bool {
    let Progress::FileRead(st) = progress else {
        return true;
    };
    let out = &mut call.out;
    if st.remaining > 0 && !st.eof {
        match call.platform.files() {
            Some(f) => {
                if st.pump(f, out).is_err() {
                    // The file failed mid-stream: end the reply with what
                    // was sent (qemu-ga cannot get here: it reads whole).
                    st.remaining = 0;
                }
            }
            None => st.remaining = 0,
        }
        if st.remaining > 0 && !st.eof {
            return false;
        }
    }
    let mark = out.len();
    out.str("\", \"count\": ");
    out.u64(st.count);
    out.str(", \"eof\": ");
    out.bool(st.eof);
    out.str("}");
    if out.ok() {
        true
    } else {
        out.truncate(mark);
        false
    }
}

fn write<P: Platform>(call: &mut Call<'_, '_, P>, args: WriteArgs) -> Outcome {
    let Some(id) = lookup(call, args.handle) else {
        return Outcome::Failed;
    };
    let data = call.decode(&args.buf_b64);
    let Some(len) = base64::decode_checked(call.rx.get_mut(data.clone()).unwrap_or(&mut [])) else {
        call.err.generic("Base64 data contains invalid characters");
        return Outcome::Failed;
    };
    let count = match args.count {
        None => len,
        Some(c) if (0..=i64::try_from(len).unwrap_or(i64::MAX)).contains(&c) => {
            usize::try_from(c).unwrap_or(0)
        }
        Some(c) => {
            call.err.invalid_value(c, "count");
            return Outcome::Failed;
        }
    };
    let bytes = data.start..data.start.wrapping_add(count);
    let rx: &[u8] = call.rx;
    let Some(files) = call.platform.files() else {
        return unsupported(call.err);
    };
    let n = match files.write(id, rx.get(bytes).unwrap_or(&[])) {
        Ok(v) => v,
        Err(e) => return failed(call.err, e, "failed to write to file"),
    };
    call.out.str("{\"count\": ");
    call.out.u64(n as u64);
    call.out.str(", \"eof\": false}");
    Outcome::Done
}

fn seek<P: Platform>(call: &mut Call<'_, '_, P>, args: SeekArgs) -> Outcome {
    let whence = match args.whence {
        // qemu-ga checks the handle before the whence code.
        WhenceArg::Code(n) if call.state.handles.get(args.handle).is_some() => {
            call.err.generic("invalid whence code ").int(n);
            return Outcome::Failed;
        }
        WhenceArg::Code(_) => return not_found(call.err, args.handle),
        WhenceArg::Known(w) => w,
    };
    let Some((store, id)) = file(call, args.handle) else {
        return Outcome::Failed;
    };
    let pos = match store.seek(id, args.offset, whence) {
        Ok(v) => v,
        Err(e) => return failed(call.err, e, "failed to seek file"),
    };
    call.out.str("{\"eof\": false, \"position\": ");
    call.out.u64(pos);
    call.out.str("}");
    Outcome::Done
}

fn flush<P: Platform>(call: &mut Call<'_, '_, P>, args: HandleArgs) -> Outcome {
    let Some((store, id)) = file(call, args.handle) else {
        return Outcome::Failed;
    };
    if let Err(e) = store.flush(id) {
        return failed(call.err, e, "failed to flush file");
    }
    call.out.str("{}");
    Outcome::Done
}
