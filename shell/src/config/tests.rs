use std::path::PathBuf;

use super::*;

#[test]
fn default_yaml_round_trips() {
    let text = Config::default().to_yaml();
    assert_eq!(Config::from_yaml(&text).unwrap(), Config::default());
    Config::default().validate().unwrap();
}

#[test]
fn empty_and_partial_files_take_defaults() {
    assert_eq!(Config::from_yaml("").unwrap(), Config::default());
    let c = Config::from_yaml("network: hoodi\nlog:\n  format: json\n").unwrap();
    assert_eq!(c.network, NetworkName::Hoodi);
    assert_eq!(c.log.format, LogFormat::Json);
    assert_eq!(c.log.level, "info");
    assert_eq!(c.data_dir, PathBuf::from("./data"));
}

#[test]
fn unknown_fields_and_bad_values_are_refused_with_their_place() {
    let e = Config::from_yaml("netwrok: mainnet\n").unwrap_err().to_string();
    assert!(e.contains("netwrok"), "{e}");
    let e = Config::from_yaml("data_dir: ./x\nnetwork: goerli\n").unwrap_err().to_string();
    assert!(e.contains("goerli") && e.contains("line 2"), "{e}");
}

#[test]
fn overrides_replace_only_what_they_set() {
    let mut c = Config::from_yaml("network: holesky\ndata_dir: /file\n").unwrap();
    let o = Overrides {
        data_dir: Some("/flag".into()),
        beacon_nodes: Some(vec!["http://a:1".into(), "http://b:2".into()]),
        trace_dir: Some("/trace".into()),
        ..Overrides::default()
    };
    c.apply(&o);
    assert_eq!(c.network, NetworkName::Holesky);
    assert_eq!(c.data_dir, PathBuf::from("/flag"));
    assert_eq!(c.beacon_nodes, ["http://a:1", "http://b:2"]);
    assert_eq!(c.trace.dir, Some(PathBuf::from("/trace")));
}

#[test]
fn validation_names_the_bad_field() {
    let mut c = Config { beacon_nodes: vec!["ftp://x".into()], ..Config::default() };
    assert!(c.validate().unwrap_err().to_string().contains("ftp://x"));
    c.beacon_nodes.clear();
    assert!(c.validate().unwrap_err().to_string().contains("beacon_nodes"));
    let mut c = Config::default();
    c.trace.max_files = 0;
    assert!(c.validate().unwrap_err().to_string().contains("max_files"));
}

#[test]
fn unreadable_file_is_a_clear_error() {
    let e = Config::load(Some("/nonexistent/ssv.yaml".as_ref()), &Overrides::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("cannot read config file /nonexistent/ssv.yaml"), "{e}");
}

#[test]
fn network_names_parse_case_insensitively() {
    for n in NetworkName::ALL {
        assert_eq!(n.as_str().to_uppercase().parse::<NetworkName>().unwrap(), n);
        assert_eq!(n.preset().name, n);
    }
    assert!("sepolia".parse::<NetworkName>().is_err());
}

#[test]
fn fork_at_picks_the_latest_active_fork() {
    let p = NetworkName::Mainnet.preset();
    assert_eq!(p.fork_at(0).unwrap().name, "phase0");
    assert_eq!(p.fork_at(364_031).unwrap().name, "deneb");
    assert_eq!(p.fork_at(364_032).unwrap().name, "electra");
    assert_eq!(p.fork_at(u64::MAX).unwrap().name, "fulu");
}
