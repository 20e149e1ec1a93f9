//! guest-ssh-get-authorized-keys, -add-, -remove- (qemu's
//! `qga/commands-posix-ssh.c` unit tests, over the agent).

use nanoqga_tests_host::Harness;

fn keys(h: &mut Harness, user: &str) -> Vec<String> {
    let r = h.ok(&format!(
        r#"{{"execute":"guest-ssh-get-authorized-keys","arguments":{{"username":"{user}"}}}}"#
    ));
    r["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn get_keys_lists_them_last_line_first_as_qemu_ga() {
    let mut h = Harness::mock();
    assert_eq!(
        keys(&mut h, "root"),
        ["ssh-rsa AAAAkey2 c@d", "ssh-ed25519 AAAAkey1 a@b"]
    );
}

#[test]
fn add_keys_skips_present_ones_and_reset_replaces() {
    let mut h = Harness::mock();
    h.ok(r#"{"execute":"guest-ssh-add-authorized-keys","arguments":{"username":"root","keys":["ssh-rsa AAAAkey2 c@d","algo key3"]}}"#);
    assert_eq!(keys(&mut h, "root").len(), 3);
    h.ok(r#"{"execute":"guest-ssh-add-authorized-keys","arguments":{"username":"root","keys":["algo only"],"reset":true}}"#);
    assert_eq!(keys(&mut h, "root"), ["algo only"]);
}

#[test]
fn remove_keys_of_missing_keys_is_not_an_error() {
    let mut h = Harness::mock();
    h.ok(r#"{"execute":"guest-ssh-remove-authorized-keys","arguments":{"username":"root","keys":["nope","ssh-ed25519 AAAAkey1 a@b"]}}"#);
    assert_eq!(keys(&mut h, "root"), ["ssh-rsa AAAAkey2 c@d"]);
}

#[test]
fn invalid_key_is_refused_before_the_user_is_looked_up() {
    let mut h = Harness::mock();
    for k in [r##"# a comment"##, r#"not a valid\nkey"#] {
        let (_, desc) = h.err(&format!(
            r#"{{"execute":"guest-ssh-add-authorized-keys","arguments":{{"username":"nobody","keys":["{k}"]}}}}"#
        ));
        assert!(desc.starts_with("invalid OpenSSH public key: '"), "{desc}");
    }
    assert_eq!(
        h.err(r##"{"execute":"guest-ssh-remove-authorized-keys","arguments":{"username":"root","keys":["#x"]}}"##).1,
        "invalid OpenSSH public key: '#x'"
    );
}

#[test]
fn unknown_user_is_qemu_ga_lookup_error() {
    let mut h = Harness::mock();
    assert_eq!(
        h.err(r#"{"execute":"guest-ssh-get-authorized-keys","arguments":{"username":"nobody"}}"#)
            .1,
        "failed to lookup user 'nobody': Success"
    );
}

#[test]
fn missing_username_is_the_schema_error() {
    let mut h = Harness::mock();
    assert_eq!(
        h.err(r#"{"execute":"guest-ssh-add-authorized-keys","arguments":{"keys":[]}}"#)
            .1,
        "Parameter 'username' is missing"
    );
}
