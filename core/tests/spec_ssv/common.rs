//! JSON helpers and the synchronous request adapter shared by the ssv suites.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use serde_json::Value;
use ssv_core::beacon::Checkpoint;
use ssv_core::crypto::bls::SecretKey;
use ssv_core::error::SpecError;
use ssv_core::runner::{BeaconNetwork, Output, Request, Response, RunnerError, Submission};
use ssv_core::types::{BlsPublicKeyBytes, PartialSignatureMessages, SignedSsvMessage};
use ssv_fixtures::mock_beacon;
use ssv_fixtures::spec_json::{
    PartialSignatureMessagesJson, ShareJson, SignedSsvMessageJson, ValidatorDutyJson,
};

/// A check result.
pub(crate) type R<T = ()> = Result<T, String>;

pub(crate) fn b64(v: &Value) -> R<Vec<u8>> {
    use base64::Engine;
    match v {
        Value::Null => Ok(Vec::new()),
        Value::String(s) => {
            base64::engine::general_purpose::STANDARD.decode(s).map_err(|e| e.to_string())
        }
        other => Err(format!("not base64: {other}")),
    }
}

pub(crate) fn u64_of(v: &Value) -> u64 {
    v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())).unwrap_or(0)
}

pub(crate) fn hex_of(v: &Value) -> R<Vec<u8>> {
    hex::decode(v.as_str().unwrap_or_default().trim_start_matches("0x")).map_err(|e| e.to_string())
}

pub(crate) fn signed(v: &Value) -> R<SignedSsvMessage> {
    let j: SignedSsvMessageJson = serde_json::from_value(v.clone()).map_err(|e| e.to_string())?;
    j.to_core().map_err(|e| e.to_string())
}

pub(crate) fn psigs(v: &Value) -> R<PartialSignatureMessages> {
    let j: PartialSignatureMessagesJson =
        serde_json::from_value(v.clone()).map_err(|e| e.to_string())?;
    j.to_core().map_err(|e| e.to_string())
}

pub(crate) fn share(v: &Value) -> R<ssv_core::types::Share> {
    let j: ShareJson = serde_json::from_value(v.clone()).map_err(|e| e.to_string())?;
    j.to_core().map_err(|e| e.to_string())
}

pub(crate) fn validator_duty(v: &Value) -> R<ssv_core::types::ValidatorDuty> {
    let j: ValidatorDutyJson = serde_json::from_value(v.clone()).map_err(|e| e.to_string())?;
    j.to_core().map_err(|e| e.to_string())
}

pub(crate) fn checkpoint(v: &Value) -> R<Checkpoint> {
    let root = hex_of(&v["root"])?;
    Ok(Checkpoint { epoch: u64_of(&v["epoch"]), root: root.try_into().unwrap_or([0; 32]) })
}

pub(crate) fn network() -> Arc<BeaconNetwork> {
    static NET: OnceLock<Arc<BeaconNetwork>> = OnceLock::new();
    Arc::clone(
        NET.get_or_init(|| {
            Arc::new(mock_beacon::test_network().expect("beacon_node_versions.json"))
        }),
    )
}

pub(crate) fn keys() -> &'static BTreeMap<BlsPublicKeyBytes, SecretKey> {
    static KEYS: OnceLock<BTreeMap<BlsPublicKeyBytes, SecretKey>> = OnceLock::new();
    KEYS.get_or_init(|| mock_beacon::share_secret_keys().expect("keys.json / share_map.json"))
}

/// The spec code of an optional error (0 for none); an error without code is `None`.
pub(crate) fn code_of(err: &Option<RunnerError>) -> Option<u64> {
    match err {
        None => Some(0),
        Some(e) => e.code().map(|c| u64::from(c.as_u16())),
    }
}

pub(crate) fn check_code(expected: u64, err: &Option<RunnerError>) -> R {
    match code_of(err) {
        Some(c) if c == expected => Ok(()),
        _ => Err(format!(
            "expected error code {expected}, got {:?}",
            err.as_ref().map(|e| (e.code(), e.to_string()))
        )),
    }
}

/// What the mock network and beacon node saw.
#[derive(Default)]
pub(crate) struct Recorder {
    pub(crate) broadcasts: Vec<SignedSsvMessage>,
    pub(crate) submitted: Vec<[u8; 32]>,
    /// `SetSyncCommitteeAggregatorRootHexes`: hex(proof) → is aggregator (all are when
    /// unset).
    pub(crate) aggregators: Option<BTreeMap<String, bool>>,
}

/// Drives a machine with the synchronous adapter: every request is answered at once
/// (mock beacon data, testing key manager signatures); returns the last error.
pub(crate) fn drive(
    rec: &mut Recorder,
    mut step: impl FnMut(ssv_core::runner::Input, &mut Vec<Output>) -> Result<(), RunnerError>,
    input: ssv_core::runner::Input,
) -> Result<(), RunnerError> {
    let mut queue = vec![input];
    let mut result = Ok(());
    while let Some(input) = queue.pop() {
        let mut out = Vec::new();
        let r = step(input, &mut out);
        if r.is_err() {
            result = r;
        }
        let mut responses = Vec::new();
        for o in out {
            match o {
                Output::Qbft(ssv_core::qbft::Output::Broadcast(m)) | Output::Broadcast(m) => {
                    rec.broadcasts.push(m);
                }
                Output::Qbft(_) => {}
                Output::Submit(s) => rec.submitted.push(Submission::root(&s)),
                Output::Request { id, request } => {
                    let response = answer(rec.aggregators.as_ref(), &request);
                    responses.push(ssv_core::runner::Input::Response { id, response });
                }
            }
        }
        responses.reverse();
        queue.extend(responses);
    }
    result
}

fn answer(aggregators: Option<&BTreeMap<String, bool>>, request: &Request) -> Response {
    let data = |r: Result<(u64, Vec<u8>), ssv_fixtures::FixtureError>| match r {
        Ok((version, data_ssz)) => Response::ConsensusData { version, data_ssz },
        Err(e) => Response::Failed(e.to_string()),
    };
    match request {
        Request::Proposal { slot, .. } => data(mock_beacon::proposal(&network(), *slot)),
        Request::AggregateAndProof { slot, .. } => {
            data(mock_beacon::aggregate_and_proof(&network(), *slot))
        }
        Request::SyncCommitteeContributions { .. } => data(mock_beacon::contributions()),
        Request::IsSyncCommitteeAggregator(proofs) => Response::Flags(
            proofs
                .iter()
                .map(|p| {
                    aggregators.is_none_or(|m| m.get(&hex::encode(p)).copied().unwrap_or(false))
                })
                .collect(),
        ),
        Request::AttestationData { slot } => {
            Response::AttestationData(mock_beacon::attestation_data(&network(), *slot))
        }
        Request::Sign(items) => {
            let mut sigs = Vec::new();
            for it in items {
                let Some(sk) = keys().get(&it.share_pub_key) else {
                    return Response::Failed("pk not found".into());
                };
                sigs.push(sk.sign(&it.signing_root).to_bytes());
            }
            Response::all_signed(sigs)
        }
    }
}

/// Compares broadcast partial-signature messages with the expected ones (in order, or as
/// a bijection when `unordered`), field by field.
pub(crate) fn compare_outputs(
    expected: &Value,
    broadcasts: &[SignedSsvMessage],
    unordered: bool,
) -> R {
    let got: Vec<PartialSignatureMessages> = broadcasts
        .iter()
        .filter(|m| m.ssv_message.msg_type == 1)
        .map(|m| m.ssv_message.decode_partial_signatures().map_err(|e| e.to_string()))
        .collect::<R<_>>()?;
    let want: Vec<PartialSignatureMessages> = expected
        .as_array()
        .map(|a| a.iter().map(psigs).collect::<R<Vec<_>>>())
        .unwrap_or(Ok(Vec::new()))?;
    if got.len() != want.len() {
        return Err(format!(
            "expected {} partial-signature outputs, got {}",
            want.len(),
            got.len()
        ));
    }
    let key = |p: &PartialSignatureMessages| {
        let mut m: Vec<_> = p
            .messages
            .iter()
            .map(|m| (m.signing_root, m.signer, m.validator_index, m.partial_signature.to_vec()))
            .collect();
        m.sort();
        (p.msg_type, p.slot, m)
    };
    if unordered {
        let mut a: Vec<_> = got.iter().map(key).collect();
        let mut b: Vec<_> = want.iter().map(key).collect();
        a.sort();
        b.sort();
        if a != b {
            return Err("partial-signature outputs differ".into());
        }
    } else {
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            if key(g) != key(w) {
                let (gt, gs, gm) = key(g);
                let (wt, ws, wm) = key(w);
                let short = |m: &[([u8; 32], u64, u64, Vec<u8>)]| {
                    m.iter()
                        .map(|(r, s, v, _)| format!("{}/{s}/{v}", hex::encode(&r[..4])))
                        .collect::<Vec<_>>()
                };
                return Err(format!(
                    "partial-signature output {i} differs: got type {gt} slot {gs} {:?}, \
                     expected type {wt} slot {ws} {:?}",
                    short(&gm),
                    short(&wm)
                ));
            }
        }
    }
    Ok(())
}

pub(crate) fn compare_roots(expected: &Value, got: &[[u8; 32]]) -> R {
    let mut want: Vec<String> = expected
        .as_array()
        .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let mut got: Vec<String> = got.iter().map(hex::encode).collect();
    want.sort();
    got.sort();
    if want != got {
        return Err(format!("beacon roots differ: expected {want:?}, got {got:?}"));
    }
    Ok(())
}
