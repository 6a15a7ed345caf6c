//! The duty path of the whole-cluster simulator: every operator runs the core's
//! `Committee` of `CommitteeRunner`s (attestations and sync-committee messages) and a
//! proposer `ValidatorRunner` per proposing validator (blocks) against
//! the in-memory beacon chain, which verifies every submission. Validator signatures are
//! hash-based stand-ins (fake crypto, the default) except where a test asks for real BLS
//! (`CryptoMode::Real`: real RSA and BLS, checked by the chain with blst). Invariants:
//! agreement and validity of the decided votes, no slashable attestation signed by an
//! honest node (no double vote, surround vote or double proposal), every submission
//! accepted by the chain, and every due duty submitted by
//! every live node before its deadline once the faults healed.

use ssv_simulator::sim::{
    Behaviour, CryptoMode, Density, SimOptions, Trace, ViolationKind, replay, run, shrink,
};

fn duties(operators: u64, validators: u64, slots: u64) -> SimOptions {
    SimOptions {
        operators,
        validators,
        slots,
        duty_runners: true,
        aggregation: true,
        ..SimOptions::default()
    }
}

/// Every fault until slot 5 of 10.
fn chaotic(operators: u64, byzantine: Vec<Behaviour>) -> SimOptions {
    let mut o = SimOptions {
        heal_slot: 5,
        crashes: 1,
        clock_skew_ms_max: 300,
        byzantine,
        ..duties(operators, 2, 10)
    };
    o.net.latency_ms_max = 300;
    o.net.loss_permille = 100;
    o.net.duplicate_permille = 100;
    o.net.spike_permille = 100;
    o.net.spike_ms_max = 5_000;
    o.net.partitions = 2;
    o.beacon.slow_ms_max = 1_000;
    o.beacon.lagging = 1;
    o
}

#[test]
fn every_node_submits_every_due_duty_and_the_chain_verifies_it() {
    for (n, validators) in [(4, 4), (7, 2)] {
        let o = duties(n, validators, 8);
        let r = run(1, &o, false, &mut |_| {}).unwrap();
        assert!(r.violation.is_none(), "n={n}: {:?}", r.violation);
        assert!(r.due > 0);
        // Every node submits every due item, and the chain accepted each one (a refused
        // submission would be a violation).
        assert_eq!(r.submissions, r.due * n, "n={n}");
        // Every slot after epoch 0 decided at every node.
        for s in &r.slots[2..] {
            assert_eq!(s.committee.0, n as usize, "n={n} slot {}", s.slot);
        }
    }
}

#[test]
fn faults_and_every_byzantine_behaviour_up_to_f_keep_the_duty_invariants() {
    for b in Behaviour::ALL {
        for (n, seed) in [(4, 31), (7, 32)] {
            let f = (n - 1) / 3;
            let o = chaotic(n, vec![b; f as usize]);
            let r = run(seed, &o, false, &mut |_| {}).unwrap();
            assert!(r.violation.is_none(), "{b:?} n={n} seed={seed}: {:?}", r.violation);
            assert!(r.submissions > 0, "{b:?} n={n}");
        }
    }
}

#[test]
fn conflicting_partial_signatures_are_dropped_and_duties_still_complete() {
    let o = SimOptions { byzantine: vec![Behaviour::ConflictingPartials], ..duties(4, 2, 8) };
    let r = run(9, &o, false, &mut |_| {}).unwrap();
    assert!(r.violation.is_none(), "{:?}", r.violation);
    // The three honest nodes submit everything; the byzantine one's own runner is honest
    // and submits too (its reconstruction uses the others' real partials).
    assert_eq!(r.submissions, r.due * 4);
}

#[test]
fn duty_runs_are_deterministic_and_replay_exactly() {
    let o = chaotic(4, vec![Behaviour::ConflictingPartials]);
    let a = run(7, &o, true, &mut |_| {}).unwrap();
    let b = run(7, &o, false, &mut |_| {}).unwrap();
    assert!(a.violation.is_none(), "{:?}", a.violation);
    assert_eq!(a.trace_hash, b.trace_hash);
    assert_ne!(a.trace_hash, run(8, &o, false, &mut |_| {}).unwrap().trace_hash);
    let bytes = a.trace.expect("kept trace");
    let trace = Trace::from_bytes(&bytes).unwrap();
    let again = replay(&trace, false).unwrap();
    assert!(again.reproduced(), "mismatching records {:?}", again.mismatches.first());
    assert_eq!(again.bytes, bytes);
}

#[test]
fn more_than_f_faulty_members_miss_duties_but_sign_nothing_bad() {
    let o = SimOptions { byzantine: vec![Behaviour::Silent; 2], ..duties(4, 2, 6) };
    let r = run(4, &o, false, &mut |_| {}).unwrap();
    assert!(r.violation.is_none(), "{:?}", r.violation);
    assert_eq!(r.submissions, 0);
}

#[test]
fn a_broken_quorum_on_the_duty_path_is_caught_and_shrunk() {
    // Quorum about f + 1 with equivocating members: two honest halves can decide
    // different votes; the invariants must notice, and the failure must shrink.
    let t = std::time::Instant::now();
    let mut caught = None;
    for seed in 0..20 {
        let mut o = chaotic(7, vec![Behaviour::Equivocate, Behaviour::Equivocate]);
        o.broken_quorum = true;
        o.slots = 6;
        o.heal_slot = 4;
        let r = run(seed, &o, true, &mut |_| {}).unwrap();
        if r.violation.as_ref().is_some_and(|v| v.kind.is_safety()) {
            caught = Some(r);
            break;
        }
    }
    let r = caught.expect("some seed breaks safety");
    let kind = r.violation.as_ref().unwrap().kind;
    assert_ne!(kind, ViolationKind::SubmissionInvalid, "{:?}", r.violation);
    eprintln!("caught {:?} in {:?}", r.violation, t.elapsed());
    let trace = Trace::from_bytes(r.trace.as_ref().unwrap()).unwrap();
    let shrunk = shrink(&trace).unwrap();
    eprintln!("shrunk {} -> {} in {:?}", shrunk.records_before, shrunk.records_after, t.elapsed());
    assert_eq!(shrunk.violation.kind, kind);
    assert!(shrunk.records_after < shrunk.records_before);
    let again = replay(&shrunk.trace, false).unwrap();
    assert!(again.reproduced());
    assert_eq!(again.violation.map(|v| v.kind), Some(kind));
}

#[test]
fn real_rsa_operator_signatures_on_the_duty_path() {
    let mut o = chaotic(4, vec![Behaviour::BadSignature]);
    o.crypto = CryptoMode::Real;
    o.slots = 6;
    o.heal_slot = 3;
    let r = run(8, &o, false, &mut |_| {}).unwrap();
    assert!(r.violation.is_none(), "{:?}", r.violation);
    assert!(r.nodes.bad_signature > 0);
    assert!(r.submissions > 0);
}

#[test]
fn real_bls_conflicting_partials_fail_the_batch_and_fall_back_per_validator() {
    // Real BLS: a byzantine member's partial signatures under a wrong key make a
    // committee's batched verification fail; the runner re-checks each validator, drops
    // the bad partials and still submits everything the chain accepts.
    let mut o = SimOptions { byzantine: vec![Behaviour::ConflictingPartials], ..duties(4, 2, 6) };
    o.crypto = CryptoMode::Real;
    let r = run(9, &o, false, &mut |_| {}).unwrap();
    assert!(r.violation.is_none(), "{:?}", r.violation);
    assert!(r.due > 0);
    assert_eq!(r.submissions, r.due * 4);
    // Some quorum held a bad partial: its message was refused (ReconstructSignature).
    assert!(r.nodes.refused > 0, "{:?}", r.nodes);
}

/// Slots from `from` on whose proposer is one of the cluster's validators (dense
/// density: every slot after epoch 0, since the registry is the cluster's validators).
fn proposer_slots(o: &SimOptions, from: u64) -> u64 {
    o.slots - from.max(o.density.slots_per_epoch())
}

#[test]
fn every_node_proposes_every_due_block_and_the_chain_verifies_it() {
    // Fake BLS (stand-ins, checked by the chain under DOMAIN_RANDAO and
    // DOMAIN_BEACON_PROPOSER) and real BLS (the chain's blst checks).
    for crypto in [CryptoMode::Fake, CryptoMode::Real] {
        let o = SimOptions { crypto, ..duties(4, 4, 6) };
        let r = run(3, &o, false, &mut |_| {}).unwrap();
        assert!(r.violation.is_none(), "{crypto:?}: {:?}", r.violation);
        assert_eq!(r.proposals, proposer_slots(&o, 0), "{crypto:?}");
        assert_eq!(r.submissions, r.due * 4, "{crypto:?}");
    }
}

#[test]
fn proposals_complete_under_faults_with_f_equivocating_leaders() {
    // An equivocating member's two replicas propose two different (valid) blocks for its
    // rounds; honest members sign one block per validator and slot (the double-proposal
    // invariant holds) and every proposal after the heal lands before its deadline (the
    // liveness invariant covers proposals).
    for (n, seed) in [(4, 41), (7, 42)] {
        let f = (n - 1) / 3;
        let o = chaotic(n, vec![Behaviour::Equivocate; f as usize]);
        let r = run(seed, &o, false, &mut |_| {}).unwrap();
        assert!(r.violation.is_none(), "n={n} seed={seed}: {:?}", r.violation);
        assert!(r.proposals >= proposer_slots(&o, o.heal_slot + 1), "n={n}: {}", r.proposals);
    }
    // Without network faults every slot's block is proposed despite the equivocator.
    let o = SimOptions { byzantine: vec![Behaviour::Equivocate], ..duties(4, 3, 10) };
    let r = run(5, &o, false, &mut |_| {}).unwrap();
    assert!(r.violation.is_none(), "{:?}", r.violation);
    assert_eq!(r.proposals, proposer_slots(&o, 0));
}

#[test]
fn mainnet_density_attests_once_an_epoch() {
    // 32 slots per epoch; proposers and sync committee drawn from a mainnet-size registry.
    let o = SimOptions { density: Density::Mainnet, ..duties(4, 64, 40) };
    let r = run(1, &o, false, &mut |_| {}).unwrap();
    assert!(r.violation.is_none(), "{:?}", r.violation);
    // Slots 32..40 are a quarter of epoch 1: about a quarter of the validators attest
    // (committees of two: each attester also aggregates).
    let aggregation: u64 = r.slots.iter().map(|s| s.aggregates.0 + s.contributions.0).sum();
    let attestations = r.due - aggregation;
    assert!((8..=24).contains(&attestations), "attestations {attestations}");
    assert_eq!(r.slots.iter().map(|s| s.aggregates.0).sum::<u64>(), attestations);
    assert_eq!(r.submissions, r.due * 4);
}

#[test]
fn every_selected_aggregator_and_sync_aggregator_submits_with_a_silent_operator() {
    // 64 validators: attestation committees of 32 (`is_aggregator` modulo 2), so the
    // selection proof selects some attesters and not others; every validator syncs.
    let o = SimOptions { byzantine: vec![Behaviour::Silent], ..duties(4, 64, 10) };
    let r = run(3, &o, false, &mut |_| {}).unwrap();
    assert!(r.violation.is_none(), "{:?}", r.violation);
    let (mut aggregates, mut contributions) = (0, 0);
    for s in &r.slots {
        // Every due aggregate and contribution was accepted by the chain (the liveness
        // invariant also held each node to it, contributions within the slot).
        assert_eq!(s.aggregates.0, s.aggregates.1, "slot {}", s.slot);
        assert_eq!(s.contributions.0, s.contributions.1, "slot {}", s.slot);
        aggregates += s.aggregates.0;
        contributions += s.contributions.0;
    }
    // About half of the 32 attesters of a slot are selected: some, not all.
    let attesting_slots = o.slots - o.density.slots_per_epoch();
    assert!(aggregates > attesting_slots * 4, "{aggregates}");
    assert!(aggregates < attesting_slots * 32, "{aggregates}");
    assert!(contributions > 0);
    // The three live operators submitted every due item, aggregates and contributions
    // included.
    assert_eq!(r.live_nodes, 3);
    assert_eq!(r.submissions, r.due * 3);
}

#[test]
fn a_sync_aggregator_selected_in_several_subcommittees_submits_one_contribution_for_each() {
    use ssv_simulator::sim::aggregation::{due_aggregation, is_contribution};
    use ssv_simulator::sim::runners::{beacon, cluster_keys};
    use ssv_simulator::sim::trace::GENESIS_MS;
    use std::collections::BTreeSet;
    // 16 validators at dense density: each holds about 32 sync positions, over two
    // subcommittees or more in its first 13.
    let o = duties(4, 16, 12);
    let seed = 1;
    let keys = cluster_keys(o.operators, o.validators).unwrap();
    let chain = beacon(seed, GENESIS_MS, o.slot_ms, &keys, o.density).unwrap();
    let (mut items, mut pairs) = (0, BTreeSet::new());
    for slot in 0..o.slots {
        for (s, role, v) in due_aggregation(&chain, &keys, o.crypto, slot).iter() {
            if is_contribution(*role) {
                items += 1;
                pairs.insert((*s, *v));
            }
        }
    }
    assert!(items > pairs.len(), "no validator selected in two subcommittees of a slot");
    let r = run(seed, &o, false, &mut |_| {}).unwrap();
    assert!(r.violation.is_none(), "{:?}", r.violation);
    // The chain accepted a contribution of every (validator, selected subcommittee), and
    // every node submitted each (the liveness invariant also held them to it).
    assert_eq!(r.slots.iter().map(|s| s.contributions.0).sum::<u64>(), items as u64);
    for s in &r.slots {
        assert_eq!(s.contributions.0, s.contributions.1, "slot {}", s.slot);
    }
    assert_eq!(r.submissions, r.due * 4);
}

#[test]
fn late_messages_are_counted_apart_from_refused_ones() {
    // Without faults nothing is refused; the stragglers after a runner decided or
    // finished (the quorum's last messages, a sync aggregator's operators' proofs after
    // none was selected) are counted as late.
    let r = run(1, &duties(4, 16, 8), false, &mut |_| {}).unwrap();
    assert!(r.violation.is_none(), "{:?}", r.violation);
    assert_eq!(r.nodes.refused, 0, "{:?}", r.nodes);
    assert!(r.nodes.late > r.nodes.accepted / 10, "{:?}", r.nodes);
}

/// The options `ssv-sim run --swarm --seed <seed> --duty-runners --aggregation
/// --validators 8 --slots <slots>` runs.
fn forced_swarm(seed: u64, slots: u64) -> SimOptions {
    SimOptions {
        duty_runners: true,
        aggregation: true,
        validators: 8,
        slots,
        ..SimOptions::swarm(seed, CryptoMode::Fake)
    }
}

#[test]
fn an_equivocators_decided_message_reaches_the_whole_committee() {
    // Seed 111: 4 operators, operator 4 equivocates. At slot 11 its replica talking to
    // operators 1 and 3 completes their commit quorum and sends them its decided message;
    // they decide from it and, as the spec's `UponDecided`, do not send it on. Operator
    // 2 prepared the other replica's value and has two of the three commits: without the
    // decided message (which gossip relays to it) it never decides the slot.
    let o = forced_swarm(111, 12);
    assert_eq!(o.byzantine, vec![Behaviour::Equivocate]);
    let r = run(111, &o, false, &mut |_| {}).unwrap();
    assert!(r.violation.is_none(), "{:?}", r.violation);
    assert_eq!(r.slots[11].committee.0, r.live_nodes);
}

#[test]
fn an_aggregation_duty_ended_by_the_next_slots_is_owed_only_in_its_window() {
    // Each validator of the 8 attests every 2-slot epoch and syncs every slot, so its
    // aggregator or contribution duty often ends when the next slot's starts. Seed 173
    // (4 operators, one erroring beacon node): slot 10's committee submits after two
    // thirds of the slot, and a contribution misses the slot's end. Seed 178 (13
    // operators, 4 byzantine): slot 7's committee is timely, but the first aggregation
    // round's leader is silent, and an aggregate decided in round 2 has one partial
    // signature to go when the next slot's aggregator duty starts.
    for (seed, slots) in [(173, 11), (178, 9)] {
        let r = run(seed, &forced_swarm(seed, slots), false, &mut |_| {}).unwrap();
        assert!(r.violation.is_none(), "seed {seed}: {:?}", r.violation);
    }
}
