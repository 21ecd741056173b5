//! The README's main-job command runs `wren demo`; this checks that it succeeds and shows a real
//! encode/decode round trip rather than canned text.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::process::Command;

#[test]
fn wren_demo_succeeds_and_shows_the_decoded_calico_block_route() {
    let out = Command::new(env!("CARGO_BIN_EXE_wren"))
        .arg("demo")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "wren demo failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("ff ff ff ff"),
        "no hex dump of the encoded UPDATE:\n{stdout}"
    );
    assert!(
        stdout.contains(
            "ipv4-unicast 198.51.100.0/26 via 198.18.0.1 as-path [64512] communities [64512:100]"
        ),
        "decoded route missing:\n{stdout}"
    );
}
