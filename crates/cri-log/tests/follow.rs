//! Following a growing log file across appends, rotation and truncation.

use std::fs::OpenOptions;
use std::io::Write;
use std::time::Duration;

use cri_log::{Follower, LogWriter, Message, ReadOptions, Stream, Timestamp, open_log_file};

fn append(path: &std::path::Path, text: &str) {
    let mut f = OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

fn drain(follow: &mut Follower) -> Vec<String> {
    std::iter::from_fn(|| follow.try_next())
        .map(|m| {
            let m = m.unwrap();
            format!(
                "{}{}{}",
                m.stream,
                if m.partial { "~" } else { ":" },
                String::from_utf8(m.content).unwrap()
            )
        })
        .collect()
}

#[test]
fn follows_appends_rotation_and_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ctr").join("0.log");
    let clock = || Timestamp::from_unix(1_700_000_000, 0);
    let mut writer = LogWriter::new(open_log_file(&path).unwrap()).clock(clock);
    for i in 0..5 {
        writer
            .write(Stream::Stdout, format!("line {i}\n").as_bytes())
            .unwrap();
    }
    writer.write(Stream::Stderr, b"half").unwrap();
    writer.flush().unwrap();

    // History with tail: the last 2 messages.
    let mut follow = Follower::open(&path, ReadOptions::new().tail(Some(2))).unwrap();
    assert_eq!(drain(&mut follow), ["stdout:line 3", "stdout:line 4"]);

    // A line written in two pieces, with the partial part already in the file.
    writer.write(Stream::Stdout, &vec![b'x'; 20_000]).unwrap();
    writer.flush().unwrap();
    assert_eq!(
        drain(&mut follow),
        Vec::<String>::new(),
        "a partial message waits"
    );
    writer.write(Stream::Stdout, b"y\n").unwrap();
    let joined = drain(&mut follow);
    assert_eq!(joined.len(), 1);
    assert_eq!(joined[0].len(), "stdout:".len() + 20_001);

    // Rotation: rename, reopen (the writer keeps its buffered "half").
    std::fs::rename(&path, dir.path().join("ctr").join("0.log.20260101")).unwrap();
    assert_eq!(
        drain(&mut follow),
        Vec::<String>::new(),
        "no file at the path yet"
    );
    writer.set_output(open_log_file(&path).unwrap());
    writer
        .write(Stream::Stderr, b" and half\nafter rotation\n")
        .unwrap();
    assert_eq!(
        drain(&mut follow),
        ["stderr:half and half", "stderr:after rotation"]
    );

    // Truncation (copytruncate): read again from the start.
    std::fs::File::create(&path).unwrap();
    append(&path, "2026-01-01T00:00:00Z stdout F after truncation\n");
    assert_eq!(drain(&mut follow), ["stdout:after truncation"]);

    // A partial message can be flushed on demand (as when the container exited).
    append(&path, "2026-01-01T00:00:00Z stdout P no end");
    assert_eq!(drain(&mut follow), Vec::<String>::new());
    append(&path, "\n2026-01-01T00:00:00Z stderr F unterminated");
    follow.flush().unwrap();
    assert_eq!(drain(&mut follow), ["stderr:unterminated", "stdout~no end"]);
}

#[test]
fn a_garbage_line_is_reported_and_following_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("0.log");
    std::fs::write(&path, "").unwrap();
    let mut follow = Follower::open(&path, ReadOptions::new()).unwrap();
    append(&path, "garbage\n2026-01-01T00:00:00Z stdout F ok\n");
    let first = follow.try_next().unwrap().unwrap_err();
    assert!(first.is_recoverable());
    assert!(
        first.to_string().starts_with("line 1 of the log: "),
        "{first}"
    );
    let ok: Message = follow.next_blocking(Duration::from_millis(5)).unwrap();
    assert_eq!(ok.content, b"ok");
}

/// `Follower::next_async` exists with the `tokio` feature (`cargo test -p cri-log --features tokio`).
#[cfg(feature = "tokio")]
#[tokio::test]
async fn follows_on_tokio() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("0.log");
    std::fs::write(&path, "").unwrap();
    let mut follow = Follower::open(&path, ReadOptions::new()).unwrap();
    let writer = {
        let path = path.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            append(&path, "2026-01-01T00:00:00Z stdout F later\n");
        })
    };
    let message = tokio::time::timeout(
        Duration::from_secs(10),
        follow.next_async(Duration::from_millis(10)),
    )
    .await
    .expect("the message arrives")
    .unwrap();
    assert_eq!(message.content, b"later");
    writer.await.unwrap();
}
