//! Replay of a recorded trace (every node must produce the recorded outputs again) and
//! shrinking of a failing trace to a short one that still fails the same way.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use ssv_core::beacon::AttestationData;
use ssv_core::crypto::rsa::OperatorPublicKey;
use ssv_core::qbft::{
    CUT_OFF_ROUND, CommitteeMember, Controller, Operator, OperatorSigner, QbftConfig,
    RoundRobinProposer, SignError, SignatureVerifier, SlotAnchor, SlotRelativeTimeouts, ValueCheck,
    ValueCheckError,
};
use ssv_core::runner::{
    BeaconNetwork, Committee, CommitteeRunner, CreateRunner, RunnerValueCheck, SlashingProtection,
    Validator, ValidatorRunner, check_validator_consensus_data,
};
use ssv_core::trace::{Answer, CoreRef, TraceHeader, TraceRecord, input_kind, outputs_digest};
use ssv_core::types::{
    BeaconRole, BlsPublicKeyBytes, CommitteeId, DomainType, MessageId, RunnerRole, Share, Slot,
    ValidatorIndex,
};

use super::invariants::{Violation, ViolationKind};
use super::trace::{Driver, Record, Trace};

/// What a replay found.
#[derive(Debug, Clone)]
pub struct ReplayReport {
    /// Records replayed.
    pub records: u64,
    /// Indices of records whose outputs differed from the recorded digest.
    pub mismatches: Vec<u64>,
    /// The first invariant violation on replay.
    pub violation: Option<Violation>,
    /// SHA-256 of the trace the replay re-recorded (equals the input's when it reproduces).
    pub trace_hash: [u8; 32],
    /// The re-recorded trace bytes (with digests of this build's outputs).
    pub bytes: Vec<u8>,
}

impl ReplayReport {
    /// Whether every record reproduced its outputs.
    pub fn reproduced(&self) -> bool {
        self.mismatches.is_empty()
    }
}

/// Re-runs `trace`: rebuilds its nodes from the header, feeds every input in order,
/// compares each output digest and re-checks the invariants. `stop_at_violation` stops at
/// the first violation (as the live run did).
///
/// # Errors
/// A header that does not describe a runnable world, or a record naming an unknown node.
pub fn replay(trace: &Trace, stop_at_violation: bool) -> Result<ReplayReport, String> {
    let mut driver = Driver::new(trace.header.clone(), true)?;
    let mut mismatches = Vec::new();
    for (i, record) in trace.records.iter().enumerate() {
        if stop_at_violation && driver.violation().is_some() {
            break;
        }
        match record {
            Record::Input { at_ms, node, input, digest } => {
                let got = driver.input(*at_ms, usize::from(*node), input)?;
                if got != *digest {
                    mismatches.push(i as u64);
                }
            }
            Record::Deadline { at_ms, slot } => driver.deadline(*at_ms, *slot)?,
        }
    }
    let violation = driver.checker.violation.clone();
    let trace_hash = driver.recorder.hash();
    let records = driver.recorder.records();
    Ok(ReplayReport {
        records,
        mismatches,
        violation,
        trace_hash,
        bytes: driver.recorder.into_bytes(),
    })
}

fn fails_like(trace: &Trace, kind: ViolationKind) -> bool {
    replay(trace, true).is_ok_and(|r| r.violation.is_some_and(|v| v.kind == kind))
}

/// What shrinking did.
#[derive(Debug, Clone)]
pub struct ShrinkReport {
    /// The violation of the original trace.
    pub violation: Violation,
    /// Records before and after.
    pub records_before: usize,
    /// Records after.
    pub records_after: usize,
    /// Replays tried.
    pub attempts: u64,
    /// The shrunk trace, with digests of its own outputs (it replays exactly).
    pub trace: Trace,
}

/// Most replays one shrink tries.
pub const SHRINK_ATTEMPTS_MAX: u64 = 4_000;

/// Shrinks a failing trace: cuts everything after the violation, then removes chunks of
/// records (halving the chunk size, ddmin-style) while the trace still fails with the
/// same kind of violation. Liveness failures are only cut, since dropping inputs makes
/// liveness fail trivially.
///
/// # Errors
/// A trace that does not fail, or cannot be replayed.
pub fn shrink(trace: &Trace) -> Result<ShrinkReport, String> {
    let first = replay(trace, true)?;
    let violation = first.violation.ok_or("the trace does not violate any invariant")?;
    let records_before = trace.records.len();
    let mut current = trace.clone();
    current.records.truncate(violation.step as usize + 1);
    let mut attempts = 1;
    if violation.kind.is_safety() {
        let mut chunk = current.records.len().div_ceil(2).max(1);
        loop {
            let mut start = 0;
            while start < current.records.len() && attempts < SHRINK_ATTEMPTS_MAX {
                let end = (start + chunk).min(current.records.len());
                let mut candidate = current.clone();
                candidate.records.drain(start..end);
                attempts += 1;
                if !candidate.records.is_empty() && fails_like(&candidate, violation.kind) {
                    current = candidate;
                    // Cut the tail again: the violation may now come earlier.
                    if let Ok(r) = replay(&current, true)
                        && let Some(v) = r.violation
                    {
                        current.records.truncate(v.step as usize + 1);
                    }
                } else {
                    start = end;
                }
            }
            if chunk == 1 || attempts >= SHRINK_ATTEMPTS_MAX {
                break;
            }
            chunk = chunk.div_ceil(2);
        }
    }
    // Re-record so the digests are this trace's own outputs.
    let redone = replay(&current, true)?;
    let trace = Trace::from_bytes(&redone.bytes)?;
    Ok(ShrinkReport {
        violation,
        records_before,
        records_after: trace.records.len(),
        attempts,
        trace,
    })
}

// ---------------------------------------------------------------------------------------
// Node traces
// ---------------------------------------------------------------------------------------

/// Where a node trace's replay first produced something else than the recorded node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Divergence {
    /// The record's `seq`.
    pub seq: u64,
    /// The core it was for.
    pub core: CoreRef,
    /// The input's kind (`start-duty`, `message`, `timeout`, `response`).
    pub input_kind: &'static str,
    /// What differed.
    pub reason: String,
}

impl std::fmt::Display for Divergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let core = match self.core {
            CoreRef::Committee(id) => format!("committee {}", hex::encode(&id[..4])),
            CoreRef::Validator(v) => format!("validator {v}"),
        };
        write!(f, "record seq {} ({} input to {core}): {}", self.seq, self.input_kind, self.reason)
    }
}

/// What replaying a node trace found.
#[derive(Debug, Clone)]
pub struct NodeReplayReport {
    /// The recording node's operator id.
    pub operator_id: u64,
    /// Records replayed (up to and including a divergence).
    pub records: u64,
    /// Committees and validators rebuilt from the header.
    pub cores: (usize, usize),
    /// The first divergence; `None` when every record reproduced its outputs.
    pub divergence: Option<Divergence>,
}

/// The answers of the record being replayed, handed out in the order the core asks.
#[derive(Debug, Default)]
struct AnswerQueue {
    answers: VecDeque<Answer>,
    /// The first answer the core asked for that the record did not hold.
    wrong: Option<String>,
}

type Answers = Arc<Mutex<AnswerQueue>>;

fn next_answer(q: &Answers, want: &str) -> Option<Answer> {
    let mut q = q.lock().unwrap_or_else(|p| p.into_inner());
    let a = q.answers.pop_front();
    if a.is_none() && q.wrong.is_none() {
        q.wrong = Some(format!("the core asked for {want}, the record holds no more answers"));
    }
    a
}

fn wrong_answer(q: &Answers, want: &str, got: &Answer) {
    let mut q = q.lock().unwrap_or_else(|p| p.into_inner());
    if q.wrong.is_none() {
        q.wrong = Some(format!("the core asked for {want}, the record answers {got:?}"));
    }
}

/// Signs with the recorded operator signatures (the trace holds no secret key).
struct ReplaySigner(Answers);

impl OperatorSigner for ReplaySigner {
    fn sign(&self, _message: &[u8]) -> Result<Vec<u8>, SignError> {
        match next_answer(&self.0, "an operator signature") {
            Some(Answer::OperatorSignature(s)) if !s.is_empty() => Ok(s),
            Some(Answer::OperatorSignature(_)) => Err(SignError("recorded signing failure".into())),
            Some(other) => {
                wrong_answer(&self.0, "an operator signature", &other);
                Err(SignError("no recorded signature".into()))
            }
            None => Err(SignError("no recorded signature".into())),
        }
    }
}

/// Answers slashing lookups as the node's database did.
struct ReplayProtection(Answers);

impl ReplayProtection {
    fn answer(&self) -> Result<(), ValueCheckError> {
        match next_answer(&self.0, "a slashing lookup") {
            Some(Answer::Protection(None)) => Ok(()),
            Some(Answer::Protection(Some(r))) => {
                Err(ValueCheckError { code: r.code, reason: r.reason })
            }
            Some(other) => {
                wrong_answer(&self.0, "a slashing lookup", &other);
                Err(ValueCheckError { code: None, reason: "no recorded lookup".into() })
            }
            None => Err(ValueCheckError { code: None, reason: "no recorded lookup".into() }),
        }
    }
}

impl SlashingProtection for ReplayProtection {
    fn check_attestation(
        &self,
        _share_pub_key: &BlsPublicKeyBytes,
        _data: &AttestationData,
    ) -> Result<(), ValueCheckError> {
        self.answer()
    }

    fn check_block(
        &self,
        _share_pub_key: &BlsPublicKeyBytes,
        _slot: Slot,
    ) -> Result<(), ValueCheckError> {
        self.answer()
    }
}

/// RSA verification with parsed keys cached (as the node's verifier).
#[derive(Clone, Default)]
struct CachedRsa(Arc<Mutex<BTreeMap<Vec<u8>, Option<OperatorPublicKey>>>>);

impl SignatureVerifier for CachedRsa {
    fn verify(&self, public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
        let mut keys = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let key = keys
            .entry(public_key.to_vec())
            .or_insert_with(|| OperatorPublicKey::from_pem(public_key).ok());
        key.as_ref().is_some_and(|k| k.verify(message, signature).is_ok())
    }
}

/// The node's validator value check, at the epoch of the record being replayed (the node
/// reads its clock when the check runs; replay uses the record's `now`).
struct ReplayValueCheck {
    role: BeaconRole,
    network: Arc<BeaconNetwork>,
    share: Share,
    protection: ReplayProtection,
    now: Arc<AtomicU64>,
}

impl ValueCheck for ReplayValueCheck {
    fn check(&self, value: &[u8]) -> Result<(), ValueCheckError> {
        let epoch = self.network.epoch_at(self.now.load(Ordering::Relaxed));
        check_validator_consensus_data(
            value,
            self.role,
            &self.network,
            epoch,
            &self.share.validator_pub_key,
            self.share.validator_index,
            &self.share.share_pub_key,
            &self.protection,
        )
    }
}

/// A node's cores rebuilt from a trace header, as the shell's driver builds them
/// (`shell/src/node/driver.rs`: `runner_factory`, `validators::build_validator`).
struct NodeCores {
    committees: BTreeMap<[u8; 32], Committee>,
    validators: BTreeMap<ValidatorIndex, Validator>,
    answers: Answers,
    now: Arc<AtomicU64>,
    network: Arc<BeaconNetwork>,
}

/// Committee runners the node's driver keeps after their slot, in slots (its
/// `RUNNER_RETENTION_SLOTS`).
pub const RUNNER_RETENTION_SLOTS: u64 = 32;

fn build_cores(h: &TraceHeader) -> Result<NodeCores, String> {
    let network = Arc::new(h.beacon.to_network());
    let domain = DomainType(h.domain_type);
    let keys: BTreeMap<u64, Vec<u8>> =
        h.operators.iter().map(|o| (o.operator_id, o.public_key.clone())).collect();
    let answers = Answers::default();
    let now = Arc::new(AtomicU64::new(0));
    let verifier = CachedRsa::default();
    let mut committees = BTreeMap::new();
    let mut validators = BTreeMap::new();
    for c in &h.committees {
        let cid = CommitteeId::from_operators(&c.operators);
        let ops = c
            .operators
            .iter()
            .map(|id| {
                let public_key = keys.get(id).cloned().ok_or(format!("operator {id} unknown"))?;
                Ok(Operator { operator_id: *id, public_key })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let member = CommitteeMember {
            operator_id: h.operator_id,
            committee_id: cid.0,
            public_key: keys.get(&h.operator_id).cloned().unwrap_or_default(),
            faulty_nodes: (ops.len() as u64).saturating_sub(1) / 3,
            committee: ops,
            domain_type: domain,
        };
        let executor = MessageId::for_committee(domain, RunnerRole::Committee, &cid.0).0;
        let create: CreateRunner = {
            let (network, member, answers) =
                (Arc::clone(&network), member.clone(), Arc::clone(&answers));
            let verifier = verifier.clone();
            Box::new(move |shares: BTreeMap<ValidatorIndex, Share>| {
                let (slot, expected_source, expected_target) =
                    match next_answer(&answers, "a duty context") {
                        Some(Answer::DutyContext { slot, expected_source, expected_target }) => {
                            (slot, expected_source, expected_target)
                        }
                        Some(other) => {
                            wrong_answer(&answers, "a duty context", &other);
                            (0, 0, 0)
                        }
                        None => (0, 0, 0),
                    };
                let config = Arc::new(QbftConfig {
                    proposer: Box::new(RoundRobinProposer),
                    value_check: Box::new(RunnerValueCheck::BeaconVote {
                        protection: Arc::new(ReplayProtection(Arc::clone(&answers))),
                        slot,
                        share_pub_keys: shares.values().map(|s| s.share_pub_key).collect(),
                        expected_source,
                        expected_target,
                    }),
                    timeouts: Box::new(SlotRelativeTimeouts {
                        genesis_ms: network.genesis_ms,
                        slot_ms: network.slot_ms,
                        anchor: SlotAnchor::OneThird,
                    }),
                    verifier: Box::new(verifier.clone()),
                    signer: Box::new(ReplaySigner(Arc::clone(&answers))),
                    cut_off_round: CUT_OFF_ROUND,
                });
                let controller =
                    Controller::new(Arc::clone(&config), executor.to_vec(), member.clone());
                CommitteeRunner::new(Arc::clone(&network), shares, controller, config)
            })
        };
        let by_index: BTreeMap<ValidatorIndex, Share> =
            c.shares.iter().map(|s| (s.validator_index, s.clone())).collect();
        for share in by_index.values() {
            let v = build_validator(&network, &member, share, &verifier, &answers, &now);
            validators.insert(share.validator_index, v);
        }
        committees
            .insert(cid.0, Committee::new(member, by_index, create, Box::new(verifier.clone())));
    }
    Ok(NodeCores { committees, validators, answers, now, network })
}

fn build_validator(
    network: &Arc<BeaconNetwork>,
    member: &CommitteeMember,
    share: &Share,
    verifier: &CachedRsa,
    answers: &Answers,
    now: &Arc<AtomicU64>,
) -> Validator {
    let runners = [
        (RunnerRole::Proposer, BeaconRole::Proposer, SlotAnchor::Relative),
        (RunnerRole::Aggregator, BeaconRole::Aggregator, SlotAnchor::TwoThirds),
        (
            RunnerRole::SyncCommitteeContribution,
            BeaconRole::SyncCommitteeContribution,
            SlotAnchor::TwoThirds,
        ),
        (
            RunnerRole::ValidatorRegistration,
            BeaconRole::ValidatorRegistration,
            SlotAnchor::Relative,
        ),
        (RunnerRole::VoluntaryExit, BeaconRole::VoluntaryExit, SlotAnchor::Relative),
    ]
    .into_iter()
    .map(|(role, beacon_role, anchor)| {
        let config = Arc::new(QbftConfig {
            proposer: Box::new(RoundRobinProposer),
            value_check: Box::new(ReplayValueCheck {
                role: beacon_role,
                network: Arc::clone(network),
                share: share.clone(),
                protection: ReplayProtection(Arc::clone(answers)),
                now: Arc::clone(now),
            }),
            timeouts: Box::new(SlotRelativeTimeouts {
                genesis_ms: network.genesis_ms,
                slot_ms: network.slot_ms,
                anchor,
            }),
            verifier: Box::new(verifier.clone()),
            signer: Box::new(ReplaySigner(Arc::clone(answers))),
            cut_off_round: CUT_OFF_ROUND,
        });
        let controller = role.has_consensus().then(|| {
            let id = MessageId::for_validator(member.domain_type, role, &share.validator_pub_key);
            Controller::new(Arc::clone(&config), id.0.to_vec(), member.clone())
        });
        ValidatorRunner::new(
            role,
            Arc::clone(network),
            share.clone(),
            member.operator_id,
            controller,
            config,
        )
    })
    .collect();
    Validator::new(member.clone(), share.clone(), runners, Box::new(verifier.clone()))
}

/// Replays a node trace: rebuilds the node's cores from `header`, feeds every record's
/// input at its `now` with its recorded answers, and compares each output digest. Stops at
/// the first divergence: a different digest, an answer the core asked for that the record
/// lacks (or one it left unused), or a record for a core the header does not describe.
///
/// # Errors
/// A header that does not describe buildable cores.
pub fn replay_node(
    header: &TraceHeader,
    records: &[TraceRecord],
) -> Result<NodeReplayReport, String> {
    replay_node_with(header, records, |_, _, _| {})
}

/// [`replay_node`], calling `each` with every record, the result its core gave on replay
/// and the outputs, before the record is compared (what `ssv-sim replay --print` lists).
///
/// # Errors
/// A header that does not describe buildable cores.
pub fn replay_node_with(
    header: &TraceHeader,
    records: &[TraceRecord],
    mut each: impl FnMut(
        &TraceRecord,
        &Result<(), ssv_core::runner::RunnerError>,
        &[ssv_core::runner::Output],
    ),
) -> Result<NodeReplayReport, String> {
    let mut cores = build_cores(header)?;
    let mut report = NodeReplayReport {
        operator_id: header.operator_id,
        records: 0,
        cores: (cores.committees.len(), cores.validators.len()),
        divergence: None,
    };
    for r in records {
        report.records += 1;
        let diverged = |reason: String| Divergence {
            seq: r.seq,
            core: r.core,
            input_kind: input_kind(&r.input),
            reason,
        };
        {
            let mut q = cores.answers.lock().unwrap_or_else(|p| p.into_inner());
            q.answers = r.answers.iter().cloned().collect();
            q.wrong = None;
        }
        cores.now.store(r.now_unix_millis, Ordering::Relaxed);
        // The driver forgets committee runners older than its retention window at each slot
        // tick (outside `handle`); replay does the same at the record's slot.
        let keep_from =
            cores.network.slot_at(r.now_unix_millis).saturating_sub(RUNNER_RETENTION_SLOTS);
        for c in cores.committees.values_mut() {
            c.runners.retain(|s, _| *s >= keep_from);
        }
        let mut out = Vec::new();
        let res = match r.core {
            CoreRef::Committee(id) => match cores.committees.get_mut(&id) {
                Some(c) => c.handle(r.now_unix_millis, r.input.clone(), &mut out),
                None => {
                    report.divergence = Some(diverged("no such committee in the header".into()));
                    break;
                }
            },
            CoreRef::Validator(v) => match cores.validators.get_mut(&v) {
                Some(c) => c.handle(r.now_unix_millis, r.input.clone(), &mut out),
                None => {
                    report.divergence = Some(diverged("no such validator in the header".into()));
                    break;
                }
            },
        };
        each(r, &res, &out);
        let q = std::mem::take(&mut *cores.answers.lock().unwrap_or_else(|p| p.into_inner()));
        let reason = if let Some(w) = q.wrong {
            Some(w)
        } else if !q.answers.is_empty() {
            Some(format!("{} recorded answers left unused", q.answers.len()))
        } else if outputs_digest(&res, &out) != r.outputs {
            let what = match &res {
                Ok(()) => format!("{} outputs", out.len()),
                Err(e) => format!("error \"{e}\""),
            };
            Some(format!("outputs differ from the recording (replay gave {what})"))
        } else {
            None
        };
        if let Some(reason) = reason {
            report.divergence = Some(diverged(reason));
            break;
        }
    }
    Ok(report)
}
