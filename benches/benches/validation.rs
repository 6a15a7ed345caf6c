//! Gossip validation cost per message next to the RSA verification it contains, in the same
//! run: a consensus prepare and a post-consensus partial-signature message of a 4-operator
//! committee (one RSA verification each), and a decided commit (three). Goal: within 1.5x
//! of the RSA floor (the Go node and Anchor report 165 to 430 µs per real message). Then
//! throughput on a batch of 64: sequential, and two-phase with RSA on 2 worker threads.
//!
//! `cargo bench -p ssv-benches --bench validation`.

// criterion_group! generates an undocumented pub fn.
#![allow(missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ssv_core::crypto::rsa::OperatorPrivateKey;
use ssv_core::types::ssz::Encode as _;
use ssv_core::types::ssz_types::VariableList;
use ssv_core::types::{
    CommitteeId, DomainType, MessageId, PartialSignatureMessage, PartialSignatureMessages,
    QbftMessage, RunnerRole, SignedSsvMessage, SsvMessage,
};
use ssv_core::validation::{
    MessageValidator, SignatureCheck, StaticNetworkView, ValidationConfig, Verdict,
    committee_subnet, topic_name, verify_message_signatures,
};
use std::hint::black_box;

const GENESIS: u64 = 1_600_000_000_000;
const SLOT: u64 = 100;

fn sign(
    keys: &[OperatorPrivateKey],
    msg_type: u64,
    id: MessageId,
    data: Vec<u8>,
    signers: &[u64],
) -> SignedSsvMessage {
    let ssv = SsvMessage { msg_type, msg_id: id, data: VariableList::new(data).expect("bounded") };
    let bytes = ssv.as_ssz_bytes();
    let sigs = signers
        .iter()
        .map(|s| {
            VariableList::new(keys[(*s - 1) as usize].sign(&bytes).expect("sign").to_vec())
                .expect("256")
        })
        .collect();
    SignedSsvMessage {
        signatures: VariableList::new(sigs).expect("bounded"),
        operator_ids: VariableList::new(signers.to_vec()).expect("bounded"),
        ssv_message: ssv,
        full_data: VariableList::empty(),
    }
}

fn qbft(msg_type: u64, id: MessageId) -> Vec<u8> {
    QbftMessage {
        msg_type,
        height: SLOT,
        round: 1,
        identifier: VariableList::new(id.0.to_vec()).expect("56"),
        root: [1; 32],
        data_round: 0,
        round_change_justification: VariableList::empty(),
        prepare_justification: VariableList::empty(),
    }
    .as_ssz_bytes()
}

fn validation(c: &mut Criterion) {
    let keys: Vec<OperatorPrivateKey> =
        (0..4).map(|_| OperatorPrivateKey::generate().expect("keygen")).collect();
    let mut view = StaticNetworkView::new();
    for (i, k) in keys.iter().enumerate() {
        view.add_operator(i as u64 + 1, Some(k.public_key().clone()));
    }
    let cid: CommitteeId = view.add_committee(&[1, 2, 3, 4], &[10, 11]);
    let id = MessageId::for_committee(DomainType::JATO_TESTNET, RunnerRole::Committee, &cid.0);
    let topic = topic_name(committee_subnet(&cid));
    let config = ValidationConfig::mainnet(DomainType::JATO_TESTNET, GENESIS);
    let now = config.slot_start_ms(SLOT) + 1_000;

    let prepare = sign(&keys, 0, id, qbft(1, id), &[1]);
    let decided = sign(&keys, 0, id, qbft(2, id), &[1, 2, 3]);
    let psig = PartialSignatureMessages {
        msg_type: 0,
        slot: SLOT,
        messages: VariableList::new(
            [10u64, 11]
                .iter()
                .map(|i| PartialSignatureMessage {
                    partial_signature: [3; 96],
                    signing_root: [4; 32],
                    signer: 2,
                    validator_index: *i,
                })
                .collect(),
        )
        .expect("bounded"),
    };
    let partial = sign(&keys, 1, id, psig.as_ssz_bytes(), &[2]);

    let signed_bytes = prepare.ssv_message.as_ssz_bytes();
    let key = keys[0].public_key().clone();
    c.bench_function("validation/rsa_verify_floor", |b| {
        b.iter(|| {
            key.verify(black_box(&signed_bytes), black_box(&prepare.signatures[0])).expect("valid");
        });
    });

    for (name, msg) in [
        ("consensus_prepare", &prepare),
        ("partial_post_consensus", &partial),
        ("decided_commit_3_signers", &decided),
    ] {
        let data = msg.as_ssz_bytes();
        // A fresh validator each time: the accept path, not the duplicate path.
        c.bench_function(&format!("validation/{name}"), |b| {
            b.iter(|| {
                let mut mv = MessageValidator::new(config.clone());
                let v = mv.validate(now, b"peer", &topic, black_box(&data), &view);
                assert!(matches!(v, Verdict::Accept(_)), "{v:?}");
            });
        });
    }

    // Throughput on a batch of prepares from distinct peers (all accepted): sequential
    // validation next to the two-phase pipeline with RSA on 2 worker threads (the swarm's
    // pipeline: pre-checks in order, verification in parallel, commits in order).
    const BATCH: usize = 64;
    let batch: Vec<(Vec<u8>, Vec<u8>)> =
        (0..BATCH).map(|i| (format!("peer-{i}").into_bytes(), prepare.as_ssz_bytes())).collect();
    let mut group = c.benchmark_group("validation/throughput");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("sequential", |b| {
        b.iter(|| {
            let mut mv = MessageValidator::new(config.clone());
            for (peer, data) in &batch {
                let v = mv.validate(now, peer, &topic, black_box(data), &view);
                assert!(matches!(v, Verdict::Accept(_)), "{v:?}");
            }
        });
    });
    group.bench_function("two_phase_2_workers", |b| {
        b.iter(|| {
            let mut mv = MessageValidator::new(config.clone());
            for (peer, data) in &batch {
                assert!(mv.pre_check(now, peer, &topic, data, &view).is_ok());
            }
            let mut checks = vec![SignatureCheck::Invalid; BATCH];
            std::thread::scope(|scope| {
                for (part, out) in batch.chunks(BATCH / 2).zip(checks.chunks_mut(BATCH / 2)) {
                    let view = &view;
                    scope.spawn(move || {
                        for ((_, data), check) in part.iter().zip(out.iter_mut()) {
                            *check = verify_message_signatures(black_box(data), view);
                        }
                    });
                }
            });
            for ((peer, data), check) in batch.iter().zip(&checks) {
                let v = mv.commit(now, peer, &topic, data, &view, Some(*check));
                assert!(matches!(v, Verdict::Accept(_)), "{v:?}");
            }
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = ssv_benches::criterion_config();
    targets = validation
}
criterion_main!(benches);
