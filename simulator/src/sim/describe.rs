//! One-line descriptions of trace records, for `ssv-sim replay --print`: what an auditor
//! reads to follow a node's cores input by input (a QBFT message's type, height, round and
//! signers; a duty's slot; what the core answered).

use std::fmt::Write as _;

use ssv_core::qbft;
use ssv_core::runner::{Duty, Input, Output, Request, Response, RunnerError};
use ssv_core::trace::{CoreRef, TraceRecord};
use ssv_core::types::{MsgType, QbftMessageType, SignedSsvMessage};

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
            format!("start duty role={} slot={} validator={}", d.role, d.slot, d.validator_index)
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
        Output::Submit(_) => "submit".into(),
    }
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
