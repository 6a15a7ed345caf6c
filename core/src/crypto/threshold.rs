//! Shamir splitting of a validator key and Lagrange reconstruction of signatures.
//!
//! A validator secret `s` is shared among the operators of a committee as the values of a
//! polynomial `p(x) = s + a_1·x + … + a_{t−1}·x^{t−1}` over the BLS12-381 scalar field, at
//! `x = operator id` (not the operator's index in the committee: ssv-spec and ssv-keys
//! evaluate herumi's `Set` at the ids). Any `t` shares determine `p`, so any `t` partial
//! signatures `p(x_i)·H(m)` combine to `s·H(m)` with the Lagrange coefficients at 0:
//! `λ_i = Π_{j≠i} x_j / (x_j − x_i) mod r`. SSV uses `t = 2f + 1` of `n = 3f + 1`.
//!
//! Source: ssv-spec v1.2.2 `types/crypto.go` (`ReconstructSignatures`, herumi
//! `Sign.Recover`) and `types/partial_sig_container.go` (`ReconstructSignature`,
//! `VerifyReconstructedSignature`). The core draws no randomness: the split takes the
//! polynomial's coefficients from the caller.

use std::collections::BTreeMap;

use bls12_381::Scalar;
use blst::{MultiPoint, min_pk};
use zeroize::{Zeroize, Zeroizing};

use super::bls::{BlsError, PublicKey, SecretKey, Signature};
use crate::error::{ErrorCode, SpecError};
use crate::types::OperatorId;

/// Bits in a scalar of the BLS12-381 group order r (the multi-scalar multiplication width).
const SCALAR_BITS: usize = 255;

/// How many signer sets a [`LagrangeCache`] keeps by default. An operator sees at most a
/// few signer sets per committee in steady state (the first quorum to arrive, which is
/// usually the same operators); 256 covers dozens of committees without growing without
/// bound when peers vary their quorums.
pub const LAGRANGE_CACHE_CAPACITY_DEFAULT: usize = 256;

/// Why a secret could not be split.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    /// No operator ids were given.
    #[error("no operators to share the secret among")]
    NoOperators,
    /// Operator id 0 would hand out the secret itself (`p(0) = s`).
    #[error("operator id 0 cannot hold a share")]
    ZeroOperatorId,
    /// The same operator id appears twice.
    #[error("operator {0} appears twice")]
    DuplicateOperator(OperatorId),
    /// The threshold (number of coefficients + 1) exceeds the number of operators.
    #[error("threshold {threshold} exceeds the {operators} operators")]
    ThresholdTooHigh {
        /// The threshold asked for.
        threshold: usize,
        /// The number of operators.
        operators: usize,
    },
    /// The highest coefficient reduced to 0, so the polynomial would have a lower degree
    /// and fewer shares than the threshold would reveal the secret.
    #[error("the highest coefficient is zero")]
    ZeroLeadingCoefficient,
    /// A share evaluated to 0, which is not a valid secret key (probability ≈ n/r).
    #[error("the share of operator {0} is zero; draw new coefficients")]
    ZeroShare(OperatorId),
}

/// Why a signature (or secret) could not be reconstructed from shares.
///
/// Every variant maps to the spec's `ReconstructSignatureErrorCode` (34).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReconstructError {
    /// No partial signatures (or shares) were given.
    #[error("no partial signatures to reconstruct from")]
    Empty,
    /// Operator id 0 is never a valid signer.
    #[error("operator id 0 is not a valid signer")]
    ZeroOperatorId,
    /// The same operator signed twice; the caller must keep one partial signature per signer.
    #[error("operator {0} appears twice")]
    DuplicateSigner(OperatorId),
    /// The reconstructed signature does not verify against the validator public key: a
    /// partial signature was wrong, or there were fewer than a quorum of them.
    #[error("reconstructed signature does not verify against the validator public key")]
    InvalidReconstructedSignature,
    /// The reconstructed secret was zero (the shares were not of one valid key).
    #[error("reconstructed secret is not a valid key: {0}")]
    InvalidSecret(BlsError),
}

impl SpecError for ReconstructError {
    fn code(&self) -> Option<ErrorCode> {
        Some(ErrorCode::ReconstructSignature)
    }
}

/// One operator's share of a validator key: `p(operator_id)`.
#[derive(Debug, Clone)]
pub struct SecretShare {
    /// The operator holding the share; the x-coordinate of the share.
    pub operator_id: OperatorId,
    /// The share as a BLS secret key (zeroised on drop).
    pub secret_key: SecretKey,
}

impl SecretShare {
    /// The share public key `p(operator_id)·G1`, which the operator's partial signatures
    /// verify against.
    pub fn public_key(&self) -> PublicKey {
        self.secret_key.public_key()
    }
}

fn scalar_from_secret(secret: &SecretKey) -> Scalar {
    let mut le = *secret.to_bytes();
    le.reverse();
    // A SecretKey is below r by construction, so the canonical decode succeeds; fall back
    // to the wide reduction (same value) rather than unwrap.
    let scalar = Option::<Scalar>::from(Scalar::from_bytes(&le)).unwrap_or_else(|| {
        let mut wide = [0u8; 64];
        for (dst, src) in wide.iter_mut().zip(le.iter()) {
            *dst = *src;
        }
        let s = Scalar::from_bytes_wide(&wide);
        wide.zeroize();
        s
    });
    le.zeroize();
    scalar
}

fn secret_from_scalar(scalar: &Scalar) -> Result<SecretKey, BlsError> {
    let mut be = Zeroizing::new(scalar.to_bytes());
    be.reverse();
    SecretKey::from_bytes(be.as_ref())
}

/// Splits `secret` into one share per operator in `operator_ids`, as the values at
/// `x = operator id` of the polynomial whose constant term is the secret and whose other
/// coefficients come from `coefficients` (threshold = `coefficients.len() + 1`).
///
/// Each coefficient is 64 random bytes, reduced modulo r (little-endian, the unbiased wide
/// reduction), so the caller can pass raw output of a CSPRNG. For SSV's `n = 3f + 1`
/// operators pass `2f` coefficients (threshold `2f + 1`). Shares come back in the order of
/// `operator_ids`.
///
/// # Errors
/// [`SplitError`]: no operators, an id of 0, a repeated id, a threshold above the number of
/// operators, a zero leading coefficient, or a share that evaluates to 0.
pub fn split_secret(
    secret: &SecretKey,
    operator_ids: &[OperatorId],
    coefficients: &[[u8; 64]],
) -> Result<Vec<SecretShare>, SplitError> {
    if operator_ids.is_empty() {
        return Err(SplitError::NoOperators);
    }
    let threshold = coefficients.len().saturating_add(1);
    if threshold > operator_ids.len() {
        return Err(SplitError::ThresholdTooHigh { threshold, operators: operator_ids.len() });
    }
    let mut seen = std::collections::BTreeSet::new();
    for &id in operator_ids {
        if id == 0 {
            return Err(SplitError::ZeroOperatorId);
        }
        if !seen.insert(id) {
            return Err(SplitError::DuplicateOperator(id));
        }
    }
    // poly[k] is the coefficient of x^k.
    let mut poly: Vec<Scalar> = Vec::with_capacity(threshold);
    poly.push(scalar_from_secret(secret));
    poly.extend(coefficients.iter().map(Scalar::from_bytes_wide));
    if !coefficients.is_empty() && poly.last() == Some(&Scalar::zero()) {
        poly.zeroize();
        return Err(SplitError::ZeroLeadingCoefficient);
    }
    let mut shares = Vec::with_capacity(operator_ids.len());
    for &id in operator_ids {
        let x = Scalar::from(id);
        // Horner: p(x) = (…(a_{t−1}·x + a_{t−2})·x + …)·x + a_0.
        let mut y = poly.iter().rev().fold(Scalar::zero(), |acc, a| acc * x + a);
        let share = secret_from_scalar(&y);
        y.zeroize();
        match share {
            Ok(secret_key) => shares.push(SecretShare { operator_id: id, secret_key }),
            Err(_) => {
                poly.zeroize();
                return Err(SplitError::ZeroShare(id));
            }
        }
    }
    poly.zeroize();
    Ok(shares)
}

/// Checks the signer set: non-empty, no id 0, no repeats. Returns the ids sorted.
fn sorted_signers(
    ids: impl Iterator<Item = OperatorId>,
) -> Result<Vec<OperatorId>, ReconstructError> {
    let mut sorted: Vec<OperatorId> = ids.collect();
    if sorted.is_empty() {
        return Err(ReconstructError::Empty);
    }
    sorted.sort_unstable();
    if sorted.first() == Some(&0) {
        return Err(ReconstructError::ZeroOperatorId);
    }
    for pair in sorted.windows(2) {
        if let [a, b] = pair
            && a == b
        {
            return Err(ReconstructError::DuplicateSigner(*a));
        }
    }
    Ok(sorted)
}

/// The Lagrange coefficients at 0 for distinct non-zero `ids`, in the order of `ids`:
/// `λ_i = Π_{j≠i} x_j / (x_j − x_i)`.
///
/// Distinct ids below r make every denominator non-zero; the `unwrap_or` is unreachable
/// for ids that passed [`sorted_signers`] (u64 ids are far below r).
fn lagrange_at_zero(ids: &[OperatorId]) -> Vec<Scalar> {
    let xs: Vec<Scalar> = ids.iter().map(|&id| Scalar::from(id)).collect();
    xs.iter()
        .enumerate()
        .map(|(i, xi)| {
            let (num, den) = xs
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .fold((Scalar::one(), Scalar::one()), |(num, den), (_, xj)| {
                    (num * xj, den * (xj - xi))
                });
            num * Option::<Scalar>::from(den.invert()).unwrap_or(Scalar::zero())
        })
        .collect()
}

/// A bounded cache of Lagrange coefficients per signer set, owned by the caller (one per
/// operator node is enough). Keys are sorted operator-id lists; values are the coefficients
/// at 0 as little-endian 32-byte scalars, ready for blst's multi-scalar multiplication.
///
/// When full, the least recently used set is evicted, so memory stays under `capacity`
/// entries (each at most 13 ids and 13 × 32 bytes).
#[derive(Debug, Clone)]
pub struct LagrangeCache {
    entries: BTreeMap<Vec<OperatorId>, CacheEntry>,
    capacity: usize,
    clock: u64,
}

#[derive(Debug, Clone)]
struct CacheEntry {
    last_used: u64,
    coefficients_le: Vec<u8>,
}

impl Default for LagrangeCache {
    fn default() -> Self {
        Self::new(LAGRANGE_CACHE_CAPACITY_DEFAULT)
    }
}

impl LagrangeCache {
    /// An empty cache holding at most `capacity` signer sets (at least 1).
    pub fn new(capacity: usize) -> Self {
        Self { entries: BTreeMap::new(), capacity: capacity.max(1), clock: 0 }
    }

    /// How many signer sets are cached.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The coefficients for `sorted_ids` (sorted, distinct, non-zero), concatenated
    /// little-endian, computing and caching them on a miss.
    fn coefficients_le(&mut self, sorted_ids: &[OperatorId]) -> Vec<u8> {
        self.clock = self.clock.wrapping_add(1);
        if let Some(entry) = self.entries.get_mut(sorted_ids) {
            entry.last_used = self.clock;
            return entry.coefficients_le.clone();
        }
        let coefficients_le: Vec<u8> =
            lagrange_at_zero(sorted_ids).iter().flat_map(Scalar::to_bytes).collect();
        if self.entries.len() >= self.capacity {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, entry)| entry.last_used)
                .map(|(key, _)| key.clone());
            if let Some(oldest) = oldest {
                self.entries.remove(&oldest);
            }
        }
        self.entries.insert(
            sorted_ids.to_vec(),
            CacheEntry { last_used: self.clock, coefficients_le: coefficients_le.clone() },
        );
        coefficients_le
    }
}

/// Combines partial signatures `(operator id, p(id)·H(m))` into `Σ λ_i·sig_i` with one
/// blst multi-scalar multiplication. With at least a threshold of correct partial
/// signatures over the same message this is the validator's signature; otherwise it is some
/// other point, so callers should use [`reconstruct_and_verify`].
///
/// # Errors
/// [`ReconstructError::Empty`], [`ReconstructError::ZeroOperatorId`],
/// [`ReconstructError::DuplicateSigner`].
pub fn reconstruct_signature(
    partials: &[(OperatorId, Signature)],
    cache: &mut LagrangeCache,
) -> Result<Signature, ReconstructError> {
    let sorted = sorted_signers(partials.iter().map(|(id, _)| *id))?;
    let by_id: BTreeMap<OperatorId, &Signature> =
        partials.iter().map(|(id, sig)| (*id, sig)).collect();
    let points: Vec<min_pk::Signature> = by_id.values().map(|sig| *sig.as_blst()).collect();
    let scalars = cache.coefficients_le(&sorted);
    let expected_len = points.len().saturating_mul(32);
    if points.is_empty() || scalars.len() != expected_len {
        // Unreachable: one coefficient per distinct signer. Guarded so blst never panics.
        return Err(ReconstructError::Empty);
    }
    let combined = points.as_slice().mult(&scalars, SCALAR_BITS);
    Ok(Signature::from_blst(combined.to_signature()))
}

/// Reconstructs the validator signature over `signing_root` from partial signatures and
/// checks it against `validator_public_key` (ssv-spec `PartialSigContainer.ReconstructSignature`
/// then `VerifyReconstructedSignature`).
///
/// The caller passes one partial signature per signer (each already verified against its
/// share public key, as the spec does on receipt) once it holds a quorum.
///
/// # Errors
/// As [`reconstruct_signature`], and [`ReconstructError::InvalidReconstructedSignature`]
/// when the result does not verify. All map to `ReconstructSignatureErrorCode`.
pub fn reconstruct_and_verify(
    partials: &[(OperatorId, Signature)],
    validator_public_key: &PublicKey,
    signing_root: &[u8; 32],
    cache: &mut LagrangeCache,
) -> Result<Signature, ReconstructError> {
    let signature = reconstruct_signature(partials, cache)?;
    signature
        .verify(validator_public_key, signing_root)
        .map_err(|_| ReconstructError::InvalidReconstructedSignature)?;
    Ok(signature)
}

/// Reconstructs the shared secret `p(0)` from shares by Lagrange interpolation (for key
/// tooling and tests; operators never hold a quorum of shares).
///
/// # Errors
/// [`ReconstructError::Empty`], [`ReconstructError::ZeroOperatorId`],
/// [`ReconstructError::DuplicateSigner`], or [`ReconstructError::InvalidSecret`] when the
/// interpolated value is 0.
pub fn reconstruct_secret(shares: &[SecretShare]) -> Result<SecretKey, ReconstructError> {
    let sorted = sorted_signers(shares.iter().map(|s| s.operator_id))?;
    let by_id: BTreeMap<OperatorId, &SecretShare> =
        shares.iter().map(|s| (s.operator_id, s)).collect();
    let lambdas = lagrange_at_zero(&sorted);
    let mut secret =
        by_id.values().zip(lambdas.iter()).fold(Scalar::zero(), |acc, (share, lambda)| {
            let mut y = scalar_from_secret(&share.secret_key);
            let term = y * lambda;
            y.zeroize();
            acc + term
        });
    let key = secret_from_scalar(&secret).map_err(ReconstructError::InvalidSecret);
    secret.zeroize();
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lagrange_coefficients_sum_to_one() {
        // p(x) = 1 is interpolated exactly, so Σ λ_i · 1 = p(0) = 1.
        let lambdas = lagrange_at_zero(&[1, 2, 3]);
        let sum: Scalar = lambdas.iter().sum();
        assert_eq!(sum, Scalar::one());
        // For ids 1, 2, 3: λ = 3, −3, 1.
        assert_eq!(lambdas[0], Scalar::from(3u64));
        assert_eq!(lambdas[1], -Scalar::from(3u64));
        assert_eq!(lambdas[2], Scalar::one());
    }

    #[test]
    fn cache_is_bounded_and_evicts_least_recently_used() {
        let mut cache = LagrangeCache::new(2);
        let a = cache.coefficients_le(&[1, 2, 3]);
        cache.coefficients_le(&[1, 2, 4]);
        assert_eq!(cache.coefficients_le(&[1, 2, 3]), a);
        cache.coefficients_le(&[2, 3, 4]);
        assert_eq!(cache.len(), 2);
        assert!(cache.entries.contains_key(&vec![1, 2, 3]));
        assert!(!cache.entries.contains_key(&vec![1, 2, 4]));
    }

    #[test]
    fn rejects_bad_signer_sets() {
        let sig = SecretKey::from_bytes(&[1u8; 32]).unwrap().sign(b"m");
        let mut cache = LagrangeCache::default();
        assert_eq!(reconstruct_signature(&[], &mut cache), Err(ReconstructError::Empty));
        assert_eq!(
            reconstruct_signature(&[(0, sig)], &mut cache),
            Err(ReconstructError::ZeroOperatorId)
        );
        assert_eq!(
            reconstruct_signature(&[(2, sig), (2, sig)], &mut cache),
            Err(ReconstructError::DuplicateSigner(2))
        );
    }
}
