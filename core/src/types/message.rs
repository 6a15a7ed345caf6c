//! `SignedSSVMessage`, `SSVMessage` and `MessageID` (ssv-spec v1.2.2 `types/messages.go`).

use ssz_derive::{Decode, Encode};
use ssz_types::VariableList;
use tree_hash_derive::TreeHash;
use typenum::{Prod, Sum, U, U1000, U8388608};

use super::validate::{ValidationError, ssz_reason, validate_signed_ssv_message_parts};
use super::{BlsPublicKeyBytes, DomainType, RunnerRole};

/// Most signers a message can carry: the largest committee (13 operators).
pub type MaxSigners = U<13>;
/// An RSA-2048 PKCS#1 v1.5 signature is 256 bytes; the SSZ bound allows no more.
pub type MaxSignatureLen = U<256>;
/// `FullData` bound (`ssz-max:"8388836"`): 2^23 of consensus value plus its envelope.
pub type MaxFullDataLen = Sum<U8388608, U<228>>;
/// `SSVMessage.Data` bound in v1.2.2/Alan (`ssz-max:"722412"`).
pub type MaxSsvDataLen = Sum<Prod<U<722>, U1000>, U<412>>;

/// One operator's RSA signature bytes (256 for RSA-2048).
pub type RsaSignatureBytes = VariableList<u8, MaxSignatureLen>;

/// What an [`SsvMessage`] carries in its `data` (`MsgType` in `types/messages.go`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u64)]
pub enum MsgType {
    /// A [`QbftMessage`](super::QbftMessage).
    Consensus = 0,
    /// A [`PartialSignatureMessages`](super::PartialSignatureMessages).
    PartialSignature = 1,
    /// DKG (not used by the node).
    Dkg = 2,
}

impl MsgType {
    /// The type for its wire value, or `None` for an unknown value.
    pub fn from_u64(value: u64) -> Option<Self> {
        match value {
            0 => Some(Self::Consensus),
            1 => Some(Self::PartialSignature),
            2 => Some(Self::Dkg),
            _ => None,
        }
    }
}

/// The 56-byte message id: `domain(4) | role(4, int32 little-endian) | duty executor id(48)`.
///
/// The duty executor is a validator's 48-byte BLS public key for validator roles, and for
/// the committee role 16 zero bytes followed by the 32-byte committee id.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
#[ssz(struct_behaviour = "transparent")]
pub struct MessageId(pub [u8; 56]);

impl MessageId {
    /// Length in bytes.
    pub const LEN: usize = 56;

    /// Builds a message id from its parts.
    pub fn new(domain: DomainType, role: RunnerRole, duty_executor_id: &[u8; 48]) -> Self {
        let mut id = [0u8; 56];
        let (d, rest) = id.split_at_mut(4);
        d.copy_from_slice(&domain.0);
        let (r, executor) = rest.split_at_mut(4);
        r.copy_from_slice(&(role as i32).to_le_bytes());
        executor.copy_from_slice(duty_executor_id);
        Self(id)
    }

    /// The message id of a validator-role runner.
    pub fn for_validator(domain: DomainType, role: RunnerRole, pubkey: &BlsPublicKeyBytes) -> Self {
        Self::new(domain, role, pubkey)
    }

    /// The message id of a committee-role runner: 16 zero bytes then the committee id.
    pub fn for_committee(domain: DomainType, role: RunnerRole, committee_id: &[u8; 32]) -> Self {
        let mut executor = [0u8; 48];
        executor[16..].copy_from_slice(committee_id);
        Self::new(domain, role, &executor)
    }

    /// The domain type (bytes 0..4).
    pub fn domain(&self) -> DomainType {
        let [a, b, c, d, ..] = self.0;
        DomainType([a, b, c, d])
    }

    /// The raw role value (bytes 4..8, int32 little-endian); may be unknown.
    pub fn role_value(&self) -> i32 {
        let [_, _, _, _, a, b, c, d, ..] = self.0;
        i32::from_le_bytes([a, b, c, d])
    }

    /// The role, or `None` when bytes 4..8 hold an unknown value.
    pub fn role(&self) -> Option<RunnerRole> {
        RunnerRole::from_i32(self.role_value())
    }

    /// The 48-byte duty executor id (bytes 8..56).
    pub fn duty_executor_id(&self) -> &[u8; 48] {
        let (_, tail) = self.0.split_first_chunk::<8>().unwrap_or((&[0; 8], &[]));
        // The array is 56 bytes, so the tail is exactly 48; the fallback is unreachable.
        tail.first_chunk::<48>().unwrap_or(&[0; 48])
    }

    /// `ValidatorPK.MessageIDBelongs`: whether the duty executor id is this validator's
    /// public key.
    pub fn belongs_to_validator(&self, pubkey: &BlsPublicKeyBytes) -> bool {
        self.duty_executor_id() == pubkey
    }

    /// For a committee role: the committee id that the executor id carries (its last 32 bytes).
    pub fn committee_id(&self) -> &[u8; 32] {
        self.duty_executor_id().last_chunk::<32>().unwrap_or(&[0; 32])
    }
}

impl std::fmt::Debug for MessageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MessageId({})", hex::encode(self.0))
    }
}

impl tree_hash::TreeHash for MessageId {
    fn tree_hash_type() -> tree_hash::TreeHashType {
        <[u8; 56]>::tree_hash_type()
    }

    fn tree_hash_packed_encoding(&self) -> tree_hash::PackedEncoding {
        self.0.tree_hash_packed_encoding()
    }

    fn tree_hash_packing_factor() -> usize {
        <[u8; 56]>::tree_hash_packing_factor()
    }

    fn tree_hash_root(&self) -> tree_hash::Hash256 {
        self.0.tree_hash_root()
    }
}

impl From<[u8; 56]> for MessageId {
    fn from(bytes: [u8; 56]) -> Self {
        Self(bytes)
    }
}

/// The message every SSV payload is wrapped in; its SSZ bytes are what operators RSA-sign.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TreeHash)]
pub struct SsvMessage {
    /// Raw [`MsgType`] value; may be unknown on peer data.
    pub msg_type: u64,
    /// Which duty executor, role and domain this message belongs to.
    pub msg_id: MessageId,
    /// SSZ of a `QbftMessage` or `PartialSignatureMessages`, at most 722_412 bytes.
    pub data: VariableList<u8, MaxSsvDataLen>,
}

/// The gossipsub payload: an [`SsvMessage`] with one RSA signature per signer, and the
/// consensus value (`full_data`) that QBFT proposals, round changes and decided messages
/// carry beside it (bound to it through the QBFT message's `root`, not signed itself).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TreeHash)]
pub struct SignedSsvMessage {
    /// RSA-2048 PKCS#1 v1.5 SHA-256 signatures over `ssz(ssv_message)`, one per signer.
    pub signatures: VariableList<RsaSignatureBytes, MaxSigners>,
    /// Signer operator ids, index-aligned with `signatures`.
    pub operator_ids: VariableList<u64, MaxSigners>,
    /// The signed message.
    pub ssv_message: SsvMessage,
    /// The consensus value (SSZ), or empty.
    pub full_data: VariableList<u8, MaxFullDataLen>,
}

impl SsvMessage {
    /// The [`MsgType`], or `None` for a value the spec does not define.
    pub fn known_msg_type(&self) -> Option<MsgType> {
        MsgType::from_u64(self.msg_type)
    }

    /// ssv-spec v1.2.2 defines no `SSVMessage.Validate()` (HEAD/Boole added type and role
    /// checks with codes that v1.2.2 lacks), so every decoded `SSVMessage` is valid here.
    /// Kept so callers validate each layer uniformly; the SSZ bound on `data` (722_412
    /// bytes) is already enforced by decoding.
    ///
    /// # Errors
    /// None in v1.2.2.
    pub fn validate(&self) -> Result<(), ValidationError> {
        Ok(())
    }

    /// Decodes `data` as a [`QbftMessage`](super::QbftMessage) (`qbft.DecodeMessage`).
    ///
    /// The message type is not checked (Go decodes whatever is there).
    ///
    /// # Errors
    /// [`ValidationError::Decode`] (no spec code: Go returns the plain decoder error).
    pub fn decode_qbft(&self) -> Result<super::QbftMessage, ValidationError> {
        use ssz::Decode as _;
        super::QbftMessage::from_ssz_bytes(&self.data)
            .map_err(|e| ValidationError::Decode { what: "qbft message", reason: ssz_reason(&e) })
    }

    /// Decodes `data` as [`PartialSignatureMessages`](super::PartialSignatureMessages).
    ///
    /// # Errors
    /// [`ValidationError::Decode`] (no spec code: Go returns the plain decoder error).
    pub fn decode_partial_signatures(
        &self,
    ) -> Result<super::PartialSignatureMessages, ValidationError> {
        use ssz::Decode as _;
        super::PartialSignatureMessages::from_ssz_bytes(&self.data).map_err(|e| {
            ValidationError::Decode { what: "partial signature messages", reason: ssz_reason(&e) }
        })
    }
}

impl SignedSsvMessage {
    /// `SignedSSVMessage.Validate()` of ssv-spec v1.2.2 (`types/messages.go`): at least one
    /// signer, signers unique and non-zero, at least one signature, none empty, as many
    /// signatures as signers. (The `SSVMessage` itself is not validated in v1.2.2.)
    ///
    /// # Errors
    /// The first failing rule, in Go's order: see [`validate_signed_ssv_message_parts`].
    pub fn validate(&self) -> Result<(), ValidationError> {
        validate_signed_ssv_message_parts(
            &self.operator_ids,
            self.signatures.iter().map(|s| s.len()),
            true,
        )
    }

    /// This message with `full_data` emptied (`WithoutFullData`): the form carried inside
    /// justifications.
    pub fn without_full_data(&self) -> Self {
        Self { full_data: VariableList::empty(), ..self.clone() }
    }

    /// The SSZ bytes of the signed [`SsvMessage`]: what each operator RSA-signs (after
    /// SHA-256).
    pub fn ssv_message_bytes(&self) -> Vec<u8> {
        use ssz::Encode as _;
        self.ssv_message.as_ssz_bytes()
    }

    /// Decodes the consensus message this envelope carries (`NewProcessingMessage`).
    ///
    /// # Errors
    /// As [`SsvMessage::decode_qbft`].
    pub fn decode_qbft(&self) -> Result<super::QbftMessage, ValidationError> {
        self.ssv_message.decode_qbft()
    }

    /// `ProcessingMessage.Validate()`: decodes the QBFT message, then validates this
    /// envelope and the QBFT message (in that order), and returns the decoded message.
    ///
    /// # Errors
    /// A decode error, then the first failure of [`Self::validate`], then of
    /// [`QbftMessage::validate`](super::QbftMessage::validate).
    pub fn validate_consensus(&self) -> Result<super::QbftMessage, ValidationError> {
        let qbft = self.decode_qbft()?;
        self.validate()?;
        qbft.validate()?;
        Ok(qbft)
    }
}
