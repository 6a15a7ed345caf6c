//! The partial-signature container (ssv-spec v1.2.2 `ssv/partial_sig_container.go`).
//!
//! Partial signatures are collected per (validator index, signing root, signer) without
//! verification; quorum is detected by count, the validator signature is reconstructed by
//! Lagrange interpolation at 0 and verified against the validator public key. When that
//! fails, the runner verifies each partial signature and drops the invalid ones
//! ([`PartialSigContainer::drop_invalid`]).

use std::collections::BTreeMap;

use crate::crypto::bls::{PublicKey, Signature};
use crate::crypto::threshold::{LagrangeCache, ReconstructError, reconstruct_and_verify};
use crate::types::{BlsSignatureBytes, OperatorId, PartialSignatureMessage, Root, ValidatorIndex};

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

    /// `ReconstructSignature`: Lagrange-interpolates the held signatures over `root` and
    /// verifies the result against `validator_pub_key`.
    ///
    /// # Errors
    /// [`ReconstructError`] (spec code `ReconstructSignature`) when nothing is held, a
    /// signature does not decode, or the result does not verify.
    pub fn reconstruct(
        &self,
        root: &Root,
        validator_pub_key: &[u8],
        validator: ValidatorIndex,
        cache: &mut LagrangeCache,
    ) -> Result<BlsSignatureBytes, ReconstructError> {
        let sigs = self.signatures_for(validator, root).ok_or(ReconstructError::Empty)?;
        let mut partials = Vec::with_capacity(sigs.len());
        for (signer, sig) in sigs {
            let sig = Signature::from_bytes(sig)
                .map_err(|_| ReconstructError::InvalidReconstructedSignature)?;
            partials.push((*signer, sig));
        }
        let pk = PublicKey::from_bytes(validator_pub_key)
            .map_err(|_| ReconstructError::InvalidReconstructedSignature)?;
        reconstruct_and_verify(&partials, &pk, root, cache).map(|s| s.to_bytes())
    }

    /// `FallBackAndVerifyEachSignature`: verifies each signature over `root` for
    /// `validator` against the signer's share public key (from `share_keys`) and removes
    /// those that fail.
    pub fn drop_invalid(
        &mut self,
        validator: ValidatorIndex,
        root: &Root,
        share_keys: &BTreeMap<OperatorId, [u8; 48]>,
    ) {
        let Some(m) = self.signatures.get_mut(&validator).and_then(|r| r.get_mut(root)) else {
            return;
        };
        m.retain(|signer, sig| verify_partial(share_keys.get(signer), sig, root));
    }
}

/// Whether `sig` is the share key `share_key`'s signature over `root`
/// (`verifyBeaconPartialSignature`); an unknown signer is invalid.
pub fn verify_partial(share_key: Option<&[u8; 48]>, sig: &BlsSignatureBytes, root: &Root) -> bool {
    let Some(pk) = share_key.and_then(|k| PublicKey::from_bytes(k).ok()) else { return false };
    Signature::from_bytes(sig).is_ok_and(|s| s.verify(&pk, root).is_ok())
}
