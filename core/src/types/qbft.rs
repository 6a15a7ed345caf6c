//! The QBFT wire message (ssv-spec v1.2.2 `qbft/messages.go`).

use ssz_derive::{Decode, Encode};
use ssz_types::VariableList;
use tree_hash_derive::TreeHash;
use typenum::{Prod, Sum, U, U1000, U1024};

use super::message::MaxSigners;
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
