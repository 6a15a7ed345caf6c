//! Partial-signature messages (ssv-spec v1.2.2 `types/partial_sig_message.go`).

use ssz_derive::{Decode, Encode};
use ssz_types::VariableList;
use tree_hash_derive::TreeHash;
use typenum::{Sum, U, U1024};

use super::validate::ValidationError;
use super::{BlsSignatureBytes, OperatorId, Root, Slot, ValidatorIndex};

/// Bound of `PartialSignatureMessages.messages` in v1.2.2/Alan (`ssz-max:"1512"`).
pub type MaxPartialSignatureMessages = Sum<U1024, U<488>>;

/// What a batch of partial signatures signs (`PartialSigMsgType`, Alan numbering).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[repr(u64)]
pub enum PartialSigMsgType {
    /// Post-consensus signatures over the decided duty data.
    PostConsensus = 0,
    /// Proposer pre-consensus RANDAO reveal.
    Randao = 1,
    /// Aggregator pre-consensus selection proof.
    SelectionProof = 2,
    /// Sync-committee contribution pre-consensus selection proofs.
    ContributionProofs = 3,
    /// Builder registration.
    ValidatorRegistration = 4,
    /// Voluntary exit.
    VoluntaryExit = 5,
}

impl PartialSigMsgType {
    /// The type for its wire value, or `None` for an unknown value.
    pub fn from_u64(value: u64) -> Option<Self> {
        match value {
            0 => Some(Self::PostConsensus),
            1 => Some(Self::Randao),
            2 => Some(Self::SelectionProof),
            3 => Some(Self::ContributionProofs),
            4 => Some(Self::ValidatorRegistration),
            5 => Some(Self::VoluntaryExit),
            _ => None,
        }
    }
}

/// One share signature (fixed 144 bytes in SSZ).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TreeHash)]
pub struct PartialSignatureMessage {
    /// BLS signature with the signer's share key.
    pub partial_signature: BlsSignatureBytes,
    /// The signing root that was signed.
    pub signing_root: Root,
    /// The operator that signed.
    pub signer: OperatorId,
    /// The validator the signature is for.
    pub validator_index: ValidatorIndex,
}

/// A batch of one operator's partial signatures for one slot and purpose.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TreeHash)]
pub struct PartialSignatureMessages {
    /// Raw [`PartialSigMsgType`] value; may be unknown on peer data.
    pub msg_type: u64,
    /// The duty's slot.
    pub slot: Slot,
    /// The signatures, at most 1512.
    pub messages: VariableList<PartialSignatureMessage, MaxPartialSignatureMessages>,
}

impl PartialSignatureMessage {
    /// `PartialSignatureMessage.Validate()`: the signer is not 0 (19).
    ///
    /// # Errors
    /// [`ValidationError::ZeroSignerNotAllowed`].
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.signer == 0 {
            return Err(ValidationError::ZeroSignerNotAllowed);
        }
        Ok(())
    }
}

impl PartialSignatureMessages {
    /// The [`PartialSigMsgType`], or `None` for a value the spec does not define.
    pub fn known_msg_type(&self) -> Option<PartialSigMsgType> {
        PartialSigMsgType::from_u64(self.msg_type)
    }

    /// `PartialSignatureMessages.Validate()` of ssv-spec v1.2.2: at least one message (21);
    /// then per message, in order, the same signer as the first (20) and a non-zero signer
    /// (19).
    ///
    /// # Errors
    /// The first failing rule, as above.
    pub fn validate(&self) -> Result<(), ValidationError> {
        let first = self.messages.first().ok_or(ValidationError::NoPartialSigMessages)?;
        for m in self.messages.iter() {
            if m.signer != first.signer {
                return Err(ValidationError::InconsistentSigners);
            }
            m.validate()?;
        }
        Ok(())
    }

    /// `ValidateForSigner(signer)`: [`Self::validate`], then the messages' signer is
    /// `signer`, the operator that signed the carrying `SignedSSVMessage` (44).
    ///
    /// # Errors
    /// As [`Self::validate`], then [`ValidationError::PartialSigInconsistentSigner`].
    pub fn validate_for_signer(&self, signer: OperatorId) -> Result<(), ValidationError> {
        self.validate()?;
        match self.messages.first() {
            Some(m) if m.signer == signer => Ok(()),
            _ => Err(ValidationError::PartialSigInconsistentSigner),
        }
    }

    /// The signer of the batch (that of its first message), if any.
    pub fn signer(&self) -> Option<OperatorId> {
        self.messages.first().map(|m| m.signer)
    }
}
