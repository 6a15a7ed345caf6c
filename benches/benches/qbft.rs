//! One QBFT instance from start to decided, for committees of 4, 7, 10 and 13, with real
//! RSA-2048 signing (each member's [`RsaSigner`]) and verification.
//!
//! # What one iteration is
//! The whole n-member cluster on one thread, in-order delivery with no faults: every member
//! starts, the round-1 leader proposes, everyone prepares and commits, and every member
//! decides. Each delivered message from another member is first RSA-verified with the
//! sender's parsed key, as the shell does before the core sees it; a member's own messages
//! are looped back unverified. Decided (aggregated commit) broadcasts are not delivered.
//!
//! # RSA operations per iteration (checked by counting on every run)
//! - signatures: `2n + 1` (one proposal, n prepares, n commits);
//! - verifications: `(n − 1)(2n + 1)` (every message, by each member but its sender).
//!
//! The collector divides the median by n for the CPU time per decided instance (one
//! member's share) and compares the whole with `signs·rsa/sign + verifies·rsa/verify`.
//! Goal: within 1.3x of that floor.

// criterion_group! generates an undocumented pub fn.
#![allow(missing_docs)]

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ssv_core::crypto::rsa::{OperatorPrivateKey, OperatorPublicKey};
use ssv_core::qbft::{
    CommitteeMember, Controller, ControllerInput, NonEmptyValue, Operator, OperatorSigner, Output,
    QbftConfig, RoundRobinProposer, RsaSigner, SignError, SpecTimeouts,
};
use ssv_core::types::ssz::Encode as _;
use ssv_core::types::{DomainType, SignedSsvMessage};

static SIGNS: AtomicU64 = AtomicU64::new(0);

/// An [`RsaSigner`] shared by every instance of a member, as the node shares its one
/// parsed operator key (`SharedRsaSigner` in `shell/src/node/driver.rs`), that counts its
/// signatures. A key parsed anew for each instance would pay aws-lc's one-time private-key
/// set-up (Montgomery contexts) on its first signature, which no running node pays.
struct CountingSigner(Arc<RsaSigner>);

impl OperatorSigner for CountingSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        SIGNS.fetch_add(1, Ordering::Relaxed);
        self.0.sign(message)
    }
}

struct Cluster {
    signers: Vec<Arc<RsaSigner>>,
    publics: Vec<OperatorPublicKey>,
}

/// What one run did.
#[derive(Debug, PartialEq, Eq)]
struct Run {
    decided: usize,
    verifies: u64,
}

impl Cluster {
    fn new(n: usize) -> Self {
        let keys: Vec<OperatorPrivateKey> =
            (0..n).map(|_| OperatorPrivateKey::generate().expect("keygen")).collect();
        let publics = keys.iter().map(|k| k.public_key().clone()).collect();
        let signers = keys.into_iter().map(|k| Arc::new(RsaSigner(k))).collect();
        Self { signers, publics }
    }

    fn controllers(&self) -> Vec<Controller> {
        let n = self.signers.len() as u64;
        let committee: Vec<Operator> = (1..=n)
            .map(|id| Operator {
                operator_id: id,
                public_key: self.publics[(id - 1) as usize].to_pem().into_bytes(),
            })
            .collect();
        (1..=n)
            .map(|me| {
                let config = QbftConfig {
                    proposer: Box::new(RoundRobinProposer),
                    value_check: Box::new(NonEmptyValue),
                    timeouts: Box::new(SpecTimeouts),
                    verifier: Box::new(ssv_core::qbft::RsaVerifier),
                    signer: Box::new(CountingSigner(Arc::clone(&self.signers[(me - 1) as usize]))),
                    cut_off_round: 12,
                };
                let member = CommitteeMember {
                    operator_id: me,
                    committee_id: [3; 32],
                    public_key: committee[(me - 1) as usize].public_key.clone(),
                    faulty_nodes: (n - 1) / 3,
                    committee: committee.clone(),
                    domain_type: DomainType::JATO_TESTNET,
                };
                Controller::new(Arc::new(config), vec![7u8; 56], member)
            })
            .collect()
    }

    /// Runs one instance at height 1 to a decision by every member.
    fn run(&self, mut members: Vec<Controller>) -> Run {
        let n = members.len();
        let mut decided = vec![false; n];
        let mut verifies = 0;
        let mut queue: VecDeque<(usize, SignedSsvMessage)> = VecDeque::new();
        let mut out = Vec::new();
        let value = vec![0xab; 64];
        for (i, m) in members.iter_mut().enumerate() {
            m.handle(0, ControllerInput::Start { height: 1, value: value.clone() }, &mut out)
                .expect("start");
            dispatch(i, n, &mut out, &mut queue, &mut decided);
        }
        while let Some((to, msg)) = queue.pop_front() {
            let from = msg.operator_ids[0] as usize - 1;
            if from != to {
                // The shell's check before the core: the sender's RSA signature.
                let bytes = msg.ssv_message.as_ssz_bytes();
                self.publics[from].verify(&bytes, &msg.signatures[0]).expect("valid signature");
                verifies += 1;
            }
            // Late commits after a decision are refused; that is expected.
            let _ = members[to].handle(1, ControllerInput::Message(msg), &mut out);
            dispatch(to, n, &mut out, &mut queue, &mut decided);
        }
        Run { decided: decided.iter().filter(|d| **d).count(), verifies }
    }
}

fn dispatch(
    from: usize,
    n: usize,
    out: &mut Vec<Output>,
    queue: &mut VecDeque<(usize, SignedSsvMessage)>,
    decided: &mut [bool],
) {
    for o in out.drain(..) {
        match o {
            // One signer: a proposal, prepare or commit. The aggregated commit is skipped.
            Output::Broadcast(m) if m.operator_ids.len() == 1 => {
                for to in 0..n {
                    queue.push_back((to, m.clone()));
                }
            }
            Output::Decided(_) => decided[from] = true,
            Output::Broadcast(_) | Output::TimerSet { .. } => {}
        }
    }
}

fn instance(c: &mut Criterion) {
    let mut group = c.benchmark_group("qbft/cluster_decide");
    for n in [4usize, 7, 10, 13] {
        let cluster = Cluster::new(n);
        // Check the run and the documented RSA operation counts once.
        SIGNS.store(0, Ordering::Relaxed);
        let run = cluster.run(cluster.controllers());
        let expected_verifies = ((n - 1) * (2 * n + 1)) as u64;
        assert_eq!(run, Run { decided: n, verifies: expected_verifies });
        assert_eq!(SIGNS.load(Ordering::Relaxed), (2 * n + 1) as u64, "RSA signatures");
        group.bench_with_input(BenchmarkId::from_parameter(n), &cluster, |b, cluster| {
            b.iter_batched(
                || cluster.controllers(),
                |members| cluster.run(members),
                criterion::BatchSize::PerIteration,
            );
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = ssv_benches::criterion_config();
    targets = instance
}
criterion_main!(benches);
