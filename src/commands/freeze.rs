//! guest-fsfreeze-status, -freeze, -freeze-list, -thaw, guest-fstrim.
//!
//! The agent keeps the frozen flag itself (qemu-ga reports its own flag, not
//! the kernel's): `guest-fsfreeze-status` answers `"thawed"` until the
//! board's [`crate::platform::Freeze`] has frozen something. While frozen,
//! every command but the freeze allow-list is disabled, as in qemu-ga.

use super::{Call, Outcome, command, failed, unsupported};
use crate::args::{NoArgs, StrListArg};
use crate::arguments;
use crate::platform::{Platform, StrList, TrimResult};

use super::render::Obj;

arguments! {
    /// `guest-fsfreeze-freeze-list`.
    pub struct FreezeListArgs {
        /// Mount points (default: all).
        mountpoints: Option<StrListArg> = "mountpoints",
    }
}

arguments! {
    /// `guest-fstrim`.
    pub struct TrimArgs {
        /// Smallest free range worth discarding, in bytes.
        minimum: Option<i64> = "minimum",
    }
}

command!(
    /// `guest-fsfreeze-status`: `"thawed"` or `"frozen"`.
    GUEST_FSFREEZE_STATUS = "guest-fsfreeze-status", NoArgs, status, FROZEN_OK
);
command!(
    /// `guest-fsfreeze-freeze`: how many file systems were frozen.
    GUEST_FSFREEZE_FREEZE = "guest-fsfreeze-freeze", NoArgs, freeze_all
);
command!(
    /// `guest-fsfreeze-freeze-list`.
    GUEST_FSFREEZE_FREEZE_LIST = "guest-fsfreeze-freeze-list", FreezeListArgs, freeze_list
);
command!(
    /// `guest-fsfreeze-thaw`: how many file systems were thawed.
    GUEST_FSFREEZE_THAW = "guest-fsfreeze-thaw", NoArgs, thaw, FROZEN_OK
);
command!(
    /// `guest-fstrim`: `{"paths": [...]}`.
    GUEST_FSTRIM = "guest-fstrim", TrimArgs, fstrim
);

fn status<P: Platform>(call: &mut Call<'_, '_, P>, _: NoArgs) -> Outcome {
    call.out.str(if call.state.frozen {
        "\"frozen\""
    } else {
        "\"thawed\""
    });
    Outcome::Done
}

fn freeze<P: Platform>(call: &mut Call<'_, '_, P>, list: Option<StrListArg>) -> Outcome {
    let rx: &[u8] = call.rx;
    let mountpoints = StrList::new(rx, list.map(|l| l.span()));
    let Some(freeze) = call.platform.freeze() else {
        return unsupported(call.err);
    };
    let n = match freeze.freeze(&mountpoints) {
        Ok(v) => v,
        Err(e) => return failed(call.err, e, "failed to freeze"),
    };
    // Nothing frozen leaves the state thawed (qemu-ga does the same).
    call.state.frozen = n > 0;
    call.out.i64(n);
    Outcome::Done
}

fn freeze_all<P: Platform>(call: &mut Call<'_, '_, P>, _: NoArgs) -> Outcome {
    freeze(call, None)
}

fn freeze_list<P: Platform>(call: &mut Call<'_, '_, P>, args: FreezeListArgs) -> Outcome {
    freeze(call, args.mountpoints)
}

fn thaw<P: Platform>(call: &mut Call<'_, '_, P>, _: NoArgs) -> Outcome {
    let Some(freeze) = call.platform.freeze() else {
        return unsupported(call.err);
    };
    let n = match freeze.thaw() {
        Ok(v) => v,
        Err(e) => return failed(call.err, e, "failed to thaw"),
    };
    call.state.frozen = false;
    call.out.i64(n);
    Outcome::Done
}

/// Results are written as the board reports them; results beyond the free
/// reply space are left out (the board has trimmed by then: the work is not
/// repeated for a second piece).
fn fstrim<P: Platform>(call: &mut Call<'_, '_, P>, args: TrimArgs) -> Outcome {
    let Some(freeze) = call.platform.freeze() else {
        return unsupported(call.err);
    };
    let out = &mut call.out;
    out.str("{\"paths\": [");
    let mut first = true;
    let r = freeze.trim(args.minimum, &mut |r: &TrimResult<'_>| {
        let mark = out.len();
        if !first {
            out.str(", ");
        }
        let mut o = Obj::open(out);
        o.opt_int("minimum", r.minimum);
        o.str("path", r.path);
        o.opt_int("trimmed", r.trimmed);
        o.opt_str("error", r.error);
        o.close();
        // Keep room for the closing brackets.
        if out.ok() && out.remaining() >= 2 {
            first = false;
            core::ops::ControlFlow::Continue(())
        } else {
            out.truncate(mark);
            core::ops::ControlFlow::Break(())
        }
    });
    if let Err(e) = r {
        return failed(call.err, e, "failed to trim");
    }
    out.str("]}");
    Outcome::Done
}
