//! Threshold properties (placeholder, filled below).
