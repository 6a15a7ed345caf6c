//! Simulated slots per second of the whole-cluster simulator, for 4/7/10/13 operators and
//! 100/1,000 validators, in fake and real (RSA) crypto, on one core, with no faults.
//! The throughput criterion prints is in slots per second ("elem/s").
//!
//! `cargo bench -p ssv-benches --bench sim`; target: at least 1,000 slots/s in fake-crypto
//! mode for 4 operators and 100 validators.
//!
//! `sim/duty-fake` and `sim/duty-real` run the duty path (the core's `Committee` and
//! `CommitteeRunner`s against the in-memory beacon chain): every due attestation and
//! sync-committee message is share-signed, reconstructed and verified by every operator,
//! with hash-based stand-ins (`FakeBls`, through the runners' pluggable `ThresholdBls`) or
//! real BLS, so its cost grows with validators × operators. The duty path's chain has 2
//! slots per epoch and every validator in the sync committee, so each slot has about
//! 1.5 × validators due items plus one block proposal (a `ValidatorRunner` per proposer:
//! RANDAO, block from the chain, QBFT, signature), and an aggregator and a contribution
//! duty for every attester and sync member (selection proofs, then QBFT and the aggregate
//! for the selected) (mainnet density is about validators / 32). Throughput
//! counts slots with duties (epoch 0 has none).
//!
//! `sim/duty-fake-mainnet` runs the duty path at mainnet density (`Density::Mainnet`: 32
//! slots per epoch, proposers and the sync committee drawn from a registry of a million
//! validators), fake crypto: about validators / 32 attestations per slot and, at these
//! sizes, almost never a proposal or sync message. The target (1,000 slots/s for
//! 4 operators × 100 validators) is measured here. Real BLS at 1,000 validators takes tens of
//! seconds per slot; measure it with `ssv-sim run --duty-runners --crypto real
//! --validators 1000 --slots 3`.

// criterion_group! generates an undocumented pub fn.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use ssv_simulator::sim::runners::SLOTS_PER_EPOCH;
use ssv_simulator::sim::{CryptoMode, Density, SimOptions, run};

fn sim(c: &mut Criterion) {
    for (crypto, name, slots) in [(CryptoMode::Fake, "fake", 64), (CryptoMode::Real, "real", 4)] {
        let mut group = c.benchmark_group(format!("sim/{name}"));
        // Flat sampling: 10 samples of equal iteration counts (linear sampling needs at
        // least 55 iterations, too many for the real-crypto sizes).
        group.sample_size(10).measurement_time(Duration::from_secs(3));
        group.sampling_mode(SamplingMode::Flat);
        group.throughput(Throughput::Elements(slots));
        for operators in [4, 7, 10, 13] {
            for validators in [100, 1_000] {
                let options =
                    SimOptions { operators, validators, slots, crypto, ..SimOptions::default() };
                let id = BenchmarkId::from_parameter(format!("{operators}ops/{validators}vals"));
                group.bench_with_input(id, &options, |b, o| {
                    b.iter(|| {
                        let r = run(black_box(1), o, false, &mut |_| {}).expect("runs");
                        assert!(r.violation.is_none());
                        r.records
                    });
                });
            }
        }
        group.finish();
    }
    let full = ssv_benches::bench_mode();
    // Duty slots per iteration: (small size, large size), and the committee sizes run. The
    // dense chain runs an aggregator and a contribution duty for every attester and sync
    // member (about 100 contribution duties a slot at 100 validators), so few slots per
    // iteration keep `just bench` under 15 minutes (criterion runs at least 11
    // iterations): fake crypto at 100 validators (1,000 dense validators take about 9 s a
    // slot; `sim/duty-fake-mainnet` runs 1,000 at mainnet density), real BLS at 10
    // validators for 4 and 7 operators.
    for (crypto, name, duty_slots, sizes, operator_counts) in [
        (CryptoMode::Fake, "duty-fake", (4, 1), &[100u64][..], &[4u64, 7, 10, 13][..]),
        (CryptoMode::Real, "duty-real", (1, 1), &[10][..], &[4, 7][..]),
    ] {
        let mut group = c.benchmark_group(format!("sim/{name}"));
        group.sample_size(10).measurement_time(Duration::from_secs(5));
        group.sampling_mode(SamplingMode::Flat);
        for &operators in operator_counts {
            for &validators in sizes {
                // Quick mode (`cargo test --benches`): the smallest size only.
                if !full && (operators > 4 || validators > sizes[0]) {
                    continue;
                }
                let duty_slots = if validators > sizes[0] { duty_slots.1 } else { duty_slots.0 };
                let slots = SLOTS_PER_EPOCH + duty_slots;
                group.throughput(Throughput::Elements(duty_slots));
                let options = SimOptions {
                    operators,
                    validators,
                    slots,
                    crypto,
                    duty_runners: true,
                    ..SimOptions::default()
                };
                let id = BenchmarkId::from_parameter(format!("{operators}ops/{validators}vals"));
                group.bench_with_input(id, &options, |b, o| {
                    b.iter(|| {
                        let r = run(black_box(1), o, false, &mut |_| {}).expect("runs");
                        assert!(r.violation.is_none());
                        assert_eq!(r.submissions, r.due * o.operators);
                        r.records
                    });
                });
            }
        }
        group.finish();
    }
    // Mainnet density: epoch 0 (32 slots) has no duties; throughput counts the duty slots.
    let duty_slots = if full { 256 } else { 32 };
    let spe = Density::Mainnet.slots_per_epoch();
    let mut group = c.benchmark_group("sim/duty-fake-mainnet");
    group.sample_size(10).measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Elements(duty_slots));
    for (operators, validators) in [(4, 100), (4, 1_000), (7, 100), (13, 100)] {
        if !full && (operators, validators) != (4, 100) {
            continue;
        }
        let options = SimOptions {
            operators,
            validators,
            slots: spe + duty_slots,
            crypto: CryptoMode::Fake,
            duty_runners: true,
            density: Density::Mainnet,
            ..SimOptions::default()
        };
        let id = BenchmarkId::from_parameter(format!("{operators}ops/{validators}vals"));
        group.bench_with_input(id, &options, |b, o| {
            b.iter(|| {
                let r = run(black_box(1), o, false, &mut |_| {}).expect("runs");
                assert!(r.violation.is_none());
                assert_eq!(r.submissions, r.due * o.operators);
                r.records
            });
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = ssv_benches::criterion_config();
    targets = sim
}
criterion_main!(benches);
