//! `compute_fork_data_root` and `compute_domain` against
//! `consensus-specs/signing_domains_and_networks.json` (mainnet, holesky and hoodi: every
//! fork's digest prefix and every domain, plus the deposit and builder-registration domains
//! signed with the genesis fork version and a zero genesis validators root).

use std::path::Path;
use std::process::ExitCode;

use serde_json::Value;
use ssv_core::crypto::signing::{BeaconDomainType, compute_domain, compute_fork_data_root};
use ssv_fixtures::suite::{self, Trial};

const FILE: &str = "consensus-specs/signing_domains_and_networks.json";
const UPSTREAM: &str = "ethereum/consensus-specs configs and eth-clients network configs (see shared/vectors/README.md)";
/// 3 networks × 7 forks (phase0 … fulu).
const FORK_ENTRIES: usize = 21;

/// Our constant for a domain-type name of the JSON, or `None` for a type we do not define
/// (only the Gloas ones, which no network runs).
fn domain_type(name: &str) -> Option<BeaconDomainType> {
    Some(match name {
        "DOMAIN_BEACON_PROPOSER" => BeaconDomainType::BEACON_PROPOSER,
        "DOMAIN_BEACON_ATTESTER" => BeaconDomainType::BEACON_ATTESTER,
        "DOMAIN_RANDAO" => BeaconDomainType::RANDAO,
        "DOMAIN_DEPOSIT" => BeaconDomainType::DEPOSIT,
        "DOMAIN_VOLUNTARY_EXIT" => BeaconDomainType::VOLUNTARY_EXIT,
        "DOMAIN_SELECTION_PROOF" => BeaconDomainType::SELECTION_PROOF,
        "DOMAIN_AGGREGATE_AND_PROOF" => BeaconDomainType::AGGREGATE_AND_PROOF,
        "DOMAIN_SYNC_COMMITTEE" => BeaconDomainType::SYNC_COMMITTEE,
        "DOMAIN_SYNC_COMMITTEE_SELECTION_PROOF" => BeaconDomainType::SYNC_COMMITTEE_SELECTION_PROOF,
        "DOMAIN_CONTRIBUTION_AND_PROOF" => BeaconDomainType::CONTRIBUTION_AND_PROOF,
        "DOMAIN_BLS_TO_EXECUTION_CHANGE" => BeaconDomainType::BLS_TO_EXECUTION_CHANGE,
        "DOMAIN_APPLICATION_MASK" | "DOMAIN_APPLICATION_BUILDER" => {
            BeaconDomainType::APPLICATION_BUILDER
        }
        _ => return None,
    })
}

fn hex_bytes<const N: usize>(value: &Value, what: &str) -> Result<[u8; N], String> {
    let text = value.as_str().ok_or_else(|| format!("{what}: not a string"))?;
    let bytes = hex::decode(text.trim_start_matches("0x")).map_err(|e| format!("{what}: {e}"))?;
    bytes.try_into().map_err(|b: Vec<u8>| format!("{what}: {} bytes, expected {N}", b.len()))
}

fn field<'a>(value: &'a Value, key: &str) -> Result<&'a Value, String> {
    value.get(key).ok_or_else(|| format!("missing field {key}"))
}

/// The value of the first key of `object` that starts with `prefix` (the JSON keys carry
/// explanations in parentheses).
fn field_prefixed<'a>(object: &'a Value, prefix: &str) -> Result<&'a Value, String> {
    object
        .as_object()
        .and_then(|map| map.iter().find(|(k, _)| k.starts_with(prefix)).map(|(_, v)| v))
        .ok_or_else(|| format!("missing field {prefix}…"))
}

fn check_domain_types(doc: &Value) -> Result<(), String> {
    let types = field(doc, "domain_types")?.as_object().ok_or("domain_types: not an object")?;
    for (name, value) in types {
        let expected: [u8; 4] = hex_bytes(value, name)?;
        match domain_type(name) {
            Some(ours) if ours.0 == expected => {}
            Some(ours) => {
                return Err(format!("{name}: ours {:02x?}, file {expected:02x?}", ours.0));
            }
            None if name.contains("gloas, not live") => {}
            None => return Err(format!("{name}: no constant for this live domain type")),
        }
    }
    Ok(())
}

fn check_fork(gvr: &[u8; 32], fork: &Value) -> Result<(), String> {
    let version: [u8; 4] = hex_bytes(field(fork, "version")?, "version")?;
    let digest: [u8; 4] = hex_bytes(field_prefixed(fork, "fork_data_root_prefix4")?, "prefix4")?;
    let root = compute_fork_data_root(version, gvr);
    if root[..4] != digest {
        return Err(format!(
            "fork data root {} does not start with {}",
            hex::encode(root),
            hex::encode(digest)
        ));
    }
    let domains = field(fork, "domains")?.as_object().ok_or("domains: not an object")?;
    if domains.is_empty() {
        return Err("no domains listed".into());
    }
    for (name, value) in domains {
        let expected: [u8; 32] = hex_bytes(value, name)?;
        let ty = domain_type(name).ok_or_else(|| format!("{name}: unknown domain type"))?;
        let ours = compute_domain(ty, version, gvr);
        if ours != expected {
            return Err(format!(
                "{name}: ours {}, file {}",
                hex::encode(ours),
                hex::encode(expected)
            ));
        }
    }
    Ok(())
}

/// Deposit and builder-registration domains: genesis fork version, zero genesis root.
fn check_genesis_domains(network: &Value) -> Result<(), String> {
    let forks = field(network, "forks")?.as_array().ok_or("forks: not an array")?;
    let genesis = forks.first().ok_or("no forks")?;
    let version: [u8; 4] = hex_bytes(field(genesis, "version")?, "version")?;
    for (prefix, ty) in [
        ("builder_registration_domain", BeaconDomainType::APPLICATION_BUILDER),
        ("deposit_domain", BeaconDomainType::DEPOSIT),
    ] {
        let expected: [u8; 32] = hex_bytes(field_prefixed(network, prefix)?, prefix)?;
        let ours = compute_domain(ty, version, &[0u8; 32]);
        if ours != expected {
            return Err(format!(
                "{prefix}: ours {}, file {}",
                hex::encode(ours),
                hex::encode(expected)
            ));
        }
    }
    Ok(())
}

fn build() -> Result<Vec<Trial>, ssv_fixtures::FixtureError> {
    let path = ssv_fixtures::vector_path(FILE, UPSTREAM)?;
    let doc: Value = ssv_fixtures::read_json(Path::new(&path))?;
    let mut trials = Vec::new();
    let types_doc = doc.clone();
    trials.push(Trial::test("domain_types", move || {
        check_domain_types(&types_doc).map_err(Into::into)
    }));
    let mut fork_entries = 0;
    let networks = doc.get("networks").and_then(Value::as_object).cloned().unwrap_or_default();
    if networks.is_empty() {
        trials.push(Trial::test("networks", || Err("no networks in the file".into())));
    }
    for (name, network) in networks {
        let gvr = hex_bytes::<32>(
            network.get("genesis_validators_root").unwrap_or(&Value::Null),
            "genesis_validators_root",
        );
        let forks = network.get("forks").and_then(Value::as_array).cloned().unwrap_or_default();
        for fork in forks {
            fork_entries += 1;
            let fork_name = fork.get("fork").and_then(Value::as_str).unwrap_or("?").to_string();
            let gvr = gvr.clone();
            trials.push(Trial::test(format!("{name}/{fork_name}"), move || {
                check_fork(&gvr?, &fork).map_err(Into::into)
            }));
        }
        trials.push(Trial::test(format!("{name}/genesis_domains"), move || {
            check_genesis_domains(&network).map_err(Into::into)
        }));
    }
    trials.push(suite::count_trial("network fork entries", FORK_ENTRIES, fork_entries));
    Ok(trials)
}

fn main() -> ExitCode {
    suite::run(build)
}
