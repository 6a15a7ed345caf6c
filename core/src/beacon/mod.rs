//! Beacon-chain types (phase0 through fulu) with SSZ and `hash_tree_root`.
