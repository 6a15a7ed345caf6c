//! End to end on a real local execution node: Hardhat (npm, installed on first use) with
//! `SSVNetworkDevnet`; four operators and two validators registered by real transactions;
//! the follower and the event handler of operator 1 must see exactly those operators and
//! validators, with operator 1's decrypted shares equal to the shares the key was split
//! into. Then the remaining events (fee recipient, liquidation, reactivation, exit,
//! removal) go through the chain and must give the Go node's effects.
//!
//! Needs Node.js and npm on the PATH (the devnet's prerequisites): without them the test
//! fails and says so.

use alloy::primitives::Address;
use ssv_core::crypto::rsa::{OperatorPrivateKey, OperatorPublicKey};
use ssv_shell::contract::events::abi;
use ssv_shell::contract::follower::{Follower, FollowerConfig, RpcSource};
use ssv_shell::contract::handler::{Effect, EventHandler, MemoryStore};
use ssv_shell::devnet::chain::{DevnetChain, devnet_dir, empty_cluster};
use ssv_shell::devnet::keys::DevnetValidator;

const SEED: &[u8] = b"contract_devnet_chain";

fn config(start_block: u64) -> FollowerConfig {
    FollowerConfig {
        start_block,
        batch_blocks: 3, // several batches even on a short chain
        confirmation_depth: 0,
        progress_bar: false,
        max_retries: Some(3),
        ..FollowerConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardhat_registrations_reach_the_handler() {
    let log_dir = tempfile::tempdir().expect("temp dir");
    let mut chain = DevnetChain::start(&devnet_dir(), &log_dir.path().join("hardhat.log"))
        .await
        .expect("start hardhat");
    let (contract, deploy_block) = chain.deploy().await.expect("deploy");
    let accounts = chain.accounts().to_vec();
    assert!(accounts.len() >= 6, "hardhat has funded accounts");

    // Four operators, each owned by its own account.
    let keys: Vec<OperatorPrivateKey> =
        (0..4).map(|_| OperatorPrivateKey::generate().expect("rsa key")).collect();
    let public: Vec<OperatorPublicKey> = keys.iter().map(|k| k.public_key().clone()).collect();
    for (i, key) in public.iter().enumerate() {
        let id = chain.register_operator(accounts[i + 1], key).await.expect("register operator");
        assert_eq!(id, i as u64 + 1, "operator ids are sequential from 1");
    }

    // Two validators of one owner, nonces 0 and 1.
    let owner = accounts[5];
    let validators: Vec<DevnetValidator> =
        (0..2).map(|i| DevnetValidator::new(SEED, i, &[1, 2, 3, 4]).expect("split")).collect();
    for (nonce, v) in validators.iter().enumerate() {
        chain
            .register_validator(owner, v, &public, nonce as u64)
            .await
            .expect("register validator");
    }

    // Operator 1's node follows the contract from its deployment block.
    let source = RpcSource::new(chain.url(), contract).expect("source");
    let handler = EventHandler::new(MemoryStore::default(), Some(copy(&keys[0])));
    let mut follower = Follower::new(source, handler, config(deploy_block));
    let mut effects = Vec::new();
    let head = follower.sync_to_confirmed(&mut effects).await.expect("sync");
    assert_eq!(head, Some(chain.block_number().await.expect("head")));

    let store = follower.handler().store();
    assert_eq!(store.operators.len(), 4);
    for (i, key) in public.iter().enumerate() {
        let op = &store.operators[&(i as u64 + 1)];
        assert_eq!(op.owner, accounts[i + 1]);
        assert_eq!(op.public_key, key.to_base64_pem().into_bytes());
    }
    assert_eq!(store.own_operator_id, Some(1));
    assert_eq!(store.nonces.get(&owner), Some(&2));
    assert_eq!(store.validators.len(), 2);
    for v in &validators {
        let record = &store.validators[&v.public_key.to_bytes()];
        assert_eq!(record.owner, owner);
        let committee: Vec<(u64, [u8; 48])> =
            record.committee.iter().map(|m| (m.operator_id, m.share_public_key)).collect();
        let expected: Vec<(u64, [u8; 48])> =
            v.shares.iter().map(|s| (s.operator_id, s.public_key().to_bytes())).collect();
        assert_eq!(committee, expected);
        assert!(record.own_encrypted_share.is_some());
    }
    assert!(matches!(effects.first(), Some(Effect::OwnOperatorRegistered { operator_id: 1 })));
    let started: Vec<_> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::StartValidator { validator, share_secret } => {
                Some((validator.public_key, *share_secret.to_bytes()))
            }
            _ => None,
        })
        .collect();
    let expected: Vec<_> = validators
        .iter()
        .map(|v| (v.public_key.to_bytes(), *v.shares[0].secret_key.to_bytes()))
        .collect();
    assert_eq!(started, expected, "operator 1 decrypted exactly its shares");
    assert_eq!(follower.handler().counters().malformed, 0);

    // A restarted follower on the same store resumes and replays nothing.
    let store = follower.into_handler().store().clone();
    let source = RpcSource::new(chain.url(), contract).expect("source");
    let mut follower =
        Follower::new(source, EventHandler::new(store, Some(copy(&keys[0]))), config(deploy_block));
    let mut again = Vec::new();
    follower.sync_to_confirmed(&mut again).await.expect("resync");
    assert!(again.is_empty(), "no event is handled twice: {again:?}");

    // The other events, through real transactions.
    let ids = vec![1u64, 2, 3, 4];
    let v0 = validators[0].public_key.to_bytes();
    let recipient = Address::repeat_byte(0xfe);
    chain
        .send_call(
            owner,
            abi::SSVNetworkDevnet::setFeeRecipientAddressCall { recipientAddress: recipient },
        )
        .await
        .expect("fee recipient");
    chain
        .send_call(
            accounts[0],
            abi::SSVNetworkDevnet::liquidateCall {
                clusterOwner: owner,
                operatorIds: ids.clone(),
                cluster: empty_cluster(),
            },
        )
        .await
        .expect("liquidate");
    let mut step = Vec::new();
    follower.sync_to_confirmed(&mut step).await.expect("sync");
    assert!(
        matches!(step.first(), Some(Effect::FeeRecipientUpdated { owner: o, recipient: r }) if *o == owner && *r == recipient)
    );
    assert!(
        matches!(step.get(1), Some(Effect::Liquidated { public_keys }) if public_keys.len() == 2)
    );
    assert!(follower.handler().store().validators.values().all(|v| v.liquidated));

    chain
        .send_call(
            owner,
            abi::SSVNetworkDevnet::reactivateCall {
                operatorIds: ids.clone(),
                amount: Default::default(),
                cluster: empty_cluster(),
            },
        )
        .await
        .expect("reactivate");
    let exit_block = chain
        .send_call(
            owner,
            abi::SSVNetworkDevnet::exitValidatorCall {
                publicKey: v0.to_vec().into(),
                operatorIds: ids.clone(),
            },
        )
        .await
        .expect("exit");
    chain
        .send_call(
            owner,
            abi::SSVNetworkDevnet::removeValidatorCall {
                publicKey: v0.to_vec().into(),
                operatorIds: ids.clone(),
                cluster: empty_cluster(),
            },
        )
        .await
        .expect("remove");
    let mut step = Vec::new();
    follower.sync_to_confirmed(&mut step).await.expect("sync");
    let bumps = step.iter().filter(|e| matches!(e, Effect::BumpSlashingProtection { .. })).count();
    assert_eq!(bumps, 2, "reactivation bumps slashing protection of both validators: {step:?}");
    assert!(
        step.iter()
            .any(|e| matches!(e, Effect::Reactivated { public_keys } if public_keys.len() == 2))
    );
    assert!(step.iter().any(
        |e| matches!(e, Effect::VoluntaryExit { public_key, block_number } if *public_key == v0 && *block_number == exit_block)
    ));
    assert!(matches!(step.last(), Some(Effect::StopValidator { public_key }) if *public_key == v0));
    let store = follower.handler().store();
    assert_eq!(store.validators.len(), 1);
    assert!(store.validators.values().all(|v| !v.liquidated));
    assert_eq!(follower.handler().counters().malformed, 0);
}

fn copy(key: &OperatorPrivateKey) -> OperatorPrivateKey {
    OperatorPrivateKey::from_der(key.pkcs1_der()).expect("re-read key")
}
