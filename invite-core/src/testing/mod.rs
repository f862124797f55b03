//! Test support for integrators and adapters (feature `test-support`).
