//! Benchmark mode against cri-fake, small: every step measured, the JSON report complete.

mod common;

use cri_conformance::{BenchOptions, Config};

#[test]
fn benchmark_measures_every_step() {
    let served = common::serve(
        cri_fake::FakeRuntime::builder().build(),
        common::Fault::None,
    );
    let options = BenchOptions {
        iterations: 3,
        list_sizes: vec![10],
        samples: 3,
    };
    let report = cri_conformance::run_bench(Config::new(served.endpoint.clone()), &options)
        .expect("the benchmark runs");
    for step in [
        "RunPodSandbox",
        "CreateContainer",
        "StartContainer",
        "ExecSync",
        "StopContainer",
        "RemoveContainer",
        "StopPodSandbox",
        "RemovePodSandbox",
    ] {
        assert_eq!(report.steps[step].count, 3, "{step}");
    }
    assert_eq!(report.steps["ListContainers@10"].count, 3);
    assert_eq!(report.steps["StreamContainers@10"].count, 3);
    let json: serde_json::Value = serde_json::from_str(&report.json()).unwrap();
    assert_eq!(json["unit"], "ms");
    assert!(json["steps"]["ListContainers@10"]["p99"].is_number());
}
