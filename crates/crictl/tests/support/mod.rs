//! What every test that runs the crictl binary shares: a command away from the caller's
//! environment.

use std::process::Command;

/// `command` without the caller's endpoint variables and config file, and with the built-in
/// fake runtime's state file off (`CRICTL_FAKE_STATE=none`): each run that falls back to the
/// built-in fake gets a fresh seeded one, so that tests running in parallel stay independent
/// and leave nothing in the user's state directory.
pub fn isolate(command: &mut Command) -> &mut Command {
    command
        .env_remove("CONTAINER_RUNTIME_ENDPOINT")
        .env_remove("IMAGE_SERVICE_ENDPOINT")
        .env_remove("CRI_CONFIG_FILE")
        .env("CRICTL_FAKE_STATE", "none")
}

/// The crictl binary under test, [isolated](isolate).
#[allow(dead_code)] // Not every test file runs it this way.
pub fn crictl() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_crictl"));
    isolate(&mut command);
    command
}
