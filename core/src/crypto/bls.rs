//! BLS12-381 keys and signatures over blst (min-pk, the Ethereum ciphersuite).
//!
//! Public keys are 48-byte compressed G1 points, signatures 96-byte compressed G2 points,
//! messages are hashed to G2 with [`ETH_DST`] (`BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_`,
//! the proof-of-possession ciphersuite of the consensus specs). Decoding validates: a
//! [`PublicKey`] is on the curve, in the prime-order subgroup and not the point at infinity
//! (the consensus spec's `KeyValidate`); a [`Signature`] is on the curve and in the subgroup
//! (infinity is a well-formed signature that verifies against nothing). Every verifier here
//! can therefore skip blst's own re-validation.
//!
//! Source: consensus-specs `phase0/beacon-chain.md` (BLS signatures), IETF
//! draft-irtf-cfrg-bls-signature-05, ethereum/bls12-381-tests v0.1.2 (the conformance suite in
//! `core/tests/bls_vectors.rs`). blst is built with `no-threads`: the core runs no threads,
//! so batch and aggregate verification are single-threaded here; callers parallelise.

use blst::min_pk;
use blst::{BLST_ERROR, blst_scalar};
use sha2::{Digest, Sha256};

/// Domain separation tag of the Ethereum BLS ciphersuite (proof-of-possession, G2 signatures).
pub const ETH_DST: &[u8] = b"BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_";

/// Length of a serialised secret key (big-endian scalar), in bytes.
pub const SECRET_KEY_LEN: usize = 32;
/// Length of a compressed G1 public key, in bytes.
pub const PUBLIC_KEY_LEN: usize = 48;
/// Length of a compressed G2 signature, in bytes.
pub const SIGNATURE_LEN: usize = 96;

/// Bits of each random scalar in batch verification: 64 bits bound a forger's success
/// probability by 2^-64 per batch (the figure blst and Lighthouse use).
const BATCH_RAND_BITS: usize = 64;

/// Why a BLS operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlsError {
    /// An input had the wrong number of bytes.
    #[error("{what}: expected {expected} bytes, got {actual}")]
    Length {
        /// Which input (`secret key`, `public key`, `signature`).
        what: &'static str,
        /// The required length in bytes.
        expected: usize,
        /// The length given.
        actual: usize,
    },
    /// A secret key hex string did not decode.
    #[error("secret key is not valid hex")]
    Hex,
    /// A secret key was zero or not below the group order r.
    #[error("secret key is zero or not below the group order")]
    InvalidSecretKey,
    /// A point encoding was malformed: flag bits, a coordinate not below the field modulus,
    /// or no curve point with that x.
    #[error("{what}: not a valid compressed point ({reason})")]
    BadEncoding {
        /// Which input (`public key`, `signature`).
        what: &'static str,
        /// blst's reason.
        reason: &'static str,
    },
    /// A point was on the curve but outside the prime-order subgroup.
    #[error("{what}: point is not in the prime-order subgroup")]
    NotInGroup {
        /// Which input (`public key`, `signature`).
        what: &'static str,
    },
    /// A public key was the point at infinity (well-formed, but `KeyValidate` rejects it).
    #[error("public key is the point at infinity")]
    InfinityPublicKey,
    /// An aggregate or verification was asked of an empty list.
    #[error("nothing to aggregate or verify: the list is empty")]
    Empty,
    /// Parallel lists had different lengths.
    #[error("list lengths differ: {left} versus {right}")]
    LengthMismatch {
        /// Length of the first list.
        left: usize,
        /// Length of the second list.
        right: usize,
    },
    /// The signature does not verify.
    #[error("signature does not verify")]
    VerifyFailed,
}

fn blst_reason(err: BLST_ERROR) -> &'static str {
    match err {
        BLST_ERROR::BLST_SUCCESS => "success",
        BLST_ERROR::BLST_BAD_ENCODING => "bad encoding",
        BLST_ERROR::BLST_POINT_NOT_ON_CURVE => "point not on curve",
        BLST_ERROR::BLST_POINT_NOT_IN_GROUP => "point not in group",
        BLST_ERROR::BLST_AGGR_TYPE_MISMATCH => "aggregate type mismatch",
        BLST_ERROR::BLST_VERIFY_FAIL => "verification failed",
        BLST_ERROR::BLST_PK_IS_INFINITY => "point at infinity",
        BLST_ERROR::BLST_BAD_SCALAR => "bad scalar",
    }
}

fn point_error(what: &'static str, err: BLST_ERROR) -> BlsError {
    match err {
        BLST_ERROR::BLST_POINT_NOT_IN_GROUP => BlsError::NotInGroup { what },
        BLST_ERROR::BLST_PK_IS_INFINITY => BlsError::InfinityPublicKey,
        other => BlsError::BadEncoding { what, reason: blst_reason(other) },
    }
}

fn verify_result(err: BLST_ERROR) -> Result<(), BlsError> {
    match err {
        BLST_ERROR::BLST_SUCCESS => Ok(()),
        _ => Err(BlsError::VerifyFailed),
    }
}

fn check_len(what: &'static str, expected: usize, bytes: &[u8]) -> Result<(), BlsError> {
    if bytes.len() == expected {
        Ok(())
    } else {
        Err(BlsError::Length { what, expected, actual: bytes.len() })
    }
}

/// A BLS secret key: a scalar in [1, r). Zeroised on drop (blst's `SecretKey` does it).
#[derive(Clone)]
pub struct SecretKey(min_pk::SecretKey);

impl SecretKey {
    /// Decodes 32 big-endian bytes (the consensus-spec and EIP-2333 layout).
    ///
    /// # Errors
    /// [`BlsError::Length`] unless 32 bytes; [`BlsError::InvalidSecretKey`] for zero or a
    /// value not below r.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, BlsError> {
        check_len("secret key", SECRET_KEY_LEN, bytes)?;
        min_pk::SecretKey::from_bytes(bytes).map(Self).map_err(|_| BlsError::InvalidSecretKey)
    }

    /// Decodes 64 hex digits, with or without a `0x` prefix, as the Go test fixtures write
    /// keys (ssv-spec `testingutils/keys.go` `skFromHex`: 32 bytes big-endian).
    ///
    /// # Errors
    /// [`BlsError::Hex`] for non-hex input, then as [`SecretKey::from_bytes`].
    pub fn from_hex(text: &str) -> Result<Self, BlsError> {
        let digits = text.strip_prefix("0x").unwrap_or(text);
        let bytes = zeroize::Zeroizing::new(hex::decode(digits).map_err(|_| BlsError::Hex)?);
        Self::from_bytes(&bytes)
    }

    /// The 32 big-endian bytes of the scalar. The caller must keep them secret.
    pub fn to_bytes(&self) -> zeroize::Zeroizing<[u8; SECRET_KEY_LEN]> {
        zeroize::Zeroizing::new(self.0.to_bytes())
    }

    /// The public key `sk·G1`.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.sk_to_pk())
    }

    /// Signs `message` (any bytes; in SSV and Ethereum a 32-byte signing root) under
    /// [`ETH_DST`]: `sk·H(message)`.
    pub fn sign(&self, message: &[u8]) -> Signature {
        Signature(self.0.sign(message, ETH_DST, &[]))
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// A validated BLS public key: a G1 point in the subgroup, not infinity (`KeyValidate`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(min_pk::PublicKey);

impl PublicKey {
    /// Decodes and validates a 48-byte compressed G1 point.
    ///
    /// # Errors
    /// [`BlsError::Length`], [`BlsError::BadEncoding`], [`BlsError::NotInGroup`], or
    /// [`BlsError::InfinityPublicKey`] (a well-formed encoding that `KeyValidate` rejects).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, BlsError> {
        check_len("public key", PUBLIC_KEY_LEN, bytes)?;
        let pk = min_pk::PublicKey::uncompress(bytes).map_err(|e| point_error("public key", e))?;
        pk.validate().map_err(|e| point_error("public key", e))?;
        Ok(Self(pk))
    }

    /// The 48-byte compressed encoding.
    pub fn to_bytes(&self) -> [u8; PUBLIC_KEY_LEN] {
        self.0.compress()
    }

    /// The blst key, for callers that batch with blst directly.
    pub fn as_blst(&self) -> &min_pk::PublicKey {
        &self.0
    }
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey(0x{})", hex::encode(self.to_bytes()))
    }
}

impl PartialOrd for PublicKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for PublicKey {
    /// Orders by compressed bytes, so keys can index a `BTreeMap`.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.to_bytes().cmp(&other.to_bytes())
    }
}

/// A validated BLS signature: a G2 point in the subgroup (possibly infinity).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(min_pk::Signature);

impl Signature {
    /// Decodes and validates a 96-byte compressed G2 point.
    ///
    /// # Errors
    /// [`BlsError::Length`], [`BlsError::BadEncoding`] or [`BlsError::NotInGroup`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, BlsError> {
        check_len("signature", SIGNATURE_LEN, bytes)?;
        let sig = min_pk::Signature::uncompress(bytes).map_err(|e| point_error("signature", e))?;
        sig.validate(false).map_err(|e| point_error("signature", e))?;
        Ok(Self(sig))
    }

    /// Decodes a 96-byte compressed G2 point on the curve, without the subgroup check
    /// (that check is about two thirds of [`Signature::from_bytes`]'s cost).
    ///
    /// Only for the inputs of a linear combination whose result is then checked with
    /// [`Signature::check_subgroup`], as Lagrange reconstruction does: the curve group is
    /// the prime-order subgroup times a cofactor part of coprime order, so a combination
    /// lies in the subgroup exactly when the inputs' cofactor parts cancel, and then it
    /// equals the combination of their subgroup parts.
    ///
    /// # Errors
    /// [`BlsError::Length`] or [`BlsError::BadEncoding`] (not a point on the curve).
    pub fn from_bytes_on_curve(bytes: &[u8]) -> Result<Self, BlsError> {
        check_len("signature", SIGNATURE_LEN, bytes)?;
        min_pk::Signature::uncompress(bytes).map(Self).map_err(|e| point_error("signature", e))
    }

    /// The subgroup check [`Signature::from_bytes`] does, for a point from
    /// [`Signature::from_bytes_on_curve`] or a combination of such points.
    ///
    /// # Errors
    /// [`BlsError::NotInGroup`].
    pub fn check_subgroup(&self) -> Result<(), BlsError> {
        self.0.validate(false).map_err(|e| point_error("signature", e))
    }

    /// The 96-byte compressed encoding.
    pub fn to_bytes(&self) -> [u8; SIGNATURE_LEN] {
        self.0.compress()
    }

    /// The 192-byte uncompressed encoding (x then y, each Fp2 as c1 then c0, big-endian).
    pub fn to_uncompressed(&self) -> [u8; 192] {
        self.0.serialize()
    }

    /// The blst signature, for callers that batch with blst directly.
    pub fn as_blst(&self) -> &min_pk::Signature {
        &self.0
    }

    /// Wraps a blst point computed inside the crate from validated points (sums and
    /// multiples of subgroup points stay in the subgroup).
    pub(crate) fn from_blst(sig: min_pk::Signature) -> Self {
        Self(sig)
    }

    /// Checks this signature over `message` against `public_key` (`Verify`).
    ///
    /// # Errors
    /// [`BlsError::VerifyFailed`].
    pub fn verify(&self, public_key: &PublicKey, message: &[u8]) -> Result<(), BlsError> {
        verify_result(self.0.verify(false, message, ETH_DST, &[], &public_key.0, false))
    }

    /// Checks this aggregate signature over one `message` signed by every key in
    /// `public_keys` (`FastAggregateVerify`; keys are proven by possession).
    ///
    /// # Errors
    /// [`BlsError::Empty`] for no keys, [`BlsError::VerifyFailed`].
    pub fn fast_aggregate_verify(
        &self,
        public_keys: &[PublicKey],
        message: &[u8],
    ) -> Result<(), BlsError> {
        if public_keys.is_empty() {
            return Err(BlsError::Empty);
        }
        let pks: Vec<&min_pk::PublicKey> = public_keys.iter().map(|pk| &pk.0).collect();
        verify_result(self.0.fast_aggregate_verify(false, message, ETH_DST, &pks))
    }

    /// Checks this aggregate signature over `messages[i]` signed by `public_keys[i]`
    /// (`AggregateVerify`; the PoP ciphersuite does not require distinct messages).
    ///
    /// # Errors
    /// [`BlsError::Empty`], [`BlsError::LengthMismatch`], [`BlsError::VerifyFailed`].
    pub fn aggregate_verify(
        &self,
        public_keys: &[PublicKey],
        messages: &[&[u8]],
    ) -> Result<(), BlsError> {
        if public_keys.is_empty() {
            return Err(BlsError::Empty);
        }
        if public_keys.len() != messages.len() {
            return Err(BlsError::LengthMismatch {
                left: public_keys.len(),
                right: messages.len(),
            });
        }
        let pks: Vec<&min_pk::PublicKey> = public_keys.iter().map(|pk| &pk.0).collect();
        verify_result(self.0.aggregate_verify(false, messages, ETH_DST, &pks, false))
    }
}

impl std::fmt::Debug for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signature(0x{})", hex::encode(self.to_bytes()))
    }
}

/// Adds signatures (`Aggregate`): the sum of G2 points.
///
/// # Errors
/// [`BlsError::Empty`] for an empty list.
pub fn aggregate_signatures(signatures: &[Signature]) -> Result<Signature, BlsError> {
    let sigs: Vec<&min_pk::Signature> = signatures.iter().map(|s| &s.0).collect();
    min_pk::AggregateSignature::aggregate(&sigs, false)
        .map(|agg| Signature(agg.to_signature()))
        .map_err(|_| BlsError::Empty)
}

/// Adds public keys: the sum of G1 points, itself a [`PublicKey`].
///
/// # Errors
/// [`BlsError::Empty`] for an empty list; [`BlsError::InfinityPublicKey`] when the keys
/// cancel out (the sum is not a usable key).
pub fn aggregate_public_keys(public_keys: &[PublicKey]) -> Result<PublicKey, BlsError> {
    let pks: Vec<&min_pk::PublicKey> = public_keys.iter().map(|pk| &pk.0).collect();
    let agg = min_pk::AggregatePublicKey::aggregate(&pks, false).map_err(|_| BlsError::Empty)?;
    let pk = agg.to_public_key();
    pk.validate().map_err(|e| point_error("aggregate public key", e))?;
    Ok(PublicKey(pk))
}

/// One signed message in a batch: `signature` over `message` by `public_key`.
#[derive(Debug, Clone, Copy)]
pub struct SignatureSet<'a> {
    /// The signer.
    pub public_key: &'a PublicKey,
    /// The signed bytes (a signing root).
    pub message: &'a [u8],
    /// The signature to check.
    pub signature: &'a Signature,
}

/// Checks many (public key, message, signature) triples at once: one multi-pairing over
/// `Σ r_i·(e(pk_i, H(m_i)) − e(G1, sig_i))` with independent 64-bit random scalars `r_i`
/// (the consensus spec's batch verification; blst `verify_multiple_aggregate_signatures`).
///
/// `seed` supplies the randomness (the core has no RNG): `r_i` is the first 8 bytes of
/// `SHA-256(seed ‖ i)`, forced non-zero. The seed must be unpredictable to whoever chose the
/// signatures, or a forger could cancel a bad signature against another; pass 32 fresh
/// random bytes from the shell.
///
/// # Errors
/// [`BlsError::Empty`] for an empty batch; [`BlsError::VerifyFailed`] when any triple is
/// invalid (the batch does not say which; re-check one by one to find it).
pub fn verify_batch(sets: &[SignatureSet<'_>], seed: &[u8; 32]) -> Result<(), BlsError> {
    if sets.is_empty() {
        return Err(BlsError::Empty);
    }
    let rands: Vec<blst_scalar> = (0..sets.len()).map(|i| batch_scalar(seed, i)).collect();
    let msgs: Vec<&[u8]> = sets.iter().map(|s| s.message).collect();
    let pks: Vec<&min_pk::PublicKey> = sets.iter().map(|s| &s.public_key.0).collect();
    let sigs: Vec<&min_pk::Signature> = sets.iter().map(|s| &s.signature.0).collect();
    verify_result(min_pk::Signature::verify_multiple_aggregate_signatures(
        &msgs,
        ETH_DST,
        &pks,
        false,
        &sigs,
        false,
        &rands,
        BATCH_RAND_BITS,
    ))
}

/// The `index`-th batch scalar from `seed`: 64 little-endian bits, never zero.
fn batch_scalar(seed: &[u8; 32], index: usize) -> blst_scalar {
    let digest =
        Sha256::new().chain_update(seed).chain_update((index as u64).to_le_bytes()).finalize();
    let mut scalar = blst_scalar::default();
    for (dst, src) in scalar.b.iter_mut().zip(digest.iter().take(BATCH_RAND_BITS / 8)) {
        *dst = *src;
    }
    if scalar.b.iter().all(|b| *b == 0)
        && let Some(first) = scalar.b.first_mut()
    {
        *first = 1;
    }
    scalar
}

#[cfg(test)]
mod tests {
    use super::*;

    // ssv-spec v1.2.2 testingutils/keys.go: Testing4SharesSet ValidatorSK / ValidatorPK.
    const VALIDATOR_SK: &str = "0x3515c7d08e5affd729e9579f7588d30f2342ee6f6a9334acf006345262162c6f";
    const VALIDATOR_PK: &str = "8e80066551a81b318258709edaf7dd1f63cd686a0e4db8b29bbb7acfe65608677af5a527d9448ee47835485e02b50bc0";

    #[test]
    fn go_fixture_key_derives_its_public_key() {
        let sk = SecretKey::from_hex(VALIDATOR_SK).unwrap();
        assert_eq!(hex::encode(sk.public_key().to_bytes()), VALIDATOR_PK);
    }

    #[test]
    fn sign_verify_round_trip_and_rejections() {
        let sk = SecretKey::from_hex(VALIDATOR_SK).unwrap();
        let pk = sk.public_key();
        let sig = sk.sign(&[7u8; 32]);
        sig.verify(&pk, &[7u8; 32]).unwrap();
        assert_eq!(sig.verify(&pk, &[8u8; 32]), Err(BlsError::VerifyFailed));
        assert_eq!(Signature::from_bytes(&sig.to_bytes()).unwrap(), sig);
        assert_eq!(PublicKey::from_bytes(&pk.to_bytes()).unwrap(), pk);
        assert!(matches!(PublicKey::from_bytes(&[0u8; 47]), Err(BlsError::Length { .. })));
        let mut inf = [0u8; 48];
        inf[0] = 0xc0;
        assert_eq!(PublicKey::from_bytes(&inf), Err(BlsError::InfinityPublicKey));
        assert_eq!(SecretKey::from_bytes(&[0u8; 32]).err(), Some(BlsError::InvalidSecretKey));
    }

    #[test]
    fn batch_detects_one_bad_signature() {
        let keys: Vec<SecretKey> =
            (1u8..=4).map(|i| SecretKey::from_bytes(&[i; 32]).unwrap()).collect();
        let pks: Vec<PublicKey> = keys.iter().map(SecretKey::public_key).collect();
        let msgs: Vec<[u8; 32]> = (0u8..4).map(|i| [i; 32]).collect();
        let mut sigs: Vec<Signature> = keys.iter().zip(&msgs).map(|(k, m)| k.sign(m)).collect();
        fn sets<'a>(
            pks: &'a [PublicKey],
            msgs: &'a [[u8; 32]],
            sigs: &'a [Signature],
        ) -> Vec<SignatureSet<'a>> {
            (0..4)
                .map(|i| SignatureSet {
                    public_key: &pks[i],
                    message: &msgs[i],
                    signature: &sigs[i],
                })
                .collect()
        }
        verify_batch(&sets(&pks, &msgs, &sigs), &[9u8; 32]).unwrap();
        sigs[2] = keys[2].sign(&[0xffu8; 32]);
        assert_eq!(
            verify_batch(&sets(&pks, &msgs, &sigs), &[9u8; 32]),
            Err(BlsError::VerifyFailed)
        );
        assert_eq!(verify_batch(&[], &[9u8; 32]), Err(BlsError::Empty));
    }
}
