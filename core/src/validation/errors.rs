//! Why a gossip message was not accepted: the Go node's validation errors
//! (`message/validation/errors.go`, ssvlabs/ssv v2.3.7), each classed Ignore or Reject.

/// What gossipsub should do with a message that failed validation.
///
/// `Ignore` drops it without penalty; `Reject` drops it and lowers the sending peer's
/// score (gossipsub P4, invalid messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// Drop, no penalty: the message may be valid for a node with another view.
    Ignore,
    /// Drop and penalise the peer: no honest node sends this.
    Reject,
}

/// One failed validation rule, named as the Go node's error (`ErrX` → `X`).
///
/// Go errors that cannot occur here are left out: `NilSignedSSVMessage` and `NilSSVMessage`
/// (SSZ has no nil), `FullDataHash` (SHA-256 cannot fail) and `OperatorValidation` (the
/// [`NetworkView`](super::NetworkView) is infallible).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationFailure {
    // ----- Ignore -----
    /// The message id's domain is not this network's (`ErrWrongDomain`).
    #[error("wrong domain")]
    WrongDomain,
    /// The validator has no beacon metadata yet (`ErrNoShareMetadata`).
    #[error("share has no metadata")]
    NoShareMetadata,
    /// No share is known for the message's validator (`ErrUnknownValidator`).
    #[error("unknown validator")]
    UnknownValidator,
    /// The validator's cluster is liquidated (`ErrValidatorLiquidated`).
    #[error("validator is liquidated")]
    ValidatorLiquidated,
    /// The validator is not attesting in the current epoch (`ErrValidatorNotAttesting`).
    #[error("validator is not attesting")]
    ValidatorNotAttesting,
    /// Received more than 50 ms before its slot starts (`ErrEarlySlotMessage`).
    #[error("message was sent before slot starts")]
    EarlySlotMessage,
    /// Received after its slot's time to live plus 3 s (`ErrLateSlotMessage`).
    #[error("message is past its slot's time to live")]
    LateSlotMessage,
    /// The signer already sent a message for a later slot (`ErrSlotAlreadyAdvanced`).
    #[error("signer has already advanced to a later slot")]
    SlotAlreadyAdvanced,
    /// The signer already sent a message for a later round (`ErrRoundAlreadyAdvanced`).
    #[error("signer has already advanced to a later round")]
    RoundAlreadyAdvanced,
    /// A decided message with a signer set already seen (`ErrDecidedWithSameSigners`).
    #[error("decided with same signers")]
    DecidedWithSameSigners,
    /// Pubsub data above [`MAX_ENCODED_MSG_SIZE`](super::MAX_ENCODED_MSG_SIZE) (`ErrPubSubDataTooBig`).
    #[error("pub-sub message data too big: {0} bytes")]
    PubSubDataTooBig(usize),
    /// Sent on a topic other than its committee's subnet (`ErrIncorrectTopic`).
    #[error("incorrect topic")]
    IncorrectTopic,
    /// No committee with the message id's committee id (`ErrNonExistentCommitteeID`).
    #[error("committee ID doesn't exist")]
    NonExistentCommitteeId,
    /// Round above the role's cut-off: 12 committee/aggregator, 6 proposer/SCC (`ErrRoundTooHigh`).
    #[error("round is too high for this role")]
    RoundTooHigh,
    /// A partial signature for a validator index not the message's validator's
    /// (`ErrValidatorIndexMismatch`).
    #[error("partial signature validator index not found")]
    ValidatorIndexMismatch,
    /// The signer exceeded the duties per epoch of the role (`ErrTooManyDutiesPerEpoch`).
    #[error("too many duties per epoch")]
    TooManyDutiesPerEpoch,
    /// No proposer or sync-committee duty for this validator and slot (`ErrNoDuty`).
    #[error("no duty for this epoch")]
    NoDuty,
    /// Round above the time-estimated round plus one (`ErrEstimatedRoundNotInAllowedSpread`).
    #[error("message round is too far from estimated")]
    EstimatedRoundNotInAllowedSpread,
    /// A signer is not a registered operator (`ErrUnknownOperator`).
    #[error("operator is unknown")]
    UnknownOperator,

    // ----- Reject -----
    /// `SSVMessage.Data` is empty (`ErrEmptyData`).
    #[error("empty data")]
    EmptyData,
    /// The QBFT identifier is not the message id (`ErrMismatchedIdentifier`).
    #[error("identifier mismatch")]
    MismatchedIdentifier,
    /// An operator's RSA signature does not verify (`ErrSignatureVerification`).
    #[error("signature verification")]
    SignatureVerification,
    /// Pubsub message with no data (`ErrPubSubMessageHasNoData`).
    #[error("pub-sub message has no data")]
    PubSubMessageHasNoData,
    /// The data is not an SSZ `SignedSSVMessage` (`ErrMalformedPubSubMessage`).
    #[error("pub-sub message is malformed")]
    MalformedPubSubMessage,
    /// `SSVMessage.Data` above the bound of its message type (`ErrSSVDataTooBig`).
    #[error("ssv message data too big")]
    SsvDataTooBig,
    /// The message id's role is not an Alan runner role (`ErrInvalidRole`).
    #[error("invalid role")]
    InvalidRole,
    /// A consensus message for a role without consensus (`ErrUnexpectedConsensusMessage`).
    #[error("unexpected consensus message for this role")]
    UnexpectedConsensusMessage,
    /// No signers (`ErrNoSigners`).
    #[error("no signers")]
    NoSigners,
    /// A signature is not 256 bytes (`ErrWrongRSASignatureSize`).
    #[error("wrong RSA signature size")]
    WrongRsaSignatureSize,
    /// Operator id 0 among the signers (`ErrZeroSigner`).
    #[error("zero signer ID")]
    ZeroSigner,
    /// A signer is not in the message's committee (`ErrSignerNotInCommittee`).
    #[error("signer is not in committee")]
    SignerNotInCommittee,
    /// A signer appears twice (`ErrDuplicatedSigner`).
    #[error("signer is duplicated")]
    DuplicatedSigner,
    /// A proposal not signed by the round's round-robin leader (`ErrSignerNotLeader`).
    #[error("signer is not leader")]
    SignerNotLeader,
    /// Signers are not in ascending order (`ErrSignersNotSorted`).
    #[error("signers are not sorted")]
    SignersNotSorted,
    /// A partial signature's signer is not the message's signer (`ErrInconsistentSigners`).
    #[error("signer is not expected")]
    InconsistentSigners,
    /// `sha256(full_data)` is not the QBFT root (`ErrInvalidHash`).
    #[error("root doesn't match full data hash")]
    InvalidHash,
    /// `SSVMessage.Data` does not decode for its type (`ErrUndecodableMessageData`).
    #[error("message data could not be decoded")]
    UndecodableMessageData,
    /// The node-internal event message type on the wire (`ErrEventMessage`).
    #[error("unexpected event message")]
    EventMessage,
    /// `SSVMessage.MsgType` other than consensus or partial signature (`ErrUnknownSSVMessageType`).
    #[error("unknown SSV message type")]
    UnknownSsvMessageType,
    /// QBFT message type above round change (`ErrUnknownQBFTMessageType`).
    #[error("unknown QBFT message type")]
    UnknownQbftMessageType,
    /// Unknown partial-signature type (`ErrInvalidPartialSignatureType`).
    #[error("unknown partial signature message type")]
    InvalidPartialSignatureType,
    /// Partial-signature type not allowed for the role (`ErrPartialSignatureTypeRoleMismatch`).
    #[error("partial signature type and role don't match")]
    PartialSignatureTypeRoleMismatch,
    /// Several signers on a message other than a commit (`ErrNonDecidedWithMultipleSigners`).
    #[error("non-decided with multiple signers")]
    NonDecidedWithMultipleSigners,
    /// A decided message with fewer signers than quorum (`ErrDecidedNotEnoughSigners`).
    #[error("not enough signers in decided message")]
    DecidedNotEnoughSigners,
    /// A second proposal in a round with other data (`ErrDifferentProposalData`).
    #[error("different proposal data")]
    DifferentProposalData,
    /// Prepare justifications do not decode (`ErrMalformedPrepareJustifications`).
    #[error("malformed prepare justifications")]
    MalformedPrepareJustifications,
    /// Prepare justifications on a message other than a proposal
    /// (`ErrUnexpectedPrepareJustifications`).
    #[error("prepare justifications unexpected for this message type")]
    UnexpectedPrepareJustifications,
    /// Round-change justifications do not decode (`ErrMalformedRoundChangeJustifications`).
    #[error("malformed round change justifications")]
    MalformedRoundChangeJustifications,
    /// Round-change justifications on a prepare or commit
    /// (`ErrUnexpectedRoundChangeJustifications`).
    #[error("round change justifications unexpected for this message type")]
    UnexpectedRoundChangeJustifications,
    /// A partial-signature batch with no signatures (`ErrNoPartialSignatureMessages`).
    #[error("no partial signature messages")]
    NoPartialSignatureMessages,
    /// The committee has no validators (`ErrNoValidators`).
    #[error("no validators for this committee ID")]
    NoValidators,
    /// No signatures (`ErrNoSignatures`).
    #[error("no signatures")]
    NoSignatures,
    /// Signers and signatures differ in number (`ErrSignersAndSignaturesWithDifferentLength`).
    #[error("signature and operator ID length mismatch")]
    SignersAndSignaturesWithDifferentLength,
    /// A partial-signature message with more than one signer (`ErrPartialSigOneSigner`).
    #[error("partial signature message must have only one signer")]
    PartialSigOneSigner,
    /// Full data on a prepare or a single-signer commit (`ErrPrepareOrCommitWithFullData`).
    #[error("prepare or commit with full data")]
    PrepareOrCommitWithFullData,
    /// Full data on a partial-signature message (`ErrFullDataNotInConsensusMessage`).
    #[error("full data not in consensus message")]
    FullDataNotInConsensusMessage,
    /// A validator index three times in one committee batch
    /// (`ErrTripleValidatorIndexInPartialSignatures`).
    #[error("triple validator index in partial signatures")]
    TripleValidatorIndexInPartialSignatures,
    /// QBFT round 0 (`ErrZeroRound`).
    #[error("zero round")]
    ZeroRound,
    /// A second message of one QBFT type from a signer in a round (`ErrDuplicatedMessage`).
    #[error("message is duplicated")]
    DuplicatedMessage,
    /// A second pre- or post-consensus batch from a signer in a slot
    /// (`ErrInvalidPartialSignatureTypeCount`).
    #[error("sent more partial signature messages of a certain type than allowed")]
    InvalidPartialSignatureTypeCount,
    /// More partial signatures than the role allows (`ErrTooManyPartialSignatureMessages`).
    #[error("too many partial signature messages")]
    TooManyPartialSignatureMessages,
}

impl ValidationFailure {
    /// Ignore or Reject, as the Go node classes the error.
    pub fn action(&self) -> Action {
        use ValidationFailure as F;
        match self {
            F::WrongDomain
            | F::NoShareMetadata
            | F::UnknownValidator
            | F::ValidatorLiquidated
            | F::ValidatorNotAttesting
            | F::EarlySlotMessage
            | F::LateSlotMessage
            | F::SlotAlreadyAdvanced
            | F::RoundAlreadyAdvanced
            | F::DecidedWithSameSigners
            | F::PubSubDataTooBig(_)
            | F::IncorrectTopic
            | F::NonExistentCommitteeId
            | F::RoundTooHigh
            | F::ValidatorIndexMismatch
            | F::TooManyDutiesPerEpoch
            | F::NoDuty
            | F::EstimatedRoundNotInAllowedSpread
            | F::UnknownOperator => Action::Ignore,
            _ => Action::Reject,
        }
    }
}
