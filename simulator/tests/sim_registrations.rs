//! Validator registrations and voluntary exits on the simulator's duty path: every
//! operator runs the core's registration and exit `ValidatorRunner`s (no consensus, one
//! round of partial signatures) on the node's schedule (every validator at start-up, the
//! first slot of epoch 1, then every ten epochs at its own slot) and for the exit the
//! options ask for; the chain checks every reconstructed signature, and the liveness
//! invariant holds every live node to every due registration and exit within its slot.

use ssv_simulator::sim::node::NodeInput;
use ssv_simulator::sim::trace::Record;
use ssv_simulator::sim::{
    Behaviour, CryptoMode, ExitAt, SimOptions, Trace, ViolationKind, replay, run,
};

/// 4 operators, the duty path (dense: 2 slots per epoch), registrations and aggregation on
/// (as `--aggregation`), and an exit of `exit` at slot 6.
fn world(validators: u64, slots: u64, exit: u64) -> SimOptions {
    SimOptions {
        operators: 4,
        validators,
        slots,
        duty_runners: true,
        aggregation: true,
        registrations: true,
        exit: Some(ExitAt { validator: exit, slot: 6 }),
        ..SimOptions::default()
    }
}

/// Distinct (epoch, validator) registrations due in slots `0..slots` of a dense world of
/// `validators` (the node's schedule, computed here independently of the simulator).
fn expected_registrations(validators: u64, slots: u64) -> u64 {
    let (spe, period) = (2, 10 * 2);
    let mut items = std::collections::BTreeSet::new();
    for slot in spe..slots {
        for v in 0..validators {
            if slot == spe || v % period == slot % period {
                items.insert((slot / spe, v));
            }
        }
    }
    items.len() as u64
}

#[test]
fn every_due_registration_and_the_exit_are_accepted_with_a_silent_operator() {
    for (crypto, validators, slots) in [(CryptoMode::Fake, 8, 12), (CryptoMode::Real, 2, 8)] {
        let o = SimOptions {
            byzantine: vec![Behaviour::Silent],
            crypto,
            ..world(validators, slots, 1)
        };
        let r = run(5, &o, false, &mut |_| {}).unwrap();
        assert!(r.violation.is_none(), "{crypto:?}: {:?}", r.violation);
        assert_eq!(r.live_nodes, 3);
        // Every registration due in a slot was accepted by the chain (real BLS under
        // DOMAIN_APPLICATION_BUILDER, or the stand-in check), the exit too.
        for s in &r.slots {
            assert_eq!(s.registrations.0, s.registrations.1, "{crypto:?} slot {}", s.slot);
            assert_eq!(s.exits.0, s.exits.1, "{crypto:?} slot {}", s.slot);
        }
        // At start-up (slot 2) every validator registers; nothing in epoch 0.
        assert_eq!(r.slots[2].registrations, (validators, validators), "{crypto:?}");
        assert_eq!(r.slots[0].registrations.0 + r.slots[1].registrations.0, 0);
        assert_eq!(r.registrations, expected_registrations(validators, slots), "{crypto:?}");
        assert_eq!(r.slots[6].exits, (1, 1), "{crypto:?}");
        assert_eq!(r.exits, 1, "{crypto:?}");
        // The three live operators each submitted every due item, registrations and the
        // exit included.
        assert_eq!(r.submissions, r.due * 3, "{crypto:?}");
    }
}

#[test]
fn registrations_and_exits_survive_the_fault_mix_up_to_f() {
    for b in [Behaviour::ConflictingPartials, Behaviour::Equivocate, Behaviour::Garbage] {
        let mut o = SimOptions {
            heal_slot: 4,
            crashes: 1,
            clock_skew_ms_max: 300,
            byzantine: vec![b],
            ..world(4, 12, 2)
        };
        o.net.loss_permille = 100;
        o.net.spike_permille = 100;
        o.net.spike_ms_max = 4_000;
        o.net.latency_ms_max = 300;
        o.beacon.slow_ms_max = 1_000;
        let r = run(11, &o, false, &mut |_| {}).unwrap();
        assert!(r.violation.is_none(), "{b:?}: {:?}", r.violation);
        // After the heal every registration and the exit are accepted.
        for s in &r.slots[5..] {
            assert_eq!(s.registrations.0, s.registrations.1, "{b:?} slot {}", s.slot);
            assert_eq!(s.exits.0, s.exits.1, "{b:?} slot {}", s.slot);
        }
        assert_eq!(r.exits, 1, "{b:?}");
    }
}

/// `trace` without the records `drop` selects.
fn without(trace: &Trace, drop: impl Fn(&NodeInput) -> bool) -> Trace {
    let mut t = trace.clone();
    t.records.retain(|r| !matches!(r, Record::Input { input, .. } if drop(input)));
    assert!(t.records.len() < trace.records.len(), "nothing dropped");
    t
}

#[test]
fn a_missed_registration_or_exit_is_a_liveness_violation() {
    let o = world(4, 10, 3);
    let r = run(2, &o, true, &mut |_| {}).unwrap();
    assert!(r.violation.is_none(), "{:?}", r.violation);
    let trace = Trace::from_bytes(r.trace.as_ref().unwrap()).unwrap();
    // The nodes never start their registrations: the first deadline after slot 2 (the
    // start-up registrations) fails, naming the registration role (5).
    let t = without(&trace, |i| matches!(i, NodeInput::RegistrationDuty { .. }));
    let v = replay(&t, true).unwrap().violation.expect("missed registrations");
    assert_eq!(v.kind, ViolationKind::Liveness);
    assert!(v.detail.starts_with("slot 2:") && v.detail.contains("role 5"), "{}", v.detail);
    // The nodes never start the exit: its deadline fails (role 6).
    let t = without(&trace, |i| matches!(i, NodeInput::ExitDuty { .. }));
    let v = replay(&t, true).unwrap().violation.expect("a missed exit");
    assert_eq!(v.kind, ViolationKind::Liveness);
    assert!(v.detail.starts_with("slot 6:") && v.detail.contains("role 6"), "{}", v.detail);
}

#[test]
fn without_a_quorum_no_registration_or_exit_is_submitted() {
    // Two silent operators of four: the two live ones cannot reconstruct any signature.
    // Liveness is not required then, but every registration and the exit were due.
    let o = SimOptions { byzantine: vec![Behaviour::Silent; 2], ..world(4, 10, 0) };
    let r = run(3, &o, false, &mut |_| {}).unwrap();
    assert!(r.violation.is_none(), "{:?}", r.violation);
    let due: u64 = r.slots.iter().map(|s| s.registrations.0).sum();
    let done: u64 = r.slots.iter().map(|s| s.registrations.1 + s.exits.1).sum();
    assert!(due >= 4, "{due}");
    assert_eq!((done, r.registrations, r.exits, r.submissions), (0, 0, 0, 0));
}

#[test]
fn runs_with_registrations_and_an_exit_replay_exactly() {
    let mut o = SimOptions {
        heal_slot: 3,
        clock_skew_ms_max: 200,
        byzantine: vec![Behaviour::ConflictingPartials],
        ..world(3, 10, 2)
    };
    o.net.duplicate_permille = 200;
    o.net.loss_permille = 50;
    let a = run(7, &o, true, &mut |_| {}).unwrap();
    let b = run(7, &o, false, &mut |_| {}).unwrap();
    assert!(a.violation.is_none(), "{:?}", a.violation);
    assert_eq!(a.trace_hash, b.trace_hash);
    // Another exit slot is another world.
    let other = SimOptions { exit: Some(ExitAt { validator: 2, slot: 7 }), ..o.clone() };
    assert_ne!(a.trace_hash, run(7, &other, false, &mut |_| {}).unwrap().trace_hash);
    let bytes = a.trace.expect("kept trace");
    let trace = Trace::from_bytes(&bytes).unwrap();
    assert_eq!(trace.header.options, o);
    let inputs = |f: fn(&NodeInput) -> bool| {
        trace
            .records
            .iter()
            .filter(|r| matches!(r, Record::Input { input, .. } if f(input)))
            .count()
    };
    // Every operator (the byzantine one too) got the registrations of slots 2..10 and the
    // exit at slot 6.
    assert!(inputs(|i| matches!(i, NodeInput::RegistrationDuty { .. })) >= 4);
    assert_eq!(inputs(|i| matches!(i, NodeInput::ExitDuty { slot: 6, validator: 2 })), 4);
    let again = replay(&trace, false).unwrap();
    assert!(again.reproduced(), "mismatching records {:?}", again.mismatches.first());
    assert!(again.violation.is_none());
    assert_eq!(again.bytes, bytes);
}
