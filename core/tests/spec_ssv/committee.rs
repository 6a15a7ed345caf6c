//! Committee-runner suites: `committee.(Multi)CommitteeSpecTest` and the committee-role
//! sub-tests of `tests.(Multi)MsgProcessingSpecTest`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use ssv_core::crypto::rsa::OperatorPrivateKey;
use ssv_core::qbft::{
    CommitteeMember, Controller, ControllerData, FixedProposer, InstanceData, MsgContainer,
    Operator, ProcessingMessage, QbftConfig, RsaSigner, RsaVerifier, SpecTimeouts, State,
};
use ssv_core::runner::{
    Committee, CommitteeRunner, Duty, Input, PartialSigContainer, RunnerError, RunnerState,
    RunnerValueCheck,
};
use ssv_core::types::{
    CommitteeDuty, CommitteeId, DomainType, MessageId, RunnerRole, Share, ValidatorIndex,
};
use ssv_fixtures::mock_beacon::{HARNESS_NOW_MS, TESTING_DUTY_SLOT, TestingSlashing};
use ssv_fixtures::testingutils;

use crate::go_json;

use super::common::{
    R, Recorder, b64, check_code, compare_outputs, compare_roots, drive, network, share, signed,
    u64_of, validator_duty,
};

pub(crate) fn committee_from(v: &Value) -> R<CommitteeMember> {
    let committee = v["Committee"]
        .as_array()
        .ok_or("no Committee")?
        .iter()
        .map(|o| {
            Ok(Operator {
                operator_id: u64_of(&o["OperatorID"]),
                public_key: b64(&o["SSVOperatorPubKey"])?,
            })
        })
        .collect::<R<Vec<_>>>()?;
    let cid =
        hex::decode(v["CommitteeID"].as_str().unwrap_or_default()).map_err(|e| e.to_string())?;
    let domain =
        hex::decode(v["DomainType"].as_str().unwrap_or_default()).map_err(|e| e.to_string())?;
    Ok(CommitteeMember {
        operator_id: u64_of(&v["OperatorID"]),
        committee_id: cid.try_into().unwrap_or([0; 32]),
        public_key: b64(&v["SSVOperatorPubKey"])?,
        faulty_nodes: u64_of(&v["FaultyNodes"]),
        committee,
        domain_type: DomainType(domain.try_into().unwrap_or([0; 4])),
    })
}

pub(crate) fn container_from(v: &Value) -> R<MsgContainer> {
    let mut c = MsgContainer::default();
    for (_, msgs) in v["Msgs"].as_object().into_iter().flatten() {
        for m in msgs.as_array().into_iter().flatten() {
            c.add(ProcessingMessage::new(signed(&m["SignedMessage"])?).map_err(|e| e.to_string())?);
        }
    }
    Ok(c)
}

pub(crate) fn opt_bytes(v: &Value) -> R<Option<Vec<u8>>> {
    if v.is_null() { Ok(None) } else { b64(v).map(Some) }
}

pub(crate) fn state_from(v: &Value) -> R<State> {
    let proposal = match &v["ProposalAcceptedForCurrentRound"] {
        Value::Null => None,
        p => Some(ProcessingMessage::new(signed(&p["SignedMessage"])?).map_err(|e| e.to_string())?),
    };
    Ok(State {
        committee: committee_from(&v["CommitteeMember"])?,
        id: b64(&v["ID"])?,
        round: u64_of(&v["Round"]),
        height: u64_of(&v["Height"]),
        last_prepared_round: u64_of(&v["LastPreparedRound"]),
        last_prepared_value: opt_bytes(&v["LastPreparedValue"])?,
        proposal_accepted_for_current_round: proposal,
        decided: v["Decided"].as_bool().unwrap_or(false),
        decided_value: opt_bytes(&v["DecidedValue"])?,
        propose_container: container_from(&v["ProposeContainer"])?,
        prepare_container: container_from(&v["PrepareContainer"])?,
        commit_container: container_from(&v["CommitContainer"])?,
        round_change_container: container_from(&v["RoundChangeContainer"])?,
    })
}

pub(crate) fn shares_from(v: &Value) -> R<BTreeMap<ValidatorIndex, Share>> {
    let mut out = BTreeMap::new();
    for (_, s) in v.as_object().into_iter().flatten() {
        let s = share(s)?;
        out.insert(s.validator_index, s);
    }
    Ok(out)
}

pub(crate) fn psig_container_from(v: &Value) -> R<PartialSigContainer> {
    let mut c = PartialSigContainer::new(u64_of(&v["Quorum"]));
    for (vi, roots) in v["Signatures"].as_object().into_iter().flatten() {
        let vi: u64 = vi.parse().map_err(|_| "validator index")?;
        let m = c.signatures.entry(vi).or_default();
        for (root, signers) in roots.as_object().into_iter().flatten() {
            let root: [u8; 32] =
                hex::decode(root).map_err(|e| e.to_string())?.try_into().map_err(|_| "root")?;
            let r = m.entry(root).or_default();
            for (signer, sig) in signers.as_object().into_iter().flatten() {
                let sig: [u8; 96] = b64(sig)?.try_into().map_err(|_| "sig")?;
                r.insert(signer.parse().map_err(|_| "signer")?, sig);
            }
        }
    }
    Ok(c)
}

pub(crate) fn duty_from(v: &Value) -> R<Duty> {
    if v.get("ValidatorDuties").is_some() {
        let mut duties = Vec::new();
        for d in v["ValidatorDuties"].as_array().into_iter().flatten() {
            duties.push(validator_duty(d)?);
        }
        Ok(Duty::Committee(CommitteeDuty { slot: u64_of(&v["Slot"]), validator_duties: duties }))
    } else {
        Ok(Duty::Validator(validator_duty(v)?))
    }
}

/// The runner state's duty: `CommitteeDuty`, `ValidatorDuty` or `StartingDuty`.
pub(crate) fn starting_duty(s: &Value) -> R<Duty> {
    for k in ["CommitteeDuty", "ValidatorDuty", "StartingDuty"] {
        if !s[k].is_null() {
            return duty_from(&s[k]);
        }
    }
    Err("runner state without a duty".into())
}

/// Operator 1's RSA key of the key set of a committee of `n`.
pub(crate) fn operator_signer(n: usize) -> R<RsaSigner> {
    let set = testingutils::key_set(n as u64).map_err(|e| e.to_string())?;
    let der = set.operator_keys.get(&1).ok_or("no operator 1")?;
    Ok(RsaSigner(OperatorPrivateKey::from_der(der).map_err(|e| e.to_string())?))
}

fn runner_config(
    shares: &BTreeMap<ValidatorIndex, Share>,
    protection: &Arc<TestingSlashing>,
) -> R<Arc<QbftConfig>> {
    config_with(
        shares,
        RunnerValueCheck::BeaconVote {
            protection: protection.clone(),
            slot: TESTING_DUTY_SLOT,
            share_pub_keys: shares.values().map(|s| s.share_pub_key).collect(),
            expected_source: 0,
            expected_target: 1,
        },
    )
}

/// The testing QBFT configuration of a runner over `shares` with `value_check`.
pub(crate) fn config_with(
    shares: &BTreeMap<ValidatorIndex, Share>,
    value_check: RunnerValueCheck,
) -> R<Arc<QbftConfig>> {
    let n = shares.values().next().map_or(4, |s| s.committee.len());
    Ok(Arc::new(QbftConfig {
        proposer: Box::new(FixedProposer(1)),
        value_check: Box::new(value_check),
        timeouts: Box::new(SpecTimeouts),
        verifier: Box::new(RsaVerifier),
        signer: Box::new(operator_signer(n)?),
        cut_off_round: testingutils::TESTING_CUT_OFF_ROUND,
    }))
}

fn fresh_runner(
    member: &CommitteeMember,
    shares: BTreeMap<ValidatorIndex, Share>,
    protection: &Arc<TestingSlashing>,
) -> R<CommitteeRunner> {
    let config = runner_config(&shares, protection)?;
    let ids: Vec<u64> = member.committee.iter().map(|o| o.operator_id).collect();
    let id = MessageId::for_committee(
        member.domain_type,
        RunnerRole::Committee,
        &CommitteeId::from_operators(&ids).0,
    );
    let controller = Controller::new(Arc::clone(&config), id.0.to_vec(), member.clone());
    Ok(CommitteeRunner::new(network(), shares, controller, config))
}

/// A committee runner from its Go JSON (`{"BaseRunner": ...}`).
pub(crate) fn runner_from(v: &Value, protection: &Arc<TestingSlashing>) -> R<CommitteeRunner> {
    let b = &v["BaseRunner"];
    let shares = shares_from(&b["Share"])?;
    let config = runner_config(&shares, protection)?;
    let controller = controller_from(&b["QBFTController"], &config)?;
    let mut runner = CommitteeRunner::new(network(), shares, controller, config);
    runner.state = runner_state_from(&b["State"])?;
    Ok(runner)
}

/// A QBFT controller from its Go JSON.
pub(crate) fn controller_from(c: &Value, config: &Arc<QbftConfig>) -> R<Controller> {
    let member = committee_from(&c["CommitteeMember"])?;
    let mut instances = Vec::new();
    for i in c["StoredInstances"].as_array().into_iter().flatten() {
        instances.push(InstanceData {
            state: state_from(&i["State"])?,
            start_value: opt_bytes(&i["StartValue"])?,
            force_stopped: i["forceStop"].as_bool().unwrap_or(false),
            started: true,
            timer: None,
        });
    }
    Ok(Controller::from_data(
        Arc::clone(config),
        ControllerData {
            identifier: b64(&c["Identifier"])?,
            height: u64_of(&c["Height"]),
            stored_instances: instances,
            committee: member,
        },
    ))
}

/// A runner state from its Go JSON (`null` for none).
pub(crate) fn runner_state_from(s: &Value) -> R<Option<RunnerState>> {
    if s.is_null() {
        return Ok(None);
    }
    Ok(Some(RunnerState {
        pre_consensus: psig_container_from(&s["PreConsensusContainer"])?,
        post_consensus: psig_container_from(&s["PostConsensusContainer"])?,
        running_instance: match &s["RunningInstance"] {
            Value::Null => None,
            i => Some(u64_of(&i["State"]["Height"])),
        },
        decided_value: opt_bytes(&s["DecidedValue"])?.filter(|d| !d.is_empty()),
        starting_duty: starting_duty(s)?,
        finished: s["Finished"].as_bool().unwrap_or(false),
    }))
}

pub(crate) fn container_json_eq(expected: &Value, got: &PartialSigContainer, what: &str) -> R {
    let exp = psig_container_from(expected)?;
    let strip = |c: &PartialSigContainer| {
        let mut m = c.signatures.clone();
        for roots in m.values_mut() {
            roots.retain(|_, s| !s.is_empty());
        }
        m.retain(|_, r| !r.is_empty());
        m
    };
    if strip(&exp) != strip(got) || exp.quorum != got.quorum {
        return Err(format!("post-state {what} differs"));
    }
    Ok(())
}

/// Compares the runner fields we model with the Go post-state `BaseRunner`.
fn compare_runner(expected: &Value, runner: &CommitteeRunner) -> R {
    compare_base(
        expected,
        RunnerRole::Committee,
        &runner.shares,
        Some(&runner.controller),
        runner.state.as_ref(),
    )
}

/// Compares a runner's controller and state with the Go post-state `BaseRunner`.
pub(crate) fn compare_base(
    expected: &Value,
    role: RunnerRole,
    shares: &BTreeMap<ValidatorIndex, Share>,
    controller: Option<&Controller>,
    state: Option<&RunnerState>,
) -> R {
    let b = &expected["BaseRunner"];
    if u64_of(&b["RunnerRoleType"]) != role as u64 {
        return Err(format!("post-state runner role: expected {}", b["RunnerRoleType"]));
    }
    if &shares_from(&b["Share"])? != shares {
        return Err("post-state shares differ".into());
    }
    let c = &b["QBFTController"];
    let has_controller = c.as_object().is_some_and(|o| !o.is_empty());
    match controller {
        Some(controller) if has_controller => {
            if u64_of(&c["Height"]) != controller.height() {
                return Err(format!(
                    "post-state controller height: expected {}, got {}",
                    c["Height"],
                    controller.height()
                ));
            }
            let ours = go_json::go_controller(&controller.data()).to_value();
            go_json::compare_json("post-state controller", &ours, c)?;
        }
        None if !has_controller => {}
        _ => return Err("post-state controller presence differs".into()),
    }
    compare_state(&b["State"], controller, state)
}

/// Compares a runner state (with its running instance, looked up in `controller`) with a
/// Go post-state `State`.
pub(crate) fn compare_state(
    s: &Value,
    controller: Option<&Controller>,
    state: Option<&RunnerState>,
) -> R {
    let Some(state) = state else {
        return if s.is_null() {
            Ok(())
        } else {
            Err("post-state: expected a runner state".into())
        };
    };
    if s.is_null() {
        return Err("post-state: expected no runner state".into());
    }
    container_json_eq(
        &s["PreConsensusContainer"],
        &state.pre_consensus,
        "pre-consensus container",
    )?;
    container_json_eq(
        &s["PostConsensusContainer"],
        &state.post_consensus,
        "post-consensus container",
    )?;
    let dv = opt_bytes(&s["DecidedValue"])?.filter(|d| !d.is_empty());
    if dv != state.decided_value {
        return Err("post-state decided value differs".into());
    }
    if s["Finished"].as_bool().unwrap_or(false) != state.finished {
        return Err(format!("post-state finished: expected {}", s["Finished"]));
    }
    match (&s["RunningInstance"], state.running_instance) {
        (Value::Null, None) => {}
        (Value::Null, Some(_)) | (_, None) => {
            return Err("post-state running instance presence differs".into());
        }
        (i, Some(h)) => {
            if u64_of(&i["State"]["Height"]) != h {
                return Err("post-state running instance height differs".into());
            }
            let inst = controller
                .and_then(|c| c.instance(h))
                .ok_or("post-state: running instance not stored")?;
            let ours = go_json::go_state(inst.state()).to_value();
            go_json::compare_json("post-state running instance", &ours, &i["State"])?;
        }
    }
    if starting_duty(s)? != state.starting_duty {
        return Err("post-state starting duty differs".into());
    }
    Ok(())
}

pub(crate) fn state_comparison(
    sc: &Path,
    kind: &str,
    dir: Option<&str>,
    name: &str,
) -> Option<Value> {
    let mut p = sc.join(kind);
    if let Some(d) = dir {
        p = p.join(d);
    }
    let p = p.join(format!("{name}.json"));
    ssv_fixtures::read_json(&p).ok()
}

pub(crate) fn is_proposal(m: &ssv_core::types::SignedSsvMessage) -> Option<u64> {
    if m.ssv_message.msg_type != 0 {
        return None;
    }
    let q = m.decode_qbft().ok()?;
    (q.msg_type == 0).then_some(q.height)
}

/// A message that our wire types cannot even hold (e.g. a null `SSVMessage`) is rejected
/// by `Validate()` in Go; report that validation error.
pub(crate) fn signed_or_invalid(
    v: &Value,
) -> R<Result<ssv_core::types::SignedSsvMessage, RunnerError>> {
    let j: ssv_fixtures::spec_json::SignedSsvMessageJson =
        serde_json::from_value(v.clone()).map_err(|e| e.to_string())?;
    match j.to_core() {
        Ok(m) => Ok(Ok(m)),
        Err(e) => match j.validate() {
            Err(v) => Ok(Err(RunnerError::Validation(v))),
            Ok(()) => Err(e.to_string()),
        },
    }
}

/// `tests.MsgProcessingSpecTest` (single or as part of a multi-test).
pub(crate) fn msg_processing(t: &Value, sc: &Path, kind: &str, dir: Option<&str>) -> R {
    let role = u64_of(&t["Runner"]["BaseRunner"]["RunnerRoleType"]);
    if role != 0 {
        return super::validator::run(t, sc, kind, dir, None);
    }
    let protection = Arc::new(TestingSlashing::default());
    let runner = runner_from(&t["Runner"], &protection)?;
    let shares = runner.shares.clone();
    let member = runner.controller.data().committee;
    let slot_shares = shares.clone();
    let once = Mutex::new(Some(runner));
    let p2 = protection.clone();
    let m2 = member.clone();
    let create: ssv_core::runner::CreateRunner = Box::new(move |s| {
        once.lock()
            .ok()
            .and_then(|mut o| o.take())
            .unwrap_or_else(|| fresh_runner(&m2, s, &p2).expect("runner"))
    });
    let mut committee = Committee::new(member, shares, create, Box::new(RsaVerifier));
    let duty = duty_from(if t["CommitteeDuty"].is_null() {
        &t["ValidatorDuty"]
    } else {
        &t["CommitteeDuty"]
    })?;
    let slot = duty.slot();
    let mut rec = Recorder::default();
    let mut last: Option<RunnerError> = None;
    if t["DontStartDuty"].as_bool().unwrap_or(false) {
        let r = runner_from(&t["Runner"], &protection)?;
        committee.insert_runner(slot, r);
    } else if let Err(e) =
        drive(&mut rec, |i, o| committee.handle(HARNESS_NOW_MS, i, o), Input::StartDuty(duty))
    {
        last = Some(e);
    }
    for m in t["Messages"].as_array().into_iter().flatten() {
        let m = match signed_or_invalid(m)? {
            Ok(m) => m,
            Err(e) => {
                last = Some(e);
                continue;
            }
        };
        let proposal = is_proposal(&m);
        if let Err(e) =
            drive(&mut rec, |i, o| committee.handle(HARNESS_NOW_MS, i, o), Input::Message(m))
        {
            last = Some(e);
        }
        if t["DecidedSlashable"].as_bool().unwrap_or(false)
            && let Some(h) = proposal
        {
            for s in slot_shares.values() {
                protection.add(s.share_pub_key, h);
            }
        }
    }
    check_code(u64_of(&t["ExpectedErrorCode"]), &last)?;
    compare_outputs(&t["OutputMessages"], &rec.broadcasts, false)?;
    compare_roots(&t["BeaconBroadcastedRoots"], &rec.submitted)?;
    let name = t["Name"].as_str().unwrap_or_default();
    let post = state_comparison(sc, kind, dir, name).ok_or("no state comparison file")?;
    {
        let runner = committee.runners.get(&slot).ok_or("no runner for the duty slot")?;
        compare_runner(&post, runner)?;
    }
    Ok(())
}

/// `committee.CommitteeSpecTest` (single or as part of a multi-test).
pub(crate) fn committee_test(t: &Value, sc: &Path, kind: &str, dir: Option<&str>) -> R {
    let c = &t["Committee"];
    let protection = Arc::new(TestingSlashing::default());
    let member = committee_from(&c["CommitteeMember"])?;
    let shares = shares_from(&c["Share"])?;
    let m2 = member.clone();
    let p2 = protection.clone();
    let create: ssv_core::runner::CreateRunner =
        Box::new(move |s| fresh_runner(&m2, s, &p2).expect("runner"));
    let mut committee = Committee::new(member, shares, create, Box::new(RsaVerifier));
    for (slot, r) in c["Runners"].as_object().into_iter().flatten() {
        committee.insert_runner(slot.parse().map_err(|_| "slot")?, runner_from(r, &protection)?);
    }
    let mut rec = Recorder::default();
    let mut last: Option<RunnerError> = None;
    for input in t["Input"].as_array().into_iter().flatten() {
        let input = if input.get("SSVMessage").is_some() {
            Input::Message(signed(input)?)
        } else {
            Input::StartDuty(duty_from(input)?)
        };
        if let Err(e) = drive(&mut rec, |i, o| committee.handle(HARNESS_NOW_MS, i, o), input) {
            last = Some(e);
        }
    }
    check_code(u64_of(&t["ExpectedErrorCode"]), &last)?;
    compare_outputs(&t["OutputMessages"], &rec.broadcasts, true)?;
    compare_roots(&t["BeaconBroadcastedRoots"], &rec.submitted)?;
    let name = t["Name"].as_str().unwrap_or_default();
    let post = state_comparison(sc, kind, dir, name).ok_or("no state comparison file")?;
    {
        let runners = post["Runners"].as_object().cloned().unwrap_or_default();
        if runners.len() != committee.runners.len() {
            return Err(format!(
                "post-state: expected {} runners, got {}",
                runners.len(),
                committee.runners.len()
            ));
        }
        for (slot, r) in runners {
            let slot: u64 = slot.parse().map_err(|_| "slot")?;
            let ours = committee
                .runners
                .get(&slot)
                .ok_or(format!("post-state: no runner for slot {slot}"))?;
            compare_runner(&r, ours).map_err(|e| format!("slot {slot}: {e}"))?;
        }
    }
    Ok(())
}
