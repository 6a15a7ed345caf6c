//! The partial-signature container (ssv-spec v1.2.2 `ssv/partial_sig_container.go`).
//!
//! Partial signatures are collected per (validator index, signing root, signer) without
//! verification; quorum is detected by count, the validator signature is reconstructed by
//! Lagrange interpolation at 0 and verified against the validator public key. When that
//! fails, the runner verifies each partial signature and drops the invalid ones
//! ([`PartialSigContainer::drop_invalid`]).
//!
//! The BLS arithmetic is pluggable ([`ThresholdBls`]): [`BlstThresholdBls`] is the real
//! one (the default of every runner); a shell may answer from signatures it verified
//! beforehand, a simulator may use hash-based stand-ins.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::crypto::bls::{PublicKey, Signature, SignatureSet, verify_batch};
use crate::crypto::threshold::{LagrangeCache, ReconstructError, reconstruct_signature};
use crate::types::{
    BlsPublicKeyBytes, BlsSignatureBytes, OperatorId, PartialSignatureMessage, Root, ValidatorIndex,
};

/// One quorum to reconstruct: the partial signatures held over `root` for the validator
/// whose public key is `validator_pub_key`, by signer (operator id = share index).
#[derive(Debug, Clone, Copy)]
pub struct QuorumSet<'a> {
    /// The validator's public key (48-byte compressed G1), which the result must verify
    /// against.
    pub validator_pub_key: &'a BlsPublicKeyBytes,
    /// The 32-byte signing root every partial signature signs.
    pub root: &'a Root,
    /// The partial signatures (96-byte compressed G2), one per signer.
    pub partials: &'a SignerSignatures,
}

/// The threshold-BLS operations a runner needs: verifying one partial signature and
/// reconstructing (and verifying) a validator signature from a quorum of them.
///
/// Runners hold it as `Arc<dyn ThresholdBls>` ([`crate::runner::CommitteeRunner::with_bls`],
/// [`crate::runner::ValidatorRunner::with_bls`]); the default is [`BlstThresholdBls`].
///
/// # Contract
/// - Pure and deterministic: the answer depends only on the arguments (and on facts the
///   implementation established from earlier identical inputs, such as a cache of
///   signatures it already verified), so replaying a core's inputs reproduces its outputs.
///   Never panics.
/// - [`ThresholdBls::verify_partial`] is true exactly when `sig` is the BLS signature of
///   the share key `share_key` over `root` (ssv-spec `verifyBeaconPartialSignature`); a
///   malformed key or signature is false.
/// - [`ThresholdBls::reconstruct`] returns the Lagrange interpolation at 0 of the partial
///   signatures (ssv-spec `ReconstructSignature`) only when it verifies against the
///   validator key over the root (`VerifyReconstructedSignature`); otherwise an error
///   ([`ReconstructError::InvalidReconstructedSignature`] for a malformed or non-verifying
///   input). The result is the same whichever quorum of valid partials is given.
/// - [`ThresholdBls::reconstruct_batch`] returns, item by item, exactly what
///   [`ThresholdBls::reconstruct`] would; it may check all results at once (a random
///   linear combination whose scalars derive from `seed`) and must fall back to
///   per-item checks when the batch fails.
/// - `cache` is the caller's Lagrange-coefficient cache; implementations that do no curve
///   arithmetic may ignore it.
pub trait ThresholdBls: Send + Sync + std::fmt::Debug {
    /// Whether `sig` is the share key `share_key`'s signature over `root`.
    fn verify_partial(
        &self,
        share_key: &BlsPublicKeyBytes,
        sig: &BlsSignatureBytes,
        root: &Root,
    ) -> bool;

    /// The validator signature reconstructed from `quorum` and verified.
    ///
    /// # Errors
    /// [`ReconstructError`] (spec code `ReconstructSignature`) when nothing is held, a
    /// signer id is 0, a signature or key does not decode, or the result does not verify.
    fn reconstruct(
        &self,
        quorum: QuorumSet<'_>,
        cache: &mut LagrangeCache,
    ) -> Result<BlsSignatureBytes, ReconstructError>;

    /// [`ThresholdBls::reconstruct`] of each quorum, in order. The default reconstructs
    /// them one by one; `seed` (32 bytes) feeds the batch's random scalars when the
    /// implementation checks the results together.
    fn reconstruct_batch(
        &self,
        quorums: &[QuorumSet<'_>],
        seed: &[u8; 32],
        cache: &mut LagrangeCache,
    ) -> Vec<Result<BlsSignatureBytes, ReconstructError>> {
        let _ = seed;
        quorums.iter().map(|q| self.reconstruct(*q, cache)).collect()
    }
}

/// The real BLS12-381 threshold operations (blst), as the spec does them; its
/// [`ThresholdBls::reconstruct_batch`] reconstructs every quorum and verifies all results
/// with one multi-pairing ([`verify_batch`]), re-checking one by one when that fails.
#[derive(Debug, Clone, Copy, Default)]
pub struct BlstThresholdBls;

impl ThresholdBls for BlstThresholdBls {
    fn verify_partial(
        &self,
        share_key: &BlsPublicKeyBytes,
        sig: &BlsSignatureBytes,
        root: &Root,
    ) -> bool {
        verify_partial(Some(share_key), sig, root)
    }

    fn reconstruct(
        &self,
        quorum: QuorumSet<'_>,
        cache: &mut LagrangeCache,
    ) -> Result<BlsSignatureBytes, ReconstructError> {
        let (partials, pk) = decode_quorum(quorum)?;
        let sig = reconstruct_in_group(&partials, cache)?;
        sig.verify(&pk, quorum.root)
            .map_err(|_| ReconstructError::InvalidReconstructedSignature)?;
        Ok(sig.to_bytes())
    }

    fn reconstruct_batch(
        &self,
        quorums: &[QuorumSet<'_>],
        seed: &[u8; 32],
        cache: &mut LagrangeCache,
    ) -> Vec<Result<BlsSignatureBytes, ReconstructError>> {
        if quorums.len() < 2 {
            return quorums.iter().map(|q| self.reconstruct(*q, cache)).collect();
        }
        // Reconstruct everything, then verify the decodable results in one batch.
        let combined: Vec<Result<(Signature, PublicKey), ReconstructError>> = quorums
            .iter()
            .map(|q| {
                let (partials, pk) = decode_quorum(*q)?;
                Ok((reconstruct_in_group(&partials, cache)?, pk))
            })
            .collect();
        let sets: Vec<SignatureSet<'_>> = combined
            .iter()
            .zip(quorums)
            .filter_map(|(c, q)| {
                let (signature, public_key) = c.as_ref().ok()?;
                Some(SignatureSet { public_key, message: q.root, signature })
            })
            .collect();
        let batch_ok = !sets.is_empty() && verify_batch(&sets, seed).is_ok();
        combined
            .into_iter()
            .zip(quorums)
            .map(|(c, q)| {
                let (sig, pk) = c?;
                if batch_ok || sig.verify(&pk, q.root).is_ok() {
                    Ok(sig.to_bytes())
                } else {
                    Err(ReconstructError::InvalidReconstructedSignature)
                }
            })
            .collect()
    }
}

/// Decodes a quorum's partial signatures (points on the curve; [`reconstruct_in_group`]
/// checks the subgroup of their combination) and validator key.
fn decode_quorum(
    quorum: QuorumSet<'_>,
) -> Result<(Vec<(OperatorId, Signature)>, PublicKey), ReconstructError> {
    let mut partials = Vec::with_capacity(quorum.partials.len());
    for (signer, sig) in quorum.partials {
        let sig = Signature::from_bytes_on_curve(sig)
            .map_err(|_| ReconstructError::InvalidReconstructedSignature)?;
        partials.push((*signer, sig));
    }
    let pk = PublicKey::from_bytes(quorum.validator_pub_key)
        .map_err(|_| ReconstructError::InvalidReconstructedSignature)?;
    Ok((partials, pk))
}

/// Lagrange-combines `partials` (decoded without their subgroup checks) and checks that
/// the result is in the G2 subgroup: one check instead of one per partial
/// ([`Signature::from_bytes_on_curve`] says why that is enough). The verification that
/// follows (alone or batched, which needs subgroup points) needs no further check.
///
/// # Errors
/// As [`reconstruct_signature`]; [`ReconstructError::InvalidReconstructedSignature`] for a
/// result outside the subgroup.
fn reconstruct_in_group(
    partials: &[(OperatorId, Signature)],
    cache: &mut LagrangeCache,
) -> Result<Signature, ReconstructError> {
    let sig = reconstruct_signature(partials, cache)?;
    sig.check_subgroup().map_err(|_| ReconstructError::InvalidReconstructedSignature)?;
    Ok(sig)
}

/// The batch seed of `quorums`: SHA-256 over every (validator key, root, signer, partial
/// signature), so the batch's scalars are fixed only once all signatures are (Fiat-Shamir;
/// the core has no RNG). A forger who controls some partial signatures must grind about
/// 2^64 hashes per accepted bad batch (64-bit scalars); failures fall back to per-item
/// checks, so a bad batch costs time, never a wrong verdict, unless that grinding succeeds.
pub fn batch_seed(quorums: &[QuorumSet<'_>]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"ssv-rs/threshold-batch/v1");
    for q in quorums {
        h.update(q.validator_pub_key);
        h.update(q.root);
        for (signer, sig) in q.partials {
            h.update(signer.to_le_bytes());
            h.update(sig);
        }
    }
    h.finalize().into()
}

/// Signatures of one signing root, by signer.
pub type SignerSignatures = BTreeMap<OperatorId, BlsSignatureBytes>;

/// `PartialSigContainer`: validator index → signing root → signer → partial signature.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PartialSigContainer {
    /// The collected signatures.
    pub signatures: BTreeMap<ValidatorIndex, BTreeMap<Root, SignerSignatures>>,
    /// Signatures needed to reconstruct (`2f + 1`).
    pub quorum: u64,
}

impl PartialSigContainer {
    /// An empty container with `quorum`.
    pub fn new(quorum: u64) -> Self {
        Self { signatures: BTreeMap::new(), quorum }
    }

    /// `AddSignature`: keeps the first signature of a signer for a root.
    pub fn add(&mut self, msg: &PartialSignatureMessage) {
        self.signatures
            .entry(msg.validator_index)
            .or_default()
            .entry(msg.signing_root)
            .or_default()
            .entry(msg.signer)
            .or_insert(msg.partial_signature);
    }

    /// The signature of `signer` over `root` for `validator`, if held.
    pub fn get(
        &self,
        validator: ValidatorIndex,
        signer: OperatorId,
        root: &Root,
    ) -> Option<&BlsSignatureBytes> {
        self.signatures.get(&validator)?.get(root)?.get(&signer)
    }

    /// Whether `signer`'s signature over `root` for `validator` is held.
    pub fn has(&self, validator: ValidatorIndex, signer: OperatorId, root: &Root) -> bool {
        self.get(validator, signer, root).is_some()
    }

    /// All signatures over `root` for `validator`.
    pub fn signatures_for(
        &self,
        validator: ValidatorIndex,
        root: &Root,
    ) -> Option<&SignerSignatures> {
        self.signatures.get(&validator)?.get(root)
    }

    /// `Remove`: forgets `signer`'s signature over `root` (empty maps are kept, as in Go).
    pub fn remove(&mut self, validator: ValidatorIndex, signer: OperatorId, root: &Root) {
        if let Some(m) = self.signatures.get_mut(&validator).and_then(|r| r.get_mut(root)) {
            m.remove(&signer);
        }
    }

    /// `HasQuorum`: at least `quorum` signers over `root` for `validator`.
    pub fn has_quorum(&self, validator: ValidatorIndex, root: &Root) -> bool {
        self.signatures_for(validator, root).map_or(0, |m| m.len() as u64) >= self.quorum
    }

    /// The quorum set of `validator` over `root` (for [`ThresholdBls::reconstruct_batch`]).
    ///
    /// # Errors
    /// [`ReconstructError::Empty`] when nothing is held.
    pub fn quorum_set<'a>(
        &'a self,
        root: &'a Root,
        validator_pub_key: &'a BlsPublicKeyBytes,
        validator: ValidatorIndex,
    ) -> Result<QuorumSet<'a>, ReconstructError> {
        let partials = self.signatures_for(validator, root).ok_or(ReconstructError::Empty)?;
        Ok(QuorumSet { validator_pub_key, root, partials })
    }

    /// `ReconstructSignature`: Lagrange-interpolates the held signatures over `root` and
    /// verifies the result against `validator_pub_key` (48 bytes), with real BLS
    /// ([`BlstThresholdBls`]).
    ///
    /// # Errors
    /// [`ReconstructError`] (spec code `ReconstructSignature`) when nothing is held, a
    /// signature or the key does not decode, or the result does not verify.
    pub fn reconstruct(
        &self,
        root: &Root,
        validator_pub_key: &[u8],
        validator: ValidatorIndex,
        cache: &mut LagrangeCache,
    ) -> Result<BlsSignatureBytes, ReconstructError> {
        let sigs = self.signatures_for(validator, root).ok_or(ReconstructError::Empty)?;
        let key: &BlsPublicKeyBytes = validator_pub_key
            .try_into()
            .map_err(|_| ReconstructError::InvalidReconstructedSignature)?;
        let quorum = QuorumSet { validator_pub_key: key, root, partials: sigs };
        BlstThresholdBls.reconstruct(quorum, cache)
    }

    /// [`PartialSigContainer::reconstruct`] with `bls` doing the arithmetic.
    ///
    /// # Errors
    /// As [`ThresholdBls::reconstruct`]; [`ReconstructError::Empty`] when nothing is held.
    pub fn reconstruct_with(
        &self,
        bls: &dyn ThresholdBls,
        root: &Root,
        validator_pub_key: &BlsPublicKeyBytes,
        validator: ValidatorIndex,
        cache: &mut LagrangeCache,
    ) -> Result<BlsSignatureBytes, ReconstructError> {
        bls.reconstruct(self.quorum_set(root, validator_pub_key, validator)?, cache)
    }

    /// `FallBackAndVerifyEachSignature`: verifies each signature over `root` for
    /// `validator` against the signer's share public key (from `share_keys`) with `bls` and
    /// removes those that fail (an unknown signer fails).
    pub fn drop_invalid(
        &mut self,
        bls: &dyn ThresholdBls,
        validator: ValidatorIndex,
        root: &Root,
        share_keys: &BTreeMap<OperatorId, [u8; 48]>,
    ) {
        let Some(m) = self.signatures.get_mut(&validator).and_then(|r| r.get_mut(root)) else {
            return;
        };
        m.retain(|signer, sig| {
            share_keys.get(signer).is_some_and(|k| bls.verify_partial(k, sig, root))
        });
    }
}

/// Whether `sig` is the share key `share_key`'s signature over `root`
/// (`verifyBeaconPartialSignature`); an unknown signer is invalid.
pub fn verify_partial(share_key: Option<&[u8; 48]>, sig: &BlsSignatureBytes, root: &Root) -> bool {
    let Some(pk) = share_key.and_then(|k| PublicKey::from_bytes(k).ok()) else { return false };
    Signature::from_bytes(sig).is_ok_and(|s| s.verify(&pk, root).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::bls::SecretKey;
    use crate::crypto::threshold::split_secret;

    /// Validator key `i`, its public key, and partial signatures over `root` by
    /// operators 1-3 (threshold 3 of 4).
    fn quorum(i: u8, root: &Root) -> (BlsPublicKeyBytes, SignerSignatures) {
        let sk = SecretKey::from_bytes(&[i; 32]).unwrap();
        let shares = split_secret(&sk, &[1, 2, 3, 4], &[[i; 64], [i.wrapping_add(1); 64]]).unwrap();
        let partials =
            shares.iter().take(3).map(|s| (s.operator_id, s.secret_key.sign(root).to_bytes()));
        (sk.public_key().to_bytes(), partials.collect())
    }

    fn quorum_sets<'a>(
        sets: &'a [(BlsPublicKeyBytes, SignerSignatures)],
        roots: &'a [Root],
    ) -> Vec<QuorumSet<'a>> {
        sets.iter()
            .zip(roots)
            .map(|((pk, p), root)| QuorumSet { validator_pub_key: pk, root, partials: p })
            .collect()
    }

    #[test]
    fn batch_matches_one_by_one_and_isolates_a_bad_quorum() {
        let roots: Vec<Root> = (1..=4u8).map(|i| [i; 32]).collect();
        let mut sets: Vec<(BlsPublicKeyBytes, SignerSignatures)> =
            roots.iter().zip(1..=4u8).map(|(r, i)| quorum(i, r)).collect();
        let mut cache = LagrangeCache::default();
        let qs = quorum_sets(&sets, &roots);
        let seed = batch_seed(&qs);
        let batch = BlstThresholdBls.reconstruct_batch(&qs, &seed, &mut cache);
        for (q, got) in qs.iter().zip(&batch) {
            let sig = got.as_ref().unwrap();
            // Independent check: the validator key verifies the result.
            let pk = PublicKey::from_bytes(q.validator_pub_key).unwrap();
            Signature::from_bytes(sig).unwrap().verify(&pk, q.root).unwrap();
        }
        // Swap in operator 2's signature over another root for validator 3: only its
        // quorum fails, in the batch as one by one.
        let wrong = quorum(3, &[9; 32]).1[&2];
        sets[2].1.insert(2, wrong);
        let qs = quorum_sets(&sets, &roots);
        let batch = BlstThresholdBls.reconstruct_batch(&qs, &batch_seed(&qs), &mut cache);
        let single: Vec<_> =
            qs.iter().map(|q| BlstThresholdBls.reconstruct(*q, &mut cache)).collect();
        assert_eq!(batch, single);
        assert_eq!(batch[2], Err(ReconstructError::InvalidReconstructedSignature));
        assert!(batch.iter().enumerate().all(|(i, r)| i == 2 || r.is_ok()));
    }

    /// `sig` plus a point of the curve's cofactor part: a curve point outside the G2
    /// subgroup, found by stepping the x coordinate of `sig`'s encoding.
    fn off_subgroup(sig: &BlsSignatureBytes) -> BlsSignatureBytes {
        let mut bytes = *sig;
        for step in 1..=255u8 {
            bytes[95] = sig[95].wrapping_add(step);
            if Signature::from_bytes_on_curve(&bytes).is_ok() {
                assert!(matches!(
                    Signature::from_bytes(&bytes),
                    Err(crate::crypto::bls::BlsError::NotInGroup { .. })
                ));
                return bytes;
            }
        }
        panic!("no curve point near the signature's x");
    }

    #[test]
    fn a_partial_outside_the_subgroup_fails_its_quorum_alone() {
        let roots: Vec<Root> = (1..=3u8).map(|i| [i; 32]).collect();
        let mut sets: Vec<(BlsPublicKeyBytes, SignerSignatures)> =
            roots.iter().zip(1..=3u8).map(|(r, i)| quorum(i, r)).collect();
        let bad = off_subgroup(&sets[1].1[&3]);
        sets[1].1.insert(3, bad);
        let mut cache = LagrangeCache::default();
        let qs = quorum_sets(&sets, &roots);
        let batch = BlstThresholdBls.reconstruct_batch(&qs, &batch_seed(&qs), &mut cache);
        assert_eq!(batch[1], Err(ReconstructError::InvalidReconstructedSignature));
        assert!(batch[0].is_ok() && batch[2].is_ok(), "{batch:?}");
        assert_eq!(
            BlstThresholdBls.reconstruct(qs[1], &mut cache),
            Err(ReconstructError::InvalidReconstructedSignature)
        );
        // The fallback's per-partial check drops it, and the rest still reconstruct once
        // a third valid partial arrives (operator 4's).
        assert!(!BlstThresholdBls.verify_partial(&[0; 48], &bad, &roots[1]));
        let sk = SecretKey::from_bytes(&[2; 32]).unwrap();
        let shares = split_secret(&sk, &[1, 2, 3, 4], &[[2; 64], [3; 64]]).unwrap();
        assert!(!verify_partial(Some(&shares[2].public_key().to_bytes()), &bad, &roots[1]));
        sets[1].1.remove(&3);
        sets[1].1.insert(4, shares[3].secret_key.sign(&roots[1]).to_bytes());
        let qs = quorum_sets(&sets, &roots);
        assert!(BlstThresholdBls.reconstruct(qs[1], &mut cache).is_ok());
    }
}
