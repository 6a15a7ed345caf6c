//! ssv-spec v1.2.2 QBFT vectors (`qbft/spectest/generate/tests`), one trial per file.
//!
//! What each test type checks (mirroring `qbft/spectest/tests/*.go`):
//! - `MsgProcessingSpecTest`: the pre-state instance processes the inputs; the last error
//!   code, the timer (number of `TimerSet` outputs and the last round), the broadcasts (in
//!   order, by `hash_tree_root`, each RSA-verified) and the post-state.
//! - `ControllerSpecTest`: per run: start, timer, decided count and value, the broadcast
//!   decided message (exactly one match by root, signers and signatures), the controller
//!   post-state; the last error code over all runs.
//! - `CreateMsgSpecTest`: the created message's `hash_tree_root`.
//! - `MsgSpecTest`: validation codes, SSZ encoding and roots.
//! - `RoundRobinSpecTest`: the Alan round robin.
//! - `timeout.SpecTest`: one round timeout: code, timer, outputs, and the hard-coded
//!   `PostRoot` reproduced as `sha256` of the Go-compact JSON of the state.
//!
//! Post-states are compared structurally against `state_comparison/`: our state is written
//! in the Go JSON shape ([`go_state`]) and compared as JSON values, with `null`, `""` and
//! `[]` treated as equal (Go keeps a nil/empty distinction that SSZ bytes do not carry).
//! The Go fixtures the vectors assume (proposer 1, or 2 at height 10; cut-off round 15;
//! the value check) come from `ssv_fixtures::testingutils`.

use std::path::Path;
use std::sync::Arc;

use serde_json::{Value, json};
use ssv_core::error::SpecError;
use ssv_core::qbft::{
    CommitteeMember, Controller, ControllerInput, FixedProposer, Instance, InstanceData,
    InstanceInput, MsgContainer, Operator, Output, ProcessingMessage, ProposerSelection,
    QbftConfig, RoundRobinProposer, RsaSigner, RsaVerifier, SpecTimeouts, State, hash_data_root,
};
use ssv_core::types::{DomainType, QbftMessage, SignedSsvMessage};
use ssv_fixtures::spec_json::{QbftMessageJson, SignedSsvMessageJson};
use ssv_fixtures::suite::{self, Trial};
use ssv_fixtures::testingutils;
use ssz::{Decode, Encode};
use tree_hash::TreeHash;

#[path = "shared/go_json.rs"]
mod go_json;

use go_json::{R, compare_json, go_controller, go_state};

fn main() -> std::process::ExitCode {
    suite::run(|| {
        let root = ssv_fixtures::unpacked(ssv_fixtures::SSV_SPEC_V1_2_2)?;
        let dir = root.join("qbft/spectest/generate/tests");
        let files = ssv_fixtures::files_with_extension(&dir, ".json")?;
        let count = files.len();
        let sc = root.join("qbft/spectest/generate/state_comparison");
        let mut trials = suite::file_trials(&dir, &files, move |path| run_file(path, &sc));
        trials.push(suite::count_trial("qbft spectest", 203, count));
        Ok::<Vec<Trial>, ssv_fixtures::FixtureError>(trials)
    })
}

fn run_file(path: &Path, sc: &Path) -> R {
    let v: Value = ssv_fixtures::read_json(path).map_err(|e| e.to_string())?;
    let file = path.file_name().and_then(|f| f.to_str()).unwrap_or_default();
    let kind = file.split('_').next().unwrap_or_default();
    match kind {
        "tests.MsgProcessingSpecTest" => msg_processing(&v, sc),
        "tests.ControllerSpecTest" => controller(&v, sc),
        "tests.CreateMsgSpecTest" => create_msg(&v),
        "tests.MsgSpecTest" => msg_spec(&v),
        "tests.RoundRobinSpecTest" => round_robin(&v),
        "timeout.SpecTest" => timeout(&v),
        other => Err(format!("unknown test type {other}")),
    }
}

// ---- JSON helpers ----------------------------------------------------------------------

fn b64(v: &Value) -> R<Vec<u8>> {
    use base64::Engine;
    match v {
        Value::Null => Ok(Vec::new()),
        Value::String(s) => {
            base64::engine::general_purpose::STANDARD.decode(s).map_err(|e| e.to_string())
        }
        other => Err(format!("not base64: {other}")),
    }
}

fn u64_of(v: &Value) -> u64 {
    v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())).unwrap_or(0)
}

fn signed(v: &Value) -> R<SignedSsvMessage> {
    let j: SignedSsvMessageJson = serde_json::from_value(v.clone()).map_err(|e| e.to_string())?;
    j.to_core().map_err(|e| e.to_string())
}

fn signed_list(v: &Value) -> R<Vec<SignedSsvMessage>> {
    v.as_array().map(|a| a.iter().map(signed).collect()).unwrap_or(Ok(Vec::new()))
}

fn committee_from(v: &Value) -> R<CommitteeMember> {
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

fn container_from(v: &Value) -> R<MsgContainer> {
    let mut c = MsgContainer::default();
    if let Some(map) = v["Msgs"].as_object() {
        for (_, msgs) in map {
            for m in msgs.as_array().into_iter().flatten() {
                c.add(
                    ProcessingMessage::new(signed(&m["SignedMessage"])?)
                        .map_err(|e| e.to_string())?,
                );
            }
        }
    }
    Ok(c)
}

fn opt_bytes(v: &Value) -> R<Option<Vec<u8>>> {
    if v.is_null() { Ok(None) } else { b64(v).map(Some) }
}

fn state_from(v: &Value) -> R<State> {
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

// ---- configuration (the Go test fixtures) ---------------------------------------------

/// Operator 1's RSA key: from the file's `PrivateKeys`, else `Testing4SharesSet` (the Go
/// harness's `TestingOperatorSigner(Testing4SharesSet())`).
fn signer_for(v: &Value) -> R<RsaSigner> {
    use ssv_core::crypto::rsa::OperatorPrivateKey;
    let key = match v["PrivateKeys"]["OperatorKeys"]["1"].as_str() {
        Some(pem_hex) => {
            let pem = hex::decode(pem_hex).map_err(|e| e.to_string())?;
            OperatorPrivateKey::from_pem(&pem).map_err(|e| e.to_string())?
        }
        None => {
            let set = testingutils::key_set(4).map_err(|e| e.to_string())?;
            let der = set.operator_keys.get(&1).ok_or("no operator 1 in Testing4SharesSet")?;
            OperatorPrivateKey::from_der(der).map_err(|e| e.to_string())?
        }
    };
    Ok(RsaSigner(key))
}

fn config(v: &Value, proposer: u64) -> R<Arc<QbftConfig>> {
    Ok(Arc::new(QbftConfig {
        proposer: Box::new(FixedProposer(proposer)),
        value_check: Box::new(testingutils::testing_value_check),
        timeouts: Box::new(SpecTimeouts),
        verifier: Box::new(RsaVerifier),
        signer: Box::new(signer_for(v)?),
        cut_off_round: testingutils::TESTING_CUT_OFF_ROUND,
    }))
}

fn instance_from(v: &Value, pre: &Value) -> R<Instance> {
    let state = state_from(&pre["State"])?;
    let proposer = testingutils::testing_proposer(state.height);
    let start_value = opt_bytes(&pre["StartValue"])?;
    let force_stopped = pre["forceStop"].as_bool().unwrap_or(false);
    Ok(Instance::from_data(
        config(v, proposer)?,
        InstanceData { state, start_value, force_stopped, started: true, timer: None },
    ))
}

fn code_of(err: &Option<ssv_core::qbft::QbftError>) -> R<u64> {
    match err {
        None => Ok(0),
        Some(e) => e
            .code()
            .map(|c| u64::from(c.as_u16()))
            .ok_or_else(|| format!("error without spec code: {e}")),
    }
}

fn check_code(expected: &Value, err: &Option<ssv_core::qbft::QbftError>) -> R {
    let want = u64_of(expected);
    let got = match code_of(err) {
        Ok(c) => c,
        Err(e) if want != 0 => return Err(format!("expected code {want}: {e}")),
        Err(e) => return Err(e),
    };
    if got != want {
        return Err(format!("error code {got} ({err:?}), want {want}"));
    }
    Ok(())
}

fn check_timer(expected: &Value, outputs: &[Output]) -> R {
    if expected.is_null() {
        return Ok(());
    }
    let sets: Vec<u64> = outputs
        .iter()
        .filter_map(|o| if let Output::TimerSet { round, .. } = o { Some(*round) } else { None })
        .collect();
    let (count, round) = (sets.len() as u64, sets.last().copied().unwrap_or(0));
    let (want_count, want_round) = (u64_of(&expected["Timeouts"]), u64_of(&expected["Round"]));
    if (count, round) != (want_count, want_round) {
        return Err(format!(
            "timer: {count} timeouts, round {round}; want {want_count}, round {want_round}"
        ));
    }
    Ok(())
}

fn broadcasts(outputs: &[Output]) -> Vec<&SignedSsvMessage> {
    outputs
        .iter()
        .filter_map(|o| if let Output::Broadcast(m) = o { Some(m) } else { None })
        .collect()
}

fn verify_all(msgs: &[&SignedSsvMessage], committee: &CommitteeMember) -> R {
    let cfg = QbftConfig {
        proposer: Box::new(RoundRobinProposer),
        value_check: Box::new(ssv_core::qbft::NonEmptyValue),
        timeouts: Box::new(SpecTimeouts),
        verifier: Box::new(RsaVerifier),
        signer: Box::new(ssv_core::qbft::FakeSignatures::default()),
        cut_off_round: 15,
    };
    for (i, m) in msgs.iter().enumerate() {
        let pm = ProcessingMessage::new((*m).clone()).map_err(|e| e.to_string())?;
        pm.verify(&cfg, committee).map_err(|e| format!("output {i}: {e}"))?;
    }
    Ok(())
}

fn compare_outputs(expected: &Value, got: &[&SignedSsvMessage]) -> R {
    let want = signed_list(expected)?;
    if want.len() != got.len() {
        return Err(format!("{} broadcasts, want {}", got.len(), want.len()));
    }
    for (i, (w, g)) in want.iter().zip(got).enumerate() {
        if w.tree_hash_root() != g.tree_hash_root() {
            return Err(format!(
                "output {i} root differs:\n got {:?}\nwant {:?}",
                decode(g),
                decode(w)
            ));
        }
    }
    Ok(())
}

fn decode(m: &SignedSsvMessage) -> String {
    match QbftMessage::from_ssz_bytes(&m.ssv_message.data) {
        Ok(q) => format!(
            "{} signers {:?} full {}",
            serde_json::to_string(&QbftMessageJson::from(&q)).unwrap_or_default(),
            m.operator_ids.to_vec(),
            m.full_data.len()
        ),
        Err(_) => "undecodable".into(),
    }
}

// ---- test types ------------------------------------------------------------------------

fn msg_processing(v: &Value, sc: &Path) -> R {
    let mut inst = instance_from(v, &v["Pre"])?;
    let mut out = Vec::new();
    let mut last_err = None;
    for m in v["InputMessages"].as_array().into_iter().flatten() {
        if let Err(e) = inst.handle(0, InstanceInput::Message(signed(m)?), &mut out) {
            last_err = Some(e);
        }
    }
    check_code(&v["ExpectedErrorCode"], &last_err)?;
    check_timer(&v["ExpectedTimerState"], &out)?;
    let sent = broadcasts(&out);
    verify_all(&sent, &inst.state().committee)?;
    compare_outputs(&v["OutputMessages"], &sent)?;
    let name = v["Name"].as_str().unwrap_or_default();
    let path =
        sc.join("tests_MsgProcessingSpecTest").join(format!("qbft message processing {name}.json"));
    let expected: Value = ssv_fixtures::read_json(&path).map_err(|e| e.to_string())?;
    compare_json("post-state", &go_state(inst.state()).to_value(), &expected)?;
    check_post_root(&v["PostRoot"], inst.state())
}

fn check_post_root(expected: &Value, state: &State) -> R {
    let want = expected.as_str().unwrap_or_default();
    if want.is_empty() {
        return Ok(());
    }
    let mut s = String::new();
    go_state(state).write(&mut s);
    let got = hex::encode(sha2_256(s.as_bytes()));
    if got != want {
        return Err(format!("post root {got}, want {want}\n{s}"));
    }
    Ok(())
}

fn sha2_256(b: &[u8]) -> [u8; 32] {
    hash_data_root(b)
}

fn controller(v: &Value, sc: &Path) -> R {
    let committee = committee_from(&v["Controller"]["CommitteeMember"])?;
    let identifier = b64(&v["Controller"]["Identifier"])?;
    let cfg = config(v, 1)?;
    let mut contr = Controller::new(cfg, identifier, committee.clone());
    if !v["StartHeight"].is_null() {
        contr.set_height(u64_of(&v["StartHeight"]));
    }
    let name = v["Name"].as_str().unwrap_or_default();
    let path = sc.join("tests_ControllerSpecTest").join(format!("qbft controller {name}.json"));
    let expected: Value = ssv_fixtures::read_json(&path).map_err(|e| e.to_string())?;
    let mut all_out: Vec<Output> = Vec::new();
    let mut last_err = None;
    for (i, run) in v["RunInstanceData"].as_array().into_iter().flatten().enumerate() {
        let height = if run["Height"].is_null() { i as u64 } else { u64_of(&run["Height"]) };
        let value = b64(&run["InputValue"])?;
        if let Err(e) = contr.handle(0, ControllerInput::Start { height, value }, &mut all_out) {
            last_err = Some(e);
        }
        check_timer(&run["ExpectedTimerState"], &all_out).map_err(|e| format!("run {i}: {e}"))?;
        let mut decided_cnt = 0u64;
        let want_val = b64(&run["ExpectedDecidedState"]["DecidedVal"])?;
        for m in run["InputMessages"].as_array().into_iter().flatten() {
            let mut out = Vec::new();
            if let Err(e) = contr.handle(0, ControllerInput::Message(signed(m)?), &mut out) {
                last_err = Some(e);
            }
            for o in &out {
                if let Output::Decided(d) = o {
                    decided_cnt += 1;
                    if d.value != want_val {
                        return Err(format!("run {i}: decided a different value"));
                    }
                }
            }
            all_out.extend(out);
        }
        let want_cnt = u64_of(&run["ExpectedDecidedState"]["DecidedCnt"]);
        if decided_cnt != want_cnt {
            return Err(format!("run {i}: decided {decided_cnt} times, want {want_cnt}"));
        }
        let bd = &run["ExpectedDecidedState"]["BroadcastedDecided"];
        if !bd.is_null() {
            let want = signed(bd)?;
            let sent = broadcasts(&all_out);
            if sent.is_empty() {
                return Err(format!("run {i}: nothing broadcast"));
            }
            verify_all(&sent, &committee)?;
            let found = sent
                .iter()
                .filter(|m| {
                    m.tree_hash_root() == want.tree_hash_root()
                        && m.operator_ids == want.operator_ids
                        && m.signatures == want.signatures
                })
                .count();
            if found != 1 {
                return Err(format!("run {i}: broadcast decided found {found} times"));
            }
        }
        let want_state = expected.get(i).ok_or("missing state comparison")?;
        compare_json(
            &format!("run {i} controller post-state"),
            &go_controller(&contr.data()).to_value(),
            want_state,
        )?;
    }
    check_code(&v["ExpectedErrorCode"], &last_err)
}

fn create_msg(v: &Value) -> R {
    // The file's CommitteeMember is blanked by the Go generator; the message only needs the
    // signer and the membership of `TestingCommitteeMember(Testing4SharesSet())` (operator
    // 1 of 1..=4, f = 1) to pick the round change's prepare justification.
    let committee = CommitteeMember {
        operator_id: 1,
        committee_id: [0; 32],
        public_key: Vec::new(),
        faulty_nodes: 1,
        committee: (1..=4).map(|id| Operator { operator_id: id, public_key: Vec::new() }).collect(),
        domain_type: DomainType::JATO_TESTNET,
    };
    let round = u64_of(&v["Round"]);
    let root: [u8; 32] = hex::decode(v["Value"].as_str().unwrap_or_default())
        .map_err(|e| e.to_string())?
        .try_into()
        .map_err(|_| "Value is not 32 bytes")?;
    let state_value = b64(&v["StateValue"])?;
    let rcs = signed_list(&v["RoundChangeJustifications"])?;
    let prepares = signed_list(&v["PrepareJustifications"])?;
    let mut state = State::new(committee, testingutils::TESTING_IDENTIFIER.to_vec(), 0);
    state.round = round;
    let kind = v["CreateType"].as_str().unwrap_or_default();
    if kind == "CreateRoundChange" && !prepares.is_empty() {
        let first = ProcessingMessage::new(prepares[0].clone()).map_err(|e| e.to_string())?;
        state.last_prepared_round = first.round();
        state.last_prepared_value = Some(state_value.clone());
        for p in &prepares {
            state.prepare_container.add_first_for_signer_and_round(
                ProcessingMessage::new(p.clone()).map_err(|e| e.to_string())?,
            );
        }
    }
    let inst = Instance::from_data(
        config(v, 1)?,
        InstanceData {
            state,
            start_value: None,
            force_stopped: false,
            started: false,
            timer: None,
        },
    );
    let created = match kind {
        "createProposal" => inst.create_proposal(
            &state_value,
            &rcs.iter().collect::<Vec<_>>(),
            &prepares.iter().collect::<Vec<_>>(),
        ),
        "CreatePrepare" => inst.create_prepare(round, root),
        "CreateCommit" => inst.create_commit(root),
        "CreateRoundChange" => inst.create_round_change(1),
        other => return Err(format!("unknown create type {other}")),
    };
    let err = created.as_ref().err().cloned();
    check_code(&v["ExpectedErrorCode"], &err)?;
    let msg = created.map_err(|e| e.to_string())?;
    let got = hex::encode(msg.tree_hash_root().0);
    let want = v["ExpectedRoot"].as_str().unwrap_or_default();
    if got != want {
        return Err(format!("root {got}, want {want}: {}", decode(&msg)));
    }
    ProcessingMessage::new(msg).and_then(|m| m.validate()).map_err(|e| e.to_string())
}

fn msg_spec(v: &Value) -> R {
    let mut last_code = 0u64;
    let encoded = v["EncodedMessages"].as_array().cloned().unwrap_or_default();
    let roots = v["ExpectedRoots"].as_array().cloned().unwrap_or_default();
    for (i, m) in v["Messages"].as_array().into_iter().flatten().enumerate() {
        let j: SignedSsvMessageJson =
            serde_json::from_value(m.clone()).map_err(|e| e.to_string())?;
        if let Err(e) = j.validate() {
            last_code =
                e.code().map(|c| u64::from(c.as_u16())).ok_or("validation error without code")?;
            continue;
        }
        let msg = j.to_core().map_err(|e| e.to_string())?;
        let pm = ProcessingMessage::new(msg.clone()).map_err(|e| format!("message {i}: {e}"))?;
        if let Err(e) = pm.validate() {
            last_code =
                e.code().map(|c| u64::from(c.as_u16())).ok_or("validation error without code")?;
            continue;
        }
        if let Some(enc) = encoded.get(i)
            && b64(enc)? != msg.as_ssz_bytes()
        {
            return Err(format!("message {i}: encoding differs"));
        }
        if let Some(root) = roots.get(i) {
            let want: Vec<u8> = root
                .as_array()
                .ok_or("root not an array")?
                .iter()
                .map(|b| u64_of(b) as u8)
                .collect();
            if want != msg.tree_hash_root().0.to_vec() {
                return Err(format!("message {i}: root differs"));
            }
        }
    }
    let want = u64_of(&v["ExpectedErrorCode"]);
    if last_code != want {
        return Err(format!("error code {last_code}, want {want}"));
    }
    Ok(())
}

fn round_robin(v: &Value) -> R {
    let committee = committee_from(&v["Share"])?;
    let heights = v["Heights"].as_array().ok_or("no Heights")?;
    let rounds = v["Rounds"].as_array().ok_or("no Rounds")?;
    let proposers = v["Proposers"].as_array().ok_or("no Proposers")?;
    if heights.is_empty() {
        return Err("no heights".into());
    }
    for ((h, r), p) in heights.iter().zip(rounds).zip(proposers) {
        let mut state = State::new(committee.clone(), Vec::new(), u64_of(h));
        state.round = u64_of(r);
        let got = RoundRobinProposer.proposer(&state, u64_of(r));
        if got != u64_of(p) {
            return Err(format!("height {h} round {r}: proposer {got}, want {p}"));
        }
    }
    Ok(())
}

fn timeout(v: &Value) -> R {
    let mut inst = instance_from(v, &v["Pre"])?;
    let mut out = Vec::new();
    let err = inst.on_round_timeout(0, &mut out).err();
    check_code(&v["ExpectedErrorCode"], &err)?;
    check_timer(&v["ExpectedTimerState"], &out)?;
    let sent = broadcasts(&out);
    verify_all(&sent, &inst.state().committee)?;
    compare_outputs(&v["OutputMessages"], &sent)?;
    check_post_root(&v["PostRoot"], inst.state())?;
    let _ = json!(null);
    Ok(())
}
