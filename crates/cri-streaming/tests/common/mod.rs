//! A small runtime for the tests: `echo`, `cat`, `err TEXT`, `exit N`, `sleep MS`,
//! `size` (prints terminal sizes), `yes N` (N bytes of output); attach prints a banner and
//! echoes stdin; port forward echoes.

#![allow(dead_code)]

use std::time::Duration;

use cri_streaming::server::{BoxError, BoxFuture, PortStream, Runtime, Streams};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub struct TestRuntime;

async fn run(cmd: Vec<String>, mut io: Streams) -> Result<i32, BoxError> {
    let arg = |i: usize| cmd.get(i).cloned().unwrap_or_default();
    match arg(0).as_str() {
        "echo" => {
            let mut out = io.stdout.take().ok_or("no stdout")?;
            out.write_all(format!("{}\n", cmd[1..].join(" ")).as_bytes())
                .await?;
            Ok(0)
        }
        "err" => {
            let mut err = io.stderr.take().ok_or("no stderr")?;
            err.write_all(cmd[1..].join(" ").as_bytes()).await?;
            Ok(0)
        }
        "cat" => {
            let mut input = io.stdin.take().ok_or("no stdin")?;
            let mut out = io.stdout.take().ok_or("no stdout")?;
            tokio::io::copy(&mut input, &mut out).await?;
            Ok(0)
        }
        "exit" => Ok(arg(1).parse()?),
        "fail" => Err("the runtime could not start it".into()),
        "sleep" => {
            tokio::time::sleep(Duration::from_millis(arg(1).parse()?)).await;
            Ok(0)
        }
        "size" => {
            let mut out = io.stdout.take().ok_or("no stdout")?;
            let mut sizes = io.resize.take().ok_or("no resize")?;
            let count: usize = arg(1).parse()?;
            for _ in 0..count {
                let size = sizes.recv().await.ok_or("resize ended")?;
                out.write_all(format!("{}x{}\n", size.width, size.height).as_bytes())
                    .await?;
            }
            Ok(0)
        }
        "yes" => {
            let mut out = io.stdout.take().ok_or("no stdout")?;
            let mut left: u64 = arg(1).parse()?;
            let chunk = vec![b'y'; 64 << 10];
            while left > 0 {
                let n = left.min(chunk.len() as u64) as usize;
                out.write_all(&chunk[..n]).await?;
                left -= n as u64;
            }
            Ok(0)
        }
        other => {
            if let Some(mut err) = io.stderr.take() {
                err.write_all(format!("{other}: not found\n").as_bytes())
                    .await?;
            }
            Ok(127)
        }
    }
}

impl Runtime for TestRuntime {
    fn exec(
        &self,
        request: cri_api_v1::ExecRequest,
        streams: Streams,
    ) -> BoxFuture<Result<i32, BoxError>> {
        Box::pin(run(request.cmd, streams))
    }

    fn attach(
        &self,
        request: cri_api_v1::AttachRequest,
        mut io: Streams,
    ) -> BoxFuture<Result<(), BoxError>> {
        Box::pin(async move {
            let mut out = io.stdout.take().ok_or("no stdout")?;
            out.write_all(format!("attached to {}\n", request.container_id).as_bytes())
                .await?;
            if let Some(mut input) = io.stdin.take() {
                tokio::io::copy(&mut input, &mut out).await?;
            }
            Ok(())
        })
    }

    fn port_forward(
        &self,
        _pod: String,
        port: u16,
        stream: Box<dyn PortStream>,
    ) -> BoxFuture<Result<(), BoxError>> {
        Box::pin(async move {
            if port == 1 {
                return Err("nothing listens on port 1".into());
            }
            let (mut r, mut w) = tokio::io::split(stream);
            let mut buf = vec![0u8; 64 << 10];
            loop {
                let n = r.read(&mut buf).await?;
                if n == 0 {
                    break;
                }
                w.write_all(&buf[..n]).await?;
            }
            w.shutdown().await?;
            Ok(())
        })
    }
}

pub fn exec_request(cmd: &[&str]) -> cri_api_v1::ExecRequest {
    cri_api_v1::ExecRequest {
        container_id: "c1".into(),
        cmd: cmd.iter().map(|s| s.to_string()).collect(),
        stdin: false,
        stdout: true,
        stderr: true,
        tty: false,
    }
}

/// [`TestRuntime`] that counts the sessions it starts and those that ended (finished or
/// cancelled).
#[derive(Clone, Default)]
pub struct Counting {
    pub started: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    pub ended: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

struct EndGuard(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl Drop for EndGuard {
    fn drop(&mut self) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Counting {
    pub fn started(&self) -> usize {
        self.started.load(std::sync::atomic::Ordering::SeqCst)
    }
    pub fn ended(&self) -> usize {
        self.ended.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Runtime for Counting {
    fn exec(
        &self,
        request: cri_api_v1::ExecRequest,
        streams: Streams,
    ) -> BoxFuture<Result<i32, BoxError>> {
        self.started
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let guard = EndGuard(self.ended.clone());
        let work = TestRuntime.exec(request, streams);
        Box::pin(async move {
            let _guard = guard;
            work.await
        })
    }
}
