//! guest-sync, guest-sync-delimited, guest-ping.
//!
//! Both syncs echo the int64 id (wire-protocol.md §3.4). The delimited
//! form's 0xFF sentinel is written by the agent before the reply, and only
//! when the command runs: an argument error gets a plain error reply.

use super::{Call, Outcome, command};
use crate::args::NoArgs;
use crate::arguments;
use crate::platform::Platform;

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

fn sync<P: Platform>(call: &mut Call<'_, '_, P>, args: SyncArgs) -> Outcome {
    call.out.i64(args.id);
    Outcome::Done
}

fn ping<P: Platform>(call: &mut Call<'_, '_, P>, _: NoArgs) -> Outcome {
    call.out.str("{}");
    Outcome::Done
}
