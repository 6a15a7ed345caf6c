//! Validator-registration and voluntary-exit duties on the duty path: which of the
//! cluster's validators register at a slot, the exit duty, what the liveness invariant
//! holds the cluster to, and how the chain checks what they submit.
//!
//! Neither role has consensus: each operator signs one pre-consensus partial signature
//! (the registration under `DOMAIN_APPLICATION_BUILDER`, the exit under
//! `DOMAIN_VOLUNTARY_EXIT`), and a quorum of them is reconstructed and submitted.
//!
//! # Schedule (as the node's `start_validator_duties`)
//! Every validator registers every [`REGISTRATION_EPOCHS`] epochs, at the slots with
//! `index mod period == slot mod period` (period: [`REGISTRATION_EPOCHS`] × slots per
//! epoch), and once at start-up, at the first slot of the epoch after the node started.
//! Every simulated operator starts at genesis, so the start-up registration is at the
//! first slot of epoch 1 ([`startup_slot`]), the first slot with duties; a restarted
//! operator does not register again at start-up (alone, its registration could never
//! reach a quorum, and nothing is due from it). An exit ([`super::options::ExitAt`]) is
//! one duty at its slot on every operator.
//!
//! # Due items
//! A signed registration is a function of the validator and its duty's epoch (its
//! `timestamp` is the epoch's start), an exit of the validator and the epoch too: two
//! registration duties of one validator in one epoch (the start-up one and a periodic one)
//! sign the same object. Their [`DueItem`]s are therefore `(first slot of the epoch,
//! role, validator)`, and the one submission satisfies both.
//!
//! # Exited validators
//! The simulated chain records an accepted exit and changes nothing else: as on a real
//! chain, where an exit takes effect `MAX_SEED_LOOKAHEAD + 1` epochs later at the
//! earliest and after the exit queue, the validator stays active for the rest of a run,
//! with every duty (and registration) still due.
//!
//! In fake-crypto mode [`check_fake`] repeats the chain's checks with [`FakeBls`]
//! stand-ins.
//!
//! Registrations run with [`super::options::SimOptions::registrations`], which
//! `--aggregation` and swarm turn on with aggregation (they add about a third to a
//! mainnet-density slot's work); an exit runs whenever the options ask for one.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use ssv_core::crypto::signing::{BeaconDomainType, compute_signing_root};
use ssv_core::runner::Submission;
use ssv_core::types::ssz_types::VariableList;
use ssv_core::types::tree_hash::TreeHash;
use ssv_core::types::{BeaconRole, BlsPublicKeyBytes, Root, Slot, ValidatorDuty, ValidatorIndex};

use super::crypto::FakeBls;
use super::options::ExitAt;
use super::runners::DueItem;
use crate::chain::Chain as Beacon;

/// Registration period of each validator, in epochs (the node's `REGISTRATION_EPOCHS`,
/// the Go node's `validatorRegistrationEpochInterval`).
pub const REGISTRATION_EPOCHS: u64 = 10;
/// The `role` of a registration in a [`DueItem`] (`BeaconRole::ValidatorRegistration`).
pub const ROLE_REGISTRATION: u64 = BeaconRole::ValidatorRegistration as u64;
/// The `role` of an exit in a [`DueItem`] (`BeaconRole::VoluntaryExit`).
pub const ROLE_EXIT: u64 = BeaconRole::VoluntaryExit as u64;

/// The start-up registration slot of operators that started at genesis: the first slot
/// of epoch 1 (the node's "first slot of the next epoch").
pub fn startup_slot(slots_per_epoch: u64) -> Slot {
    slots_per_epoch
}

/// Whether `validator` registers at `slot` on a chain of `slots_per_epoch` (never in
/// epoch 0, which has no duties).
pub fn registers(validator: ValidatorIndex, slot: Slot, slots_per_epoch: u64) -> bool {
    let period = REGISTRATION_EPOCHS.saturating_mul(slots_per_epoch).max(1);
    slot >= slots_per_epoch
        && (slot == startup_slot(slots_per_epoch) || validator % period == slot % period)
}

/// The cluster's validators that register at `slot`, ascending.
pub fn registering(beacon: &Beacon, slot: Slot) -> Vec<ValidatorIndex> {
    let spe = beacon.config().slots_per_epoch;
    let count = beacon.validators().len() as u64;
    if slot < spe {
        return Vec::new();
    }
    if slot == startup_slot(spe) {
        return (0..count).collect();
    }
    // Only the indices congruent to the slot: no scan of the whole validator set.
    let period = REGISTRATION_EPOCHS.saturating_mul(spe).max(1);
    (slot % period..count).step_by(period as usize).collect()
}

/// The chain's validator keys, compressed, and their indices by key.
#[derive(Debug, Default)]
struct Keys {
    bytes: Vec<BlsPublicKeyBytes>,
    index: BTreeMap<BlsPublicKeyBytes, ValidatorIndex>,
}

/// The compressed keys of `beacon`'s validators, computed once per chain (compressing a
/// key costs about a microsecond, and every registration needs a key or an index).
fn keys(beacon: &Beacon) -> Arc<Keys> {
    type Memo = Mutex<BTreeMap<(Root, usize), Arc<Keys>>>;
    static MEMO: OnceLock<Memo> = OnceLock::new();
    // The genesis validators root hashes every key: it names the set.
    let id = (beacon.genesis_validators_root(), beacon.validators().len());
    let map = MEMO.get_or_init(|| Mutex::new(BTreeMap::new()));
    if let Some(k) = map.lock().ok().and_then(|m| m.get(&id).cloned()) {
        return k;
    }
    let bytes: Vec<BlsPublicKeyBytes> = beacon.validators().iter().map(|k| k.to_bytes()).collect();
    let index = bytes.iter().enumerate().map(|(i, k)| (*k, i as u64)).collect();
    let k = Arc::new(Keys { bytes, index });
    if let Ok(mut m) = map.lock() {
        while m.len() >= 16 {
            m.pop_first();
        }
        m.insert(id, Arc::clone(&k));
    }
    k
}

/// The compressed key of `validator` (none outside the cluster).
fn key_of(beacon: &Beacon, validator: ValidatorIndex) -> Option<BlsPublicKeyBytes> {
    usize::try_from(validator).ok().and_then(|i| keys(beacon).bytes.get(i).copied())
}

/// The index of the validator with compressed key `key`.
fn index_of(beacon: &Beacon, key: &BlsPublicKeyBytes) -> Option<ValidatorIndex> {
    keys(beacon).index.get(key).copied()
}

/// A duty of `role` for `validator` at `slot` (none for a validator outside the cluster).
fn duty(
    beacon: &Beacon,
    role: u64,
    validator: ValidatorIndex,
    slot: Slot,
) -> Option<ValidatorDuty> {
    Some(ValidatorDuty {
        role,
        pub_key: key_of(beacon, validator)?,
        slot,
        validator_index: validator,
        committee_index: 0,
        committee_length: 0,
        committees_at_slot: 0,
        validator_committee_index: 0,
        validator_sync_committee_indices: VariableList::empty(),
    })
}

/// The registration duties of `slot` (role 5), one per registering validator.
pub fn registration_duties(beacon: &Beacon, slot: Slot) -> Vec<ValidatorDuty> {
    registering(beacon, slot)
        .into_iter()
        .filter_map(|v| duty(beacon, ROLE_REGISTRATION, v, slot))
        .collect()
}

/// The exit duty of `validator` at `slot` (role 6).
pub fn exit_duty(beacon: &Beacon, validator: ValidatorIndex, slot: Slot) -> Option<ValidatorDuty> {
    duty(beacon, ROLE_EXIT, validator, slot)
}

/// The first slot of `slot`'s epoch: the slot of a registration's or an exit's [`DueItem`].
fn item_slot(beacon: &Beacon, slot: Slot) -> Slot {
    let spe = beacon.config().slots_per_epoch.max(1);
    slot / spe * spe
}

/// The registrations and the exit due at `slot`: `(first slot of the epoch, role,
/// validator)` (see the module doc). `registrations` off: the exit only.
pub fn due_at(
    beacon: &Beacon,
    slot: Slot,
    registrations: bool,
    exit: Option<ExitAt>,
) -> Vec<DueItem> {
    let at = item_slot(beacon, slot);
    let mut due: Vec<DueItem> = Vec::new();
    if registrations {
        due.extend(registering(beacon, slot).into_iter().map(|v| (at, ROLE_REGISTRATION, v)));
    }
    if let Some(e) = exit.filter(|e| e.slot == slot) {
        due.push((at, ROLE_EXIT, e.validator));
    }
    due
}

/// The registration or exit a submission is for, as a [`DueItem`]; `None` for other
/// submissions and for a registration of a key outside the cluster.
pub fn submitted_item(beacon: &Beacon, s: &Submission) -> Option<DueItem> {
    let config = beacon.config();
    match s {
        Submission::ValidatorRegistration(r) => {
            let validator = index_of(beacon, &r.message.pubkey)?;
            // The timestamp is the epoch's start truncated to seconds: any instant of that
            // second is still in the epoch's first slot (slots are 1 s or longer).
            let slot =
                beacon.slot_at(r.message.timestamp.saturating_mul(1_000).saturating_add(999));
            Some((item_slot(beacon, slot), ROLE_REGISTRATION, validator))
        }
        Submission::VoluntaryExit(e) => {
            let slot = e.message.epoch.saturating_mul(config.slots_per_epoch);
            Some((slot, ROLE_EXIT, e.message.validator_index))
        }
        _ => None,
    }
}

/// The chain's checks of a registration or an exit with [`FakeBls`] signatures: a known
/// validator and its signature under the chain's domain. `None` for other submissions.
pub fn check_fake(beacon: &Beacon, s: &Submission) -> Option<Result<(), String>> {
    let (key, object, domain, signature, what) = match s {
        Submission::ValidatorRegistration(r) => {
            if index_of(beacon, &r.message.pubkey).is_none() {
                return Some(Err("registration of an unknown public key".into()));
            }
            let root = r.message.tree_hash_root().0;
            let domain = BeaconDomainType::APPLICATION_BUILDER;
            (r.message.pubkey, root, domain, &r.signature, "registration")
        }
        Submission::VoluntaryExit(e) => {
            let v = e.message.validator_index;
            let Some(key) = key_of(beacon, v) else {
                return Some(Err(format!("exit of unknown validator {v}")));
            };
            let root = e.message.tree_hash_root().0;
            (key, root, BeaconDomainType::VOLUNTARY_EXIT, &e.signature, "voluntary exit")
        }
        _ => return None,
    };
    let root = compute_signing_root(&object, &beacon.domain(domain));
    Some(if FakeBls::verify(&key, &root, signature) {
        Ok(())
    } else {
        Err(format!("invalid {what} signature (fake BLS)"))
    })
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_validator_registers_at_start_up_then_once_a_period_at_its_own_slot() {
        let spe = 2;
        let period = REGISTRATION_EPOCHS * spe;
        // Epoch 0 has no duties; slot 2 (epoch 1) is the start-up registration.
        for v in 0..50 {
            assert!(!registers(v, 0, spe) && !registers(v, 1, spe));
            assert!(registers(v, startup_slot(spe), spe));
            let slots: Vec<Slot> = (3..3 + 2 * period).filter(|s| registers(v, *s, spe)).collect();
            // Twice in two periods, at slots congruent to the index.
            assert_eq!(slots.len(), 2, "validator {v}: {slots:?}");
            assert!(slots.iter().all(|s| s % period == v % period), "validator {v}: {slots:?}");
        }
    }
}
