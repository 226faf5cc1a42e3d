//! The CRI contract points `cri-fake` keeps (issue 11), each against the fake served on a
//! Unix socket and driven by the generated v1 client: idempotent stop/remove, image tags and
//! ids, image users, pull deadlines, container output in the CRI log format, log reopening,
//! the command set behind a container's main process, and the metrics RPCs.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use cri_api_v1::image_service_client::ImageServiceClient;
use cri_api_v1::runtime_service_client::RuntimeServiceClient;
use cri_api_v1::*;
use cri_fake::command::{Builtins, CommandHandler, CommandIo};
use cri_fake::{FakeRuntime, ImageConfig, ServerHandle};
use cri_log::{LogReader, Message, ReadOptions, Stream};
use tokio::io::AsyncWriteExt;
use tonic::Code;
use tonic::transport::{Channel, Endpoint};

struct Fake {
    _dir: tempfile::TempDir,
    logs: std::path::PathBuf,
    server: Option<ServerHandle>,
    rt: RuntimeServiceClient<Channel>,
    im: ImageServiceClient<Channel>,
}

async fn serve(runtime: FakeRuntime) -> Fake {
    let dir = tempfile::tempdir().unwrap();
    let server = runtime
        .serve_unix(dir.path().join("fake.sock"))
        .await
        .unwrap();
    let channel = Endpoint::from_shared(server.endpoint())
        .unwrap()
        .connect()
        .await
        .unwrap();
    Fake {
        logs: dir.path().join("pods"),
        _dir: dir,
        server: Some(server),
        rt: RuntimeServiceClient::new(channel.clone()),
        im: ImageServiceClient::new(channel),
    }
}

impl Fake {
    async fn pod(&mut self, name: &str) -> String {
        self.rt
            .run_pod_sandbox(RunPodSandboxRequest {
                config: Some(PodSandboxConfig {
                    metadata: Some(PodSandboxMetadata {
                        name: name.into(),
                        uid: format!("uid-{name}"),
                        namespace: "default".into(),
                        attempt: 0,
                    }),
                    log_directory: self.logs.join(name).display().to_string(),
                    ..Default::default()
                }),
                runtime_handler: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .pod_sandbox_id
    }

    /// Creates and starts a container running `command`, logging to `NAME/0.log`.
    async fn run(&mut self, pod: &str, name: &str, command: &[&str]) -> String {
        self.run_with(pod, name, command, |_| {}).await
    }

    /// [`Fake::run`] with changes to the container's config.
    async fn run_with(
        &mut self,
        pod: &str,
        name: &str,
        command: &[&str],
        change: impl FnOnce(&mut ContainerConfig),
    ) -> String {
        let mut config = ContainerConfig {
            metadata: Some(ContainerMetadata {
                name: name.into(),
                attempt: 0,
            }),
            image: Some(ImageSpec {
                image: "busybox:1.36".into(),
                ..Default::default()
            }),
            command: command.iter().map(|s| s.to_string()).collect(),
            envs: vec![KeyValue {
                key: "GREETING".into(),
                value: "hello".into(),
            }],
            log_path: format!("{name}/0.log"),
            ..Default::default()
        };
        change(&mut config);
        let id = self
            .rt
            .create_container(CreateContainerRequest {
                pod_sandbox_id: pod.into(),
                config: Some(config),
                sandbox_config: None,
            })
            .await
            .unwrap()
            .into_inner()
            .container_id;
        self.rt
            .start_container(StartContainerRequest {
                container_id: id.clone(),
            })
            .await
            .unwrap();
        id
    }

    async fn status(&mut self, id: &str) -> ContainerStatus {
        self.rt
            .container_status(ContainerStatusRequest {
                container_id: id.into(),
                verbose: false,
            })
            .await
            .unwrap()
            .into_inner()
            .status
            .unwrap()
    }

    /// Waits (up to 10 s) until the container has exited; its status.
    async fn exited(&mut self, id: &str) -> ContainerStatus {
        for _ in 0..1000 {
            let status = self.status(id).await;
            if status.state() == ContainerState::ContainerExited {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("container {id} did not exit");
    }

    fn log_of(&self, pod: &str, name: &str) -> std::path::PathBuf {
        self.logs.join(pod).join(name).join("0.log")
    }

    async fn pull(&mut self, image: &str) -> Result<String, tonic::Status> {
        self.im
            .pull_image(PullImageRequest {
                image: Some(ImageSpec {
                    image: image.into(),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .map(|r| r.into_inner().image_ref)
    }

    async fn image_status(&mut self, image: &str) -> Option<Image> {
        self.im
            .image_status(ImageStatusRequest {
                image: Some(ImageSpec {
                    image: image.into(),
                    ..Default::default()
                }),
                verbose: false,
            })
            .await
            .unwrap()
            .into_inner()
            .image
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        drop(self.server.take());
    }
}

fn messages(path: &Path) -> Vec<Message> {
    cri_log::read_file(path, ReadOptions::new())
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn text(messages: &[Message], stream: Stream) -> Vec<(String, bool)> {
    messages
        .iter()
        .filter(|m| m.stream == stream)
        .map(|m| (String::from_utf8(m.content.clone()).unwrap(), m.partial))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_and_remove_of_unknown_ids_are_not_errors() {
    let mut fake = serve(FakeRuntime::new()).await;
    let unknown = "f".repeat(64);
    fake.rt
        .stop_container(StopContainerRequest {
            container_id: unknown.clone(),
            timeout: 0,
        })
        .await
        .expect("StopContainer of an unknown id");
    fake.rt
        .remove_container(RemoveContainerRequest {
            container_id: unknown.clone(),
        })
        .await
        .expect("RemoveContainer of an unknown id");
    fake.rt
        .stop_pod_sandbox(StopPodSandboxRequest {
            pod_sandbox_id: unknown.clone(),
        })
        .await
        .expect("StopPodSandbox of an unknown id");
    fake.rt
        .remove_pod_sandbox(RemovePodSandboxRequest {
            pod_sandbox_id: unknown.clone(),
        })
        .await
        .expect("RemovePodSandbox of an unknown id");
    // An empty id is still a bad request.
    let empty = fake
        .rt
        .stop_container(StopContainerRequest::default())
        .await
        .unwrap_err();
    assert_eq!(empty.code(), Code::InvalidArgument);
    // Twice on a real container: the second is a no-op.
    let pod = fake.pod("twice").await;
    let ctr = fake.run(&pod, "c", &[]).await;
    for _ in 0..2 {
        fake.rt
            .stop_container(StopContainerRequest {
                container_id: ctr.clone(),
                timeout: 0,
            })
            .await
            .unwrap();
        fake.rt
            .remove_container(RemoveContainerRequest {
                container_id: ctr.clone(),
            })
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_are_one_image_per_content_with_all_their_tags() {
    let mut fake = serve(FakeRuntime::builder().default_images(false).build()).await;
    let tags = [
        "gcr.io/k8s-staging-cri-tools/test-image-tags:1",
        "gcr.io/k8s-staging-cri-tools/test-image-tags:2",
        "gcr.io/k8s-staging-cri-tools/test-image-tags:3",
    ];
    let mut ids = BTreeSet::new();
    for tag in tags {
        ids.insert(fake.pull(tag).await.unwrap());
    }
    assert_eq!(ids.len(), 1, "three tags of one image: one id");
    let images = fake
        .im
        .list_images(ListImagesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .images;
    assert_eq!(images.len(), 1);
    assert_eq!(images[0].repo_tags, tags);
    // Every tag, the id and the digest resolve to it.
    for reference in tags
        .iter()
        .map(|t| t.to_string())
        .chain([images[0].id.clone(), images[0].repo_digests[0].clone()])
    {
        assert_eq!(
            fake.image_status(&reference).await.map(|i| i.id),
            Some(images[0].id.clone()),
            "{reference}"
        );
    }
    // Removing it by one tag removes it, under every tag.
    fake.im
        .remove_image(RemoveImageRequest {
            image: Some(ImageSpec {
                image: tags[1].into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    for tag in tags {
        assert_eq!(fake.image_status(tag).await, None, "{tag}");
    }

    // Different images under different names.
    let a = fake
        .pull("gcr.io/k8s-staging-cri-tools/test-image-1:latest")
        .await
        .unwrap();
    let b = fake
        .pull("gcr.io/k8s-staging-cri-tools/test-image-2:latest")
        .await
        .unwrap();
    assert_ne!(a, b);
    // The same image from two registries has one id, and both names.
    let hub = fake.pull("nginx:1.27").await.unwrap();
    let mirror = fake.pull("mirror.gcr.io/library/nginx:1.27").await.unwrap();
    assert_eq!(hub, mirror);
    let nginx = fake
        .image_status("mirror.gcr.io/library/nginx:1.27")
        .await
        .unwrap();
    assert_eq!(
        nginx.repo_tags,
        [
            "docker.io/library/nginx:1.27",
            "mirror.gcr.io/library/nginx:1.27"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_status_reports_the_configured_user() {
    let runtime = FakeRuntime::builder()
        .image(
            ImageConfig::new(["example.com/app:1", "example.com/app:stable"])
                .user("4242:4242")
                .size(1234),
        )
        .build();
    let mut fake = serve(runtime).await;
    let r = |name: &str| format!("gcr.io/k8s-staging-cri-tools/{name}");
    for (image, uid, username) in [
        (r("test-image-user-uid"), Some(1002), ""),
        (r("test-image-user-username"), None, "www-data"),
        (r("test-image-user-uid-group"), Some(1003), ""),
        (r("test-image-user-username-group"), None, "www-data"),
        ("example.com/app:stable".to_string(), Some(4242), ""),
        ("example.com/unconfigured:1".to_string(), None, ""),
    ] {
        fake.pull(&image).await.unwrap();
        let status = fake.image_status(&image).await.unwrap();
        assert_eq!(
            (status.uid.map(|u| u.value), status.username.as_str()),
            (uid, username),
            "{image}"
        );
    }
    let app = fake.image_status("example.com/app:stable").await.unwrap();
    assert_eq!(app.size, 1234);
    fake.pull("example.com/app:1").await.unwrap();
    let app = fake.image_status("example.com/app:stable").await.unwrap();
    assert_eq!(
        app.repo_tags,
        ["example.com/app:stable", "example.com/app:1"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulls_honour_their_deadline() {
    let runtime = FakeRuntime::builder()
        .pull_delay(Duration::from_millis(500))
        .build();
    let mut fake = serve(runtime).await;
    let mut request = tonic::Request::new(PullImageRequest {
        image: Some(ImageSpec {
            image: "example.com/slow:1".into(),
            ..Default::default()
        }),
        ..Default::default()
    });
    request.set_timeout(Duration::from_millis(100));
    let started = std::time::Instant::now();
    let err = fake.im.pull_image(request).await.unwrap_err();
    assert_eq!(err.code(), Code::DeadlineExceeded, "{err:?}");
    assert!(started.elapsed() < Duration::from_millis(450));
    // Give the server's side a moment: a timed-out pull pulls nothing.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(fake.image_status("example.com/slow:1").await, None);
    // Without a deadline (or a longer one) the pull takes its time and succeeds.
    let started = std::time::Instant::now();
    fake.pull("example.com/slow:1").await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(500));
    assert!(fake.image_status("example.com/slow:1").await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_started_container_writes_its_output_as_a_cri_log() {
    let mut fake = serve(FakeRuntime::new()).await;
    let pod = fake.pod("logs").await;
    let ctr = fake
        .run(
            &pod,
            "app",
            &[
                "/bin/sh",
                "-c",
                "echo out $GREETING; echo err >&2; printf 'no newline'",
            ],
        )
        .await;
    let status = fake.exited(&ctr).await;
    assert_eq!((status.exit_code, status.reason.as_str()), (0, "Completed"));
    assert!(status.finished_at >= status.started_at);
    // As containerd: the status names the whole path, log_directory joined with log_path.
    assert_eq!(
        status.log_path,
        fake.logs
            .join("logs")
            .join("app/0.log")
            .display()
            .to_string()
    );
    let log = fake.log_of("logs", "app");
    let app = messages(&log);
    assert_eq!(
        text(&app, Stream::Stdout),
        [
            ("out hello".to_string(), false),
            ("no newline".to_string(), true)
        ]
    );
    assert_eq!(text(&app, Stream::Stderr), [("err".to_string(), false)]);
    // The raw file: RFC 3339 nano timestamps, stream, tag.
    let raw = std::fs::read_to_string(&log).unwrap();
    let first = raw.lines().next().unwrap();
    assert!(first.ends_with("Z stdout F out hello"), "{first}");
    assert_eq!(first.find(' '), Some(30), "{first}");

    // A long line is split at 16 KiB into partial lines, and joined back.
    let x = "x".repeat(40_000);
    let ctr = fake.run(&pod, "long", &["echo", &x]).await;
    fake.exited(&ctr).await;
    let raw = std::fs::read_to_string(fake.log_of("logs", "long")).unwrap();
    let tags: Vec<&str> = raw.lines().map(|l| l.split(' ').nth(2).unwrap()).collect();
    assert_eq!(tags, ["P", "P", "F"]);
    assert_eq!(raw.lines().next().unwrap().len(), 30 + 10 + 16 * 1024);
    let long = messages(&fake.log_of("logs", "long"));
    assert_eq!(
        (long.len(), long[0].content.len(), long[0].partial),
        (1, 40_000, false)
    );

    let ctr = fake.run(&pod, "seq", &["seq", "1", "20000"]).await;
    fake.exited(&ctr).await;
    let seq = messages(&fake.log_of("logs", "seq"));
    assert_eq!(seq.len(), 20000);
    assert_eq!(seq[19999].content, b"20000");

    // Failing commands make the container exit with their code; an unknown one is 127.
    for (name, command, code) in [
        ("three", &["sh", "-c", "exit 3"][..], 3),
        (
            "unknown",
            &["/usr/sbin/no-such-daemon", "--foreground"][..],
            127,
        ),
    ] {
        let ctr = fake.run(&pod, name, command).await;
        let status = fake.exited(&ctr).await;
        assert_eq!(
            (status.exit_code, status.reason.as_str()),
            (code, "Error"),
            "{name}"
        );
    }
    let unknown = messages(&fake.log_of("logs", "unknown"));
    assert_eq!(
        text(&unknown, Stream::Stderr),
        [("/usr/sbin/no-such-daemon: not found".to_string(), false)]
    );

    // A long-running command runs until stopped, and a stop kills it (137).
    let ctr = fake
        .run(
            &pod,
            "sleeper",
            &["sh", "-c", "echo started; sleep infinity"],
        )
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        fake.status(&ctr).await.state(),
        ContainerState::ContainerRunning
    );
    fake.rt
        .stop_container(StopContainerRequest {
            container_id: ctr.clone(),
            timeout: 1,
        })
        .await
        .unwrap();
    let status = fake.status(&ctr).await;
    assert_eq!(
        (status.state(), status.exit_code),
        (ContainerState::ContainerExited, 137)
    );
    assert_eq!(
        text(&messages(&fake.log_of("logs", "sleeper")), Stream::Stdout),
        [("started".to_string(), false)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopen_container_log_starts_a_new_file() {
    // A command that prints, waits for the test's signal, and prints again.
    let gate = Arc::new(tokio::sync::Notify::new());
    let opened = gate.clone();
    let handler = move |argv: Vec<String>, mut io: CommandIo| {
        let gate = opened.clone();
        async move {
            if argv[0] != "gate" {
                return Builtins.run(argv, io).await;
            }
            let _ = io.stdout.write_all(b"before rotation\nhalf").await;
            gate.notified().await;
            let _ = io.stdout.write_all(b" line\nafter rotation\n").await;
            0
        }
    };
    let mut fake = serve(FakeRuntime::builder().command_handler(handler).build()).await;
    let pod = fake.pod("rotate").await;
    let ctr = fake.run(&pod, "app", &["gate"]).await;
    let log = fake.log_of("rotate", "app");
    for _ in 0..500 {
        if std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("before rotation")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let rotated = log.with_extension("log.1");
    std::fs::rename(&log, &rotated).unwrap();
    fake.rt
        .reopen_container_log(ReopenContainerLogRequest {
            container_id: ctr.clone(),
        })
        .await
        .unwrap();
    assert!(
        log.exists(),
        "ReopenContainerLog creates a new file at log_path"
    );
    gate.notify_one();
    fake.exited(&ctr).await;
    let old: Vec<_> = LogReader::new(std::fs::File::open(&rotated).unwrap(), ReadOptions::new())
        .map(|m| String::from_utf8(m.unwrap().content).unwrap())
        .collect();
    assert_eq!(old, ["before rotation"]);
    assert_eq!(
        text(&messages(&log), Stream::Stdout),
        [
            ("half line".to_string(), false),
            ("after rotation".to_string(), false)
        ]
    );
    // Reopening the log of a container that is not running is an error, as in containerd.
    let err = fake
        .rt
        .reopen_container_log(ReopenContainerLogRequest { container_id: ctr })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_rpcs_serve_a_small_fixed_set_of_descriptors() {
    let runtime = FakeRuntime::new();
    runtime.seed(2, 2);
    let mut fake = serve(runtime).await;
    let descriptors = fake
        .rt
        .list_metric_descriptors(ListMetricDescriptorsRequest {})
        .await
        .unwrap()
        .into_inner()
        .descriptors;
    let names: Vec<&str> = descriptors.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "container_cpu_usage_seconds_total",
            "container_network_receive_bytes_total"
        ]
    );
    let metrics = fake
        .rt
        .list_pod_sandbox_metrics(ListPodSandboxMetricsRequest {})
        .await
        .unwrap()
        .into_inner()
        .pod_metrics;
    assert_eq!(metrics.len(), 2);
    let all = metrics.iter().flat_map(|p| {
        p.metrics
            .iter()
            .chain(p.container_metrics.iter().flat_map(|c| &c.metrics))
    });
    let mut seen = 0;
    for metric in all {
        let descriptor = descriptors
            .iter()
            .find(|d| d.name == metric.name)
            .unwrap_or_else(|| panic!("{} has no descriptor", metric.name));
        assert_eq!(
            metric.label_values.len(),
            descriptor.label_keys.len(),
            "{}",
            metric.name
        );
        assert!(metric.value.is_some());
        seen += 1;
    }
    assert_eq!(seen, 2 + 4, "one pod metric per pod, one per container");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tty_output_is_stdout_and_the_user_comes_from_config_or_image() {
    let mut fake = serve(FakeRuntime::new()).await;
    let pod = fake.pod("tty").await;
    let ctr = fake
        .run_with(&pod, "term", &["sh", "-c", "echo a; echo b >&2"], |c| {
            c.tty = true
        })
        .await;
    fake.exited(&ctr).await;
    let log = messages(&fake.log_of("tty", "term"));
    assert_eq!(
        text(&log, Stream::Stdout),
        [("a".to_string(), false), ("b".to_string(), false)]
    );
    assert!(text(&log, Stream::Stderr).is_empty());

    let image = "gcr.io/k8s-staging-cri-tools/test-image-user-uid";
    fake.pull(image).await.unwrap();
    let from_image = fake
        .run_with(&pod, "image-user", &[], |c| {
            c.image = Some(ImageSpec {
                image: image.into(),
                ..Default::default()
            })
        })
        .await;
    let user = |status: ContainerStatus| {
        let linux = status.user.unwrap().linux.unwrap();
        (linux.uid, linux.gid, linux.supplemental_groups)
    };
    assert_eq!(user(fake.status(&from_image).await), (1002, 0, vec![0]));
    let from_config = fake
        .run_with(&pod, "config-user", &[], |c| {
            c.linux = Some(LinuxContainerConfig {
                security_context: Some(LinuxContainerSecurityContext {
                    run_as_user: Some(Int64Value { value: 7 }),
                    run_as_group: Some(Int64Value { value: 8 }),
                    supplemental_groups: vec![9],
                    ..Default::default()
                }),
                ..Default::default()
            })
        })
        .await;
    assert_eq!(user(fake.status(&from_config).await), (7, 8, vec![8, 9]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_with_stdin_keeps_it_open() {
    let mut fake = serve(FakeRuntime::new()).await;
    let pod = fake.pod("stdin").await;
    let open = fake
        .run_with(&pod, "open", &["cat"], |c| c.stdin = true)
        .await;
    let closed = fake.run(&pod, "closed", &["cat"]).await;
    let status = fake.exited(&closed).await;
    assert_eq!(status.exit_code, 0, "cat of an empty stdin ends at once");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        fake.status(&open).await.state(),
        ContainerState::ContainerRunning,
        "cat of an open stdin waits"
    );
}
