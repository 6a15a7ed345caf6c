//! The committee an instance runs in, and the pluggable parts of QBFT: proposer selection,
//! value check, round-timeout schedule, signature verification and signing.
//!
//! Each part is a trait with the spec's (or the node's) behaviour as a provided type, so a
//! simulator can plug in cheap fakes and the vector harness the Go test fixtures.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::{SignError, ValueCheckError};
use super::{Round, State, UnixMillis};
use crate::error::ErrorCode;
use crate::types::{DomainType, Height, OperatorId};

/// One committee operator and its RSA public key (`types.Operator`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operator {
    /// The operator's id in the SSVNetwork contract.
    pub operator_id: OperatorId,
    /// Its public key as the spec stores it: the 459-byte PEM ("RSA PUBLIC KEY" label,
    /// PKIX body). A fake verifier may use any bytes.
    pub public_key: Vec<u8>,
}

/// This operator's view of its committee (`types.CommitteeMember`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitteeMember {
    /// This operator's id: the signer of every message the instance emits.
    pub operator_id: OperatorId,
    /// `sha256` of the sorted operator ids as uint32 little-endian.
    pub committee_id: [u8; 32],
    /// This operator's public key.
    pub public_key: Vec<u8>,
    /// `f`, the number of faulty operators tolerated (`n = 3f + 1`).
    pub faulty_nodes: u64,
    /// The committee in the order proposer selection indexes it (ascending ids on chain).
    pub committee: Vec<Operator>,
    /// The SSV domain.
    pub domain_type: DomainType,
}

impl CommitteeMember {
    /// The quorum `2f + 1`.
    pub fn quorum(&self) -> u64 {
        self.faulty_nodes.saturating_mul(2).saturating_add(1)
    }

    /// Whether `count` distinct signers form a quorum (`>= 2f + 1`).
    pub fn has_quorum(&self, count: usize) -> bool {
        count as u64 >= self.quorum()
    }

    /// Whether `count` distinct signers form a partial quorum (`>= f + 1`).
    pub fn has_partial_quorum(&self, count: usize) -> bool {
        count as u64 >= self.faulty_nodes.saturating_add(1)
    }

    /// The committee operator with `id`, if any.
    pub fn operator(&self, id: OperatorId) -> Option<&Operator> {
        self.committee.iter().find(|o| o.operator_id == id)
    }
}

/// Chooses the proposer (leader) of a round (`ProposerF`).
pub trait ProposerSelection: Send + Sync {
    /// The operator that may propose at `round` of the instance in `state`.
    fn proposer(&self, state: &State, round: Round) -> OperatorId;
}

/// The Alan (v1.2.x) round robin: `committee[(height % n + round - 1) % n]`, indexing the
/// committee in the order given (`qbft/round_robin_proposer.go`). An empty committee gives 0.
#[derive(Debug, Clone, Copy, Default)]
pub struct RoundRobinProposer;

impl ProposerSelection for RoundRobinProposer {
    fn proposer(&self, state: &State, round: Round) -> OperatorId {
        let committee = &state.committee.committee;
        let n = committee.len() as u64;
        let Some(first) = state.height.checked_rem(n) else { return 0 };
        let index = first.wrapping_add(round).wrapping_sub(1).checked_rem(n).unwrap_or(0);
        usize::try_from(index).ok().and_then(|i| committee.get(i)).map_or(0, |o| o.operator_id)
    }
}

/// Always the same proposer (the Go test fixtures use operator 1, or 2 at height 10).
#[derive(Debug, Clone, Copy)]
pub struct FixedProposer(pub OperatorId);

impl ProposerSelection for FixedProposer {
    fn proposer(&self, _state: &State, _round: Round) -> OperatorId {
        self.0
    }
}

/// Checks a proposed value's bytes before it is proposed, accepted or started on
/// (`ProposedValueCheckF`). Runners plug in the duty's checks (slashing, checkpoints).
pub trait ValueCheck: Send + Sync {
    /// `Ok` when `value` may be decided.
    ///
    /// # Errors
    /// A [`ValueCheckError`] carrying the spec code of the rejection.
    fn check(&self, value: &[u8]) -> Result<(), ValueCheckError>;
}

impl<F> ValueCheck for F
where
    F: Fn(&[u8]) -> Result<(), ValueCheckError> + Send + Sync,
{
    fn check(&self, value: &[u8]) -> Result<(), ValueCheckError> {
        self(value)
    }
}

/// Accepts any non-empty value: the spec's base rule ("we do not accept nil values").
#[derive(Debug, Clone, Copy, Default)]
pub struct NonEmptyValue;

impl ValueCheck for NonEmptyValue {
    fn check(&self, value: &[u8]) -> Result<(), ValueCheckError> {
        if value.is_empty() {
            return Err(ValueCheckError {
                code: Some(ErrorCode::QbftValueInvalid),
                reason: "empty value".into(),
            });
        }
        Ok(())
    }
}

/// When a round times out. Called once per round start; the result is absolute.
pub trait RoundTimeoutPolicy: Send + Sync {
    /// The deadline of `round` at `height`, for a round that starts at `now`.
    fn deadline(&self, height: Height, round: Round, now: UnixMillis) -> UnixMillis;
}

/// Rounds up to this one use the quick timeout (`QuickTimeoutThreshold`, `qbft/timeout.go`).
pub const QUICK_TIMEOUT_ROUND_MAX: Round = 8;
/// Quick round timeout: 2 s (`QuickTimeout`).
pub const QUICK_TIMEOUT_MS: u64 = 2_000;
/// Slow round timeout after round 8: 2 min (`SlowTimeout`).
pub const SLOW_TIMEOUT_MS: u64 = 120_000;
/// The node's cut-off round (`CutoffRound`): 8·2 s + 4·120 s ≈ one epoch of rounds.
pub const CUT_OFF_ROUND: Round = 12;

/// Shortest quick timeout [`quick_timeout_ms`] gives, for very short test slots.
pub const MIN_QUICK_TIMEOUT_MS: u64 = 500;

/// The quick round timeout of a chain with `slot_ms` slots: [`QUICK_TIMEOUT_MS`] (2 s) on
/// every 12-second chain (all real networks, so the spec's schedule is unchanged), a sixth
/// of the slot on shorter ones (666 ms on a 4-second devnet), never under
/// [`MIN_QUICK_TIMEOUT_MS`]. With 2 s rounds a 4-second slot has no room for a round
/// change after the aggregator and contribution duties start at 2/3 of the slot. Message
/// validation estimates rounds with the same value, so faster rounds are not ignored.
pub fn quick_timeout_ms(slot_ms: u64) -> u64 {
    (slot_ms / 6).clamp(MIN_QUICK_TIMEOUT_MS, QUICK_TIMEOUT_MS)
}

fn relative_timeout_ms(round: Round) -> u64 {
    if round <= QUICK_TIMEOUT_ROUND_MAX { QUICK_TIMEOUT_MS } else { SLOW_TIMEOUT_MS }
}

/// [`relative_timeout_ms`] with the quick timeout of `slot_ms` slots.
fn scaled_relative_timeout_ms(round: Round, slot_ms: u64) -> u64 {
    if round <= QUICK_TIMEOUT_ROUND_MAX { quick_timeout_ms(slot_ms) } else { SLOW_TIMEOUT_MS }
}

/// The spec's schedule, relative to the round start: 2 s up to round 8, then 2 min.
#[derive(Debug, Clone, Copy, Default)]
pub struct SpecTimeouts;

impl RoundTimeoutPolicy for SpecTimeouts {
    fn deadline(&self, _height: Height, round: Round, now: UnixMillis) -> UnixMillis {
        now.saturating_add(relative_timeout_ms(round))
    }
}

/// Where a role's first round deadline is anchored (node `roundtimer/timer.go`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SlotAnchor {
    /// Committee (attester + sync committee): one third into the slot (4 s on mainnet).
    OneThird,
    /// Aggregator and sync-committee contribution: two thirds into the slot (8 s).
    TwoThirds,
    /// Other roles (proposer, ...): relative to the round start, like [`SpecTimeouts`].
    Relative,
}

/// The node's slot-relative schedule: the deadline of round `r` at height (slot) `h` is
/// `slot_start(h) + anchor + additional(r)`, where `additional(r) = r·q` for `r <= 8`
/// and `8·q + (r − 8)·120 s` after, `q` being [`quick_timeout_ms`] of the slot (2 s on
/// 12-second slots). Relative roles use `now + q | 120 s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotRelativeTimeouts {
    /// Genesis time in Unix milliseconds.
    pub genesis_ms: UnixMillis,
    /// Slot duration in milliseconds (12_000 on mainnet).
    pub slot_ms: u64,
    /// The role's anchor.
    pub anchor: SlotAnchor,
}

impl RoundTimeoutPolicy for SlotRelativeTimeouts {
    fn deadline(&self, height: Height, round: Round, now: UnixMillis) -> UnixMillis {
        let anchor_ms = match self.anchor {
            SlotAnchor::OneThird => self.slot_ms / 3,
            SlotAnchor::TwoThirds => self.slot_ms.saturating_mul(2) / 3,
            SlotAnchor::Relative => {
                return now.saturating_add(scaled_relative_timeout_ms(round, self.slot_ms));
            }
        };
        let quick_ms = quick_timeout_ms(self.slot_ms);
        let additional_ms = if round <= QUICK_TIMEOUT_ROUND_MAX {
            round.saturating_mul(quick_ms)
        } else {
            (QUICK_TIMEOUT_ROUND_MAX.saturating_mul(quick_ms)).saturating_add(
                round.saturating_sub(QUICK_TIMEOUT_ROUND_MAX).saturating_mul(SLOW_TIMEOUT_MS),
            )
        };
        self.genesis_ms
            .saturating_add(height.saturating_mul(self.slot_ms))
            .saturating_add(anchor_ms)
            .saturating_add(additional_ms)
    }
}

/// Verifies one operator signature over the SSZ bytes of an `SSVMessage`.
pub trait SignatureVerifier: Send + Sync {
    /// Whether `signature` is `public_key`'s signature over `message`.
    fn verify(&self, public_key: &[u8], message: &[u8], signature: &[u8]) -> bool;
}

/// Signs the SSZ bytes of an `SSVMessage` as this operator (`types.OperatorSigner`).
///
/// Signing happens inside the state machine so emitted messages are final: the vectors
/// compare them byte for byte, and PKCS#1 v1.5 is deterministic.
pub trait OperatorSigner: Send + Sync {
    /// This operator's signature over `message`.
    ///
    /// # Errors
    /// [`SignError`] when the key cannot sign.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError>;
}

/// A cheap, insecure signature scheme for simulations and property tests:
/// `signature = sha256(public_key ‖ message)`. Anyone who knows the public key can forge
/// it, so it only models honest-but-faulty members (silence, equivocation, delays).
#[derive(Debug, Clone, Default)]
pub struct FakeSignatures {
    /// The signer's public key (unused by verification).
    pub public_key: Vec<u8>,
}

impl FakeSignatures {
    fn digest(public_key: &[u8], message: &[u8]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(public_key);
        h.update(message);
        h.finalize().into()
    }
}

impl SignatureVerifier for FakeSignatures {
    fn verify(&self, public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
        Self::digest(public_key, message).as_slice() == signature
    }
}

impl OperatorSigner for FakeSignatures {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        Ok(Self::digest(&self.public_key, message).to_vec())
    }
}

/// Everything an instance needs besides its state. Shared by a controller's instances.
pub struct QbftConfig {
    /// Proposer selection (default [`RoundRobinProposer`]).
    pub proposer: Box<dyn ProposerSelection>,
    /// Value check.
    pub value_check: Box<dyn ValueCheck>,
    /// Round timeout schedule.
    pub timeouts: Box<dyn RoundTimeoutPolicy>,
    /// Verifier of justification and decided-message signatures.
    pub verifier: Box<dyn SignatureVerifier>,
    /// This operator's signer.
    pub signer: Box<dyn OperatorSigner>,
    /// An instance whose round reaches this stops processing messages and timeouts.
    pub cut_off_round: Round,
}

impl std::fmt::Debug for QbftConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QbftConfig")
            .field("cut_off_round", &self.cut_off_round)
            .finish_non_exhaustive()
    }
}

/// The spec's operator signatures: RSA-2048 PKCS#1 v1.5 SHA-256, with public keys as the
/// spec's PEM (`types.Verify`). Parses the key on each call; a shell that verifies many
/// messages should cache parsed keys in its own verifier.
#[derive(Debug, Clone, Copy, Default)]
pub struct RsaVerifier;

impl SignatureVerifier for RsaVerifier {
    fn verify(&self, public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
        crate::crypto::rsa::OperatorPublicKey::from_pem(public_key)
            .is_ok_and(|key| key.verify(message, signature).is_ok())
    }
}

/// A signer shared by many instances, as a node shares its one parsed operator key (the
/// key's one-time set-up is then paid once, not per instance).
impl<T: OperatorSigner + ?Sized> OperatorSigner for std::sync::Arc<T> {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        (**self).sign(message)
    }
}

/// Signs with this operator's RSA key (`types.OperatorSigner`).
#[derive(Debug)]
pub struct RsaSigner(pub crate::crypto::rsa::OperatorPrivateKey);

impl OperatorSigner for RsaSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        self.0.sign(message).map(|s| s.to_vec()).map_err(|e| SignError(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_timeout_is_the_spec_value_on_twelve_second_slots_and_scales_below() {
        assert_eq!(quick_timeout_ms(12_000), QUICK_TIMEOUT_MS);
        assert_eq!(quick_timeout_ms(24_000), QUICK_TIMEOUT_MS);
        assert_eq!(quick_timeout_ms(4_000), 666);
        assert_eq!(quick_timeout_ms(1_000), MIN_QUICK_TIMEOUT_MS);
    }

    #[test]
    fn slot_relative_deadlines_use_the_slot_quick_timeout() {
        let t = |slot_ms, anchor| SlotRelativeTimeouts { genesis_ms: 1_000_000, slot_ms, anchor };
        // Mainnet: an aggregator's round 1 ends at 8 s + 2 s, round 9 at 8 s + 16 s + 120 s.
        let agg = t(12_000, SlotAnchor::TwoThirds);
        assert_eq!(agg.deadline(2, 1, 0), 1_000_000 + 24_000 + 8_000 + 2_000);
        assert_eq!(agg.deadline(2, 9, 0), 1_000_000 + 24_000 + 8_000 + 16_000 + 120_000);
        // 4-second slots: the contribution's round 2 still ends inside its slot.
        let scc = t(4_000, SlotAnchor::TwoThirds);
        assert_eq!(scc.deadline(2, 1, 0), 1_000_000 + 8_000 + 2_666 + 666);
        assert!(scc.deadline(2, 2, 0) < 1_000_000 + 3 * 4_000);
        assert_eq!(t(4_000, SlotAnchor::Relative).deadline(2, 1, 50), 50 + 666);
        assert_eq!(t(12_000, SlotAnchor::Relative).deadline(2, 1, 50), 50 + QUICK_TIMEOUT_MS);
    }
}
