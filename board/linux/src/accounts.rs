//! Accounts: `guest-set-user-password` and the ssh keys a guest agent may
//! add and remove, without `chpasswd` or any other helper program.
//!
//! Contract:
//! * Passwords: the user's line of `/etc/shadow` gets the new hash in its
//!   second field and today (days since the epoch) in its third; every
//!   other line and field stays as it was. A raw password is hashed with
//!   the C library's `crypt` as SHA-512 (`$6$`, a 16-character salt from
//!   `getrandom`), which is what `chpasswd` writes by default; a crypted
//!   one is written as given. The file is replaced atomically (a temporary
//!   file in `/etc`, same mode and owner, then `rename`). A user missing
//!   from `/etc/passwd` or `/etc/shadow`, or no `/etc/shadow` at all, fails
//!   as qemu-ga's `chpasswd` run fails: "child process has failed to set
//!   user password".
//! * ssh keys: `~user/.ssh` is created if missing (mode 0700, owned by the
//!   user), `authorized_keys` is rewritten with the keys one per line
//!   (mode 0600, owned by the user), as qemu-ga sets them. Adding keeps the
//!   existing keys (unless `reset`) and skips keys already there; removing
//!   a key that is not there is not an error.

use std::ffi::{CStr, CString};
use std::io::Write as _;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use nanoqga::error::{Errno, HookError};
use nanoqga::platform::StrList;
use nanoqga_host::sys::io_error;

const SHADOW: &str = "/etc/shadow";
const PASSWORD_FAILED: HookError =
    HookError::Message("child process has failed to set user password");

#[cfg_attr(target_env = "gnu", link(name = "crypt"))]
unsafe extern "C" {
    /// POSIX `crypt(3)`: the hash of `key` with the method and salt of
    /// `salt`, in static storage (NULL on failure).
    fn crypt(key: *const libc::c_char, salt: *const libc::c_char) -> *mut libc::c_char;
}

/// The user's uid, gid and home directory, from the password database.
pub fn user(name: &str) -> Result<(u32, u32, std::path::PathBuf), HookError> {
    let cname = CString::new(name).map_err(|_| HookError::NoUser)?;
    let mut buf = vec![0u8; 16384];
    // SAFETY: `passwd` is a plain C struct for which all-zero is valid.
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut out: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: valid name, out-struct, buffer of the given size, out-pointer.
    let rc = unsafe {
        libc::getpwnam_r(
            cname.as_ptr(),
            &mut pw,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut out,
        )
    };
    if rc != 0 || out.is_null() || pw.pw_dir.is_null() {
        return Err(HookError::NoUser);
    }
    // SAFETY: getpwnam_r filled `pw_dir` with a NUL-terminated string in `buf`.
    let dir = unsafe { CStr::from_ptr(pw.pw_dir) };
    Ok((
        pw.pw_uid,
        pw.pw_gid,
        std::path::PathBuf::from(dir.to_string_lossy().into_owned()),
    ))
}

/// A SHA-512 `crypt` salt: `$6$` and 16 characters of `./0-9A-Za-z`.
fn salt() -> Result<String, HookError> {
    const ALPHABET: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut raw = [0u8; 16];
    // SAFETY: getrandom writes at most `raw.len()` bytes into `raw`.
    let n = unsafe { libc::getrandom(raw.as_mut_ptr().cast(), raw.len(), 0) };
    if n != raw.len() as isize {
        return Err(nanoqga_host::sys::hook_errno());
    }
    let mut s = String::from("$6$");
    s.extend(
        raw.iter()
            .map(|b| char::from(ALPHABET[usize::from(b & 63)])),
    );
    s.push('$');
    Ok(s)
}

/// `password` hashed as `chpasswd` would.
fn hash(password: &[u8]) -> Result<String, HookError> {
    let key = CString::new(password).map_err(|_| HookError::Errno(Errno::EINVAL))?;
    let salt = CString::new(salt()?).map_err(|_| HookError::Errno(Errno::EINVAL))?;
    // SAFETY: two NUL-terminated strings; the result (static storage in
    // the C library) is copied before anything else calls crypt. The agent
    // is single-threaded.
    let out = unsafe { crypt(key.as_ptr(), salt.as_ptr()) };
    if out.is_null() {
        return Err(PASSWORD_FAILED);
    }
    // SAFETY: crypt returned a NUL-terminated string.
    let text = unsafe { CStr::from_ptr(out) }
        .to_string_lossy()
        .into_owned();
    // An unsupported method comes back as "*0" or similar, never "$6$...".
    if !text.starts_with("$6$") {
        return Err(PASSWORD_FAILED);
    }
    Ok(text)
}

/// `shadow` with `user`'s password field set to `hash` and its last-change
/// day to `today`; `None` if the user has no line.
pub fn with_password(shadow: &str, user: &str, hash: &str, today: u64) -> Option<String> {
    let mut found = false;
    let mut out = String::with_capacity(shadow.len() + hash.len());
    for line in shadow.split_inclusive('\n') {
        let (body, nl) = match line.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (line, ""),
        };
        let mut fields: Vec<&str> = body.split(':').collect();
        if !found && fields.first() == Some(&user) && fields.len() >= 2 {
            found = true;
            let day = today.to_string();
            fields[1] = hash;
            if fields.len() >= 3 {
                fields[2] = &day;
                out.push_str(&fields.join(":"));
            } else {
                out.push_str(&fields.join(":"));
                out.push(':');
                out.push_str(&day);
            }
            out.push_str(nl);
        } else {
            out.push_str(line);
        }
    }
    found.then_some(out)
}

/// Replaces `path` by `contents` atomically, keeping its mode and owner
/// (or setting `mode` and `owner` for a new file).
fn replace(
    path: &Path,
    contents: &[u8],
    mode: u32,
    owner: Option<(u32, u32)>,
) -> std::io::Result<()> {
    let (mode, owner) = match std::fs::metadata(path) {
        Ok(m) => (m.mode() & 0o7777, owner.or(Some((m.uid(), m.gid())))),
        Err(_) => (mode, owner),
    };
    let dir = path.parent().unwrap_or(Path::new("/"));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.nanoqga-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode))?;
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&tmp, Some(uid), Some(gid))?;
        }
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Days since the epoch, now.
fn today() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() / 86_400)
        .unwrap_or(0)
}

/// `guest-set-user-password` (see the module documentation).
pub fn set_password(username: &str, password: &[u8], crypted: bool) -> Result<(), HookError> {
    user(username).map_err(|_| PASSWORD_FAILED)?;
    let shadow = std::fs::read_to_string(SHADOW).map_err(|_| PASSWORD_FAILED)?;
    let hashed = if crypted {
        String::from_utf8(password.to_vec()).map_err(|_| PASSWORD_FAILED)?
    } else {
        hash(password)?
    };
    let updated = with_password(&shadow, username, &hashed, today()).ok_or(PASSWORD_FAILED)?;
    replace(Path::new(SHADOW), updated.as_bytes(), 0o640, None).map_err(|_| PASSWORD_FAILED)
}

/// The keys of `~user/.ssh/authorized_keys` in file order (blank lines and
/// comments dropped), or none if there is no file.
fn read_keys(path: &Path) -> Result<Vec<String>, HookError> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(t
            .lines()
            .map(str::trim)
            .filter(|k| !k.is_empty() && !k.starts_with('#'))
            .map(str::to_string)
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(io_error(&e)),
    }
}

/// Writes the key file, creating `~/.ssh` as needed (see the module
/// documentation).
fn write_keys(home: &Path, uid: u32, gid: u32, keys: &[String]) -> Result<(), HookError> {
    let dir = home.join(".ssh");
    if !dir.exists() {
        std::fs::create_dir(&dir).map_err(|e| io_error(&e))?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| io_error(&e))?;
        std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).map_err(|e| io_error(&e))?;
    }
    let mut text = String::new();
    for k in keys {
        text.push_str(k);
        text.push('\n');
    }
    let file = dir.join("authorized_keys");
    replace(&file, text.as_bytes(), 0o600, Some((uid, gid))).map_err(|e| io_error(&e))?;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| io_error(&e))
}

fn strings(list: &StrList<'_>) -> Vec<String> {
    list.iter()
        .map(|s| String::from_utf8_lossy(&s.bytes().collect::<Vec<u8>>()).into_owned())
        .collect()
}

/// `guest-ssh-add-authorized-keys`.
pub fn add_keys(username: &str, keys: &StrList<'_>, reset: bool) -> Result<(), HookError> {
    let (uid, gid, home) = user(username)?;
    let file = home.join(".ssh/authorized_keys");
    let mut all = if reset { Vec::new() } else { read_keys(&file)? };
    for k in strings(keys) {
        if !all.contains(&k) {
            all.push(k);
        }
    }
    write_keys(&home, uid, gid, &all)
}

/// `guest-ssh-remove-authorized-keys`.
pub fn remove_keys(username: &str, keys: &StrList<'_>) -> Result<(), HookError> {
    let (uid, gid, home) = user(username)?;
    let file = home.join(".ssh/authorized_keys");
    let gone = strings(keys);
    let all: Vec<String> = read_keys(&file)?
        .into_iter()
        .filter(|k| !gone.contains(k))
        .collect();
    write_keys(&home, uid, gid, &all)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHADOW_TEXT: &str = "root:*:19000:0:99999:7:::\nalice:!:19001:0:99999:7:::\nbob:x:1\n";

    #[test]
    fn password_changes_only_the_users_hash_and_day() {
        let out = with_password(SHADOW_TEXT, "alice", "$6$salt$hash", 20000).unwrap();
        assert_eq!(
            out,
            "root:*:19000:0:99999:7:::\nalice:$6$salt$hash:20000:0:99999:7:::\nbob:x:1\n"
        );
        let out = with_password("bob:x\n", "bob", "h", 5).unwrap();
        assert_eq!(out, "bob:h:5\n");
        assert_eq!(with_password(SHADOW_TEXT, "carol", "h", 1), None);
        // A name that is a prefix of another is not it.
        assert_eq!(with_password("alice2:x:1\n", "alice", "h", 1), None);
    }

    #[test]
    fn raw_passwords_hash_as_sha512_crypt_with_a_fresh_salt() {
        let a = hash(b"secret").unwrap();
        let b = hash(b"secret").unwrap();
        assert!(a.starts_with("$6$") && b.starts_with("$6$"), "{a}");
        assert_ne!(a, b);
        // crypt with the hash as salt reproduces it.
        let key = CString::new("secret").unwrap();
        let salt = CString::new(a.clone()).unwrap();
        // SAFETY: as in `hash`.
        let again = unsafe { CStr::from_ptr(crypt(key.as_ptr(), salt.as_ptr())) };
        assert_eq!(again.to_str().unwrap(), a);
    }
}
