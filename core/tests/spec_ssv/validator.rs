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
    committee_from, compare_base, config_with, controller_from, duty_from, runner_state_from,
    shares_from, signed_or_invalid, state_comparison,
};
use super::common::{
    R, Recorder, check_code, compare_outputs, compare_roots, drive, network, u64_of,
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
    if let Some(post) = state_comparison(sc, kind, dir, name) {
        let runner = v.runners.get(&role).ok_or("no runner")?;
        compare_base(&post, runner.controller.as_ref(), runner.state.as_ref())?;
    }
    Ok(())
}

/// `synccommitteeaggregator.SyncCommitteeAggregatorProofSpecTest`.
pub(crate) fn sync_committee_aggregator(t: &Value, sc: &Path) -> R {
    let mut map = BTreeMap::new();
    for (k, v) in t["ProofRootsMap"].as_object().into_iter().flatten() {
        map.insert(k.clone(), v.as_bool().unwrap_or(false));
    }
    run(t, sc, "synccommitteeaggregator_SyncCommitteeAggregatorProofSpecTest", None, Some(map))
}
