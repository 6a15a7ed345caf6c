//! The gossip validator never panics on arbitrary bytes, times and topics, and never
//! accepts a message that is not signed by a known operator (none is known here but one,
//! whose key the fuzzer cannot use).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ssv_core::types::DomainType;
use ssv_core::validation::{
    MessageValidator, StaticNetworkView, ValidationConfig, ValidatorStatus, Verdict,
};

fuzz_target!(|input: (u64, u8, &[u8])| {
    let (now, subnet, data) = input;
    let mut view = StaticNetworkView::new();
    for id in 1..=4 {
        view.add_operator(id, None);
    }
    view.add_committee(&[1, 2, 3, 4], &[10, 11]);
    view.add_validator([7; 48], 10, &[1, 2, 3, 4], false, ValidatorStatus::Attesting);
    let config = ValidationConfig::mainnet(DomainType::JATO_TESTNET, 0);
    let mut mv = MessageValidator::new(config);
    let topic = format!("ssv.v2.{}", subnet % 128);
    let verdict = mv.validate(now, b"peer", &topic, data, &view);
    assert!(!matches!(verdict, Verdict::Accept(_)));
    mv.handle_timeout(now);
});
