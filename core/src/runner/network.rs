//! The beacon network a runner works on: slot arithmetic, fork versions for signing
//! domains, and the data version (fork) of an epoch. Pure data, no clock.

use crate::beacon::DataVersion;
use crate::crypto::signing::{BeaconDomainType, Domain, ForkVersion, compute_domain};
use crate::qbft::UnixMillis;
use crate::types::{Epoch, Root, Slot};

/// A beacon network (`types.BeaconNetwork` plus the beacon node's `DomainData` and
/// `DataVersion`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BeaconNetwork {
    /// Slots per epoch (32 on mainnet).
    pub slots_per_epoch: u64,
    /// Slot duration in milliseconds (12_000 on mainnet).
    pub slot_ms: u64,
    /// Genesis time, Unix milliseconds.
    pub genesis_ms: UnixMillis,
    /// The genesis validators root mixed into every signing domain.
    pub genesis_validators_root: Root,
    /// `(first epoch, fork version)` ascending: the fork version used for the domain of
    /// a signature at an epoch. When it lists every fork from phase0 in fork order (as the
    /// Beacon API fork schedule does), entry 0 is the genesis fork and entry 3 Capella's,
    /// which the builder and voluntary-exit domains use (see [`BeaconNetwork::domain`]).
    pub fork_versions: Vec<(Epoch, ForkVersion)>,
    /// `(first epoch, data version)` ascending: which fork's data types an epoch uses.
    pub data_versions: Vec<(Epoch, DataVersion)>,
    /// Sync-committee positions per subnet (`SYNC_COMMITTEE_SIZE / SYNC_COMMITTEE_SUBNET_COUNT`,
    /// 128 on mainnet): `SyncCommitteeSubnetID(index) = index / this`.
    pub sync_subcommittee_size: u64,
}

impl BeaconNetwork {
    /// `EstimatedEpochAtSlot`.
    pub fn epoch_at_slot(&self, slot: Slot) -> Epoch {
        slot.checked_div(self.slots_per_epoch).unwrap_or(0)
    }

    /// The first slot of `epoch`.
    pub fn first_slot(&self, epoch: Epoch) -> Slot {
        epoch.saturating_mul(self.slots_per_epoch)
    }

    /// `EstimatedSlotAtTime(now)`: 0 before genesis.
    pub fn slot_at(&self, now: UnixMillis) -> Slot {
        now.saturating_sub(self.genesis_ms).checked_div(self.slot_ms).unwrap_or(0)
    }

    /// `EstimatedCurrentEpoch` at `now`.
    pub fn epoch_at(&self, now: UnixMillis) -> Epoch {
        self.epoch_at_slot(self.slot_at(now))
    }

    /// The start of `slot`, Unix milliseconds.
    pub fn slot_start(&self, slot: Slot) -> UnixMillis {
        self.genesis_ms.saturating_add(slot.saturating_mul(self.slot_ms))
    }

    /// `EpochStartTime(epoch)` in Unix seconds.
    pub fn epoch_start_secs(&self, epoch: Epoch) -> u64 {
        self.slot_start(self.first_slot(epoch)) / 1000
    }

    /// `SyncCommitteeSubnetID(index)`: the subnet of a sync-committee position.
    pub fn sync_subnet(&self, index: u64) -> u64 {
        index.checked_div(self.sync_subcommittee_size).unwrap_or(index)
    }

    /// `DataVersion(epoch)`: the latest fork whose first epoch is at most `epoch`.
    pub fn data_version(&self, epoch: Epoch) -> DataVersion {
        self.data_versions
            .iter()
            .rev()
            .find(|(e, _)| *e <= epoch)
            .map_or(DataVersion::Phase0, |(_, v)| *v)
    }

    /// `DomainData(epoch, domain_type)`: the fork version active at `epoch` with the
    /// genesis validators root, except (as the Go node's beacon client) the builder domain,
    /// which uses the genesis fork version and a zero root (builder-specs), and voluntary
    /// exits from Deneb on, which use Capella's fork version (EIP-7044) when
    /// `fork_versions` lists Capella (four entries or more).
    pub fn domain(&self, epoch: Epoch, domain_type: BeaconDomainType) -> Domain {
        if domain_type == BeaconDomainType::APPLICATION_BUILDER {
            let genesis = self.fork_versions.first().map_or([0; 4], |(_, v)| *v);
            return compute_domain(domain_type, genesis, &[0; 32]);
        }
        let capella = self.fork_versions.get(3).map(|(_, v)| *v);
        let fork = match capella {
            Some(v)
                if domain_type == BeaconDomainType::VOLUNTARY_EXIT
                    && self.data_version(epoch) >= DataVersion::Deneb =>
            {
                v
            }
            _ => self
                .fork_versions
                .iter()
                .rev()
                .find(|(e, _)| *e <= epoch)
                .map_or([0; 4], |(_, v)| *v),
        };
        compute_domain(domain_type, fork, &self.genesis_validators_root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mainnet_like() -> BeaconNetwork {
        BeaconNetwork {
            slots_per_epoch: 32,
            slot_ms: 12_000,
            genesis_ms: 1_606_824_023_000,
            genesis_validators_root: [0; 32],
            fork_versions: vec![(0, [0; 4])],
            data_versions: vec![(0, DataVersion::Phase0), (10, DataVersion::Electra)],
            sync_subcommittee_size: 128,
        }
    }

    #[test]
    fn sync_subnet_is_position_over_subcommittee_size() {
        let n = mainnet_like();
        assert_eq!(n.sync_subnet(0), 0);
        assert_eq!(n.sync_subnet(127), 0);
        assert_eq!(n.sync_subnet(128), 1);
        assert_eq!(n.sync_subnet(511), 3);
    }

    #[test]
    fn epoch_start_is_genesis_plus_epoch_duration_in_seconds() {
        let n = mainnet_like();
        assert_eq!(n.epoch_start_secs(0), 1_606_824_023);
        assert_eq!(n.epoch_start_secs(2), 1_606_824_023 + 2 * 32 * 12);
    }

    #[test]
    fn data_version_is_the_latest_fork_at_or_before_the_epoch() {
        let n = mainnet_like();
        assert_eq!(n.data_version(9), DataVersion::Phase0);
        assert_eq!(n.data_version(10), DataVersion::Electra);
        assert_eq!(n.epoch_at_slot(n.first_slot(10)), 10);
    }

    #[test]
    fn builder_and_exit_domains_follow_builder_specs_and_eip_7044() {
        // Mainnet fork versions, every fork from phase0 listed (as the fork schedule is).
        let versions = [[0, 0, 0, 0], [1, 0, 0, 0], [2, 0, 0, 0], [3, 0, 0, 0], [4, 0, 0, 0]];
        let n = BeaconNetwork {
            genesis_validators_root: [9; 32],
            fork_versions: versions.iter().enumerate().map(|(i, v)| (i as u64 * 10, *v)).collect(),
            data_versions: vec![
                (0, DataVersion::Phase0),
                (10, DataVersion::Altair),
                (20, DataVersion::Bellatrix),
                (30, DataVersion::Capella),
                (40, DataVersion::Deneb),
            ],
            ..mainnet_like()
        };
        let gvr = [9; 32];
        assert_eq!(
            n.domain(45, BeaconDomainType::APPLICATION_BUILDER),
            compute_domain(BeaconDomainType::APPLICATION_BUILDER, [0, 0, 0, 0], &[0; 32])
        );
        assert_eq!(
            n.domain(45, BeaconDomainType::VOLUNTARY_EXIT),
            compute_domain(BeaconDomainType::VOLUNTARY_EXIT, [3, 0, 0, 0], &gvr)
        );
        // Before Deneb an exit uses the fork of its epoch, like every other domain.
        assert_eq!(
            n.domain(25, BeaconDomainType::VOLUNTARY_EXIT),
            compute_domain(BeaconDomainType::VOLUNTARY_EXIT, [2, 0, 0, 0], &gvr)
        );
        assert_eq!(
            n.domain(45, BeaconDomainType::RANDAO),
            compute_domain(BeaconDomainType::RANDAO, [4, 0, 0, 0], &gvr)
        );
    }
}
