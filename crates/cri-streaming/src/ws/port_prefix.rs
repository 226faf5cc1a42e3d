//! The port number a port-forward server writes first on each channel.

use bytes::Bytes;

/// Strips the two-byte little-endian port number a port-forward server writes first on each
/// channel, across message boundaries.
#[derive(Debug, Clone)]
pub(crate) struct PortPrefix {
    seen: Vec<u8>,
}

impl Default for PortPrefix {
    fn default() -> Self {
        Self::new()
    }
}

impl PortPrefix {
    /// Nothing read yet.
    pub fn new() -> Self {
        PortPrefix {
            seen: Vec::with_capacity(2),
        }
    }

    /// Feeds one chunk; returns the bytes after the prefix, and the port once complete.
    pub fn feed(&mut self, mut chunk: Bytes) -> (Bytes, Option<u16>) {
        if self.seen.len() >= 2 {
            return (chunk, None);
        }
        let take = (2 - self.seen.len()).min(chunk.len());
        self.seen.extend_from_slice(&chunk.split_to(take));
        let port = (self.seen.len() == 2).then(|| u16::from_le_bytes([self.seen[0], self.seen[1]]));
        (chunk, port)
    }

    /// Whether the whole prefix was read.
    pub fn done(&self) -> bool {
        self.seen.len() >= 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The port prefix is found however the stream is cut.
        #[test]
        fn port_prefix_across_chunks(
            port in any::<u16>(),
            rest in prop::collection::vec(any::<u8>(), 0..50),
            cuts in prop::collection::vec(0usize..60, 0..6),
        ) {
            let mut whole = port.to_le_bytes().to_vec();
            whole.extend_from_slice(&rest);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(whole.len())).collect();
            cuts.push(0);
            cuts.push(whole.len());
            cuts.sort();
            let mut prefix = PortPrefix::new();
            let mut data = Vec::new();
            let mut found = None;
            for pair in cuts.windows(2) {
                let (bytes, p) = prefix.feed(Bytes::copy_from_slice(&whole[pair[0]..pair[1]]));
                data.extend_from_slice(&bytes);
                if p.is_some() {
                    prop_assert!(found.is_none());
                    found = p;
                }
            }
            prop_assert_eq!(found, Some(port));
            prop_assert_eq!(data, rest);
        }
    }
}
