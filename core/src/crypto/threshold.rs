//! Shamir splitting of a validator key and Lagrange reconstruction of signatures.
