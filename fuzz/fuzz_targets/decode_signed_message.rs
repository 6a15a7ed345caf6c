//! Decoding peer bytes as every wire type, and validating what decodes, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ssv_core::types::ssz::Decode as _;
use ssv_core::types::{PartialSignatureMessages, QbftMessage, SignedSsvMessage};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = SignedSsvMessage::from_ssz_bytes(data) {
        let _ = m.validate();
        let _ = m.validate_consensus();
        let _ = m.ssv_message.decode_partial_signatures().map(|p| p.validate());
    }
    if let Ok(q) = QbftMessage::from_ssz_bytes(data) {
        let _ = q.validate();
    }
    if let Ok(p) = PartialSignatureMessages::from_ssz_bytes(data) {
        let _ = p.validate();
    }
});
