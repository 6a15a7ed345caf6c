//! Typed QBFT errors, each mapped to its ssv-spec v1.2.2 error code in one table
//! ([`SpecError::code`]).
//!
//! Go wraps errors with `errors.Wrap` (the inner code survives) or `types.WrapError` (the
//! outer code replaces it); each variant here is the error whose code the spec reports.

use crate::error::{ErrorCode, SpecError};

/// Why a value check rejected a proposed value (a pluggable [`ValueCheck`](super::ValueCheck)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("value check failed: {reason}")]
pub struct ValueCheckError {
    /// The spec code (the vectors' check uses `QbftValueInvalid`; a runner's check may use
    /// e.g. `SlashableAttestation`), or `None` for a node-only reason.
    pub code: Option<ErrorCode>,
    /// Human-readable reason.
    pub reason: String,
}

/// Why an operator signer could not sign (a pluggable [`OperatorSigner`](super::OperatorSigner)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("signing failed: {0}")]
pub struct SignError(pub String);

/// A rejected QBFT input. A rejected input leaves the state unchanged, except where the
/// spec itself mutates before failing (see [`QbftError::InstanceStoppedProcessingMessages`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QbftError {
    /// `SSVMessage.Data` is not an SSZ `qbft.Message` (Go: "could not create ProcessingMessage").
    #[error("could not decode the qbft message")]
    DecodeMessage,
    /// A justification is not an SSZ `SignedSSVMessage`.
    #[error("could not decode a justification")]
    DecodeJustification,
    /// `SignedSSVMessage` has no signers.
    #[error("no signers")]
    NoSigners,
    /// A signer appears twice.
    #[error("non unique signer")]
    NonUniqueSigner,
    /// Operator id 0 signed.
    #[error("signer ID 0 not allowed")]
    ZeroSignerNotAllowed,
    /// No signatures.
    #[error("no signatures")]
    NoSignatures,
    /// An empty signature.
    #[error("empty signature")]
    EmptySignature,
    /// Signatures and signers differ in number.
    #[error("number of signatures is different than number of signers")]
    IncorrectNumberOfSignatures,
    /// The identifier is not 56 bytes, or is not this controller's.
    #[error("message identifier is invalid")]
    MessageIdentifierInvalid,
    /// The QBFT message type is above 3.
    #[error("message type is invalid")]
    MessageTypeInvalid,
    /// Round 0.
    #[error("message round is invalid")]
    MessageRoundInvalid,
    /// The instance was force-stopped or reached the cut-off round.
    #[error("instance stopped processing messages")]
    InstanceStoppedProcessingMessages,
    /// The message's round is below the instance round.
    #[error("past round")]
    PastRound,
    /// Wrong height.
    #[error("wrong msg height")]
    WrongMessageHeight,
    /// Wrong round.
    #[error("wrong msg round")]
    WrongMessageRound,
    /// More than one signer where one is required.
    #[error("msg allows 1 signer")]
    MessageAllowsOneSignerOnly,
    /// A signer is not a committee member.
    #[error("signer not in committee")]
    SignerIsNotInCommittee,
    /// The proposal's signer is not the round's proposer.
    #[error("proposal leader invalid")]
    ProposalLeaderInvalid,
    /// The proposal fails validation or does not fit the current state.
    #[error("proposal invalid")]
    ProposalInvalid,
    /// `sha256(full_data) != root`.
    #[error("H(data) != root")]
    RootHashInvalid,
    /// The round-change justification has no quorum.
    #[error("change round has no quorum")]
    RoundChangeNoQuorum,
    /// The prepare justification has no quorum (no spec code).
    #[error("prepares has no quorum")]
    PreparesNoQuorum,
    /// The proposed value is not the highest prepared one (no spec code).
    #[error("proposed data doesn't match highest prepared")]
    NotHighestPrepared,
    /// A prepare justification is invalid.
    #[error("signed prepare not valid")]
    PrepareMessageInvalid,
    /// A round change's prepare justification has no quorum.
    #[error("no justifications quorum")]
    JustificationsNoQuorumInvalid,
    /// A round change claims a prepared round above its round (no spec code).
    #[error("prepared round > round")]
    PreparedRoundAfterRound,
    /// An RSA (or pluggable) signature did not verify.
    #[error("msg signature invalid")]
    MessageSignatureInvalid,
    /// A prepare or commit arrived before a proposal was accepted.
    #[error("did not receive proposal for this round")]
    NoProposalForCurrentRound,
    /// The message's root differs from the accepted proposal's.
    #[error("proposed data mismatch")]
    ProposedDataMismatch,
    /// A commit (or decided message) fails basic validation; wraps the reason.
    #[error("signed commit invalid: {0}")]
    CommitMessageInvalid(Box<QbftError>),
    /// No commit to aggregate.
    #[error("can't aggregate zero commit msgs")]
    ZeroCommitMessages,
    /// A commit of the wrong type.
    #[error("commit msg type is wrong")]
    CommitMessageTypeWrong,
    /// A nested message of an unexpected type (no spec code).
    #[error("unexpected message type")]
    UnexpectedMessageType,
    /// The value check rejected the value.
    #[error(transparent)]
    ValueInvalid(#[from] ValueCheckError),
    /// A message for a height the controller has not reached.
    #[error("future msg from height, could not process")]
    FutureMessage,
    /// A message for an instance that already decided.
    #[error("not processing consensus message since instance is already decided")]
    SkipConsensusMessageAsInstanceIsDecided,
    /// No stored instance at that height (no spec code).
    #[error("instance not found")]
    InstanceNotFound,
    /// Starting an instance below the controller height.
    #[error("attempting to start an instance with a past height")]
    StartInstance,
    /// Starting an instance at a height that already has one.
    #[error("instance already running")]
    InstanceAlreadyRunning,
    /// A round timeout on a stopped instance.
    #[error("instance stopped processing timeouts")]
    TimeoutInstance,
    /// The instance has not been started (no spec code).
    #[error("instance not started")]
    NotStarted,
    /// Building an outgoing message exceeded an SSZ bound (no spec code).
    #[error("could not encode message: {0}")]
    Encode(&'static str),
    /// The operator signer failed (no spec code).
    #[error(transparent)]
    Sign(#[from] SignError),
}

impl SpecError for QbftError {
    fn code(&self) -> Option<ErrorCode> {
        use ErrorCode as C;
        Some(match self {
            Self::DecodeJustification => C::UnmarshalSsz,
            Self::NoSigners => C::NoSigners,
            Self::NonUniqueSigner => C::NonUniqueSigner,
            Self::ZeroSignerNotAllowed => C::ZeroSignerNotAllowed,
            Self::NoSignatures => C::NoSignatures,
            Self::EmptySignature => C::EmptySignature,
            Self::IncorrectNumberOfSignatures => C::IncorrectNumberOfSignatures,
            Self::MessageIdentifierInvalid => C::MessageIdentifierInvalid,
            Self::MessageTypeInvalid => C::MessageTypeInvalid,
            Self::MessageRoundInvalid => C::MessageRoundInvalid,
            Self::InstanceStoppedProcessingMessages => C::InstanceStoppedProcessingMessages,
            Self::PastRound => C::PastRound,
            Self::WrongMessageHeight => C::WrongMessageHeight,
            Self::WrongMessageRound => C::WrongMessageRound,
            Self::MessageAllowsOneSignerOnly => C::MessageAllowsOneSignerOnly,
            Self::SignerIsNotInCommittee => C::SignerIsNotInCommittee,
            Self::ProposalLeaderInvalid => C::ProposalLeaderInvalid,
            Self::ProposalInvalid => C::ProposalInvalid,
            Self::RootHashInvalid => C::RootHashInvalid,
            Self::RoundChangeNoQuorum => C::RoundChangeNoQuorum,
            Self::PrepareMessageInvalid => C::PrepareMessageInvalid,
            Self::JustificationsNoQuorumInvalid => C::JustificationsNoQuorumInvalid,
            Self::MessageSignatureInvalid => C::MessageSignatureInvalid,
            Self::NoProposalForCurrentRound => C::NoProposalForCurrentRound,
            Self::ProposedDataMismatch => C::ProposedDataMismatch,
            Self::CommitMessageInvalid(_) => C::CommitMessageInvalid,
            Self::CommitMessageTypeWrong => C::CommitMessageTypeWrong,
            Self::ZeroCommitMessages => C::ZeroCommitMessages,
            Self::ValueInvalid(e) => return e.code,
            Self::FutureMessage => C::FutureMessage,
            Self::SkipConsensusMessageAsInstanceIsDecided => {
                C::SkipConsensusMessageAsInstanceIsDecided
            }
            Self::StartInstance => C::StartInstance,
            Self::InstanceAlreadyRunning => C::InstanceAlreadyRunning,
            Self::TimeoutInstance => C::TimeoutInstance,
            Self::DecodeMessage
            | Self::PreparesNoQuorum
            | Self::NotHighestPrepared
            | Self::PreparedRoundAfterRound
            | Self::UnexpectedMessageType
            | Self::InstanceNotFound
            | Self::NotStarted
            | Self::Encode(_)
            | Self::Sign(_) => return None,
        })
    }
}
