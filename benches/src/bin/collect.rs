//! Reads criterion's medians (`<criterion dir>/**/new/estimates.json`) and the memory
//! bench's reports, and writes `benches/RESULTS.md`: operation, median, floor, ratio, and
//! the machine. Floors are computed from crypto medians of the same run. `just bench`
//! runs it after the benches.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

/// Medians in nanoseconds by criterion's full benchmark id (`group/param`).
fn medians(dir: &Path, out: &mut BTreeMap<String, f64>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        let new = path.join("new");
        let id = read_json(&new.join("benchmark.json"))
            .and_then(|b| b.get("full_id").and_then(Value::as_str).map(str::to_owned));
        let median = read_json(&new.join("estimates.json"))
            .and_then(|e| e.pointer("/median/point_estimate").and_then(Value::as_f64));
        if let (Some(id), Some(median)) = (id, median) {
            out.insert(id, median);
        }
        medians(&path, out);
    }
}

fn read_json(path: &Path) -> Option<Value> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

fn time(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.2} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    format!("{cpu}, {cores} cores")
}

struct Table {
    md: String,
}

impl Table {
    fn header(&mut self, title: &str, note: &str) {
        let _ = write!(
            self.md,
            "\n## {title}\n\n{note}\n\n| operation | median | floor | ratio |\n|---|---|---|---|\n"
        );
    }

    fn row(&mut self, op: &str, median: Option<f64>, floor: Option<f64>) {
        let Some(m) = median else {
            let _ = writeln!(self.md, "| {op} | not run | | |");
            return;
        };
        let (f, r) = match floor {
            Some(f) if f > 0.0 => (time(f), format!("{:.2}x", m / f)),
            _ => ("—".into(), "—".into()),
        };
        let _ = writeln!(self.md, "| {op} | {} | {f} | {r} |", time(m));
    }
}

fn main() {
    let dir = ssv_benches::criterion_dir();
    let mut m = BTreeMap::new();
    medians(&dir, &mut m);
    let get = |id: &str| m.get(id).copied();
    let machine = machine();
    let mut t = Table { md: String::new() };
    let _ = write!(
        t.md,
        "# Benchmark results\n\nWritten by `just bench` from criterion's medians (`cargo run \
         -p ssv-benches --bin collect` rewrites it). Machine: **{machine}**. The machines are \
         shared and noisy: compare ratios within this run, not absolute times across runs. \
         Targets are goals reported against, not asserted.\n"
    );

    t.header("Crypto floor", "Single-threaded. Batch verification is 64 distinct messages.");
    for id in ["bls/sign", "bls/verify", "bls/batch_verify_64", "rsa/sign", "rsa/verify"] {
        t.row(id, get(id), None);
    }
    for group in ["threshold/reconstruct", "threshold/reconstruct_and_verify"] {
        for q in [3, 5, 7, 9] {
            let id = format!("{group}/{q}");
            t.row(&id, get(&id), None);
        }
    }

    let (sign, verify) = (get("rsa/sign"), get("rsa/verify"));
    t.header(
        "QBFT: one instance, start to decided (target ≤ 1.3x)",
        "The whole n-member cluster on one thread, real RSA: `2n+1` signatures and \
         `(n−1)(2n+1)` verifications (every message checked by each member but its sender). \
         Per decided instance = cluster median / n. Floor = those RSA operations at the \
         medians above.",
    );
    for n in [4u32, 7, 10, 13] {
        let nf = f64::from(n);
        let floor =
            sign.zip(verify).map(|(s, v)| (2.0 * nf + 1.0) * s + (nf - 1.0) * (2.0 * nf + 1.0) * v);
        let median = get(&format!("qbft/cluster_decide/{n}"));
        t.row(&format!("qbft/cluster_decide/{n} (whole cluster)"), median, floor);
        t.row(
            &format!("qbft/cluster_decide/{n} per decided instance"),
            median.map(|x| x / nf),
            floor.map(|x| x / nf),
        );
    }

    let floor_duty =
        match (get("bls/sign"), get("threshold/reconstruct/3"), get("bls/batch_verify_64")) {
            (Some(s), Some(r), Some(b)) => Some(s + r + b / 64.0),
            _ => None,
        };
    t.header(
        "Committee duty, one operator (target ≤ 1.3x per validator-duty)",
        "Operator 1's core (QBFT with real RSA, post-consensus container, reconstruction and \
         verification per validator) plus the shell's BLS share signing, in 4-operator \
         committees of at most 500 validators. Per validator-duty = median / V. Floor = one \
         share signature + one reconstruction (quorum 3) + 1/64 of a 64-way batched \
         verification.",
    );
    let mut per_duty_1563 = None;
    for v in [1u32, 100, 1_000, 1_563, 10_000] {
        let median = get(&format!("runner/committee_duty/{v}"));
        t.row(
            &format!("runner/committee_duty/{v} (whole slot)"),
            median,
            floor_duty.map(|f| f * f64::from(v)),
        );
        let per = median.map(|x| x / f64::from(v));
        t.row(&format!("runner/committee_duty/{v} per validator-duty"), per, floor_duty);
        if v == 1_563 {
            per_duty_1563 = per;
        }
    }
    if let Some(per) = per_duty_1563 {
        let two_cores = per * 1_563.0 / 2.0;
        let _ = writeln!(
            t.md,
            "\n1,563 committee duties (50,000 validators) spread over 2 cores: **{}** of CPU \
             each, against the 4 s mark ({}).",
            time(two_cores),
            if two_cores <= 4e9 { "met" } else { "missed" }
        );
    }

    let _ = write!(
        t.md,
        "\n## Memory: one operator, one slot\n\nPeak heap above the start (counting global \
         allocator) while building the routers with every share and running the slot's \
         committee duties (every 32nd validator), and that slot's time on one thread.\n\n| \
         validators | committees | duties | peak heap | retained after the slot | slot on one \
         thread |\n|---|---|---|---|---|---|\n"
    );
    for v in [10_000, 50_000] {
        match read_json(&dir.join("memory").join(format!("{v}.json"))) {
            Some(r) => {
                let num = |k: &str| r.get(k).and_then(Value::as_f64).unwrap_or(0.0);
                let _ = writeln!(
                    t.md,
                    "| {v} | {} | {} | {:.1} MiB | {:.1} MiB | {} |",
                    num("committees"),
                    num("duties"),
                    num("peak_bytes") / 1_048_576.0,
                    num("retained_bytes") / 1_048_576.0,
                    time(num("slot_ms") * 1e6)
                );
            }
            None => {
                let _ = writeln!(t.md, "| {v} | not run | | | | |");
            }
        }
    }

    t.header(
        "Message validation (target ≤ 1.5x)",
        "Gossip validation of one message on the accept path. Floor = its RSA verifications \
         (the Go node and Anchor report 165 to 430 µs per real message).",
    );
    let rsa = get("validation/rsa_verify_floor").or(verify);
    for (id, sigs) in [
        ("validation/consensus_prepare", 1.0),
        ("validation/partial_post_consensus", 1.0),
        ("validation/decided_commit_3_signers", 3.0),
    ] {
        t.row(id, get(id), rsa.map(|r| r * sigs));
    }

    t.header("SSZ: decode + encode of the largest messages", "Floor = one copy of the same bytes.");
    for name in
        ["signed_ssv_message_max", "validator_consensus_data_max", "partial_signatures_1512"]
    {
        t.row(
            &format!("ssz/{name}"),
            get(&format!("ssz/{name}/decode_encode")),
            get(&format!("ssz/{name}/copy")),
        );
    }

    let _ = writeln!(t.md, "\nThe simulator bench lands with the simulator (branch `sim`).");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("RESULTS.md");
    std::fs::write(&path, &t.md).expect("write RESULTS.md");
    println!("wrote {} ({} medians)", path.display(), m.len());
}
