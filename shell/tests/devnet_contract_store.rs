//! The contract layer's redb store: the same events give the same state as the reference
//! in-memory store; only committed batches survive a reopen; the mirror in the node store
//! holds exactly our shares, whose secrets decrypt to the shares the keys were split into.

use alloy::primitives::{Address, U256};
use ssv_core::crypto::rsa::{OperatorPrivateKey, OperatorPublicKey};
use ssv_shell::contract::events::ContractEvent;
use ssv_shell::contract::handler::{ContractStore, EventHandler, MemoryStore};
use ssv_shell::contract::store_redb::RedbContractStore;
use ssv_shell::devnet::keys::DevnetValidator;
use ssv_shell::store::NodeStore;

const SEED: &[u8] = b"devnet_contract_store";
const OWNER: Address = Address::repeat_byte(0x11);
const FEE: Address = Address::repeat_byte(0x33);

struct Fixture {
    keys: Vec<OperatorPrivateKey>,
    public: Vec<OperatorPublicKey>,
    validators: Vec<DevnetValidator>,
}

fn fixture() -> &'static Fixture {
    static F: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
    F.get_or_init(|| {
        let keys: Vec<_> = (0..4).map(|_| OperatorPrivateKey::generate().expect("rsa")).collect();
        let public = keys.iter().map(|k| k.public_key().clone()).collect();
        let validators =
            (0..3).map(|i| DevnetValidator::new(SEED, i, &[1, 2, 3, 4]).expect("split")).collect();
        Fixture { keys, public, validators }
    })
}

fn key(i: usize) -> OperatorPrivateKey {
    OperatorPrivateKey::from_der(fixture().keys[i].pkcs1_der()).expect("key")
}

/// Operators 1..=4, then validators 0 and 1 (nonces 0, 1), a fee recipient, and validator
/// 0 removed: the first batch. Validator 2 (nonce 2) is the second.
fn batches() -> (Vec<ContractEvent>, Vec<ContractEvent>) {
    let f = fixture();
    let mut first: Vec<ContractEvent> = f
        .public
        .iter()
        .enumerate()
        .map(|(i, k)| ContractEvent::OperatorAdded {
            operator_id: i as u64 + 1,
            owner: OWNER,
            public_key: k.to_base64_pem().into_bytes(),
            fee: U256::ZERO,
        })
        .collect();
    let added = |i: usize| ContractEvent::ValidatorAdded {
        owner: OWNER,
        operator_ids: vec![1, 2, 3, 4],
        public_key: f.validators[i].public_key.to_bytes().to_vec(),
        shares: f.validators[i]
            .shares_data(&f.public, &OWNER, i as u64)
            .expect("shares")
            .to_bytes(),
    };
    first.push(added(0));
    first.push(added(1));
    first.push(ContractEvent::FeeRecipientAddressUpdated { owner: OWNER, recipient: FEE });
    first.push(ContractEvent::ValidatorRemoved {
        owner: OWNER,
        operator_ids: vec![1, 2, 3, 4],
        public_key: f.validators[0].public_key.to_bytes().to_vec(),
    });
    (first, vec![added(2)])
}

fn apply<S: ContractStore>(h: &mut EventHandler<S>, events: &[ContractEvent], block: u64) {
    let mut out = Vec::new();
    for e in events {
        h.handle(e, block, &mut out).expect("handled");
    }
}

#[test]
fn same_state_as_the_memory_store_and_only_committed_batches_survive() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("contract.redb");
    let (first, second) = batches();

    let mut reference = EventHandler::new(MemoryStore::default(), Some(key(1)));
    apply(&mut reference, &first, 7);
    reference.store_mut().set_last_processed_block(7, [7; 32]).expect("memory");

    let mut h = EventHandler::new(RedbContractStore::open(&path).expect("open"), Some(key(1)));
    apply(&mut h, &first, 7);
    h.store_mut().set_last_processed_block(7, [7; 32]).expect("commit");
    assert_eq!(h.store().state(), reference.store(), "same state as the reference store");
    // The second batch is handled but its block is never committed (a crash mid-batch).
    apply(&mut h, &second, 8);
    assert_eq!(h.store().next_nonce(&OWNER).expect("nonce"), 3);
    drop(h);

    let reopened = RedbContractStore::open(&path).expect("reopen");
    assert_eq!(reopened.state(), reference.store(), "the committed batch, not the pending one");
    assert_eq!(reopened.last_processed_block().expect("block"), Some((7, [7; 32])));
    assert_eq!(reopened.own_operator_id().expect("id"), Some(2));
    assert_eq!(reopened.next_nonce(&OWNER).expect("nonce"), 2);
}

#[test]
fn the_node_store_mirror_holds_our_shares_and_converges() {
    let f = fixture();
    let dir = tempfile::tempdir().expect("tmp");
    let (first, second) = batches();
    let node = NodeStore::open(dir.path().join("node.redb"), "devnet").expect("node store");
    let mut h = EventHandler::new(
        RedbContractStore::open(dir.path().join("contract.redb")).expect("open"),
        Some(key(2)),
    );
    apply(&mut h, &first, 3);
    h.store_mut().set_last_processed_block(3, [3; 32]).expect("commit");
    h.store().mirror_into(&node).expect("mirror");
    // Mirroring twice (a restart between the databases) changes nothing.
    h.store().mirror_into(&node).expect("mirror again");

    let shares = node.shares().expect("shares");
    let expected_pk = format!("0x{}", hex::encode(f.validators[1].public_key.to_bytes()));
    assert_eq!(shares.len(), 1, "validator 0 was removed, validator 1 remains");
    let share = &shares[0];
    assert_eq!(share.validator_pubkey, expected_pk);
    assert_eq!(share.fee_recipient, format!("0x{}", hex::encode(FEE.as_slice())));
    assert_eq!(share.committee.iter().map(|(id, _)| *id).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
    // Operator 3 holds the third share of the split.
    let secret = share.decrypt_secret(&f.keys[2]).expect("decrypts with our key");
    assert_eq!(*secret, *f.validators[1].shares[2].secret_key.to_bytes());
    assert_eq!(
        share.share_pubkey,
        format!("0x{}", hex::encode(f.validators[1].shares[2].public_key().to_bytes()))
    );
    assert_eq!(node.operators().expect("operators").len(), 4);
    assert_eq!(node.last_processed_block().expect("block"), Some(3));

    apply(&mut h, &second, 4);
    h.store_mut().set_last_processed_block(4, [4; 32]).expect("commit");
    h.store().mirror_into(&node).expect("mirror");
    assert_eq!(node.shares().expect("shares").len(), 2);
    assert_eq!(node.last_processed_block().expect("block"), Some(4));
}
