//! Keyshares files in the ssv-keys v1.2.0 format.
