use super::*;

fn executor(b: u8) -> ExecutorId {
    [b; 56]
}

fn share(v: u8) -> ShareRecord {
    ShareRecord {
        validator_pubkey: format!("0x{}", hex::encode([v; 48])),
        share_pubkey: format!("0x{}", hex::encode([v ^ 0xff; 48])),
        committee: vec![(1, "0x01".into()), (2, "0x02".into())],
        owner: "0x00".into(),
        fee_recipient: "0x00".into(),
        liquidated: false,
        encrypted_secret: "0x".into(),
    }
}

#[test]
fn highest_decided_only_rises() {
    let dir = tempfile::tempdir().unwrap();
    let store = NodeStore::open(dir.path().join("db"), "devnet").unwrap();
    assert_eq!(store.highest_decided(&executor(1)).unwrap(), None);
    store.save_decided(&executor(1), 10, b"ten").unwrap();
    store.save_decided(&executor(1), 7, b"seven").unwrap();
    store.save_decided(&executor(2), 3, b"three").unwrap();
    assert_eq!(store.highest_decided(&executor(1)).unwrap(), Some(10));
    assert_eq!(store.decided(&executor(1), 7).unwrap().as_deref(), Some(&b"seven"[..]));
    assert_eq!(
        store.decided_range(&executor(1), 0, 100).unwrap(),
        vec![(7, b"seven".to_vec()), (10, b"ten".to_vec())]
    );
    let all = store.all_highest_decided().unwrap();
    assert_eq!(all.into_iter().collect::<Vec<_>>(), vec![(executor(1), 10), (executor(2), 3)]);
}

#[test]
fn a_failed_transaction_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = NodeStore::open(dir.path().join("db"), "devnet").unwrap();
    let r: Result<(), _> = store.write(|w| {
        w.put_share(&[1; 48], &share(1))?;
        w.set_last_processed_block(99)?;
        Err(StoreError::Record { table: "test", reason: "abort".into() })
    });
    assert!(r.is_err());
    assert_eq!(store.share(&[1; 48]).unwrap(), None);
    assert_eq!(store.last_processed_block().unwrap(), None);
}

#[test]
fn records_round_trip_and_remove() {
    let dir = tempfile::tempdir().unwrap();
    let store = NodeStore::open(dir.path().join("db"), "devnet").unwrap();
    let op = OperatorRecord { id: 4, owner: "0xab".into(), public_key_base64: "LS0t".into() };
    let meta = ValidatorMetadata {
        index: 9,
        status: "active_ongoing".into(),
        activation_epoch: 0,
        exit_epoch: u64::MAX,
    };
    store
        .write(|w| {
            w.put_operator(&op)?;
            w.put_share(&[1; 48], &share(1))?;
            w.put_validator_metadata(&[1; 48], &meta)?;
            w.set_last_processed_block(1234)
        })
        .unwrap();
    assert_eq!(store.operator(4).unwrap(), Some(op.clone()));
    assert_eq!(store.operators().unwrap(), vec![op]);
    assert_eq!(store.shares().unwrap(), vec![share(1)]);
    assert_eq!(store.validator_metadata(&[1; 48]).unwrap(), Some(meta));
    assert_eq!(store.last_processed_block().unwrap(), Some(1234));
    assert!(store.write(|w| w.remove_share(&[1; 48])).unwrap());
    assert_eq!(store.share(&[1; 48]).unwrap(), None);
    assert_eq!(store.validator_metadata(&[1; 48]).unwrap(), None, "metadata goes with the share");
    assert!(store.write(|w| w.remove_operator(4)).unwrap());
    assert!(!store.write(|w| w.remove_operator(4)).unwrap());
}

#[test]
fn share_secrets_are_stored_encrypted_to_the_operator() {
    let key = OperatorPrivateKey::generate().unwrap();
    let secret = [0x42u8; 32];
    let mut rec = share(1);
    rec.encrypted_secret =
        format!("0x{}", hex::encode(key.public_key().encrypt_share(&secret).unwrap()));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let store = NodeStore::open(&path, "devnet").unwrap();
        store.write(|w| w.put_share(&[1; 48], &rec)).unwrap();
    }
    // The plaintext secret appears nowhere in the file.
    let bytes = std::fs::read(&path).unwrap();
    assert!(!bytes.windows(32).any(|w| w == secret));
    let hex_secret = hex::encode(secret);
    assert!(!bytes.windows(64).any(|w| w == hex_secret.as_bytes()));
    let store = NodeStore::open(&path, "devnet").unwrap();
    let loaded = store.share(&[1; 48]).unwrap().unwrap();
    assert_eq!(*loaded.decrypt_secret(&key).unwrap(), secret);
    let other = OperatorPrivateKey::generate().unwrap();
    assert!(matches!(loaded.decrypt_secret(&other), Err(StoreError::Decrypt(_))));
}

#[test]
fn another_network_or_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    drop(NodeStore::open(&path, "hoodi").unwrap());
    let e = NodeStore::open(&path, "mainnet").unwrap_err();
    assert!(matches!(e, StoreError::WrongNetwork { .. }), "{e}");
    {
        let db = Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(META)
            .unwrap()
            .insert(KEY_SCHEMA_VERSION, (SCHEMA_VERSION + 1).to_le_bytes().as_slice())
            .unwrap();
        txn.commit().unwrap();
    }
    let e = NodeStore::open(&path, "hoodi").unwrap_err();
    assert!(e.to_string().contains("schema version 2"), "{e}");
}

#[test]
fn a_corrupt_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    std::fs::write(&path, vec![0x5a; 8192]).unwrap();
    let e = NodeStore::open(&path, "devnet").unwrap_err();
    assert!(matches!(e, StoreError::Open { .. }), "{e:?}");
    assert!(e.to_string().contains("cannot open node database"), "{e}");
}
