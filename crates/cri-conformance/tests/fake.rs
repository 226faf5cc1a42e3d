//! The whole suite against cri-fake, in process: every spec passes, in under 60 s.

mod common;

use std::time::{Duration, Instant};

use common::{Fault, serve};
use cri_conformance::Config;

#[test]
fn every_spec_passes_against_cri_fake() {
    let served = serve(cri_fake::FakeRuntime::builder().build(), Fault::None);
    let started = Instant::now();
    let report =
        cri_conformance::run_against(Config::new(served.endpoint.clone())).expect("the suite runs");
    let took = started.elapsed();
    let failures: Vec<_> = report.failures().map(|r| (&r.name, &r.verdict)).collect();
    assert!(
        failures.is_empty(),
        "failures against cri-fake: {failures:#?}"
    );
    assert_eq!(report.records.len(), cri_conformance::all_specs().len());
    assert!(took < Duration::from_secs(60), "the suite took {took:?}");
}
