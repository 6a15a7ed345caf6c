//! One slot of committee duties as operator 1 sees it: its core (`Committee` routers, each
//! with a `CommitteeRunner` and QBFT controller) plus the crypto the shell does for it.
//!
//! # What is measured
//! [`DutySlot::run_operator`] drives operator 1 only, from `StartDuty` to every
//! validator's submission:
//! - the core: QBFT on the beacon vote with real RSA-2048 signing (through
//!   [`RsaSigner`]) and verification of every received message's operator signature
//!   (`Committee::process_message`, through a verifier with parsed keys cached), the
//!   post-consensus container and, per validator, Lagrange reconstruction plus the
//!   verification of the result (`reconstruct_and_verify`, inside the runner);
//! - the shell: one BLS share signature per validator duty (the `Sign` request), answered
//!   at once.
//!
//! The other three operators' messages (proposal, prepares, commits and their
//! post-consensus partial signatures, all really signed) are recorded once in set-up by
//! running operators 2-4 and fed in phase order, each followed by operator 1's own
//! broadcasts looped back to it, as a network would deliver them. Decided (aggregated
//! commit) broadcasts are not delivered: they serve peers that missed the instance.
//!
//! Validators are grouped into committees of at most [`VALIDATORS_PER_COMMITTEE`]
//! (a `PartialSignatureMessages` holds at most 1,512 entries); operator 1 is in all of
//! them, its peers differ per committee (ids `3c+2..3c+4`, reusing three RSA keys).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use ssv_core::beacon::{AttestationData, Checkpoint, DataVersion};
use ssv_core::crypto::bls::SecretKey;
use ssv_core::crypto::rsa::{OperatorPrivateKey, OperatorPublicKey};
use ssv_core::crypto::threshold::split_secret;
use ssv_core::qbft::{
    CommitteeMember, Controller, Operator, QbftConfig, RoundRobinProposer, RsaSigner,
    SignatureVerifier, SpecTimeouts, ValueCheckError,
};
use ssv_core::runner::{
    BeaconNetwork, Committee, CommitteeRunner, Duty, Input, Output, Request, Response,
    RunnerValueCheck, SlashingProtection, ThresholdBls,
};
use ssv_core::types::ssz_types::VariableList;
use ssv_core::types::{
    BlsPublicKeyBytes, CommitteeDuty, CommitteeId, DomainType, MessageId, MsgType, RunnerRole,
    Share, ShareMember, SignedSsvMessage, Slot, ValidatorDuty,
};

/// Most validators per committee here. Real clusters are of this order; it keeps every
/// post-consensus message far below the 1,512-entry SSZ limit.
pub const VALIDATORS_PER_COMMITTEE: u64 = 500;
/// The slot of the duty: slot 65 is in epoch 2 (source 1, target 2) and its round-1 leader
/// is the committee's second operator, so operator 1 runs as a follower.
pub const SLOT: Slot = 65;
/// Validators due a committee duty per slot at 50,000 validators: 50,000 / 32.
pub const DUE_PER_SLOT_AT_50K: u64 = 1_563;

const DOMAIN: DomainType = DomainType::JATO_TESTNET;

/// The network: 32 slots of 12 s per epoch, Electra from epoch 0.
pub fn network() -> BeaconNetwork {
    BeaconNetwork {
        slots_per_epoch: 32,
        slot_ms: 12_000,
        genesis_ms: 0,
        genesis_validators_root: [7; 32],
        fork_versions: vec![(0, [0, 0, 0, 1])],
        data_versions: vec![(0, DataVersion::Electra)],
        sync_subcommittee_size: 128,
    }
}

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

/// An RSA verifier over parsed keys, looked up by the spec's PEM bytes (what a shell with a
/// key cache does). Unknown keys fail.
#[derive(Clone, Default)]
pub struct CachedRsaVerifier(Arc<BTreeMap<Vec<u8>, OperatorPublicKey>>);

impl CachedRsaVerifier {
    /// A verifier knowing `keys`.
    pub fn new(keys: &[OperatorPublicKey]) -> Self {
        Self(Arc::new(keys.iter().map(|k| (k.to_pem().into_bytes(), k.clone())).collect()))
    }
}

impl SignatureVerifier for CachedRsaVerifier {
    fn verify(&self, public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
        self.0.get(public_key).is_some_and(|k| k.verify(message, signature).is_ok())
    }
}

fn secret(seed: &[u8]) -> SecretKey {
    let mut b: [u8; 32] = Sha256::digest(seed).into();
    b[0] &= 0x1f; // below the group order
    SecretKey::from_bytes(&b).expect("valid scalar")
}

fn copy_key(key: &OperatorPrivateKey) -> OperatorPrivateKey {
    OperatorPrivateKey::from_der(key.pkcs1_der()).expect("own key")
}

/// The attestation data every operator's beacon node returns.
pub fn attestation_data() -> AttestationData {
    AttestationData {
        slot: SLOT,
        index: 0,
        beacon_block_root: [9; 32],
        source: Checkpoint { epoch: 1, root: [1; 32] },
        target: Checkpoint { epoch: 2, root: [2; 32] },
    }
}

/// One committee of operator 1 and what set-up prepared for it.
struct CommitteeSetup {
    operators: [u64; 4],
    /// Operator 1's shares of every validator of the committee.
    shares: BTreeMap<u64, Share>,
    /// Operator 1's share secrets of the validators with a duty, by share public key.
    secrets: BTreeMap<BlsPublicKeyBytes, SecretKey>,
    /// The other operators' messages, in phase order.
    recorded: Vec<SignedSsvMessage>,
    /// Operators 2-4's shares and duty secrets, until their messages are recorded.
    peers: Vec<(BTreeMap<u64, Share>, BTreeMap<BlsPublicKeyBytes, SecretKey>)>,
}

/// A prepared slot: `total` validators of which those with a duty have real keys.
pub struct DutySlot {
    net: Arc<BeaconNetwork>,
    /// RSA keys: index 0 is operator 1's; 1..=3 are reused by the peers of every committee.
    keys: Vec<OperatorPrivateKey>,
    /// The same keys as signers, parsed once and shared by every instance, as the node
    /// shares its operator key.
    signers: Vec<Arc<RsaSigner>>,
    verifier: CachedRsaVerifier,
    committees: Vec<CommitteeSetup>,
    duty: CommitteeDuty,
}

/// What operator 1 did in one slot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SlotStats {
    /// Beacon submissions (one per validator duty).
    pub submissions: u64,
    /// BLS share signatures the shell made.
    pub bls_signatures: u64,
    /// Inputs the core rejected (extra messages after a quorum, for instance).
    pub rejected: u64,
}

impl DutySlot {
    /// Prepares `total` validators (indices `1..=total`); validator `v` has an attester
    /// duty when `v % duty_every == 0`. Records the peers' messages, which makes them
    /// BLS-sign every duty (3 signatures per validator duty).
    pub fn new(total: u64, duty_every: u64) -> Self {
        let keys: Vec<OperatorPrivateKey> =
            (0..4).map(|_| OperatorPrivateKey::generate().expect("keygen")).collect();
        let publics: Vec<OperatorPublicKey> = keys.iter().map(|k| k.public_key().clone()).collect();
        let verifier = CachedRsaVerifier::new(&publics);
        let net = Arc::new(network());
        let mut duties = Vec::new();
        let mut committees = Vec::new();
        let groups = total.div_ceil(VALIDATORS_PER_COMMITTEE);
        for c in 0..groups {
            let first = c * VALIDATORS_PER_COMMITTEE + 1;
            let last = ((c + 1) * VALIDATORS_PER_COMMITTEE).min(total);
            let operators = [1, 3 * c + 2, 3 * c + 3, 3 * c + 4];
            let mut shares: [BTreeMap<u64, Share>; 4] = Default::default();
            let mut secrets: [BTreeMap<BlsPublicKeyBytes, SecretKey>; 4] = Default::default();
            for v in first..=last {
                let due = v % duty_every == 0;
                let (validator_pk, parts): (BlsPublicKeyBytes, Vec<(u64, BlsPublicKeyBytes)>) =
                    if due {
                        let sk = secret(&v.to_le_bytes());
                        let coeffs: Vec<[u8; 64]> = (0..2u8)
                            .map(|i| {
                                let mut b = [0u8; 64];
                                b[..32].copy_from_slice(&Sha256::digest(
                                    [v.to_le_bytes().as_slice(), &[i]].concat(),
                                ));
                                b
                            })
                            .collect();
                        let split = split_secret(&sk, &operators, &coeffs).expect("split");
                        let mut parts = Vec::new();
                        for (i, p) in split.into_iter().enumerate() {
                            let pk = p.public_key().to_bytes();
                            secrets[i].insert(pk, p.secret_key);
                            parts.push((p.operator_id, pk));
                        }
                        duties.push(ValidatorDuty {
                            role: 0,
                            pub_key: sk.public_key().to_bytes(),
                            slot: SLOT,
                            validator_index: v,
                            committee_index: v % 64,
                            committee_length: 128,
                            committees_at_slot: 64,
                            validator_committee_index: v % 128,
                            validator_sync_committee_indices: VariableList::empty(),
                        });
                        (sk.public_key().to_bytes(), parts)
                    } else {
                        // Never signed with: only its size in memory matters.
                        let mut pk = [0u8; 48];
                        pk[..8].copy_from_slice(&v.to_le_bytes());
                        let parts = operators
                            .iter()
                            .map(|o| {
                                let mut s = pk;
                                s[8..16].copy_from_slice(&o.to_le_bytes());
                                (*o, s)
                            })
                            .collect();
                        (pk, parts)
                    };
                let members: Vec<ShareMember> = parts
                    .iter()
                    .map(|(signer, pk)| ShareMember { share_pub_key: *pk, signer: *signer })
                    .collect();
                for (i, (_, share_pk)) in parts.iter().enumerate() {
                    shares[i].insert(
                        v,
                        Share {
                            validator_index: v,
                            validator_pub_key: validator_pk,
                            share_pub_key: *share_pk,
                            committee: VariableList::new(members.clone()).expect("4 members"),
                            domain_type: DOMAIN,
                            fee_recipient_address: [0; 20],
                            graffiti: [0; 32],
                        },
                    );
                }
            }
            let [s0, s1, s2, s3] = shares;
            let [k0, k1, k2, k3] = secrets;
            committees.push(CommitteeSetup {
                operators,
                shares: s0,
                secrets: k0,
                recorded: Vec::new(),
                peers: vec![(s1, k1), (s2, k2), (s3, k3)],
            });
        }
        let duty = CommitteeDuty { slot: SLOT, validator_duties: duties };
        let signers = keys.iter().map(|k| Arc::new(RsaSigner(copy_key(k)))).collect();
        let mut slot = Self { net, keys, signers, verifier, committees, duty };
        slot.record_peers();
        slot
    }

    /// Validator duties in the slot.
    pub fn duties(&self) -> u64 {
        self.duty.validator_duties.len() as u64
    }

    /// Committees operator 1 is in.
    pub fn committees(&self) -> usize {
        self.committees.len()
    }

    fn member(&self, operators: [u64; 4], me: u64) -> CommitteeMember {
        member(operators, me, &self.keys)
    }

    /// Operator 1's routers, one per committee, holding all its shares (no duty started).
    pub fn operator_committees(&self) -> Vec<Committee> {
        self.operator_committees_with(None)
    }

    /// [`DutySlot::operator_committees`] whose runners use `bls` (instead of the default
    /// batching [`ssv_core::runner::BlstThresholdBls`]), for A/B measurements.
    pub fn operator_committees_with(&self, bls: Option<&Arc<dyn ThresholdBls>>) -> Vec<Committee> {
        self.committees
            .iter()
            .map(|c| {
                let member = self.member(c.operators, 1);
                committee(
                    member,
                    c.shares.clone(),
                    Arc::clone(&self.signers[0]),
                    self.verifier.clone(),
                    &self.net,
                    bls.cloned(),
                )
            })
            .collect()
    }

    /// Runs the slot through operator 1's `committees` (from
    /// [`DutySlot::operator_committees`]) and the shell's share signing.
    pub fn run_operator(&self, committees: &mut [Committee]) -> SlotStats {
        let mut stats = SlotStats::default();
        let now = self.net.slot_start(SLOT);
        let data = attestation_data();
        for (setup, committee) in self.committees.iter().zip(committees.iter_mut()) {
            let mut queue: VecDeque<Input> = VecDeque::new();
            queue.push_back(Input::StartDuty(Duty::Committee(self.duty.clone())));
            let mut recorded = setup.recorded.iter();
            let mut out = Vec::new();
            loop {
                let Some(input) = queue.pop_front() else {
                    match recorded.next() {
                        Some(m) => {
                            queue.push_back(Input::Message(m.clone()));
                            continue;
                        }
                        None => break,
                    }
                };
                if committee.handle(now, input, &mut out).is_err() {
                    stats.rejected += 1;
                }
                for o in out.drain(..) {
                    match o {
                        Output::Qbft(ssv_core::qbft::Output::Broadcast(m))
                        | Output::Broadcast(m) => {
                            // Loop back our own messages; not the decided aggregate.
                            if m.operator_ids.len() == 1 {
                                queue.push_back(Input::Message(m));
                            }
                        }
                        Output::Qbft(_) => {}
                        Output::Submit(_) => stats.submissions += 1,
                        Output::Request { id, request } => {
                            let response = match request {
                                Request::AttestationData { .. } => Response::AttestationData(data),
                                Request::Sign(items) => {
                                    stats.bls_signatures += items.len() as u64;
                                    Response::all_signed(
                                        items
                                            .iter()
                                            .map(|it| {
                                                setup.secrets[&it.share_pub_key]
                                                    .sign(&it.signing_root)
                                                    .to_bytes()
                                            })
                                            .collect(),
                                    )
                                }
                                other => panic!("a committee runner asked for {other:?}"),
                            };
                            queue.push_front(Input::Response { id, response });
                        }
                    }
                }
            }
        }
        stats
    }

    /// Runs operators 2-4 of every committee to record their messages. They exchange
    /// QBFT messages only, so none reconstructs.
    fn record_peers(&mut self) {
        let now = self.net.slot_start(SLOT);
        let data = attestation_data();
        for setup in &mut self.committees {
            let peers = std::mem::take(&mut setup.peers);
            let mut routers = Vec::new();
            let mut secrets = Vec::new();
            for (i, (shares, keys)) in peers.into_iter().enumerate() {
                let me = setup.operators[i + 1];
                let member = member(setup.operators, me, &self.keys);
                let key = Arc::clone(&self.signers[i + 1]);
                routers.push(committee(
                    member,
                    shares,
                    key,
                    self.verifier.clone(),
                    &self.net,
                    None,
                ));
                secrets.push(keys);
            }
            let mut queue: VecDeque<(usize, Input)> = (0..routers.len())
                .map(|i| (i, Input::StartDuty(Duty::Committee(self.duty.clone()))))
                .collect();
            let mut recorded = Vec::new();
            let mut out = Vec::new();
            while let Some((i, input)) = queue.pop_front() {
                let _ = routers[i].handle(now, input, &mut out);
                for o in out.drain(..) {
                    match o {
                        Output::Qbft(ssv_core::qbft::Output::Broadcast(m)) => {
                            if m.operator_ids.len() == 1 {
                                for to in 0..routers.len() {
                                    queue.push_back((to, Input::Message(m.clone())));
                                }
                                recorded.push(m);
                            }
                        }
                        // Partial signatures are recorded only: nobody reconstructs here.
                        Output::Broadcast(m) => recorded.push(m),
                        Output::Qbft(_) | Output::Submit(_) => {}
                        Output::Request { id, request } => {
                            let response = match request {
                                Request::AttestationData { .. } => Response::AttestationData(data),
                                Request::Sign(items) => Response::all_signed(
                                    items
                                        .iter()
                                        .map(|it| {
                                            secrets[i][&it.share_pub_key]
                                                .sign(&it.signing_root)
                                                .to_bytes()
                                        })
                                        .collect(),
                                ),
                                other => panic!("a committee runner asked for {other:?}"),
                            };
                            queue.push_front((i, Input::Response { id, response }));
                        }
                    }
                }
            }
            recorded.sort_by_key(phase);
            setup.recorded = recorded;
        }
    }
}

fn member(operators: [u64; 4], me: u64, keys: &[OperatorPrivateKey]) -> CommitteeMember {
    let pem = |i: usize| keys[i].public_key().to_pem().into_bytes();
    let committee_ops: Vec<Operator> = operators
        .iter()
        .enumerate()
        .map(|(i, id)| Operator { operator_id: *id, public_key: pem(i) })
        .collect();
    let index = operators.iter().position(|o| *o == me).expect("in committee");
    CommitteeMember {
        operator_id: me,
        committee_id: CommitteeId::from_operators(&operators).0,
        public_key: pem(index),
        faulty_nodes: 1,
        committee: committee_ops,
        domain_type: DOMAIN,
    }
}

fn committee(
    member: CommitteeMember,
    shares: BTreeMap<u64, Share>,
    signer: Arc<RsaSigner>,
    verifier: CachedRsaVerifier,
    net: &Arc<BeaconNetwork>,
    bls: Option<Arc<dyn ThresholdBls>>,
) -> Committee {
    let (m2, n2, v2) = (member.clone(), Arc::clone(net), verifier.clone());
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
            verifier: Box::new(v2.clone()),
            signer: Box::new(Arc::clone(&signer)),
            cut_off_round: 12,
        });
        let id = MessageId::for_committee(m2.domain_type, RunnerRole::Committee, &m2.committee_id);
        let controller = Controller::new(Arc::clone(&config), id.0.to_vec(), m2.clone());
        let runner = CommitteeRunner::new(Arc::clone(&n2), shares, controller, config);
        match &bls {
            Some(bls) => runner.with_bls(Arc::clone(bls)),
            None => runner,
        }
    });
    Committee::new(member, shares, create, Box::new(verifier))
}

/// The phase of a message for feeding order: proposal, prepare, commit, round change,
/// then partial signatures.
fn phase(m: &SignedSsvMessage) -> u64 {
    if m.ssv_message.known_msg_type() == Some(MsgType::Consensus) {
        m.decode_qbft().map_or(9, |q| q.msg_type)
    } else {
        4
    }
}
