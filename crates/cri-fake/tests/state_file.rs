//! `FakeRuntime::save_state` / `load_state` and `StateLock`: what a restarted fake shows.

use std::time::Duration;

use cri_fake::{FakeRuntime, StateLock};

#[test]
fn a_saved_state_comes_back_and_a_second_process_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state");
    let first = FakeRuntime::new();
    let seeded = first.seed(2, 2);
    first.add_image("docker.io/library/nginx:1.27", 1 << 20, false);
    first.save_state(&path).unwrap();

    let second = FakeRuntime::builder().default_images(false).build();
    second.load_state(&path).unwrap();
    assert_eq!(
        (
            second.pod_count(),
            second.container_count(),
            second.image_count()
        ),
        (2, 4, first.image_count())
    );
    // Ids keep counting from where the first left off: a new seed makes new ids.
    let more = second.seed(1, 0);
    assert!(!seeded.pod_ids.contains(&more.pod_ids[0]));

    // A missing file is an empty state; a file that is not a state is an error.
    let third = FakeRuntime::builder().default_images(false).build();
    third.load_state(&dir.path().join("none")).unwrap();
    assert_eq!(third.pod_count(), 0);
    std::fs::write(dir.path().join("bad"), b"\xff\xff\xff not a state").unwrap();
    let err = third.load_state(&dir.path().join("bad")).unwrap_err();
    assert!(err.to_string().contains("is not a cri-fake state"), "{err}");

    // One process at a time: this one holds the lock, so a second wait ends in a refusal
    // naming the holder; once released, the lock can be taken.
    let lock = StateLock::acquire(&path, Duration::ZERO).unwrap();
    let refused = StateLock::acquire(&path, Duration::from_millis(100)).unwrap_err();
    assert!(
        refused
            .to_string()
            .contains(&std::process::id().to_string()),
        "{refused}"
    );
    drop(lock);
    StateLock::acquire(&path, Duration::ZERO).unwrap();
}
