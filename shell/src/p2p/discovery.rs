//! Peer discovery with discv5, as the Go node (ssvlabs/ssv v2.3.7
//! `network/discovery/{dv5_service,dv5_filters,enode,node_record,options}.go`,
//! `network/records/entries.go`).
//!
//! - Packets carry the protocol id `ssvdv5` instead of `discv5` (`DefaultSSVProtocolID`).
//! - The node's ENR has the standard `id/secp256k1/ip/tcp/udp` entries, `quic` when it
//!   listens on QUIC, and the SSV entries: `ssv` = true, `domaintype` and `next_domaintype`
//!   (4 bytes each, RLP byte strings) and `subnets` (SSZ `Bitvector[128]`, 16 bytes, subnet
//!   `i` in bit `i % 8` of byte `i / 8`).
//! - A discovered node is dialed only if it is an SSV node of our domain type that shares at
//!   least one subnet with us (`checkPeer` and `sharedSubnetsFilter(1)`), has a dialable
//!   address, and is not connected already.
//!
//! Discovery is optional: a devnet with static peers runs without it (no bootnodes, no
//! discovery).

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use discv5::enr::{CombinedKey, CombinedPublicKey, EnrPublicKey as _, NodeId};
use discv5::{ConfigBuilder, Discv5, Enr, ListenConfig, ProtocolIdentity};
use libp2p::identity::Keypair;
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};
use ssv_core::types::DomainType;
use ssv_core::validation::SUBNET_COUNT;

use super::NetworkError;
use super::swarm::P2pHandle;

/// ENR key marking an SSV node (RLP `true`).
pub const ENR_KEY_SSV: &str = "ssv";
/// ENR key of the node's domain type (4 bytes).
pub const ENR_KEY_DOMAIN_TYPE: &str = "domaintype";
/// ENR key of the node's next domain type (4 bytes; equal to the current one outside a fork).
pub const ENR_KEY_NEXT_DOMAIN_TYPE: &str = "next_domaintype";
/// ENR key of the node's subnets (SSZ `Bitvector[128]`).
pub const ENR_KEY_SUBNETS: &str = "subnets";
/// ENR key of the node's QUIC port (UDP), as Ethereum consensus clients write it.
pub const ENR_KEY_QUIC: &str = "quic";
/// A peer that was dialed but did not connect is dialed again after this.
pub const REDIAL_AFTER: Duration = Duration::from_secs(30);

/// The discv5 protocol identity of SSV: protocol id `ssvdv5`, version 1.
#[derive(Debug, Clone, Copy)]
pub struct SsvProtocolId;

impl ProtocolIdentity for SsvProtocolId {
    const PROTOCOL_ID_BYTES: [u8; 6] = *b"ssvdv5";
    const PROTOCOL_VERSION_BYTES: [u8; 2] = 1u16.to_be_bytes();
}

/// A set of subnets: 128 bits, subnet `i` in bit `i % 8` of byte `i / 8` (the Go node's
/// `commons.Subnets`, the SSZ `Bitvector[128]` of the ENR, and the 32 hex characters of the
/// handshake metadata).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Subnets(pub [u8; 16]);

impl Subnets {
    /// The set holding `subnets` (each taken modulo 128).
    pub fn from_list(subnets: &[u64]) -> Self {
        let mut s = Self::default();
        for subnet in subnets {
            s.set(*subnet);
        }
        s
    }

    /// Adds `subnet` (modulo 128).
    pub fn set(&mut self, subnet: u64) {
        let i = subnet % SUBNET_COUNT;
        if let Some(byte) = self.0.get_mut((i / 8) as usize) {
            *byte |= 1 << (i % 8);
        }
    }

    /// Removes `subnet` (modulo 128).
    pub fn clear(&mut self, subnet: u64) {
        let i = subnet % SUBNET_COUNT;
        if let Some(byte) = self.0.get_mut((i / 8) as usize) {
            *byte &= !(1 << (i % 8));
        }
    }

    /// Whether `subnet` is in the set.
    pub fn is_set(&self, subnet: u64) -> bool {
        subnet < SUBNET_COUNT
            && self.0.get((subnet / 8) as usize).is_some_and(|b| b & (1 << (subnet % 8)) != 0)
    }

    /// Whether the two sets share at least one subnet.
    pub fn shares_any(&self, other: &Self) -> bool {
        self.0.iter().zip(other.0.iter()).any(|(a, b)| a & b != 0)
    }

    /// Whether no subnet is set.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|b| *b == 0)
    }

    /// The subnets in the set, ascending.
    pub fn list(&self) -> Vec<u64> {
        (0..SUBNET_COUNT).filter(|s| self.is_set(*s)).collect()
    }

    /// 32 lowercase hex characters, no `0x` (Go `Subnets.String`).
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses [`Subnets::to_hex`] (an optional `0x` prefix is allowed, the empty string is
    /// the empty set, as Go `SubnetsFromString`).
    ///
    /// # Errors
    /// A message when the text is not 16 bytes of hex.
    pub fn from_hex(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Ok(Self::default());
        }
        let bytes = hex::decode(text.trim_start_matches("0x")).map_err(|e| e.to_string())?;
        let bytes: [u8; 16] =
            bytes.try_into().map_err(|b: Vec<u8>| format!("subnets of {} bytes", b.len()))?;
        Ok(Self(bytes))
    }
}

/// How to run discovery.
#[derive(Debug, Clone)]
pub struct DiscoveryConfig {
    /// UDP address discv5 binds (IPv4), e.g. `0.0.0.0:12001`.
    pub listen: SocketAddr,
    /// The IPv4 address written into the ENR (what peers dial).
    pub advertise_ip: Ipv4Addr,
    /// Bootnode ENRs (`enr:-…`). Discovery does not start without any.
    pub bootnodes: Vec<String>,
    /// The node's domain type (`domaintype` and `next_domaintype`).
    pub domain: DomainType,
    /// The node's subnets (`subnets`).
    pub subnets: Subnets,
    /// Pause between two lookups.
    pub interval: Duration,
}

/// Why a discovered node is not dialed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Skip {
    /// No `ssv` = true entry.
    #[error("not an SSV node")]
    NotSsv,
    /// No or another `domaintype`.
    #[error("domain type mismatch")]
    DomainType,
    /// No `subnets` entry, no subnet set, or none shared with us.
    #[error("no shared subnets")]
    NoSharedSubnets,
    /// No secp256k1 key or no TCP/QUIC port.
    #[error("not dialable")]
    NotDialable,
}

/// The discv5 key of the node's libp2p identity (the same secp256k1 key, so the ENR's node
/// and the libp2p peer are one).
///
/// # Errors
/// [`NetworkError::Key`] when the identity is not secp256k1.
pub fn enr_key(keypair: &Keypair) -> Result<CombinedKey, NetworkError> {
    let secp = keypair
        .clone()
        .try_into_secp256k1()
        .map_err(|_| NetworkError::Key("discovery needs a secp256k1 network key".into()))?;
    let mut secret = secp.secret().to_bytes();
    CombinedKey::secp256k1_from_bytes(&mut secret).map_err(|e| NetworkError::Key(e.to_string()))
}

/// The node's ENR: `ip`, `udp` (discv5), `tcp`/`quic` (libp2p) and the SSV entries.
///
/// # Errors
/// [`NetworkError::Key`] for a non-secp256k1 identity; [`NetworkError::Transport`] when
/// the record cannot be signed.
pub fn local_enr(
    keypair: &Keypair,
    ip: Ipv4Addr,
    udp: u16,
    tcp: Option<u16>,
    quic: Option<u16>,
    domain: DomainType,
    subnets: &Subnets,
) -> Result<(Enr, CombinedKey), NetworkError> {
    let key = enr_key(keypair)?;
    let mut builder = Enr::builder();
    builder.ip4(ip).udp4(udp);
    if let Some(tcp) = tcp {
        builder.tcp4(tcp);
    }
    if let Some(quic) = quic {
        builder.add_value(ENR_KEY_QUIC, &quic);
    }
    builder
        .add_value(ENR_KEY_SSV, &true)
        .add_value(ENR_KEY_DOMAIN_TYPE, &domain.0.as_slice())
        .add_value(ENR_KEY_NEXT_DOMAIN_TYPE, &domain.0.as_slice())
        .add_value(ENR_KEY_SUBNETS, &subnets.0.as_slice());
    let enr = builder.build(&key).map_err(|e| NetworkError::Transport(e.to_string()))?;
    Ok((enr, key))
}

/// The libp2p peer id of a node record (its secp256k1 key).
pub fn peer_id(enr: &Enr) -> Option<PeerId> {
    match enr.public_key() {
        CombinedPublicKey::Secp256k1(_) => {
            let bytes = enr.public_key().encode();
            let key = libp2p::identity::secp256k1::PublicKey::try_from_bytes(&bytes).ok()?;
            Some(libp2p::identity::PublicKey::from(key).to_peer_id())
        }
        _ => None,
    }
}

/// The address to dial a node at: QUIC when it has a `quic` port, else TCP; with the peer id.
pub fn dial_addr(enr: &Enr) -> Option<Multiaddr> {
    let ip = enr.ip4()?;
    let peer = peer_id(enr)?;
    let quic = enr.get_decodable::<u16>(ENR_KEY_QUIC).and_then(Result::ok);
    let mut addr = Multiaddr::empty().with(Protocol::Ip4(ip));
    addr = match (quic, enr.tcp4()) {
        (Some(port), _) => addr.with(Protocol::Udp(port)).with(Protocol::QuicV1),
        (None, Some(port)) => addr.with(Protocol::Tcp(port)),
        (None, None) => return None,
    };
    Some(addr.with(Protocol::P2p(peer)))
}

/// The SSV entries of a record.
pub fn domain_type(enr: &Enr, key: &str) -> Option<DomainType> {
    let bytes = enr.get_decodable::<[u8; 4]>(key)?.ok()?;
    Some(DomainType(bytes))
}

/// The `subnets` entry of a record.
pub fn subnets(enr: &Enr) -> Option<Subnets> {
    let bytes = enr.get_decodable::<[u8; 16]>(ENR_KEY_SUBNETS)?.ok()?;
    Some(Subnets(bytes))
}

/// Whether to dial a discovered node (see the module doc).
///
/// # Errors
/// The first [`Skip`] reason that applies.
pub fn check(enr: &Enr, domain: DomainType, ours: &Subnets) -> Result<Multiaddr, Skip> {
    if enr.get_decodable::<bool>(ENR_KEY_SSV).and_then(Result::ok) != Some(true) {
        return Err(Skip::NotSsv);
    }
    if domain_type(enr, ENR_KEY_DOMAIN_TYPE) != Some(domain) {
        return Err(Skip::DomainType);
    }
    match subnets(enr) {
        Some(theirs) if theirs.shares_any(ours) => {}
        _ => return Err(Skip::NoSharedSubnets),
    }
    dial_addr(enr).ok_or(Skip::NotDialable)
}

/// A running discovery service that dials the suitable nodes it finds.
pub struct Discovery {
    /// The node's own record at start.
    pub local_enr: Enr,
    discv5: Arc<Discv5<SsvProtocolId>>,
    task: tokio::task::JoinHandle<()>,
}

impl Discovery {
    /// Starts discv5 on `config.listen`, adds the bootnodes, and looks up random node ids
    /// every `config.interval`, dialing through `handle` every node [`check`] accepts that
    /// is not connected (again after [`REDIAL_AFTER`] if it did not connect).
    ///
    /// # Errors
    /// [`NetworkError::Key`], a bootnode that does not parse, or a socket that cannot be
    /// bound ([`NetworkError::Transport`]).
    pub async fn spawn(
        keypair: &Keypair,
        config: DiscoveryConfig,
        tcp: Option<u16>,
        quic: Option<u16>,
        handle: P2pHandle,
        subnets: tokio::sync::watch::Receiver<Subnets>,
    ) -> Result<Self, NetworkError> {
        let transport = |e: &dyn std::fmt::Display| NetworkError::Transport(e.to_string());
        let (enr, key) = local_enr(
            keypair,
            config.advertise_ip,
            config.listen.port(),
            tcp,
            quic,
            config.domain,
            &config.subnets,
        )?;
        let discv5 = start(enr.clone(), key, config.listen).await?;
        for text in &config.bootnodes {
            let boot: Enr = text.parse().map_err(|e: String| transport(&e))?;
            discv5.add_enr(boot).map_err(|e| transport(&e))?;
        }
        let discv5 = Arc::new(discv5);
        let task = tokio::spawn(run(Arc::clone(&discv5), config, handle, subnets));
        Ok(Self { local_enr: enr, discv5, task })
    }

    /// The node's record now (its `subnets` follow the subnets joined).
    pub fn enr(&self) -> Enr {
        self.discv5.local_enr()
    }

    /// The node's record as `enr:-…` text.
    pub fn enr_text(&self) -> String {
        self.local_enr.to_base64()
    }

    /// Stops the lookups and the discv5 service.
    pub async fn shutdown(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

async fn start(
    enr: Enr,
    key: CombinedKey,
    listen: SocketAddr,
) -> Result<Discv5<SsvProtocolId>, NetworkError> {
    let listen = match listen {
        SocketAddr::V4(a) => ListenConfig::Ipv4 { ip: *a.ip(), port: a.port() },
        SocketAddr::V6(a) => ListenConfig::Ipv6 { ip: *a.ip(), port: a.port() },
    };
    let config = ConfigBuilder::new(listen).build();
    let mut discv5 = Discv5::<SsvProtocolId>::new(enr, key, config)
        .map_err(|e| NetworkError::Transport(e.into()))?;
    discv5.start().await.map_err(|e| NetworkError::Transport(format!("discv5: {e:?}")))?;
    Ok(discv5)
}

async fn run(
    discv5: Arc<Discv5<SsvProtocolId>>,
    mut config: DiscoveryConfig,
    handle: P2pHandle,
    mut subnets: tokio::sync::watch::Receiver<Subnets>,
) {
    let mut dialed: BTreeMap<PeerId, Instant> = BTreeMap::new();
    let own = handle.peer_id();
    loop {
        let current = *subnets.borrow_and_update();
        if current != config.subnets {
            // Our committee set changed: advertise it (the record's sequence number rises).
            match discv5.enr_insert(ENR_KEY_SUBNETS, &current.0.as_slice()) {
                Ok(_) => {
                    tracing::debug!(subnets = %current.to_hex(), "ENR subnets updated");
                    config.subnets = current;
                }
                Err(e) => tracing::warn!(error = ?e, "cannot update the ENR subnets"),
            }
        }
        let mut found = discv5.find_node(NodeId::random()).await.unwrap_or_default();
        found.extend(discv5.table_entries_enr());
        let Ok(connected) = handle.connected_peers().await else { return };
        for enr in &found {
            let Some(peer) = peer_id(enr) else { continue };
            if peer == own || connected.contains(&peer) {
                continue;
            }
            if dialed.get(&peer).is_some_and(|t| t.elapsed() < REDIAL_AFTER) {
                continue;
            }
            match check(enr, config.domain, &config.subnets) {
                Ok(addr) => {
                    tracing::debug!(%peer, %addr, "dialing discovered peer");
                    dialed.insert(peer, Instant::now());
                    if handle.dial(addr).is_err() {
                        return;
                    }
                }
                Err(reason) => tracing::trace!(%peer, %reason, "skipped discovered node"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(config.interval) => {}
            changed = subnets.changed() => if changed.is_err() { return },
        }
    }
}

/// A discovery-only node for bootstrapping (the Go `bootnode` command): it answers lookups
/// and keeps no libp2p host. Its record has no SSV entries.
pub struct Bootnode {
    /// The bootnode's record, to give to nodes as a bootnode.
    pub enr: Enr,
    _discv5: Discv5<SsvProtocolId>,
}

impl Bootnode {
    /// Starts a bootnode on `listen` advertising `ip`.
    ///
    /// # Errors
    /// [`NetworkError::Transport`] when the socket cannot be bound.
    pub async fn spawn(listen: SocketAddr, ip: Ipv4Addr) -> Result<Self, NetworkError> {
        let key = CombinedKey::generate_secp256k1();
        let enr = Enr::builder()
            .ip4(ip)
            .udp4(listen.port())
            .build(&key)
            .map_err(|e| NetworkError::Transport(e.to_string()))?;
        let discv5 = start(enr.clone(), key, listen).await?;
        Ok(Self { enr, _discv5: discv5 })
    }
}

/// A free UDP port on `ip`, chosen by the OS (bound and released; for tests and for
/// configs that say port 0, since the ENR needs the port before discv5 binds).
///
/// # Errors
/// [`NetworkError::Transport`] when no socket can be bound.
pub fn free_udp_port(ip: Ipv4Addr) -> Result<u16, NetworkError> {
    let socket =
        std::net::UdpSocket::bind((ip, 0)).map_err(|e| NetworkError::Transport(e.to_string()))?;
    socket.local_addr().map(|a| a.port()).map_err(|e| NetworkError::Transport(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets_bit_order_and_hex_match_go() {
        // Go commons.Subnets: subnet i is bit i%8 of byte i/8.
        let s = Subnets::from_list(&[0, 9, 127]);
        assert_eq!(s.to_hex(), "01020000000000000000000000000080");
        assert_eq!(Subnets::from_hex(&s.to_hex()).unwrap(), s);
        assert_eq!(Subnets::from_hex("").unwrap(), Subnets::default());
        assert!(Subnets::from_hex("0102").is_err());
        assert_eq!(s.list(), vec![0, 9, 127]);
        assert!(s.shares_any(&Subnets::from_list(&[9])));
        assert!(!s.shares_any(&Subnets::from_list(&[8])));
    }

    #[test]
    fn enr_entries_round_trip_and_filter() {
        let keypair = Keypair::generate_secp256k1();
        let domain = DomainType([0, 0, 5, 2]);
        let subnets = Subnets::from_list(&[3, 70]);
        let (enr, _) =
            local_enr(&keypair, Ipv4Addr::LOCALHOST, 12001, Some(13001), None, domain, &subnets)
                .unwrap();
        // Raw RLP of the entries as Go writes them: byte strings and RLP true (0x01).
        assert_eq!(enr.get_raw_rlp(ENR_KEY_SSV).unwrap(), &[0x01]);
        assert_eq!(enr.get_raw_rlp(ENR_KEY_DOMAIN_TYPE).unwrap(), &[0x84, 0, 0, 5, 2]);
        let raw_subnets = enr.get_raw_rlp(ENR_KEY_SUBNETS).unwrap();
        assert_eq!(raw_subnets[0], 0x80 + 16);
        assert_eq!(raw_subnets.len(), 17);
        assert_eq!(peer_id(&enr), Some(keypair.public().to_peer_id()));
        let text = enr.to_base64();
        let parsed: Enr = text.parse().unwrap();
        let addr = check(&parsed, domain, &Subnets::from_list(&[70])).unwrap();
        assert_eq!(
            addr.to_string(),
            format!("/ip4/127.0.0.1/tcp/13001/p2p/{}", keypair.public().to_peer_id())
        );
        assert_eq!(check(&parsed, DomainType([0, 0, 5, 3]), &subnets), Err(Skip::DomainType));
        assert_eq!(check(&parsed, domain, &Subnets::from_list(&[4])), Err(Skip::NoSharedSubnets));
        let plain =
            Enr::builder().ip4(Ipv4Addr::LOCALHOST).udp4(1).build(&enr_key(&keypair).unwrap());
        assert_eq!(check(&plain.unwrap(), domain, &subnets), Err(Skip::NotSsv));
    }
}
