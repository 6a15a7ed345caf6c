//! Partial-signature verification and reconstruction off the event loop.
//!
//! Before a committee's `PartialSignatureMessages` reaches the core, the driver verifies
//! all its partial signatures on tokio's blocking pool as one batch
//! ([`ssv_core::crypto::bls::verify_batch`], random scalars; on failure each signature
//! alone, to find the bad ones) and remembers the valid ones in a bounded
//! [`VerifiedCache`]. When a (validator, signing root) gets its quorum of verified
//! partial signatures there, the same task reconstructs and verifies the validator
//! signature (a batch again) and remembers it under its exact partial-signature set.
//!
//! The committee runners then use [`CachedBls`] as their [`ThresholdBls`]: a partial
//! signature or a quorum found in the cache is answered from it (it was verified, and a
//! reconstruction depends only on its inputs), anything else is computed with
//! [`BlstThresholdBls`]. So the core's answers are exactly the spec's; only the work moves
//! off the loop thread. Our own partial signatures are trusted (we made them) but tracked
//! the same way, so the quorum that includes them is reconstructed off the loop too.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use sha2::{Digest, Sha256};
use ssv_core::crypto::bls::{PublicKey, Signature, SignatureSet, verify_batch};
use ssv_core::crypto::threshold::{LagrangeCache, ReconstructError};
use ssv_core::runner::{BlstThresholdBls, QuorumSet, SignerSignatures, ThresholdBls};
use ssv_core::types::{BlsPublicKeyBytes, BlsSignatureBytes, OperatorId, Root};

/// Verified partial signatures remembered, at most (about two slots of a node with a few
/// thousand validators in four-operator committees).
pub const PARTIALS_CAPACITY: usize = 1 << 16;

/// Reconstructed signatures (and quorums being gathered) remembered, at most.
pub const QUORUMS_CAPACITY: usize = 1 << 14;

/// One partial signature to verify: `signer`'s share (`share_key`) of the validator
/// `validator_pub_key` signed `root`; `quorum` signatures reconstruct.
#[derive(Debug, Clone, Copy)]
pub struct Item {
    /// The validator public key (48 bytes).
    pub validator_pub_key: BlsPublicKeyBytes,
    /// The signer's share public key (48 bytes).
    pub share_key: BlsPublicKeyBytes,
    /// The operator id (the share's index).
    pub signer: OperatorId,
    /// The signing root.
    pub root: Root,
    /// The partial signature (96 bytes).
    pub signature: BlsSignatureBytes,
    /// Signatures that reconstruct (`2f + 1`).
    pub quorum: usize,
}

/// What one verification task did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TaskStats {
    /// Items already verified before.
    pub hits: usize,
    /// Items verified in this task.
    pub verified: usize,
    /// Items that did not verify.
    pub invalid: usize,
    /// Whether the batch failed (and each item was checked alone).
    pub fell_back: bool,
    /// Validator signatures reconstructed in this task.
    pub reconstructed: usize,
}

/// A bounded set with first-in-first-out eviction.
#[derive(Debug)]
struct Bounded<K, V> {
    map: HashMap<K, V>,
    order: VecDeque<K>,
    capacity: usize,
}

impl<K: std::hash::Hash + Eq + Clone, V> Bounded<K, V> {
    fn new(capacity: usize) -> Self {
        Bounded { map: HashMap::new(), order: VecDeque::new(), capacity }
    }

    fn insert(&mut self, k: K, v: V) {
        if self.map.insert(k.clone(), v).is_none() {
            self.order.push_back(k);
            while self.order.len() > self.capacity {
                if let Some(old) = self.order.pop_front() {
                    self.map.remove(&old);
                }
            }
        }
    }
}

#[derive(Debug)]
struct Inner {
    /// Digests of verified (share key, root, signature).
    partials: Bounded<[u8; 32], ()>,
    /// Verified partial signatures by (validator key, root), in arrival order.
    gathering: Bounded<(BlsPublicKeyBytes, Root), Vec<(OperatorId, BlsSignatureBytes)>>,
    /// Reconstructed and verified signatures by quorum digest.
    reconstructed: Bounded<[u8; 32], BlsSignatureBytes>,
}

/// Verified partial signatures and reconstructed quorums, shared by the verification
/// tasks and the runners' [`CachedBls`].
#[derive(Debug)]
pub struct VerifiedCache {
    inner: Mutex<Inner>,
}

impl Default for VerifiedCache {
    fn default() -> Self {
        VerifiedCache {
            inner: Mutex::new(Inner {
                partials: Bounded::new(PARTIALS_CAPACITY),
                gathering: Bounded::new(QUORUMS_CAPACITY),
                reconstructed: Bounded::new(QUORUMS_CAPACITY),
            }),
        }
    }
}

fn partial_digest(share_key: &BlsPublicKeyBytes, root: &Root, sig: &BlsSignatureBytes) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"partial");
    h.update(share_key);
    h.update(root);
    h.update(sig);
    h.finalize().into()
}

fn quorum_digest(pk: &BlsPublicKeyBytes, root: &Root, partials: &SignerSignatures) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"quorum");
    h.update(pk);
    h.update(root);
    for (signer, sig) in partials {
        h.update(signer.to_le_bytes());
        h.update(sig);
    }
    h.finalize().into()
}

/// A batch seed: SHA-256 of fresh per-process randomness (std's `RandomState` keys come
/// from the OS) and a counter, so a peer cannot predict the batch's scalars.
fn random_seed() -> [u8; 32] {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut h = Sha256::new();
    h.update(b"ssv-node/psig-batch");
    for _ in 0..4 {
        let mut s = std::collections::hash_map::RandomState::new().build_hasher();
        s.write_u64(COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        h.update(s.finish().to_le_bytes());
    }
    h.finalize().into()
}

impl VerifiedCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `sig` by `share_key` over `root` was verified.
    pub fn has_partial(
        &self,
        share_key: &BlsPublicKeyBytes,
        root: &Root,
        sig: &BlsSignatureBytes,
    ) -> bool {
        self.lock().partials.map.contains_key(&partial_digest(share_key, root, sig))
    }

    /// The verified reconstruction of exactly `quorum`'s partial signatures, if made.
    pub fn reconstructed(&self, quorum: &QuorumSet<'_>) -> Option<BlsSignatureBytes> {
        let d = quorum_digest(quorum.validator_pub_key, quorum.root, quorum.partials);
        self.lock().reconstructed.map.get(&d).copied()
    }

    /// Verifies `items` (all of them at once; each alone when that fails) unless
    /// `trusted`, remembers the valid ones, and reconstructs (and verifies) every
    /// (validator, root) that reached its quorum of remembered signatures. Blocking: run
    /// it on the blocking pool.
    pub fn verify_and_track(&self, items: &[Item], trusted: bool) -> TaskStats {
        let mut stats = TaskStats::default();
        let fresh: Vec<&Item> = {
            let inner = self.lock();
            items
                .iter()
                .filter(|i| {
                    let d = partial_digest(&i.share_key, &i.root, &i.signature);
                    !inner.partials.map.contains_key(&d)
                })
                .collect()
        };
        stats.hits = items.len().saturating_sub(fresh.len());
        let valid: Vec<&Item> = if trusted {
            fresh
        } else {
            let (valid, fell_back) = verify_items(&fresh);
            stats.fell_back = fell_back;
            stats.invalid = fresh.len().saturating_sub(valid.len());
            valid
        };
        stats.verified = valid.len();
        // Remember them; collect the quorums they complete.
        let mut complete: Vec<(BlsPublicKeyBytes, Root, SignerSignatures)> = Vec::new();
        {
            let mut inner = self.lock();
            for i in &valid {
                inner.partials.insert(partial_digest(&i.share_key, &i.root, &i.signature), ());
                let key = (i.validator_pub_key, i.root);
                let list = match inner.gathering.map.get_mut(&key) {
                    Some(list) => list,
                    None => {
                        inner.gathering.insert(key, Vec::new());
                        match inner.gathering.map.get_mut(&key) {
                            Some(list) => list,
                            None => continue,
                        }
                    }
                };
                if list.iter().any(|(s, _)| *s == i.signer) || list.len() >= i.quorum {
                    continue;
                }
                list.push((i.signer, i.signature));
                if list.len() == i.quorum {
                    complete.push((i.validator_pub_key, i.root, list.iter().copied().collect()));
                }
            }
        }
        if complete.is_empty() {
            return stats;
        }
        let sets: Vec<QuorumSet<'_>> = complete
            .iter()
            .map(|(pk, root, partials)| QuorumSet { validator_pub_key: pk, root, partials })
            .collect();
        let mut cache = LagrangeCache::new(64);
        let results = BlstThresholdBls.reconstruct_batch(&sets, &random_seed(), &mut cache);
        let mut inner = self.lock();
        for (set, result) in sets.iter().zip(results) {
            if let Ok(sig) = result {
                let d = quorum_digest(set.validator_pub_key, set.root, set.partials);
                inner.reconstructed.insert(d, sig);
                stats.reconstructed = stats.reconstructed.saturating_add(1);
            }
        }
        stats
    }
}

/// The valid items, and whether the batch failed. Undecodable keys or signatures are
/// invalid.
fn verify_items<'a>(items: &[&'a Item]) -> (Vec<&'a Item>, bool) {
    let decoded: Vec<Option<(PublicKey, Signature)>> = items
        .iter()
        .map(|i| {
            Some((
                PublicKey::from_bytes(&i.share_key).ok()?,
                Signature::from_bytes(&i.signature).ok()?,
            ))
        })
        .collect();
    let sets: Vec<SignatureSet<'_>> = decoded
        .iter()
        .zip(items)
        .filter_map(|(d, i)| {
            let (public_key, signature) = d.as_ref()?;
            Some(SignatureSet { public_key, message: &i.root, signature })
        })
        .collect();
    let all_decoded = sets.len() == items.len();
    if all_decoded && (sets.is_empty() || verify_batch(&sets, &random_seed()).is_ok()) {
        return (items.to_vec(), false);
    }
    let valid = decoded
        .iter()
        .zip(items)
        .filter(|(d, i)| d.as_ref().is_some_and(|(pk, sig)| sig.verify(pk, &i.root).is_ok()))
        .map(|(_, i)| *i)
        .collect();
    (valid, true)
}

/// The committee runners' [`ThresholdBls`]: answers from the [`VerifiedCache`] when it
/// holds the answer, else computes it with [`BlstThresholdBls`].
#[derive(Debug, Clone)]
pub struct CachedBls(pub std::sync::Arc<VerifiedCache>);

impl ThresholdBls for CachedBls {
    fn verify_partial(
        &self,
        share_key: &BlsPublicKeyBytes,
        sig: &BlsSignatureBytes,
        root: &Root,
    ) -> bool {
        self.0.has_partial(share_key, root, sig)
            || BlstThresholdBls.verify_partial(share_key, sig, root)
    }

    fn reconstruct(
        &self,
        quorum: QuorumSet<'_>,
        cache: &mut LagrangeCache,
    ) -> Result<BlsSignatureBytes, ReconstructError> {
        match self.0.reconstructed(&quorum) {
            Some(sig) => Ok(sig),
            None => BlstThresholdBls.reconstruct(quorum, cache),
        }
    }

    fn reconstruct_batch(
        &self,
        quorums: &[QuorumSet<'_>],
        seed: &[u8; 32],
        cache: &mut LagrangeCache,
    ) -> Vec<Result<BlsSignatureBytes, ReconstructError>> {
        let known: Vec<Option<BlsSignatureBytes>> =
            quorums.iter().map(|q| self.0.reconstructed(q)).collect();
        let missing: Vec<QuorumSet<'_>> =
            quorums.iter().zip(&known).filter(|(_, k)| k.is_none()).map(|(q, _)| *q).collect();
        let mut computed = BlstThresholdBls.reconstruct_batch(&missing, seed, cache).into_iter();
        known
            .into_iter()
            .map(|k| match k {
                Some(sig) => Ok(sig),
                None => computed.next().unwrap_or(Err(ReconstructError::Empty)),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use ssv_core::crypto::bls::SecretKey;
    use ssv_core::crypto::threshold::split_secret;

    use super::*;

    /// Validator key `seed` split 3-of-4: its public key and each operator's share
    /// (share key, partial signature over `root`).
    fn shares(
        seed: u8,
        root: &Root,
    ) -> (BlsPublicKeyBytes, Vec<(OperatorId, BlsPublicKeyBytes, BlsSignatureBytes)>) {
        let sk = SecretKey::from_bytes(&[seed; 32]).unwrap();
        let coeffs = [[seed.wrapping_add(1); 64], [seed.wrapping_add(2); 64]];
        let coeffs: Vec<[u8; 64]> = coeffs
            .iter()
            .map(|c| {
                let mut c = *c;
                c[0] = 0;
                c
            })
            .collect();
        let parts = split_secret(&sk, &[1, 2, 3, 4], &coeffs).unwrap();
        let out = parts
            .iter()
            .map(|p| (p.operator_id, p.public_key().to_bytes(), p.secret_key.sign(root).to_bytes()))
            .collect();
        (sk.public_key().to_bytes(), out)
    }

    fn item(
        pk: BlsPublicKeyBytes,
        s: &(OperatorId, BlsPublicKeyBytes, BlsSignatureBytes),
        root: Root,
    ) -> Item {
        Item { validator_pub_key: pk, share_key: s.1, signer: s.0, root, signature: s.2, quorum: 3 }
    }

    #[test]
    fn a_batch_with_a_bad_signature_keeps_the_good_ones_and_reconstructs_their_quorum() {
        let root = [5; 32];
        let (pk, parts) = shares(3, &root);
        let (_, other) = shares(9, &root);
        let cache = VerifiedCache::default();
        // Operator 2's signature replaced by another validator's share signature.
        let mut bad = item(pk, &parts[1], root);
        bad.signature = other[1].2;
        let items = vec![
            item(pk, &parts[0], root),
            bad,
            item(pk, &parts[2], root),
            item(pk, &parts[3], root),
        ];
        let stats = cache.verify_and_track(&items, false);
        assert_eq!(
            stats,
            TaskStats { hits: 0, verified: 3, invalid: 1, fell_back: true, reconstructed: 1 }
        );
        let bls = CachedBls(std::sync::Arc::new(cache));
        assert!(bls.verify_partial(&parts[0].1, &parts[0].2, &root));
        assert!(!bls.verify_partial(&parts[1].1, &other[1].2, &root));
        // The quorum 1, 3, 4 was reconstructed: the cached answer is the validator's
        // signature (checked independently), and an uncached quorum is computed.
        let quorum: SignerSignatures =
            [0, 2, 3].iter().map(|i| (parts[*i].0, parts[*i].2)).collect();
        let set = QuorumSet { validator_pub_key: &pk, root: &root, partials: &quorum };
        let cached = bls.0.reconstructed(&set).expect("reconstructed off the loop");
        let expected = SecretKey::from_bytes(&[3; 32]).unwrap().sign(&root).to_bytes();
        assert_eq!(cached, expected);
        let mut lagrange = LagrangeCache::new(8);
        assert_eq!(bls.reconstruct(set, &mut lagrange), Ok(expected));
        let other_quorum: SignerSignatures =
            [0, 1, 3].iter().map(|i| (parts[*i].0, parts[*i].2)).collect();
        let set2 = QuorumSet { validator_pub_key: &pk, root: &root, partials: &other_quorum };
        assert_eq!(bls.0.reconstructed(&set2), None);
        assert_eq!(
            bls.reconstruct_batch(&[set2, set], &[1; 32], &mut lagrange),
            vec![Ok(expected), Ok(expected)]
        );
        // Seen again: hits, nothing verified anew.
        let again = bls.0.verify_and_track(&items[..1], false);
        assert_eq!(again, TaskStats { hits: 1, ..TaskStats::default() });
    }

    #[test]
    fn a_good_batch_verifies_at_once() {
        let root = [6; 32];
        let (pk, parts) = shares(4, &root);
        let cache = VerifiedCache::default();
        let items: Vec<Item> = parts[..2].iter().map(|s| item(pk, s, root)).collect();
        let stats = cache.verify_and_track(&items, false);
        assert_eq!(stats, TaskStats { verified: 2, ..TaskStats::default() });
        // Our own (trusted) third signature completes the quorum.
        let stats = cache.verify_and_track(&[item(pk, &parts[3], root)], true);
        assert_eq!(stats.reconstructed, 1);
    }
}
