//! The password of `--username`, read from the terminal without echo (crictl's
//! `term.ReadPassword`).

use std::io::{IsTerminal, Read, Write};

use crate::failure::{Failure, Result};

/// Shows `prompt` on stderr and reads one line from the terminal on stdin, not echoed.
pub(super) fn read(prompt: &str) -> Result<String> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(Failure::msg(
            "--username: the password is read from a terminal and stdin is not one (use --creds USERNAME:PASSWORD or --auth)",
        ));
    }
    eprint!("{prompt}");
    crossterm::terminal::enable_raw_mode()
        .map_err(|e| Failure::msg(format!("read the password: {e}")))?;
    let mut password = Vec::new();
    let mut byte = [0u8; 1];
    let result = loop {
        match stdin.lock().read(&mut byte) {
            Ok(0) => break Ok(()),
            Ok(_) => match byte[0] {
                b'\r' | b'\n' => break Ok(()),
                3 => break Err(Failure::msg("read the password: interrupted")),
                8 | 127 => {
                    password.pop();
                }
                other => password.push(other),
            },
            Err(e) => break Err(Failure::msg(format!("read the password: {e}"))),
        }
    };
    let _ = crossterm::terminal::disable_raw_mode();
    eprintln!();
    let _ = std::io::stderr().flush();
    result?;
    String::from_utf8(password).map_err(|_| Failure::msg("read the password: it is not UTF-8"))
}
