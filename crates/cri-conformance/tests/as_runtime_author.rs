//! The one test file a runtime author adds (with `harness = false` in Cargo.toml): start the
//! runtime, hand its endpoint to the suite. Here the runtime is cri-fake, served in process;
//! `cargo test --test as_runtime_author -- pod::` runs the pod specs only.

mod common;

fn main() -> std::process::ExitCode {
    let served = common::serve(
        cri_fake::FakeRuntime::builder().build(),
        common::Fault::None,
    );
    let code =
        cri_conformance::main_for_cargo_test(cri_conformance::Config::new(served.endpoint.clone()));
    drop(served);
    code
}
