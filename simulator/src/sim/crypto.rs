//! Operator keys and signatures of the simulated world: real RSA-2048 with fixed test keys,
//! or hash-based stand-ins that take the same code paths.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use sha2::{Digest, Sha256};
use ssv_core::crypto::rsa::{OperatorPrivateKey, OperatorPublicKey};
use ssv_core::crypto::threshold::{LagrangeCache, ReconstructError};
use ssv_core::qbft::{FakeSignatures, OperatorSigner, RsaSigner, SignError, SignatureVerifier};
#[cfg(test)]
use ssv_core::runner::SignerSignatures;
use ssv_core::runner::{QuorumSet, ThresholdBls};
use ssv_core::types::{BlsPublicKeyBytes, BlsSignatureBytes, OperatorId, Root, Share};

use super::options::CryptoMode;

/// Thirteen RSA-2048 keys generated once for the simulator (PKCS#1 PEMs), so real-crypto
/// runs are as reproducible as fake ones. Test keys: never use them for real operators.
const OPERATOR_KEYS_PEM: &str = include_str!("operator_keys.pem");

/// Most operators a simulated committee has.
pub const OPERATORS_MAX: usize = 13;

fn rsa_keys() -> Result<&'static [Arc<RsaSigner>], String> {
    static KEYS: OnceLock<Result<Vec<Arc<RsaSigner>>, String>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let end = "-----END RSA PRIVATE KEY-----";
        OPERATOR_KEYS_PEM
            .split_inclusive(end)
            .filter(|block| block.contains(end))
            .map(|block| {
                let start = block.find("-----BEGIN").unwrap_or(0);
                OperatorPrivateKey::from_pem(&block.as_bytes()[start..])
                    .map(|k| Arc::new(RsaSigner(k)))
                    .map_err(|e| format!("simulator operator key: {e}"))
            })
            .collect()
    })
    .as_ref()
    .map(Vec::as_slice)
    .map_err(Clone::clone)
}

/// The operators' keys and the verifier every simulated node uses.
#[derive(Clone)]
pub struct Crypto {
    mode: CryptoMode,
    public_keys: Vec<Vec<u8>>,
    signers: Vec<Arc<dyn OperatorSigner>>,
    verifier: Arc<dyn SignatureVerifier>,
}

impl std::fmt::Debug for Crypto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Crypto").field("mode", &self.mode).finish_non_exhaustive()
    }
}

/// RSA verification with the committee's keys parsed once (the core's [`RsaVerifier`]
/// parses the PEM on every call).
///
/// [`RsaVerifier`]: ssv_core::qbft::RsaVerifier
struct CachedRsaVerifier {
    keys: BTreeMap<Vec<u8>, OperatorPublicKey>,
}

impl SignatureVerifier for CachedRsaVerifier {
    fn verify(&self, public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
        self.keys.get(public_key).is_some_and(|k| k.verify(message, signature).is_ok())
    }
}

/// Shares one signer among the per-instance configurations of a node.
struct SharedSigner(Arc<dyn OperatorSigner>);

impl OperatorSigner for SharedSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        self.0.sign(message)
    }
}

/// Shares the world's verifier.
struct SharedVerifier(Arc<dyn SignatureVerifier>);

impl SignatureVerifier for SharedVerifier {
    fn verify(&self, public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
        self.0.verify(public_key, message, signature)
    }
}

impl Crypto {
    /// Keys for operators `1..=operators` in `mode`.
    ///
    /// # Errors
    /// More operators than keys, or an unreadable embedded key.
    pub fn new(mode: CryptoMode, operators: u64) -> Result<Self, String> {
        let n = usize::try_from(operators).map_err(|e| e.to_string())?;
        if n > OPERATORS_MAX {
            return Err(format!("at most {OPERATORS_MAX} operators"));
        }
        match mode {
            CryptoMode::Fake => {
                let public_keys: Vec<Vec<u8>> =
                    (1..=operators).map(|id| format!("sim-operator-{id}").into_bytes()).collect();
                let signers = public_keys
                    .iter()
                    .map(|pk| {
                        Arc::new(FakeSignatures { public_key: pk.clone() })
                            as Arc<dyn OperatorSigner>
                    })
                    .collect();
                Ok(Self {
                    mode,
                    public_keys,
                    signers,
                    verifier: Arc::new(FakeSignatures::default()),
                })
            }
            CryptoMode::Real => {
                let keys = rsa_keys()?;
                let chosen = keys.get(..n).ok_or("not enough embedded operator keys")?;
                let public_keys: Vec<Vec<u8>> =
                    chosen.iter().map(|k| k.0.public_key().to_pem().into_bytes()).collect();
                let verifier = CachedRsaVerifier {
                    keys: chosen
                        .iter()
                        .zip(&public_keys)
                        .map(|(k, pem)| (pem.clone(), k.0.public_key().clone()))
                        .collect(),
                };
                Ok(Self {
                    mode,
                    public_keys,
                    signers: chosen
                        .iter()
                        .map(|k| Arc::clone(k) as Arc<dyn OperatorSigner>)
                        .collect(),
                    verifier: Arc::new(verifier),
                })
            }
        }
    }

    /// The signature scheme.
    pub fn mode(&self) -> CryptoMode {
        self.mode
    }

    /// Operator `id`'s public key (a PEM in real mode), empty for an unknown operator.
    pub fn public_key(&self, id: OperatorId) -> &[u8] {
        self.index(id).and_then(|i| self.public_keys.get(i)).map_or(&[], Vec::as_slice)
    }

    fn index(&self, id: OperatorId) -> Option<usize> {
        usize::try_from(id).ok()?.checked_sub(1)
    }

    /// Signs `message` as operator `id`.
    ///
    /// # Errors
    /// An unknown operator or a failing key.
    pub fn sign(&self, id: OperatorId, message: &[u8]) -> Result<Vec<u8>, SignError> {
        let signer = self
            .index(id)
            .and_then(|i| self.signers.get(i))
            .ok_or_else(|| SignError(format!("no key for operator {id}")))?;
        signer.sign(message)
    }

    /// Operator `id`'s signer, boxed for a [`QbftConfig`](ssv_core::qbft::QbftConfig).
    pub fn signer(&self, id: OperatorId) -> Box<dyn OperatorSigner> {
        let inner = self
            .index(id)
            .and_then(|i| self.signers.get(i))
            .cloned()
            .unwrap_or_else(|| Arc::new(FakeSignatures::default()));
        Box::new(SharedSigner(inner))
    }

    /// The verifier, boxed for a [`QbftConfig`](ssv_core::qbft::QbftConfig).
    pub fn verifier(&self) -> Box<dyn SignatureVerifier> {
        Box::new(SharedVerifier(Arc::clone(&self.verifier)))
    }

    /// Whether `signature` is operator `id`'s over `message`.
    pub fn verify(&self, id: OperatorId, message: &[u8], signature: &[u8]) -> bool {
        let pk = self.public_key(id);
        !pk.is_empty() && self.verifier.verify(pk, message, signature)
    }
}

/// Hash-based stand-ins for the validators' threshold BLS (fake-crypto mode on the duty
/// path): the "signature" of key `K` over root `R` is `SHA-256(tag ‖ K ‖ R)` in the first 32
/// of 96 bytes, so signing, checking and "reconstructing" cost one hash each while the
/// runners take the same code paths ([`ThresholdBls`]).
///
/// Reconstruction keeps the real scheme's verdicts: a set of partial signatures yields the
/// validator's signature exactly when it holds at least `2f + 1` signers of the validator's
/// committee and each is that signer's share signature over the root; anything else is
/// [`ReconstructError::InvalidReconstructedSignature`] (as a wrong or short set
/// interpolates to a point that does not verify).
#[derive(Debug, Default)]
pub struct FakeBls {
    /// Share public keys by signer, by validator public key.
    committees: BTreeMap<BlsPublicKeyBytes, BTreeMap<OperatorId, BlsPublicKeyBytes>>,
}

impl FakeBls {
    /// Knows the committees of `shares` (any operator's shares list every member's key).
    pub fn new<'a>(shares: impl IntoIterator<Item = &'a Share>) -> Self {
        let committees = shares
            .into_iter()
            .map(|s| {
                let members = s.committee.iter().map(|m| (m.signer, m.share_pub_key)).collect();
                (s.validator_pub_key, members)
            })
            .collect();
        Self { committees }
    }

    /// The stand-in signature of `key` over `root`.
    pub fn sign(key: &BlsPublicKeyBytes, root: &Root) -> BlsSignatureBytes {
        let digest: [u8; 32] = Sha256::new()
            .chain_update(b"ssv-sim/fake-bls")
            .chain_update(key)
            .chain_update(root)
            .finalize()
            .into();
        let mut sig = [0u8; 96];
        sig[..32].copy_from_slice(&digest);
        sig
    }

    /// Whether `sig` is the stand-in signature of `key` over `root`.
    pub fn verify(key: &BlsPublicKeyBytes, root: &Root, sig: &BlsSignatureBytes) -> bool {
        Self::sign(key, root) == *sig
    }
}

impl ThresholdBls for FakeBls {
    fn verify_partial(
        &self,
        share_key: &BlsPublicKeyBytes,
        sig: &BlsSignatureBytes,
        root: &Root,
    ) -> bool {
        Self::verify(share_key, root, sig)
    }

    fn reconstruct(
        &self,
        quorum: QuorumSet<'_>,
        _cache: &mut LagrangeCache,
    ) -> Result<BlsSignatureBytes, ReconstructError> {
        if quorum.partials.is_empty() {
            return Err(ReconstructError::Empty);
        }
        let invalid = ReconstructError::InvalidReconstructedSignature;
        let members = self.committees.get(quorum.validator_pub_key).ok_or(invalid.clone())?;
        let n = members.len() as u64;
        let threshold = 2 * (n.saturating_sub(1) / 3) + 1;
        if (quorum.partials.len() as u64) < threshold {
            return Err(invalid);
        }
        for (signer, sig) in quorum.partials {
            let key = members.get(signer).ok_or(invalid.clone())?;
            if !Self::verify(key, quorum.root, sig) {
                return Err(invalid);
            }
        }
        Ok(Self::sign(quorum.validator_pub_key, quorum.root))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_modes_sign_and_verify_and_reject_others() {
        for mode in [CryptoMode::Fake, CryptoMode::Real] {
            let c = Crypto::new(mode, 4).unwrap();
            let sig = c.sign(2, b"msg").unwrap();
            assert!(c.verify(2, b"msg", &sig));
            assert!(!c.verify(3, b"msg", &sig));
            assert!(!c.verify(2, b"other", &sig));
            assert!(!c.verify(9, b"msg", &sig));
        }
    }

    #[test]
    fn fake_bls_reconstructs_exactly_from_a_quorum_of_valid_partials() {
        use ssv_core::types::ShareMember;
        use ssv_core::types::ssz_types::VariableList;
        let vpk = [9u8; 48];
        let members: Vec<ShareMember> =
            (1..=4u64).map(|i| ShareMember { signer: i, share_pub_key: [i as u8; 48] }).collect();
        let share = Share {
            validator_index: 0,
            validator_pub_key: vpk,
            share_pub_key: [1; 48],
            committee: VariableList::new(members).unwrap(),
            domain_type: ssv_core::types::DomainType([0; 4]),
            fee_recipient_address: [0; 20],
            graffiti: [0; 32],
        };
        let bls = FakeBls::new([&share]);
        let root = [5u8; 32];
        let partial = |i: u64| FakeBls::sign(&[i as u8; 48], &root);
        let mut cache = LagrangeCache::default();
        let mut partials: SignerSignatures = (1..=3).map(|i| (i, partial(i))).collect();
        assert_eq!(
            bls.reconstruct(
                QuorumSet { validator_pub_key: &vpk, root: &root, partials: &partials },
                &mut cache
            ),
            Ok(FakeBls::sign(&vpk, &root))
        );
        assert!(bls.verify_partial(&[2; 48], &partial(2), &root));
        assert!(!bls.verify_partial(&[3; 48], &partial(2), &root));
        // Below 2f + 1 = 3 signers, or with one wrong partial, nothing verifies.
        partials.remove(&3);
        let invalid = Err(ReconstructError::InvalidReconstructedSignature);
        assert_eq!(
            bls.reconstruct(
                QuorumSet { validator_pub_key: &vpk, root: &root, partials: &partials },
                &mut cache
            ),
            invalid
        );
        partials.insert(3, partial(4));
        assert_eq!(
            bls.reconstruct(
                QuorumSet { validator_pub_key: &vpk, root: &root, partials: &partials },
                &mut cache
            ),
            invalid
        );
    }

    #[test]
    fn thirteen_distinct_real_keys() {
        let c = Crypto::new(CryptoMode::Real, 13).unwrap();
        let keys: std::collections::BTreeSet<_> =
            (1..=13).map(|i| c.public_key(i).to_vec()).collect();
        assert_eq!(keys.len(), 13);
    }
}
