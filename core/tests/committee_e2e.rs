//! A committee of 4 in-memory operators (no network, no shell) runs one committee duty
//! for 100 validators end to end: QBFT on the beacon vote, post-consensus partial
//! signatures, Lagrange reconstruction; every submitted signature must verify against the
//! validator key with the right domain. A second test runs the validator-level duties
//! (aggregator, sync-committee contribution, registration, exit) through the `Validator`
//! router the same way.

use std::collections::BTreeMap;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use ssv_core::beacon::{AttestationData, Checkpoint, DataVersion};
use ssv_core::crypto::bls::{PublicKey, SecretKey, Signature};
use ssv_core::crypto::signing::{BeaconDomainType, compute_signing_root};
use ssv_core::crypto::threshold::split_secret;
use ssv_core::qbft::{
    CommitteeMember, Controller, FakeSignatures, Operator, QbftConfig, RoundRobinProposer,
    SpecTimeouts, ValueCheckError,
};
use ssv_core::runner::{
    BeaconNetwork, Committee, CommitteeRunner, Duty, Input, Output, Request, Response,
    RunnerValueCheck, SignRefusal, SlashingProtection, Submission,
};
use ssv_core::types::{
    BlsPublicKeyBytes, CommitteeDuty, CommitteeId, DomainType, MessageId, RunnerRole, Share,
    ShareMember, Slot, ValidatorDuty,
};
use ssz_types::VariableList;
use tree_hash::TreeHash;

const OPERATORS: [u64; 4] = [1, 2, 3, 4];
const VALIDATORS: u64 = 100;
const SLOT: Slot = 64;

struct NoSlashing;

impl SlashingProtection for NoSlashing {
    fn check_attestation(
        &self,
        _: &BlsPublicKeyBytes,
        _: &AttestationData,
    ) -> Result<(), ValueCheckError> {
        Ok(())
    }
    fn check_block(&self, _: &BlsPublicKeyBytes, _: Slot) -> Result<(), ValueCheckError> {
        Ok(())
    }
}

fn secret(seed: &[u8]) -> SecretKey {
    // Hash to a scalar below the group order by clearing the top bits.
    let mut b: [u8; 32] = Sha256::digest(seed).into();
    b[0] &= 0x1f;
    SecretKey::from_bytes(&b).expect("valid scalar")
}

fn network() -> BeaconNetwork {
    BeaconNetwork {
        slots_per_epoch: 32,
        slot_ms: 12_000,
        genesis_ms: 0,
        genesis_validators_root: [7; 32],
        fork_versions: vec![(0, [0, 0, 0, 1])],
        data_versions: vec![(0, DataVersion::Deneb), (10, DataVersion::Electra)],
        sync_subcommittee_size: 128,
    }
}

/// What a committee duty run left: submissions by operator, the committees, the validator
/// public keys by index.
struct DutyRun {
    submissions: BTreeMap<u64, Vec<Submission>>,
    committees: BTreeMap<u64, Committee>,
    validator_pks: BTreeMap<u64, PublicKey>,
}

/// Runs one committee duty at [`SLOT`] for validators `1..=validators` (attesters, and
/// sync committee for every fifth) among the four operators; operator `op`'s signer
/// refuses an item of validator `v` when `refuse(op, v)`.
fn run_committee_duty(validators: u64, refuse: &dyn Fn(u64, u64) -> bool) -> DutyRun {
    let net = Arc::new(network());
    let domain = DomainType::JATO_TESTNET;
    let committee_ops: Vec<Operator> = OPERATORS
        .iter()
        .map(|id| Operator { operator_id: *id, public_key: vec![*id as u8] })
        .collect();
    let cid = CommitteeId::from_operators(&OPERATORS);

    // Validator keys split 3-of-4 at the operator ids.
    let mut validator_pks = BTreeMap::new();
    let mut share_secrets: BTreeMap<u64, BTreeMap<BlsPublicKeyBytes, SecretKey>> = BTreeMap::new();
    let mut shares_of: BTreeMap<u64, BTreeMap<u64, Share>> = BTreeMap::new();
    for v in 1..=validators {
        let sk = secret(&v.to_le_bytes());
        let coeffs: Vec<[u8; 64]> = (0..2u8)
            .map(|i| {
                let mut c = [0u8; 64];
                c[..32]
                    .copy_from_slice(&Sha256::digest([v.to_le_bytes().as_slice(), &[i]].concat()));
                c
            })
            .collect();
        let parts = split_secret(&sk, &OPERATORS, &coeffs).expect("split");
        let members: Vec<ShareMember> = parts
            .iter()
            .map(|p| ShareMember {
                share_pub_key: p.public_key().to_bytes(),
                signer: p.operator_id,
            })
            .collect();
        validator_pks.insert(v, sk.public_key());
        for p in parts {
            let share = Share {
                validator_index: v,
                validator_pub_key: sk.public_key().to_bytes(),
                share_pub_key: p.public_key().to_bytes(),
                committee: VariableList::new(members.clone()).expect("committee"),
                domain_type: domain,
                fee_recipient_address: [0; 20],
                graffiti: [0; 32],
            };
            share_secrets
                .entry(p.operator_id)
                .or_default()
                .insert(p.public_key().to_bytes(), p.secret_key.clone());
            shares_of.entry(p.operator_id).or_default().insert(v, share);
        }
    }

    let mut committees: BTreeMap<u64, Committee> = BTreeMap::new();
    for &op in &OPERATORS {
        let member = CommitteeMember {
            operator_id: op,
            committee_id: cid.0,
            public_key: vec![op as u8],
            faulty_nodes: 1,
            committee: committee_ops.clone(),
            domain_type: domain,
        };
        let (m2, n2) = (member.clone(), Arc::clone(&net));
        let create = Box::new(move |shares: BTreeMap<u64, Share>| {
            let config = Arc::new(QbftConfig {
                proposer: Box::new(RoundRobinProposer),
                value_check: Box::new(RunnerValueCheck::BeaconVote {
                    protection: Arc::new(NoSlashing),
                    slot: SLOT,
                    share_pub_keys: shares.values().map(|s| s.share_pub_key).collect(),
                    expected_source: 1,
                    expected_target: 2,
                }),
                timeouts: Box::new(SpecTimeouts),
                verifier: Box::new(FakeSignatures::default()),
                signer: Box::new(FakeSignatures { public_key: vec![m2.operator_id as u8] }),
                cut_off_round: 12,
            });
            let id =
                MessageId::for_committee(m2.domain_type, RunnerRole::Committee, &m2.committee_id);
            let controller = Controller::new(Arc::clone(&config), id.0.to_vec(), m2.clone());
            CommitteeRunner::new(Arc::clone(&n2), shares, controller, config)
        });
        committees.insert(
            op,
            Committee::new(
                member,
                shares_of[&op].clone(),
                create,
                Box::new(FakeSignatures::default()),
            ),
        );
    }

    // Attesters for every validator, sync committee for every fifth.
    let mut duties = Vec::new();
    for v in 1..=validators {
        let base = ValidatorDuty {
            role: 0,
            pub_key: validator_pks[&v].to_bytes(),
            slot: SLOT,
            validator_index: v,
            committee_index: v % 4,
            committee_length: 32,
            committees_at_slot: 4,
            validator_committee_index: v % 32,
            validator_sync_committee_indices: VariableList::empty(),
        };
        if v % 5 == 0 {
            duties.push(ValidatorDuty { role: 3, ..base.clone() });
        }
        duties.push(base);
    }
    let duty = CommitteeDuty { slot: SLOT, validator_duties: duties };
    let data = AttestationData {
        slot: SLOT,
        index: 0,
        beacon_block_root: [9; 32],
        source: Checkpoint { epoch: 1, root: [1; 32] },
        target: Checkpoint { epoch: 2, root: [2; 32] },
    };

    // Deliver everything synchronously: inputs queue per operator, broadcasts to all.
    let mut queue: Vec<(u64, Input)> =
        OPERATORS.iter().map(|op| (*op, Input::StartDuty(Duty::Committee(duty.clone())))).collect();
    let mut submissions: BTreeMap<u64, Vec<Submission>> = BTreeMap::new();
    let now = net.slot_start(SLOT);
    let mut steps = 0;
    while !queue.is_empty() {
        steps += 1;
        assert!(steps < 100_000, "no progress");
        let (op, input) = queue.remove(0);
        let mut out = Vec::new();
        let committee = committees.get_mut(&op).expect("committee");
        let _ = committee.handle(now, input, &mut out);
        for o in out {
            match o {
                Output::Qbft(ssv_core::qbft::Output::Broadcast(m)) | Output::Broadcast(m) => {
                    for &to in &OPERATORS {
                        queue.push((to, Input::Message(m.clone())));
                    }
                }
                Output::Qbft(_) => {}
                Output::Submit(s) => submissions.entry(op).or_default().push(s),
                Output::Request { id, request } => {
                    let response = match request {
                        Request::AttestationData { .. } => Response::AttestationData(data),
                        Request::Sign(items) => Response::Signatures(
                            items
                                .iter()
                                .map(|it| {
                                    if refuse(op, it.validator_index) {
                                        return Err(SignRefusal::Slashable("surround vote".into()));
                                    }
                                    Ok(share_secrets[&op][&it.share_pub_key]
                                        .sign(&it.signing_root)
                                        .to_bytes())
                                })
                                .collect(),
                        ),
                        other => panic!("a committee runner asked for {other:?}"),
                    };
                    queue.insert(0, (op, Input::Response { id, response }));
                }
            }
        }
    }

    DutyRun { submissions, committees, validator_pks }
}

#[test]
fn four_operators_complete_a_committee_duty_for_100_validators() {
    let DutyRun { submissions, committees, validator_pks } =
        run_committee_duty(VALIDATORS, &|_, _| false);
    let net = network();
    let attester_domain = net.domain(net.epoch_at_slot(SLOT), BeaconDomainType::BEACON_ATTESTER);
    let sync_domain = net.domain(net.epoch_at_slot(SLOT), BeaconDomainType::SYNC_COMMITTEE);
    let verify = |v: u64, root: &[u8; 32], sig: &[u8; 96]| {
        let pk: &PublicKey = &validator_pks[&v];
        Signature::from_bytes(sig)
            .expect("signature")
            .verify(pk, root)
            .expect("reconstructed signature verifies");
    };
    for &op in &OPERATORS {
        let subs = submissions.get(&op).expect("operator submitted");
        assert_eq!(
            subs.len(),
            120,
            "operator {op}: 100 attestations and 20 sync-committee messages"
        );
        for s in subs {
            match s {
                Submission::Attestation(a) => {
                    let root = compute_signing_root(&a.data.tree_hash_root().0, &attester_domain);
                    let validator = (1..=VALIDATORS)
                        .find(|v| {
                            Signature::from_bytes(&a.signature)
                                .is_ok_and(|s| s.verify(&validator_pks[v], &root).is_ok())
                        })
                        .expect("attestation signed by some validator");
                    assert_eq!(a.data.index, validator % 4);
                }
                Submission::SingleAttestation(a) => {
                    let root = compute_signing_root(&a.data.tree_hash_root().0, &attester_domain);
                    verify(a.attester_index, &root, &a.signature);
                }
                Submission::SyncCommitteeMessage(m) => {
                    let root = compute_signing_root(&m.beacon_block_root, &sync_domain);
                    verify(m.validator_index, &root, &m.signature);
                }
                other => panic!("a committee runner submitted {other:?}"),
            }
        }
        let runner = committees[&op].runners.get(&SLOT).expect("runner");
        assert!(
            runner.state.as_ref().is_some_and(|s| s.finished),
            "operator {op} finished the duty"
        );
    }
}

/// Once a committee instance decides, its round timer is off: no deadline is polled and a
/// timeout long after sends no round change (the Go node's `OnTimeout` skips decided
/// instances; without this every decided instance sent a round change each round until
/// the cut-off, slot after slot).
#[test]
fn a_decided_committee_instance_sends_no_round_changes() {
    let DutyRun { mut committees, .. } = run_committee_duty(3, &|_, _| false);
    for &op in &OPERATORS {
        let committee = committees.get_mut(&op).expect("committee");
        let runner = committee.runners.get(&SLOT).expect("runner");
        assert!(
            runner.controller.instance(SLOT).is_some_and(|i| i.state().decided),
            "operator {op} decided"
        );
        assert_eq!(committee.poll_timeout(), None, "operator {op}: no timer once decided");
        let mut out = Vec::new();
        let later = network().slot_start(SLOT) + 3_600_000;
        committee.handle(later, Input::Timeout, &mut out).expect("a timeout is no error");
        assert!(
            !out.iter().any(|o| matches!(o, Output::Qbft(ssv_core::qbft::Output::Broadcast(_)))),
            "operator {op}: no round change for a decided instance: {out:?}"
        );
    }
}

/// Two validators; the signers of operators 1 and 2 refuse validator 1 (slashing
/// protection). Validator 2 is still signed, reconstructed and submitted by every
/// operator; validator 1 gets only two partial signatures (below the quorum of 3) and is
/// submitted by none; the refusing runners record the refused item and the duty stays
/// unfinished.
#[test]
fn a_refused_item_does_not_stop_the_other_validators_submission() {
    let DutyRun { submissions, committees, validator_pks } =
        run_committee_duty(2, &|op, v| op <= 2 && v == 1);
    let net = network();
    let attester_domain = net.domain(net.epoch_at_slot(SLOT), BeaconDomainType::BEACON_ATTESTER);
    for &op in &OPERATORS {
        let subs = submissions.get(&op).expect("operator submitted");
        assert_eq!(subs.len(), 1, "operator {op}: validator 2's attestation only");
        let Submission::Attestation(a) = &subs[0] else { panic!("{:?}", subs[0]) };
        let root = compute_signing_root(&a.data.tree_hash_root().0, &attester_domain);
        Signature::from_bytes(&a.signature)
            .unwrap()
            .verify(&validator_pks[&2], &root)
            .expect("validator 2's reconstructed signature verifies");
        let runner = committees[&op].runners.get(&SLOT).expect("runner");
        let refused: Vec<u64> = runner.refused.iter().map(|(v, _, _)| *v).collect();
        assert_eq!(refused, if op <= 2 { vec![1] } else { vec![] }, "operator {op}");
        if op <= 2 {
            assert!(matches!(runner.refused[0].2, SignRefusal::Slashable(_)));
        }
        let state = runner.state.as_ref().expect("state");
        assert!(!state.finished, "operator {op}: validator 1 was never submitted");
        // Validator 1's root holds the two signatures of operators 3 and 4 only.
        let (v1_root, sigs) = state.post_consensus.signatures[&1].iter().next().unwrap();
        assert_eq!(sigs.keys().copied().collect::<Vec<_>>(), vec![3, 4], "root {v1_root:?}");
    }
}

/// One validator key split 3-of-4 at the operator ids: (validator secret, per-operator
/// share, per-operator share secret).
fn split_validator(
    seed: u64,
    domain: DomainType,
) -> (SecretKey, BTreeMap<u64, Share>, BTreeMap<u64, SecretKey>) {
    let sk = secret(&[b"validator".as_slice(), &seed.to_le_bytes()].concat());
    let coeffs: Vec<[u8; 64]> = (0..2u8)
        .map(|i| {
            let mut c = [0u8; 64];
            c[..32]
                .copy_from_slice(&Sha256::digest([seed.to_le_bytes().as_slice(), &[i]].concat()));
            c
        })
        .collect();
    let parts = split_secret(&sk, &OPERATORS, &coeffs).expect("split");
    let members: Vec<ShareMember> = parts
        .iter()
        .map(|p| ShareMember { share_pub_key: p.public_key().to_bytes(), signer: p.operator_id })
        .collect();
    let mut shares = BTreeMap::new();
    let mut secrets = BTreeMap::new();
    for p in parts {
        shares.insert(
            p.operator_id,
            Share {
                validator_index: seed,
                validator_pub_key: sk.public_key().to_bytes(),
                share_pub_key: p.public_key().to_bytes(),
                committee: VariableList::new(members.clone()).expect("committee"),
                domain_type: domain,
                fee_recipient_address: [0xfe; 20],
                graffiti: [0; 32],
            },
        );
        secrets.insert(p.operator_id, p.secret_key.clone());
    }
    (sk, shares, secrets)
}

/// 4 in-memory operators run an aggregator, a sync-committee-contribution, a validator
/// registration and a voluntary-exit duty for one validator through the `Validator`
/// router: pre-consensus partial signatures, QBFT on the beacon data, post-consensus
/// partial signatures. Every submitted object's signature (and every selection proof it
/// carries) must verify against the validator key under the right domain.
/// Validator index of the validator-duty tests' validator.
const V: u64 = 7;

/// Four operators' `Validator` routers for one validator (aggregator, sync contribution,
/// registration and exit runners), with the keys to answer their requests.
struct ValidatorCluster {
    net: Arc<BeaconNetwork>,
    validators: BTreeMap<u64, ssv_core::runner::Validator>,
    secrets: BTreeMap<u64, SecretKey>,
    vpk: PublicKey,
    epoch: u64,
    now: u64,
    base: ValidatorDuty,
    attestation: AttestationData,
}

fn validator_cluster() -> ValidatorCluster {
    use ssv_core::runner::{Validator, ValidatorRunner};
    use ssv_core::types::BeaconRole;

    let mut net = network();
    net.sync_subcommittee_size = 128;
    let net = Arc::new(net);
    let domain = DomainType::JATO_TESTNET;
    let committee_ops: Vec<Operator> = OPERATORS
        .iter()
        .map(|id| Operator { operator_id: *id, public_key: vec![*id as u8] })
        .collect();
    let cid = CommitteeId::from_operators(&OPERATORS);
    let (vsk, shares, secrets) = split_validator(V, domain);
    let vpk = vsk.public_key();
    let epoch = net.epoch_at_slot(SLOT);
    let now = net.slot_start(SLOT);

    let mut validators: BTreeMap<u64, Validator> = BTreeMap::new();
    for &op in &OPERATORS {
        let member = CommitteeMember {
            operator_id: op,
            committee_id: cid.0,
            public_key: vec![op as u8],
            faulty_nodes: 1,
            committee: committee_ops.clone(),
            domain_type: domain,
        };
        let share = shares[&op].clone();
        let runners = [
            RunnerRole::Aggregator,
            RunnerRole::SyncCommitteeContribution,
            RunnerRole::ValidatorRegistration,
            RunnerRole::VoluntaryExit,
        ]
        .into_iter()
        .map(|role| {
            let value_check = match role {
                RunnerRole::Aggregator | RunnerRole::SyncCommitteeContribution => {
                    RunnerValueCheck::ValidatorConsensusData {
                        role: if role == RunnerRole::Aggregator {
                            BeaconRole::Aggregator
                        } else {
                            BeaconRole::SyncCommitteeContribution
                        },
                        network: Arc::clone(&net),
                        current_epoch: epoch,
                        validator_pub_key: share.validator_pub_key,
                        validator_index: V,
                        share_pub_key: share.share_pub_key,
                        protection: Arc::new(NoSlashing),
                    }
                }
                _ => RunnerValueCheck::None,
            };
            let config = Arc::new(QbftConfig {
                proposer: Box::new(RoundRobinProposer),
                value_check: Box::new(value_check),
                timeouts: Box::new(SpecTimeouts),
                verifier: Box::new(FakeSignatures::default()),
                signer: Box::new(FakeSignatures { public_key: vec![op as u8] }),
                cut_off_round: 12,
            });
            let controller = role.has_consensus().then(|| {
                let id = MessageId::for_validator(domain, role, &share.validator_pub_key);
                Controller::new(Arc::clone(&config), id.0.to_vec(), member.clone())
            });
            ValidatorRunner::new(role, Arc::clone(&net), share.clone(), op, controller, config)
        })
        .collect();
        validators.insert(
            op,
            Validator::new(member, share, runners, Box::new(FakeSignatures::default())),
        );
    }

    let base = ValidatorDuty {
        role: BeaconRole::Aggregator as u64,
        pub_key: vpk.to_bytes(),
        slot: SLOT,
        validator_index: V,
        committee_index: 2,
        committee_length: 32,
        committees_at_slot: 4,
        validator_committee_index: 5,
        validator_sync_committee_indices: VariableList::empty(),
    };
    let attestation = AttestationData {
        slot: SLOT,
        index: 2,
        beacon_block_root: [9; 32],
        source: Checkpoint { epoch: 1, root: [1; 32] },
        target: Checkpoint { epoch: 2, root: [2; 32] },
    };

    ValidatorCluster { net, validators, secrets, vpk, epoch, now, base, attestation }
}

impl ValidatorCluster {
    /// The beacon node's and the signer's answer to `op`'s `request`.
    fn answer(&self, op: u64, request: Request) -> Response {
        use ssv_core::beacon::{SyncCommitteeContribution, phase0};
        use ssv_core::types::{Contribution, Contributions};
        use ssz::Encode;
        let (secrets, attestation) = (&self.secrets, self.attestation);
        match request {
            Request::Sign(items) => Response::all_signed(
                items.iter().map(|it| secrets[&op].sign(&it.signing_root).to_bytes()).collect(),
            ),
            Request::AggregateAndProof { validator_index, selection_proof, .. } => {
                let mut bits = ssz_types::BitList::with_capacity(32).expect("bits");
                bits.set(5, true).expect("bit");
                let aggregate = phase0::AggregateAndProof {
                    aggregator_index: validator_index,
                    aggregate: phase0::Attestation {
                        aggregation_bits: bits,
                        data: attestation,
                        signature: [0; 96],
                    },
                    selection_proof,
                };
                Response::ConsensusData {
                    version: DataVersion::Deneb.as_u64(),
                    data_ssz: aggregate.as_ssz_bytes(),
                }
            }
            Request::IsSyncCommitteeAggregator(proofs) => Response::Flags(vec![true; proofs.len()]),
            Request::SyncCommitteeContributions { slot, selection_proofs, subnets } => {
                let list: Vec<Contribution> = selection_proofs
                    .iter()
                    .zip(&subnets)
                    .map(|(proof, subnet)| Contribution {
                        selection_proof_sig: *proof,
                        contribution: SyncCommitteeContribution {
                            slot,
                            beacon_block_root: [9; 32],
                            subcommittee_index: *subnet,
                            aggregation_bits: ssz_types::BitVector::new(),
                            signature: [0; 96],
                        },
                    })
                    .collect();
                Response::ConsensusData {
                    version: DataVersion::Deneb.as_u64(),
                    data_ssz: Contributions(VariableList::new(list).expect("list")).as_ssz_bytes(),
                }
            }
            other => panic!("unexpected request {other:?}"),
        }
    }

    /// Delivers `queue` until it is empty: broadcasts to every operator (QBFT messages
    /// only when `deliver_consensus`), requests answered at once; returns the submissions.
    fn run(
        &mut self,
        mut queue: Vec<(u64, Input)>,
        deliver_consensus: bool,
    ) -> BTreeMap<u64, Vec<Submission>> {
        let mut submissions: BTreeMap<u64, Vec<Submission>> = BTreeMap::new();
        let mut steps = 0;
        while !queue.is_empty() {
            steps += 1;
            assert!(steps < 100_000, "no progress");
            let (op, input) = queue.remove(0);
            let mut out = Vec::new();
            let _ =
                self.validators.get_mut(&op).expect("validator").handle(self.now, input, &mut out);
            for o in out {
                match o {
                    Output::Qbft(ssv_core::qbft::Output::Broadcast(m)) if deliver_consensus => {
                        for &to in &OPERATORS {
                            queue.push((to, Input::Message(m.clone())));
                        }
                    }
                    Output::Broadcast(m) => {
                        for &to in &OPERATORS {
                            queue.push((to, Input::Message(m.clone())));
                        }
                    }
                    Output::Qbft(_) => {}
                    Output::Submit(s) => submissions.entry(op).or_default().push(s),
                    Output::Request { id, request } => {
                        let response = self.answer(op, request);
                        queue.insert(0, (op, Input::Response { id, response }));
                    }
                }
            }
        }
        submissions
    }
}

#[test]
fn four_operators_complete_validator_duties() {
    use ssv_core::beacon::SyncAggregatorSelectionData;
    use ssv_core::types::BeaconRole;

    let mut cluster = validator_cluster();
    let base = cluster.base.clone();
    let duties = [
        base.clone(),
        ValidatorDuty {
            role: BeaconRole::SyncCommitteeContribution as u64,
            validator_sync_committee_indices: VariableList::new(vec![5, 200]).expect("indices"),
            ..base.clone()
        },
        ValidatorDuty { role: BeaconRole::ValidatorRegistration as u64, ..base.clone() },
        ValidatorDuty { role: BeaconRole::VoluntaryExit as u64, ..base },
    ];
    let mut queue: Vec<(u64, Input)> = Vec::new();
    for d in &duties {
        for &op in &OPERATORS {
            queue.push((op, Input::StartDuty(Duty::Validator(d.clone()))));
        }
    }
    let submissions = cluster.run(queue, true);
    let ValidatorCluster { net, validators, vpk, epoch, .. } = cluster;

    let verify = |what: &str, root: [u8; 32], sig: &[u8; 96], domain_type: BeaconDomainType| {
        let signing_root = compute_signing_root(&root, &net.domain(epoch, domain_type));
        Signature::from_bytes(sig)
            .expect("signature")
            .verify(&vpk, &signing_root)
            .unwrap_or_else(|_| panic!("{what}: signature verifies"));
    };
    for &op in &OPERATORS {
        let subs = submissions.get(&op).expect("operator submitted");
        let (mut aggs, mut contribs, mut regs, mut exits) = (0, 0, 0, 0);
        for s in subs {
            match s {
                Submission::AggregateAndProof(a) => {
                    aggs += 1;
                    assert_eq!(a.message.aggregator_index, V);
                    verify(
                        "selection proof",
                        SLOT.tree_hash_root().0,
                        &a.message.selection_proof,
                        BeaconDomainType::SELECTION_PROOF,
                    );
                    verify(
                        "aggregate and proof",
                        a.message.tree_hash_root().0,
                        &a.signature,
                        BeaconDomainType::AGGREGATE_AND_PROOF,
                    );
                }
                Submission::ContributionAndProof(c) => {
                    contribs += 1;
                    let subnet = c.message.contribution.subcommittee_index;
                    let data =
                        SyncAggregatorSelectionData { slot: SLOT, subcommittee_index: subnet };
                    verify(
                        "contribution selection proof",
                        data.tree_hash_root().0,
                        &c.message.selection_proof,
                        BeaconDomainType::SYNC_COMMITTEE_SELECTION_PROOF,
                    );
                    verify(
                        "contribution and proof",
                        c.message.tree_hash_root().0,
                        &c.signature,
                        BeaconDomainType::CONTRIBUTION_AND_PROOF,
                    );
                }
                Submission::ValidatorRegistration(r) => {
                    regs += 1;
                    assert_eq!(r.message.fee_recipient, [0xfe; 20]);
                    assert_eq!(r.message.timestamp, net.epoch_start_secs(epoch));
                    verify(
                        "registration",
                        r.message.tree_hash_root().0,
                        &r.signature,
                        BeaconDomainType::APPLICATION_BUILDER,
                    );
                }
                Submission::VoluntaryExit(e) => {
                    exits += 1;
                    assert_eq!((e.message.epoch, e.message.validator_index), (epoch, V));
                    verify(
                        "exit",
                        e.message.tree_hash_root().0,
                        &e.signature,
                        BeaconDomainType::VOLUNTARY_EXIT,
                    );
                }
                other => panic!("unexpected submission {other:?}"),
            }
        }
        // Sync-committee positions 5 and 200 are on subnets 0 and 1.
        assert_eq!((aggs, contribs, regs, exits), (1, 2, 1, 1), "operator {op}");
        for runner in validators[&op].runners.values() {
            assert!(
                runner.state.as_ref().is_some_and(|s| s.finished),
                "operator {op}: {:?} finished",
                runner.role
            );
        }
    }
}

/// An aggregator instance left undecided (no QBFT message delivered) stops timing out once
/// the next slot's duty starts: a superseded instance sends no more round changes.
#[test]
fn a_superseded_validator_instance_stops_its_round_timer() {
    use ssv_core::types::BeaconRole;

    let mut cluster = validator_cluster();
    let duty = ValidatorDuty { role: BeaconRole::Aggregator as u64, ..cluster.base.clone() };
    let queue =
        OPERATORS.iter().map(|op| (*op, Input::StartDuty(Duty::Validator(duty.clone())))).collect();
    let submissions = cluster.run(queue, false);
    assert!(submissions.is_empty(), "nothing decided without QBFT messages");
    let runner = |c: &ValidatorCluster| {
        c.validators[&1].runners.get(&RunnerRole::Aggregator).expect("runner").poll_timeout()
    };
    let first = runner(&cluster).expect("the undecided instance of the running duty times out");

    // Round 1 times out: a round change goes out.
    let mut out = Vec::new();
    let v = cluster.validators.get_mut(&1).expect("validator");
    v.handle(first, Input::Timeout, &mut out).expect("timeout");
    assert!(
        out.iter().any(|o| matches!(o, Output::Qbft(ssv_core::qbft::Output::Broadcast(_)))),
        "a round change on the running duty's timeout: {out:?}"
    );

    // The next slot's duty starts (pre-consensus only): the old instance is superseded.
    let next = ValidatorDuty { slot: SLOT + 1, ..duty };
    let mut out = Vec::new();
    v.handle(first, Input::StartDuty(Duty::Validator(next)), &mut out).expect("next duty");
    assert_eq!(runner(&cluster), None, "no timer for a superseded instance");
    let mut out = Vec::new();
    let v = cluster.validators.get_mut(&1).expect("validator");
    v.handle(first + 3_600_000, Input::Timeout, &mut out).expect("timeout");
    assert!(
        !out.iter().any(|o| matches!(o, Output::Qbft(ssv_core::qbft::Output::Broadcast(_)))),
        "no round change for the superseded instance: {out:?}"
    );
}
