//! Reads criterion's medians (`<criterion dir>/**/new/{benchmark,estimates}.json`) and the
//! memory bench's reports (`<criterion dir>/memory/<validators>.json`), and writes
//! `benches/RESULTS.md`: operation, median, floor, ratio, and the machine. Floors are
//! computed from crypto medians of the same run. `just bench` runs it after the benches.
//!
//! Every benchmark found is shown: the known groups in their sections (an expected
//! benchmark that is absent reads "not run"), every `sim/*` group in the simulator
//! section, and any other group in "Other benchmarks" at the end.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

/// One benchmark's result as criterion wrote it.
#[derive(Debug, Clone, PartialEq)]
struct Bench {
    /// Criterion's group (`runner/committee_duty`), or the id itself for `bench_function`.
    group: String,
    /// Median time per iteration, nanoseconds.
    median_ns: f64,
    /// Elements processed per iteration (`Throughput::Elements`), if the bench set one.
    elements: Option<u64>,
}

/// Everything read from one criterion directory. Lookups mark ids as shown, so the ones
/// no section asked for end up in the generic section.
#[derive(Debug, Default)]
struct Results {
    /// By criterion's full benchmark id (`group/param`).
    benches: BTreeMap<String, Bench>,
    /// Memory reports by validator count.
    memory: BTreeMap<u64, Value>,
    shown: RefCell<BTreeSet<String>>,
}

impl Results {
    /// Reads `dir` (criterion's output directory); a missing directory gives no results.
    fn load(dir: &Path) -> Self {
        let mut r = Self::default();
        walk(dir, &mut r.benches);
        if let Ok(entries) = std::fs::read_dir(dir.join("memory")) {
            for entry in entries.flatten() {
                let path = entry.path();
                let v =
                    path.file_stem().and_then(|s| s.to_str()).and_then(|s| s.parse::<u64>().ok());
                if let (Some(v), Some(json)) = (v, read_json(&path)) {
                    r.memory.insert(v, json);
                }
            }
        }
        r
    }

    /// The median of `id` in nanoseconds, marking it shown.
    fn get(&self, id: &str) -> Option<f64> {
        self.bench(id).map(|b| b.median_ns)
    }

    fn bench(&self, id: &str) -> Option<&Bench> {
        let b = self.benches.get(id)?;
        self.shown.borrow_mut().insert(id.to_owned());
        Some(b)
    }

    /// Ids of every benchmark in a group whose name starts with `prefix`.
    fn ids_in_groups(&self, prefix: &str) -> Vec<String> {
        self.benches
            .iter()
            .filter(|(_, b)| b.group.starts_with(prefix))
            .map(|(id, _)| id.clone())
            .collect()
    }
}

/// Collects every `<bench dir>/new/` result under `dir`, recursively.
fn walk(dir: &Path, out: &mut BTreeMap<String, Bench>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        let new = path.join("new");
        let meta = read_json(&new.join("benchmark.json"));
        let median = read_json(&new.join("estimates.json"))
            .and_then(|e| e.pointer("/median/point_estimate").and_then(Value::as_f64));
        if let (Some(meta), Some(median_ns)) = (meta, median) {
            let id = meta.get("full_id").and_then(Value::as_str).map(str::to_owned);
            if let Some(id) = id {
                let group = meta.get("group_id").and_then(Value::as_str).unwrap_or(&id).to_owned();
                let elements = meta.pointer("/throughput/Elements").and_then(Value::as_u64);
                out.insert(id, Bench { group, median_ns, elements });
            }
        }
        walk(&path, out);
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

/// Elements per second at `ns` per `elements`.
fn rate(elements: u64, ns: f64) -> String {
    let per_s = elements as f64 * 1e9 / ns;
    if per_s >= 100.0 { format!("{per_s:.0}") } else { format!("{per_s:.2}") }
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

/// The markdown being written.
struct Doc {
    md: String,
}

impl Doc {
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

    fn para(&mut self, text: &str) {
        let _ = writeln!(self.md, "\n{text}");
    }
}

/// Committee sizes of the batched and unbatched committee duty benches (runner.rs).
const DUTY_SIZES: [u64; 5] = [1, 100, 1_000, 1_563, 10_000];
const UNBATCHED_SIZES: [u64; 2] = [100, 1_000];
/// Groups the simulator bench is expected to write (sim.rs); other `sim/*` groups are
/// shown too.
const SIM_GROUPS: [&str; 4] = ["sim/fake", "sim/real", "sim/duty-fake", "sim/duty-real"];

/// RESULTS.md for `r`, measured on `machine`.
fn render(r: &Results, machine: &str) -> String {
    let mut d = Doc { md: String::new() };
    let _ = write!(
        d.md,
        "# Benchmark results\n\nWritten by `just bench` from criterion's medians (`cargo run \
         -p ssv-benches --bin collect` rewrites it). Machine: **{machine}**. The machines are \
         shared and noisy: compare ratios within this run, not absolute times across runs. \
         Targets are goals reported against, not asserted. \"not run\" marks a benchmark the \
         collector expects but found no result for.\n"
    );
    crypto(&mut d, r);
    qbft(&mut d, r);
    committee_duty(&mut d, r);
    memory(&mut d, r);
    validation(&mut d, r);
    ssz(&mut d, r);
    sim(&mut d, r);
    other(&mut d, r);
    d.md
}

fn crypto(d: &mut Doc, r: &Results) {
    d.header("Crypto floor", "Single-threaded. Batch verification is 64 distinct messages.");
    for id in ["bls/sign", "bls/verify", "bls/batch_verify_64", "rsa/sign", "rsa/verify"] {
        d.row(id, r.get(id), None);
    }
    for group in ["threshold/reconstruct", "threshold/reconstruct_and_verify"] {
        for q in [3, 5, 7, 9] {
            let id = format!("{group}/{q}");
            d.row(&id, r.get(&id), None);
        }
    }
}

fn qbft(d: &mut Doc, r: &Results) {
    let (sign, verify) = (r.get("rsa/sign"), r.get("rsa/verify"));
    d.header(
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
        let median = r.get(&format!("qbft/cluster_decide/{n}"));
        d.row(&format!("qbft/cluster_decide/{n} (whole cluster)"), median, floor);
        d.row(
            &format!("qbft/cluster_decide/{n} per decided instance"),
            median.map(|x| x / nf),
            floor.map(|x| x / nf),
        );
    }
}

fn committee_duty(d: &mut Doc, r: &Results) {
    let floor =
        match (r.get("bls/sign"), r.get("threshold/reconstruct/3"), r.get("bls/batch_verify_64")) {
            (Some(s), Some(rec), Some(b)) => Some(s + rec + b / 64.0),
            _ => None,
        };
    d.header(
        "Committee duty, one operator (target ≤ 1.3x per validator-duty)",
        "Operator 1's core (QBFT with real RSA, the post-consensus container, one Lagrange \
         reconstruction per validator, and the committee's reconstructed signatures verified \
         together as one blst batch) plus the shell's BLS share signing, in 4-operator \
         committees of at most 500 validators. `committee_duty_unbatched` is the same slot \
         with each reconstructed signature verified on its own. Per validator-duty = median / \
         V. Floor = one share signature + one reconstruction (quorum 3) + 1/64 of a 64-way \
         batched verification, from the crypto medians above.",
    );
    let mut per_duty_1563 = None;
    for v in DUTY_SIZES {
        for (group, sizes) in [
            ("runner/committee_duty", &DUTY_SIZES[..]),
            ("runner/committee_duty_unbatched", &UNBATCHED_SIZES[..]),
        ] {
            if !sizes.contains(&v) {
                continue;
            }
            let median = r.get(&format!("{group}/{v}"));
            let vf = v as f64;
            d.row(&format!("{group}/{v} (whole slot)"), median, floor.map(|f| f * vf));
            let per = median.map(|x| x / vf);
            d.row(&format!("{group}/{v} per validator-duty"), per, floor);
            if v == 1_563 && group == "runner/committee_duty" {
                per_duty_1563 = per;
            }
        }
    }
    for v in UNBATCHED_SIZES {
        let batched = r.get(&format!("runner/committee_duty/{v}"));
        let unbatched = r.get(&format!("runner/committee_duty_unbatched/{v}"));
        if let (Some(b), Some(u)) = (batched, unbatched) {
            d.para(&format!(
                "Batching at V = {v}: {} per validator-duty batched, {} unbatched ({:.2}x).",
                time(b / v as f64),
                time(u / v as f64),
                u / b
            ));
        }
    }
    if let Some(per) = per_duty_1563 {
        let two_cores = per * 1_563.0 / 2.0;
        d.para(&format!(
            "1,563 committee duties (50,000 validators) spread over 2 cores: **{}** of CPU \
             each, against the 4 s mark ({}).",
            time(two_cores),
            if two_cores <= 4e9 { "met" } else { "missed" }
        ));
    }
    // Anything else the runner bench writes.
    extra_rows(d, r, "runner/");
}

/// Rows for benchmarks in groups starting with `prefix` that no section has shown yet.
fn extra_rows(d: &mut Doc, r: &Results, prefix: &str) {
    for id in r.ids_in_groups(prefix) {
        if !r.shown.borrow().contains(&id) {
            d.row(&id, r.get(&id), None);
        }
    }
}

fn memory(d: &mut Doc, r: &Results) {
    d.para(
        "## Memory: one operator, one slot\n\nPeak heap above the start (counting global \
         allocator) while building the routers with every share and running the slot's \
         committee duties (every 32nd validator), and that slot's time on one thread.\n\n| \
         validators | committees | duties | peak heap | retained after the slot | slot on one \
         thread |\n|---|---|---|---|---|---|",
    );
    let mut sizes: BTreeSet<u64> = [10_000, 50_000].into();
    sizes.extend(r.memory.keys());
    for v in sizes {
        match r.memory.get(&v) {
            Some(m) => {
                let num = |k: &str| m.get(k).and_then(Value::as_f64).unwrap_or(0.0);
                let _ = writeln!(
                    d.md,
                    "| {v} | {} | {} | {:.1} MiB | {:.1} MiB | {} |",
                    num("committees"),
                    num("duties"),
                    num("peak_bytes") / 1_048_576.0,
                    num("retained_bytes") / 1_048_576.0,
                    time(num("slot_ms") * 1e6)
                );
            }
            None => {
                let _ = writeln!(d.md, "| {v} | not run | | | | |");
            }
        }
    }
}

fn validation(d: &mut Doc, r: &Results) {
    d.header(
        "Message validation (target ≤ 1.5x)",
        "Gossip validation of one message on the accept path. Floor = its RSA verifications \
         at `validation/rsa_verify_floor` (the Go node and Anchor report 165 to 430 µs per \
         real message).",
    );
    let rsa = r.get("validation/rsa_verify_floor").or_else(|| r.get("rsa/verify"));
    d.row("validation/rsa_verify_floor", r.get("validation/rsa_verify_floor"), None);
    for (id, sigs) in [
        ("validation/consensus_prepare", 1.0),
        ("validation/partial_post_consensus", 1.0),
        ("validation/decided_commit_3_signers", 3.0),
    ] {
        d.row(id, r.get(id), rsa.map(|x| x * sigs));
    }
    // Throughput: a batch of prepares, sequential and two-phase with RSA on 2 workers.
    // The two-worker floor is the batch's RSA split over both cores.
    let mut rates = Vec::new();
    for (name, workers) in [("sequential", 1.0), ("two_phase_2_workers", 2.0)] {
        let id = format!("validation/throughput/{name}");
        let b = r.bench(&id).cloned();
        let n = b.as_ref().and_then(|b| b.elements).unwrap_or(64);
        let median = b.as_ref().map(|b| b.median_ns);
        let floor = rsa.map(|x| x * n as f64 / workers);
        d.row(&format!("{id} ({n} messages)"), median, floor);
        d.row(
            &format!("{id} per message"),
            median.map(|m| m / n as f64),
            floor.map(|f| f / n as f64),
        );
        if let Some(m) = median {
            rates.push((name, rate(n, m), m));
        }
    }
    if let [(_, seq, s), (_, par, p)] = rates.as_slice() {
        d.para(&format!(
            "Throughput: {seq} messages/s sequential, {par} messages/s two-phase with RSA on 2 \
             workers (speed-up {:.2}x). The two-worker floor is the batch's RSA split over 2 \
             cores, so that ratio also shows how much of a second core a loaded machine gave.",
            s / p
        ));
    }
    extra_rows(d, r, "validation/");
}

fn ssz(d: &mut Doc, r: &Results) {
    d.header("SSZ: decode + encode of the largest messages", "Floor = one copy of the same bytes.");
    for name in
        ["signed_ssv_message_max", "validator_consensus_data_max", "partial_signatures_1512"]
    {
        d.row(
            &format!("ssz/{name}"),
            r.get(&format!("ssz/{name}/decode_encode")),
            r.get(&format!("ssz/{name}/copy")),
        );
    }
    extra_rows(d, r, "ssz/");
}

/// `4ops/100vals` as (4, 100); anything else sorts last.
fn sim_param(param: &str) -> (u64, u64) {
    let mut it = param.split('/');
    let num = |s: Option<&str>, suffix: &str| {
        s.and_then(|s| s.strip_suffix(suffix)).and_then(|s| s.parse().ok()).unwrap_or(u64::MAX)
    };
    (num(it.next(), "ops"), num(it.next(), "vals"))
}

fn sim(d: &mut Doc, r: &Results) {
    d.para(
        "## Simulator: simulated slots per wall-clock second\n\nThe whole cluster in one \
         process on one core, no faults. `sim/fake` and `sim/real` run consensus only (fake \
         or RSA crypto); `sim/duty-*` run the duty path (every operator's `Committee` and \
         `CommitteeRunner`s against the in-memory chain, with hash-based or real BLS), \
         counting only slots with duties. Slots/s = simulated slots per iteration / median \
         wall time per iteration. Every `sim/*` group criterion wrote is listed.\n\n| group | \
         operators | validators | median per iteration | slots per iteration | slots/s \
         |\n|---|---|---|---|---|---|",
    );
    let mut groups: BTreeSet<String> = SIM_GROUPS.iter().map(|g| (*g).to_owned()).collect();
    groups.extend(
        r.ids_in_groups("sim/").iter().filter_map(|id| r.benches.get(id).map(|b| b.group.clone())),
    );
    for group in groups {
        let prefix = format!("{group}/");
        let mut ids: Vec<(u64, u64, String)> = r
            .benches
            .iter()
            .filter(|(id, b)| b.group == group && id.starts_with(&prefix))
            .map(|(id, _)| {
                let param = id.trim_start_matches(&prefix);
                let (ops, vals) = sim_param(param);
                (ops, vals, id.clone())
            })
            .collect();
        ids.sort();
        if ids.is_empty() {
            let _ = writeln!(d.md, "| {group} | not run | | | | |");
        }
        for (ops, vals, id) in ids {
            let Some(b) = r.bench(&id) else { continue };
            let show = |x: u64| if x == u64::MAX { "?".to_owned() } else { x.to_string() };
            let (slots, per_s) = match b.elements {
                Some(n) => (n.to_string(), rate(n, b.median_ns)),
                None => ("—".into(), "—".into()),
            };
            let (ops, vals) = if ops == u64::MAX || vals == u64::MAX {
                (id.trim_start_matches(&prefix).to_owned(), "—".to_owned())
            } else {
                (show(ops), show(vals))
            };
            let _ = writeln!(
                d.md,
                "| {group} | {ops} | {vals} | {} | {slots} | {per_s} |",
                time(b.median_ns)
            );
        }
    }
}

/// Every benchmark no section showed, by group, so nothing criterion wrote vanishes.
fn other(d: &mut Doc, r: &Results) {
    let rest: Vec<String> =
        r.benches.keys().filter(|id| !r.shown.borrow().contains(*id)).cloned().collect();
    if rest.is_empty() {
        return;
    }
    d.para(
        "## Other benchmarks\n\nGroups criterion wrote that this collector has no section for \
         (no floor known).\n\n| operation | median | throughput |\n|---|---|---|",
    );
    for id in rest {
        let Some(b) = r.bench(&id) else { continue };
        let tp =
            b.elements.map_or_else(|| "—".to_owned(), |n| format!("{}/s", rate(n, b.median_ns)));
        let _ = writeln!(d.md, "| {id} | {} | {tp} |", time(b.median_ns));
    }
}

fn main() {
    let dir = ssv_benches::criterion_dir();
    let results = Results::load(&dir);
    let md = render(&results, &machine());
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("RESULTS.md");
    std::fs::write(&path, md).expect("write RESULTS.md");
    println!("wrote {} ({} medians from {})", path.display(), results.benches.len(), dir.display());
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// A criterion-shaped directory written by hand (not by a bench run).
    struct Fixture(PathBuf);

    impl Fixture {
        fn new(name: &str) -> Self {
            let dir =
                std::env::temp_dir().join(format!("ssv-collect-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("fixture dir");
            Self(dir)
        }

        /// One benchmark result as criterion 0.5 lays it out.
        fn bench(&self, group: &str, param: Option<&str>, median_ns: f64, elements: Option<u64>) {
            let full_id = param.map_or_else(|| group.to_owned(), |p| format!("{group}/{p}"));
            let dir = self.0.join(full_id.replace('/', "_")).join("new");
            std::fs::create_dir_all(&dir).expect("bench dir");
            let throughput = elements.map_or(Value::Null, |n| serde_json::json!({ "Elements": n }));
            let meta = serde_json::json!({
                "group_id": group, "function_id": null, "value_str": param,
                "throughput": throughput, "full_id": full_id,
                "directory_name": full_id.replace('/', "_"), "title": full_id,
            });
            std::fs::write(dir.join("benchmark.json"), meta.to_string()).expect("write");
            let est = serde_json::json!({
                "mean": { "point_estimate": median_ns * 1.1 },
                "median": { "point_estimate": median_ns, "standard_error": 1.0 },
            });
            std::fs::write(dir.join("estimates.json"), est.to_string()).expect("write");
            // Criterion also keeps the previous run; it must not be read.
            let base = dir.with_file_name("base");
            std::fs::create_dir_all(&base).expect("base dir");
            std::fs::write(base.join("estimates.json"), "{}").expect("write");
        }

        fn memory(&self, validators: u64, peak_bytes: u64) {
            let dir = self.0.join("memory");
            std::fs::create_dir_all(&dir).expect("memory dir");
            let report = serde_json::json!({
                "validators": validators, "committees": 20, "duties": 312,
                "peak_bytes": peak_bytes, "retained_bytes": peak_bytes / 2, "slot_ms": 1500.0,
            });
            std::fs::write(dir.join(format!("{validators}.json")), report.to_string())
                .expect("write");
        }
    }

    impl Drop for Fixture {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn line<'a>(md: &'a str, starts: &str) -> &'a str {
        md.lines().find(|l| l.starts_with(starts)).unwrap_or_else(|| panic!("no line {starts}"))
    }

    #[test]
    fn reads_median_group_and_throughput() {
        let f = Fixture::new("read");
        f.bench("bls/sign", None, 300_000.0, None);
        f.bench("sim/duty-fake", Some("4ops/100vals"), 2e8, Some(32));
        let r = Results::load(&f.0);
        assert_eq!(r.benches.len(), 2);
        assert_eq!(
            r.benches["bls/sign"],
            Bench { group: "bls/sign".into(), median_ns: 300_000.0, elements: None }
        );
        assert_eq!(
            r.benches["sim/duty-fake/4ops/100vals"],
            Bench { group: "sim/duty-fake".into(), median_ns: 2e8, elements: Some(32) }
        );
    }

    #[test]
    fn formats_times_and_rates() {
        assert_eq!(time(950.0), "950 ns");
        assert_eq!(time(13_800.0), "13.8 µs");
        assert_eq!(time(26_080_000.0), "26.08 ms");
        assert_eq!(time(3_010_000_000.0), "3.01 s");
        // 32 slots in 0.2 s: 160 per second.
        assert_eq!(rate(32, 2e8), "160");
        assert_eq!(rate(2, 4e9), "0.50");
    }

    #[test]
    fn committee_duty_rows_use_the_bls_floor() {
        let f = Fixture::new("duty");
        // Floor per validator-duty: 300 + 500 + 25,600/64 = 1,200 µs.
        f.bench("bls/sign", None, 300_000.0, None);
        f.bench("threshold/reconstruct", Some("3"), 500_000.0, None);
        f.bench("bls/batch_verify_64", None, 25_600_000.0, None);
        f.bench("runner/committee_duty", Some("100"), 180_000_000.0, None);
        f.bench("runner/committee_duty_unbatched", Some("100"), 240_000_000.0, None);
        let md = render(&Results::load(&f.0), "test machine");
        assert!(md.contains("Machine: **test machine**"));
        assert_eq!(
            line(&md, "| runner/committee_duty/100 per validator-duty"),
            "| runner/committee_duty/100 per validator-duty | 1.80 ms | 1.20 ms | 1.50x |"
        );
        assert_eq!(
            line(&md, "| runner/committee_duty/100 (whole slot)"),
            "| runner/committee_duty/100 (whole slot) | 180.00 ms | 120.00 ms | 1.50x |"
        );
        assert_eq!(
            line(&md, "| runner/committee_duty_unbatched/100 per validator-duty"),
            "| runner/committee_duty_unbatched/100 per validator-duty | 2.40 ms | 1.20 ms | 2.00x |"
        );
        assert!(md.contains(
            "Batching at V = 100: 1.80 ms per validator-duty batched, 2.40 ms unbatched (1.33x)."
        ));
        // Expected but absent.
        assert_eq!(
            line(&md, "| runner/committee_duty/1563 per validator-duty"),
            "| runner/committee_duty/1563 per validator-duty | not run | | |"
        );
        assert_eq!(
            line(&md, "| runner/committee_duty_unbatched/1000 (whole slot)"),
            "| runner/committee_duty_unbatched/1000 (whole slot) | not run | | |"
        );
        assert!(!md.contains("verification per validator"));
        assert!(!md.contains("## Other benchmarks"), "every bench had a section:\n{md}");
    }

    #[test]
    fn qbft_and_validation_floors_are_rsa() {
        let f = Fixture::new("rsa");
        f.bench("rsa/sign", None, 200_000.0, None);
        f.bench("rsa/verify", None, 10_000.0, None);
        f.bench("validation/rsa_verify_floor", None, 20_000.0, None);
        // n = 4: 9 signatures + 27 verifications = 1,800 + 270 = 2,070 µs.
        f.bench("qbft/cluster_decide", Some("4"), 4_140_000.0, None);
        f.bench("validation/decided_commit_3_signers", None, 90_000.0, None);
        f.bench("validation/throughput", Some("sequential"), 1_600_000.0, Some(64));
        f.bench("validation/throughput", Some("two_phase_2_workers"), 1_280_000.0, Some(64));
        let md = render(&Results::load(&f.0), "m");
        assert_eq!(
            line(&md, "| qbft/cluster_decide/4 (whole cluster)"),
            "| qbft/cluster_decide/4 (whole cluster) | 4.14 ms | 2.07 ms | 2.00x |"
        );
        assert_eq!(
            line(&md, "| qbft/cluster_decide/4 per decided instance"),
            "| qbft/cluster_decide/4 per decided instance | 1.03 ms | 517.5 µs | 2.00x |"
        );
        assert_eq!(
            line(&md, "| validation/decided_commit_3_signers"),
            "| validation/decided_commit_3_signers | 90.0 µs | 60.0 µs | 1.50x |"
        );
        assert_eq!(
            line(&md, "| validation/throughput/sequential per message"),
            "| validation/throughput/sequential per message | 25.0 µs | 20.0 µs | 1.25x |"
        );
        // Two workers: the floor is half the batch's RSA.
        assert_eq!(
            line(&md, "| validation/throughput/two_phase_2_workers (64 messages)"),
            "| validation/throughput/two_phase_2_workers (64 messages) | 1.28 ms | 640.0 µs | 2.00x |"
        );
        assert!(md.contains("40000 messages/s sequential, 50000 messages/s two-phase"));
        assert_eq!(
            line(&md, "| validation/consensus_prepare"),
            "| validation/consensus_prepare | not run | | |"
        );
    }

    #[test]
    fn every_sim_group_is_listed_and_missing_ones_say_not_run() {
        let f = Fixture::new("sim");
        f.bench("sim/duty-fake", Some("4ops/100vals"), 2e8, Some(32));
        f.bench("sim/duty-fake", Some("13ops/1000vals"), 8e9, Some(32));
        f.bench("sim/duty-fake", Some("7ops/100vals"), 4e8, Some(32));
        // A group added later (not known to the collector) shows in the same section.
        f.bench("sim/duty-fake-mainnet", Some("4ops/10000vals"), 1e9, Some(8));
        let md = render(&Results::load(&f.0), "m");
        let section = md.split("## Simulator").nth(1).expect("sim section");
        let rows: Vec<&str> = section.lines().filter(|l| l.starts_with("| sim/")).collect();
        assert_eq!(
            rows,
            [
                "| sim/duty-fake | 4 | 100 | 200.00 ms | 32 | 160 |",
                "| sim/duty-fake | 7 | 100 | 400.00 ms | 32 | 80.00 |",
                "| sim/duty-fake | 13 | 1000 | 8.00 s | 32 | 4.00 |",
                "| sim/duty-fake-mainnet | 4 | 10000 | 1.00 s | 8 | 8.00 |",
                "| sim/duty-real | not run | | | | |",
                "| sim/fake | not run | | | | |",
                "| sim/real | not run | | | | |",
            ]
        );
        assert!(!md.contains("## Other benchmarks"));
    }

    #[test]
    fn unknown_groups_go_to_the_generic_section() {
        let f = Fixture::new("other");
        f.bench("p2p/gossip_fanout", Some("8"), 5_000.0, Some(8));
        f.bench("hash/sha256", None, 700.0, None);
        f.bench("runner/proposer_duty", Some("1"), 2e6, None);
        f.memory(10_000, 7 * 1_048_576);
        let md = render(&Results::load(&f.0), "m");
        let other = md.split("## Other benchmarks").nth(1).expect("generic section");
        assert!(other.contains("| hash/sha256 | 700 ns | — |"));
        assert!(other.contains("| p2p/gossip_fanout/8 | 5.0 µs | 1600000/s |"));
        // An unknown id in a known group's namespace stays in that section.
        assert!(md.contains("| runner/proposer_duty/1 | 2.00 ms | — | — |"));
        assert!(!other.contains("proposer_duty"));
        assert_eq!(line(&md, "| 10000 |"), "| 10000 | 20 | 312 | 7.0 MiB | 3.5 MiB | 1.50 s |");
        assert_eq!(line(&md, "| 50000 |"), "| 50000 | not run | | | | |");
        assert_eq!(line(&md, "| bls/sign"), "| bls/sign | not run | | |");
    }

    #[test]
    fn an_empty_or_missing_directory_renders_every_section_as_not_run() {
        let md = render(&Results::load(Path::new("/nonexistent/criterion")), "m");
        for title in
            ["Crypto floor", "QBFT", "Committee duty", "Memory", "validation", "SSZ", "Simulator"]
        {
            assert!(md.contains(title), "{title}");
        }
        assert!(md.contains("| ssz/partial_signatures_1512 | not run | | |"));
    }
}
