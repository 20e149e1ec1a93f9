//! `guest-exec` of an image on the boot volume: the next stage.
//!
//! Contract:
//! * [`Images::request`] records the image (its path, and `arg` joined with
//!   spaces as its UCS-2 load options, e.g. a Linux EFI stub's command line
//!   `initrd=\initrd.cpio console=ttyS0`) and the agent answers `guest-exec`
//!   with its pid at once. Nothing runs yet: the main loop waits until that
//!   answer has left and the channel's device is released, then calls
//!   [`Images::run`].
//! * [`Images::run`] builds the image's full device path (the boot volume's
//!   device path and the file), `LoadImage`s it, sets its load options and
//!   `StartImage`s it. An OS loader or kernel never returns (its own agent
//!   answers on the same port from then on); an application that returns
//!   leaves its status for `guest-exec-status`: exit code 0 for SUCCESS,
//!   otherwise the status's error number (e.g. 14 for NOT_FOUND) with the
//!   status named on stderr.
//! * One image at a time: a second request while one waits answers EBUSY.

use core::mem::MaybeUninit;

use nanoqga::error::{Errno, HookError};
use nanoqga::platform::{ExecIo, ExecRequest, ExecStatus};
use uefi::boot::{self, LoadImageSource};
use uefi::proto::BootPolicy;
use uefi::proto::device_path::DevicePath;
use uefi::proto::device_path::build::{self, DevicePathBuilder};
use uefi::proto::loaded_image::LoadedImage;
use uefi::{CStr16, Handle, Status};

use crate::volume::{self, PATH_UNITS};

/// Load options, in UCS-2 code units with the NUL (a kernel command line
/// is at most 2 KiB on x86).
pub const OPTIONS: usize = 2048;
/// Room for the image's device path.
const DEVICE_PATH_BYTES: usize = 1024;

/// How a requested image ended.
#[derive(Clone, Copy, Debug)]
pub enum Outcome {
    /// `StartImage` returned this status.
    Returned(Status),
    /// `LoadImage` (or building its path) failed with this status.
    NotLoaded(Status),
}

/// The image waiting to run, and the last one's outcome.
pub struct Images {
    path: [u16; PATH_UNITS],
    options: [u16; OPTIONS],
    options_units: usize,
    device_path: [MaybeUninit<u8>; DEVICE_PATH_BYTES],
    /// The request waiting for the main loop (its number).
    waiting: Option<u64>,
    /// The number of the last request, and how it ended once it has.
    last: (u64, Option<Outcome>),
}

/// The exit code `guest-exec-status` reports for a firmware status.
fn exit_code(status: Status) -> i32 {
    if status.is_success() {
        0
    } else {
        (status.0 & !Status::ERROR_BIT) as i32
    }
}

impl Images {
    /// Nothing requested.
    pub const fn new() -> Images {
        Images {
            path: [0; PATH_UNITS],
            options: [0; OPTIONS],
            options_units: 0,
            device_path: [MaybeUninit::uninit(); DEVICE_PATH_BYTES],
            waiting: None,
            last: (0, None),
        }
    }

    /// Whether an image waits to run.
    pub fn waiting(&self) -> bool {
        self.waiting.is_some()
    }

    /// Records `req` (an image file on the volume) to run; returns the
    /// request's number for [`Self::status`].
    pub fn request(&mut self, req: &ExecRequest<'_>) -> Result<u64, HookError> {
        if self.waiting.is_some() {
            return Err(Errno::EBUSY.into());
        }
        let units = volume::firmware_path(req.path, &mut self.path)?.num_chars() + 1;
        if units > PATH_UNITS {
            return Err(Errno::ENAMETOOLONG.into());
        }
        // Arguments joined by spaces, as UCS-2.
        let mut n = 0;
        for (i, arg) in req.args.iter().enumerate() {
            let mut utf8: heapless::Vec<u8, { OPTIONS * 3 }> = heapless::Vec::new();
            if i > 0 {
                let _ = utf8.push(b' ');
            }
            for b in arg.bytes() {
                utf8.push(b).map_err(|_| HookError::Errno(Errno::E2BIG))?;
            }
            let text = core::str::from_utf8(&utf8).map_err(|_| HookError::Errno(Errno::EINVAL))?;
            for c in text.chars() {
                let unit = u16::try_from(u32::from(c))
                    .ok()
                    .filter(|&u| u != 0)
                    .ok_or(HookError::Errno(Errno::EINVAL))?;
                // Keep room for the NUL.
                if n + 1 >= OPTIONS {
                    return Err(Errno::E2BIG.into());
                }
                self.options[n] = unit;
                n += 1;
            }
        }
        self.options[n] = 0;
        self.options_units = n + 1;
        let number = self.last.0.wrapping_add(1);
        self.last = (number, None);
        self.waiting = Some(number);
        Ok(number)
    }

    /// Runs the waiting image (see the module contract) from the volume on
    /// `device`; how it ended (`None`: nothing was waiting).
    pub fn run(&mut self, device: Option<Handle>) -> Option<Outcome> {
        let number = self.waiting.take()?;
        let outcome = match self.load(device) {
            Err(status) => Outcome::NotLoaded(status),
            Ok(handle) => match boot::start_image(handle) {
                Ok(()) => Outcome::Returned(Status::SUCCESS),
                Err(e) => Outcome::Returned(e.status()),
            },
        };
        if self.last.0 == number {
            self.last.1 = Some(outcome);
        }
        Some(outcome)
    }

    fn load(&mut self, device: Option<Handle>) -> Result<Handle, Status> {
        let device = device.ok_or(Status::NOT_FOUND)?;
        let volume_path = crate::firmware::device_path(device).ok_or(Status::NOT_FOUND)?;
        let file = CStr16::from_u16_with_nul(
            self.path
                .get(..=self.path.iter().position(|&u| u == 0).unwrap_or(0))
                .unwrap_or(&[0]),
        )
        .map_err(|_| Status::INVALID_PARAMETER)?;
        let mut builder = DevicePathBuilder::with_buf(&mut self.device_path);
        for node in volume_path.node_iter() {
            builder = builder.push(&node).map_err(|_| Status::BUFFER_TOO_SMALL)?;
        }
        let path: &DevicePath = builder
            .push(&build::media::FilePath { path_name: file })
            .and_then(DevicePathBuilder::finalize)
            .map_err(|_| Status::BUFFER_TOO_SMALL)?;
        let handle = boot::load_image(
            boot::image_handle(),
            LoadImageSource::FromDevicePath {
                device_path: path,
                boot_policy: BootPolicy::ExactMatch,
            },
        )
        .map_err(|e| e.status())?;
        if let Ok(mut li) = boot::open_protocol_exclusive::<LoadedImage>(handle) {
            let bytes = (self.options_units * 2) as u32;
            // SAFETY: the options live in this struct, which lives (in the
            // agent's platform) for the rest of the program, so for as
            // long as the image can read them.
            unsafe { li.set_load_options(self.options.as_ptr().cast(), bytes) };
        }
        Ok(handle)
    }

    /// The exec status of request `number` for `guest-exec-status`.
    pub fn status(&self, number: u64, io: &mut ExecIo<'_>) -> ExecStatus {
        use core::fmt::Write as _;
        match self.last {
            (n, Some(outcome)) if n == number => match outcome {
                Outcome::Returned(s) if s.is_success() => ExecStatus::Exited(0),
                Outcome::Returned(s) => {
                    let _ = writeln!(io.stderr(), "image returned {s:?}");
                    ExecStatus::Exited(exit_code(s))
                }
                Outcome::NotLoaded(s) => {
                    let _ = writeln!(io.stderr(), "LoadImage: {s:?}");
                    ExecStatus::Exited(exit_code(s))
                }
            },
            (n, None) if n == number => ExecStatus::Running(WAITING),
            // A later request replaced this one's record.
            _ => ExecStatus::Exited(exit_code(Status::ABORTED)),
        }
    }
}

impl Default for Images {
    fn default() -> Self {
        Self::new()
    }
}

/// How long a waiting image's exec may sleep between looks (it finishes
/// only through the main loop's handover, which wakes the agent anyway).
pub const WAITING: core::time::Duration = core::time::Duration::from_secs(3600);
