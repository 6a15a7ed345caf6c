//! BLS12-381 keys and signatures over blst (min-pk, the Ethereum ciphersuite).
