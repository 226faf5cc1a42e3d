//! `cargo fuzz run json`: see `cri_fuzz::json_v1` for the property, and README.md.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;

static CHECKS: LazyLock<Vec<cri_fuzz::Check>> = LazyLock::new(cri_fuzz::json_checks);

fuzz_target!(|data: &[u8]| {
    if let Some(((_, check), rest)) = cri_fuzz::select(&CHECKS, data) {
        check(rest);
    }
});
