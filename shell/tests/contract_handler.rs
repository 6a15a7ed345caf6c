//! The event handler's rules (the Go node's `eth/eventhandler`, notes 4.3), one test per
//! rule, and the follower over a scripted chain (batches, restart, deep reorg, backoff).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use alloy::primitives::{Address, B256, U256};
use alloy::sol_types::SolEvent;
use ssv_core::crypto::keyshares::KeysharesFile;
use ssv_core::crypto::rsa::{OperatorPrivateKey, OperatorPublicKey};
use ssv_shell::contract::events::{ContractEvent, abi, pack_operator_public_key};
use ssv_shell::contract::follower::{
    ChainSource, FollowError, Follower, FollowerConfig, SourceError,
};
use ssv_shell::contract::handler::{
    Effect, EventHandler, HandleError, MalformedEvent, MemoryStore, RawLog,
};
use ssv_shell::devnet::chain::empty_cluster;
use ssv_shell::devnet::keys::{DevnetValidator, keyshares_file, keyshares_item};

const SEED: &[u8] = b"contract_handler";
const OWNER: Address = Address::repeat_byte(0x11);
const OTHER: Address = Address::repeat_byte(0x22);

struct Fixture {
    keys: Vec<OperatorPrivateKey>,
    public: Vec<OperatorPublicKey>,
}

fn fixture() -> &'static Fixture {
    static F: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
    F.get_or_init(|| {
        let keys: Vec<_> = (0..4).map(|_| OperatorPrivateKey::generate().expect("rsa")).collect();
        let public = keys.iter().map(|k| k.public_key().clone()).collect();
        Fixture { keys, public }
    })
}

fn copy(key: &OperatorPrivateKey) -> OperatorPrivateKey {
    OperatorPrivateKey::from_der(key.pkcs1_der()).expect("key")
}

fn operator_added(id: u64, key: &OperatorPublicKey) -> ContractEvent {
    ContractEvent::OperatorAdded {
        operator_id: id,
        owner: OWNER,
        public_key: key.to_base64_pem().into_bytes(),
        fee: U256::ZERO,
    }
}

fn validator_added(index: u64, owner: Address, nonce: u64) -> (ContractEvent, DevnetValidator) {
    let v = DevnetValidator::new(SEED, index, &[1, 2, 3, 4]).expect("split");
    let shares = v.shares_data(&fixture().public, &owner, nonce).expect("shares");
    let event = ContractEvent::ValidatorAdded {
        owner,
        operator_ids: vec![1, 2, 3, 4],
        public_key: v.public_key.to_bytes().to_vec(),
        shares: shares.to_bytes(),
    };
    (event, v)
}

/// A handler for operator `own` (1-based) with the four operators registered.
fn handler_with_operators(own: usize) -> EventHandler<MemoryStore> {
    let f = fixture();
    let mut h = EventHandler::new(MemoryStore::default(), Some(copy(&f.keys[own - 1])));
    let mut out = Vec::new();
    for (i, key) in f.public.iter().enumerate() {
        h.handle(&operator_added(i as u64 + 1, key), 1, &mut out).expect("operator");
    }
    assert!(
        matches!(out.as_slice(), [Effect::OwnOperatorRegistered { operator_id }] if *operator_id == own as u64)
    );
    h
}

fn malformed<E: std::error::Error>(r: Result<(), HandleError<E>>) -> MalformedEvent {
    match r {
        Err(HandleError::Malformed(m)) => m,
        Err(HandleError::Store(e)) => panic!("store error {e}"),
        Ok(()) => panic!("accepted"),
    }
}

#[test]
fn operator_added_rejects_duplicate_id_and_public_key() {
    let mut h = handler_with_operators(1);
    let before = h.store().clone();
    let fresh = OperatorPrivateKey::generate().expect("rsa");
    let mut out = Vec::new();
    assert_eq!(
        malformed(h.handle(&operator_added(2, fresh.public_key()), 2, &mut out)),
        MalformedEvent::OperatorIdExists(2)
    );
    assert_eq!(
        malformed(h.handle(&operator_added(9, &fixture().public[2]), 2, &mut out)),
        MalformedEvent::OperatorPublicKeyExists(3)
    );
    assert_eq!(*h.store(), before, "a refused event leaves the store unchanged");
    assert!(out.is_empty());
    assert_eq!(h.counters().malformed, 2);
}

#[test]
fn operator_removed_needs_a_known_operator() {
    let mut h = handler_with_operators(1);
    let mut out = Vec::new();
    h.handle(&ContractEvent::OperatorRemoved { operator_id: 4 }, 2, &mut out).expect("known");
    assert_eq!(
        malformed(h.handle(&ContractEvent::OperatorRemoved { operator_id: 99 }, 2, &mut out)),
        MalformedEvent::OperatorNotFound(99)
    );
}

#[test]
fn validator_added_decrypts_our_share() {
    let mut h = handler_with_operators(3);
    let (event, v) = validator_added(0, OWNER, 0);
    let mut out = Vec::new();
    h.handle(&event, 5, &mut out).expect("added");
    let [Effect::StartValidator { validator, share_secret }] = out.as_slice() else {
        panic!("effects {out:?}")
    };
    assert_eq!(validator.public_key, v.public_key.to_bytes());
    assert_eq!(*share_secret.to_bytes(), *v.shares[2].secret_key.to_bytes());
    assert_eq!(h.store().nonces[&OWNER], 1);
}

#[test]
fn validator_added_for_others_is_stored_without_starting() {
    let f = fixture();
    let stranger = OperatorPrivateKey::generate().expect("rsa");
    let mut h = EventHandler::new(MemoryStore::default(), Some(stranger));
    let mut out = Vec::new();
    for (i, key) in f.public.iter().enumerate() {
        h.handle(&operator_added(i as u64 + 1, key), 1, &mut out).expect("operator");
    }
    h.handle(&validator_added(0, OWNER, 0).0, 2, &mut out).expect("added");
    assert!(out.is_empty());
    assert_eq!(h.store().validators.len(), 1);
    assert!(h.store().validators.values().all(|v| v.own_encrypted_share.is_none()));
}

#[test]
fn validator_added_bumps_the_nonce_even_when_malformed() {
    let mut h = handler_with_operators(1);
    let mut out = Vec::new();
    // Wrong nonce in the signature (signed for 5, expected 0).
    let (bad_sig, _) = validator_added(0, OWNER, 5);
    assert_eq!(malformed(h.handle(&bad_sig, 2, &mut out)), MalformedEvent::Signature { nonce: 0 });
    // Truncated sharesData.
    let (ContractEvent::ValidatorAdded { owner, operator_ids, public_key, mut shares }, _) =
        validator_added(1, OWNER, 1)
    else {
        unreachable!()
    };
    shares.pop();
    let short = ContractEvent::ValidatorAdded { owner, operator_ids, public_key, shares };
    assert!(matches!(
        malformed(h.handle(&short, 3, &mut out)),
        MalformedEvent::SharesLength { .. }
    ));
    // A committee of 5.
    let five = ContractEvent::ValidatorAdded {
        owner: OWNER,
        operator_ids: vec![1, 2, 3, 4, 5],
        public_key: vec![0; 48],
        shares: vec![],
    };
    assert!(matches!(malformed(h.handle(&five, 4, &mut out)), MalformedEvent::InvalidCommittee(_)));
    // Three malformed registrations consumed nonces 0, 1 and 2: the next one is signed for 3.
    assert_eq!(h.store().nonces[&OWNER], 3);
    assert!(h.store().validators.is_empty());
    h.handle(&validator_added(2, OWNER, 3).0, 5, &mut out).expect("nonce 3 is accepted");
    assert_eq!(h.store().validators.len(), 1);
}

#[test]
fn validator_added_refuses_another_owner() {
    let mut h = handler_with_operators(1);
    let mut out = Vec::new();
    h.handle(&validator_added(0, OWNER, 0).0, 2, &mut out).expect("added");
    let before = h.store().validators.clone();
    let (stolen, _) = validator_added(0, OTHER, 0);
    assert_eq!(
        malformed(h.handle(&stolen, 3, &mut out)),
        MalformedEvent::DifferentOwner { existing: OWNER, got: OTHER }
    );
    assert_eq!(h.store().validators, before);
}

#[test]
fn validator_added_needs_registered_operators() {
    let f = fixture();
    let mut h = EventHandler::new(MemoryStore::default(), Some(copy(&f.keys[0])));
    let mut out = Vec::new();
    for (i, key) in f.public.iter().take(3).enumerate() {
        h.handle(&operator_added(i as u64 + 1, key), 1, &mut out).expect("operator");
    }
    assert_eq!(
        malformed(h.handle(&validator_added(0, OWNER, 0).0, 2, &mut out)),
        MalformedEvent::OperatorNotFound(4)
    );
}

#[test]
fn removal_exit_and_cluster_events_follow_ownership() {
    let mut h = handler_with_operators(2);
    let mut out = Vec::new();
    let (added, v) = validator_added(0, OWNER, 0);
    h.handle(&added, 2, &mut out).expect("added");
    let pk = v.public_key.to_bytes();
    out.clear();

    let ids = vec![1, 2, 3, 4];
    // Another owner can neither exit nor remove it.
    let exit_other = ContractEvent::ValidatorExited {
        owner: OTHER,
        operator_ids: ids.clone(),
        public_key: pk.to_vec(),
    };
    assert!(matches!(
        malformed(h.handle(&exit_other, 3, &mut out)),
        MalformedEvent::DifferentOwner { .. }
    ));
    let remove_other = ContractEvent::ValidatorRemoved {
        owner: OTHER,
        operator_ids: ids.clone(),
        public_key: pk.to_vec(),
    };
    assert!(matches!(
        malformed(h.handle(&remove_other, 3, &mut out)),
        MalformedEvent::DifferentOwner { .. }
    ));
    // Liquidation of another owner's cluster with the same operators touches nothing.
    h.handle(
        &ContractEvent::ClusterLiquidated { owner: OTHER, operator_ids: ids.clone() },
        3,
        &mut out,
    )
    .expect("liquidated");
    assert!(out.is_empty());
    assert!(!h.store().validators[&pk].liquidated);

    h.handle(
        &ContractEvent::ClusterLiquidated { owner: OWNER, operator_ids: vec![4, 3, 2, 1] },
        4,
        &mut out,
    )
    .expect("liquidated");
    assert!(
        matches!(out.as_slice(), [Effect::Liquidated { public_keys }] if public_keys == &vec![pk])
    );
    assert!(h.store().validators[&pk].liquidated);
    out.clear();

    h.handle(
        &ContractEvent::ClusterReactivated { owner: OWNER, operator_ids: ids.clone() },
        5,
        &mut out,
    )
    .expect("reactivated");
    let share_pk = v.shares[1].public_key().to_bytes();
    assert!(matches!(
        out.as_slice(),
        [Effect::BumpSlashingProtection { public_key, share_public_key }, Effect::Reactivated { .. }]
            if *public_key == pk && *share_public_key == share_pk
    ));
    assert!(!h.store().validators[&pk].liquidated);
    out.clear();

    let exit = ContractEvent::ValidatorExited {
        owner: OWNER,
        operator_ids: ids.clone(),
        public_key: pk.to_vec(),
    };
    h.handle(&exit, 6, &mut out).expect("exit");
    assert!(
        matches!(out.as_slice(), [Effect::VoluntaryExit { public_key, block_number: 6 }] if *public_key == pk)
    );
    out.clear();

    let remove = ContractEvent::ValidatorRemoved {
        owner: OWNER,
        operator_ids: ids,
        public_key: pk.to_vec(),
    };
    h.handle(&remove, 7, &mut out).expect("removed");
    assert!(matches!(out.as_slice(), [Effect::StopValidator { public_key }] if *public_key == pk));
    assert!(h.store().validators.is_empty());
    assert_eq!(malformed(h.handle(&remove, 8, &mut out)), MalformedEvent::ValidatorNotFound);
}

#[test]
fn fee_recipient_is_per_owner() {
    let mut h = handler_with_operators(1);
    let mut out = Vec::new();
    let r = Address::repeat_byte(0x33);
    h.handle(
        &ContractEvent::FeeRecipientAddressUpdated { owner: OWNER, recipient: r },
        2,
        &mut out,
    )
    .expect("fee recipient");
    assert_eq!(h.store().fee_recipients.get(&OWNER), Some(&r));
    assert_eq!(h.store().fee_recipients.get(&OTHER), None);
}

fn raw(block: u64, index: u64, log: alloy::primitives::LogData) -> RawLog {
    let (topics, data) = log.split();
    RawLog { block_number: block, log_index: index, topics, data: data.to_vec() }
}

fn operator_log(id: u64, key: &OperatorPublicKey) -> alloy::primitives::LogData {
    abi::OperatorAdded {
        operatorId: id,
        owner: OWNER,
        publicKey: pack_operator_public_key(key.to_base64_pem().as_bytes()).into(),
        fee: U256::ZERO,
    }
    .encode_log_data()
}

#[test]
fn malformed_logs_are_skipped_and_processing_goes_on() {
    let f = fixture();
    let mut h = EventHandler::new(MemoryStore::default(), Some(copy(&f.keys[0])));
    let mut logs: Vec<RawLog> = f
        .public
        .iter()
        .enumerate()
        .map(|(i, k)| raw(1, i as u64, operator_log(i as u64 + 1, k)))
        .collect();
    // Topic0 of OperatorAdded with garbage data; then an event we do not follow.
    logs.push(RawLog {
        block_number: 2,
        log_index: 0,
        topics: vec![abi::OperatorAdded::SIGNATURE_HASH],
        data: vec![1, 2, 3],
    });
    logs.push(RawLog {
        block_number: 2,
        log_index: 1,
        topics: vec![B256::repeat_byte(7)],
        data: vec![],
    });
    // A validator whose signature is for the wrong nonce, then a good one at the next nonce.
    let v = DevnetValidator::new(SEED, 0, &[1, 2, 3, 4]).expect("split");
    for (i, nonce) in [(0u64, 9u64), (1, 1)] {
        let v = DevnetValidator::new(SEED, i, &[1, 2, 3, 4]).expect("split");
        let shares = v.shares_data(&f.public, &OWNER, nonce).expect("shares");
        let log = abi::ValidatorAdded {
            owner: OWNER,
            operatorIds: vec![1, 2, 3, 4],
            publicKey: v.public_key.to_bytes().to_vec().into(),
            shares: shares.to_bytes().into(),
            cluster: empty_cluster(),
        }
        .encode_log_data();
        logs.push(raw(3, i, log));
    }
    let mut out = Vec::new();
    h.handle_logs(&logs, &mut out).expect("no store error");
    let c = h.counters();
    assert_eq!((c.applied, c.malformed, c.ignored), (5, 2, 1));
    assert_eq!(h.store().operators.len(), 4);
    assert_eq!(h.store().validators.len(), 1);
    assert!(!h.store().validators.contains_key(&v.public_key.to_bytes()));
    assert_eq!(h.store().nonces[&OWNER], 2);
}

#[test]
fn devnet_keyshares_file_is_valid_ssv_keys_format() {
    let f = fixture();
    let operators: Vec<(u64, OperatorPublicKey)> =
        f.public.iter().enumerate().map(|(i, k)| (i as u64 + 1, k.clone())).collect();
    let items: Vec<_> = (0..2)
        .map(|i| {
            let v = DevnetValidator::new(SEED, i, &[1, 2, 3, 4]).expect("split");
            let shares = v.shares_data(&f.public, &OWNER, i).expect("shares");
            keyshares_item(&v.public_key, &operators, &OWNER, i, &shares)
        })
        .collect();
    let text = keyshares_file(&items, "2025-01-01T00:00:00.000Z");
    let file = KeysharesFile::from_json(&text).expect("core parses and checks it");
    assert_eq!(file.items.len(), 2);
    for (i, item) in file.items.iter().enumerate() {
        let v = DevnetValidator::new(SEED, i as u64, &[1, 2, 3, 4]).expect("split");
        for (k, key) in f.keys.iter().enumerate() {
            let secret = item.decrypt_share(k as u64 + 1, key).expect("decrypt");
            assert_eq!(*secret.to_bytes(), *v.shares[k].secret_key.to_bytes());
        }
    }
}

/// A scripted chain: blocks with hashes and logs; failures injected on demand.
#[derive(Default)]
struct Script {
    hashes: Mutex<Vec<B256>>,
    logs: Mutex<Vec<RawLog>>,
    fail_next: AtomicU32,
    log_calls: Mutex<Vec<(u64, u64)>>,
}

impl Script {
    fn fail(&self) -> Result<(), SourceError> {
        let left = self.fail_next.load(Ordering::SeqCst);
        if left > 0 {
            self.fail_next.store(left - 1, Ordering::SeqCst);
            return Err(SourceError("scripted failure".into()));
        }
        Ok(())
    }
}

impl ChainSource for &Script {
    async fn head(&self) -> Result<u64, SourceError> {
        self.fail()?;
        Ok(self.hashes.lock().unwrap().len() as u64 - 1)
    }
    async fn block_hash(&self, number: u64) -> Result<Option<B256>, SourceError> {
        self.fail()?;
        Ok(self.hashes.lock().unwrap().get(number as usize).copied())
    }
    async fn logs(&self, from: u64, to: u64) -> Result<Vec<RawLog>, SourceError> {
        self.fail()?;
        self.log_calls.lock().unwrap().push((from, to));
        Ok(self
            .logs
            .lock()
            .unwrap()
            .iter()
            .filter(|l| (from..=to).contains(&l.block_number))
            .cloned()
            .collect())
    }
}

fn script_config() -> FollowerConfig {
    FollowerConfig {
        start_block: 2,
        batch_blocks: 4,
        confirmation_depth: 2,
        progress_bar: false,
        backoff_initial: Duration::from_millis(1),
        backoff_max: Duration::from_millis(4),
        max_retries: Some(5),
        ..FollowerConfig::default()
    }
}

#[tokio::test]
async fn follower_batches_confirms_resumes_and_detects_deep_reorgs() {
    let f = fixture();
    let script = Script::default();
    *script.hashes.lock().unwrap() = (0..=12u8).map(B256::repeat_byte).collect();
    *script.logs.lock().unwrap() = vec![
        raw(3, 0, operator_log(1, &f.public[0])),
        raw(9, 0, operator_log(2, &f.public[1])),
        raw(11, 0, operator_log(3, &f.public[2])), // within the confirmation depth
    ];
    script.fail_next.store(3, Ordering::SeqCst); // retried with backoff
    let mut follower = Follower::new(
        &script,
        EventHandler::new(MemoryStore::default(), Some(copy(&f.keys[1]))),
        script_config(),
    );
    let mut out = Vec::new();
    assert_eq!(follower.sync_to_confirmed(&mut out).await.expect("sync"), Some(10));
    assert_eq!(*script.log_calls.lock().unwrap(), vec![(2, 5), (6, 9), (10, 10)]);
    assert_eq!(follower.handler().store().operators.len(), 2);
    assert_eq!(follower.handler().store().last_processed_block, Some((10, [10; 32])));
    assert!(matches!(out.as_slice(), [Effect::OwnOperatorRegistered { operator_id: 2 }]));

    // A reorg within the depth (blocks 11 and 12 replaced) changes nothing processed.
    {
        let mut hashes = script.hashes.lock().unwrap();
        hashes.truncate(11);
        hashes.extend([B256::repeat_byte(0xb1), B256::repeat_byte(0xb2), B256::repeat_byte(0xb3)]);
    }
    let mut out = Vec::new();
    assert_eq!(follower.sync_to_confirmed(&mut out).await.expect("sync"), Some(11));
    assert_eq!(follower.handler().store().operators.len(), 3);

    // Restart: a new follower on the stored position starts after block 11.
    let store = follower.into_handler().store().clone();
    script.log_calls.lock().unwrap().clear();
    let mut follower = Follower::new(&script, EventHandler::new(store, None), script_config());
    assert_eq!(follower.sync_to_confirmed(&mut Vec::new()).await.expect("sync"), Some(11));
    assert!(script.log_calls.lock().unwrap().is_empty());

    // A reorg replacing processed block 11 is beyond the depth.
    script.hashes.lock().unwrap()[11] = B256::repeat_byte(0xcc);
    assert!(matches!(
        follower.sync_to_confirmed(&mut Vec::new()).await,
        Err(FollowError::ReorgBeyondDepth { block: 11 })
    ));

    // An endpoint that keeps failing gives up after max_retries.
    script.fail_next.store(100, Ordering::SeqCst);
    assert!(matches!(
        follower.sync_to_confirmed(&mut Vec::new()).await,
        Err(FollowError::Source(_))
    ));
}
