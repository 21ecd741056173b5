//! The `wren` binary: command-line entry point.
fn main() {}
