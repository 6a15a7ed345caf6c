//! The `ssv-node` binary: `config`, `keygen`, `slashing-protection` and the start-up
//! errors of `run`, as an operator sees them (exit status and message).

use std::path::Path;
use std::process::{Command, Output};

fn ssv_node(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ssv-node"));
    cmd.args(args);
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("SSV_")) {
        cmd.env_remove(k);
    }
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn print_default_is_a_valid_config_file() {
    let o = ssv_node(&["config", "--print-default"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.yaml");
    std::fs::write(&file, stdout(&o)).unwrap();
    let o2 = ssv_node(&["config", "--print", "--config", file.to_str().unwrap()], &[]);
    assert!(o2.status.success(), "{}", stderr(&o2));
    assert_eq!(stdout(&o2), stdout(&o));
    assert!(stdout(&o).contains("network: devnet"));
}

#[test]
fn flags_beat_environment_beat_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.yaml");
    std::fs::write(&file, "network: holesky\ndata_dir: /from-file\nlog:\n  level: debug\n")
        .unwrap();
    let f = file.to_str().unwrap();
    let o = ssv_node(
        &["config", "--print", "--config", f, "--data-dir", "/from-flag"],
        &[("SSV_DATA_DIR", "/from-env"), ("SSV_NETWORK", "hoodi"), ("SSV_LOG_FORMAT", "json")],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let printed: serde_yaml::Value = serde_yaml::from_str(&stdout(&o)).unwrap();
    assert_eq!(printed["data_dir"].as_str(), Some("/from-flag"));
    assert_eq!(printed["network"].as_str(), Some("hoodi"));
    assert_eq!(printed["log"]["format"].as_str(), Some("json"));
    assert_eq!(printed["log"]["level"].as_str(), Some("debug"), "file value kept");
    // SSV_CONFIG names the file too.
    let o = ssv_node(&["config", "--print"], &[("SSV_CONFIG", f)]);
    assert!(stdout(&o).contains("network: holesky"), "{}", stdout(&o));
}

#[test]
fn an_unreadable_or_invalid_config_is_reported() {
    let o = ssv_node(&["run", "--config", "/nonexistent/ssv.yaml"], &[]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("cannot read config file /nonexistent/ssv.yaml"), "{}", stderr(&o));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.yaml");
    std::fs::write(&file, "network: mainnet\nbeacon_node: http://x\n").unwrap();
    let o = ssv_node(&["config", "--config", file.to_str().unwrap()], &[]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("unknown field `beacon_node`"), "{}", stderr(&o));
}

#[test]
fn keygen_prints_the_public_key_and_writes_a_private_pem() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("op.pem");
    let o = ssv_node(&["keygen", "--out", out.to_str().unwrap()], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let pk = stdout(&o).trim().to_owned();
    let key = ssv_shell::keys::load_operator_key(&out, None).unwrap();
    assert_eq!(key.public_key().to_base64_pem(), pk);
}

#[test]
fn run_with_a_wrong_keystore_password_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("op.json");
    let pw = dir.path().join("op.json.password");
    ssv_shell::keys::keygen(&key, Some(&pw), ssv_shell::keys::Pbkdf2Params { iterations: 1024 })
        .unwrap();
    let wrong = dir.path().join("wrong");
    std::fs::write(&wrong, "nope").unwrap();
    let o = ssv_node(
        &[
            "run",
            "--data-dir",
            dir.path().join("data").to_str().unwrap(),
            "--operator-key",
            key.to_str().unwrap(),
            "--operator-key-password-file",
            wrong.to_str().unwrap(),
            "--metrics-enabled",
            "false",
        ],
        &[],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("wrong password"), "{}", stderr(&o));
}

#[test]
fn run_with_a_beacon_node_down_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("op.pem");
    ssv_shell::keys::keygen(&key, None, ssv_shell::keys::Pbkdf2Params::STANDARD).unwrap();
    // Port 9 (discard) on loopback: nothing listens.
    let o = ssv_node(
        &[
            "run",
            "--data-dir",
            dir.path().join("data").to_str().unwrap(),
            "--operator-key",
            key.to_str().unwrap(),
            "--beacon-node",
            "http://127.0.0.1:9",
            "--metrics-enabled",
            "false",
        ],
        &[],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("beacon node http://127.0.0.1:9 is unreachable"), "{}", stderr(&o));
}

#[test]
fn run_with_a_corrupt_database_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("op.pem");
    ssv_shell::keys::keygen(&key, None, ssv_shell::keys::Pbkdf2Params::STANDARD).unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("node.redb"), vec![0x13; 10_000]).unwrap();
    let o = ssv_node(
        &[
            "run",
            "--data-dir",
            data.to_str().unwrap(),
            "--operator-key",
            key.to_str().unwrap(),
            "--metrics-enabled",
            "false",
        ],
        &[],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("cannot open node database"), "{}", stderr(&o));
}

fn interchange_vector(name: &str) -> std::path::PathBuf {
    ssv_fixtures::vector_path(
        &format!("slashing-protection-interchange-tests/tests/generated/{name}"),
        "eth-clients/slashing-protection-interchange-tests v5.3.0",
    )
    .unwrap()
}

#[test]
fn slashing_protection_import_then_export_keeps_every_record() {
    // A vector with blocks and attestations for several keys; its interchange is imported
    // through the CLI, exported, and the export must hold the same records.
    let test: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(interchange_vector(
            "multiple_validators_multiple_blocks_and_attestations.json",
        ))
        .unwrap(),
    )
    .unwrap();
    let interchange = &test["steps"][0]["interchange"];
    let root = test["genesis_validators_root"].as_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.json");
    std::fs::write(&file, interchange.to_string()).unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let o =
        ssv_node(&["slashing-protection", "import", file.to_str().unwrap(), "--data-dir", d], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = dir.path().join("out.json");
    let o = ssv_node(
        &[
            "slashing-protection",
            "export",
            out.to_str().unwrap(),
            "--data-dir",
            d,
            "--genesis-validators-root",
            root,
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let exported: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(
        exported["metadata"]["genesis_validators_root"],
        interchange["metadata"]["genesis_validators_root"]
    );
    let slots = |v: &serde_json::Value| -> Vec<String> {
        let mut s: Vec<String> = v["data"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|d| {
                d["signed_blocks"].as_array().unwrap().iter().map(|b| b["slot"].to_string())
            })
            .collect();
        s.sort();
        s
    };
    assert_eq!(slots(&exported), slots(interchange));
    // Another chain's database refuses it: mainnet's root differs from the vector's.
    let o = ssv_node(
        &[
            "slashing-protection",
            "import",
            file.to_str().unwrap(),
            "--data-dir",
            d,
            "--network",
            "mainnet",
        ],
        &[],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("genesis validators root mismatch"), "{}", stderr(&o));
    let _ = Path::new(d);
}
