//! One-line descriptions of trace records, for `ssv-sim replay --print`: what an auditor
//! reads to follow a node's cores input by input (a QBFT message's type, height, round and
//! signers; a duty's role and slot; what the core answered and submitted), and the
//! records of a simulator trace ([`sim_record`]).

use std::fmt::Write as _;

use ssv_core::qbft;
use ssv_core::runner::{Duty, Input, Output, Request, Response, RunnerError, Submission};
use ssv_core::trace::{CoreRef, TraceRecord};
use ssv_core::types::{BeaconRole, MsgType, QbftMessageType, SignedSsvMessage};

/// `message` as `<kind> h=<height> r=<round> from=[signers]` for QBFT, or
/// `psig/<type> slot=<slot> n=<count> from=[signers]` for partial signatures; `?` for
/// what does not decode.
pub fn message(m: &SignedSsvMessage) -> String {
    let from: Vec<u64> = m.operator_ids.iter().copied().collect();
    if m.ssv_message.msg_type == MsgType::Consensus as u64 {
        return match m.decode_qbft() {
            Ok(q) => {
                let kind = match q.known_msg_type() {
                    Some(QbftMessageType::Proposal) => "proposal",
                    Some(QbftMessageType::Prepare) => "prepare",
                    Some(QbftMessageType::Commit) => "commit",
                    Some(QbftMessageType::RoundChange) => "round-change",
                    None => "qbft?",
                };
                let mut s = format!("{kind} h={} r={} from={from:?}", q.height, q.round);
                if q.data_round != 0 {
                    let _ = write!(s, " prepared={}", q.data_round);
                }
                s
            }
            Err(_) => format!("qbft? from={from:?}"),
        };
    }
    match m.ssv_message.decode_partial_signatures() {
        Ok(p) => {
            format!("psig/{} slot={} n={} from={from:?}", p.msg_type, p.slot, p.messages.len())
        }
        Err(_) => format!("type {}? from={from:?}", m.ssv_message.msg_type),
    }
}

fn input(i: &Input) -> String {
    match i {
        Input::StartDuty(Duty::Committee(d)) => {
            format!("start committee duty slot={} validators={}", d.slot, d.validator_duties.len())
        }
        Input::StartDuty(Duty::Validator(d)) => {
            format!(
                "start {} duty slot={} validator={}",
                role_name(d.role),
                d.slot,
                d.validator_index
            )
        }
        Input::Message(m) => message(m),
        Input::Timeout => "timeout".into(),
        Input::Response { id, response } => {
            let what = match response {
                Response::AttestationData(_) => "attestation data".to_owned(),
                Response::Signatures(s) => format!("{} signatures", s.len()),
                Response::ConsensusData { .. } => "consensus data".to_owned(),
                Response::Flags(f) => format!("{} flags", f.len()),
                Response::Failed(e) => format!("failed: {e}"),
            };
            format!("response #{id}: {what}")
        }
    }
}

fn output(o: &Output) -> String {
    match o {
        Output::Qbft(qbft::Output::Broadcast(m)) | Output::Broadcast(m) => {
            format!("send {}", message(m))
        }
        Output::Qbft(qbft::Output::TimerSet { height, round, deadline }) => {
            format!("timer h={height} r={round} at={deadline}")
        }
        Output::Qbft(qbft::Output::Decided(d)) => format!("DECIDED h={}", d.height),
        Output::Request { id, request } => {
            let what = match request {
                Request::AttestationData { slot } => format!("attestation data slot={slot}"),
                Request::Sign(items) => format!("sign {} items", items.len()),
                _ => "beacon data".to_owned(),
            };
            format!("request #{id}: {what}")
        }
        Output::Submit(s) => format!("submit {}", submission_name(s)),
    }
}

/// The name of a beacon role number (`role=N` for an unknown one).
pub fn role_name(role: u64) -> String {
    match BeaconRole::ALL.into_iter().find(|r| *r as u64 == role) {
        Some(BeaconRole::Attester) => "attester".into(),
        Some(BeaconRole::Aggregator) => "aggregator".into(),
        Some(BeaconRole::Proposer) => "proposer".into(),
        Some(BeaconRole::SyncCommittee) => "sync-committee".into(),
        Some(BeaconRole::SyncCommitteeContribution) => "contribution".into(),
        Some(BeaconRole::ValidatorRegistration) => "registration".into(),
        Some(BeaconRole::VoluntaryExit) => "voluntary-exit".into(),
        None => format!("role={role}"),
    }
}

/// What a submission is: `attestation`, `block`, `registration`, `voluntary-exit`, ….
pub fn submission_name(s: &Submission) -> &'static str {
    match s {
        Submission::SingleAttestation(_) | Submission::Attestation(_) => "attestation",
        Submission::SyncCommitteeMessage(_) => "sync-committee message",
        Submission::Block { .. } => "block",
        Submission::AggregateAndProof(_) | Submission::ElectraAggregateAndProof(_) => "aggregate",
        Submission::ContributionAndProof(_) => "contribution",
        Submission::ValidatorRegistration(_) => "registration",
        Submission::VoluntaryExit(_) => "voluntary-exit",
    }
}

/// One line for a simulator trace record: its index, time, node and input (duties by
/// name), or a liveness deadline.
pub fn sim_record(index: usize, r: &super::trace::Record) -> String {
    use super::node::NodeInput;
    use super::trace::Record;
    let (at_ms, node, input) = match r {
        Record::Deadline { at_ms, slot } => {
            return format!("{index:>7} {at_ms} deadline of slot {slot}: liveness checked");
        }
        Record::Input { at_ms, node, input, .. } => (at_ms, node, input),
    };
    let what = match input {
        NodeInput::Start { role, slot, value } => {
            format!("start {role:?} slot={slot} value={} bytes", value.len())
        }
        NodeInput::Message(bytes) => {
            use ssv_core::types::ssz::Decode;
            match SignedSsvMessage::from_ssz_bytes(bytes) {
                Ok(m) => message(&m),
                Err(_) => format!("{} undecodable bytes", bytes.len()),
            }
        }
        NodeInput::Timeout => "timeout".into(),
        NodeInput::Crash => "crash".into(),
        NodeInput::Restart => "restart".into(),
        NodeInput::CommitteeDuty { slot } => format!("committee duty slot={slot}"),
        NodeInput::Beacon { id, slot, lag, failed } => {
            let failed = if *failed { " (failed)" } else { "" };
            format!("beacon answer #{id} slot={slot} lag={lag}{failed}")
        }
        NodeInput::ProposerDuty { slot } => format!("proposer duty slot={slot}"),
        NodeInput::AggregatorDuty { slot } => format!("aggregator duties slot={slot}"),
        NodeInput::ContributionDuty { slot } => format!("contribution duties slot={slot}"),
        NodeInput::RegistrationDuty { slot } => format!("registration duties slot={slot}"),
        NodeInput::ExitDuty { slot, validator } => {
            format!("voluntary-exit duty slot={slot} validator={validator}")
        }
    };
    format!("{index:>7} {at_ms} node {node}: {what}")
}

/// One line for `r`: its sequence number, time, core, input, and the result with outputs.
pub fn record(r: &TraceRecord, res: &Result<(), RunnerError>, out: &[Output]) -> String {
    let core = match r.core {
        CoreRef::Committee(id) => format!("committee {:02x}{:02x}", id[0], id[1]),
        CoreRef::Validator(v) => format!("validator {v}"),
    };
    let mut s = format!("{:>7} {} {core}: {}", r.seq, r.now_unix_millis, input(&r.input));
    match res {
        Ok(()) => {}
        Err(e) => {
            let _ = write!(s, " -> REJECTED: {e}");
        }
    }
    for o in out {
        let _ = write!(s, "\n          -> {}", output(o));
    }
    s
}
