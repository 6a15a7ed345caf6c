//! The simulated world: n operator nodes, a slot clock, the duties of every slot, the
//! network emulator, byzantine operators, crashes and clock skews, all driven by one event
//! queue ordered by (true time, sequence number). No wall clock, no OS randomness, no
//! threads: a run is a pure function of its seed and options.

use std::collections::BTreeMap;
use std::sync::Arc;

use ssv_core::qbft::UnixMillis;
use ssv_core::types::ssz::{Decode, Encode};
use ssv_core::types::ssz_types::VariableList;
use ssv_core::types::{MsgType, QbftMessage, QbftMessageType, SignedSsvMessage};

use super::duties::{DutyRole, Slot};
use super::invariants::Violation;
use super::net::{NetStats, Network};
use super::node::{NodeInput, NodeOutput, NodeStats};
use super::options::{Behaviour, SimOptions};
use super::rng::Rng;
use super::trace::{Driver, GENESIS_MS, NodeInfo, TraceHeader};

/// A duty's deadline, in slots after its slot's start.
pub const DEADLINE_SLOTS: u64 = 2;
/// Old messages a replaying byzantine operator remembers.
const REPLAY_MEMORY: usize = 512;

#[derive(Debug)]
enum Event {
    SlotStart(Slot),
    Duty { node: usize, role: DutyRole, slot: Slot },
    Deliver { node: usize, bytes: Arc<Vec<u8>> },
    Timer { node: usize },
    Beacon { node: usize, id: u64, slot: Slot, failed: bool },
    Deadline(Slot),
    Crash(u64),
    Restart(u64),
}

/// One slot's outcome, for the per-slot summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotSummary {
    /// The slot.
    pub slot: Slot,
    /// Honest nodes that decided the committee duty, and its highest decided round.
    pub committee: (usize, u64),
    /// Honest nodes that decided the proposer duty, and its highest decided round.
    pub proposer: (usize, u64),
    /// Duty path: selected aggregators of the slot, and those whose aggregate the chain
    /// accepted (from any node).
    pub aggregates: (u64, u64),
    /// Duty path: (sync-committee member, selected subcommittee) pairs, and those whose
    /// contribution the chain accepted (from any node).
    pub contributions: (u64, u64),
    /// Duty path: validators registering at the slot, and those whose registration of the
    /// slot's epoch the chain accepted (from any node).
    pub registrations: (u64, u64),
    /// Duty path: the exit started at the slot (0 or 1), and whether the chain accepted it.
    pub exits: (u64, u64),
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// The seed.
    pub seed: u64,
    /// The options.
    pub options: SimOptions,
    /// The first invariant violation, if any.
    pub violation: Option<Violation>,
    /// SHA-256 of the trace file.
    pub trace_hash: [u8; 32],
    /// Trace records (node inputs and deadlines).
    pub records: u64,
    /// Per-slot outcomes.
    pub slots: Vec<SlotSummary>,
    /// Network counters.
    pub net: NetStats,
    /// Node counters, summed.
    pub nodes: NodeStats,
    /// Honest nodes that must be live after the heal.
    pub live_nodes: usize,
    /// Duty path: (node, duty item) submissions the chain accepted; every node submits
    /// each due item.
    pub submissions: u64,
    /// Duty path: due (slot, role, validator) items over the run.
    pub due: u64,
    /// Duty path: distinct (slot, validator) proposals the chain accepted.
    pub proposals: u64,
    /// Duty path: distinct (epoch, validator) registrations the chain accepted.
    pub registrations: u64,
    /// Duty path: voluntary exits the chain accepted.
    pub exits: u64,
    /// The trace file bytes, when kept.
    pub trace: Option<Vec<u8>>,
}

struct World {
    options: SimOptions,
    driver: Driver,
    net: Network,
    events: BTreeMap<(UnixMillis, u64), Event>,
    seq: u64,
    now: UnixMillis,
    behaviours: Vec<Option<Behaviour>>,
    erroring: Vec<bool>,
    lagging: Vec<bool>,
    timer_at: Vec<Option<UnixMillis>>,
    min_duty_slot: Vec<Slot>,
    seen: Vec<Vec<Arc<Vec<u8>>>>,
    rng: Rng,
    byz_rng: Rng,
    times: Vec<UnixMillis>,
}

fn slot_start(options: &SimOptions, slot: Slot) -> UnixMillis {
    GENESIS_MS + slot * options.slot_ms
}

/// The node layout and per-operator faults of `seed`: (header, behaviours, erroring,
/// lagging), per node position.
fn layout(
    seed: u64,
    options: &SimOptions,
) -> (TraceHeader, Vec<Option<Behaviour>>, Vec<bool>, Vec<bool>) {
    let mut rng = Rng::fork(seed, "layout");
    let n = options.operators;
    let mut ids: Vec<u64> = (1..=n).collect();
    for i in (1..ids.len()).rev() {
        ids.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let mut role_of = BTreeMap::new();
    let mut it = ids.iter().copied();
    for b in &options.byzantine {
        if let Some(id) = it.next() {
            role_of.insert(id, (Some(*b), false));
        }
    }
    for _ in 0..options.beacon.erroring {
        if let Some(id) = it.next() {
            role_of.insert(id, (None, true));
        }
    }
    let lagging: Vec<u64> = it.take(options.beacon.lagging as usize).collect();
    let (mut nodes, mut behaviours, mut erroring, mut lags) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for id in 1..=n {
        let skew =
            rng.range(0, 2 * options.clock_skew_ms_max) as i64 - options.clock_skew_ms_max as i64;
        let (behaviour, errs) = role_of.get(&id).copied().unwrap_or((None, false));
        let replicas = match behaviour {
            Some(Behaviour::Silent) => 0,
            Some(Behaviour::Equivocate) => 2,
            _ => 1,
        };
        for replica in 0..replicas {
            nodes.push(NodeInfo {
                operator: id,
                replica,
                honest: behaviour.is_none(),
                expected_live: behaviour.is_none() && !errs,
                skew_ms: skew,
            });
            behaviours.push(behaviour);
            erroring.push(errs);
            lags.push(lagging.contains(&id));
        }
    }
    (TraceHeader { seed, options: options.clone(), nodes }, behaviours, erroring, lags)
}

/// Runs the world of `seed` and `options` to the end (or to the first violation).
/// `keep_trace` keeps the trace file bytes in the report; `progress` is told each slot.
///
/// # Errors
/// Invalid options or unusable keys.
pub fn run(
    seed: u64,
    options: &SimOptions,
    keep_trace: bool,
    progress: &mut dyn FnMut(Slot),
) -> Result<RunReport, String> {
    options.validate()?;
    let (header, behaviours, erroring, lagging) = layout(seed, options);
    let live_nodes = header.nodes.iter().filter(|n| n.expected_live).count();
    let count = header.nodes.len();
    let heal_ms = slot_start(options, options.heal_slot);
    let driver = Driver::new(header, keep_trace)?;
    let mut w = World {
        options: options.clone(),
        driver,
        net: Network::new(seed, options.operators, options.net.clone(), GENESIS_MS, heal_ms),
        events: BTreeMap::new(),
        seq: 0,
        now: GENESIS_MS,
        behaviours,
        erroring,
        lagging,
        timer_at: vec![None; count],
        min_duty_slot: vec![0; count],
        seen: vec![Vec::new(); count],
        rng: Rng::fork(seed, "world"),
        byz_rng: Rng::fork(seed, "byzantine"),
        times: Vec::new(),
    };
    w.schedule_crashes();
    let first = slot_start(options, 0).saturating_sub(options.clock_skew_ms_max);
    w.push(first, Event::SlotStart(0));
    if options.expects_liveness() {
        for slot in options.heal_slot..options.slots {
            w.push(slot_start(options, slot + DEADLINE_SLOTS), Event::Deadline(slot));
        }
    }
    let end = slot_start(options, options.slots + DEADLINE_SLOTS);
    while let Some(((at, _), event)) = w.events.pop_first() {
        if at > end || w.driver.violation().is_some() {
            break;
        }
        w.now = at;
        if let Event::SlotStart(slot) = &event {
            progress(*slot);
        }
        w.handle(event)?;
    }
    Ok(w.report(seed, live_nodes))
}

impl World {
    fn push(&mut self, at: UnixMillis, event: Event) {
        self.seq += 1;
        self.events.insert((at, self.seq), event);
    }

    fn positions_of(&self, operator: u64) -> Vec<usize> {
        self.driver
            .header
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.operator == operator)
            .map(|(i, _)| i)
            .collect()
    }

    fn schedule_crashes(&mut self) {
        let o = self.options.clone();
        if o.heal_slot < 2 {
            return;
        }
        let last_up = slot_start(&o, o.heal_slot - 1);
        for _ in 0..o.crashes {
            let op = self.rng.range(1, o.operators);
            let down = self.rng.range(slot_start(&o, 0), last_up - 1);
            let up = self.rng.range(down + 1, last_up);
            self.push(down, Event::Crash(op));
            self.push(up, Event::Restart(op));
        }
    }

    fn handle(&mut self, event: Event) -> Result<(), String> {
        match event {
            Event::SlotStart(slot) => {
                if slot + 1 < self.options.slots {
                    let next = slot_start(&self.options, slot + 1)
                        .saturating_sub(self.options.clock_skew_ms_max);
                    self.push(next, Event::SlotStart(slot + 1));
                }
                let roles: Vec<DutyRole> = if !self.options.duty_runners {
                    self.driver.chain.duties(slot).to_vec()
                } else if slot >= self.options.density.slots_per_epoch() {
                    let beacon = self.driver.beacon.as_ref();
                    let proposer = beacon.and_then(|b| super::runners::proposer_duty(b, slot));
                    let mut roles = vec![DutyRole::Committee];
                    roles.extend(proposer.map(|p| DutyRole::Proposer(p.validator_index)));
                    if let Some(b) = beacon.filter(|_| self.options.aggregation) {
                        if !super::aggregation::aggregator_duties(b, slot).is_empty() {
                            roles.push(DutyRole::Aggregator);
                        }
                        if !super::aggregation::contribution_duties(b, slot).is_empty() {
                            roles.push(DutyRole::Contribution);
                        }
                    }
                    if let Some(b) = beacon.filter(|_| self.options.registrations)
                        && !super::registration::registering(b, slot).is_empty()
                    {
                        roles.push(DutyRole::Registration);
                    }
                    if self.options.exit.is_some_and(|e| e.slot == slot) {
                        roles.push(DutyRole::Exit);
                    }
                    roles
                } else {
                    Vec::new()
                };
                for node in 0..self.driver.nodes.len() {
                    let skew = self.driver.header.nodes[node].skew_ms;
                    for &role in &roles {
                        // As the node: committee duties a third into the slot, validator
                        // duties at its start.
                        let offset = match role {
                            DutyRole::Committee => self.options.slot_ms / 3,
                            DutyRole::Proposer(_)
                            | DutyRole::Aggregator
                            | DutyRole::Contribution
                            | DutyRole::Registration
                            | DutyRole::Exit => 0,
                        };
                        // Registrations and exits need no beacon data (the node starts them
                        // at its slot tick).
                        let delay = match role {
                            DutyRole::Registration | DutyRole::Exit => 0,
                            _ => self.rng.range(0, self.options.beacon.slow_ms_max),
                        };
                        let local = slot_start(&self.options, slot) + offset + delay;
                        let at = local.saturating_add_signed(-skew).max(self.now);
                        self.push(at, Event::Duty { node, role, slot });
                    }
                }
            }
            Event::Duty { node, role, slot } => {
                if slot < self.min_duty_slot[node] || (self.erroring[node] && self.rng.chance(333))
                {
                    return Ok(());
                }
                if self.options.duty_runners {
                    let input = match role {
                        DutyRole::Committee => NodeInput::CommitteeDuty { slot },
                        DutyRole::Proposer(_) => NodeInput::ProposerDuty { slot },
                        DutyRole::Aggregator => NodeInput::AggregatorDuty { slot },
                        DutyRole::Contribution => NodeInput::ContributionDuty { slot },
                        DutyRole::Registration => NodeInput::RegistrationDuty { slot },
                        DutyRole::Exit => {
                            let Some(e) = self.options.exit else { return Ok(()) };
                            NodeInput::ExitDuty { slot, validator: e.validator }
                        }
                    };
                    return self.input(node, &input);
                }
                let info = &self.driver.header.nodes[node];
                let salt = if info.replica == 1 { info.operator * 1_000 + 1 } else { 0 };
                let lag = u64::from(self.lagging[node]);
                let value = self.driver.chain.value(role, slot, lag, salt);
                self.input(node, &NodeInput::Start { role, slot, value })?;
            }
            Event::Deliver { node, bytes } => {
                if self.behaviours[node] == Some(Behaviour::Replay) {
                    let seen = &mut self.seen[node];
                    if seen.len() >= REPLAY_MEMORY {
                        let i = self.byz_rng.below(seen.len() as u64) as usize;
                        seen[i] = Arc::clone(&bytes);
                    } else {
                        seen.push(Arc::clone(&bytes));
                    }
                }
                if self.driver.nodes[node].is_up() {
                    self.input(node, &NodeInput::Message(bytes.to_vec()))?;
                }
            }
            Event::Timer { node } => {
                if self.timer_at[node] == Some(self.now) {
                    self.timer_at[node] = None;
                    self.input(node, &NodeInput::Timeout)?;
                }
            }
            Event::Beacon { node, id, slot, failed } => {
                let lag = u64::from(self.lagging[node]);
                self.input(node, &NodeInput::Beacon { id, slot, lag, failed })?;
            }
            Event::Deadline(slot) => self.driver.deadline(self.now, slot)?,
            Event::Crash(op) => {
                for node in self.positions_of(op) {
                    self.input(node, &NodeInput::Crash)?;
                }
            }
            Event::Restart(op) => {
                let slot = (self.now - GENESIS_MS) / self.options.slot_ms;
                for node in self.positions_of(op) {
                    self.min_duty_slot[node] = slot + 1;
                    self.input(node, &NodeInput::Restart)?;
                }
            }
        }
        Ok(())
    }

    /// Feeds one input, then routes the outputs and re-arms the node's timer.
    fn input(&mut self, node: usize, input: &NodeInput) -> Result<(), String> {
        self.driver.input(self.now, node, input)?;
        let outs = std::mem::take(&mut self.driver.out);
        for o in &outs {
            match o {
                NodeOutput::Broadcast(bytes) => self.broadcast(node, bytes),
                NodeOutput::Request { id, slot } => {
                    // The node's beacon node answers after a seeded delay; an erroring one
                    // fails a third of its answers.
                    let delay = self.rng.range(0, self.options.beacon.slow_ms_max);
                    let failed = self.erroring[node] && self.rng.chance(333);
                    let (id, slot) = (*id, *slot);
                    self.push(self.now + delay, Event::Beacon { node, id, slot, failed });
                }
                _ => {}
            }
        }
        self.driver.out = outs;
        let skew = self.driver.header.nodes[node].skew_ms;
        // A deadline that did not move past a timeout it was just handed is retried a
        // millisecond later, never at the same instant (no livelock).
        let floor = if matches!(input, NodeInput::Timeout) { self.now + 1 } else { self.now };
        let due = self.driver.nodes[node]
            .poll_timeout()
            .map(|t| t.saturating_add_signed(-skew).max(floor));
        if due.is_some() && due != self.timer_at[node] {
            self.timer_at[node] = due;
            if let Some(at) = due {
                self.push(at, Event::Timer { node });
            }
        }
        Ok(())
    }

    /// Sends `bytes` from `from` to every node, as its behaviour dictates.
    fn broadcast(&mut self, from: usize, bytes: &Arc<Vec<u8>>) {
        let info = self.driver.header.nodes[from].clone();
        match self.behaviours[from] {
            None | Some(Behaviour::Silent) | Some(Behaviour::Equivocate) => {}
            Some(Behaviour::ConflictingPartials) => {
                if let Some(bad) = self.conflicting_partials(bytes, info.operator) {
                    self.send(from, &info, &Arc::new(bad));
                    if self.byz_rng.chance(500) {
                        return;
                    }
                }
            }
            Some(Behaviour::BadSignature) => {
                if self.byz_rng.chance(500) {
                    let bad = corrupt_signature(bytes).unwrap_or_else(|| bytes.to_vec());
                    self.send(from, &info, &Arc::new(bad));
                    return;
                }
            }
            Some(Behaviour::Garbage) => {
                if self.byz_rng.chance(300) {
                    let len = self.byz_rng.range(1, 400) as usize;
                    let junk = self.byz_rng.bytes(len);
                    self.send(from, &info, &Arc::new(junk));
                }
                if self.byz_rng.chance(300)
                    && let Some(m) = self.resigned(bytes, info.operator, |rng, msg| {
                        let len = rng.range(0, 300) as usize;
                        msg.ssv_message.data =
                            VariableList::new(rng.bytes(len)).unwrap_or_default();
                    })
                {
                    self.send(from, &info, &Arc::new(m));
                }
            }
            Some(Behaviour::Replay) => {
                if self.byz_rng.chance(500) && !self.seen[from].is_empty() {
                    let i = self.byz_rng.below(self.seen[from].len() as u64) as usize;
                    let old = Arc::clone(&self.seen[from][i]);
                    self.send(from, &info, &old);
                }
            }
            Some(Behaviour::RoundChangeSpam) => {
                if self.byz_rng.chance(300) {
                    for _ in 0..3 {
                        let spam = self.resigned(bytes, info.operator, |rng, msg| {
                            let Ok(mut q) = QbftMessage::from_ssz_bytes(&msg.ssv_message.data)
                            else {
                                return;
                            };
                            q.msg_type = QbftMessageType::RoundChange as u64;
                            q.round += rng.range(1, 10);
                            q.data_round = 0;
                            q.root = [0; 32];
                            q.round_change_justification = VariableList::default();
                            q.prepare_justification = VariableList::default();
                            msg.ssv_message.msg_type = MsgType::Consensus as u64;
                            msg.ssv_message.data =
                                VariableList::new(q.as_ssz_bytes()).unwrap_or_default();
                            msg.full_data = VariableList::default();
                        });
                        if let Some(m) = spam {
                            self.send(from, &info, &Arc::new(m));
                        }
                    }
                }
            }
        }
        self.send(from, &info, bytes);
    }

    /// Decodes a node's message, alters it, and signs it again as `operator`.
    fn resigned(
        &mut self,
        bytes: &[u8],
        operator: u64,
        alter: impl FnOnce(&mut Rng, &mut SignedSsvMessage),
    ) -> Option<Vec<u8>> {
        let mut msg = SignedSsvMessage::from_ssz_bytes(bytes).ok()?;
        alter(&mut self.byz_rng, &mut msg);
        let sig = self.driver.crypto.sign(operator, &msg.ssv_message.as_ssz_bytes()).ok()?;
        msg.operator_ids = VariableList::new(vec![operator]).ok()?;
        msg.signatures = VariableList::new(vec![VariableList::new(sig).ok()?]).ok()?;
        Some(msg.as_ssz_bytes())
    }

    /// A post-consensus message like `bytes` whose every partial signature is replaced by
    /// a real BLS signature over another root (`None` for other messages).
    fn conflicting_partials(&mut self, bytes: &[u8], operator: u64) -> Option<Vec<u8>> {
        let msg = SignedSsvMessage::from_ssz_bytes(bytes).ok()?;
        if msg.ssv_message.known_msg_type() != Some(MsgType::PartialSignature) {
            return None;
        }
        let mut psig = msg.ssv_message.decode_partial_signatures().ok()?;
        let key = conflicting_key();
        let salt = self.byz_rng.next_u64();
        let mut messages = psig.messages.to_vec();
        for m in &mut messages {
            let mut other = m.signing_root;
            other[..8].copy_from_slice(&salt.to_le_bytes());
            m.partial_signature = key.sign(&other).to_bytes();
        }
        psig.messages = VariableList::new(messages).ok()?;
        let data = psig.as_ssz_bytes();
        self.resigned(bytes, operator, |_, m| {
            m.ssv_message.data = VariableList::new(data).unwrap_or_default();
        })
    }

    fn send(&mut self, from: usize, info: &NodeInfo, bytes: &Arc<Vec<u8>>) {
        // An equivocating replica talks to half of the committee, except for a decided
        // message: on SSV's gossip topic the honest half that accepts it relays it to the
        // rest (a quorum certificate passes every node's validation), and an honest node
        // that decides from it does not send it again (the spec's `UponDecided` does not
        // broadcast), so withholding it is not in the adversary's power.
        let equivocating = self.behaviours[from] == Some(Behaviour::Equivocate)
            && !is_decided_message(bytes, 2 * self.options.f() + 1);
        let mut times = std::mem::take(&mut self.times);
        for to in 0..self.driver.header.nodes.len() {
            let target = &self.driver.header.nodes[to];
            if target.operator == info.operator && to != from {
                continue;
            }
            if equivocating && to != from && target.operator % 2 != u64::from(info.replica) {
                continue;
            }
            self.net.route(self.now, info.operator, target.operator, &mut times);
            for at in &times {
                self.push(*at, Event::Deliver { node: to, bytes: Arc::clone(bytes) });
            }
        }
        self.times = times;
    }

    /// (due, accepted) aggregates and contributions of `slot` (zeros off the duty path).
    fn aggregation_counts(&self, slot: Slot) -> ((u64, u64), (u64, u64)) {
        use super::aggregation::{ROLE_AGGREGATOR, due_aggregation, is_contribution};
        let (Some(b), Some(k)) = (self.driver.beacon.as_ref(), self.driver.keys.as_ref()) else {
            return ((0, 0), (0, 0));
        };
        if !self.options.aggregation {
            return ((0, 0), (0, 0));
        }
        let due = due_aggregation(b, k, self.options.crypto, slot);
        // Items are (validator, role): a contribution per selected subcommittee.
        let count = |is_role: &dyn Fn(u64) -> bool| {
            let due = due.iter().filter(|i| is_role(i.1)).count() as u64;
            let done = self
                .driver
                .submitted
                .keys()
                .filter(|(_, i)| i.0 == slot && is_role(i.1))
                .map(|(_, i)| (i.2, i.1))
                .collect::<std::collections::BTreeSet<_>>()
                .len() as u64;
            (due, done)
        };
        (count(&|r| r == ROLE_AGGREGATOR), count(&is_contribution))
    }

    /// Registrations and exits of `slot`: (due, accepted) of each (zeros off the duty
    /// path); `accepted` holds the items the chain accepted from any node.
    fn registration_counts(
        &self,
        slot: Slot,
        accepted: &std::collections::BTreeSet<super::runners::DueItem>,
    ) -> ((u64, u64), (u64, u64)) {
        use super::registration::{ROLE_EXIT, ROLE_REGISTRATION, due_at};
        let Some(b) = self.driver.beacon.as_ref() else { return ((0, 0), (0, 0)) };
        let due = due_at(b, slot, self.options.registrations, self.options.exit);
        let count = |role| {
            let of_role = due.iter().filter(|i| i.1 == role);
            (
                of_role.clone().count() as u64,
                of_role.filter(|i| accepted.contains(i)).count() as u64,
            )
        };
        (count(ROLE_REGISTRATION), count(ROLE_EXIT))
    }

    fn report(self, seed: u64, live_nodes: usize) -> RunReport {
        let chain = &self.driver.chain;
        let outcomes = &self.driver.checker.outcomes;
        let accepted: std::collections::BTreeSet<super::runners::DueItem> =
            self.driver.submitted.keys().map(|(_, item)| *item).collect();
        let slots = (0..self.options.slots)
            .map(|slot| {
                let of = |role| {
                    outcomes
                        .get(&(chain.identifier(role), slot))
                        .map_or((0, 0), |o| (o.honest_decided.len(), o.max_round))
                };
                let [committee, proposer] = chain.duties(slot);
                let (aggregates, contributions) = self.aggregation_counts(slot);
                let (registrations, exits) = self.registration_counts(slot, &accepted);
                SlotSummary {
                    slot,
                    committee: of(committee),
                    proposer: of(proposer),
                    aggregates,
                    contributions,
                    registrations,
                    exits,
                }
            })
            .collect();
        let mut nodes = NodeStats::default();
        for n in &self.driver.nodes {
            let s = n.stats();
            nodes.malformed += s.malformed;
            nodes.bad_signature += s.bad_signature;
            nodes.unroutable += s.unroutable;
            nodes.refused += s.refused;
            nodes.late += s.late;
            nodes.retried += s.retried;
            nodes.accepted += s.accepted;
        }
        let submissions = self.driver.submitted.len() as u64;
        let due = self.driver.beacon.as_ref().map_or(0, |b| {
            (0..self.options.slots)
                .map(|s| {
                    let keys = self.driver.keys.as_ref().filter(|_| self.options.aggregation);
                    let aggregation = keys.map_or(0, |k| {
                        super::aggregation::due_aggregation(b, k, self.options.crypto, s).len()
                    });
                    (super::runners::due_at(b, s).len() + aggregation) as u64
                })
                .sum()
        });
        // One item per (epoch, validator): two registration duties of one epoch sign the
        // same object.
        let registration_items: std::collections::BTreeSet<super::runners::DueItem> =
            self.driver.beacon.as_ref().map_or_else(Default::default, |b| {
                (0..self.options.slots)
                    .flat_map(|s| {
                        super::registration::due_at(
                            b,
                            s,
                            self.options.registrations,
                            self.options.exit,
                        )
                    })
                    .collect()
            });
        let due = due + registration_items.len() as u64;
        let accepted_of = |role| accepted.iter().filter(|i| i.1 == role).count() as u64;
        let registrations = accepted_of(super::registration::ROLE_REGISTRATION);
        let exits = accepted_of(super::registration::ROLE_EXIT);
        let proposals = self
            .driver
            .submitted
            .keys()
            .filter(|(_, (_, role, _))| *role == super::runners::ROLE_PROPOSER)
            .map(|(_, item)| *item)
            .collect::<std::collections::BTreeSet<_>>()
            .len() as u64;
        let violation = self.driver.checker.violation.clone();
        let trace_hash = self.driver.recorder.hash();
        let records = self.driver.recorder.records();
        let keep = !self.driver.header.nodes.is_empty();
        let bytes = self.driver.recorder.into_bytes();
        RunReport {
            seed,
            options: self.options,
            violation,
            trace_hash,
            records,
            slots,
            net: self.net.stats,
            nodes,
            live_nodes,
            submissions,
            due,
            proposals,
            registrations,
            exits,
            trace: (keep && !bytes.is_empty()).then_some(bytes),
        }
    }
}

/// The BLS key a conflicting-partials byzantine operator signs other roots with.
fn conflicting_key() -> &'static ssv_core::crypto::bls::SecretKey {
    static KEY: std::sync::OnceLock<ssv_core::crypto::bls::SecretKey> = std::sync::OnceLock::new();
    KEY.get_or_init(|| crate::chain::keys::derive_secret_key(u64::MAX, 0))
}

/// Flips the first byte of the first signature.
fn corrupt_signature(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut msg = SignedSsvMessage::from_ssz_bytes(bytes).ok()?;
    let mut sigs: Vec<_> = msg.signatures.to_vec();
    let mut first = sigs.first()?.to_vec();
    *first.first_mut()? ^= 0xFF;
    sigs[0] = VariableList::new(first).ok()?;
    msg.signatures = VariableList::new(sigs).ok()?;
    Some(msg.as_ssz_bytes())
}

/// Whether `bytes` is a decided message: a commit signed by at least `quorum` operators
/// (the spec's `isDecidedMsg`).
fn is_decided_message(bytes: &[u8], quorum: u64) -> bool {
    SignedSsvMessage::from_ssz_bytes(bytes).is_ok_and(|m| {
        m.operator_ids.len() as u64 >= quorum
            && m.decode_qbft().is_ok_and(|q| q.known_msg_type() == Some(QbftMessageType::Commit))
    })
}
