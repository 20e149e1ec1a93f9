//! guest-set-user-password, guest-ssh-get-authorized-keys,
//! guest-ssh-add-authorized-keys, guest-ssh-remove-authorized-keys.
//!
//! The core checks what qemu-ga checks before touching the guest: the
//! password's base64, a newline in a raw password, `:` or a newline in the
//! user name (`forbidden characters in …`), and each SSH key (`invalid
//! OpenSSH public key: '<key>'` for a comment or a key with a newline). The
//! board's [`crate::platform::Passwords`] and [`crate::platform::SshKeys`]
//! then do the work; a missing user is `failed to lookup user '<name>':
//! Success`, qemu-ga's words (glib reports it with errno 0).
//!
//! Differences: qemu-ga names the file in I/O errors
//! (`/home/u/.ssh/authorized_keys`); the core does not know the home
//! directory and writes `~u/.ssh/authorized_keys`.

use core::ops::{ControlFlow, Range};

use super::{Call, Outcome, command, failed, text, unsupported};
use crate::args::{StrListArg, Text};
use crate::arguments;
use crate::base64;
use crate::error::{HookError, QgaError};
use crate::platform::{Platform, StrList};

arguments! {
    /// `guest-set-user-password`.
    pub struct PasswordArgs {
        /// The account.
        username: Text = "username",
        /// The password, base64.
        password: Text = "password",
        /// Whether it is already hashed.
        crypted: bool = "crypted",
    }
}

arguments! {
    /// `guest-ssh-get-authorized-keys`.
    pub struct GetKeysArgs {
        /// The account.
        username: Text = "username",
    }
}

arguments! {
    /// `guest-ssh-add-authorized-keys`.
    pub struct AddKeysArgs {
        /// The account.
        username: Text = "username",
        /// Keys in `authorized_keys` format.
        keys: StrListArg = "keys",
        /// Replace the file's keys instead of adding.
        reset: Option<bool> = "reset",
    }
}

arguments! {
    /// `guest-ssh-remove-authorized-keys`.
    pub struct RemoveKeysArgs {
        /// The account.
        username: Text = "username",
        /// Keys to remove.
        keys: StrListArg = "keys",
    }
}

command!(
    /// `guest-set-user-password`.
    GUEST_SET_USER_PASSWORD = "guest-set-user-password", PasswordArgs, set_password
);
command!(
    /// `guest-ssh-get-authorized-keys`: `{"keys": [...]}`.
    GUEST_SSH_GET_AUTHORIZED_KEYS = "guest-ssh-get-authorized-keys", GetKeysArgs, get_keys
);
command!(
    /// `guest-ssh-add-authorized-keys`.
    GUEST_SSH_ADD_AUTHORIZED_KEYS = "guest-ssh-add-authorized-keys", AddKeysArgs, add_keys
);
command!(
    /// `guest-ssh-remove-authorized-keys`.
    GUEST_SSH_REMOVE_AUTHORIZED_KEYS = "guest-ssh-remove-authorized-keys", RemoveKeysArgs, remove_keys
);

fn set_password<P: Platform>(call: &mut Call<'_, '_, P>, args: PasswordArgs) -> Outcome {
    let user = call.decode(&args.username);
    let pw = call.decode(&args.password);
    let data = call.rx.get_mut(pw.clone()).unwrap_or(&mut []);
    if !base64::validate(data) {
        call.err.generic("Base64 data contains invalid characters");
        return Outcome::Failed;
    }
    let n = base64::decode_in_place(data);
    let rx: &[u8] = call.rx;
    let password = rx.get(pw.start..pw.start.wrapping_add(n)).unwrap_or(&[]);
    if !args.crypted && password.contains(&b'\n') {
        call.err.generic("forbidden characters in raw password");
        return Outcome::Failed;
    }
    let username = text(rx, &user);
    if username.contains(['\n', ':']) {
        call.err.generic("forbidden characters in username");
        return Outcome::Failed;
    }
    let Some(board) = call.platform.passwords() else {
        return unsupported(call.err);
    };
    if let Err(e) = board.set_password(username, password, args.crypted) {
        return user_error(
            call.err,
            e,
            &user,
            "child process has failed to set user password",
        );
    }
    call.out.str("{}");
    Outcome::Done
}

/// A board failure about `user`'s account.
fn user_error(
    err: &mut QgaError,
    e: HookError,
    user: &Range<usize>,
    context: &'static str,
) -> Outcome {
    match e {
        // glib reports a missing user with errno 0, so qemu-ga says
        // "Success" (observed).
        HookError::NoUser => {
            err.generic("failed to lookup user '")
                .req(user.clone())
                .lit("': Success");
            Outcome::Failed
        }
        other => failed(err, other, context),
    }
}

/// A board failure on `user`'s `authorized_keys`.
fn keys_error(
    err: &mut QgaError,
    e: HookError,
    user: &Range<usize>,
    doing: &'static str,
) -> Outcome {
    match e {
        HookError::Errno(errno) => {
            err.generic(doing)
                .lit(" '~")
                .req(user.clone())
                .lit("/.ssh/authorized_keys'")
                .errno(errno);
            Outcome::Failed
        }
        other => user_error(err, other, user, doing),
    }
}

/// qemu-ga's key check: no comment, no newline.
fn check_keys(err: &mut QgaError, keys: &StrList<'_>) -> bool {
    for k in keys.iter() {
        let mut bytes = k.bytes();
        let bad = bytes.clone().next() == Some(b'#') || bytes.any(|b| b == b'\n');
        if bad {
            err.generic("invalid OpenSSH public key: '")
                .req_str(k.token())
                .lit("'");
            return false;
        }
    }
    true
}

fn get_keys<P: Platform>(call: &mut Call<'_, '_, P>, args: GetKeysArgs) -> Outcome {
    let user = call.decode(&args.username);
    let rx: &[u8] = call.rx;
    let Some(board) = call.platform.ssh_keys() else {
        return unsupported(call.err);
    };
    let out = &mut call.out;
    out.str("{\"keys\": [");
    let mut first = true;
    let r = board.authorized_keys(text(rx, &user), &mut |key: &str| {
        let mark = out.len();
        if !first {
            out.str(", ");
        }
        out.quoted(key.as_bytes());
        // Keys that do not fit the reply buffer are left out (the list
        // is read once: a file that changes between pieces would
        // repeat or lose keys).
        if out.ok() && out.remaining() >= 2 {
            first = false;
            ControlFlow::Continue(())
        } else {
            out.truncate(mark);
            ControlFlow::Break(())
        }
    });
    if let Err(e) = r {
        return keys_error(call.err, e, &user, "failed to read");
    }
    out.str("]}");
    Outcome::Done
}

fn add_keys<P: Platform>(call: &mut Call<'_, '_, P>, args: AddKeysArgs) -> Outcome {
    let reset = args.reset.unwrap_or(false);
    change_keys(call, &args.username, &args.keys, Some(reset))
}

fn remove_keys<P: Platform>(call: &mut Call<'_, '_, P>, args: RemoveKeysArgs) -> Outcome {
    change_keys(call, &args.username, &args.keys, None)
}

/// Adds `keys` (`reset`: `Some`, replacing the file when true) or removes
/// them (`None`), after qemu-ga's key check.
fn change_keys<P: Platform>(
    call: &mut Call<'_, '_, P>,
    username: &Text,
    keys: &StrListArg,
    reset: Option<bool>,
) -> Outcome {
    let user = call.decode(username);
    let rx: &[u8] = call.rx;
    let keys = StrList::new(rx, Some(keys.span()));
    if !check_keys(call.err, &keys) {
        return Outcome::Failed;
    }
    let Some(board) = call.platform.ssh_keys() else {
        return unsupported(call.err);
    };
    let name = text(rx, &user);
    let r = match reset {
        Some(reset) => board.add_keys(name, &keys, reset),
        None => board.remove_keys(name, &keys),
    };
    if let Err(e) = r {
        return keys_error(call.err, e, &user, "failed to write to");
    }
    call.out.str("{}");
    Outcome::Done
}
