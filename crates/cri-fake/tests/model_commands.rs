//! The container model's `kill`, `nc` and nginx's pid file and `/proc/PID/cmdline`, run in containers of a runtime driven in-process
//! through its `RuntimeService`.

use std::time::Duration;

use cri_api_v1::runtime_service_server::RuntimeService;
use cri_api_v1::*;
use cri_fake::FakeRuntime;
use cri_fake::command::CommandIo;
use tonic::Request;

struct Pod {
    rt: FakeRuntime,
    id: String,
    ip: String,
}

async fn pod(rt: FakeRuntime, name: &str) -> Pod {
    rt.add_image("docker.io/library/busybox:1.36", 1 << 20, false);
    let id = rt
        .run_pod_sandbox(Request::new(RunPodSandboxRequest {
            config: Some(PodSandboxConfig {
                metadata: Some(PodSandboxMetadata {
                    name: name.into(),
                    uid: format!("uid-{name}"),
                    namespace: "default".into(),
                    attempt: 0,
                }),
                ..Default::default()
            }),
            runtime_handler: String::new(),
        }))
        .await
        .unwrap()
        .into_inner()
        .pod_sandbox_id;
    let status = rt
        .pod_sandbox_status(Request::new(PodSandboxStatusRequest {
            pod_sandbox_id: id.clone(),
            verbose: false,
        }))
        .await
        .unwrap()
        .into_inner()
        .status
        .unwrap();
    let ip = status.network.unwrap().ip;
    Pod { rt, id, ip }
}

impl Pod {
    /// Creates and starts a container running `command`.
    async fn container(&self, name: &str, command: &[&str]) -> String {
        let id = self
            .rt
            .create_container(Request::new(CreateContainerRequest {
                pod_sandbox_id: self.id.clone(),
                config: Some(ContainerConfig {
                    metadata: Some(ContainerMetadata {
                        name: name.into(),
                        attempt: 0,
                    }),
                    image: Some(ImageSpec {
                        image: "busybox:1.36".into(),
                        ..Default::default()
                    }),
                    command: command.iter().map(|s| s.to_string()).collect(),
                    ..Default::default()
                }),
                sandbox_config: None,
            }))
            .await
            .unwrap()
            .into_inner()
            .container_id;
        self.rt
            .start_container(Request::new(StartContainerRequest {
                container_id: id.clone(),
            }))
            .await
            .unwrap();
        id
    }

    /// Runs `argv` in container `id` with `stdin`: exit code, stdout, stderr.
    async fn exec(&self, id: &str, argv: &[&str], stdin: &str) -> (i32, String, String) {
        let (io, captured) = CommandIo::capture(None);
        let io = io.with_stdin(std::io::Cursor::new(stdin.as_bytes().to_vec()));
        let argv = argv.iter().map(|s| s.to_string()).collect();
        let code = self.rt.exec_in(id, argv, io).unwrap().await;
        let (out, err) = captured.take();
        (
            code,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    async fn status(&self, id: &str) -> ContainerStatus {
        self.rt
            .container_status(Request::new(ContainerStatusRequest {
                container_id: id.into(),
                verbose: false,
            }))
            .await
            .unwrap()
            .into_inner()
            .status
            .unwrap()
    }

    /// The status once the container has exited (within 5 s).
    async fn exited(&self, id: &str) -> ContainerStatus {
        for _ in 0..500 {
            let status = self.status(id).await;
            if status.state == ContainerState::ContainerExited as i32 {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("container {id} did not exit");
    }

    /// A port of the pod's address that nothing listens on (as far as can be told).
    fn free_port(&self) -> u16 {
        let listener = std::net::TcpListener::bind((self.ip.as_str(), 0)).unwrap();
        listener.local_addr().unwrap().port()
    }
}

#[tokio::test]
async fn kill_ends_the_main_process_as_a_runtime_reports_it() {
    let pod = pod(FakeRuntime::new(), "kill").await;
    let killed = pod.container("killed", &["sleep", "infinity"]).await;
    let termed = pod.container("termed", &["sleep", "infinity"]).await;

    // The main process is pid 1 of each container; -0 checks without signalling.
    assert_eq!(pod.exec(&killed, &["pgrep", "sleep"], "").await.1, "1\n");
    assert_eq!(pod.exec(&killed, &["kill", "-0", "1"], "").await.0, 0);
    assert_eq!(
        pod.exec(&killed, &["kill", "-0", "99"], "").await,
        (
            1,
            String::new(),
            "kill: can't kill pid 99: No such process\n".into()
        )
    );
    assert_eq!(
        pod.status(&killed).await.state,
        ContainerState::ContainerRunning as i32
    );

    assert_eq!(pod.exec(&killed, &["kill", "-9", "1"], "").await.0, 0);
    let status = pod.exited(&killed).await;
    assert_eq!((status.exit_code, status.reason.as_str()), (137, "Error"));

    // Plain kill is TERM: 143. The other container was untouched until now.
    assert_eq!(
        pod.status(&termed).await.state,
        ContainerState::ContainerRunning as i32
    );
    assert_eq!(pod.exec(&termed, &["sh", "-c", "kill 1"], "").await.0, 0);
    let status = pod.exited(&termed).await;
    assert_eq!((status.exit_code, status.reason.as_str()), (143, "Error"));
}

#[tokio::test]
async fn kill_ends_one_process_of_several_and_refuses_bad_input() {
    let pod = pod(FakeRuntime::new(), "several").await;
    let id = pod.container("main", &["sleep", "infinity"]).await;
    // An exec'd sleep is pid 2; killing it ends that exec with 128 + the signal.
    let sleeper = {
        let (io, _) = CommandIo::capture(None);
        let argv = vec!["sleep".to_string(), "1000".to_string()];
        tokio::spawn(pod.rt.exec_in(&id, argv, io).unwrap())
    };
    let mut listed = String::new();
    for _ in 0..100 {
        listed = pod.exec(&id, &["pgrep", "-f", "sleep 1000"], "").await.1;
        if !listed.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(listed, "2\n");
    assert_eq!(pod.exec(&id, &["kill", "-s", "USR1", "2"], "").await.0, 0);
    let code = tokio::time::timeout(Duration::from_secs(5), sleeper)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(code, 128 + 10);
    assert_eq!(pod.exec(&id, &["pgrep", "-f", "sleep 1000"], "").await.0, 1);

    // Ignored signals change nothing; bad input is one line and status 1.
    assert_eq!(pod.exec(&id, &["kill", "-WINCH", "1"], "").await.0, 0);
    for (argv, message) in [
        (
            &["kill"][..],
            "kill: usage: kill [-s SIGNAL | -SIGNAL] PID...\n",
        ),
        (&["kill", "-FOO", "1"][..], "kill: bad signal 'FOO'\n"),
        (&["kill", "-9", "x"][..], "kill: invalid number 'x'\n"),
        (
            &["kill", "-STOP", "1"][..],
            "kill: SIGSTOP: stopped processes are not modelled by the fake\n",
        ),
    ] {
        assert_eq!(
            pod.exec(&id, argv, "").await,
            (1, String::new(), message.to_string()),
            "{argv:?}"
        );
    }
    assert_eq!(pod.exec(&id, &["kill", "-l", "137"], "").await.1, "KILL\n");
    assert_eq!(
        pod.status(&id).await.state,
        ContainerState::ContainerRunning as i32
    );
}

/// Runs `argv` until it exits 0 (the server it talks to may not listen yet).
async fn until_ok(pod: &Pod, id: &str, argv: &[&str], stdin: &str) -> (i32, String, String) {
    let mut last = None;
    for _ in 0..200 {
        let answer = pod.exec(id, argv, stdin).await;
        if answer.0 == 0 {
            return answer;
        }
        last = Some(answer);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{argv:?} never succeeded: {last:?}");
}

#[tokio::test]
async fn nc_probes_talks_and_listens_on_the_pod_address() {
    let pod = pod(FakeRuntime::new(), "nc").await;
    let id = pod.container("main", &["sleep", "infinity"]).await;
    let port = pod.free_port().to_string();

    // Nothing listens yet: the probe fails quietly.
    assert_eq!(
        pod.exec(&id, &["nc", "-z", &pod.ip, &port], "").await,
        (1, String::new(), String::new())
    );

    // A listener with -k serves one client after another.
    let server = {
        let (io, _) = CommandIo::capture(None);
        let argv = ["nc", "-lk", "-p", &port].map(String::from).to_vec();
        tokio::spawn(pod.rt.exec_in(&id, argv, io).unwrap())
    };
    until_ok(&pod, &id, &["nc", "-z", &pod.ip, &port], "").await;
    let (code, _, err) = pod.exec(&id, &["nc", "-zv", "localhost", &port], "").await;
    assert_eq!(code, 0);
    assert!(err.ends_with("open\n"), "{err}");
    // From outside the container too: it listens on the pod's address.
    std::net::TcpStream::connect((pod.ip.as_str(), port.parse().unwrap())).unwrap();
    server.abort();

    // One exchange: the client's stdin reaches the server's stdout and back.
    let port = pod.free_port().to_string();
    let (io, captured) = CommandIo::capture(None);
    let io = io.with_stdin(std::io::Cursor::new(b"from the server\n".to_vec()));
    let argv = ["nc", "-l", "-p", &port].map(String::from).to_vec();
    let server = tokio::spawn(pod.rt.exec_in(&id, argv, io).unwrap());
    let script = format!("echo hello | nc {} {port}", pod.ip);
    let (code, out, _) = until_ok(&pod, &id, &["sh", "-c", &script], "").await;
    assert_eq!((code, out.as_str()), (0, "from the server\n"));
    let code = tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(code, 0);
    assert_eq!(captured.take().0, b"hello\n");

    // Bad input: one line, status 1.
    for (argv, message) in [
        (&["nc"][..], "nc: usage: nc [-z] [-w SECS] HOST PORT\n"),
        (&["nc", "-l"][..], "nc: -l needs a port: nc -l -p PORT\n"),
        (&["nc", "host", "http"][..], "nc: bad port 'http'\n"),
        (&["nc", "-y", "h", "1"][..], "nc: invalid option -- 'y'\n"),
    ] {
        assert_eq!(
            pod.exec(&id, argv, "").await,
            (1, String::new(), message.to_string()),
            "{argv:?}"
        );
    }
}

#[tokio::test]
async fn a_user_handler_composes_with_the_model_in_scripts() {
    use cri_fake::command::{Builtins, CommandHandler};
    use std::sync::{Arc, Mutex};
    use tokio::io::AsyncWriteExt;

    let asked = Arc::new(Mutex::new(Vec::new()));
    let seen = asked.clone();
    let rt = FakeRuntime::builder()
        .command_handler(move |argv: Vec<String>, mut io: CommandIo| {
            seen.lock().unwrap().push(argv[0].clone());
            async move {
                match argv[0].as_str() {
                    "greet" => {
                        let _ = io.stdout.write_all(b"hello\n").await;
                        0
                    }
                    // The user's answer wins over the model's.
                    "hostname" => {
                        let _ = io.stdout.write_all(b"mine\n").await;
                        0
                    }
                    _ => Builtins.run(argv, io).await,
                }
            }
        })
        .build();
    let pod = pod(rt, "composed").await;
    let id = pod.container("main", &["sleep", "infinity"]).await;
    let (code, out, err) = pod
        .exec(
            &id,
            &[
                "sh",
                "-c",
                "greet; id -u; hostname; pgrep sleep; echo $(greet)",
            ],
            "",
        )
        .await;
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (0, "hello\n0\nmine\n1\nhello\n", "")
    );
    // The handler was asked for the main process, `sh` and every command of its script.
    let asked = asked.lock().unwrap().clone();
    for name in ["sleep", "sh", "greet", "id", "hostname", "pgrep", "echo"] {
        assert!(asked.contains(&name.to_string()), "{name} not in {asked:?}");
    }
    // The model's kill reaches the main process the user's handler runs.
    assert_eq!(pod.exec(&id, &["kill", "-9", "1"], "").await.0, 0);
    assert_eq!(pod.exited(&id).await.exit_code, 137);
}

#[tokio::test]
async fn seeded_containers_have_a_log_and_keep_it_across_a_restart() {
    let rt = FakeRuntime::new();
    let seeded = rt.seed(2, 2);
    let mut paths = Vec::new();
    for id in &seeded.container_ids {
        let status = status_of(&rt, id).await;
        let file = std::fs::File::open(&status.log_path).unwrap();
        let lines: Vec<(cri_log::Stream, String)> =
            cri_log::LogReader::new(file, cri_log::ReadOptions::new())
                .map(|m| {
                    let m = m.unwrap();
                    (m.stream, String::from_utf8(m.content).unwrap())
                })
                .collect();
        let name = status.metadata.unwrap().name;
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert_eq!(lines[0].0, cri_log::Stream::Stdout);
        assert!(lines[0].1.starts_with(&format!("{name}: starting in pod ")));
        assert_eq!(lines[1].0, cri_log::Stream::Stderr);
        assert_eq!(lines[2].1, format!("{name}: ready"));
        paths.push(status.log_path);
    }
    // A restarted runtime (its state saved and loaded) neither loses nor doubles them.
    // (Seeded ids are the same in every fake, and so are their log files: they stay, and
    // the one this test needs missing is removed first.)
    let dir = tempfile::tempdir().unwrap();
    let unread = rt.seed(1, 1).container_ids[0].clone();
    rt.save_state(&dir.path().join("state")).unwrap();
    let again = FakeRuntime::new();
    again.load_state(&dir.path().join("state")).unwrap();
    let log_path = |rt: &FakeRuntime, id: &str| {
        let rt = rt.clone();
        let id = id.to_string();
        async move {
            let listed = rt
                .list_containers(Request::new(ListContainersRequest::default()))
                .await
                .unwrap()
                .into_inner()
                .containers;
            let ctr = listed.into_iter().find(|c| c.id == id).unwrap();
            let pods = rt
                .list_pod_sandbox(Request::new(ListPodSandboxRequest::default()))
                .await
                .unwrap()
                .into_inner()
                .items;
            let pod = pods
                .into_iter()
                .find(|p| p.id == ctr.pod_sandbox_id)
                .unwrap();
            let meta = pod.metadata.unwrap();
            std::env::temp_dir()
                .join("cri-fake-pods")
                .join(format!("{}_{}_{}", meta.namespace, meta.name, meta.uid))
                .join(format!("{}/0.log", ctr.metadata.unwrap().name))
        }
    };
    let unread_log = log_path(&again, &unread).await;
    let _ = std::fs::remove_file(&unread_log);
    let status = status_of(&again, &unread).await;
    assert_eq!(std::path::Path::new(&status.log_path), unread_log);
    assert!(unread_log.exists());
    let before = std::fs::read(&paths[0]).unwrap();
    let status = status_of(&again, &seeded.container_ids[0]).await;
    assert_eq!(std::fs::read(&status.log_path).unwrap(), before);
}

async fn status_of(rt: &FakeRuntime, id: &str) -> ContainerStatus {
    rt.container_status(Request::new(ContainerStatusRequest {
        container_id: id.into(),
        verbose: false,
    }))
    .await
    .unwrap()
    .into_inner()
    .status
    .unwrap()
}

#[tokio::test]
async fn nginx_writes_its_pid_file_and_proc_cmdline_reads_the_process_table() {
    let pod = pod(FakeRuntime::new(), "nginx-pid").await;
    let port = pod.free_port();
    let listen = format!("daemon off; listen {port};");
    let web = pod.container("web", &["nginx", "-g", &listen]).await;

    // nginx's master writes its pid (1: the container's main process), newline-ended.
    assert_eq!(
        until_ok(&pod, &web, &["cat", "/var/run/nginx.pid"], "").await,
        (0, "1\n".into(), String::new())
    );
    // ... and its title is what /proc/1/cmdline reads, NUL-ended.
    let title = format!("nginx: master process nginx -g {listen}\0");
    assert_eq!(
        pod.exec(&web, &["cat", "/proc/1/cmdline"], "").await,
        (0, title, String::new())
    );
    // critest's ContainerPID loop ends at once.
    let polled = tokio::time::timeout(
        Duration::from_secs(5),
        pod.exec(
            &web,
            &[
                "sh",
                "-c",
                r#"while ! cat /proc/1/cmdline | grep "master process"; do sleep 1; done"#,
            ],
            "",
        ),
    )
    .await
    .unwrap();
    assert_eq!(polled.0, 0);
    assert!(polled.1.contains("nginx: master process"), "{polled:?}");

    // Any other process: its arguments, each NUL-ended; the first exec (a cat) is pid 2.
    let sleeper = pod.container("sleeper", &["sleep", "infinity"]).await;
    assert_eq!(
        pod.exec(&sleeper, &["cat", "/proc/2/cmdline"], "").await.1,
        "cat\0/proc/2/cmdline\0"
    );
    assert_eq!(
        pod.exec(&sleeper, &["cat", "/proc/1/cmdline"], "").await.1,
        "sleep\0infinity\0"
    );
    assert_eq!(
        pod.exec(&sleeper, &["cat", "/proc/9/cmdline"], "").await,
        (
            1,
            String::new(),
            "cat: /proc/9/cmdline: No such file or directory\n".into()
        )
    );
    let (code, listed, _) = pod.exec(&sleeper, &["ls", "/proc"], "").await;
    assert_eq!(code, 0);
    assert!(listed.lines().any(|l| l == "1"), "{listed}");
    assert_eq!(
        pod.exec(&sleeper, &["test", "-d", "/proc/1"], "").await.0,
        0
    );
    assert_eq!(
        pod.exec(&sleeper, &["test", "-d", "/proc/9"], "").await.0,
        1
    );
    // No nginx ran here: no pid file.
    assert_eq!(
        pod.exec(&sleeper, &["test", "-f", "/var/run/nginx.pid"], "")
            .await
            .0,
        1
    );
}

#[tokio::test]
async fn nginx_on_a_read_only_root_cannot_write_its_pid_file_and_exits() {
    let pod = pod(FakeRuntime::new(), "nginx-ro").await;
    let port = pod.free_port();
    let id = pod
        .rt
        .create_container(Request::new(CreateContainerRequest {
            pod_sandbox_id: pod.id.clone(),
            config: Some(ContainerConfig {
                metadata: Some(ContainerMetadata {
                    name: "ro".into(),
                    attempt: 0,
                }),
                image: Some(ImageSpec {
                    image: "busybox:1.36".into(),
                    ..Default::default()
                }),
                command: vec![
                    "nginx".into(),
                    "-g".into(),
                    format!("daemon off; listen {port};"),
                ],
                linux: Some(LinuxContainerConfig {
                    security_context: Some(LinuxContainerSecurityContext {
                        readonly_rootfs: true,
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            sandbox_config: None,
        }))
        .await
        .unwrap()
        .into_inner()
        .container_id;
    pod.rt
        .start_container(Request::new(StartContainerRequest {
            container_id: id.clone(),
        }))
        .await
        .unwrap();
    assert_eq!(pod.exited(&id).await.exit_code, 1);
}
