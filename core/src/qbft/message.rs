//! A received QBFT message with its decoded payload, the spec's stateless checks on it,
//! and construction of the messages an instance sends (`qbft/messages.go`, `Create*`).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use ssz::{Decode, Encode};
use ssz_types::VariableList;

use super::config::{CommitteeMember, QbftConfig};
use super::error::QbftError;
use super::Round;
use crate::types::{
    MessageId, MsgType, OperatorId, QbftMessage, QbftMessageType, Root, SignedSsvMessage,
    SsvMessage,
};

/// `sha256(data)`: how a value's root is computed (`HashDataRoot`), not a tree-hash root.
pub fn hash_data_root(data: &[u8]) -> Root {
    Sha256::digest(data).into()
}

/// A signed message and its decoded QBFT payload (`ProcessingMessage`).
///
/// Serializes as the hex of the `SignedSSVMessage` SSZ; the payload is re-decoded on load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessingMessage {
    /// The message as received (signers, signatures, full data).
    pub signed: SignedSsvMessage,
    /// `signed.ssv_message.data` decoded.
    pub qbft: QbftMessage,
}

impl ProcessingMessage {
    /// Decodes the QBFT payload of `signed`.
    ///
    /// # Errors
    /// [`QbftError::DecodeMessage`] when the data is not an SSZ `qbft.Message`.
    pub fn new(signed: SignedSsvMessage) -> Result<Self, QbftError> {
        let qbft = QbftMessage::from_ssz_bytes(&signed.ssv_message.data)
            .map_err(|_| QbftError::DecodeMessage)?;
        Ok(Self { signed, qbft })
    }

    /// The message type, `None` when unknown.
    pub fn msg_type(&self) -> Option<QbftMessageType> {
        QbftMessageType::from_u64(self.qbft.msg_type)
    }

    /// The round.
    pub fn round(&self) -> Round {
        self.qbft.round
    }

    /// The signer ids.
    pub fn signers(&self) -> &[OperatorId] {
        &self.signed.operator_ids
    }

    /// The full data (value) carried beside the message; empty when none.
    pub fn full_data(&self) -> &[u8] {
        &self.signed.full_data
    }

    /// A round change that carries a prepared value (`RoundChangePrepared`).
    pub fn round_change_prepared(&self) -> bool {
        self.msg_type() == Some(QbftMessageType::RoundChange) && self.qbft.data_round != 0
    }

    /// The spec's `Validate`: `SignedSSVMessage.Validate` then `qbft.Message.Validate`.
    ///
    /// # Errors
    /// The first failing check's error.
    pub fn validate(&self) -> Result<(), QbftError> {
        validate_signed(&self.signed)?;
        let msg = &self.qbft;
        if msg.identifier.len() != MessageId::LEN {
            return Err(QbftError::MessageIdentifierInvalid);
        }
        decode_justifications(&msg.round_change_justification)?;
        decode_justifications(&msg.prepare_justification)?;
        if msg.msg_type > QbftMessageType::RoundChange as u64 {
            return Err(QbftError::MessageTypeInvalid);
        }
        if msg.round == 0 {
            return Err(QbftError::MessageRoundInvalid);
        }
        Ok(())
    }

    /// Decoded round-change justifications (for a round change: its prepares).
    ///
    /// # Errors
    /// [`QbftError::DecodeJustification`] or [`QbftError::DecodeMessage`].
    pub fn round_change_justifications(&self) -> Result<Vec<ProcessingMessage>, QbftError> {
        to_processing(decode_justifications(&self.qbft.round_change_justification)?)
    }

    /// Decoded prepare justifications.
    ///
    /// # Errors
    /// [`QbftError::DecodeJustification`] or [`QbftError::DecodeMessage`].
    pub fn prepare_justifications(&self) -> Result<Vec<ProcessingMessage>, QbftError> {
        to_processing(decode_justifications(&self.qbft.prepare_justification)?)
    }

    /// The same signer set as `ids`, ignoring order (`MatchedSigners`).
    pub fn matched_signers(&self, ids: &[OperatorId]) -> bool {
        self.signers().len() == ids.len() && self.signers().iter().all(|s| ids.contains(s))
    }

    /// At least one signer in common with `ids` (`CommonSigners`).
    pub fn common_signers(&self, ids: &[OperatorId]) -> bool {
        self.signers().iter().any(|s| ids.contains(s))
    }

    /// Every signer is a committee member (`CheckSignersInCommittee`).
    pub fn signers_in_committee(&self, committee: &CommitteeMember) -> bool {
        self.signers().iter().all(|s| committee.operator(*s).is_some())
    }

    /// Verifies every (signer, signature) pair against the committee's keys (`types.Verify`).
    ///
    /// # Errors
    /// [`QbftError::MessageSignatureInvalid`] for an unknown signer or a bad signature.
    pub fn verify(&self, config: &QbftConfig, committee: &CommitteeMember) -> Result<(), QbftError> {
        let encoded = self.signed.ssv_message.as_ssz_bytes();
        if self.signed.operator_ids.len() != self.signed.signatures.len() {
            return Err(QbftError::MessageSignatureInvalid);
        }
        for (signer, signature) in self.signed.operator_ids.iter().zip(self.signed.signatures.iter()) {
            let operator = committee.operator(*signer).ok_or(QbftError::MessageSignatureInvalid)?;
            if !config.verifier.verify(&operator.public_key, &encoded, signature) {
                return Err(QbftError::MessageSignatureInvalid);
            }
        }
        Ok(())
    }
}

impl Serialize for ProcessingMessage {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(self.signed.as_ssz_bytes()))
    }
}

impl<'de> Deserialize<'de> for ProcessingMessage {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let bytes = hex::decode(text).map_err(serde::de::Error::custom)?;
        let signed = SignedSsvMessage::from_ssz_bytes(&bytes)
            .map_err(|e| serde::de::Error::custom(format!("{e:?}")))?;
        Self::new(signed).map_err(serde::de::Error::custom)
    }
}

/// `SignedSSVMessage.Validate` of v1.2.2.
fn validate_signed(msg: &SignedSsvMessage) -> Result<(), QbftError> {
    if msg.operator_ids.is_empty() {
        return Err(QbftError::NoSigners);
    }
    let mut seen = std::collections::BTreeSet::new();
    for id in msg.operator_ids.iter() {
        if !seen.insert(*id) {
            return Err(QbftError::NonUniqueSigner);
        }
        if *id == 0 {
            return Err(QbftError::ZeroSignerNotAllowed);
        }
    }
    if msg.signatures.is_empty() {
        return Err(QbftError::NoSignatures);
    }
    if msg.signatures.iter().any(|s| s.is_empty()) {
        return Err(QbftError::EmptySignature);
    }
    if msg.signatures.len() != msg.operator_ids.len() {
        return Err(QbftError::IncorrectNumberOfSignatures);
    }
    Ok(())
}

fn decode_justifications<N: typenum::Unsigned>(
    list: &VariableList<VariableList<u8, N>, crate::types::message::MaxSigners>,
) -> Result<Vec<SignedSsvMessage>, QbftError> {
    list.iter()
        .map(|bytes| SignedSsvMessage::from_ssz_bytes(&bytes[..]).map_err(|_| QbftError::DecodeJustification))
        .collect()
}

fn to_processing(msgs: Vec<SignedSsvMessage>) -> Result<Vec<ProcessingMessage>, QbftError> {
    msgs.into_iter().map(ProcessingMessage::new).collect()
}

/// What to put in a message this operator sends.
#[derive(Debug, Clone, Default)]
pub(crate) struct Unsigned<'a> {
    pub(crate) msg_type: u64,
    pub(crate) height: u64,
    pub(crate) round: Round,
    pub(crate) identifier: &'a [u8],
    pub(crate) root: Root,
    pub(crate) data_round: Round,
    pub(crate) round_change_justification: Vec<&'a SignedSsvMessage>,
    pub(crate) prepare_justification: Vec<&'a SignedSsvMessage>,
    pub(crate) full_data: &'a [u8],
}

fn justification_list<N: typenum::Unsigned>(
    msgs: &[&SignedSsvMessage],
) -> Result<VariableList<VariableList<u8, N>, crate::types::message::MaxSigners>, QbftError> {
    let encoded = msgs
        .iter()
        .map(|m| {
            // Justifications travel without full data (`WithoutFullData`).
            let mut stripped = (*m).clone();
            stripped.full_data = VariableList::default();
            VariableList::new(stripped.as_ssz_bytes()).map_err(|_| QbftError::Encode("justification"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    VariableList::new(encoded).map_err(|_| QbftError::Encode("justification count"))
}

/// Builds, encodes and signs a message as `operator_id` (the spec's `Sign`).
pub(crate) fn sign_message(
    config: &QbftConfig,
    operator_id: OperatorId,
    u: &Unsigned<'_>,
) -> Result<SignedSsvMessage, QbftError> {
    let msg = QbftMessage {
        msg_type: u.msg_type,
        height: u.height,
        round: u.round,
        identifier: VariableList::new(u.identifier.to_vec()).map_err(|_| QbftError::Encode("identifier"))?,
        root: u.root,
        data_round: u.data_round,
        round_change_justification: justification_list(&u.round_change_justification)?,
        prepare_justification: justification_list(&u.prepare_justification)?,
    };
    // Go copies the identifier into a 56-byte MessageID (zero-padded or truncated).
    let mut msg_id = [0u8; MessageId::LEN];
    for (dst, src) in msg_id.iter_mut().zip(u.identifier.iter()) {
        *dst = *src;
    }
    let ssv_message = SsvMessage {
        msg_type: MsgType::Consensus as u64,
        msg_id: MessageId(msg_id),
        data: VariableList::new(msg.as_ssz_bytes()).map_err(|_| QbftError::Encode("data"))?,
    };
    let signature = config.signer.sign(&ssv_message.as_ssz_bytes())?;
    Ok(SignedSsvMessage {
        signatures: VariableList::new(vec![
            VariableList::new(signature).map_err(|_| QbftError::Encode("signature"))?,
        ])
        .map_err(|_| QbftError::Encode("signatures"))?,
        operator_ids: VariableList::new(vec![operator_id]).map_err(|_| QbftError::Encode("signers"))?,
        ssv_message,
        full_data: VariableList::new(u.full_data.to_vec()).map_err(|_| QbftError::Encode("full data"))?,
    })
}
