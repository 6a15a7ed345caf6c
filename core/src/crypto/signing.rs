//! Ethereum signing: domains, fork data and signing roots.
