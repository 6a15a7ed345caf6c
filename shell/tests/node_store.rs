//! Crash safety of the node database: a writer process is killed with SIGKILL while it
//! commits, and every write it acknowledged before dying must be there on reopen, with
//! each transaction either whole or absent.
//!
//! The writer is this test binary re-run with `NODE_STORE_CHILD_DB` set: it commits
//! decided messages (and, in the same transaction, the matching "last processed block")
//! in a loop and prints `acked N` after each commit returns.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use ssv_shell::store::{ExecutorId, NodeStore};

const CHILD_ENV: &str = "NODE_STORE_CHILD_DB";

fn executor() -> ExecutorId {
    [7u8; 56]
}

fn payload(n: u64) -> Vec<u8> {
    // Large enough that commits take a while and the kill lands mid-write sometimes.
    let mut v = n.to_le_bytes().to_vec();
    v.resize(16 * 1024, (n % 251) as u8);
    v
}

/// The child side: runs only when spawned by the test below.
#[test]
fn child_writer() {
    let Ok(path) = std::env::var(CHILD_ENV) else { return };
    let store = NodeStore::open(&path, "devnet").unwrap();
    for n in 1..u64::MAX {
        store
            .write(|w| {
                w.save_decided(&executor(), n, &payload(n))?;
                w.set_last_processed_block(n)
            })
            .unwrap();
        println!("acked {n}");
    }
}

fn run_and_kill(path: &Path, kill_after_acks: u64) -> u64 {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args(["--exact", "child_writer", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut last_acked = 0;
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(n) = line.strip_prefix("acked ") {
            last_acked = n.trim().parse().unwrap();
            if last_acked >= kill_after_acks {
                break;
            }
        }
    }
    child.kill().unwrap(); // SIGKILL: no destructor, no clean close.
    child.wait().unwrap();
    last_acked
}

#[test]
fn a_killed_writer_loses_nothing_it_acknowledged() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.redb");
    let mut floor = 0;
    for round in 0..3u64 {
        let acked = run_and_kill(&path, floor + 20 + round * 7);
        let store = NodeStore::open(&path, "devnet").expect("reopen after SIGKILL");
        let highest = store.highest_decided(&executor()).unwrap().unwrap();
        assert!(highest >= acked, "acked {acked} but highest decided is {highest}");
        // The block number was written in the same transactions: never torn apart.
        assert_eq!(store.last_processed_block().unwrap(), Some(highest));
        let all = store.decided_range(&executor(), 1, highest).unwrap();
        assert_eq!(all.len() as u64, highest, "no hole below the highest decided");
        for (n, bytes) in all {
            assert_eq!(bytes, payload(n), "decided message {n} intact");
        }
        drop(store);
        // The next writer starts after what is stored (it rewrites from 1; same values).
        floor = highest;
    }
}
