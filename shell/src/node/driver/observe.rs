//! Metric hooks of the driver's feed loops: QBFT rounds and decide latency, and
//! partial-signature latency, observed from a runner's inputs and outputs.
//!
//! - Decide latency: slot start (the instance's height is its slot) to the `Decided` output.
//! - Partial-signature latency: the first partial-signature message (ours or a peer's) of a
//!   (runner, slot, message type) handed to the core, to the first accepted one of them
//!   after which the runner acted (reconstructed a quorum: a submission, a beacon request
//!   or a QBFT start).

use std::collections::BTreeMap;
use std::sync::Arc;

use ssv_core::qbft::UnixMillis;
use ssv_core::runner::{BeaconNetwork, Input, Output};
use ssv_core::types::{MessageId, MsgType, RunnerRole, Slot};

use crate::metrics::{Metrics, ROLES};

/// Partial-signature batches remembered, at most (a node sees a handful per runner and
/// slot; older entries are pruned per slot anyway).
const MAX_TRACKED: usize = 4096;

/// The metric label of a runner role (`None` for an unknown role value).
pub fn role_label(role: Option<RunnerRole>) -> &'static str {
    role.and_then(|r| ROLES.get(r as usize).copied()).unwrap_or("unknown")
}

/// What the observer needs of an input, taken before the core consumes it.
#[derive(Debug, Clone, Copy)]
pub struct Probe {
    role: &'static str,
    /// (message id, slot, partial-signature message type) of a partial-signature message.
    psig: Option<(MessageId, Slot, u64)>,
}

impl Probe {
    /// The probe of `input` (`None` for anything but a message).
    pub fn of(input: &Input) -> Option<Probe> {
        let Input::Message(m) = input else { return None };
        let role = role_label(m.ssv_message.msg_id.role());
        let psig = (m.ssv_message.msg_type == MsgType::PartialSignature as u64)
            .then(|| m.ssv_message.decode_partial_signatures().ok())
            .flatten()
            .map(|p| (m.ssv_message.msg_id, p.slot, p.msg_type));
        Some(Probe { role, psig })
    }
}

#[derive(Debug, Clone, Copy)]
struct Tracked {
    first_ms: UnixMillis,
    done: bool,
}

/// The driver's metric hooks.
#[derive(Debug)]
pub struct Observer {
    metrics: Metrics,
    network: Arc<BeaconNetwork>,
    psig: BTreeMap<(Slot, MessageId, u64), Tracked>,
}

impl Observer {
    /// Hooks recording into `metrics`.
    pub fn new(metrics: Metrics, network: Arc<BeaconNetwork>) -> Observer {
        Observer { metrics, network, psig: BTreeMap::new() }
    }

    /// Records what handling the probed input led to: `accepted` whether the core took it,
    /// `out` its outputs. A committee's start or timeout (no probe) can still decide.
    pub fn handled(
        &mut self,
        probe: Option<Probe>,
        default_role: &'static str,
        accepted: bool,
        out: &[Output],
        now: UnixMillis,
    ) {
        let role = probe.map_or(default_role, |p| p.role);
        for o in out {
            if let Output::Qbft(ssv_core::qbft::Output::Decided(d)) = o {
                let start = self.network.slot_start(d.height);
                let latency = now.saturating_sub(start) as f64 / 1000.0;
                self.metrics.decided(role, d.round, latency);
            }
        }
        let Some((msg_id, slot, kind)) = probe.and_then(|p| p.psig) else { return };
        if self.psig.len() >= MAX_TRACKED && !self.psig.contains_key(&(slot, msg_id, kind)) {
            return;
        }
        let t =
            self.psig.entry((slot, msg_id, kind)).or_insert(Tracked { first_ms: now, done: false });
        if accepted && !t.done && !out.is_empty() {
            t.done = true;
            let latency = now.saturating_sub(t.first_ms) as f64 / 1000.0;
            self.metrics
                .partial_signature_latency
                .get_or_create(&crate::metrics::RoleLabels { role: role.into() })
                .observe(latency);
        }
    }

    /// Adds `elapsed` (loop time inside the core for the probed input) to
    /// `ssv_core_seconds_total`.
    pub fn core_time(&self, probe: Option<&Probe>, elapsed: std::time::Duration) {
        let input = match probe {
            Some(p) if p.psig.is_some() => "partial_signature",
            Some(_) => "consensus",
            None => "other",
        };
        self.metrics
            .core_seconds
            .get_or_create(&crate::metrics::InputLabels { input: input.into() })
            .inc_by(elapsed.as_secs_f64());
    }

    /// Forgets partial-signature batches of slots before `keep_from`.
    pub fn prune(&mut self, keep_from: Slot) {
        self.psig = self.psig.split_off(&(keep_from, MessageId([0; 56]), 0));
    }
}
