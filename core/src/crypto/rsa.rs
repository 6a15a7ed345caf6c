//! Operator RSA-2048 keys, PKCS#1 v1.5 SHA-256 signatures and share encryption (aws-lc-rs).
