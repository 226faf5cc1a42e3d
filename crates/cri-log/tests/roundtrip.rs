//! Property tests: what a writer writes, a reader gives back; nothing panics on any input.

use cri_log::{Line, LogReader, LogWriter, ReadOptions, Stream, Streams, Tag, Timestamp};
use proptest::prelude::*;

fn stream() -> impl Strategy<Value = Stream> {
    prop_oneof![Just(Stream::Stdout), Just(Stream::Stderr)]
}

/// Output with many newlines and some long runs.
fn output() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            3 => any::<u8>(),
            1 => Just(b'\n'),
            1 => Just(b' '),
        ],
        0..200,
    )
}

/// Years 0000–9999, the range RFC 3339 writes.
fn timestamp() -> impl Strategy<Value = Timestamp> {
    (-62_167_219_200i64..253_402_300_799, 0u32..1_000_000_000)
        .prop_map(|(s, n)| Timestamp::from_unix(s, n))
}

fn read_back(file: &[u8], options: ReadOptions) -> (Vec<u8>, Vec<u8>) {
    let mut out = (Vec::new(), Vec::new());
    for message in LogReader::new(file, options) {
        let message = message.expect("a log the writer wrote reads without errors");
        let sink = match message.stream {
            Stream::Stdout => &mut out.0,
            Stream::Stderr => &mut out.1,
        };
        message.write_to(sink, false);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn write_then_read_gives_the_output_back(
        writes in prop::collection::vec((stream(), output()), 0..20),
        max_line in 1usize..40,
        clock in timestamp(),
    ) {
        let mut writer = LogWriter::new(Vec::new()).max_line_size(max_line).clock(move || clock);
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        for (stream, bytes) in &writes {
            writer.write(*stream, bytes).unwrap();
            match stream {
                Stream::Stdout => stdout.extend_from_slice(bytes),
                Stream::Stderr => stderr.extend_from_slice(bytes),
            }
        }
        writer.finish().unwrap();
        let file = writer.into_inner();
        // Every line is well formed and within the size.
        for raw in file.split_inclusive(|b| *b == b'\n') {
            let line = Line::parse(raw).unwrap();
            prop_assert!(line.content.len() <= max_line);
            prop_assert_eq!(line.timestamp, clock);
        }
        prop_assert_eq!(read_back(&file, ReadOptions::new()), (stdout.clone(), stderr.clone()));
        // Unjoined, small messages, one stream: the same bytes.
        let unjoined = ReadOptions::new().join_partial(false);
        prop_assert_eq!(read_back(&file, unjoined), (stdout.clone(), stderr.clone()));
        let small = ReadOptions::new().max_message_size(7).streams(Streams::Stderr);
        prop_assert_eq!(read_back(&file, small), (Vec::new(), stderr));
    }

    #[test]
    fn a_line_formats_and_parses_back(
        clock in timestamp(),
        stream in stream(),
        partial in any::<bool>(),
        content in prop::collection::vec(any::<u8>().prop_filter("no newline", |b| *b != b'\n'), 0..100),
    ) {
        let line = Line { timestamp: clock, stream, tag: if partial { Tag::Partial } else { Tag::Full }, content: &content };
        let mut out = Vec::new();
        line.write_to(&mut out);
        prop_assert_eq!(Line::parse(&out).unwrap(), line);
        prop_assert_eq!(clock.to_string().parse::<Timestamp>().unwrap(), clock);
    }

    #[test]
    fn any_bytes_read_without_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..2000),
        tail in prop::option::of(0usize..5),
    ) {
        let options = ReadOptions::new().max_line_size(100).max_message_size(50).tail(tail);
        for message in LogReader::new(&bytes[..], options).flatten() {
            prop_assert!(message.content.len() <= 100);
        }
        let _ = Line::parse(&bytes);
        let _ = Timestamp::parse(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn mangled_log_lines_read_without_panic(
        position in 0usize..200,
        byte in any::<u8>(),
    ) {
        let mut log = b"2016-10-06T00:17:09.669794202Z stdout P abc\n\
                        2016-10-06T00:17:09.669794202+01:00 stderr F:x def\n\
                        2016-10-06T00:17:09Z stdout F ghi\n".to_vec();
        let at = position % log.len();
        log[at] = byte;
        let items: Vec<_> = LogReader::new(&log[..], ReadOptions::new()).collect();
        prop_assert!(!items.is_empty());
    }
}
