//! The QBFT wire message (ssv-spec v1.2.2 `qbft/messages.go`).

use ssz_derive::{Decode, Encode};
use ssz_types::VariableList;
use tree_hash_derive::TreeHash;
use typenum::{Prod, Sum, U, U1000, U1024};

use ssz::{Decode as _, Encode as _};

use super::message::{MaxSigners, MessageId, SignedSsvMessage};
use super::validate::{ValidationError, ssz_reason};
use super::{Height, Root, Round};

/// Bound of the `identifier` field; a valid identifier is exactly 56 bytes (a message id).
pub type MaxIdentifierLen = U<56>;
/// Bound of one encoded round-change justification (a `SignedSSVMessage` without full data).
pub type MaxRoundChangeJustificationLen = Sum<Prod<U<50>, U1024>, U<652>>;
/// Bound of one encoded prepare justification (a `SignedSSVMessage` without full data).
pub type MaxPrepareJustificationLen = Sum<Prod<U<3>, U1000>, U<700>>;

/// One SSZ-encoded justification message.
pub type EncodedRoundChangeJustification = VariableList<u8, MaxRoundChangeJustificationLen>;
/// One SSZ-encoded prepare justification message.
pub type EncodedPrepareJustification = VariableList<u8, MaxPrepareJustificationLen>;

/// The QBFT message types (`MessageType` in `qbft/messages.go`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[repr(u64)]
pub enum QbftMessageType {
    /// The leader's proposal of a value for a round.
    Proposal = 0,
    /// A vote that the proposal of this round is acceptable.
    Prepare = 1,
    /// A vote to decide the prepared value.
    Commit = 2,
    /// A request to move to a higher round, carrying what was prepared.
    RoundChange = 3,
}

impl QbftMessageType {
    /// The type for its wire value, or `None` for an unknown value.
    pub fn from_u64(value: u64) -> Option<Self> {
        match value {
            0 => Some(Self::Proposal),
            1 => Some(Self::Prepare),
            2 => Some(Self::Commit),
            3 => Some(Self::RoundChange),
            _ => None,
        }
    }
}

/// A QBFT message: the SSZ payload of an `SsvMessage` whose type is consensus.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TreeHash)]
pub struct QbftMessage {
    /// Raw [`QbftMessageType`] value; may be unknown on peer data.
    pub msg_type: u64,
    /// The instance height (the duty's slot).
    pub height: Height,
    /// The round, from 1.
    pub round: Round,
    /// The instance identifier: must be exactly the 56-byte message id.
    pub identifier: VariableList<u8, MaxIdentifierLen>,
    /// `sha256(full_data)`: plain SHA-256 of the value's SSZ bytes, not a tree-hash root.
    pub root: Root,
    /// For a round change: the last prepared round, 0 if never prepared.
    pub data_round: Round,
    /// SSZ `SignedSSVMessage`s (without full data) that justify a proposal or round change.
    pub round_change_justification: VariableList<EncodedRoundChangeJustification, MaxSigners>,
    /// SSZ `SignedSSVMessage`s (without full data) of the prepare quorum that justifies a value.
    pub prepare_justification: VariableList<EncodedPrepareJustification, MaxSigners>,
}

impl QbftMessage {
    /// The [`QbftMessageType`], or `None` for a value the spec does not define.
    pub fn known_msg_type(&self) -> Option<QbftMessageType> {
        QbftMessageType::from_u64(self.msg_type)
    }

    /// `Message.Validate()` of ssv-spec v1.2.2 (`qbft/messages.go`), in Go's order: the
    /// identifier is 56 bytes (33); both justification lists decode as `SignedSSVMessage`s
    /// (1); the type is at most round change (31); the round is not 0 (32).
    ///
    /// # Errors
    /// The first failing rule, as above.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.identifier.len() != MessageId::LEN {
            return Err(ValidationError::MessageIdentifierInvalid);
        }
        self.round_change_justifications()?;
        self.prepare_justifications()?;
        if self.msg_type > QbftMessageType::RoundChange as u64 {
            return Err(ValidationError::MessageTypeInvalid);
        }
        if self.round == 0 {
            return Err(ValidationError::MessageRoundInvalid);
        }
        Ok(())
    }

    /// The identifier as a [`MessageId`], or `None` when it is not exactly 56 bytes.
    pub fn message_id(&self) -> Option<MessageId> {
        let bytes: [u8; 56] = self.identifier.as_ref().try_into().ok()?;
        Some(MessageId(bytes))
    }

    /// Whether this is a round change that carries a prepared value (`RoundChangePrepared`).
    pub fn round_change_prepared(&self) -> bool {
        self.msg_type == QbftMessageType::RoundChange as u64 && self.data_round != 0
    }

    /// The round-change justifications, decoded (`GetRoundChangeJustifications`).
    ///
    /// # Errors
    /// [`ValidationError::UnmarshalSsz`] (code 1) when one does not decode.
    pub fn round_change_justifications(&self) -> Result<Vec<SignedSsvMessage>, ValidationError> {
        decode_justifications(self.round_change_justification.iter().map(|j| j.as_ref()))
    }

    /// The prepare justifications, decoded (`GetPrepareJustifications`).
    ///
    /// # Errors
    /// [`ValidationError::UnmarshalSsz`] (code 1) when one does not decode.
    pub fn prepare_justifications(&self) -> Result<Vec<SignedSsvMessage>, ValidationError> {
        decode_justifications(self.prepare_justification.iter().map(|j| j.as_ref()))
    }
}

/// Decodes SSZ `SignedSSVMessage` justifications (`unmarshalJustifications`).
///
/// # Errors
/// [`ValidationError::UnmarshalSsz`] (code 1) at the first one that does not decode.
pub fn decode_justifications<'a>(
    encoded: impl IntoIterator<Item = &'a [u8]>,
) -> Result<Vec<SignedSsvMessage>, ValidationError> {
    encoded
        .into_iter()
        .map(|bytes| {
            SignedSsvMessage::from_ssz_bytes(bytes).map_err(|e| ValidationError::UnmarshalSsz {
                what: "justification",
                reason: ssz_reason(&e),
            })
        })
        .collect()
}

/// Encodes justifications without their full data (`MarshalJustifications`), checking each
/// against `Max` bytes.
///
/// # Errors
/// `None` when more than 13 are given or one is longer than `Max`.
pub fn encode_justifications<Max: typenum::Unsigned>(
    msgs: &[SignedSsvMessage],
) -> Option<VariableList<VariableList<u8, Max>, MaxSigners>> {
    let encoded: Option<Vec<VariableList<u8, Max>>> =
        msgs.iter().map(|m| VariableList::new(m.without_full_data().as_ssz_bytes()).ok()).collect();
    VariableList::new(encoded?).ok()
}
