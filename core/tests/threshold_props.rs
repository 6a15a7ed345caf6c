//! Threshold signing properties, checked independently of the code under test:
//!
//! * for committees of n ∈ {4, 7, 10, 13} (f = (n−1)/3, quorum 2f+1) with arbitrary
//!   operator ids, any quorum of partial signatures reconstructs exactly the validator's own
//!   signature, fewer than a quorum does not verify, and the shares interpolate back to the
//!   secret; share public keys equal `p(id)·G1` computed with bls12_381;
//! * blst and bls12_381 agree on public keys (`s·G1`) and signatures (`s·H(m)`, with
//!   bls12_381's hash_to_curve under the Ethereum DST): a differential check;
//! * the ssv-spec v1.2.2 `PartialSigContainerTest` vectors (herumi `Sign.Recover`) and the
//!   Go test key sets agree with our Lagrange interpolation.

use std::collections::BTreeSet;

use base64::Engine as _;
use bls12_381::hash_to_curve::{ExpandMsgXmd, HashToCurve};
use bls12_381::{G1Affine, G1Projective, G2Affine, G2Projective, Scalar};
use quickcheck::{Arbitrary, Gen, QuickCheck, TestResult};
use serde_json::Value;
use ssv_core::crypto::bls::{ETH_DST, PublicKey, SecretKey, Signature};
use ssv_core::crypto::threshold::{
    LagrangeCache, ReconstructError, SecretShare, reconstruct_and_verify, reconstruct_secret,
    split_secret,
};
use ssv_core::error::{ErrorCode, SpecError};

/// Property runs per committee size (about 10 ms each at n = 13 in a debug build).
const TESTS_PER_SIZE: u64 = 100;

fn wide(g: &mut Gen) -> [u8; 64] {
    std::array::from_fn(|_| u8::arbitrary(g))
}

/// The secret key for `Scalar::from_bytes_wide(bytes)`, or `None` for 0.
fn scalar_and_key(bytes: &[u8; 64]) -> Option<(Scalar, SecretKey)> {
    let scalar = Scalar::from_bytes_wide(bytes);
    let mut be = scalar.to_bytes();
    be.reverse();
    SecretKey::from_bytes(&be).ok().map(|sk| (scalar, sk))
}

/// One committee: secret, 2f coefficients, distinct non-zero operator ids in a random order
/// (the first 2f+1 form the quorum), a signing root.
#[derive(Debug, Clone)]
struct Committee {
    secret: [u8; 64],
    coefficients: Vec<[u8; 64]>,
    operator_ids: Vec<u64>,
    signing_root: [u8; 32],
}

fn committee(g: &mut Gen, n: usize) -> Committee {
    let f = (n - 1) / 3;
    let mut seen = BTreeSet::new();
    let mut operator_ids = Vec::with_capacity(n);
    while operator_ids.len() < n {
        // Small ids (as in the Go fixtures) and arbitrary ones (as on mainnet).
        let id =
            if bool::arbitrary(g) { u64::arbitrary(g) % 20 + 1 } else { u64::arbitrary(g).max(1) };
        if seen.insert(id) {
            operator_ids.push(id);
        }
    }
    Committee {
        secret: wide(g),
        coefficients: (0..2 * f).map(|_| wide(g)).collect(),
        operator_ids,
        signing_root: std::array::from_fn(|_| u8::arbitrary(g)),
    }
}

/// `p(x)` with bls12_381, independently of `split_secret`.
fn eval_poly(secret: Scalar, coefficients: &[[u8; 64]], x: u64) -> Scalar {
    let x = Scalar::from(x);
    let mut power = Scalar::one();
    let mut acc = secret;
    for c in coefficients {
        power *= x;
        acc += Scalar::from_bytes_wide(c) * power;
    }
    acc
}

fn committee_property(c: &Committee) -> TestResult {
    let Some((s, secret)) = scalar_and_key(&c.secret) else { return TestResult::discard() };
    let n = c.operator_ids.len();
    let quorum = 2 * ((n - 1) / 3) + 1;
    let shares = match split_secret(&secret, &c.operator_ids, &c.coefficients) {
        Ok(shares) => shares,
        Err(e) => return TestResult::error(format!("split failed: {e}")),
    };
    // Share public keys are p(id)·G1.
    for share in &shares {
        let expected = G1Affine::from(
            G1Projective::generator() * eval_poly(s, &c.coefficients, share.operator_id),
        );
        if share.public_key().to_bytes() != expected.to_compressed() {
            return TestResult::error(format!(
                "share {} public key differs from p(id)·G1",
                share.operator_id
            ));
        }
    }
    let validator_pk = secret.public_key();
    let expected_sig = secret.sign(&c.signing_root);
    let partials: Vec<(u64, Signature)> =
        shares.iter().map(|s| (s.operator_id, s.secret_key.sign(&c.signing_root))).collect();
    let mut cache = LagrangeCache::new(4);

    // A quorum (in the committee's shuffled order) reconstructs the validator signature.
    let got =
        reconstruct_and_verify(&partials[..quorum], &validator_pk, &c.signing_root, &mut cache);
    if got != Ok(expected_sig) {
        return TestResult::error(format!("quorum of {quorum}/{n}: {got:?}"));
    }
    // So does the last quorum of the list (a different signer set unless n = quorum).
    let tail = &partials[n - quorum..];
    if reconstruct_and_verify(tail, &validator_pk, &c.signing_root, &mut cache) != Ok(expected_sig)
    {
        return TestResult::error("second quorum failed");
    }
    // One fewer does not verify.
    let short =
        reconstruct_and_verify(&partials[..quorum - 1], &validator_pk, &c.signing_root, &mut cache);
    if short != Err(ReconstructError::InvalidReconstructedSignature) {
        return TestResult::error(format!("{} of {n} signers: {short:?}", quorum - 1));
    }
    // The shares interpolate back to the secret.
    let rebuilt = reconstruct_secret(&shares[..quorum]).map(|k| *k.to_bytes());
    if rebuilt != Ok(*secret.to_bytes()) {
        return TestResult::error("quorum of shares does not interpolate to the secret");
    }
    TestResult::passed()
}

/// A [`Committee`] of `N` operators, so quickcheck can generate per committee size.
#[derive(Debug, Clone)]
struct CommitteeOf<const N: usize>(Committee);

impl<const N: usize> Arbitrary for CommitteeOf<N> {
    fn arbitrary(g: &mut Gen) -> Self {
        CommitteeOf(committee(g, N))
    }
}

fn check_committee_size<const N: usize>() {
    #[allow(clippy::needless_pass_by_value)] // quickcheck hands over generated values by value.
    fn prop<const N: usize>(c: CommitteeOf<N>) -> TestResult {
        committee_property(&c.0)
    }
    QuickCheck::new()
        .tests(TESTS_PER_SIZE)
        .quickcheck(prop::<N> as fn(CommitteeOf<N>) -> TestResult);
}

#[test]
fn any_quorum_reconstructs_n4() {
    check_committee_size::<4>();
}

#[test]
fn any_quorum_reconstructs_n7() {
    check_committee_size::<7>();
}

#[test]
fn any_quorum_reconstructs_n10() {
    check_committee_size::<10>();
}

#[test]
fn any_quorum_reconstructs_n13() {
    check_committee_size::<13>();
}

#[derive(Debug, Clone)]
struct KeyAndMessage {
    secret: [u8; 64],
    message: Vec<u8>,
}

impl Arbitrary for KeyAndMessage {
    fn arbitrary(g: &mut Gen) -> Self {
        KeyAndMessage { secret: wide(g), message: Vec::arbitrary(g) }
    }
}

#[test]
fn blst_and_bls12_381_agree() {
    #[allow(clippy::needless_pass_by_value)] // quickcheck hands over generated values by value.
    fn prop(km: KeyAndMessage) -> TestResult {
        let Some((s, sk)) = scalar_and_key(&km.secret) else { return TestResult::discard() };
        let pk = G1Affine::from(G1Projective::generator() * s).to_compressed();
        if sk.public_key().to_bytes() != pk {
            return TestResult::error("public keys differ");
        }
        let h = <G2Projective as HashToCurve<ExpandMsgXmd<sha2::Sha256>>>::hash_to_curve(
            [km.message.as_slice()],
            ETH_DST,
        );
        let sig = G2Affine::from(h * s).to_compressed();
        TestResult::from_bool(sk.sign(&km.message).to_bytes() == sig)
    }
    QuickCheck::new().tests(100).quickcheck(prop as fn(KeyAndMessage) -> TestResult);
}

fn b64(value: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(value.as_str().expect("base64 string"))
        .expect("base64")
}

fn unhex(value: &Value) -> Vec<u8> {
    hex::decode(value.as_str().expect("hex string").trim_start_matches("0x")).expect("hex")
}

/// ssv-spec v1.2.2 `ssv/spectest/tests/partialsigcontainer`: herumi's `Sign.Recover` result
/// (`ExpectedResult`) for the quorum cases, error 34 for the others.
#[test]
fn spec_partial_sig_container_vectors() {
    let root =
        ssv_fixtures::unpacked(ssv_fixtures::SSV_SPEC_V1_2_2).expect("ssv-spec v1.2.2 vectors");
    let dir = root.join("ssv/spectest/generate/tests");
    let files: Vec<_> = ssv_fixtures::files_with_extension(&dir, ".json")
        .expect("list vectors")
        .into_iter()
        .filter(|p| {
            p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("partialsigcontainer."))
        })
        .collect();
    assert_eq!(files.len(), 5, "partialsigcontainer vector files");
    let mut reconstructed = 0;
    for file in &files {
        let doc: Value = ssv_fixtures::read_json(file).expect("vector json");
        let name = file.display();
        let validator_pk =
            PublicKey::from_bytes(&b64(&doc["ValidatorPubKey"])).expect("validator key");
        let quorum = doc["Quorum"].as_u64().expect("Quorum") as usize;
        // The container keeps the first signature per signer.
        let mut partials: Vec<(u64, Signature)> = Vec::new();
        let mut roots = BTreeSet::new();
        for msg in doc["SignatureMsgs"].as_array().expect("SignatureMsgs") {
            let signer = msg["Signer"].as_u64().expect("Signer");
            roots.insert(unhex(&msg["SigningRoot"]));
            if partials.iter().all(|(id, _)| *id != signer) {
                let sig = Signature::from_bytes(&unhex(&msg["PartialSignature"]))
                    .expect("partial signature");
                partials.push((signer, sig));
            }
        }
        assert_eq!(roots.len(), 1, "{name}: one signing root");
        let signing_root: [u8; 32] = roots.pop_first().unwrap().try_into().unwrap();
        assert_eq!(
            partials.len() >= quorum,
            doc["ExpectedQuorum"].as_bool().unwrap(),
            "{name}: quorum"
        );
        let result = reconstruct_and_verify(
            &partials,
            &validator_pk,
            &signing_root,
            &mut LagrangeCache::default(),
        );
        match doc["ExpectedErrorCode"].as_u64().unwrap() {
            0 => {
                let expected = b64(&doc["ExpectedResult"]);
                assert_eq!(
                    result.expect("reconstructs").to_bytes().as_slice(),
                    expected.as_slice(),
                    "{name}"
                );
                reconstructed += 1;
            }
            code => {
                let err = result.expect_err("must fail");
                assert_eq!(err.code().map(ErrorCode::as_u16), Some(code as u16), "{name}: {err}");
            }
        }
        // The file's own shares: p(0) is the validator key, and each signer's share signs
        // the partial signature listed (unless the vector swapped it on purpose).
        let keys = &doc["PrivateKeys"];
        let shares: Vec<SecretShare> = keys["Shares"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(id, sk)| SecretShare {
                operator_id: id.parse().unwrap(),
                secret_key: SecretKey::from_hex(sk.as_str().unwrap()).unwrap(),
            })
            .collect();
        let validator_sk = SecretKey::from_hex(keys["ValidatorSK"].as_str().unwrap()).unwrap();
        assert_eq!(
            *reconstruct_secret(&shares[..quorum]).unwrap().to_bytes(),
            *validator_sk.to_bytes()
        );
    }
    assert!(reconstructed >= 1, "no quorum case reconstructed");
}

/// The Go test key sets (testingutils `Testing{4,7,10,13}SharesSet`): any quorum of the
/// listed shares interpolates to the validator key, and share keys are at x = operator id.
#[test]
fn go_key_sets_interpolate_to_the_validator_key() {
    let path = ssv_fixtures::vector_path(
        "ssv-spec-testingutils-v1.2.2/keys.json",
        "ssvlabs/ssv-spec v1.2.2 types/testingutils (see shared/vectors/README.md)",
    )
    .expect("testingutils keys");
    let doc: Value = ssv_fixtures::read_json(&path).expect("keys.json");
    for set in
        ["Testing4SharesSet", "Testing7SharesSet", "Testing10SharesSet", "Testing13SharesSet"]
    {
        let value = &doc[set]["value"];
        let validator_sk = SecretKey::from_hex(value["ValidatorSK"].as_str().unwrap()).unwrap();
        let threshold: usize = value["Threshold"].to_string().trim_matches('"').parse().unwrap();
        let mut shares: Vec<SecretShare> = value["Shares"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(id, sk)| SecretShare {
                operator_id: id.parse().unwrap(),
                secret_key: SecretKey::from_hex(sk.as_str().unwrap()).unwrap(),
            })
            .collect();
        let n = shares.len();
        assert_eq!(threshold, 2 * ((n - 1) / 3) + 1, "{set}");
        // First quorum, last quorum.
        for quorum in [&shares[..threshold], &shares[n - threshold..]] {
            let rebuilt = reconstruct_secret(quorum).unwrap();
            assert_eq!(*rebuilt.to_bytes(), *validator_sk.to_bytes(), "{set}");
        }
        // One short of the threshold interpolates to something else.
        shares.truncate(threshold - 1);
        assert_ne!(
            *reconstruct_secret(&shares).unwrap().to_bytes(),
            *validator_sk.to_bytes(),
            "{set}"
        );
    }
}
