//! Cryptography: BLS (blst, min-pk), Shamir shares and Lagrange reconstruction, Ethereum
//! signing domains and roots, operator RSA-2048, encrypted keystores and keyshares files.

pub mod bls;
pub mod keyshares;
pub mod keystore;
pub mod rsa;
pub mod signing;
pub mod threshold;
