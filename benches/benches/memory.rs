//! Peak heap of one operator holding the shares of 10,000 and 50,000 validators (in
//! committees of 500) while running one slot's committee duties (every 32nd validator:
//! 312 and 1,562 duties), measured with a counting global allocator. Also times that slot
//! on one thread. Bench mode writes `<criterion dir>/memory/<validators>.json` for the
//! collector; quick mode (`cargo test --benches`) runs 1,000 validators and writes nothing.
//!
//! Counted: operator 1's routers (all shares), runners, QBFT state, messages and the
//! shell's signing buffers, above the live heap before they are built. Not counted: the
//! bench's own set-up (the peers' recorded messages and share secrets).

use std::time::Instant;

use ssv_benches::committee_duty::DutySlot;
use ssv_benches::counting_alloc::CountingAlloc;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc::new();

fn main() {
    let bench = ssv_benches::bench_mode();
    let sizes: &[u64] = if bench { &[10_000, 50_000] } else { &[1_000] };
    for &validators in sizes {
        let slot = DutySlot::new(validators, 32);
        let base = ALLOC.live();
        ALLOC.reset_peak();
        let started = Instant::now();
        let mut committees = slot.operator_committees();
        let stats = slot.run_operator(&mut committees);
        let elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
        let peak = ALLOC.peak().saturating_sub(base);
        let retained = ALLOC.live().saturating_sub(base);
        assert_eq!(stats.submissions, slot.duties(), "every duty submitted: {stats:?}");
        let report = serde_json::json!({
            "validators": validators,
            "committees": slot.committees(),
            "duties": slot.duties(),
            "peak_bytes": peak,
            "retained_bytes": retained,
            "slot_ms": elapsed_ms,
        });
        println!("memory/{validators}: {report}");
        if bench {
            let dir = ssv_benches::criterion_dir().join("memory");
            std::fs::create_dir_all(&dir).expect("criterion dir");
            std::fs::write(dir.join(format!("{validators}.json")), report.to_string())
                .expect("write memory report");
        }
        drop(committees);
    }
}
