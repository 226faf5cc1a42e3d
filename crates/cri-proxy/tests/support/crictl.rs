//! Go crictl, found through `$CRI_GO_CRICTL` (as the workspace's `cri-tests` finds it); a test
//! needing it fails when it is missing.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// The binary, or the test fails naming how to get it.
pub fn binary() -> PathBuf {
    let Some(path) = std::env::var_os("CRI_GO_CRICTL").map(PathBuf::from) else {
        panic!(
            "Go crictl is needed: set CRI_GO_CRICTL to a crictl v1.36.0 binary \
             (CI builds it with scripts/critools.sh; ../shared/peers/build-critools.sh OUTDIR)"
        );
    };
    assert!(
        path.is_file(),
        "CRI_GO_CRICTL={} is no file",
        path.display()
    );
    path
}

/// The read commands compared: `-o json` where the table would print relative times.
pub fn read_commands(container: &str, pod: &str, image: &str) -> Vec<Vec<String>> {
    let words = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
    vec![
        words("version"),
        words("info"),
        words("ps -a"),
        words("ps -a -o json"),
        words("pods"),
        words("pods -o json"),
        words("images"),
        words("images -o json"),
        words(&format!("inspect {container}")),
        words(&format!("inspectp {pod}")),
        words(&format!("inspecti {image}")),
    ]
}

/// Runs `crictl ARGS` against the socket at `socket` (off the async runtime), and returns its
/// stdout, failing the test when it fails.
pub async fn run(socket: &Path, args: &[String]) -> String {
    let binary = binary();
    let endpoint = format!("unix://{}", socket.display());
    let config = socket.with_extension("crictl.yaml");
    if !config.exists() {
        std::fs::write(&config, "").unwrap();
    }
    let owned = args.to_vec();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(binary)
            .arg("--config")
            .arg(&config)
            .args([
                "--runtime-endpoint",
                &endpoint,
                "--image-endpoint",
                &endpoint,
                "--timeout",
                "10s",
            ])
            .args(&owned)
            .output()
    });
    let output = tokio::time::timeout(Duration::from_secs(30), output)
        .await
        .expect("crictl ends within 30 s")
        .unwrap()
        .unwrap();
    assert!(
        output.status.success(),
        "crictl {:?} failed: {}",
        args,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Runs every command against `a` and `b` and asserts the outputs are the same. A table may
/// differ by a relative time ("2 seconds ago") ticking between the runs: such a command is run
/// again, three times at most.
pub async fn assert_same(a: &Path, b: &Path, commands: &[Vec<String>]) {
    for command in commands {
        let mut last = None;
        for _ in 0..3 {
            let (left, right) = (run(a, command).await, run(b, command).await);
            assert!(
                !left.trim().is_empty(),
                "crictl {command:?} printed nothing"
            );
            if left == right {
                last = None;
                break;
            }
            last = Some((left, right));
        }
        if let Some((left, right)) = last {
            panic!(
                "crictl {command:?} differs:\n--- {}\n{left}\n--- {}\n{right}",
                a.display(),
                b.display()
            );
        }
    }
}
