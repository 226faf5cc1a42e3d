//! The fake broken on purpose in three ways, each caught by the specs meant for it (and the
//! rest of the suite still passing, so that a spec that fails for every runtime is noticed).

mod common;

use std::time::Duration;

use common::{Fault, serve};
use cri_conformance::{Config, Options, Report, Verdict};
use regex::Regex;

fn run(runtime: cri_fake::FakeRuntime, fault: Fault, focus: &str) -> Report {
    let served = serve(runtime, fault);
    let options = Options {
        focus: Some(Regex::new(focus).unwrap()),
        ..Options::default()
    };
    cri_conformance::run(
        Config::new(served.endpoint.clone()),
        cri_conformance::all_specs(),
        &options,
    )
    .expect("the suite runs")
}

fn failed(report: &Report) -> Vec<&str> {
    let mut names: Vec<&str> = report.failures().map(|r| r.name.as_str()).collect();
    names.sort_unstable();
    names
}

#[test]
fn a_stop_that_is_not_idempotent_is_caught() {
    let report = run(
        cri_fake::FakeRuntime::builder().build(),
        Fault::StopNotIdempotent,
        "^(pod|container)::",
    );
    assert_eq!(
        failed(&report),
        ["container::stop_twice", "pod::stop_twice"],
        "{}",
        report.summary()
    );
}

#[test]
fn a_stream_page_that_drops_an_item_is_caught() {
    let report = run(
        cri_fake::FakeRuntime::builder().build(),
        Fault::StreamDropsItem,
        "^(list_stream|large_list)::",
    );
    assert_eq!(
        failed(&report),
        [
            "large_list::containers_past_16mib_stream_whole",
            // cri-client lists through the stream: the kubelet would lose the item too.
            "list_stream::client_fallback_equal",
            "list_stream::containers_equal_unary",
        ],
        "{}",
        report.summary()
    );
}

#[test]
fn a_pull_that_ignores_its_deadline_is_caught() {
    let runtime = cri_fake::FakeRuntime::builder()
        .pull_delay(Duration::from_millis(1500))
        .build();
    let report = run(runtime, Fault::PullIgnoresDeadline, "^deadline::");
    assert_eq!(
        failed(&report),
        ["deadline::pull_image"],
        "{}",
        report.summary()
    );
    let Some(Verdict::Failed(message)) = report.verdict("deadline::pull_image") else {
        panic!("no verdict");
    };
    assert!(
        message.contains("took effect after it missed its deadline"),
        "{message}"
    );
}

#[test]
fn a_runtime_without_stream_rpcs_fails_only_the_stream_specs() {
    let runtime = cri_fake::FakeRuntime::builder()
        .without_stream_rpcs()
        .build();
    let report = run(runtime, Fault::None, "^(list_stream|large_list)::");
    assert_eq!(
        failed(&report),
        [
            "large_list::containers_past_16mib_stream_whole",
            "list_stream::container_stats_equal_unary",
            "list_stream::containers_equal_unary",
            "list_stream::images_equal_unary",
            "list_stream::pod_sandboxes_equal_unary",
        ],
        "{}",
        report.summary()
    );
}

#[test]
fn a_hanging_spec_fails_at_its_timeout() {
    let served = serve(cri_fake::FakeRuntime::builder().build(), Fault::None);
    let hang = cri_conformance::Spec::new("selftest", "hangs", |_ctx| async {
        std::future::pending::<()>().await;
        Ok(())
    })
    .timeout(Duration::from_millis(300));
    let started = std::time::Instant::now();
    let report = cri_conformance::run(
        Config::new(served.endpoint.clone()),
        vec![hang],
        &Options::default(),
    )
    .unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    let Some(Verdict::Failed(message)) = report.verdict("selftest::hangs") else {
        panic!("the hanging spec did not fail");
    };
    assert!(message.contains("timed out after 300ms"), "{message}");
}
