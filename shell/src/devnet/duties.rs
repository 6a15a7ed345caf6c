//! Duty accounting of a devnet run: which duties were due (from the simulator's Beacon API
//! duty routes and the devnet's own validator keys), which were done (from the simulator's
//! record of accepted, signature-checked submissions), the latency from slot start to
//! submission, and a slashing check over every recorded attestation.
//!
//! Roles counted, with what makes a duty due and what makes it done:
//! - `attester`, `sync_committee`: the attester and sync duties; one accepted attestation
//!   or sync-committee message of the validator at the slot.
//! - `proposer`: the proposer duties; an accepted block (full or blinded) of the slot.
//! - `aggregator`: an attester duty whose selection proof (computed by the devnet, which
//!   holds the validator keys) selects it; an accepted aggregate-and-proof.
//! - `sync_contribution`: per sync subcommittee whose selection proof selects the
//!   member; an accepted contribution-and-proof of that subcommittee.
//! - `validator_registration`: the node's schedule (every `REGISTRATION_EPOCHS` epochs at
//!   the slot `index mod period`), plus any registration the node sends outside it (its
//!   start-up registration); an accepted registration arriving in the slot or the next.
//! - `voluntary_exit`: when the devnet asked for one (an `exitValidator` transaction); an
//!   accepted exit arriving within [`EXIT_WINDOW_SLOTS`].

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

/// Route of attestations in the simulator's record.
pub const ATTESTATIONS_ROUTE: &str = "/eth/v2/beacon/pool/attestations";
/// Route of sync-committee messages in the simulator's record.
pub const SYNC_ROUTE: &str = "/eth/v1/beacon/pool/sync_committees";
/// Route of full blocks in the simulator's record.
pub const BLOCKS_ROUTE: &str = "/eth/v2/beacon/blocks";
/// Route of blinded blocks in the simulator's record.
pub const BLINDED_BLOCKS_ROUTE: &str = "/eth/v2/beacon/blinded_blocks";
/// Route of aggregates in the simulator's record.
pub const AGGREGATES_ROUTE: &str = "/eth/v2/validator/aggregate_and_proofs";
/// Route of sync contributions in the simulator's record.
pub const CONTRIBUTIONS_ROUTE: &str = "/eth/v1/validator/contribution_and_proofs";
/// Route of validator registrations in the simulator's record.
pub const REGISTRATIONS_ROUTE: &str = "/eth/v1/validator/register_validator";
/// Route of voluntary exits in the simulator's record.
pub const EXITS_ROUTE: &str = "/eth/v1/beacon/pool/voluntary_exits";

/// Slots after the slot it was asked in within which an exit must arrive: the nodes run
/// it `EXIT_POSTPONE_SLOTS` (4) after the slot of the `ValidatorExited` block, then sign.
pub const EXIT_WINDOW_SLOTS: u64 = 6;
/// Slots after its slot within which a registration must arrive.
pub const REGISTRATION_WINDOW_SLOTS: u64 = 1;

/// A duty role the devnet counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// An attestation.
    Attester,
    /// A sync-committee message.
    SyncCommittee,
    /// A block proposal.
    Proposer,
    /// An aggregate-and-proof.
    Aggregator,
    /// A sync-committee contribution-and-proof (one per selected subcommittee).
    SyncContribution,
    /// A validator registration.
    ValidatorRegistration,
    /// A voluntary exit.
    VoluntaryExit,
}

impl Role {
    /// Every counted role.
    pub const ALL: [Role; 7] = [
        Role::Attester,
        Role::SyncCommittee,
        Role::Proposer,
        Role::Aggregator,
        Role::SyncContribution,
        Role::ValidatorRegistration,
        Role::VoluntaryExit,
    ];

    /// The name printed in summaries.
    pub fn name(self) -> &'static str {
        match self {
            Role::Attester => "attester",
            Role::SyncCommittee => "sync_committee",
            Role::Proposer => "proposer",
            Role::Aggregator => "aggregator",
            Role::SyncContribution => "sync_contribution",
            Role::ValidatorRegistration => "validator_registration",
            Role::VoluntaryExit => "voluntary_exit",
        }
    }

    /// The short column name of the live table.
    pub fn short_name(self) -> &'static str {
        match self {
            Role::Attester => "attest",
            Role::SyncCommittee => "sync",
            Role::Proposer => "propose",
            Role::Aggregator => "aggr",
            Role::SyncContribution => "contrib",
            Role::ValidatorRegistration => "register",
            Role::VoluntaryExit => "exit",
        }
    }

    /// Slots after its slot a submission of this role still counts for it, for the roles
    /// whose submission carries no slot (matched by arrival); `None` for the others.
    fn arrival_window(self) -> Option<u64> {
        match self {
            Role::ValidatorRegistration => Some(REGISTRATION_WINDOW_SLOTS),
            Role::VoluntaryExit => Some(EXIT_WINDOW_SLOTS),
            _ => None,
        }
    }
}

/// One accepted submission of a duty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Done {
    /// When it reached the simulator, unix milliseconds.
    pub unix_millis: u64,
}

/// The attestation fields the slashing check needs.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Vote {
    source: u64,
    target: u64,
    /// The whole `AttestationData` JSON, compared for double votes.
    data: String,
}

/// A slashable pair of attestations of one validator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Slashable {
    /// The validator index.
    pub validator: u64,
    /// `double vote` or `surround vote`.
    pub kind: String,
    /// The two votes' `(source, target)` epochs.
    pub votes: [(u64, u64); 2],
}

/// A duty: `(slot, role, validator index, part)`, where `part` is the sync subcommittee
/// of a contribution and 0 otherwise.
type Key = (u64, Role, u64, u64);

/// Due and done duties, by `(slot, role, validator index, part)`.
#[derive(Debug, Default)]
pub struct DutyBook {
    due: BTreeSet<Key>,
    done: BTreeMap<Key, Done>,
    votes: BTreeMap<u64, Vec<Vote>>,
    /// Validator index by `0x`-hex public key (lowercase), for registrations.
    indices: BTreeMap<String, u64>,
    records_read: usize,
}

fn num(v: &Value) -> Option<u64> {
    match v {
        Value::String(s) => s.parse().ok(),
        other => other.as_u64(),
    }
}

/// One role's counts in a slot (or a run).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RoleCounts {
    /// Duties due.
    pub due: u64,
    /// Duties done (an accepted submission).
    pub done: u64,
    /// Duties not done.
    pub missed: u64,
    /// Slot start to submission, milliseconds: the largest.
    pub max_latency_ms: Option<u64>,
    /// Slot start to submission, milliseconds: the median.
    pub median_latency_ms: Option<u64>,
}

impl DutyBook {
    /// An empty book.
    pub fn new() -> Self {
        Self::default()
    }

    /// Names the validators (`0x`-hex public keys by index), so registrations, which carry
    /// only the public key, are matched to their index.
    pub fn set_validators(&mut self, pubkeys: &[String]) {
        self.indices =
            pubkeys.iter().enumerate().map(|(i, pk)| (pk.to_lowercase(), i as u64)).collect();
    }

    /// Marks a duty due.
    pub fn add_due(&mut self, slot: u64, role: Role, validator: u64) {
        self.due.insert((slot, role, validator, 0));
    }

    /// Marks a sync contribution of `subcommittee` due.
    pub fn add_contribution_due(&mut self, slot: u64, validator: u64, subcommittee: u64) {
        self.due.insert((slot, Role::SyncContribution, validator, subcommittee));
    }

    /// Reads simulator records (`submissions.jsonl` lines: `unix_millis`, `slot`, `route`,
    /// `body`) not read yet; `lines` is the whole file so far. Lines that do not parse (a
    /// line being written) stop the read there. Duties of the roles matched by arrival
    /// (registrations, exits) must be due before their records are read.
    pub fn read_records(&mut self, text: &str) {
        for line in text.lines().skip(self.records_read) {
            let Ok(record) = serde_json::from_str::<Value>(line) else { return };
            self.records_read = self.records_read.saturating_add(1);
            self.add_record(&record);
        }
    }

    fn add_record(&mut self, record: &Value) {
        let Some(at) = num(&record["unix_millis"]) else { return };
        let body = &record["body"];
        let message = &body["message"];
        let mut vote = None;
        let key = match record["route"].as_str() {
            Some(ATTESTATIONS_ROUTE) => {
                let data = &body["data"];
                let (Some(v), Some(slot)) = (num(&body["attester_index"]), num(&data["slot"]))
                else {
                    return;
                };
                if let (Some(source), Some(target)) =
                    (num(&data["source"]["epoch"]), num(&data["target"]["epoch"]))
                {
                    vote = Some((v, Vote { source, target, data: data.to_string() }));
                }
                (slot, Role::Attester, v, 0)
            }
            Some(SYNC_ROUTE) => {
                let (Some(v), Some(slot)) = (num(&body["validator_index"]), num(&body["slot"]))
                else {
                    return;
                };
                (slot, Role::SyncCommittee, v, 0)
            }
            Some(BLOCKS_ROUTE | BLINDED_BLOCKS_ROUTE) => {
                let (Some(v), Some(slot)) = (num(&body["proposer_index"]), num(&body["slot"]))
                else {
                    return;
                };
                (slot, Role::Proposer, v, 0)
            }
            Some(AGGREGATES_ROUTE) => {
                let slot = num(&message["aggregate"]["data"]["slot"]);
                let (Some(v), Some(slot)) = (num(&message["aggregator_index"]), slot) else {
                    return;
                };
                (slot, Role::Aggregator, v, 0)
            }
            Some(CONTRIBUTIONS_ROUTE) => {
                let c = &message["contribution"];
                let (Some(v), Some(slot), Some(sub)) = (
                    num(&message["aggregator_index"]),
                    num(&c["slot"]),
                    num(&c["subcommittee_index"]),
                ) else {
                    return;
                };
                (slot, Role::SyncContribution, v, sub)
            }
            Some(REGISTRATIONS_ROUTE) => {
                let pubkey = message["pubkey"].as_str().unwrap_or_default().to_lowercase();
                let (Some(v), Some(arrived)) =
                    (self.indices.get(&pubkey).copied(), num(&record["slot"]))
                else {
                    return;
                };
                match self.due_by_arrival(Role::ValidatorRegistration, v, arrived) {
                    Some(key) => key,
                    None => {
                        // Sent outside the schedule (the start-up registration): due as sent.
                        let key = (arrived, Role::ValidatorRegistration, v, 0);
                        self.due.insert(key);
                        key
                    }
                }
            }
            Some(EXITS_ROUTE) => {
                let (Some(v), Some(arrived)) =
                    (num(&message["validator_index"]), num(&record["slot"]))
                else {
                    return;
                };
                let Some(key) = self.due_by_arrival(Role::VoluntaryExit, v, arrived) else {
                    return;
                };
                key
            }
            _ => return,
        };
        self.done.entry(key).or_insert(Done { unix_millis: at });
        if let Some((v, vote)) = vote {
            self.votes.entry(v).or_default().push(vote);
        }
    }

    /// The latest due duty of `role` and `v` not done yet that a submission arriving at
    /// slot `arrived` fulfils.
    fn due_by_arrival(&self, role: Role, v: u64, arrived: u64) -> Option<Key> {
        let window = role.arrival_window().unwrap_or(0);
        let from = (arrived.saturating_sub(window), role, v, 0);
        self.due
            .range(from..=(arrived, role, v, 0))
            .rev()
            .find(|k| k.1 == role && k.2 == v && !self.done.contains_key(k))
            .copied()
    }

    /// Counts of `role` over the slots in `slots`, latencies measured from
    /// `slot_start(slot)` (unix milliseconds).
    pub fn counts(
        &self,
        slots: std::ops::RangeInclusive<u64>,
        role: Role,
        slot_start: impl Fn(u64) -> u64,
    ) -> RoleCounts {
        let mut c = RoleCounts::default();
        let mut latencies = Vec::new();
        for key in &self.due {
            let (slot, r, _, _) = key;
            if *r != role || !slots.contains(slot) {
                continue;
            }
            c.due = c.due.saturating_add(1);
            match self.done.get(key) {
                Some(d) => {
                    c.done = c.done.saturating_add(1);
                    latencies.push(d.unix_millis.saturating_sub(slot_start(*slot)));
                }
                None => c.missed = c.missed.saturating_add(1),
            }
        }
        latencies.sort_unstable();
        c.max_latency_ms = latencies.last().copied();
        c.median_latency_ms = latencies.get(latencies.len() / 2).copied();
        c
    }

    /// Due duties of `slots` not done: `(slot, role, validator)`.
    pub fn missed(&self, slots: std::ops::RangeInclusive<u64>) -> Vec<(u64, Role, u64)> {
        self.due
            .iter()
            .filter(|k| slots.contains(&k.0) && !self.done.contains_key(k))
            .map(|(s, r, v, _)| (*s, *r, *v))
            .collect()
    }

    /// Every slashable pair among the recorded attestations (EIP-3076 rules: two different
    /// votes with the same target, or one surrounding the other).
    pub fn slashable(&self) -> Vec<Slashable> {
        let mut out = Vec::new();
        for (validator, votes) in &self.votes {
            for (i, a) in votes.iter().enumerate() {
                for b in votes.iter().skip(i.saturating_add(1)) {
                    let kind = if a.target == b.target && a.data != b.data {
                        "double vote"
                    } else if (a.source < b.source && b.target < a.target)
                        || (b.source < a.source && a.target < b.target)
                    {
                        "surround vote"
                    } else {
                        continue;
                    };
                    out.push(Slashable {
                        validator: *validator,
                        kind: kind.into(),
                        votes: [(a.source, a.target), (b.source, b.target)],
                    });
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn att(at: u64, v: u64, slot: u64, source: u64, target: u64, root: &str) -> String {
        serde_json::json!({
            "unix_millis": at, "slot": slot, "route": ATTESTATIONS_ROUTE,
            "body": {"committee_index": "0", "attester_index": v.to_string(), "signature": "0x",
                "data": {"slot": slot.to_string(), "index": "0", "beacon_block_root": root,
                    "source": {"epoch": source.to_string(), "root": "0x00"},
                    "target": {"epoch": target.to_string(), "root": "0x00"}}}
        })
        .to_string()
    }

    fn sync(at: u64, v: u64, slot: u64) -> String {
        serde_json::json!({
            "unix_millis": at, "slot": slot, "route": SYNC_ROUTE,
            "body": {"slot": slot.to_string(), "validator_index": v.to_string(),
                "beacon_block_root": "0x00", "signature": "0x"}
        })
        .to_string()
    }

    #[test]
    fn counts_due_done_missed_and_latency_by_role() {
        let mut book = DutyBook::new();
        book.add_due(10, Role::Attester, 1);
        book.add_due(10, Role::Attester, 2);
        book.add_due(10, Role::SyncCommittee, 1);
        book.add_due(11, Role::SyncCommittee, 1);
        let text =
            [att(10_700, 1, 10, 1, 2, "0xaa"), sync(10_400, 1, 10), sync(11_900, 1, 11)].join("\n");
        book.read_records(&text);
        let start = |s: u64| s * 1000;
        let a = book.counts(10..=10, Role::Attester, start);
        assert_eq!((a.due, a.done, a.missed, a.max_latency_ms), (2, 1, 1, Some(700)));
        let s = book.counts(10..=11, Role::SyncCommittee, start);
        assert_eq!((s.due, s.done, s.missed, s.max_latency_ms), (2, 2, 0, Some(900)));
        assert_eq!(book.missed(10..=11), vec![(10, Role::Attester, 2)]);
        assert!(book.slashable().is_empty());
    }

    fn rec(at: u64, slot: u64, route: &str, body: &Value) -> String {
        serde_json::json!({"unix_millis": at, "slot": slot, "route": route, "body": body})
            .to_string()
    }

    #[test]
    fn counts_every_validator_role() {
        let mut book = DutyBook::new();
        book.set_validators(&["0xAA".into(), "0xbb".into()]);
        book.add_due(4, Role::Proposer, 1);
        book.add_due(4, Role::Aggregator, 0);
        book.add_contribution_due(4, 1, 2);
        book.add_contribution_due(4, 1, 3);
        book.add_due(5, Role::ValidatorRegistration, 0);
        book.add_due(4, Role::VoluntaryExit, 1);
        book.add_due(6, Role::ValidatorRegistration, 1);
        let text = [
            rec(4_300, 4, BLOCKS_ROUTE, &serde_json::json!({"slot": "4", "proposer_index": "1"})),
            rec(4_700, 4, AGGREGATES_ROUTE, &serde_json::json!({"message": {
                "aggregator_index": "0", "aggregate": {"data": {"slot": "4"}}}})),
            rec(4_800, 4, CONTRIBUTIONS_ROUTE, &serde_json::json!({"message": {
                "aggregator_index": "1", "contribution": {"slot": "4", "subcommittee_index": "2"}}})),
            // Registration of slot 5 arriving in slot 6: within its window.
            rec(6_100, 6, REGISTRATIONS_ROUTE, &serde_json::json!({"message": {"pubkey": "0xaa"}})),
            // An unscheduled registration (start-up): due and done as sent.
            rec(4_200, 4, REGISTRATIONS_ROUTE, &serde_json::json!({"message": {"pubkey": "0xbb"}})),
            // The exit asked at slot 4, arriving in slot 6.
            rec(6_500, 6, EXITS_ROUTE, &serde_json::json!({"message": {"validator_index": "1"}})),
            // An exit nobody asked for is not counted.
            rec(6_600, 6, EXITS_ROUTE, &serde_json::json!({"message": {"validator_index": "0"}})),
        ]
        .join("\n");
        book.read_records(&text);
        let start = |s: u64| s * 1000;
        let c = |r: Role| {
            let c = book.counts(0..=9, r, start);
            (c.due, c.done, c.max_latency_ms)
        };
        assert_eq!(c(Role::Proposer), (1, 1, Some(300)));
        assert_eq!(c(Role::Aggregator), (1, 1, Some(700)));
        assert_eq!(c(Role::SyncContribution), (2, 1, Some(800)));
        assert_eq!(c(Role::ValidatorRegistration), (3, 2, Some(1_100)));
        assert_eq!(c(Role::VoluntaryExit), (1, 1, Some(2_500)));
        assert_eq!(
            book.missed(0..=9),
            vec![(4, Role::SyncContribution, 1), (6, Role::ValidatorRegistration, 1)]
        );
    }

    #[test]
    fn reads_only_new_lines_and_stops_at_a_partial_one() {
        let mut book = DutyBook::new();
        book.add_due(3, Role::SyncCommittee, 7);
        let first = sync(3_100, 7, 3);
        book.read_records(&format!("{first}\n{{\"unix_mil"));
        assert_eq!(book.counts(3..=3, Role::SyncCommittee, |s| s * 1000).done, 1);
        // The partial line completed later is read once, and the first is not re-read.
        book.read_records(&format!("{first}\n{}", sync(3_200, 7, 3)));
        assert_eq!(book.records_read, 2);
    }

    #[test]
    fn finds_double_and_surround_votes() {
        let mut book = DutyBook::new();
        let text = [
            att(1, 5, 64, 1, 2, "0xaa"),
            att(2, 5, 65, 1, 2, "0xbb"), // same target, other data
            att(3, 6, 64, 1, 4, "0xaa"),
            att(4, 6, 96, 2, 3, "0xaa"), // surrounded by (1, 4)
            att(5, 7, 64, 1, 2, "0xaa"),
            att(6, 7, 64, 1, 2, "0xaa"), // the same vote twice is fine
        ]
        .join("\n");
        book.read_records(&text);
        let found: Vec<(u64, String)> =
            book.slashable().into_iter().map(|s| (s.validator, s.kind)).collect();
        assert_eq!(found, vec![(5, "double vote".into()), (6, "surround vote".into())]);
    }
}
