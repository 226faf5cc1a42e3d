//! Benchmark mode: latency percentiles of the pod and container lifecycle steps, of lists at
//! N items (unary and streamed) and of the ExecSync round trip, as a table and as JSON.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use cri_api_v1 as v1;

use crate::ctx::SPEC_LABEL;
use crate::{Config, Ctx, raw};

/// What the benchmark measures.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Pod + container lifecycles to time.
    pub iterations: usize,
    /// Container counts at which lists are timed.
    pub list_sizes: Vec<usize>,
    /// Timed calls per list size and per ExecSync.
    pub samples: usize,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            iterations: 20,
            list_sizes: vec![100, 1000],
            samples: 20,
        }
    }
}

/// Percentiles of one measured step, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Percentiles {
    /// How many samples.
    pub count: usize,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// The slowest.
    pub max: f64,
}

impl Percentiles {
    /// Percentiles of `samples` (nearest rank); `None` when there are none.
    pub fn of(samples: &[Duration]) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        let rank = |p: f64| ms[((p * ms.len() as f64).ceil() as usize).clamp(1, ms.len()) - 1];
        Some(Percentiles {
            count: ms.len(),
            p50: rank(0.50),
            p90: rank(0.90),
            p99: rank(0.99),
            max: ms[ms.len() - 1],
        })
    }
}

/// The measurements, by step name (`RunPodSandbox`, `ListContainers@1000`, …).
#[derive(Debug, Clone, Default)]
pub struct BenchReport {
    /// Step name to its percentiles.
    pub steps: BTreeMap<String, Percentiles>,
}

impl BenchReport {
    /// A table a person reads.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{:<34} {:>6} {:>9} {:>9} {:>9} {:>9}\n",
            "step", "n", "p50 ms", "p90 ms", "p99 ms", "max ms"
        );
        for (name, p) in &self.steps {
            out.push_str(&format!(
                "{name:<34} {:>6} {:>9.2} {:>9.2} {:>9.2} {:>9.2}\n",
                p.count, p.p50, p.p90, p.p99, p.max
            ));
        }
        out
    }

    /// The report as JSON: `{"unit": "ms", "steps": {name: {count, p50, p90, p99, max}}}`.
    pub fn json(&self) -> String {
        let steps: serde_json::Map<String, serde_json::Value> = self
            .steps
            .iter()
            .map(|(name, p)| {
                (
                    name.clone(),
                    serde_json::json!({
                        "count": p.count, "p50": p.p50, "p90": p.p90, "p99": p.p99, "max": p.max,
                    }),
                )
            })
            .collect();
        serde_json::json!({ "unit": "ms", "steps": steps }).to_string()
    }
}

macro_rules! time {
    ($samples:expr, $name:expr, $call:expr) => {{
        let started = Instant::now();
        let result = $call.await.with_context(|| $name.to_string())?;
        $samples
            .entry($name.to_string())
            .or_default()
            .push(started.elapsed());
        result
    }};
}

/// Runs the benchmark against `config`'s runtime. Builds its own tokio runtime: call it from
/// synchronous code.
pub fn run_bench(config: Config, options: &BenchOptions) -> anyhow::Result<BenchReport> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    runtime.block_on(async {
        let client = crate::connect(&config)
            .await
            .with_context(|| format!("cannot use the runtime at {}", config.runtime_endpoint))?;
        let ctx = Ctx::new(Arc::new(client), Arc::new(config), "bench::run");
        let result = measure(&ctx, options).await;
        let errors = ctx.cleanup().await;
        let report = result?;
        anyhow::ensure!(errors.is_empty(), "cleanup: {}", errors.join("; "));
        Ok(report)
    })
}

async fn measure(ctx: &Ctx, options: &BenchOptions) -> anyhow::Result<BenchReport> {
    let mut samples: BTreeMap<String, Vec<Duration>> = BTreeMap::new();
    ctx.ensure_test_image().await?;
    let client = ctx.client();
    for _ in 0..options.iterations {
        let pod_config = ctx.pod_config("bench");
        ctx.prepare_log_dir(&pod_config)?;
        let pod = time!(
            samples,
            "RunPodSandbox",
            client.run_pod_sandbox(v1::RunPodSandboxRequest {
                config: Some(pod_config.clone()),
                runtime_handler: String::new(),
            })
        )
        .pod_sandbox_id;
        ctx.remember_pod(&pod);
        let config = ctx.container_config("bench", &["sleep", "3600"]);
        let id = time!(
            samples,
            "CreateContainer",
            client.create_container(v1::CreateContainerRequest {
                pod_sandbox_id: pod.clone(),
                config: Some(config),
                sandbox_config: Some(pod_config),
            })
        )
        .container_id;
        let start = v1::StartContainerRequest {
            container_id: id.clone(),
        };
        time!(samples, "StartContainer", client.start_container(start));
        let exec = v1::ExecSyncRequest {
            container_id: id.clone(),
            cmd: vec!["echo".into(), "x".into()],
            timeout: 0,
        };
        time!(samples, "ExecSync", client.exec_sync(exec));
        let stop = v1::StopContainerRequest {
            container_id: id.clone(),
            timeout: 1,
        };
        time!(samples, "StopContainer", client.stop_container(stop));
        let remove = v1::RemoveContainerRequest { container_id: id };
        time!(samples, "RemoveContainer", client.remove_container(remove));
        let stop = v1::StopPodSandboxRequest {
            pod_sandbox_id: pod.clone(),
        };
        time!(samples, "StopPodSandbox", client.stop_pod_sandbox(stop));
        let remove = v1::RemovePodSandboxRequest {
            pod_sandbox_id: pod,
        };
        time!(
            samples,
            "RemovePodSandbox",
            client.remove_pod_sandbox(remove)
        );
    }
    let mut raw_client = raw::runtime(raw::channel(&ctx.config().runtime_endpoint).await?);
    for &n in &options.list_sizes {
        let pod_config = ctx.pod_config("bench-list");
        let pod = ctx.run_pod(&pod_config).await?;
        let label = ctx.unique("list");
        for _ in 0..n {
            let mut config = ctx.container_config("bench-list", &["sleep", "3600"]);
            config
                .labels
                .insert(format!("{SPEC_LABEL}.list"), label.clone());
            ctx.create_container(&pod, &pod_config, config).await?;
        }
        let filter = v1::ContainerFilter {
            label_selector: [(format!("{SPEC_LABEL}.list"), label.clone())].into(),
            ..Default::default()
        };
        for _ in 0..options.samples {
            let request = v1::ListContainersRequest {
                filter: Some(filter.clone()),
            };
            let listed = time!(
                samples,
                format!("ListContainers@{n}"),
                client.list_containers(request)
            );
            anyhow::ensure!(
                listed.containers.len() == n,
                "listed {} of {n}",
                listed.containers.len()
            );
            let started = Instant::now();
            let request = v1::StreamContainersRequest {
                filter: Some(filter.clone()),
            };
            match raw_client.stream_containers(request).await {
                Ok(stream) => {
                    let mut stream = stream.into_inner();
                    let mut got = 0;
                    while let Some(page) = stream.message().await.context("StreamContainers")? {
                        got += page.containers.len();
                    }
                    anyhow::ensure!(got == n, "streamed {got} of {n}");
                    samples
                        .entry(format!("StreamContainers@{n}"))
                        .or_default()
                        .push(started.elapsed());
                }
                Err(status) if status.code() == tonic::Code::Unimplemented => {}
                Err(status) => anyhow::bail!("StreamContainers: {status}"),
            }
        }
        let stop = v1::StopPodSandboxRequest {
            pod_sandbox_id: pod.clone(),
        };
        client
            .stop_pod_sandbox(stop)
            .await
            .context("StopPodSandbox")?;
        let remove = v1::RemovePodSandboxRequest {
            pod_sandbox_id: pod,
        };
        client
            .remove_pod_sandbox(remove)
            .await
            .context("RemovePodSandbox")?;
    }
    Ok(BenchReport {
        steps: samples
            .into_iter()
            .filter_map(|(name, s)| Percentiles::of(&s).map(|p| (name, p)))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let p = Percentiles::of(&samples).unwrap();
        assert_eq!(
            (p.count, p.p50, p.p90, p.p99, p.max),
            (100, 50.0, 90.0, 99.0, 100.0)
        );
        assert!(Percentiles::of(&[]).is_none());
    }
}
