//! The runner: the specs as libtest-mimic trials, each under its own timeout, on one tokio
//! runtime shared by the trials' threads.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use libtest_mimic::{Arguments, Failed, Trial};
use regex::Regex;

use crate::report::{Record, Report, Verdict};
use crate::{Config, Ctx, Spec};

/// How long the removal of a spec's objects may take after its body ended.
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(30);

/// Which specs run and how.
#[derive(Debug, Default)]
pub struct Options {
    /// Only the specs whose full name matches.
    pub focus: Option<Regex>,
    /// Not the specs whose full name matches.
    pub skip: Option<Regex>,
    /// How many specs run at once (`None`: libtest's default, one per CPU).
    pub parallel: Option<usize>,
    /// Where to write a JUnit report.
    pub junit: Option<PathBuf>,
    /// Run through libtest-mimic: its progress lines, its own filters and `--list`, then
    /// [`Report::summary`] on stdout. Without it the specs run quietly (nothing printed: a
    /// test that asserts on the report prints what it wants).
    pub libtest: bool,
    /// The harness's own arguments (a name filter, `--exact`, `--list`, `--quiet`…): what
    /// `cargo test -- …` passes, through [`Arguments::from_args`].
    pub harness: Arguments,
}

/// The specs that `options` selects, in registry order.
pub fn select(specs: Vec<Spec>, options: &Options) -> Vec<Spec> {
    specs
        .into_iter()
        .filter(|s| {
            let name = s.full_name();
            options.focus.as_ref().is_none_or(|re| re.is_match(&name))
                && !options.skip.as_ref().is_some_and(|re| re.is_match(&name))
        })
        .collect()
}

/// Connects to the runtime of `config` and runs `specs` that `options` selects; with
/// [`Options::libtest`] prints libtest's progress lines and then [`Report::summary`]; writes
/// the JUnit report when asked.
///
/// It builds its own tokio runtime: call it from synchronous code (a `main`, a plain
/// `#[test]`), not from inside an async runtime.
pub fn run(config: Config, specs: Vec<Spec>, options: &Options) -> anyhow::Result<Report> {
    let specs = select(specs, options);
    let mut args = options.harness.clone();
    if let Some(n) = options.parallel {
        args.test_threads = Some(n.max(1));
    }
    if args.list {
        for spec in &specs {
            println!("{}: test", spec.full_name());
        }
        return Ok(Report::default());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    let client = runtime
        .block_on(crate::connect(&config))
        .with_context(|| format!("cannot use the runtime at {}", config.runtime_endpoint))?;
    let client = Arc::new(client);
    let config = Arc::new(config);
    if !options.libtest {
        let started = Instant::now();
        let parallel = options.parallel.unwrap_or(4).max(1);
        let records = runtime.block_on(run_quietly(specs, client.clone(), config, parallel));
        drop(client);
        runtime.shutdown_timeout(Duration::from_secs(1));
        let report = Report {
            records,
            duration: started.elapsed(),
        };
        if let Some(path) = &options.junit {
            std::fs::write(path, report.junit())
                .with_context(|| format!("writing the JUnit report {}", path.display()))?;
        }
        return Ok(report);
    }
    let records = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let trials = specs
        .into_iter()
        .map(|spec| {
            let handle = runtime.handle().clone();
            let client = client.clone();
            let config = config.clone();
            let records = records.clone();
            let group = spec.group();
            Trial::test(spec.full_name(), move || {
                let start = Instant::now();
                let name = spec.full_name();
                let ctx = Ctx::new(client, config, &name);
                let verdict = handle.block_on(run_one(&spec, ctx));
                let result = match &verdict {
                    Verdict::Passed => Ok(()),
                    Verdict::Failed(message) => Err(Failed::from(message.as_str())),
                };
                if let Ok(mut records) = records.lock() {
                    records.push(Record {
                        name,
                        group: group.to_owned(),
                        verdict,
                        duration: start.elapsed(),
                    });
                }
                result
            })
            .with_kind(group)
        })
        .collect();
    let _conclusion = libtest_mimic::run(&args, trials);
    let records = std::mem::take(&mut *records.lock().map_err(|_| anyhow::anyhow!("poisoned"))?);
    let report = Report {
        records,
        duration: started.elapsed(),
    };
    print!("{}", report.summary());
    if let Some(path) = &options.junit {
        std::fs::write(path, report.junit())
            .with_context(|| format!("writing the JUnit report {}", path.display()))?;
    }
    drop(client);
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(report)
}

/// Every spec on the tokio runtime, at most `parallel` at once, printing nothing.
async fn run_quietly(
    specs: Vec<Spec>,
    client: Arc<cri_client::Client>,
    config: Arc<Config>,
    parallel: usize,
) -> Vec<Record> {
    let permits = Arc::new(tokio::sync::Semaphore::new(parallel));
    let mut tasks = tokio::task::JoinSet::new();
    for spec in specs {
        let (permits, client, config) = (permits.clone(), client.clone(), config.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let start = Instant::now();
            let name = spec.full_name();
            let ctx = Ctx::new(client, config, &name);
            let verdict = run_one(&spec, ctx).await;
            Record {
                name,
                group: spec.group().to_owned(),
                verdict,
                duration: start.elapsed(),
            }
        });
    }
    let mut records = Vec::new();
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(record) => records.push(record),
            Err(e) => records.push(Record {
                name: "runner::task".into(),
                group: "runner".into(),
                verdict: Verdict::Failed(format!("a spec's task died: {e}")),
                duration: Duration::ZERO,
            }),
        }
    }
    records
}

/// One spec: its body under its timeout, then the removal of what it created.
async fn run_one(spec: &Spec, ctx: Ctx) -> Verdict {
    let body = tokio::time::timeout(spec.spec_timeout(), spec.run(ctx.clone())).await;
    let mut failure = match body {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(format!("{e:#}")),
        Err(_) => Some(format!(
            "timed out after {:?} (the spec's own timeout)",
            spec.spec_timeout()
        )),
    };
    match tokio::time::timeout(CLEANUP_TIMEOUT, ctx.cleanup()).await {
        Ok(errors) if errors.is_empty() => {}
        Ok(errors) => {
            if failure.is_none() {
                failure = Some(errors.join("; "));
            }
        }
        Err(_) => {
            if failure.is_none() {
                failure = Some(format!("cleanup timed out after {CLEANUP_TIMEOUT:?}"));
            }
        }
    }
    match failure {
        None => Verdict::Passed,
        Some(message) => Verdict::Failed(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn focus_and_skip_select_by_full_name() {
        let options = Options {
            focus: Some(Regex::new("^(pod|container)::").unwrap()),
            skip: Some(Regex::new("twice").unwrap()),
            ..Options::default()
        };
        let names: Vec<String> = select(crate::all_specs(), &options)
            .iter()
            .map(Spec::full_name)
            .collect();
        assert!(names.contains(&"pod::lifecycle".to_owned()), "{names:?}");
        assert!(
            names
                .iter()
                .all(|n| n.starts_with("pod::") || n.starts_with("container::"))
        );
        assert!(!names.iter().any(|n| n.contains("twice")), "{names:?}");
    }

    #[test]
    fn spec_names_are_unique() {
        let mut names: Vec<String> = crate::all_specs().iter().map(Spec::full_name).collect();
        let count = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), count);
    }
}
