//! Tests of reading: joining, stream and time selection, tail, bad and hostile input.

use super::{LogReader, Message, ReadOptions, Streams};
use crate::{Stream, Timestamp};

fn read(log: &[u8], options: ReadOptions) -> Vec<Result<Message, String>> {
    LogReader::new(log, options)
        .map(|r| r.map_err(|e| e.to_string()))
        .collect()
}

fn msg(stream: Stream, content: &str, partial: bool, secs: i64) -> Result<Message, String> {
    Ok(Message {
        timestamp: Timestamp::from_unix(secs, 0),
        stream,
        content: content.as_bytes().to_vec(),
        partial,
    })
}

const LOG: &[u8] = b"1970-01-01T00:00:01Z stdout P a\n\
    1970-01-01T00:00:02Z stderr F e1\n\
    not a line\n\
    1970-01-01T00:00:03Z stdout F b\n\
    1970-01-01T00:00:04Z stderr P e2\n";

const BAD: &str = "line 3 of the log: invalid RFC 3339 timestamp \"not\": too short";

#[test]
fn joins_per_stream_and_reports_bad_lines() {
    use Stream::*;
    assert_eq!(
        read(LOG, ReadOptions::new()),
        vec![
            msg(Stderr, "e1", false, 2),
            Err(BAD.into()),
            msg(Stdout, "ab", false, 1),
            msg(Stderr, "e2", true, 4),
        ]
    );
    assert_eq!(
        read(
            LOG,
            ReadOptions::new()
                .join_partial(false)
                .streams(Streams::Stdout)
        ),
        vec![
            msg(Stdout, "a", true, 1),
            Err(BAD.into()),
            msg(Stdout, "b", false, 3),
        ]
    );
    let since = Timestamp::from_unix(2, 0);
    assert_eq!(
        read(
            LOG,
            ReadOptions::new()
                .since(Some(since))
                .streams(Streams::Stderr)
        ),
        vec![
            msg(Stderr, "e1", false, 2),
            Err(BAD.into()),
            msg(Stderr, "e2", true, 4),
        ]
    );
}

#[test]
fn tail_keeps_the_last_messages() {
    use Stream::*;
    let items = read(LOG, ReadOptions::new().tail(Some(2)));
    assert_eq!(
        items[items.len() - 2..],
        [msg(Stdout, "ab", false, 1), msg(Stderr, "e2", true, 4)]
    );
    assert!(
        read(LOG, ReadOptions::new().tail(Some(0)))
            .iter()
            .all(Result::is_err)
    );
}

#[test]
fn unterminated_last_line_is_read() {
    let items = read(b"1970-01-01T00:00:01Z stdout F end", ReadOptions::new());
    assert_eq!(items, vec![msg(Stream::Stdout, "end", false, 1)]);
}

#[test]
fn hostile_input_is_bounded() {
    // A 10 MiB line with no newline, then a good line.
    let mut log = vec![b'x'; 10 << 20];
    log.extend_from_slice(b"\n1970-01-01T00:00:01Z stdout F ok\n");
    let items = read(&log, ReadOptions::new().max_line_size(1024));
    assert_eq!(
        items,
        vec![
            Err("line 1 of the log is longer than 1024 bytes; skipped".into()),
            msg(Stream::Stdout, "ok", false, 1),
        ]
    );
    // A long chain of partial lines comes out in bounded pieces.
    let mut log = Vec::new();
    for _ in 0..1000 {
        log.extend_from_slice(b"1970-01-01T00:00:01Z stdout P 0123456789\n");
    }
    log.extend_from_slice(b"1970-01-01T00:00:01Z stdout F !\n");
    let items = read(&log, ReadOptions::new().max_message_size(4096));
    let sizes: Vec<(usize, bool)> = items
        .iter()
        .map(|m| m.as_ref().map(|m| (m.content.len(), m.partial)).unwrap())
        .collect();
    assert_eq!(sizes.len(), 3);
    assert_eq!(sizes[0], (4096, true));
    assert_eq!(sizes[2], (10_001 - 8192, false));
}
