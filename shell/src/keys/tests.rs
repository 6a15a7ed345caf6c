use super::*;

fn anchor_keystore(name: &str) -> PathBuf {
    ssv_fixtures::vector_path(
        &format!("ssv-network/anchor/anchor/common/operator_key/test_keys/{name}"),
        "sigp/anchor test keys",
    )
    .unwrap()
}

fn password_file(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("password");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn anchor_keystores_decrypt_to_the_key_they_name() {
    // Public test keystores (password "what"): the decrypted key's public key must equal
    // the `pubKey`/`pubkey` the file carries.
    let dir = tempfile::tempdir().unwrap();
    let pw = password_file(dir.path(), "what\n");
    for name in ["encrypted_private_key.json", "encrypted_private_key_legacy.json"] {
        let path = anchor_keystore(name);
        let key = load_operator_key(&path, Some(&pw)).unwrap();
        let ks = Keystore::from_json(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(key.public_key().to_base64_pem(), ks.pub_key, "{name}");
    }
}

#[test]
fn a_wrong_password_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let pw = password_file(dir.path(), "not what");
    let e = load_operator_key(&anchor_keystore("encrypted_private_key.json"), Some(&pw))
        .unwrap_err()
        .to_string();
    assert!(e.contains("wrong password"), "{e}");
}

#[test]
fn a_keystore_without_password_file_says_what_to_set() {
    let e = load_operator_key(&anchor_keystore("encrypted_private_key.json"), None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("password_file"), "{e}");
}

#[test]
fn keygen_pem_is_private_and_loads_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key.pem");
    let g = keygen(&path, None, Pbkdf2Params::STANDARD).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
    assert!(std::fs::read_to_string(&path).unwrap().starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    let key = load_operator_key(&path, None).unwrap();
    assert_eq!(key.public_key().to_base64_pem(), g.public_key_base64);
    // Never overwrites.
    assert!(keygen(&path, None, Pbkdf2Params::STANDARD).is_err());
}

#[test]
fn keygen_encrypted_writes_a_password_and_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("key.json");
    let pw_path = dir.path().join("pw");
    let fast = Pbkdf2Params { iterations: 1024 };
    let g = keygen(&key_path, Some(&pw_path), fast).unwrap();
    assert_eq!(g.password_path.as_deref(), Some(pw_path.as_path()));
    let key = load_operator_key(&key_path, Some(&pw_path)).unwrap();
    assert_eq!(key.public_key().to_base64_pem(), g.public_key_base64);
    let ks = Keystore::from_json(&std::fs::read_to_string(&key_path).unwrap()).unwrap();
    assert_eq!(ks.pub_key, g.public_key_base64);
    assert_eq!(ks.kdf.params["c"], 1024);
    let wrong = password_file(dir.path(), "guess");
    assert!(matches!(
        load_operator_key(&key_path, Some(&wrong)),
        Err(KeyError::Keystore { source: KeystoreError::WrongPassword, .. })
    ));
}

#[test]
fn passwords_are_normalised_as_eip_2335_says() {
    // NFKD: the fraktur letters of the EIP-2335 test password become ASCII; control
    // characters (C0, DEL, C1) are removed.
    assert_eq!(normalize_password_for_test("𝔱𝔢𝔰𝔱\u{7f}\u{85}\n"), "test");
    let dir = tempfile::tempdir().unwrap();
    let pw = password_file(dir.path(), "\n\t");
    assert!(matches!(read_password(&pw), Err(KeyError::EmptyPassword { .. })));
}

fn normalize_password_for_test(s: &str) -> String {
    normalize_password(s).to_string()
}

#[test]
fn scrypt_keystores_are_refused_by_name() {
    let mut ks = Keystore::encrypt(b"x", "pw", "", Pbkdf2Params { iterations: 1024 }).unwrap();
    ks.kdf.function = "scrypt".into();
    let e = ks.decrypt("pw").unwrap_err().to_string();
    assert!(e.contains("scrypt"), "{e}");
}
