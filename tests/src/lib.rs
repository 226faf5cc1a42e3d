//! Integration tests across the CRI crates; everything lives in `tests/`.
