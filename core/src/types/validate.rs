//! Stateless validation of the wire types, with the spec's error codes.
//!
//! Each rule is the `Validate()` method of the same Go type in ssv-spec v1.2.2, in the same
//! order, so the first failing rule (and so the error code) matches Go's.

use crate::error::{ErrorCode, SpecError};

/// Why a wire message (or its decoding) was rejected, with the v1.2.2 error code.
///
/// Sources: `types/messages.go` (`SignedSSVMessage.Validate`), `qbft/messages.go`
/// (`Message.Validate`, `unmarshalJustifications`), `types/partial_sig_message.go`
/// (`PartialSignatureMessages.Validate`, `ValidateForSigner`), `types/consensus_data.go`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// The SSZ bytes of an inner message did not decode, where the spec wraps the failure
    /// with a code (justifications, consensus data): code 1.
    #[error("unmarshal {what}: {reason}")]
    UnmarshalSsz {
        /// What failed to decode.
        what: &'static str,
        /// The SSZ decoder's reason.
        reason: String,
    },
    /// The SSZ bytes did not decode where the spec returns the plain decoder error, with no
    /// code (e.g. `qbft.DecodeMessage` on an `SSVMessage`'s data).
    #[error("decode {what}: {reason}")]
    Decode {
        /// What failed to decode.
        what: &'static str,
        /// The SSZ decoder's reason.
        reason: String,
    },
    /// `SignedSSVMessage` with no operator ids: code 18.
    #[error("no signers")]
    NoSigners,
    /// An operator id appears twice among the signers: code 9.
    #[error("non unique signer")]
    NonUniqueSigner,
    /// Operator id 0 as a signer: code 19.
    #[error("signer ID 0 not allowed")]
    ZeroSignerNotAllowed,
    /// `SignedSSVMessage` with no signatures: code 17.
    #[error("no signatures")]
    NoSignatures,
    /// A zero-length signature: code 15.
    #[error("empty signature")]
    EmptySignature,
    /// Signatures and signers differ in number: code 14.
    #[error("number of signatures is different than number of signers")]
    IncorrectNumberOfSignatures,
    /// `SignedSSVMessage` without an `SSVMessage` (possible only in JSON, never in SSZ): code 16.
    #[error("nil SSVMessage")]
    NilSsvMessage,
    /// QBFT identifier is not 56 bytes: code 33.
    #[error("message identifier is invalid")]
    MessageIdentifierInvalid,
    /// QBFT message type above round change: code 31.
    #[error("message type is invalid")]
    MessageTypeInvalid,
    /// QBFT round 0: code 32.
    #[error("message round is invalid")]
    MessageRoundInvalid,
    /// `PartialSignatureMessages` with no messages: code 21.
    #[error("no PartialSignatureMessages messages")]
    NoPartialSigMessages,
    /// Partial signatures of one batch from different signers: code 20.
    #[error("inconsistent signers")]
    InconsistentSigners,
    /// The partial signatures' signer is not the `SignedSSVMessage` signer: code 44.
    #[error("signer from signed message is inconsistent with partial signature signers")]
    PartialSigInconsistentSigner,
    /// `ValidatorConsensusData` for a validator-registration duty, which has no consensus:
    /// code 10.
    #[error("validator registration has no consensus data")]
    ValidatorRegistrationNoConsensusData,
    /// `ValidatorConsensusData` for a voluntary-exit duty, which has no consensus: code 11.
    #[error("voluntary exit has no consensus data")]
    ValidatorExitNoConsensusData,
    /// `ValidatorConsensusData` whose duty role carries no validator consensus data
    /// (attester, sync committee, unknown): code 12.
    #[error("unknown duty role")]
    UnknownDutyRoleData,
    /// Proposer consensus data whose block does not decode for its version (code 1), or
    /// whose version has no block type (code 13).
    #[error("block data: {0}")]
    Block(crate::beacon::versioned::BlockDecodeError),
    /// Aggregator consensus data with an unknown version: no code in v1.2.2.
    #[error("unknown aggregate and proof version {0}")]
    UnknownAggregateVersion(u64),
}

impl SpecError for ValidationError {
    fn code(&self) -> Option<ErrorCode> {
        Some(match self {
            Self::UnmarshalSsz { .. } => ErrorCode::UnmarshalSsz,
            Self::Decode { .. } | Self::UnknownAggregateVersion(_) => return None,
            Self::NoSigners => ErrorCode::NoSigners,
            Self::NonUniqueSigner => ErrorCode::NonUniqueSigner,
            Self::ZeroSignerNotAllowed => ErrorCode::ZeroSignerNotAllowed,
            Self::NoSignatures => ErrorCode::NoSignatures,
            Self::EmptySignature => ErrorCode::EmptySignature,
            Self::IncorrectNumberOfSignatures => ErrorCode::IncorrectNumberOfSignatures,
            Self::NilSsvMessage => ErrorCode::NilSsvMessage,
            Self::MessageIdentifierInvalid => ErrorCode::MessageIdentifierInvalid,
            Self::MessageTypeInvalid => ErrorCode::MessageTypeInvalid,
            Self::MessageRoundInvalid => ErrorCode::MessageRoundInvalid,
            Self::NoPartialSigMessages => ErrorCode::NoPartialSigMessages,
            Self::InconsistentSigners => ErrorCode::InconsistentSigners,
            Self::PartialSigInconsistentSigner => ErrorCode::PartialSigInconsistentSigner,
            Self::ValidatorRegistrationNoConsensusData => {
                ErrorCode::ValidatorRegistrationNoConsensusData
            }
            Self::ValidatorExitNoConsensusData => ErrorCode::ValidatorExitNoConsensusData,
            Self::UnknownDutyRoleData => ErrorCode::UnknownDutyRoleData,
            Self::Block(e) => return e.code(),
        })
    }
}

/// Formats an SSZ decode error (which has no `Display`) for an error message.
pub(crate) fn ssz_reason(err: &ssz::DecodeError) -> String {
    format!("{err:?}")
}

/// The rules of `SignedSSVMessage.Validate()` (v1.2.2 `types/messages.go`) over the parts of
/// a message, so that a message whose `SSVMessage` is absent (Go `nil`, seen only in JSON
/// vectors) is validated by the same code as a decoded one.
///
/// Order (first failure wins): no signers (18); per signer, duplicate (9) then zero (19); no
/// signatures (17); an empty signature (15); count mismatch (14); no `SSVMessage` (16).
///
/// # Errors
/// The first rule that fails, as above.
pub fn validate_signed_ssv_message_parts(
    operator_ids: &[u64],
    signature_lens: impl IntoIterator<Item = usize>,
    has_ssv_message: bool,
) -> Result<(), ValidationError> {
    if operator_ids.is_empty() {
        return Err(ValidationError::NoSigners);
    }
    let mut seen = std::collections::BTreeSet::new();
    for id in operator_ids {
        if !seen.insert(*id) {
            return Err(ValidationError::NonUniqueSigner);
        }
        if *id == 0 {
            return Err(ValidationError::ZeroSignerNotAllowed);
        }
    }
    let mut signatures = 0usize;
    for len in signature_lens {
        signatures = signatures.saturating_add(1);
        if len == 0 {
            // Go checks "no signatures" first; with ≥1 signature reaching here that holds.
            return Err(ValidationError::EmptySignature);
        }
    }
    if signatures == 0 {
        return Err(ValidationError::NoSignatures);
    }
    if signatures != operator_ids.len() {
        return Err(ValidationError::IncorrectNumberOfSignatures);
    }
    if !has_ssv_message {
        return Err(ValidationError::NilSsvMessage);
    }
    Ok(())
}
