//! Placeholder replaced by the streaming benchmark.
fn main() {}
