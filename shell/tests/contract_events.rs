//! SSVNetwork event decoding against public data:
//! - `ssv-network/extracted/ssv_eventparser_logs.json`: raw logs from the Go node's
//!   `eth/eventparser/event_parser_test.go` with the values that test asserts after decoding
//!   (one trial per case, plus the `PackOperatorPublicKey` case and a count);
//! - the event signatures of notes 4.3 (topic0 and indexed flags) against our `sol!`
//!   declarations and against each SSVNetwork ABI file in `ssv-network/`.

use std::path::Path;
use std::process::ExitCode;

use alloy::json_abi::{Event, JsonAbi};
use alloy::primitives::{Address, B256};
use serde_json::Value;
use ssv_fixtures::suite::{self, Failed, Trial};
use ssv_shell::contract::events::{
    ContractEvent, DecodedLog, FOLLOWED_TOPICS, decode_log, pack_operator_public_key,
    unpack_operator_public_key,
};

const LOGS: &str = "ssv-network/extracted/ssv_eventparser_logs.json";
const UPSTREAM: &str =
    "ssvlabs/ssv eth/eventparser/event_parser_test.go (see shared/vectors/README.md)";
/// The Go test has seven event cases.
const EXPECTED_CASES: usize = 7;

/// The ABI files holding the SSVNetwork events, relative to the vectors folder.
const ABI_FILES: [&str; 3] = [
    "ssv-network/ssv/eth/contract/contract.abi",
    "ssv-network/ssv-node-eth-contract.abi.json",
    "ssv-network/SSVNetwork.mainnet-v1.2.0.json",
];

/// Notes 4.3: each followed event's declaration and its computed topic0.
const NOTES_EVENTS: [(&str, &str); 8] = [
    (
        "event OperatorAdded(uint64 indexed operatorId, address indexed owner, bytes publicKey, uint256 fee)",
        "0xd839f31c14bd632f424e307b36abff63ca33684f77f28e35dc13718ef338f7f4",
    ),
    (
        "event OperatorRemoved(uint64 indexed operatorId)",
        "0x0e0ba6c2b04de36d6d509ec5bd155c43a9fe862f8052096dd54f3902a74cca3e",
    ),
    (
        "event ValidatorAdded(address indexed owner, uint64[] operatorIds, bytes publicKey, bytes shares, (uint32,uint64,uint64,bool,uint256) cluster)",
        "0x48a3ea0796746043948f6341d17ff8200937b99262a0b48c2663b951ed7114e5",
    ),
    (
        "event ValidatorRemoved(address indexed owner, uint64[] operatorIds, bytes publicKey, (uint32,uint64,uint64,bool,uint256) cluster)",
        "0xccf4370403e5fbbde0cd3f13426479dcd8a5916b05db424b7a2c04978cf8ce6e",
    ),
    (
        "event ClusterLiquidated(address indexed owner, uint64[] operatorIds, (uint32,uint64,uint64,bool,uint256) cluster)",
        "0x1fce24c373e07f89214e9187598635036111dbb363e99f4ce498488cdc66e688",
    ),
    (
        "event ClusterReactivated(address indexed owner, uint64[] operatorIds, (uint32,uint64,uint64,bool,uint256) cluster)",
        "0xc803f8c01343fcdaf32068f4c283951623ef2b3fa0c547551931356f456b6859",
    ),
    (
        "event FeeRecipientAddressUpdated(address indexed owner, address recipientAddress)",
        "0x259235c230d57def1521657e7c7951d3b385e76193378bc87ef6b56bc2ec3548",
    ),
    (
        "event ValidatorExited(address indexed owner, uint64[] operatorIds, bytes publicKey)",
        "0xb4b20ffb2eb1f020be3df600b2287914f50c07003526d3a9d89a9dd12351828c",
    ),
];

fn main() -> ExitCode {
    suite::run(|| {
        let path = ssv_fixtures::vector_path(LOGS, UPSTREAM)?;
        let doc: Value = ssv_fixtures::read_json(&path)?;
        let cases = doc.get("cases").and_then(Value::as_array).cloned().unwrap_or_default();
        let mut trials =
            vec![suite::count_trial("ssv_eventparser_logs cases", EXPECTED_CASES, cases.len())];
        for case in cases {
            let name = case.get("name").and_then(Value::as_str).unwrap_or("?").to_string();
            trials.push(Trial::test(format!("ssv_eventparser_logs/{name}"), move || {
                check_case(&case).map_err(Failed::from)
            }));
        }
        let pack = doc.get("packOperatorPublicKey").cloned();
        trials.push(Trial::test("ssv_eventparser_logs/PackOperatorPublicKey", move || {
            check_pack(pack.as_ref()).map_err(Failed::from)
        }));
        trials.push(Trial::test("topic0 of the followed events match notes 4.3", || {
            check_notes_topics().map_err(Failed::from)
        }));
        for file in ABI_FILES {
            let path = ssv_fixtures::vector_path(file, UPSTREAM)?;
            trials.push(Trial::test(format!("abi/{file}"), move || {
                check_abi_file(&path).map_err(Failed::from)
            }));
        }
        Ok(trials)
    })
}

fn s<'a>(v: &'a Value, key: &str) -> Result<&'a str, String> {
    v.get(key).and_then(Value::as_str).ok_or_else(|| format!("missing string {key}"))
}

fn u(v: &Value, key: &str) -> Result<u64, String> {
    v.get(key).and_then(Value::as_u64).ok_or_else(|| format!("missing integer {key}"))
}

fn hex_bytes(text: &str) -> Result<Vec<u8>, String> {
    hex::decode(text.trim_start_matches("0x")).map_err(|e| format!("bad hex: {e}"))
}

fn address(v: &Value, key: &str) -> Result<Address, String> {
    s(v, key)?.parse().map_err(|e| format!("{key}: {e}"))
}

fn ids(v: &Value) -> Result<Vec<u64>, String> {
    v.get("operatorIds")
        .and_then(Value::as_array)
        .and_then(|a| a.iter().map(Value::as_u64).collect())
        .ok_or_else(|| "missing operatorIds".to_string())
}

fn check_case(case: &Value) -> Result<(), String> {
    let name = s(case, "name")?;
    let log = case.get("log").ok_or("missing log")?;
    let exp = case.get("expected").ok_or("missing expected")?;
    let topics = log
        .get("topics")
        .and_then(Value::as_array)
        .ok_or("missing topics")?
        .iter()
        .map(|t| t.as_str().and_then(|t| t.parse::<B256>().ok()).ok_or("bad topic"))
        .collect::<Result<Vec<_>, _>>()?;
    let data = hex_bytes(s(log, "data")?)?;
    let decoded = decode_log(&topics, &data).map_err(|e| e.to_string())?;
    let DecodedLog::Event(event) = decoded else {
        return Err(format!("{name}: log was ignored"));
    };
    let got = |what: &str| format!("{name}: wrong {what}: decoded {event:?}");
    match (name, &event) {
        ("OperatorAdded", ContractEvent::OperatorAdded { operator_id, owner, public_key, .. }) => {
            (*operator_id == u(exp, "operatorId")?)
                .then_some(())
                .ok_or_else(|| got("operatorId"))?;
            (*owner == address(exp, "owner")?).then_some(()).ok_or_else(|| got("owner"))?;
            (public_key.as_slice() == s(exp, "operatorPublicKeyBase64")?.as_bytes())
                .then_some(())
                .ok_or_else(|| got("publicKey"))?;
        }
        ("OperatorRemoved", ContractEvent::OperatorRemoved { operator_id }) => {
            (*operator_id == u(exp, "operatorId")?)
                .then_some(())
                .ok_or_else(|| got("operatorId"))?;
        }
        (
            "ValidatorAdded",
            ContractEvent::ValidatorAdded { owner, operator_ids, public_key, shares },
        ) => {
            (*owner == address(exp, "owner")?).then_some(()).ok_or_else(|| got("owner"))?;
            (*operator_ids == ids(exp)?).then_some(()).ok_or_else(|| got("operatorIds"))?;
            (*public_key == hex_bytes(s(exp, "validatorPublicKey")?)?)
                .then_some(())
                .ok_or_else(|| got("publicKey"))?;
            (*shares == hex_bytes(s(exp, "shares")?)?)
                .then_some(())
                .ok_or_else(|| got("shares"))?;
        }
        (
            "ValidatorRemoved",
            ContractEvent::ValidatorRemoved { owner, operator_ids, public_key },
        ) => {
            (*owner == address(exp, "owner")?).then_some(()).ok_or_else(|| got("owner"))?;
            (*operator_ids == ids(exp)?).then_some(()).ok_or_else(|| got("operatorIds"))?;
            // The Go test compares `common.BytesToAddress(publicKey)`: the last 20 bytes.
            let tail = public_key.len().checked_sub(20).ok_or_else(|| got("publicKey"))?;
            (Address::from_slice(&public_key[tail..])
                == address(exp, "publicKeyLast20BytesAsAddress")?)
            .then_some(())
            .ok_or_else(|| got("publicKey"))?;
        }
        ("ClusterLiquidated", ContractEvent::ClusterLiquidated { owner, operator_ids })
        | ("ClusterReactivated", ContractEvent::ClusterReactivated { owner, operator_ids }) => {
            (*owner == address(exp, "owner")?).then_some(()).ok_or_else(|| got("owner"))?;
            (*operator_ids == ids(exp)?).then_some(()).ok_or_else(|| got("operatorIds"))?;
        }
        ("FeeRecipientUpdated", ContractEvent::FeeRecipientAddressUpdated { owner, recipient }) => {
            (*owner == address(exp, "owner")?).then_some(()).ok_or_else(|| got("owner"))?;
            (*recipient == address(exp, "recipientAddress")?)
                .then_some(())
                .ok_or_else(|| got("recipientAddress"))?;
        }
        _ => return Err(format!("case {name} decoded as {}", event.name())),
    }
    Ok(())
}

fn check_pack(pack: Option<&Value>) -> Result<(), String> {
    let pack = pack.ok_or("missing packOperatorPublicKey")?;
    let pem = hex_bytes(s(pack, "rsaPubPemHex")?)?;
    let expected = hex_bytes(s(pack, "expectedAbiPackedHex")?)?;
    if pack_operator_public_key(&pem) != expected {
        return Err("abi.encode(bytes) of the PEM differs from the Go node's".into());
    }
    if unpack_operator_public_key(&expected)? != pem {
        return Err("unpacking the Go node's encoding does not give the PEM back".into());
    }
    Ok(())
}

fn notes_events() -> Result<Vec<(Event, B256)>, String> {
    NOTES_EVENTS
        .iter()
        .map(|(decl, topic)| {
            let event = Event::parse(decl).map_err(|e| format!("{decl}: {e}"))?;
            let topic = topic.parse::<B256>().map_err(|e| e.to_string())?;
            Ok((event, topic))
        })
        .collect()
}

fn check_notes_topics() -> Result<(), String> {
    for ((event, topic), ours) in notes_events()?.iter().zip(FOLLOWED_TOPICS) {
        if event.selector() != *topic {
            return Err(format!(
                "{}: notes topic0 {topic} != keccak of {}",
                event.name,
                event.signature()
            ));
        }
        if ours != *topic {
            return Err(format!("{}: our topic0 {ours} != notes {topic}", event.name));
        }
    }
    Ok(())
}

fn check_abi_file(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let abi: JsonAbi = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    for (notes, topic) in notes_events()? {
        let found = abi
            .events
            .get(&notes.name)
            .and_then(|list| list.first())
            .ok_or_else(|| format!("{} is not in the ABI", notes.name))?;
        if found.selector() != topic {
            return Err(format!("{}: ABI topic0 {} != {topic}", notes.name, found.selector()));
        }
        let flags = |e: &Event| e.inputs.iter().map(|i| i.indexed).collect::<Vec<_>>();
        if flags(found) != flags(&notes) {
            return Err(format!("{}: indexed flags differ from notes 4.3", notes.name));
        }
    }
    Ok(())
}
