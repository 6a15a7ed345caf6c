# Recipes people use. `just --list` shows them.

# Run every test, including all conformance vectors (needs ../shared/vectors or $SSV_VECTORS_DIR).
test:
    cargo test --workspace

# The local devnet (Hardhat, beacon simulator, n ssv-node processes); flags as ssv-devnet's,
# e.g. `just devnet --operators 4 --validators 64 --slots 40 --stop-operator 2 --at-slot 10`.
devnet *args:
    cargo build -p ssv-shell --bin ssv-node --bin ssv-devnet -p ssv-simulator --bin ssv-sim
    cargo run -q -p ssv-shell --bin ssv-devnet -- {{args}}

# Format the code.
fmt:
    cargo fmt --all

# Lints as CI runs them.
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings
    RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps

# What CI runs.
ci:
    bash .ci/run

# Every benchmark (criterion, bounded: 10 samples; the slow sizes run few slots per iteration),
# then the table of medians, floors and ratios in benches/RESULTS.md.
bench:
    cargo bench -p ssv-benches
    cargo run -p ssv-benches --bin collect

# Run each benchmark once, as CI does, so they cannot rot.
bench-quick:
    cargo test --workspace --benches

# Fuzz decode + validate for a bounded time (default 60 s per target). Stable Rust with
# RUSTC_BOOTSTRAP=1 and no sanitizer; needs `cargo install cargo-fuzz`.
fuzz seconds="60":
    cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none decode_signed_message -- -max_total_time={{seconds}}
    cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none validate_gossip -- -max_total_time={{seconds}}
# A short simulator swarm: 100 seeded worlds with random fault mixes (fake crypto).
sim seeds="100":
    cargo run -p ssv-simulator --bin ssv-sim -- swarm --seeds {{seeds}} --jobs 2
