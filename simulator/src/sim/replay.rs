//! Replay of a recorded trace (every node must produce the recorded outputs again) and
//! shrinking of a failing trace to a short one that still fails the same way.

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
