//! Shared fixture of the node integration tests (node_cluster, node_trace): four operators
//! with RSA keys and data folders holding the shares of five validators of the simulated
//! chain, split 3-of-4.

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};
use ssv_core::crypto::rsa::OperatorPrivateKey;
use ssv_core::crypto::threshold::split_secret;
use ssv_core::types::{DomainType, OperatorId};
use ssv_shell::store::{NodeStore, OperatorRecord, ShareRecord};
use ssv_simulator::chain::keys::derive_secret_key;

pub(crate) const SEED: u64 = 21;
pub(crate) const CHAIN_VALIDATORS: u64 = 64;
/// Our validators: indices 0..5 of the chain.
pub(crate) const OURS: [u64; 5] = [0, 1, 2, 3, 4];
pub(crate) const OPERATORS: [OperatorId; 4] = [1, 2, 3, 4];
pub(crate) const SLOT_MS: u64 = 1000;
pub(crate) const SLOTS_PER_EPOCH: u64 = 4;
pub(crate) const DOMAIN: DomainType = DomainType::JATO_TESTNET;
pub(crate) const NETWORK: &str = "devnet";

pub(crate) fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

pub(crate) fn hex0x(b: &[u8]) -> String {
    format!("0x{}", hex::encode(b))
}

/// The fee recipient the contract set for validator `v`'s owner (distinct per validator).
pub(crate) fn fee_recipient(v: u64) -> [u8; 20] {
    [0xf0 | v as u8; 20]
}

/// Operator keys, and each operator's data folder filled with the operators and its
/// shares (secrets RSA-encrypted to it) of [`OURS`], split 3-of-4.
pub(crate) struct Cluster {
    pub(crate) keys: BTreeMap<OperatorId, Arc<OperatorPrivateKey>>,
    pub(crate) dirs: BTreeMap<OperatorId, PathBuf>,
    pub(crate) root: tempfile::TempDir,
}

pub(crate) fn cluster() -> Cluster {
    let root = tempfile::tempdir().unwrap();
    let keys: BTreeMap<OperatorId, Arc<OperatorPrivateKey>> = OPERATORS
        .iter()
        .map(|id| (*id, Arc::new(OperatorPrivateKey::generate().unwrap())))
        .collect();
    let mut dirs = BTreeMap::new();
    let mut records: BTreeMap<OperatorId, Vec<ShareRecord>> = BTreeMap::new();
    for v in OURS {
        let sk = derive_secret_key(SEED, v);
        let coeffs: Vec<[u8; 64]> = (0..2u8)
            .map(|i| {
                let mut c = [0u8; 64];
                c[..32].copy_from_slice(&Sha256::digest([&v.to_le_bytes()[..], &[i]].concat()));
                c
            })
            .collect();
        let parts = split_secret(&sk, &OPERATORS, &coeffs).unwrap();
        let committee: Vec<(OperatorId, String)> =
            parts.iter().map(|p| (p.operator_id, hex0x(&p.public_key().to_bytes()))).collect();
        for p in &parts {
            let ciphertext =
                keys[&p.operator_id].public_key().encrypt_share(&p.secret_key.to_bytes()).unwrap();
            records.entry(p.operator_id).or_default().push(ShareRecord {
                validator_pubkey: hex0x(&sk.public_key().to_bytes()),
                share_pubkey: hex0x(&p.public_key().to_bytes()),
                committee: committee.clone(),
                owner: hex0x(&[0; 20]),
                fee_recipient: hex0x(&fee_recipient(v)),
                liquidated: false,
                encrypted_secret: hex0x(&ciphertext),
            });
        }
    }
    for id in OPERATORS {
        let dir = root.path().join(format!("op{id}"));
        std::fs::create_dir_all(&dir).unwrap();
        let store = NodeStore::open(dir.join("node.redb"), NETWORK).unwrap();
        store
            .write(|w| {
                for (op, key) in &keys {
                    w.put_operator(&OperatorRecord {
                        id: *op,
                        owner: hex0x(&[0; 20]),
                        public_key_base64: key.public_key().to_base64_pem(),
                    })?;
                }
                for r in &records[&id] {
                    let pk: [u8; 48] =
                        hex::decode(&r.validator_pubkey[2..]).unwrap().try_into().unwrap();
                    w.put_share(&pk, r)?;
                }
                Ok(())
            })
            .unwrap();
        dirs.insert(id, dir);
    }
    Cluster { keys, dirs, root }
}
