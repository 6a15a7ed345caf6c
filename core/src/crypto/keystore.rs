//! EIP-2335-style encrypted operator keystores.
