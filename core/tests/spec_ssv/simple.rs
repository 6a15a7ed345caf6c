//! `partialsigcontainer.PartialSigContainerTest` and `valcheck.(Multi)SpecTest`.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;
use ssv_core::crypto::threshold::LagrangeCache;
use ssv_core::error::SpecError;
use ssv_core::qbft::ValueCheck;
use ssv_core::runner::{PartialSigContainer, RunnerValueCheck};
use ssv_core::types::{BeaconRole, PartialSignatureMessage};
use ssv_fixtures::mock_beacon::{HARNESS_NOW_MS, TestingSlashing};
use ssv_fixtures::spec_json::PartialSignatureMessageJson;

use super::common::{R, b64, checkpoint, hex_of, keys, network, u64_of};

pub(crate) fn partial_sig_container(v: &Value) -> R {
    let mut c = PartialSigContainer::new(u64_of(&v["Quorum"]));
    let mut roots = BTreeMap::new();
    for m in v["SignatureMsgs"].as_array().into_iter().flatten() {
        let j: PartialSignatureMessageJson =
            serde_json::from_value(m.clone()).map_err(|e| e.to_string())?;
        let m: PartialSignatureMessage = j.to_core().map_err(|e| e.to_string())?;
        c.add(&m);
        roots.insert(m.validator_index, m.signing_root);
    }
    let pk = b64(&v["ValidatorPubKey"])?;
    let expected_quorum = v["ExpectedQuorum"].as_bool().unwrap_or(false);
    let expected_code = u64_of(&v["ExpectedErrorCode"]);
    let expected_result = b64(&v["ExpectedResult"])?;
    let mut cache = LagrangeCache::new(8);
    for (vi, root) in roots {
        if c.has_quorum(vi, &root) != expected_quorum {
            return Err(format!("quorum: expected {expected_quorum}"));
        }
        let res = c.reconstruct(&root, &pk, vi, &mut cache);
        let code = res.as_ref().err().map_or(Some(0), |e| e.code().map(|c| u64::from(c.as_u16())));
        if code != Some(expected_code) {
            return Err(format!("expected code {expected_code}, got {res:?}"));
        }
        let got = res.map(|s| s.to_vec()).unwrap_or_default();
        if got != expected_result {
            return Err("reconstructed signature differs".into());
        }
    }
    Ok(())
}

pub(crate) fn valcheck(v: &Value) -> R {
    let mut slashable = BTreeMap::new();
    for (pk, slots) in v["SlashableSlots"].as_object().into_iter().flatten() {
        let pk = pad48(&hex::decode(pk).map_err(|e| e.to_string())?);
        slashable.insert(pk, slots.as_array().into_iter().flatten().map(u64_of).collect());
    }
    let protection = Arc::new(TestingSlashing::new(slashable));
    let mut share_pks: Vec<[u8; 48]> = Vec::new();
    for pk in v["ShareValidatorsPK"].as_array().into_iter().flatten() {
        share_pks.push(pad48(&b64(pk)?));
    }
    if share_pks.is_empty() {
        // Testing4SharesSet().Shares[1].
        let set = ssv_fixtures::testingutils::key_set(4).map_err(|e| e.to_string())?;
        let _ = set;
        let sk1 = share1_pk()?;
        share_pks.push(sk1);
    }
    let validator_pk: [u8; 48] = hex_of(&Value::String(
        "8e80066551a81b318258709edaf7dd1f63cd686a0e4db8b29bbb7acfe65608677af5a527d9448ee47835485e02b50bc0".into(),
    ))?
    .try_into()
    .map_err(|_| "pk")?;
    let net = network();
    let current_epoch = net.epoch_at(HARNESS_NOW_MS);
    let role = u64_of(&v["RunnerRole"]);
    let vc = |beacon_role| RunnerValueCheck::ValidatorConsensusData {
        role: beacon_role,
        network: Arc::clone(&net),
        current_epoch,
        validator_pub_key: validator_pk,
        validator_index: 1,
        share_pub_key: [0; 48],
        protection: protection.clone(),
    };
    let check = match role {
        0 => RunnerValueCheck::BeaconVote {
            protection: protection.clone(),
            slot: u64_of(&v["DutySlot"]),
            share_pub_keys: share_pks,
            expected_source: checkpoint(&v["ExpectedSource"])?.epoch,
            expected_target: checkpoint(&v["ExpectedTarget"])?.epoch,
        },
        1 => vc(BeaconRole::Aggregator),
        2 => vc(BeaconRole::Proposer),
        3 => vc(BeaconRole::SyncCommitteeContribution),
        other => return Err(format!("unknown runner role {other}")),
    };
    let res = check.check(&b64(&v["Input"])?);
    if v["AnyError"].as_bool().unwrap_or(false) {
        return if res.is_err() { Ok(()) } else { Err("expected an error".into()) };
    }
    let expected = u64_of(&v["ExpectedErrorCode"]);
    let got = match &res {
        Ok(()) => Some(0),
        Err(e) => e.code.map(|c| u64::from(c.as_u16())),
    };
    if got != Some(expected) {
        return Err(format!("expected code {expected}, got {res:?}"));
    }
    Ok(())
}

/// Operator 1's share public key of `Testing4SharesSet`.
fn share1_pk() -> R<[u8; 48]> {
    let path =
        ssv_fixtures::vector_path("ssv-spec-testingutils-v1.2.2/keys.json", "ssv-spec keys.go")
            .map_err(|e| e.to_string())?;
    let all: Value = ssv_fixtures::read_json(&path).map_err(|e| e.to_string())?;
    let sk = all["Testing4SharesSet"]["value"]["Shares"]["1"].as_str().ok_or("no share 1")?;
    let sk = ssv_core::crypto::bls::SecretKey::from_hex(sk.trim_start_matches("0x"))
        .map_err(|e| e.to_string())?;
    let _ = keys();
    Ok(sk.public_key().to_bytes())
}

/// The vectors key slashing data by whatever bytes they call a share key (32-byte secrets
/// in some files); map them to 48 bytes the same way on both sides.
fn pad48(b: &[u8]) -> [u8; 48] {
    let mut out = [0u8; 48];
    for (o, i) in out.iter_mut().zip(b) {
        *o = *i;
    }
    out
}
