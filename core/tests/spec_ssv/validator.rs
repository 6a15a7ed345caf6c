//! Validator-runner suites: the proposer, aggregator, sync-committee-contribution,
//! registration and exit sub-tests of `tests.(Multi)MsgProcessingSpecTest`, and
//! `synccommitteeaggregator.SyncCommitteeAggregatorProofSpecTest`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;
use ssv_core::crypto::rsa::OperatorPrivateKey;
use ssv_core::qbft::{CommitteeMember, Operator, RsaVerifier};
use ssv_core::runner::{Duty, Input, RunnerError, RunnerValueCheck, Validator, ValidatorRunner};
use ssv_core::types::{BeaconRole, CommitteeId, DomainType, RunnerRole};
use ssv_fixtures::mock_beacon::{HARNESS_NOW_MS, TestingSlashing};
use ssv_fixtures::testingutils;

use super::committee::{
    committee_from, compare_base, compare_state, config_with, controller_from, duty_from,
    runner_state_from, shares_from, signed_or_invalid, state_comparison,
};
use super::common::{
    R, Recorder, check_code, compare_outputs, compare_roots, drive, network, psigs, u64_of,
};

/// `TestingCommitteeMember(KeySetForShare(share))` for a committee of `n`.
fn member_for(n: usize) -> R<CommitteeMember> {
    let ks = testingutils::key_set(n as u64).map_err(|e| e.to_string())?;
    let mut committee = Vec::new();
    for (id, der) in &ks.operator_keys {
        let sk = OperatorPrivateKey::from_der(der).map_err(|e| e.to_string())?;
        committee
            .push(Operator { operator_id: *id, public_key: sk.public_key().to_pem().into_bytes() });
    }
    let ids: Vec<u64> = committee.iter().map(|o| o.operator_id).collect();
    Ok(CommitteeMember {
        operator_id: 1,
        committee_id: CommitteeId::from_operators(&ids).0,
        public_key: committee.first().map(|o| o.public_key.clone()).unwrap_or_default(),
        faulty_nodes: ks.faulty_nodes(),
        committee,
        domain_type: DomainType::JATO_TESTNET,
    })
}

/// A validator runner from its Go JSON (`{"BaseRunner": ...}`) and its committee member.
pub(crate) fn runner_from(v: &Value) -> R<(ValidatorRunner, CommitteeMember)> {
    let b = &v["BaseRunner"];
    let role_n = u64_of(&b["RunnerRoleType"]);
    let role = RunnerRole::from_i32(i32::try_from(role_n).map_err(|_| "role")?)
        .ok_or(format!("unknown runner role {role_n}"))?;
    let shares = shares_from(&b["Share"])?;
    let share = shares.values().next().cloned().ok_or("runner without share")?;
    let protection = Arc::new(TestingSlashing::default());
    let net = network();
    let beacon_role = match role {
        RunnerRole::Proposer => Some(BeaconRole::Proposer),
        RunnerRole::Aggregator => Some(BeaconRole::Aggregator),
        RunnerRole::SyncCommitteeContribution => Some(BeaconRole::SyncCommitteeContribution),
        _ => None,
    };
    let value_check = match beacon_role {
        Some(role) => RunnerValueCheck::ValidatorConsensusData {
            role,
            network: Arc::clone(&net),
            current_epoch: net.epoch_at(HARNESS_NOW_MS),
            validator_pub_key: share.validator_pub_key,
            validator_index: share.validator_index,
            share_pub_key: share.share_pub_key,
            protection,
        },
        None => RunnerValueCheck::None,
    };
    let config = config_with(&shares, value_check)?;
    let c = &b["QBFTController"];
    let has_controller = c.as_object().is_some_and(|o| !o.is_empty());
    let (controller, member) = if has_controller {
        (Some(controller_from(c, &config)?), committee_from(&c["CommitteeMember"])?)
    } else {
        (None, member_for(share.committee.len())?)
    };
    let mut runner = ValidatorRunner::new(role, net, share, 1, controller, config);
    runner.state = runner_state_from(&b["State"])?;
    if role == RunnerRole::VoluntaryExit
        && let Some(Duty::Validator(d)) = runner.state.as_ref().map(|s| &s.starting_duty)
    {
        runner.voluntary_exit = Some(ssv_core::beacon::VoluntaryExit {
            epoch: network().epoch_at_slot(d.slot),
            validator_index: d.validator_index,
        });
    }
    Ok((runner, member))
}

/// Runs a validator-runner message-processing test; `aggregators` is the sync-committee
/// aggregator map of `SyncCommitteeAggregatorProofSpecTest`.
pub(crate) fn run(
    t: &Value,
    sc: &Path,
    kind: &str,
    dir: Option<&str>,
    aggregators: Option<BTreeMap<String, bool>>,
) -> R {
    let (runner, member) = runner_from(&t["Runner"])?;
    let role = runner.role;
    let share = runner.share().cloned().ok_or("no share")?;
    let mut v = Validator::new(member, share, vec![runner], Box::new(RsaVerifier));
    let mut rec = Recorder { aggregators, ..Recorder::default() };
    let mut last: Option<RunnerError> = None;
    if !t["DontStartDuty"].as_bool().unwrap_or(false) {
        let duty = duty_from(&t["ValidatorDuty"])?;
        if let Err(e) =
            drive(&mut rec, |i, o| v.handle(HARNESS_NOW_MS, i, o), Input::StartDuty(duty))
        {
            last = Some(e);
        }
    }
    for m in t["Messages"].as_array().into_iter().flatten() {
        let m = match signed_or_invalid(m)? {
            Ok(m) => m,
            Err(e) => {
                last = Some(e);
                continue;
            }
        };
        if let Err(e) = drive(&mut rec, |i, o| v.handle(HARNESS_NOW_MS, i, o), Input::Message(m)) {
            last = Some(e);
        }
    }
    check_code(u64_of(&t["ExpectedErrorCode"]), &last)?;
    compare_outputs(&t["OutputMessages"], &rec.broadcasts, false)?;
    compare_roots(&t["BeaconBroadcastedRoots"], &rec.submitted)?;
    let name = t["Name"].as_str().unwrap_or_default();
    let post = state_comparison(sc, kind, dir, name).ok_or("no state comparison file")?;
    {
        let runner = v.runners.get(&role).ok_or("no runner")?;
        compare_base(
            &post,
            runner.role,
            &runner.shares,
            runner.controller.as_ref(),
            runner.state.as_ref(),
        )?;
    }
    Ok(())
}

/// `synccommitteeaggregator.SyncCommitteeAggregatorProofSpecTest`: a fresh contribution
/// runner of `Testing4SharesSet` with the test's aggregator map starts
/// `TestingSyncCommitteeContributionDuty` and processes the messages; the post-state is the
/// runner `State`.
pub(crate) fn sync_committee_aggregator(t: &Value, sc: &Path) -> R {
    let mut map = BTreeMap::new();
    for (k, v) in t["ProofRootsMap"].as_object().into_iter().flatten() {
        map.insert(k.clone(), v.as_bool().unwrap_or(false));
    }
    let (runner, member) = fresh_validator_runner(RunnerRole::SyncCommitteeContribution)?;
    let share = runner.share().cloned().ok_or("no share")?;
    let mut v = Validator::new(member, share, vec![runner], Box::new(RsaVerifier));
    let mut rec = Recorder { aggregators: Some(map), ..Recorder::default() };
    let path = ssv_fixtures::vector_path(
        "ssv-spec-testingutils-v1.2.2/beacon_node_sync_committee.json",
        "ssv-spec beacon_node_sync_committee.go",
    )
    .map_err(|e| e.to_string())?;
    let fixtures: Value = ssv_fixtures::read_json(&path).map_err(|e| e.to_string())?;
    let mut duty_json = fixtures["TestingSyncCommitteeContributionDuty"]["value"].clone();
    // The extraction writes Go field values; the duty JSON reader wants the spec-test shape.
    if let Some(o) = duty_json.as_object_mut() {
        for k in ["Slot", "ValidatorIndex"] {
            if let Some(n) = o.get(k).and_then(Value::as_u64) {
                o.insert(k.into(), Value::String(n.to_string()));
            }
        }
    }
    let duty = duty_from(&duty_json)?;
    let mut last =
        drive(&mut rec, |i, o| v.handle(HARNESS_NOW_MS, i, o), Input::StartDuty(duty)).err();
    for m in t["Messages"].as_array().into_iter().flatten() {
        let m = match signed_or_invalid(m)? {
            Ok(m) => m,
            Err(e) => {
                last = Some(e);
                continue;
            }
        };
        if let Err(e) = drive(&mut rec, |i, o| v.handle(HARNESS_NOW_MS, i, o), Input::Message(m)) {
            last = Some(e);
        }
    }
    let expected_err = !t["ExpectedError"].as_str().unwrap_or_default().is_empty();
    if expected_err != last.is_some() {
        return Err(format!("expected error {}, got {last:?}", t["ExpectedError"]));
    }
    let name = t["Name"].as_str().unwrap_or_default();
    let kind = "synccommitteeaggregator_SyncCommitteeAggregatorProofSpecTest";
    let post = state_comparison(sc, kind, None, name).ok_or("no state comparison")?;
    let runner = v.runners.get(&RunnerRole::SyncCommitteeContribution).ok_or("no runner")?;
    compare_state(&post, runner.controller.as_ref(), runner.state.as_ref())
}

/// `newduty.StartNewRunnerDutySpecTest` as part of a multi-test: `StartNewDuty(duty,
/// threshold)` on the runner itself (committee or validator), then outputs and post-state.
pub(crate) fn new_duty(t: &Value, sc: &Path, dir: &str) -> R {
    let kind = "newduty_MultiStartNewRunnerDutySpecTest";
    let role = u64_of(&t["Runner"]["BaseRunner"]["RunnerRoleType"]);
    // The sub-tests do not serialize `Threshold`; it is the share committee's 2f + 1.
    let n = t["Runner"]["BaseRunner"]["Share"]
        .as_object()
        .and_then(|m| m.values().next())
        .and_then(|s| s["Committee"].as_array())
        .map_or(4, Vec::len) as u64;
    let quorum = match u64_of(&t["Threshold"]) {
        0 => n.saturating_sub(1) / 3 * 2 + 1,
        q => q,
    };
    let mut rec = Recorder::default();
    let name = t["Name"].as_str().unwrap_or_default();
    let post = state_comparison(sc, kind, Some(dir), name).ok_or("no state comparison file")?;
    let err;
    if role == 0 {
        let protection = Arc::new(TestingSlashing::default());
        let mut runner = super::committee::runner_from(&t["Runner"], &protection)?;
        let Duty::Committee(duty) = duty_from(&t["CommitteeDuty"])? else {
            return Err("committee runner without a committee duty".into());
        };
        let mut first = Some(duty);
        err = drive(
            &mut rec,
            |i, o| match i {
                Input::StartDuty(_) => match first.take() {
                    Some(d) => runner.start_duty(d, quorum, o),
                    None => Ok(()),
                },
                Input::Response { id, response } => {
                    runner.on_response(HARNESS_NOW_MS, id, response, o)
                }
                _ => Ok(()),
            },
            Input::StartDuty(duty_from(&t["CommitteeDuty"])?),
        )
        .err();
        check_code(u64_of(&t["ExpectedErrorCode"]), &err)?;
        // Go compares outputs only when something was broadcast.
        if !rec.broadcasts.is_empty() {
            compare_message_roots(&t["OutputMessages"], &rec.broadcasts)?;
        }
        {
            compare_base(
                &post,
                RunnerRole::Committee,
                &runner.shares,
                Some(&runner.controller),
                runner.state.as_ref(),
            )?;
        }
    } else {
        let (mut runner, _) = runner_from(&t["Runner"])?;
        let Duty::Validator(duty) = duty_from(&t["ValidatorDuty"])? else {
            return Err("validator runner without a validator duty".into());
        };
        let mut first = Some(duty.clone());
        err = drive(
            &mut rec,
            |i, o| match i {
                Input::StartDuty(_) => match first.take() {
                    Some(d) => runner.start_duty(d, quorum, o),
                    None => Ok(()),
                },
                Input::Response { id, response } => {
                    runner.on_response(HARNESS_NOW_MS, id, response, o)
                }
                _ => Ok(()),
            },
            Input::StartDuty(Duty::Validator(duty)),
        )
        .err();
        check_code(u64_of(&t["ExpectedErrorCode"]), &err)?;
        // Go compares outputs only when something was broadcast.
        if !rec.broadcasts.is_empty() {
            compare_message_roots(&t["OutputMessages"], &rec.broadcasts)?;
        }
        {
            compare_base(
                &post,
                runner.role,
                &runner.shares,
                runner.controller.as_ref(),
                runner.state.as_ref(),
            )?;
        }
    }
    Ok(())
}

/// A fresh runner of `role` for `Testing4SharesSet` (`testingutils.<Role>Runner(ks)`):
/// `TestingShare(ks, 1)`, height 0, no state.
fn fresh_validator_runner(role: RunnerRole) -> R<(ValidatorRunner, CommitteeMember)> {
    let template = serde_json::json!({
        "BaseRunner": {
            "State": null,
            "Share": {"1": testing_share_json()?},
            "QBFTController": null,
            "RunnerRoleType": role as i32,
        }
    });
    let (mut runner, member) = runner_from(&template)?;
    if role.has_consensus() {
        let share = runner.share().cloned().ok_or("no share")?;
        let id = ssv_core::types::MessageId::for_validator(
            share.domain_type,
            role,
            &share.validator_pub_key,
        );
        let shares = BTreeMap::from([(share.validator_index, share.clone())]);
        let net = network();
        let value_check = match role {
            RunnerRole::SyncCommitteeContribution => RunnerValueCheck::ValidatorConsensusData {
                role: BeaconRole::SyncCommitteeContribution,
                network: Arc::clone(&net),
                current_epoch: net.epoch_at(HARNESS_NOW_MS),
                validator_pub_key: share.validator_pub_key,
                validator_index: share.validator_index,
                share_pub_key: share.share_pub_key,
                protection: Arc::new(TestingSlashing::default()),
            },
            _ => return Err(format!("fresh {role:?} runner not supported by the harness")),
        };
        let config = config_with(&shares, value_check)?;
        let controller =
            ssv_core::qbft::Controller::new(Arc::clone(&config), id.0.to_vec(), member.clone());
        runner = ValidatorRunner::new(role, net, share, 1, Some(controller), config);
    }
    Ok((runner, member))
}

/// `TestingShare(Testing4SharesSet(), 1)` as Go JSON.
fn testing_share_json() -> R<Value> {
    use base64::Engine;
    let path =
        ssv_fixtures::vector_path("ssv-spec-testingutils-v1.2.2/keys.json", "ssv-spec keys.go")
            .map_err(|e| e.to_string())?;
    let all: Value = ssv_fixtures::read_json(&path).map_err(|e| e.to_string())?;
    let set = &all["Testing4SharesSet"]["value"];
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let mut committee = Vec::new();
    let mut own = Vec::new();
    for (id, sk) in set["Shares"].as_object().into_iter().flatten() {
        let sk = ssv_core::crypto::bls::SecretKey::from_hex(
            sk.as_str().unwrap_or_default().trim_start_matches("0x"),
        )
        .map_err(|e| e.to_string())?;
        let pk = sk.public_key().to_bytes();
        if id == "1" {
            own = pk.to_vec();
        }
        committee.push(
            serde_json::json!({"SharePubKey": b64(&pk), "Signer": id.parse::<u64>().unwrap_or(0)}),
        );
    }
    let vpk = hex_str(&set["ValidatorPK"])?;
    let reg: Value = ssv_fixtures::read_json(
        &ssv_fixtures::vector_path(
            "ssv-spec-testingutils-v1.2.2/beacon_node_validator_registration.json",
            "ssv-spec beacon_node_validator_registration.go",
        )
        .map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let fee = hex_str(&reg["TestingFeeRecipient"]["value"])?;
    let mut graffiti = vec![0u8; 32];
    graffiti[0] = 1;
    Ok(serde_json::json!({
        "ValidatorIndex": "1",
        "ValidatorPubKey": hex::encode(&vpk),
        "SharePubKey": b64(&own),
        "Committee": committee,
        "DomainType": [0, 0, 3, 1],
        "FeeRecipientAddress": hex::encode(&fee),
        "Graffiti": b64(&graffiti),
    }))
}

fn hex_str(v: &Value) -> R<Vec<u8>> {
    hex::decode(v.as_str().unwrap_or_default().trim_start_matches("0x")).map_err(|e| e.to_string())
}

/// The newduty output check: each broadcast partial-signature message holds the same
/// partial signatures (signing root, signer, validator, signature) as the expected one at
/// its index; the container's type and slot are not compared (as in Go).
fn compare_message_roots(expected: &Value, broadcasts: &[ssv_core::types::SignedSsvMessage]) -> R {
    let want: Vec<_> = expected
        .as_array()
        .map(|a| a.iter().map(psigs).collect::<R<Vec<_>>>())
        .unwrap_or(Ok(Vec::new()))?;
    let mut index = 0usize;
    for m in broadcasts.iter().filter(|m| m.ssv_message.msg_type == 1) {
        let got = m.ssv_message.decode_partial_signatures().map_err(|e| e.to_string())?;
        let w = want.get(index).ok_or("more outputs than expected")?;
        let set = |p: &ssv_core::types::PartialSignatureMessages| {
            let mut v: Vec<_> = p
                .messages
                .iter()
                .map(|m| {
                    (m.signing_root, m.signer, m.validator_index, m.partial_signature.to_vec())
                })
                .collect();
            v.sort();
            v
        };
        if set(&got) != set(w) {
            return Err(format!("output {index}: partial signatures differ"));
        }
        index += 1;
    }
    if index != want.len() {
        return Err(format!("expected {} outputs, got {index}", want.len()));
    }
    Ok(())
}

/// `runnerconstruction.RunnerConstructionSpecTest`: constructing each role's runner over
/// the test's shares fails with the expected message (or succeeds).
pub(crate) fn runner_construction(t: &Value) -> R {
    let shares = shares_from(&t["Shares"])?;
    let roles = t["RoleError"].as_object().ok_or("no RoleError")?;
    let member = member_for(shares.values().next().map_or(4, |s| s.committee.len()))?;
    for (role, expected) in roles {
        let role_n: i32 = role.parse().map_err(|_| "role")?;
        let role = RunnerRole::from_i32(role_n).ok_or("unknown role")?;
        let config = config_with(&shares, RunnerValueCheck::None)?;
        let controller =
            ssv_core::qbft::Controller::new(Arc::clone(&config), Vec::new(), member.clone());
        let res = if role == RunnerRole::Committee {
            ssv_core::runner::CommitteeRunner::try_new(
                network(),
                shares.clone(),
                controller,
                config,
            )
            .map(|_| ())
        } else {
            ValidatorRunner::try_new(role, network(), shares.clone(), 1, Some(controller), config)
                .map(|_| ())
        };
        let expected = expected.as_str().unwrap_or_default();
        match res {
            Ok(()) if expected.is_empty() => {}
            Err(e) if !expected.is_empty() && e.to_string().contains(expected) => {}
            other => return Err(format!("{role:?}: expected {expected:?}, got {other:?}")),
        }
    }
    Ok(())
}
