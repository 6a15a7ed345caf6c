//! The beacon simulator's request log: with a record folder, every request it receives (a
//! GET, an accepted POST, a refused POST, an SSZ body) is a line of `requests.jsonl` with
//! its method, route (path and query), the status answered and the body byte for byte.

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use ssv_simulator::chain::{Chain, ChainConfig};
use ssv_simulator::server::{REQUESTS_FILE, RequestRecord, ServerOptions, spawn};

#[tokio::test]
async fn every_request_is_logged_with_its_status_and_exact_body() {
    let dir = tempfile::tempdir().expect("tmp");
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs();
    let config = ChainConfig {
        genesis_time: now - 8,
        slot_duration_ms: 2_000,
        slots_per_epoch: 4,
        ..ChainConfig::default()
    };
    let chain = Chain::from_seed(config, 4).expect("chain");
    let options =
        ServerOptions { record_dir: Some(dir.path().to_owned()), ..ServerOptions::default() };
    let server = spawn(SocketAddr::from(([127, 0, 0, 1], 0)), chain, options).await.expect("bind");
    let url = server.url();
    let client = reqwest::Client::new();

    let get_route = "/eth/v1/validator/attestation_data?slot=3&committee_index=0";
    let got = client.get(format!("{url}{get_route}")).send().await.expect("get");
    assert_eq!(got.status().as_u16(), 200);

    // Accepted: a committee subscription (odd spacing kept as sent).
    let accepted_route = "/eth/v1/validator/beacon_committee_subscriptions";
    let accepted_body = "[ {\"validator_index\":\"1\",\"committee_index\":\"0\",\"committees_at_slot\":\"1\",\"slot\":\"5\",\"is_aggregator\":false} ]";
    let r = client
        .post(format!("{url}{accepted_route}"))
        .header("content-type", "application/json")
        .body(accepted_body)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 200);

    // Refused: a sync-committee message with a signature that does not verify.
    let refused_route = "/eth/v1/beacon/pool/sync_committees";
    let refused_body = format!(
        "[{{\"slot\":\"3\",\"beacon_block_root\":\"0x{}\",\"validator_index\":\"1\",\"signature\":\"0x{}\"}}]",
        "11".repeat(32),
        "c0".to_string() + &"00".repeat(95)
    );
    let r = client
        .post(format!("{url}{refused_route}"))
        .header("content-type", "application/json")
        .body(refused_body.clone())
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 400);

    // SSZ (not UTF-8): refused as a block, logged as hex with its content type.
    let ssz_route = "/eth/v2/beacon/blocks";
    let ssz_body: Vec<u8> = vec![0xff, 0x00, 0xfe, 0x80, 0x01];
    let r = client
        .post(format!("{url}{ssz_route}"))
        .header("content-type", "application/octet-stream")
        .header("eth-consensus-version", "electra")
        .body(ssz_body.clone())
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 400);
    server.shutdown(std::time::Duration::from_secs(2)).await;

    let text = std::fs::read_to_string(dir.path().join(REQUESTS_FILE)).expect("log");
    let records: Vec<RequestRecord> =
        text.lines().map(|l| serde_json::from_str(l).expect("a record per line")).collect();
    let summary: Vec<(&str, &str, u16)> =
        records.iter().map(|r| (r.method.as_str(), r.route.as_str(), r.status)).collect();
    assert_eq!(
        summary,
        vec![
            ("GET", get_route, 200),
            ("POST", accepted_route, 200),
            ("POST", refused_route, 400),
            ("POST", ssz_route, 400),
        ]
    );
    assert_eq!(records[0].body, "");
    assert_eq!(records[1].body_encoding, "text");
    assert_eq!(records[1].body_bytes().unwrap(), accepted_body.as_bytes());
    assert_eq!(records[2].body_bytes().unwrap(), refused_body.as_bytes());
    assert_eq!(records[3].body_encoding, "hex");
    assert_eq!(records[3].body, "0xff00fe8001");
    assert_eq!(records[3].body_bytes().unwrap(), ssz_body);
    assert_eq!(records[3].content_type.as_deref(), Some("application/octet-stream"));
    let start = now * 1000;
    assert!(records.iter().all(|r| r.unix_millis >= start && r.unix_millis < start + 60_000));
    // The accepted-submission record still holds only what was accepted.
    let accepted = std::fs::read_to_string(dir.path().join("submissions.jsonl")).expect("record");
    assert_eq!(accepted.lines().count(), 1);
}
