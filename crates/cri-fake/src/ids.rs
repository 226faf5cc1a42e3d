//! Deterministic identifiers that look like the real ones (64 hex digits).

use std::fmt::Write;

/// SplitMix64: a bijection of `u64`, so distinct inputs give distinct outputs.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn hex64(seed: u64) -> String {
    let mut out = String::with_capacity(64);
    for i in 0..4u64 {
        // The first word alone is a bijection of the seed, which keeps ids unique.
        let _ = write!(out, "{:016x}", mix(seed.wrapping_mul(4).wrapping_add(i)));
    }
    out
}

/// The id of the `serial`-th pod or container.
pub(crate) fn object_id(serial: u64) -> String {
    hex64(serial)
}

/// FNV-1a of a string.
pub(crate) fn hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The image id (`sha256:` and 64 hex digits) of a normalized image name.
pub(crate) fn image_id(name: &str) -> String {
    format!("sha256:{}", hex64(hash(name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_64_hex_and_distinct() {
        let ids: std::collections::BTreeSet<_> = (0..10_000).map(object_id).collect();
        assert_eq!(ids.len(), 10_000);
        assert!(
            ids.iter()
                .all(|id| id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        );
        assert!(image_id("docker.io/library/busybox:1.36").starts_with("sha256:"));
    }
}
