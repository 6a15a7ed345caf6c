//! Partial-signature verification and reconstruction off the event loop.
//!
//! Before a committee's `PartialSignatureMessages` reaches the core, the driver hands its
//! partial signatures to tokio's blocking pool, which gathers them per (validator,
//! signing root) in arrival order. When one reaches its quorum, the task reconstructs the
//! validator signature and verifies it, all such quorums of the task as one blst batch
//! (random linear combination), exactly the work the core would do on the loop thread.
//! When a reconstruction does not verify, the quorum's partial signatures are verified
//! (one batch; each alone when that fails), the bad ones dropped and the good ones
//! remembered, and the next quorum is tried. Verifying every partial signature up front
//! instead costs one pairing per signature (about ten times the work of the spec's
//! reconstruct-then-verify) and starved a loaded test machine; see the node notes.
//!
//! The committee runners then use [`CachedBls`] as their [`ThresholdBls`]: a partial
//! signature or a quorum found in the bounded [`VerifiedCache`] is answered from it (it
//! was verified, and a reconstruction depends only on its inputs), anything else is
//! computed with [`BlstThresholdBls`]. So the core's answers are exactly the spec's; only
//! the work moves off the loop thread. Our own partial signatures are trusted (we made
//! them) and gathered the same way, so the quorum that includes them is reconstructed off
//! the loop too.

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

/// One gathered partial signature: (signer, share key, signature).
type Partial = (OperatorId, BlsPublicKeyBytes, BlsSignatureBytes);

/// The partial signatures of one (validator, root): (signer, share key, signature), and
/// whether its signature was reconstructed (or cannot be).
#[derive(Debug, Default)]
struct Gathering {
    partials: Vec<Partial>,
    done: bool,
}

#[derive(Debug)]
struct Inner {
    /// Digests of verified (share key, root, signature).
    partials: Bounded<[u8; 32], ()>,
    /// Partial signatures by (validator key, root), in arrival order.
    gathering: Bounded<(BlsPublicKeyBytes, Root), Gathering>,
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

    /// Gathers `items` per (validator, root) in arrival order and, for every one that
    /// reached its quorum, reconstructs the validator signature and verifies it (all of
    /// them as one batch: [`BlstThresholdBls::reconstruct_batch`]), as the core would. A
    /// quorum whose signature does not verify has its partial signatures verified (one
    /// batch, then each alone): the invalid ones are dropped, the valid ones remembered,
    /// and the next quorum is tried. `trusted` items (our own) are remembered as verified.
    /// Blocking: run it on the blocking pool.
    pub fn verify_and_track(&self, items: &[Item], trusted: bool) -> TaskStats {
        let mut stats = TaskStats::default();
        let mut touched: Vec<(BlsPublicKeyBytes, Root, usize)> = Vec::new();
        {
            let mut inner = self.lock();
            for i in items {
                if trusted {
                    inner.partials.insert(partial_digest(&i.share_key, &i.root, &i.signature), ());
                }
                let key = (i.validator_pub_key, i.root);
                if !inner.gathering.map.contains_key(&key) {
                    inner.gathering.insert(key, Gathering::default());
                }
                let Some(g) = inner.gathering.map.get_mut(&key) else { continue };
                if g.done || g.partials.iter().any(|p| p.0 == i.signer) {
                    stats.hits = stats.hits.saturating_add(1);
                    continue;
                }
                g.partials.push((i.signer, i.share_key, i.signature));
                if g.partials.len() >= i.quorum
                    && !touched.iter().any(|(pk, r, _)| (*pk, *r) == key)
                {
                    touched.push((key.0, key.1, i.quorum));
                }
            }
        }
        // Quorums to reconstruct until each verifies or runs out of signatures.
        while !touched.is_empty() {
            let quorums: Vec<(BlsPublicKeyBytes, Root, Vec<Partial>)> = {
                let inner = self.lock();
                touched
                    .iter()
                    .filter_map(|(pk, root, quorum)| {
                        let g = inner.gathering.map.get(&(*pk, *root))?;
                        (!g.done && g.partials.len() >= *quorum).then(|| {
                            (*pk, *root, g.partials.iter().take(*quorum).copied().collect())
                        })
                    })
                    .collect()
            };
            if quorums.is_empty() {
                break;
            }
            let sets_data: Vec<SignerSignatures> = quorums
                .iter()
                .map(|(_, _, ps)| ps.iter().map(|(s, _, sig)| (*s, *sig)).collect())
                .collect();
            let sets: Vec<QuorumSet<'_>> = quorums
                .iter()
                .zip(&sets_data)
                .map(|((pk, root, _), partials)| QuorumSet {
                    validator_pub_key: pk,
                    root,
                    partials,
                })
                .collect();
            let mut cache = LagrangeCache::new(64);
            let results = BlstThresholdBls.reconstruct_batch(&sets, &random_seed(), &mut cache);
            let mut retry = Vec::new();
            for ((set, (pk, root, partials)), result) in sets.iter().zip(&quorums).zip(results) {
                match result {
                    Ok(sig) => {
                        let d = quorum_digest(set.validator_pub_key, set.root, set.partials);
                        let mut inner = self.lock();
                        inner.reconstructed.insert(d, sig);
                        if let Some(g) = inner.gathering.map.get_mut(&(*pk, *root)) {
                            g.done = true;
                        }
                        stats.reconstructed = stats.reconstructed.saturating_add(1);
                    }
                    Err(_) => {
                        let checks: Vec<Item> = partials
                            .iter()
                            .map(|(signer, share_key, signature)| Item {
                                validator_pub_key: *pk,
                                share_key: *share_key,
                                signer: *signer,
                                root: *root,
                                signature: *signature,
                                quorum: partials.len(),
                            })
                            .collect();
                        let refs: Vec<&Item> = checks.iter().collect();
                        let (valid, fell_back) = verify_items(&refs);
                        stats.fell_back |= fell_back;
                        stats.verified = stats.verified.saturating_add(valid.len());
                        stats.invalid =
                            stats.invalid.saturating_add(checks.len().saturating_sub(valid.len()));
                        let mut inner = self.lock();
                        for v in &valid {
                            inner
                                .partials
                                .insert(partial_digest(&v.share_key, root, &v.signature), ());
                        }
                        if let Some(g) = inner.gathering.map.get_mut(&(*pk, *root)) {
                            g.partials.retain(|(s, _, sig)| {
                                !checks.iter().any(|c| c.signer == *s && c.signature == *sig)
                                    || valid.iter().any(|v| v.signer == *s)
                            });
                            if valid.len() == checks.len() {
                                // Every partial valid and still no signature: the shares do
                                // not match the validator key; leave it to the core.
                                g.done = true;
                            }
                        }
                        retry.push((*pk, *root, checks.len()));
                    }
                }
            }
            touched = retry;
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
    fn a_bad_partial_signature_is_found_by_the_fallback_and_the_next_quorum_reconstructs() {
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
            TaskStats { hits: 0, verified: 2, invalid: 1, fell_back: true, reconstructed: 1 }
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
    fn our_own_signature_completes_a_quorum_off_the_loop() {
        let root = [6; 32];
        let (pk, parts) = shares(4, &root);
        let cache = VerifiedCache::default();
        let items: Vec<Item> = parts[..2].iter().map(|s| item(pk, s, root)).collect();
        let stats = cache.verify_and_track(&items, false);
        // Below the quorum: only gathered, nothing computed.
        assert_eq!(stats, TaskStats::default());
        // Our own (trusted) third signature completes the quorum.
        let stats = cache.verify_and_track(&[item(pk, &parts[3], root)], true);
        assert_eq!(stats.reconstructed, 1);
    }
}
