//! `cri-conformance`: the CRI contract against a runtime endpoint.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use cri_conformance::{Config, Options, Report, Verdict};
use regex::Regex;

/// Checks a CRI runtime against the contract (critest's specs and what critest lacks).
#[derive(Parser, Debug)]
#[command(name = "cri-conformance", version)]
struct Cli {
    /// The runtime endpoint: unix:///path/to.sock or tcp://host:port.
    #[arg(long, value_name = "ENDPOINT")]
    runtime_endpoint: String,
    /// A separate image service endpoint.
    #[arg(long, value_name = "ENDPOINT")]
    image_endpoint: Option<String>,
    /// Run only the specs whose full name (group::name) matches this regex.
    #[arg(long, value_name = "RE")]
    focus: Option<Regex>,
    /// Skip the specs whose full name matches this regex.
    #[arg(long, value_name = "RE")]
    skip: Option<Regex>,
    /// Write a JUnit XML report here.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// How many specs run at once.
    #[arg(long, value_name = "N", default_value_t = 4)]
    parallel: usize,
    /// The image containers run from (needs sh, echo, printf, sleep).
    #[arg(long, value_name = "IMAGE")]
    test_image: Option<String>,
    /// Pods use the node's network namespace (a runtime without a CNI plugin).
    #[arg(long)]
    host_network: bool,
    /// The pods' cgroup parent (containerd needs one for pod stats).
    #[arg(long, value_name = "PATH")]
    cgroup_parent: Option<String>,
    /// A file of specs expected to fail ("group::name  # reason" a line): the run passes
    /// when exactly these fail.
    #[arg(long, value_name = "FILE")]
    expected_failures: Option<PathBuf>,
    /// Benchmark instead of checking: latency percentiles of the lifecycle steps, ExecSync and
    /// lists at N containers (unary and streamed).
    #[arg(long)]
    benchmark: bool,
    /// Benchmark: how many pod and container lifecycles to time.
    #[arg(long, value_name = "N", default_value_t = 20)]
    bench_iterations: usize,
    /// Benchmark: the container counts at which lists are timed (comma-separated).
    #[arg(long, value_name = "N,N", value_delimiter = ',', default_values_t = [100, 1000])]
    bench_list_sizes: Vec<usize>,
    /// Benchmark: write the report as JSON here.
    #[arg(long, value_name = "FILE")]
    bench_json: Option<PathBuf>,
    /// List the specs and exit.
    #[arg(long)]
    list: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut config = Config::new(cli.runtime_endpoint);
    config.image_endpoint = cli.image_endpoint;
    config.host_network = cli.host_network;
    config.cgroup_parent = cli.cgroup_parent;
    if let Some(image) = cli.test_image {
        config.test_image = image;
    }
    if cli.benchmark {
        let options = cri_conformance::BenchOptions {
            iterations: cli.bench_iterations,
            list_sizes: cli.bench_list_sizes,
            ..Default::default()
        };
        return match cri_conformance::run_bench(config, &options) {
            Ok(report) => {
                print!("{}", report.table());
                if let Some(path) = cli.bench_json
                    && let Err(e) = std::fs::write(&path, report.json())
                {
                    eprintln!("cri-conformance: cannot write {}: {e}", path.display());
                    return ExitCode::from(2);
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("cri-conformance: benchmark: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    let expected = match cli
        .expected_failures
        .as_deref()
        .map(read_expected)
        .transpose()
    {
        Ok(expected) => expected,
        Err(e) => {
            eprintln!("cri-conformance: {e}");
            return ExitCode::from(2);
        }
    };
    let harness = cri_conformance::libtest_mimic::Arguments {
        list: cli.list,
        ..Default::default()
    };
    let options = Options {
        focus: cli.focus,
        skip: cli.skip,
        parallel: Some(cli.parallel),
        junit: cli.junit,
        libtest: true,
        harness,
    };
    let report = match cri_conformance::run(config, cri_conformance::all_specs(), &options) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("cri-conformance: {e:#}");
            return ExitCode::from(2);
        }
    };
    match expected {
        None if report.failures().next().is_none() => ExitCode::SUCCESS,
        None => ExitCode::FAILURE,
        Some(expected) => judge_expected(&report, &expected),
    }
}

/// Reads `group::name  # reason` lines; blank lines and lines starting with `#` are skipped.
fn read_expected(path: &std::path::Path) -> Result<BTreeMap<String, String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read expected failures {}: {e}", path.display()))?;
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, reason) = line.split_once('#').unwrap_or((line, ""));
        let name = name.trim();
        if !name.contains("::") {
            return Err(format!(
                "{}:{}: {name:?} is not a spec name (group::name)",
                path.display(),
                n + 1
            ));
        }
        out.insert(name.to_owned(), reason.trim().to_owned());
    }
    Ok(out)
}

/// Passes when the failures are exactly the expected ones that ran.
fn judge_expected(report: &Report, expected: &BTreeMap<String, String>) -> ExitCode {
    let mut ok = true;
    for record in &report.records {
        let listed = expected.contains_key(&record.name);
        match (&record.verdict, listed) {
            (Verdict::Failed(_), false) => {
                eprintln!("unexpected failure: {}", record.name);
                ok = false;
            }
            (Verdict::Passed, true) => {
                eprintln!(
                    "listed as an expected failure but passed: {} (remove it from the list)",
                    record.name
                );
                ok = false;
            }
            _ => {}
        }
    }
    let expected_failed = report
        .failures()
        .filter(|r| expected.contains_key(&r.name))
        .count();
    println!(
        "expected failures: {expected_failed} of {} listed failed as expected",
        expected.len()
    );
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
