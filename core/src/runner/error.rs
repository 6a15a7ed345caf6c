//! Runner errors, each with its ssv-spec v1.2.2 code where the spec has one.

use super::SignRefusal;
use crate::crypto::threshold::ReconstructError;
use crate::error::{ErrorCode, SpecError};
use crate::qbft::{QbftError, ValueCheckError};
use crate::types::{Slot, ValidationError, ValidatorIndex};

/// Why a runner, a committee or a validator rejected an input (`ssv/*.go`).
#[derive(Debug, Clone, thiserror::Error)]
pub enum RunnerError {
    /// No duty is running, or it finished (`NoRunningDuty`).
    #[error("no running duty")]
    NoRunningDuty,
    /// A partial-signature message for a past slot (`PartialSigMessageInvalidSlot`).
    #[error("invalid partial sig slot {got}, expected {expected}")]
    PartialSigInvalidSlot {
        /// The message's slot.
        got: Slot,
        /// The running duty's slot.
        expected: Slot,
    },
    /// A partial-signature message for a future slot (`PartialSigMessageFutureSlot`).
    #[error("future partial sig slot {got}, expected {expected}")]
    PartialSigFutureSlot {
        /// The message's slot.
        got: Slot,
        /// The running duty's slot.
        expected: Slot,
    },
    /// The partial signatures' signer is not in the share committee (no spec code).
    #[error("unknown signer")]
    UnknownSigner,
    /// A partial signature names a validator the runner has no share of.
    #[error("unknown validator index")]
    UnknownValidatorIndex,
    /// Not as many partial signatures as expected roots (`WrongRootsCount`).
    #[error("wrong expected roots count")]
    WrongRootsCount,
    /// The signed roots are not the expected ones (`WrongSigningRoot`).
    #[error("wrong signing root")]
    WrongSigningRoot,
    /// Post-consensus before a decided value (`NoDecidedValue`).
    #[error("no decided value")]
    NoDecidedValue,
    /// Post-consensus without a consensus instance (`NoRunningConsensusInstance`).
    #[error("no running consensus instance")]
    NoRunningConsensusInstance,
    /// Post-consensus before the instance decided (`ConsensusInstanceNotDecided`).
    #[error("consensus instance not decided")]
    ConsensusInstanceNotDecided,
    /// A duty at or below the current height (`DutyAlreadyPassed`).
    #[error("duty for slot {slot} already passed (height {height})")]
    DutyAlreadyPassed {
        /// The duty's slot.
        slot: Slot,
        /// The controller's height (or the previous duty's slot).
        height: Slot,
    },
    /// Consensus finished for the running duty (`SkipConsensusMessageAsConsensusHasFinished`).
    #[error("consensus has already finished")]
    ConsensusHasFinished,
    /// A decision for another instance than the running one (`DecidedWrongInstance`).
    #[error("decided wrong instance")]
    DecidedWrongInstance,
    /// No runner for the message's slot (`NoRunnerForSlot`).
    #[error("no runner found for message's slot")]
    NoRunnerForSlot,
    /// An empty committee duty (`NoBeaconDuties`).
    #[error("no beacon duties")]
    NoBeaconDuties,
    /// None of the duty's validators has a share here (`NoValidatorShares`).
    #[error("no shares for duty's validators")]
    NoValidatorShares,
    /// The message id is not this committee's (`MessageIDCommitteeIDMismatch`).
    #[error("msg ID doesn't match committee ID")]
    CommitteeIdMismatch,
    /// The message id is not this validator's (`MessageIdentifierInvalid`-like, no code).
    #[error("msg ID doesn't match validator ID")]
    ValidatorIdMismatch,
    /// An operator signature does not verify (`SSVMessageHasInvalidSignature`).
    #[error("SignedSSVMessage has an invalid signature")]
    InvalidOperatorSignature,
    /// Registration runners have no consensus (`ValidatorRegistrationNoConsensusPhase`).
    #[error("no consensus phase for validator registration")]
    RegistrationNoConsensus,
    /// Registration runners have no post-consensus (`ValidatorRegistrationNoPostConsensusPhase`).
    #[error("no post consensus phase for validator registration")]
    RegistrationNoPostConsensus,
    /// Exit runners have no consensus (`ValidatorExitNoConsensusPhase`).
    #[error("no consensus phase for voluntary exit")]
    ExitNoConsensus,
    /// Exit runners have no post-consensus (`ValidatorExitNoPostConsensusPhase`).
    #[error("no post consensus phase for voluntary exit")]
    ExitNoPostConsensus,
    /// A quorum whose reconstructed signature did not verify (`ReconstructSignature`).
    #[error("got quorum but it has invalid signatures: {0}")]
    Reconstruct(ReconstructError),
    /// A QBFT rejection.
    #[error("qbft: {0}")]
    Qbft(QbftError),
    /// A wire validation failure.
    #[error("invalid message: {0}")]
    Validation(ValidationError),
    /// A value check failure (also: decided value invalid).
    #[error("value check: {}", .0.reason)]
    ValueCheck(ValueCheckError),
    /// The signer refused every item of a sign request (no spec code); `validator` is the
    /// first refused item's validator.
    #[error("signing refused for validator {validator}: {reason}")]
    SignRefused {
        /// The validator of the first refused item.
        validator: ValidatorIndex,
        /// Why.
        reason: SignRefusal,
    },
    /// Anything the spec rejects without a code (unknown message, runner exists, missing
    /// request data, signing failure...).
    #[error("{0}")]
    Other(String),
}

impl RunnerError {
    /// An uncoded error with `reason`.
    pub fn other(reason: impl Into<String>) -> Self {
        Self::Other(reason.into())
    }
}

impl SpecError for RunnerError {
    fn code(&self) -> Option<ErrorCode> {
        use ErrorCode as C;
        Some(match self {
            Self::NoRunningDuty => C::NoRunningDuty,
            Self::PartialSigInvalidSlot { .. } => C::PartialSigMessageInvalidSlot,
            Self::PartialSigFutureSlot { .. } => C::PartialSigMessageFutureSlot,
            Self::UnknownValidatorIndex => C::UnknownValidatorIndex,
            Self::WrongRootsCount => C::WrongRootsCount,
            Self::WrongSigningRoot => C::WrongSigningRoot,
            Self::NoDecidedValue => C::NoDecidedValue,
            Self::NoRunningConsensusInstance => C::NoRunningConsensusInstance,
            Self::ConsensusInstanceNotDecided => C::ConsensusInstanceNotDecided,
            Self::DutyAlreadyPassed { .. } => C::DutyAlreadyPassed,
            Self::ConsensusHasFinished => C::SkipConsensusMessageAsConsensusHasFinished,
            Self::DecidedWrongInstance => C::DecidedWrongInstance,
            Self::NoRunnerForSlot => C::NoRunnerForSlot,
            Self::NoBeaconDuties => C::NoBeaconDuties,
            Self::NoValidatorShares => C::NoValidatorShares,
            Self::CommitteeIdMismatch => C::MessageIdCommitteeIdMismatch,
            Self::InvalidOperatorSignature => C::SsvMessageHasInvalidSignature,
            Self::RegistrationNoConsensus => C::ValidatorRegistrationNoConsensusPhase,
            Self::RegistrationNoPostConsensus => C::ValidatorRegistrationNoPostConsensusPhase,
            Self::ExitNoConsensus => C::ValidatorExitNoConsensusPhase,
            Self::ExitNoPostConsensus => C::ValidatorExitNoPostConsensusPhase,
            Self::Reconstruct(e) => return e.code(),
            Self::Qbft(e) => return e.code(),
            Self::Validation(e) => return e.code(),
            Self::ValueCheck(e) => return e.code,
            Self::UnknownSigner
            | Self::ValidatorIdMismatch
            | Self::SignRefused { .. }
            | Self::Other(_) => return None,
        })
    }
}

impl From<QbftError> for RunnerError {
    fn from(e: QbftError) -> Self {
        Self::Qbft(e)
    }
}

impl From<ValidationError> for RunnerError {
    fn from(e: ValidationError) -> Self {
        Self::Validation(e)
    }
}

impl From<ValueCheckError> for RunnerError {
    fn from(e: ValueCheckError) -> Self {
        Self::ValueCheck(e)
    }
}
