//! The zlib dictionary SPDY/3 header blocks are compressed with.
//!
//! This is a protocol constant: the SPDY/3 draft (draft-mbelshe-httpbis-spdy-00, section
//! 2.6.10.1 "Compression", also the Chromium "SPDY Protocol - Draft 3" text that SPDY/3.1 keeps)
//! defines it as a sequence of length-prefixed words (each a 4-byte big-endian length then
//! the bytes) followed by a run of common header value fragments. Both ends of every SPDY/3
//! connection seed their zlib streams with exactly these 1423 bytes; a single byte off and
//! the peer cannot read our headers. It is written here as data (the word list and the tail
//! text of the draft) and assembled at compile time.

/// The length-prefixed words at the start of the dictionary, in the draft's order.
const WORDS: [&str; 65] = [
    "options",
    "head",
    "post",
    "put",
    "delete",
    "trace",
    "accept",
    "accept-charset",
    "accept-encoding",
    "accept-language",
    "accept-ranges",
    "age",
    "allow",
    "authorization",
    "cache-control",
    "connection",
    "content-base",
    "content-encoding",
    "content-language",
    "content-length",
    "content-location",
    "content-md5",
    "content-range",
    "content-type",
    "date",
    "etag",
    "expect",
    "expires",
    "from",
    "host",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "last-modified",
    "location",
    "max-forwards",
    "pragma",
    "proxy-authenticate",
    "proxy-authorization",
    "range",
    "referer",
    "retry-after",
    "server",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "vary",
    "via",
    "warning",
    "www-authenticate",
    "method",
    "get",
    "status",
    "200 OK",
    "version",
    "HTTP/1.1",
    "url",
    "public",
    "set-cookie",
    "keep-alive",
    "origin",
];

/// The text that follows the words (status codes, reason phrases, dates, media types, ...),
/// without any length prefix.
const TAIL: &str = concat!(
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505",
    "203 Non-Authoritative Information",
    "204 No Content",
    "301 Moved Permanently",
    "400 Bad Request",
    "401 Unauthorized",
    "403 Forbidden",
    "404 Not Found",
    "500 Internal Server Error",
    "501 Not Implemented",
    "503 Service Unavailable",
    "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec",
    " 00:00:00",
    " Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT",
    "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,",
    "text/plain,text/javascript,publicprivatemax-age=gzip,deflate,sdch",
    "charset=utf-8charset=iso-8859-1,utf-,*,enq=0.",
);

const fn dictionary_len() -> usize {
    let mut len = TAIL.len();
    let mut i = 0;
    while i < WORDS.len() {
        len += 4 + WORDS[i].len();
        i += 1;
    }
    len
}

/// Length of the SPDY/3 dictionary in bytes.
pub(crate) const LEN: usize = dictionary_len();

const fn build() -> [u8; LEN] {
    let mut out = [0u8; LEN];
    let mut at = 0;
    let mut i = 0;
    while i < WORDS.len() {
        let word = WORDS[i].as_bytes();
        let len = (word.len() as u32).to_be_bytes();
        let mut k = 0;
        while k < 4 {
            out[at] = len[k];
            at += 1;
            k += 1;
        }
        let mut k = 0;
        while k < word.len() {
            out[at] = word[k];
            at += 1;
            k += 1;
        }
        i += 1;
    }
    let tail = TAIL.as_bytes();
    let mut k = 0;
    while k < tail.len() {
        out[at] = tail[k];
        at += 1;
        k += 1;
    }
    out
}

/// The SPDY/3 header compression dictionary (1423 bytes, zlib dictionary id `0xe3c6a7c2`):
/// both ends of a SPDY/3 connection seed their header zlib streams with it.
pub static DICTIONARY: [u8; LEN] = build();

#[cfg(test)]
mod tests {
    use super::*;

    /// Adler-32 as zlib defines it (RFC 1950), written out so the test does not trust the
    /// compression backend it checks.
    fn adler32(data: &[u8]) -> u32 {
        let (mut a, mut b) = (1u32, 0u32);
        for &byte in data {
            a = (a + u32::from(byte)) % 65521;
            b = (b + a) % 65521;
        }
        (b << 16) | a
    }

    #[test]
    fn dictionary_is_the_spdy3_one() {
        assert_eq!(LEN, 1423);
        assert_eq!(&DICTIONARY[..11], b"\0\0\0\x07options");
        assert!(DICTIONARY.ends_with(b",*,enq=0."));
        // The dictionary id zlib writes into every SPDY/3 stream header; this value was
        // computed from the independent copy in npm's `spdy-transport` (see the module docs
        // of `spdy` for that interop check), so any typo above changes it.
        assert_eq!(adler32(&DICTIONARY), 0xe3c6_a7c2);
    }
}
