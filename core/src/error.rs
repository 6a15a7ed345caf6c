//! The spec's error codes (ssv-spec v1.2.2 `types/error.go`).
//!
//! The vectors carry `ExpectedErrorCode` integers, not strings, and a test passes when the
//! *last* error returned while processing its inputs has the expected code (0 = none).
//! Every typed error in this crate maps to one of these codes in one place, through
//! [`SpecError::code`].
//!
//! The numbering is that of v1.2.2 (Alan). HEAD/Boole removed codes 10 and 11 and shifted
//! the rest down by two; keep this table for the Alan vectors.

use serde::{Deserialize, Serialize};

/// An ssv-spec v1.2.2 error code (`types/error.go`, numbered `iota + 1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[repr(u16)]
#[allow(missing_docs)] // Each variant is named exactly as the spec's `<Name>ErrorCode`.
pub enum ErrorCode {
    UnmarshalSsz = 1,
    FutureMessage = 2,
    ZeroCommitMessages = 3,
    NoRunningDuty = 4,
    CommitMessageInvalid = 5,
    CommitMessageTypeWrong = 6,
    WrongMessageHeight = 7,
    SignerIsNotInCommittee = 8,
    NonUniqueSigner = 9,
    ValidatorRegistrationNoConsensusData = 10,
    ValidatorExitNoConsensusData = 11,
    UnknownDutyRoleData = 12,
    UnknownBlockVersion = 13,
    IncorrectNumberOfSignatures = 14,
    EmptySignature = 15,
    NilSsvMessage = 16,
    NoSignatures = 17,
    NoSigners = 18,
    ZeroSignerNotAllowed = 19,
    InconsistentSigners = 20,
    NoPartialSigMessages = 21,
    NoRunnerForSlot = 22,
    SkipConsensusMessageAsInstanceIsDecided = 23,
    SkipConsensusMessageAsConsensusHasFinished = 24,
    DecodeBeaconVote = 25,
    NoBeaconDuties = 26,
    NoValidatorShares = 27,
    AttestationSourceNotLessThanTarget = 28,
    CheckpointMismatch = 29,
    MessageIdCommitteeIdMismatch = 30,
    MessageTypeInvalid = 31,
    MessageRoundInvalid = 32,
    MessageIdentifierInvalid = 33,
    ReconstructSignature = 34,
    SlashableAttestation = 35,
    DecidedWrongInstance = 36,
    ValidatorRegistrationNoConsensusPhase = 37,
    ValidatorRegistrationNoPostConsensusPhase = 38,
    ValidatorExitNoConsensusPhase = 39,
    ValidatorExitNoPostConsensusPhase = 40,
    SsvMessageHasInvalidSignature = 41,
    DutyAlreadyPassed = 42,
    WrongSigningRoot = 43,
    PartialSigInconsistentSigner = 44,
    NoDecidedValue = 45,
    NoRunningConsensusInstance = 46,
    ConsensusInstanceNotDecided = 47,
    PartialSigMessageInvalidSlot = 48,
    PartialSigMessageFutureSlot = 49,
    UnknownValidatorIndex = 50,
    WrongRootsCount = 51,
    DutyEpochTooFarFuture = 52,
    WrongBeaconRoleType = 53,
    WrongValidatorIndex = 54,
    WrongValidatorPubkey = 55,
    InstanceStoppedProcessingMessages = 56,
    WrongMessageRound = 57,
    MessageAllowsOneSignerOnly = 58,
    NoProposalForCurrentRound = 59,
    PastRound = 60,
    ProposedDataMismatch = 61,
    RoundChangeNoQuorum = 62,
    ProposalInvalid = 63,
    RootHashInvalid = 64,
    MessageSignatureInvalid = 65,
    QbftValueInvalid = 66,
    PrepareMessageInvalid = 67,
    JustificationsNoQuorumInvalid = 68,
    ProposalLeaderInvalid = 69,
    InstanceAlreadyRunning = 70,
    StartInstance = 71,
    TimeoutInstance = 72,
}

impl ErrorCode {
    /// The integer the vectors carry in `ExpectedErrorCode`.
    pub const fn as_u16(self) -> u16 {
        self as u16
    }
}

/// Anything that maps to a spec error code.
///
/// Errors that have no spec counterpart (a node-only check) return `None`; the vector
/// harness treats those as "some error" and a test expecting code 0 fails on them.
pub trait SpecError {
    /// The spec code of this error, if the spec has one.
    fn code(&self) -> Option<ErrorCode>;
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    #[test]
    fn codes_match_the_v1_2_2_table_at_its_landmarks() {
        // Spot values from ssv-spec v1.2.2 types/error.go (see the notes, 1.8).
        assert_eq!(ErrorCode::UnmarshalSsz.as_u16(), 1);
        assert_eq!(ErrorCode::ValidatorExitNoConsensusData.as_u16(), 11);
        assert_eq!(ErrorCode::SlashableAttestation.as_u16(), 35);
        assert_eq!(ErrorCode::ProposalLeaderInvalid.as_u16(), 69);
        assert_eq!(ErrorCode::TimeoutInstance.as_u16(), 72);
    }
}
