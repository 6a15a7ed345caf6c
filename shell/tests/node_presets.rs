//! The network presets against the public chain configurations in
//! `../shared/vectors/consensus-specs` (eth-clients `config.yaml` and
//! `signing_domains_and_networks.json`), and the SSV values against the protocol notes
//! (§1.2 domain types, §4.3 contracts).

use ssv_shell::config::NetworkName;

fn vectors() -> std::path::PathBuf {
    ssv_fixtures::vector_path("consensus-specs", "ethereum/consensus-specs + eth-clients configs")
        .expect("consensus-specs vectors")
}

fn hex_bytes(text: &str) -> Vec<u8> {
    hex::decode(text.trim().trim_start_matches("0x")).unwrap()
}

#[test]
fn fork_versions_epochs_and_genesis_match_signing_domains_json() {
    let path = vectors().join("signing_domains_and_networks.json");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for name in [NetworkName::Mainnet, NetworkName::Holesky, NetworkName::Hoodi] {
        let p = name.preset();
        let net = &json["networks"][name.as_str()];
        assert_eq!(
            p.genesis_validators_root.unwrap().to_vec(),
            hex_bytes(net["genesis_validators_root"].as_str().unwrap()),
            "{name}"
        );
        assert_eq!(p.genesis_time, net["genesis_time"].as_u64(), "{name}");
        let forks = net["forks"].as_array().unwrap();
        assert_eq!(p.forks.len(), forks.len(), "{name}");
        for (ours, theirs) in p.forks.iter().zip(forks) {
            assert_eq!(ours.name, theirs["fork"].as_str().unwrap(), "{name}");
            assert_eq!(ours.version.to_vec(), hex_bytes(theirs["version"].as_str().unwrap()));
            assert_eq!(Some(ours.epoch), theirs["epoch"].as_u64(), "{name} {}", ours.name);
        }
    }
}

#[test]
fn slot_timing_and_genesis_fork_match_eth_clients_config_yaml() {
    for name in [NetworkName::Mainnet, NetworkName::Holesky, NetworkName::Hoodi] {
        let p = name.preset();
        let path = vectors().join(format!("eth-clients-{name}/metadata/config.yaml"));
        // Plain `KEY: value` lines (a YAML parser would choke on the u128 TTD).
        let text = std::fs::read_to_string(path).unwrap();
        let value = |k: &str| -> String {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{k}:")))
                .map(|v| v.split('#').next().unwrap().trim().trim_matches('\'').to_owned())
                .unwrap_or_else(|| panic!("{name}: no {k}"))
        };
        let num = |k: &str| value(k).parse::<u64>().unwrap();
        assert_eq!(p.seconds_per_slot, num("SECONDS_PER_SLOT"), "{name}");
        if name != NetworkName::Mainnet {
            // Mainnet's genesis waited for its deposits; the testnets' did not.
            assert_eq!(
                p.genesis_time.unwrap(),
                num("MIN_GENESIS_TIME") + num("GENESIS_DELAY"),
                "{name}: genesis = MIN_GENESIS_TIME + GENESIS_DELAY"
            );
        }
        let gfv = hex_bytes(&value("GENESIS_FORK_VERSION"));
        assert_eq!(p.genesis_fork_version().unwrap().to_vec(), gfv, "{name}");
    }
    // Hoodi also ships its genesis validators root as a file.
    let gvr = std::fs::read_to_string(
        vectors().join("eth-clients-hoodi/metadata/genesis_validators_root.txt"),
    )
    .unwrap();
    assert_eq!(
        NetworkName::Hoodi.preset().genesis_validators_root.unwrap().to_vec(),
        hex_bytes(&gvr)
    );
}

#[test]
fn ssv_domains_and_contracts_match_the_protocol_notes() {
    // Notes §1.2: mainnet AlanMainnet 00000001, holesky 00000502, hoodi 00000503.
    let expect = [
        (
            NetworkName::Mainnet,
            [0, 0, 0, 1],
            "0xDD9BC35aE942eF0cFa76930954a156B3fF30a4E1",
            17_507_487,
        ),
        (NetworkName::Holesky, [0, 0, 5, 2], "0x38A4794cCEd47d3baf7370CcC43B560D3a1beEFA", 181_612),
        (NetworkName::Hoodi, [0, 0, 5, 3], "0x58410Bef803ECd7E63B23664C586A6DB72DAf59c", 1_065),
    ];
    for (name, domain, contract, start) in expect {
        let p = name.preset();
        assert_eq!(p.ssv_domain_type.0, domain, "{name}");
        assert_eq!(p.ssv_contract_address, Some(contract), "{name}");
        assert_eq!(p.ssv_contract_start_block, start, "{name}");
    }
    // The devnet's domain must not collide with any public network's.
    let devnet = NetworkName::Devnet.preset();
    for (name, ..) in expect {
        assert_ne!(devnet.ssv_domain_type, name.preset().ssv_domain_type);
    }
    assert!(devnet.genesis_validators_root.is_none(), "devnet genesis comes from the beacon node");
}
