//! Checks of a decided message fetched by history sync (not gossip): a commit signed by a
//! quorum of the committee, for the asked message id and height range, whose full data
//! (if any) hashes to its root, with every RSA signature valid.

use sha2::{Digest, Sha256};
use ssz::Decode as _;

use super::{NetworkView, verify_signatures};
use crate::types::{Height, MessageId, OperatorId, QbftMessage, QbftMessageType, SignedSsvMessage};

/// Why a fetched decided message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecidedError {
    /// The bytes are not an SSZ `SignedSSVMessage` or its data not a QBFT message.
    #[error("undecodable decided message")]
    Undecodable,
    /// Not a commit, or its identifier is not the requested message id.
    #[error("not a commit of the requested instance")]
    NotACommit,
    /// Height outside the requested range.
    #[error("height {0} outside the requested range")]
    HeightOutOfRange(Height),
    /// Fewer than a quorum of distinct, sorted committee signers.
    #[error("not signed by a quorum of the committee")]
    NoQuorum,
    /// `sha256(full_data)` differs from the root.
    #[error("full data does not match the root")]
    InvalidHash,
    /// An RSA signature did not verify.
    #[error("signature verification failed")]
    Signature,
}

/// Checks a decided message for `msg_id` with height in `from..=to`, decided by
/// `committee` (ascending operator ids). Returns the decoded message and its QBFT message.
///
/// # Errors
/// The first failing check, in the order of [`DecidedError`]'s variants.
pub fn check_decided<V: NetworkView + ?Sized>(
    bytes: &[u8],
    msg_id: &MessageId,
    from: Height,
    to: Height,
    committee: &[OperatorId],
    view: &V,
) -> Result<(SignedSsvMessage, QbftMessage), DecidedError> {
    let signed = SignedSsvMessage::from_ssz_bytes(bytes).map_err(|_| DecidedError::Undecodable)?;
    let qbft = QbftMessage::from_ssz_bytes(&signed.ssv_message.data)
        .map_err(|_| DecidedError::Undecodable)?;
    if qbft.msg_type != QbftMessageType::Commit as u64
        || signed.ssv_message.msg_type != 0
        || signed.ssv_message.msg_id != *msg_id
        || qbft.identifier[..] != msg_id.0[..]
    {
        return Err(DecidedError::NotACommit);
    }
    if qbft.height < from || qbft.height > to {
        return Err(DecidedError::HeightOutOfRange(qbft.height));
    }
    let n = committee.len() as u64;
    let quorum = (n.saturating_sub(1) / 3).saturating_mul(2).saturating_add(1);
    let ids = &signed.operator_ids;
    let sorted_unique = ids.windows(2).all(|w| matches!(w, [a, b] if a < b));
    if !sorted_unique
        || (ids.len() as u64) < quorum
        || ids.iter().any(|id| !committee.contains(id))
        || ids.len() != signed.signatures.len()
    {
        return Err(DecidedError::NoQuorum);
    }
    if !signed.full_data.is_empty() {
        let hash: [u8; 32] = Sha256::digest(&signed.full_data[..]).into();
        if hash != qbft.root {
            return Err(DecidedError::InvalidHash);
        }
    }
    verify_signatures(&signed, bytes, view).map_err(|_| DecidedError::Signature)?;
    Ok((signed, qbft))
}
