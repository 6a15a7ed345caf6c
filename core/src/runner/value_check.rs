//! Value checks (ssv-spec v1.2.2 `ssv/value_check.go`): what a runner's QBFT instance
//! accepts as a proposal, and what it re-checks once decided.

use std::sync::Arc;

use ssz::Decode;

use super::network::BeaconNetwork;
use crate::beacon::{AttestationData, Checkpoint};
use crate::error::ErrorCode;
use crate::qbft::ValueCheckError;
use crate::types::{
    BeaconRole, BeaconVote, BlsPublicKeyBytes, Epoch, Slot, ValidatorConsensusData, ValidatorDuty,
    ValidatorIndex,
};

/// Slashing protection as the runners consult it (`types.BeaconSigner`'s
/// `IsAttestationSlashable` / `IsBeaconBlockSlashable`), keyed by share public key.
///
/// Implementations are lookups over local data (a slashing database, the spec's testing
/// key manager), never IO.
pub trait SlashingProtection: Send + Sync {
    /// `Ok` when signing `data` with `share_pub_key` is safe.
    ///
    /// # Errors
    /// [`ValueCheckError`] with `SlashableAttestation`.
    fn check_attestation(
        &self,
        share_pub_key: &BlsPublicKeyBytes,
        data: &AttestationData,
    ) -> Result<(), ValueCheckError>;

    /// `Ok` when proposing at `slot` with `share_pub_key` is safe.
    ///
    /// # Errors
    /// [`ValueCheckError`] for a slashable proposal.
    fn check_block(
        &self,
        share_pub_key: &BlsPublicKeyBytes,
        slot: Slot,
    ) -> Result<(), ValueCheckError>;
}

fn err(code: ErrorCode, reason: &str) -> ValueCheckError {
    ValueCheckError { code: Some(code), reason: reason.into() }
}

fn uncoded(reason: String) -> ValueCheckError {
    ValueCheckError { code: None, reason }
}

/// `BeaconVoteValueCheckF`: decodes a [`BeaconVote`], requires source < target and the
/// expected source and target epochs (majority-fork protection, epochs only as of v1.2.2),
/// and asks `protection` for every share key with `AttestationData{slot, index: u64::MAX}`.
///
/// # Errors
/// `DecodeBeaconVote`, `AttestationSourceNotLessThanTarget`, `CheckpointMismatch`, or the
/// protection's error.
pub fn check_beacon_vote(
    value: &[u8],
    protection: &dyn SlashingProtection,
    slot: Slot,
    share_pub_keys: &[BlsPublicKeyBytes],
    expected_source: Epoch,
    expected_target: Epoch,
) -> Result<(), ValueCheckError> {
    let vote = BeaconVote::from_ssz_bytes(value)
        .map_err(|_| err(ErrorCode::DecodeBeaconVote, "failed decoding beacon vote"))?;
    if vote.source.epoch >= vote.target.epoch {
        return Err(err(
            ErrorCode::AttestationSourceNotLessThanTarget,
            "attestation data source >= target",
        ));
    }
    if vote.source.epoch != expected_source {
        return Err(err(ErrorCode::CheckpointMismatch, "source checkpoint mismatch"));
    }
    if vote.target.epoch != expected_target {
        return Err(err(ErrorCode::CheckpointMismatch, "target checkpoint mismatch"));
    }
    let data = AttestationData {
        slot,
        index: u64::MAX,
        beacon_block_root: vote.block_root,
        source: Checkpoint { ..vote.source },
        target: vote.target,
    };
    share_pub_keys.iter().try_for_each(|pk| protection.check_attestation(pk, &data))
}

/// `dutyValueCheck`: the duty is at most one epoch ahead of `current_epoch`, of role
/// `expected`, and for this validator.
///
/// # Errors
/// `DutyEpochTooFarFuture`, `WrongBeaconRoleType`, `WrongValidatorPubkey`,
/// `WrongValidatorIndex`.
pub fn check_duty(
    duty: &ValidatorDuty,
    network: &BeaconNetwork,
    current_epoch: Epoch,
    expected: BeaconRole,
    validator_pub_key: &BlsPublicKeyBytes,
    validator_index: ValidatorIndex,
) -> Result<(), ValueCheckError> {
    if network.epoch_at_slot(duty.slot) > current_epoch.saturating_add(1) {
        return Err(err(ErrorCode::DutyEpochTooFarFuture, "duty epoch is into far future"));
    }
    if duty.role != expected as u64 {
        return Err(err(ErrorCode::WrongBeaconRoleType, "wrong beacon role type"));
    }
    if duty.pub_key != *validator_pub_key {
        return Err(err(ErrorCode::WrongValidatorPubkey, "wrong validator pk"));
    }
    if duty.validator_index != validator_index {
        return Err(err(ErrorCode::WrongValidatorIndex, "wrong validator index"));
    }
    Ok(())
}

/// The proposer, aggregator and sync-committee-contribution checks
/// (`ProposerValueCheckF`, `AggregatorValueCheckF`, `SyncCommitteeContributionValueCheckF`):
/// decode, `Validate`, [`check_duty`] and, for proposals, block slashing protection.
///
/// # Errors
/// Decoding (no code), `QBFTValueInvalid` for an invalid payload, the duty check's codes,
/// or the protection's error.
#[allow(clippy::too_many_arguments)]
pub fn check_validator_consensus_data(
    value: &[u8],
    role: BeaconRole,
    network: &BeaconNetwork,
    current_epoch: Epoch,
    validator_pub_key: &BlsPublicKeyBytes,
    validator_index: ValidatorIndex,
    share_pub_key: &BlsPublicKeyBytes,
    protection: &dyn SlashingProtection,
) -> Result<(), ValueCheckError> {
    let cd = ValidatorConsensusData::from_ssz_bytes(value)
        .map_err(|e| uncoded(format!("failed decoding consensus data: {e:?}")))?;
    cd.validate().map_err(|_| err(ErrorCode::QbftValueInvalid, "invalid value"))?;
    check_duty(&cd.duty, network, current_epoch, role, validator_pub_key, validator_index)?;
    if role == BeaconRole::Proposer {
        let block =
            cd.block_data().map_err(|e| uncoded(format!("could not get block data: {e}")))?;
        protection.check_block(share_pub_key, block.slot())?;
    }
    Ok(())
}

/// A runner's value check, bound to its duty context: plugged into the runner's QBFT
/// controller and re-run on the decided value.
#[derive(Clone)]
pub enum RunnerValueCheck {
    /// The committee runner's [`check_beacon_vote`].
    BeaconVote {
        /// Slashing protection.
        protection: Arc<dyn SlashingProtection>,
        /// The duty slot checked for slashing.
        slot: Slot,
        /// Every share key of the runner's validators.
        share_pub_keys: Vec<BlsPublicKeyBytes>,
        /// The expected source epoch.
        expected_source: Epoch,
        /// The expected target epoch.
        expected_target: Epoch,
    },
    /// The proposer, aggregator or contribution runner's
    /// [`check_validator_consensus_data`].
    ValidatorConsensusData {
        /// The duty role the value must carry.
        role: BeaconRole,
        /// The network.
        network: Arc<BeaconNetwork>,
        /// The current epoch for the far-future rule.
        current_epoch: Epoch,
        /// The validator's public key.
        validator_pub_key: BlsPublicKeyBytes,
        /// The validator's index.
        validator_index: ValidatorIndex,
        /// This operator's share key.
        share_pub_key: BlsPublicKeyBytes,
        /// Slashing protection.
        protection: Arc<dyn SlashingProtection>,
    },
    /// Accept any non-empty value (registration and exit have no consensus).
    None,
}

impl std::fmt::Debug for RunnerValueCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RunnerValueCheck")
    }
}

impl crate::qbft::ValueCheck for RunnerValueCheck {
    fn check(&self, value: &[u8]) -> Result<(), ValueCheckError> {
        match self {
            Self::BeaconVote {
                protection,
                slot,
                share_pub_keys,
                expected_source,
                expected_target,
            } => check_beacon_vote(
                value,
                protection.as_ref(),
                *slot,
                share_pub_keys,
                *expected_source,
                *expected_target,
            ),
            Self::ValidatorConsensusData {
                role,
                network,
                current_epoch,
                validator_pub_key,
                validator_index,
                share_pub_key,
                protection,
            } => check_validator_consensus_data(
                value,
                *role,
                network,
                *current_epoch,
                validator_pub_key,
                *validator_index,
                share_pub_key,
                protection.as_ref(),
            ),
            Self::None => crate::qbft::NonEmptyValue.check(value),
        }
    }
}
