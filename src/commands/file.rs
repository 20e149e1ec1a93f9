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

use super::{Body, Ctx, text};
use crate::base64;
use crate::config::{FILE_READ_COUNT_DEFAULT, FILE_READ_COUNT_MAX, file_read_chunk};
use crate::error::{Errno, HookError, QgaError};
use crate::json::out::Out;
use crate::platform::{FileId, FileStore, OpenMode, Whence};

/// A streaming `guest-file-read` in progress.
#[derive(Clone, Debug)]
pub(crate) struct FileRead {
    file: FileId,
    /// Bytes still wanted.
    remaining: u64,
    /// Bytes sent so far.
    count: u64,
    /// A read came back short.
    eof: bool,
}

fn not_found(handle: i64) -> QgaError {
    QgaError::generic("handle '")
        .int(handle)
        .lit("' has not been found")
}

fn store<'a>(ctx: &'a mut Ctx<'_, '_>) -> Result<&'a mut dyn FileStore, QgaError> {
    ctx.platform.files().ok_or_else(QgaError::unsupported)
}

fn lookup(ctx: &Ctx<'_, '_>, handle: i64) -> Result<FileId, QgaError> {
    ctx.state
        .handles
        .get(handle)
        .ok_or_else(|| not_found(handle))
}

/// `guest-file-open`.
pub(super) fn open(ctx: &mut Ctx<'_, '_>) -> Result<Body, QgaError> {
    let path = ctx.decode(0).unwrap_or(0..0);
    let mode_range = ctx.decode(1);
    let mode_text = match &mode_range {
        Some(r) => text(ctx.rx, r),
        None => "r",
    };
    let fail = |path: &core::ops::Range<usize>, mode: Option<core::ops::Range<usize>>| {
        let e = QgaError::generic("failed to open file '")
            .req(path.clone())
            .lit("' (mode: '");
        match mode {
            Some(m) => e.req(m),
            None => e.lit("r"),
        }
        .lit("')")
    };
    let Some(mode) = OpenMode::parse(mode_text) else {
        let r = mode_range.unwrap_or(0..0);
        return Err(QgaError::generic("invalid file open mode '")
            .req(r)
            .lit("'"));
    };
    if !ctx.state.handles.has_room() {
        // Checked before opening so that no file is left open without a handle.
        return Err(fail(&path, mode_range).errno(Errno::EMFILE));
    }
    let rx: &[u8] = ctx.rx;
    let files = ctx.platform.files().ok_or_else(QgaError::unsupported)?;
    let file = files
        .open(text(rx, &path), mode)
        .map_err(|e| e.into_qga(fail(&path, mode_range.clone())))?;
    match ctx.state.handles.insert(file) {
        Some(handle) => {
            ctx.out.i64(handle);
            Ok(Body::Rendered)
        }
        None => {
            let _ = files.close(file);
            Err(fail(&path, mode_range).errno(Errno::EMFILE))
        }
    }
}

/// `guest-file-close`.
pub(super) fn close(ctx: &mut Ctx<'_, '_>) -> Result<Body, QgaError> {
    let handle = ctx.int(0).unwrap_or(0);
    let file = lookup(ctx, handle)?;
    let result = store(ctx)?.close(file);
    // The handle is gone either way: its file is closed or unusable.
    ctx.state.handles.remove(handle);
    result.map_err(|e| e.into_qga(QgaError::generic("failed to close handle")))?;
    ctx.out.str("{}");
    Ok(Body::Rendered)
}

fn read_error(e: HookError) -> QgaError {
    e.into_qga(QgaError::generic("failed to read file"))
}

/// `guest-file-read`.
pub(super) fn read(ctx: &mut Ctx<'_, '_>) -> Result<Body, QgaError> {
    // qemu-ga looks the handle up before it checks the count.
    let handle = ctx.int(0).unwrap_or(0);
    let file = lookup(ctx, handle)?;
    let count = ctx.int(1).unwrap_or(FILE_READ_COUNT_DEFAULT);
    if !(0..=FILE_READ_COUNT_MAX).contains(&count) {
        return Err(QgaError::invalid_value(count, "count"));
    }
    let want = usize::try_from(count).unwrap_or(usize::MAX);
    let Ctx { platform, out, .. } = ctx;
    let files = platform.files().ok_or_else(QgaError::unsupported)?;

    // First read as much as the one-piece layout fits: raw bytes at the end
    // of the free space, the reply written in front of them. If that read
    // satisfies the count or hits end of file, the reply goes out whole in
    // qemu-ga's key order; otherwise those bytes become the first streamed
    // chunk.
    const HEAD: usize = 44; // {"count": <20 digits>, "buf-b64": "
    const TAIL: usize = 16; // ", "eof": false}
    let avail = out.remaining();
    let fit = (avail.saturating_sub(HEAD.saturating_add(TAIL)) / 7).saturating_mul(3);
    let first = want.min(fit);
    let spare = out.spare();
    let (front, back) = spare.split_at_mut(avail.saturating_sub(first));
    let raw = back.get_mut(..first).unwrap_or(&mut []);
    let n = files.read(file, raw).map_err(read_error)?.min(first);
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
        return Ok(Body::Rendered);
    }
    w.str("{\"buf-b64\": \"");
    let enc = base64::encode(raw, w.spare()).unwrap_or(0);
    w.advance(enc);
    let total = w.len();
    out.advance(total);
    let mut st = FileRead {
        file,
        remaining: u64::try_from(want.saturating_sub(n)).unwrap_or(0),
        count: n as u64,
        eof: false,
    };
    // More chunks while there is room (errors now end the stream early).
    if st.pump(files, out).is_err() {
        st.remaining = 0;
    }
    Ok(Body::FileRead(st))
}

impl FileRead {
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
            self.count = self.count.saturating_add(n as u64);
        }
        Ok(())
    }

    /// Continues the reply body; returns true once it is complete.
    pub(crate) fn step(&mut self, files: Option<&mut dyn FileStore>, out: &mut Out<'_>) -> bool {
        if self.remaining > 0 && !self.eof {
            match files {
                Some(f) => {
                    if self.pump(f, out).is_err() {
                        // The file failed mid-stream: end the reply with what
                        // was sent (qemu-ga cannot get here: it reads whole).
                        self.remaining = 0;
                    }
                }
                None => self.remaining = 0,
            }
            if self.remaining > 0 && !self.eof {
                return false;
            }
        }
        let mark = out.len();
        out.str("\", \"count\": ");
        out.u64(self.count);
        out.str(", \"eof\": ");
        out.bool(self.eof);
        out.str("}");
        if out.ok() {
            true
        } else {
            out.truncate(mark);
            false
        }
    }
}

/// `guest-file-write`.
pub(super) fn write(ctx: &mut Ctx<'_, '_>) -> Result<Body, QgaError> {
    let handle = ctx.int(0).unwrap_or(0);
    let file = lookup(ctx, handle)?;
    let text_range = ctx.decode(1).unwrap_or(0..0);
    let data = ctx.rx.get_mut(text_range.clone()).unwrap_or(&mut []);
    let Some(len) = base64::decode_checked(data) else {
        return Err(QgaError::generic("Base64 data contains invalid characters"));
    };
    let count = match ctx.int(2) {
        None => len,
        Some(c) if (0..=i64::try_from(len).unwrap_or(i64::MAX)).contains(&c) => {
            usize::try_from(c).unwrap_or(0)
        }
        Some(c) => return Err(QgaError::invalid_value(c, "count")),
    };
    let bytes = text_range.start..text_range.start.saturating_add(count);
    let rx: &[u8] = ctx.rx;
    let files = ctx.platform.files().ok_or_else(QgaError::unsupported)?;
    let n = files
        .write(file, rx.get(bytes).unwrap_or(&[]))
        .map_err(|e| e.into_qga(QgaError::generic("failed to write to file")))?;
    ctx.out.str("{\"count\": ");
    ctx.out.u64(n as u64);
    ctx.out.str(", \"eof\": false}");
    Ok(Body::Rendered)
}

/// `guest-file-seek`.
pub(super) fn seek(ctx: &mut Ctx<'_, '_>) -> Result<Body, QgaError> {
    let handle = ctx.int(0).unwrap_or(0);
    let file = lookup(ctx, handle)?;
    let offset = ctx.int(1).unwrap_or(0);
    let whence = match ctx.int(2) {
        Some(0) => Whence::Set,
        Some(1) => Whence::Cur,
        Some(2) => Whence::End,
        Some(n) => return Err(QgaError::generic("invalid whence code ").int(n)),
        None => {
            let r = ctx.decode(2).unwrap_or(0..0);
            match ctx.text(&r) {
                "set" => Whence::Set,
                "cur" => Whence::Cur,
                _ => Whence::End,
            }
        }
    };
    let pos = store(ctx)?
        .seek(file, offset, whence)
        .map_err(|e| e.into_qga(QgaError::generic("failed to seek file")))?;
    ctx.out.str("{\"eof\": false, \"position\": ");
    ctx.out.u64(pos);
    ctx.out.str("}");
    Ok(Body::Rendered)
}

/// `guest-file-flush`.
pub(super) fn flush(ctx: &mut Ctx<'_, '_>) -> Result<Body, QgaError> {
    let handle = ctx.int(0).unwrap_or(0);
    let file = lookup(ctx, handle)?;
    store(ctx)?
        .flush(file)
        .map_err(|e| e.into_qga(QgaError::generic("failed to flush file")))?;
    ctx.out.str("{}");
    Ok(Body::Rendered)
}
