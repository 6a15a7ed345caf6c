//! The seeded network emulator: per-link latency ranges, spikes (reordering), loss,
//! duplication and partitions that heal. After the heal time every link delivers every
//! message exactly once within its latency range.

use ssv_core::qbft::UnixMillis;
use ssv_core::types::OperatorId;

use super::options::NetFaults;
use super::rng::Rng;

/// A partition: from `start_ms` until `end_ms` (true time) operators on different sides
/// (bit `id` of `side`) cannot reach each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    /// When it starts.
    pub start_ms: UnixMillis,
    /// When it heals.
    pub end_ms: UnixMillis,
    /// Bit `id` set: operator `id` is on side B.
    pub side: u64,
}

impl Partition {
    fn splits(&self, now: UnixMillis, a: OperatorId, b: OperatorId) -> bool {
        now >= self.start_ms
            && now < self.end_ms
            && ((self.side >> (a & 63)) & 1) != ((self.side >> (b & 63)) & 1)
    }
}

/// Counters of what the network did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Copies scheduled for delivery.
    pub sent: u64,
    /// Messages lost to loss.
    pub lost: u64,
    /// Messages dropped by a partition.
    pub partitioned: u64,
    /// Extra copies.
    pub duplicated: u64,
}

/// The emulated network between operators `1..=n`.
#[derive(Debug, Clone)]
pub struct Network {
    faults: NetFaults,
    /// Per ordered link `(from, to)`, the latency range `(lo, hi)` in ms.
    links: Vec<(u64, u64)>,
    n: u64,
    partitions: Vec<Partition>,
    heal_ms: UnixMillis,
    rng: Rng,
    /// What it did so far.
    pub stats: NetStats,
}

impl Network {
    /// A network of `n` operators whose faults stop at `heal_ms`; partitions fall in
    /// `[start_ms, heal_ms)`.
    pub fn new(
        seed: u64,
        n: u64,
        faults: NetFaults,
        start_ms: UnixMillis,
        heal_ms: UnixMillis,
    ) -> Self {
        let mut rng = Rng::fork(seed, "network");
        let mut links = Vec::new();
        for _ in 0..n * n {
            let lo = rng.range(faults.latency_ms_min, faults.latency_ms_max);
            let hi = rng.range(lo, faults.latency_ms_max);
            links.push((lo, hi));
        }
        let mut partitions = Vec::new();
        if heal_ms > start_ms {
            for _ in 0..faults.partitions {
                let a = rng.range(start_ms, heal_ms - 1);
                let b = rng.range(a, heal_ms);
                // A random non-trivial split of operators 1..=n.
                let side = (rng.next_u64() << 1) & (((1u64 << n) - 1) << 1);
                partitions.push(Partition { start_ms: a, end_ms: b, side });
            }
        }
        Self { faults, links, n, partitions, heal_ms, rng, stats: NetStats::default() }
    }

    /// The partitions of the run.
    pub fn partitions(&self) -> &[Partition] {
        &self.partitions
    }

    /// When the faults stop.
    pub fn heal_ms(&self) -> UnixMillis {
        self.heal_ms
    }

    /// The delivery times of one message sent at `now` from `from` to `to`: none (lost),
    /// one, or two (duplicated). A node's message to itself arrives at once.
    pub fn route(
        &mut self,
        now: UnixMillis,
        from: OperatorId,
        to: OperatorId,
        times: &mut Vec<UnixMillis>,
    ) {
        times.clear();
        if from == to {
            times.push(now);
            self.stats.sent += 1;
            return;
        }
        let index = (from.saturating_sub(1) * self.n + to.saturating_sub(1)) as usize;
        let (lo, hi) = self.links.get(index).copied().unwrap_or((0, 0));
        let chaos = now < self.heal_ms;
        if chaos {
            if self.partitions.iter().any(|p| p.splits(now, from, to)) {
                self.stats.partitioned += 1;
                return;
            }
            if self.rng.chance(self.faults.loss_permille) {
                self.stats.lost += 1;
                return;
            }
        }
        let copies = if chaos && self.rng.chance(self.faults.duplicate_permille) { 2 } else { 1 };
        for _ in 0..copies {
            let mut delay = self.rng.range(lo, hi);
            if chaos && self.rng.chance(self.faults.spike_permille) {
                delay += self.rng.range(0, self.faults.spike_ms_max);
            }
            times.push(now + delay);
        }
        self.stats.sent += copies;
        self.stats.duplicated += copies - 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_heal_every_message_arrives_once_within_the_link_range() {
        let faults = NetFaults {
            latency_ms_min: 10,
            latency_ms_max: 50,
            spike_permille: 500,
            spike_ms_max: 9_000,
            loss_permille: 500,
            duplicate_permille: 500,
            partitions: 3,
        };
        let mut net = Network::new(1, 4, faults, 0, 1_000);
        let mut times = Vec::new();
        for i in 0..1_000 {
            net.route(1_000 + i, 1, 2, &mut times);
            assert_eq!(times.len(), 1);
            assert!((10..=50).contains(&(times[0] - 1_000 - i)));
        }
        let mut lost_or_dup = 0;
        for i in 0..1_000 {
            net.route(i % 1_000, 2, 3, &mut times);
            lost_or_dup += usize::from(times.len() != 1);
        }
        assert!(lost_or_dup > 100, "chaos should lose and duplicate");
    }
}
