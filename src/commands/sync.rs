//! guest-sync, guest-sync-delimited, guest-ping.
//!
//! Both syncs echo the int64 id (wire-protocol.md §3.4). The delimited
//! form's 0xFF sentinel is written by the agent before the reply, and only
//! when the command runs: an argument error gets a plain error reply.

use super::{Call, Flow, command};
use crate::args::NoArgs;
use crate::arguments;
use crate::error::QgaError;

arguments! {
    /// `guest-sync` and `guest-sync-delimited`.
    pub struct SyncArgs {
        /// The value to echo.
        id: i64 = "id",
    }
}

command!(
    /// `guest-sync-delimited`: the id, after a 0xFF sentinel.
    GUEST_SYNC_DELIMITED = "guest-sync-delimited", SyncArgs, sync, FROZEN_OK, DELIMITED
);
command!(
    /// `guest-sync`: the id.
    GUEST_SYNC = "guest-sync", SyncArgs, sync, FROZEN_OK
);
command!(
    /// `guest-ping`: `{}`.
    GUEST_PING = "guest-ping", NoArgs, ping, FROZEN_OK
);

fn sync(call: &mut Call<'_, '_>, args: SyncArgs) -> Result<Flow, QgaError> {
    call.out.i64(args.id);
    Ok(Flow::Done)
}

fn ping(call: &mut Call<'_, '_>, _: NoArgs) -> Result<Flow, QgaError> {
    call.out.str("{}");
    Ok(Flow::Done)
}
