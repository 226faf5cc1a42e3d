//! Running commands in containers: `ExecSync` (through the runtime's command handler, with a
//! deadline), and `Exec`, `Attach` and `PortForward`, which answer URLs of the fake's
//! streaming server.

use std::time::Duration;

use cri_api_v1 as api;
use tonic::{Request, Response, Status};

use super::{Reply, grpc_deadline};
use crate::FakeRuntime;
use crate::command::{BoxFuture, CommandIo};
use crate::state::resolve;

impl FakeRuntime {
    /// Runs `argv` in the running container `id` (full or a unique prefix) through the
    /// runtime's [`CommandHandler`](crate::command::CommandHandler), as `ExecSync` and the
    /// streaming `Exec` do: the command gets the container's environment (`PATH`,
    /// `HOSTNAME`, the config's `envs`, `HOME`) unless `io.env` is already set. Fails with
    /// `NOT_FOUND` for an unknown container and `FAILED_PRECONDITION` for one that is not
    /// running; the future resolves to the exit code, and dropping it stops the command.
    pub fn exec_in(
        &self,
        id: &str,
        argv: Vec<String>,
        mut io: CommandIo,
    ) -> Result<BoxFuture<'static, i32>, Status> {
        if argv.is_empty() {
            return Err(Status::invalid_argument("cmd is empty"));
        }
        let id = self.running(id)?;
        let model = {
            let state = self.read();
            let ctr = &state.containers[&id];
            if io.env.is_empty() {
                io.env = ctr.env(state.pods.get(&ctr.pod_id));
            }
            ctr.model.clone()
        };
        Ok(crate::command::dispatch(
            &self.container_commands(model),
            argv,
            io,
        ))
    }

    /// The commands of a container: its model over the runtime's command handler.
    pub(crate) fn container_commands(
        &self,
        model: std::sync::Arc<crate::model::Container>,
    ) -> std::sync::Arc<crate::model::ContainerCommands> {
        std::sync::Arc::new(crate::model::ContainerCommands {
            model,
            user: self
                .options()
                .custom_commands
                .then(|| self.options().commands.clone()),
        })
    }
}

pub(super) async fn exec_sync(
    rt: &FakeRuntime,
    request: Request<api::ExecSyncRequest>,
) -> Reply<api::ExecSyncResponse> {
    let deadline = grpc_deadline(&request);
    let request = request.into_inner();
    if request.cmd.is_empty() {
        return Err(Status::invalid_argument("cmd is empty"));
    }
    let (io, captured) = CommandIo::capture(None);
    let run = rt.exec_in(&request.container_id, request.cmd.clone(), io)?;
    let timeout = (request.timeout > 0).then(|| Duration::from_secs(request.timeout as u64));
    let limit = match (timeout, deadline) {
        (Some(t), Some(d)) => Some(t.min(d)),
        (t, d) => t.or(d),
    };
    // The command runs on a task of its own: its deadline is a timer of this task that no
    // command can hold up, and stopping the command (at the deadline, or when the client
    // goes away and this future is dropped) aborts that task.
    let task = AbortOnDrop(tokio::spawn(run));
    let joined = match limit {
        None => task.wait().await,
        Some(limit) => match tokio::time::timeout(limit, task.wait()).await {
            Ok(joined) => joined,
            Err(_) => {
                return Err(Status::deadline_exceeded(format!(
                    "command {:?} timed out after {limit:?}",
                    request.cmd
                )));
            }
        },
    };
    let exit_code =
        joined.map_err(|e| Status::internal(format!("command {:?} failed: {e}", request.cmd)))?;
    let (stdout, stderr) = captured.take();
    Ok(Response::new(api::ExecSyncResponse {
        stdout,
        stderr,
        exit_code,
    }))
}

/// A task that is aborted when this handle is dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> AbortOnDrop<T> {
    async fn wait(mut self) -> Result<T, tokio::task::JoinError> {
        (&mut self.0).await
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub(super) async fn exec(
    rt: &FakeRuntime,
    request: Request<api::ExecRequest>,
) -> Reply<api::ExecResponse> {
    let request = request.into_inner();
    if request.cmd.is_empty() {
        return Err(Status::invalid_argument("cmd is empty"));
    }
    rt.running(&request.container_id)?;
    let server = rt.streaming_server().await?;
    Ok(Response::new(
        server
            .get_exec(&request)
            .map_err(crate::streaming::to_status)?,
    ))
}

pub(super) async fn attach(
    rt: &FakeRuntime,
    request: Request<api::AttachRequest>,
) -> Reply<api::AttachResponse> {
    let request = request.into_inner();
    rt.running(&request.container_id)?;
    let server = rt.streaming_server().await?;
    Ok(Response::new(
        server
            .get_attach(&request)
            .map_err(crate::streaming::to_status)?,
    ))
}

pub(super) async fn port_forward(
    rt: &FakeRuntime,
    request: Request<api::PortForwardRequest>,
) -> Reply<api::PortForwardResponse> {
    let request = request.into_inner();
    {
        let state = rt.read();
        let id = resolve(&state.pods, &request.pod_sandbox_id, "pod sandbox")?;
        if state.pods[id].state != api::PodSandboxState::SandboxReady {
            return Err(Status::failed_precondition(format!(
                "pod sandbox {id} is not ready"
            )));
        }
    }
    let server = rt.streaming_server().await?;
    Ok(Response::new(
        server
            .get_port_forward(&request)
            .map_err(crate::streaming::to_status)?,
    ))
}
