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
/// sequence number or signature), explicit validation, max message size 9,589,483.
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

/// Peer-score parameters after the Go node: epoch decay interval, topic score cap 32.72,
/// IP colocation above 10 peers, and per subnet topic an invalid-message (P4) weight such
/// that [`MAX_INVALID_MESSAGES_ALLOWED`] rejected messages reach the graylist. Time-in-mesh
/// and delivery terms are off, as Go's `meshScoringEnabled = false`; first-delivery
/// rewards are left out.
pub fn score_params(epoch: Duration) -> PeerScoreParams {
    let mut params = PeerScoreParams {
        topic_score_cap: 32.72,
        decay_interval: epoch,
        decay_to_zero: 0.01,
        retain_score: epoch * 100,
        app_specific_weight: 0.0,
        ip_colocation_factor_weight: -32.72,
        ip_colocation_factor_threshold: 10.0,
        ..PeerScoreParams::default()
    };
    let topic_weight = 4.0 / SUBNET_COUNT as f64;
    for subnet in 0..SUBNET_COUNT {
        let topic = TopicScoreParams {
            topic_weight,
            time_in_mesh_weight: 0.0,
            first_message_deliveries_weight: 0.0,
            mesh_message_deliveries_weight: 0.0,
            mesh_failure_penalty_weight: 0.0,
            invalid_message_deliveries_weight: GRAYLIST_THRESHOLD
                / (MAX_INVALID_MESSAGES_ALLOWED * MAX_INVALID_MESSAGES_ALLOWED * topic_weight),
            // Decays to 1% over 100 epochs.
            invalid_message_deliveries_decay: 0.01f64.powf(1.0 / 100.0),
            ..TopicScoreParams::default()
        };
        params.topics.insert(subnet_topic(subnet).hash(), topic);
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
        assert_eq!(super::subnet_topic(5).to_string(), "ssv.v2.5");
    }
}
