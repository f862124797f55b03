//! Benchmarks of invite-rs live in `benches/benches/`.
