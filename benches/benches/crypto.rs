//! The crypto floor: BLS sign, verify, batch verify, Lagrange reconstruction (alone and
//! with the verification of the result) and RSA-2048 sign and verify, measured in the same
//! run as everything that is compared with them.
//!
//! `cargo bench -p ssv-benches --bench crypto`; `cargo test -p ssv-benches --benches` runs
//! each benchmark once as a smoke test.

// criterion_group! generates an undocumented pub fn.
#![allow(missing_docs)]

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ssv_core::crypto::bls::{SecretKey, Signature, SignatureSet, verify_batch};
use ssv_core::crypto::rsa::OperatorPrivateKey;
use ssv_core::crypto::threshold::{
    LagrangeCache, reconstruct_and_verify, reconstruct_signature, split_secret,
};
use std::hint::black_box;

fn secret(i: u8) -> SecretKey {
    let mut bytes = [0u8; 32];
    bytes[31] = i.max(1);
    bytes[0] = 0x1f;
    SecretKey::from_bytes(&bytes).expect("valid scalar")
}

fn bls(c: &mut Criterion) {
    let sk = secret(7);
    let pk = sk.public_key();
    let root = [42u8; 32];
    let sig = sk.sign(&root);
    c.bench_function("bls/sign", |b| b.iter(|| black_box(sk.sign(black_box(&root)))));
    c.bench_function("bls/verify", |b| {
        b.iter(|| sig.verify(black_box(&pk), black_box(&root)).expect("valid"));
    });

    // 64 distinct (key, message) pairs, as a committee duty's partial signatures are.
    let keys: Vec<SecretKey> = (1..=64).map(secret).collect();
    let pubs: Vec<_> = keys.iter().map(SecretKey::public_key).collect();
    let msgs: Vec<[u8; 32]> = (0..64u8).map(|i| [i; 32]).collect();
    let sigs: Vec<Signature> = keys.iter().zip(&msgs).map(|(k, m)| k.sign(m)).collect();
    let sets: Vec<SignatureSet<'_>> = pubs
        .iter()
        .zip(&msgs)
        .zip(&sigs)
        .map(|((public_key, message), signature)| SignatureSet { public_key, message, signature })
        .collect();
    c.bench_function("bls/batch_verify_64", |b| {
        b.iter(|| verify_batch(black_box(&sets), &[9u8; 32]).expect("valid batch"));
    });
}

fn reconstruction(c: &mut Criterion) {
    let mut cases = Vec::new();
    for n in [4u64, 7, 10, 13] {
        let f = (n - 1) / 3;
        let quorum = (2 * f + 1) as usize;
        let validator = secret(99);
        let ids: Vec<u64> = (1..=n).collect();
        let coefficients: Vec<[u8; 64]> = (0..2 * f).map(|i| [i as u8 + 3; 64]).collect();
        let shares = split_secret(&validator, &ids, &coefficients).expect("split");
        let partials: Vec<(u64, Signature)> =
            shares.iter().take(quorum).map(|s| (s.operator_id, s.secret_key.sign(&ROOT))).collect();
        cases.push((quorum, partials, validator.public_key()));
    }
    // The Lagrange combination alone: one multi-scalar multiplication in G2.
    let mut group = c.benchmark_group("threshold/reconstruct");
    for (quorum, partials, _) in &cases {
        let mut cache = LagrangeCache::default();
        group.bench_with_input(BenchmarkId::from_parameter(quorum), partials, |b, partials| {
            b.iter(|| reconstruct_signature(black_box(partials), &mut cache).expect("valid"));
        });
    }
    group.finish();
    // What the runner does per validator: combine, then verify the result (one pairing check).
    let mut group = c.benchmark_group("threshold/reconstruct_and_verify");
    for (quorum, partials, pk) in &cases {
        let mut cache = LagrangeCache::default();
        group.bench_with_input(BenchmarkId::from_parameter(quorum), partials, |b, partials| {
            b.iter(|| reconstruct_and_verify(partials, pk, &ROOT, &mut cache).expect("valid"));
        });
    }
    group.finish();
}

const ROOT: [u8; 32] = [5u8; 32];

/// RSA-2048 PKCS#1 v1.5 SHA-256 over a typical SSVMessage (a ~250-byte QBFT prepare).
fn rsa(c: &mut Criterion) {
    let key = OperatorPrivateKey::generate().expect("keygen");
    let message = vec![0x5au8; 250];
    let signature = key.sign(&message).expect("sign");
    let public = key.public_key().clone();
    c.bench_function("rsa/sign", |b| b.iter(|| black_box(key.sign(black_box(&message)))));
    c.bench_function("rsa/verify", |b| {
        b.iter(|| public.verify(black_box(&message), black_box(&signature)).expect("valid"));
    });
}

criterion_group! {
    name = benches;
    config = ssv_benches::criterion_config();
    targets = bls, reconstruction, rsa
}
criterion_main!(benches);
