//! Duty accounting of a devnet run: which duties were due (from the simulator's Beacon API
//! duty routes), which were done (from the simulator's record of accepted, signature-checked
//! submissions), the latency from slot start to submission, and a slashing check over every
//! recorded attestation.
//!
//! Roles counted: the committee duties the node runs, `attester` (one attestation per
//! attester duty) and `sync_committee` (one message per sync-committee member and slot).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

/// Route of attestations in the simulator's record.
pub const ATTESTATIONS_ROUTE: &str = "/eth/v2/beacon/pool/attestations";
/// Route of sync-committee messages in the simulator's record.
pub const SYNC_ROUTE: &str = "/eth/v1/beacon/pool/sync_committees";

/// A duty role the devnet counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// An attestation.
    Attester,
    /// A sync-committee message.
    SyncCommittee,
}

impl Role {
    /// Every counted role.
    pub const ALL: [Role; 2] = [Role::Attester, Role::SyncCommittee];

    /// The name printed in tables and summaries.
    pub fn name(self) -> &'static str {
        match self {
            Role::Attester => "attester",
            Role::SyncCommittee => "sync_committee",
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

/// Due and done duties, by `(slot, role, validator index)`.
#[derive(Debug, Default)]
pub struct DutyBook {
    due: BTreeSet<(u64, Role, u64)>,
    done: BTreeMap<(u64, Role, u64), Done>,
    votes: BTreeMap<u64, Vec<Vote>>,
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

    /// Marks a duty due.
    pub fn add_due(&mut self, slot: u64, role: Role, validator: u64) {
        self.due.insert((slot, role, validator));
    }

    /// Reads simulator records (`submissions.jsonl` lines: `unix_millis`, `route`, `body`)
    /// not read yet; `lines` is the whole file so far. Lines that do not parse (a line
    /// being written) stop the read there.
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
        let (key, vote) = match record["route"].as_str() {
            Some(ATTESTATIONS_ROUTE) => {
                let data = &body["data"];
                let (Some(v), Some(slot)) = (num(&body["attester_index"]), num(&data["slot"]))
                else {
                    return;
                };
                let vote = match (num(&data["source"]["epoch"]), num(&data["target"]["epoch"])) {
                    (Some(source), Some(target)) => {
                        Some((v, Vote { source, target, data: data.to_string() }))
                    }
                    _ => None,
                };
                ((slot, Role::Attester, v), vote)
            }
            Some(SYNC_ROUTE) => {
                let (Some(v), Some(slot)) = (num(&body["validator_index"]), num(&body["slot"]))
                else {
                    return;
                };
                ((slot, Role::SyncCommittee, v), None)
            }
            _ => return,
        };
        self.done.entry(key).or_insert(Done { unix_millis: at });
        if let Some((v, vote)) = vote {
            self.votes.entry(v).or_default().push(vote);
        }
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
        for (slot, r, v) in &self.due {
            if *r != role || !slots.contains(slot) {
                continue;
            }
            c.due = c.due.saturating_add(1);
            match self.done.get(&(*slot, *r, *v)) {
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
            .filter(|(s, r, v)| slots.contains(s) && !self.done.contains_key(&(*s, *r, *v)))
            .copied()
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
