# Recipes people use. `just --list` shows them.

# Run every test, including all conformance vectors (needs ../shared/vectors or $SSV_VECTORS_DIR).
test:
    cargo test --workspace

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

# Benchmarks (criterion); results land in target/criterion.
bench:
    cargo bench -p ssv-benches

# Run each benchmark once, as CI does, so they cannot rot.
bench-quick:
    cargo test -p ssv-benches --benches

# A short simulator swarm: 100 seeded worlds with random fault mixes (fake crypto).
sim seeds="100":
    cargo run -p ssv-simulator --bin ssv-sim -- swarm --seeds {{seeds}} --jobs 2
