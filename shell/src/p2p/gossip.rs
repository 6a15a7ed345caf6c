//! Gossipsub parameters of the Go SSV node (`network/topics/params/gossipsub.go`,
//! `peer_score.go`, `topic_score.go`, `msg_id.go`; ssvlabs/ssv v2.3.7).

use std::time::Duration;

use libp2p::gossipsub::{
    self, ConfigBuilder, IdentTopic, MessageId, PeerScoreParams, PeerScoreThresholds,
    TopicScoreParams, ValidationMode,
};
use ssv_core::validation::{MAX_ENCODED_MSG_SIZE, SUBNET_COUNT, topic_name};

/// Mesh degree `D`.
pub const MESH_N: usize = 8;
/// Mesh low watermark `Dlo`.
pub const MESH_N_LOW: usize = 6;
/// Mesh high watermark `Dhi`.
pub const MESH_N_HIGH: usize = 12;
/// Outbound mesh quota `Dout`.
pub const MESH_OUTBOUND_MIN: usize = 4;
/// Heartbeat interval.
pub const HEARTBEAT: Duration = Duration::from_millis(700);
/// Message-cache windows kept.
pub const HISTORY_LENGTH: usize = 6;
/// Message-cache windows gossiped.
pub const HISTORY_GOSSIP: usize = 4;
/// Most message ids in one IHAVE.
pub const MAX_IHAVE_LENGTH: usize = 1500;
/// Most IHAVEs accepted from a peer per heartbeat.
pub const MAX_IHAVE_MESSAGES: usize = 32;
/// Seen-message time to live: 550 heartbeats (385 s).
pub const SEEN_TTL: Duration = Duration::from_millis(700 * 550);
/// Peer-score thresholds (`peer_score.go`).
pub const GOSSIP_THRESHOLD: f64 = -4000.0;
/// Below this a peer's publishes are not forwarded.
pub const PUBLISH_THRESHOLD: f64 = -8000.0;
/// Below this a peer's RPCs are ignored.
pub const GRAYLIST_THRESHOLD: f64 = -16000.0;
/// Invalid messages (P4) that take a peer from 0 to the graylist (`maxInvalidMessagesAllowed`).
pub const MAX_INVALID_MESSAGES_ALLOWED: f64 = 20.0;

/// `ssv.v2.<n>` for `n` in `0..128`.
pub fn subnet_topic(subnet: u64) -> IdentTopic {
    IdentTopic::new(topic_name(subnet % SUBNET_COUNT))
}

/// The gossipsub message id: xxhash64 of the data written little-endian into 12 bytes (the
/// last 4 zero), as `msg_id.go`.
pub fn message_id(data: &[u8]) -> MessageId {
    let mut id = [0u8; 12];
    id[..8].copy_from_slice(&xxhash_rust::xxh64::xxh64(data, 0).to_le_bytes());
    MessageId::new(&id)
}

/// The gossipsub config: the parameters above, StrictNoSign (anonymous messages: no author,
/// sequence number or signature), explicit validation, max message size 9,589,483, and our
/// own messages relayed back treated as duplicates (no penalty for the relaying peer).
///
/// # Errors
/// A message when the parameters are inconsistent (they are not).
pub fn config() -> Result<gossipsub::Config, String> {
    ConfigBuilder::default()
        .mesh_n(MESH_N)
        .mesh_n_low(MESH_N_LOW)
        .mesh_n_high(MESH_N_HIGH)
        .mesh_outbound_min(MESH_OUTBOUND_MIN)
        .heartbeat_interval(HEARTBEAT)
        .history_length(HISTORY_LENGTH)
        .history_gossip(HISTORY_GOSSIP)
        .max_ihave_length(MAX_IHAVE_LENGTH)
        .max_ihave_messages(MAX_IHAVE_MESSAGES)
        .duplicate_cache_time(SEEN_TTL)
        .max_transmit_size(MAX_ENCODED_MSG_SIZE)
        .validation_mode(ValidationMode::Anonymous)
        // Our own message relayed back to us is a duplicate, as in go-libp2p (whose
        // self-origin check needs an author, which anonymous messages lack). Without this,
        // rust-libp2p finds the id among its published ones and penalises the relaying
        // peer as if it sent an invalid message: under relays (a dead operator, round
        // changes) honest peers reach the graylist and the committee stops deciding.
        .allow_self_origin(true)
        .validate_messages()
        .message_id_fn(|m| message_id(&m.data))
        .build()
        .map_err(|e| e.to_string())
}

/// Peer-score thresholds of the Go node.
pub fn score_thresholds() -> PeerScoreThresholds {
    PeerScoreThresholds {
        gossip_threshold: GOSSIP_THRESHOLD,
        publish_threshold: PUBLISH_THRESHOLD,
        graylist_threshold: GRAYLIST_THRESHOLD,
        accept_px_threshold: 100.0,
        opportunistic_graft_threshold: 5.0,
    }
}

/// Time-in-mesh quantum (`timeInMeshQuantum`, 12 s).
pub const TIME_IN_MESH_QUANTUM: Duration = Duration::from_secs(12);
/// Time-in-mesh cap in quanta (`timeInMeshQuantumCap / timeInMeshQuantum` = 3600 / 12).
pub const TIME_IN_MESH_CAP: f64 = 3600.0 / 12.0;
/// Highest time-in-mesh score of a topic (`maxTimeInMeshScore`).
pub const MAX_TIME_IN_MESH_SCORE: f64 = 10.0;
/// Highest first-delivery score of a topic (`maxFirstDeliveryScore`).
pub const MAX_FIRST_DELIVERY_SCORE: f64 = 80.0;
/// First-delivery counters decay to 1% over this many epochs (`firstDeliveryDecayEpochs`).
pub const FIRST_DELIVERY_DECAY_EPOCHS: f64 = 4.0;
/// Invalid-message counters decay to 1% over this many epochs (`invalidMessageDecayEpochs`).
pub const INVALID_MESSAGE_DECAY_EPOCHS: f64 = 100.0;
/// Go's `decayToZero`.
pub const DECAY_TO_ZERO: f64 = 0.01;

/// Go `scoreDecay`: the per-interval factor that takes a counter to 1% in `intervals`.
fn score_decay(intervals: f64) -> f64 {
    DECAY_TO_ZERO.powf(1.0 / intervals)
}

/// The score parameters of one subnet topic (Go `TopicParams`, `topic_score.go`):
/// - time in mesh (P1): quantum 12 s, cap 300 quanta, weight 10/300;
/// - first deliveries (P2): decay to 1% in 4 epochs, cap
///   `2 * expected messages per epoch / D / (1 - decay)` (1 when the rate is unknown),
///   weight 80 / cap;
/// - mesh deliveries (P3, P3b): off, as Go's `meshScoringEnabled = false`;
/// - invalid messages (P4): decay to 1% in 100 epochs, weight such that
///   [`MAX_INVALID_MESSAGES_ALLOWED`] rejected messages reach the graylist.
///
/// `expected_msg_rate` is the expected messages per second on the topic (Go computes it
/// from the committees on the subnet); 0 when unknown.
pub fn topic_score_params(epoch: Duration, expected_msg_rate: f64) -> TopicScoreParams {
    let topic_weight = 4.0 / SUBNET_COUNT as f64;
    let expected_per_epoch = expected_msg_rate * epoch.as_secs_f64();
    let first_decay = score_decay(FIRST_DELIVERY_DECAY_EPOCHS);
    let first_cap = if expected_per_epoch > 0.0 {
        2.0 * expected_per_epoch / MESH_N as f64 / (1.0 - first_decay)
    } else {
        1.0
    };
    TopicScoreParams {
        topic_weight,
        time_in_mesh_quantum: TIME_IN_MESH_QUANTUM,
        time_in_mesh_cap: TIME_IN_MESH_CAP,
        time_in_mesh_weight: MAX_TIME_IN_MESH_SCORE / TIME_IN_MESH_CAP,
        first_message_deliveries_decay: first_decay,
        first_message_deliveries_cap: first_cap,
        first_message_deliveries_weight: MAX_FIRST_DELIVERY_SCORE / first_cap,
        mesh_message_deliveries_weight: 0.0,
        mesh_failure_penalty_weight: 0.0,
        invalid_message_deliveries_weight: GRAYLIST_THRESHOLD
            / (MAX_INVALID_MESSAGES_ALLOWED * MAX_INVALID_MESSAGES_ALLOWED * topic_weight),
        invalid_message_deliveries_decay: score_decay(INVALID_MESSAGE_DECAY_EPOCHS),
        ..TopicScoreParams::default()
    }
}

/// Peer-score parameters after the Go node (`peer_score.go`): epoch decay interval, topic
/// score cap 32.72, IP colocation above 10 peers, and [`topic_score_params`] on every
/// subnet topic.
pub fn score_params(epoch: Duration) -> PeerScoreParams {
    let mut params = PeerScoreParams {
        topic_score_cap: 32.72,
        decay_interval: epoch,
        decay_to_zero: DECAY_TO_ZERO,
        retain_score: epoch * 100,
        app_specific_weight: 0.0,
        ip_colocation_factor_weight: -32.72,
        ip_colocation_factor_threshold: 10.0,
        ..PeerScoreParams::default()
    };
    for subnet in 0..SUBNET_COUNT {
        params.topics.insert(subnet_topic(subnet).hash(), topic_score_params(epoch, 0.0));
    }
    params
}

#[cfg(test)]
mod tests {
    #[test]
    fn message_id_is_xxhash64_le_in_12_bytes() {
        // xxhash64("") with seed 0 is ef46db3751d8e999.
        let id = super::message_id(b"");
        assert_eq!(hex::encode(&id.0), "99e9d85137db46ef00000000");
    }

    #[test]
    fn config_builds_and_scores_validate() {
        super::config().unwrap();
        super::score_params(std::time::Duration::from_secs(384)).validate().unwrap();
        super::score_thresholds().validate().unwrap();
        let epoch = std::time::Duration::from_secs(384);
        // Go's values: P1 weight 10/300 per 12 s quantum; P2 decay 0.01^(1/4), weight 80.
        let t = super::topic_score_params(epoch, 0.0);
        assert!((t.time_in_mesh_weight - 10.0 / 300.0).abs() < 1e-12);
        assert!((t.first_message_deliveries_decay - 0.316_227_766).abs() < 1e-6);
        assert_eq!(t.first_message_deliveries_weight, 80.0);
        // 20 invalid messages on one topic reach the graylist: 20^2 * w * topic weight.
        let p4 = 400.0 * t.invalid_message_deliveries_weight * t.topic_weight;
        assert!((p4 - super::GRAYLIST_THRESHOLD).abs() < 1e-6);
        let r = super::topic_score_params(epoch, 1.0);
        assert!(
            (r.first_message_deliveries_cap - 2.0 * 384.0 / 8.0 / (1.0 - 0.316_227_766)).abs()
                < 1e-3
        );
        r.validate().unwrap();
        assert_eq!(super::subnet_topic(5).to_string(), "ssv.v2.5");
    }
}
