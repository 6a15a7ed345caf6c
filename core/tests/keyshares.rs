//! Keyshares files (ssv-keys v1.2.0): placeholder until the suite lands.
fn main() {}
