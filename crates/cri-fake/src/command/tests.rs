//! Tests of the command set: the built-ins, `sh` scripts, and handlers.

use std::time::Duration;

use tokio::io::AsyncWriteExt;

use super::{Builtins, CommandHandler, CommandIo};

async fn run(argv: &[&str], stdin: &str) -> (i32, String, String) {
    let (io, out) = CommandIo::capture(None);
    let io = io
        .with_stdin(std::io::Cursor::new(stdin.as_bytes().to_vec()))
        .with_env(vec![
            ("HOME".into(), "/root".into()),
            ("HOSTNAME".into(), "web-0".into()),
        ]);
    let code = Builtins
        .run(argv.iter().map(|s| s.to_string()).collect(), io)
        .await;
    let (o, e) = out.take();
    (
        code,
        String::from_utf8(o).unwrap(),
        String::from_utf8(e).unwrap(),
    )
}

async fn sh(script: &str) -> (i32, String, String) {
    run(&["/bin/sh", "-c", script], "").await
}

#[tokio::test]
async fn simple_commands() {
    assert_eq!(
        run(&["echo", "a", "b"], "").await,
        (0, "a b\n".into(), "".into())
    );
    assert_eq!(
        run(&["/bin/echo", "-n", "x"], "").await,
        (0, "x".into(), "".into())
    );
    assert_eq!(
        run(&["cat"], "in\nput").await,
        (0, "in\nput".into(), "".into())
    );
    assert_eq!(
        run(&["cat", "/etc/x"], "").await,
        (
            1,
            "".into(),
            "cat: /etc/x: No such file or directory\n".into()
        )
    );
    assert_eq!(run(&["exit", "300"], "").await.0, 44);
    assert_eq!(run(&["true"], "").await.0, 0);
    assert_eq!(run(&["false"], "").await.0, 1);
    assert_eq!(run(&["env"], "").await.1, "HOME=/root\nHOSTNAME=web-0\n");
    assert_eq!(run(&["printenv", "HOME"], "").await.1, "/root\n");
    assert_eq!(run(&["hostname"], "").await.1, "web-0\n");
    assert_eq!(run(&["seq", "3"], "").await.1, "1\n2\n3\n");
    assert_eq!(run(&["seq", "2", "3"], "").await.1, "2\n3\n");
    assert_eq!(
        run(&["nope", "x"], "").await,
        (127, "".into(), "nope: not found\n".into())
    );
    assert_eq!(run(&["sleep", "x"], "").await.0, 1);
    assert_eq!(run(&["sleep", "0.01"], "").await.0, 0);
}

#[tokio::test]
async fn printf_formats() {
    assert_eq!(
        run(&["printf", "%s-%d%%\\n", "a", "7"], "").await.1,
        "a-7%\n"
    );
    assert_eq!(run(&["printf", "[%s]", "a", "b"], "").await.1, "[a][b]");
    assert_eq!(run(&["printf", "no newline"], "").await.1, "no newline");
    assert_eq!(
        run(&["printf", "\\0101\\t%b", "x\\ny"], "").await.1,
        "A\tx\ny"
    );
    assert_eq!(run(&["printf", "%d", "z"], "").await.0, 1);
}

#[tokio::test]
async fn scripts() {
    assert_eq!(sh("echo one; echo two").await.1, "one\ntwo\n");
    assert_eq!(sh("false && echo no || echo yes").await.1, "yes\n");
    assert_eq!(
        sh("true && echo yes; false").await,
        (1, "yes\n".into(), "".into())
    );
    assert_eq!(
        sh("echo out; echo err >&2").await,
        (0, "out\n".into(), "err\n".into())
    );
    assert_eq!(
        sh("nope 2>&1").await,
        (127, "nope: not found\n".into(), "".into())
    );
    assert_eq!(
        sh("nope 2>/dev/null; echo $?").await,
        (0, "127\n".into(), "".into())
    );
    assert_eq!(sh("echo hidden >/dev/null").await.1, "");
    assert_eq!(
        sh("echo 'a  b' \"c $HOME\" d\\ e").await.1,
        "a  b c /root d e\n"
    );
    assert_eq!(sh("X=1; echo ${X}2 $X").await.1, "12 1\n");
    assert_eq!(sh("X=5 env").await.1, "HOME=/root\nHOSTNAME=web-0\nX=5\n");
    assert_eq!(
        sh("export Y=3; env | cat").await.1,
        "HOME=/root\nHOSTNAME=web-0\nY=3\n"
    );
    assert_eq!(
        sh("echo a; exit 4; echo b").await,
        (4, "a\n".into(), "".into())
    );
    assert_eq!(sh("seq 3 | cat | cat").await.1, "1\n2\n3\n");
    assert_eq!(sh("echo x | false").await.0, 1);
    assert_eq!(sh("# only a comment\n\necho ok # trailing").await.1, "ok\n");
    assert_eq!(
        run(&["sh", "-c", "echo $0 $1 $#", "name", "arg"], "")
            .await
            .1,
        "name arg 1\n"
    );
    assert_eq!(sh("echo ''").await.1, "\n");
    // Command substitution, nested, with the final newlines cut; 2>&1 follows a pipe.
    assert_eq!(
        sh("echo $(echo a $(printf 'b\\n\\n')):$?").await.1,
        "a b:0\n"
    );
    assert_eq!(
        sh("nope 2>&1 | cat").await,
        (0, "nope: not found\n".into(), "".into())
    );
    for bad in [
        "echo 'open",
        "echo a &",
        "| x",
        "echo a &&",
        "echo > file",
        "(echo)",
        "echo $(x",
    ] {
        let (code, _, err) = sh(bad).await;
        assert_eq!(code, 2, "{bad:?}");
        assert!(err.starts_with("sh: "), "{bad:?}: {err}");
    }
}

#[tokio::test]
async fn interactive_shell_reads_stdin() {
    let (code, out, _) = run(&["sh"], "echo a &&\n echo b\nexit 7\necho never\n").await;
    assert_eq!((code, out.as_str()), (7, "a\nb\n"));
}

#[tokio::test(start_paused = true)]
async fn dropping_the_future_stops_the_command() {
    let (io, _) = CommandIo::capture(None);
    let run = Builtins.run(
        vec!["sh".into(), "-c".into(), "sleep infinity | cat".into()],
        io,
    );
    let timed = tokio::time::timeout(Duration::from_secs(5), run).await;
    assert!(timed.is_err());
    // Forever commands never end on their own.
    let (io, _) = CommandIo::capture(None);
    assert!(
        tokio::time::timeout(
            Duration::from_secs(60),
            Builtins.run(vec!["pause".into()], io)
        )
        .await
        .is_err()
    );
}

#[tokio::test]
async fn output_is_capped() {
    let (io, out) = CommandIo::capture(Some(10));
    let code = Builtins.run(vec!["seq".into(), "100".into()], io).await;
    assert_eq!(code, 0);
    assert!(out.truncated());
    assert_eq!(out.take().0, b"1\n2\n3\n4\n5\n");
}

#[tokio::test]
async fn closures_are_handlers() {
    let handler = |argv: Vec<String>, mut io: CommandIo| async move {
        if argv[0] == "hello" {
            let _ = io.stdout.write_all(b"hi\n").await;
            0
        } else {
            Builtins.run(argv, io).await
        }
    };
    let (io, out) = CommandIo::capture(None);
    assert_eq!(handler.run(vec!["hello".into()], io).await, 0);
    assert_eq!(out.take().0, b"hi\n");
    let (io, out) = CommandIo::capture(None);
    assert_eq!(handler.run(vec!["echo".into(), "x".into()], io).await, 0);
    assert_eq!(out.take().0, b"x\n");
}

#[tokio::test]
async fn loops() {
    // `$X` runs `true` or `false`: the condition changes in the body.
    assert_eq!(
        sh("X=true; while $X; do echo once; X=false; done; echo $?").await,
        (0, "once\n0\n".into(), "".into())
    );
    assert_eq!(
        sh("X=false; until $X; do echo once; X=true; done").await.1,
        "once\n"
    );
    // A loop's status is its body's last, or 0 when the body never ran.
    assert_eq!(sh("while false; do :; done; echo $?").await.1, "0\n");
    assert_eq!(sh("until true; do :; done").await.0, 0);
    assert_eq!(
        sh("X=true; while $X; do X=false; false; done; echo $?")
            .await
            .1,
        "1\n"
    );
    // Newlines as separators, and what follows a loop.
    assert_eq!(
        sh("while false\ndo\n  echo x\ndone && echo end\n").await.1,
        "end\n"
    );
    assert_eq!(
        sh("for i in a b 'c d'; do echo $i; done").await.1,
        "a\nb\nc d\n"
    );
    assert_eq!(sh("for i in; do echo x; done; echo $?").await.1, "0\n");
    assert_eq!(
        run(
            &["sh", "-c", "for a; do echo $a; done", "name", "x", "y"],
            ""
        )
        .await
        .1,
        "x\ny\n"
    );
    assert_eq!(
        sh("for i in a$(echo b) c\ndo\necho $i\ndone").await.1,
        "ab\nc\n"
    );
    assert_eq!(
        sh("echo $(for i in a b; do echo $i; done)").await.1,
        "a\nb\n"
    );
    // `exit` in a loop ends the script with its status.
    assert_eq!(
        sh("while true; do exit 3; done; echo no").await,
        (3, "".into(), "".into())
    );
}

#[tokio::test]
async fn break_and_continue() {
    assert_eq!(
        sh("while true; do echo a; break; echo no; done; echo $?")
            .await
            .1,
        "a\n0\n"
    );
    assert_eq!(
        sh("for i in a b c; do continue; echo no; done; echo $i")
            .await
            .1,
        "c\n"
    );
    assert_eq!(
        sh("for i in a b; do for j in 1 2; do echo $i$j; continue 2; done; done")
            .await
            .1,
        "a1\nb1\n"
    );
    assert_eq!(
        sh("for i in a b; do for j in 1 2; do echo $i$j; break 2; done; done; echo end")
            .await
            .1,
        "a1\nend\n"
    );
    // `break 9` in two loops ends both; outside of loops, nothing happens.
    assert_eq!(
        sh("while true; do while true; do break 9; done; echo no; done; echo out")
            .await
            .1,
        "out\n"
    );
    assert_eq!(sh("break; echo on").await, (0, "on\n".into(), "".into()));
    assert_eq!(
        sh("while true; do break x; done").await,
        (2, "".into(), "sh: break: bad number: x\n".into())
    );
}

#[tokio::test]
async fn if_and_nesting() {
    let script = "if false; then echo a; elif $C; then echo b; else echo c; fi";
    assert_eq!(sh(&format!("C=true; {script}")).await.1, "b\n");
    assert_eq!(sh(&format!("C=false; {script}")).await.1, "c\n");
    assert_eq!(sh("if true; then echo yes; fi").await.1, "yes\n");
    // No branch ran: 0; a branch ran: its status.
    assert_eq!(sh("if false; then :; fi; echo $?").await.1, "0\n");
    assert_eq!(sh("if true; then false; fi; echo $?").await.1, "1\n");
    assert_eq!(
        sh("if false; then :; else false; fi || echo or").await.1,
        "or\n"
    );
    assert_eq!(
        sh("X=false; for i in a b; do for j in 1 2; do if $X; then echo $i$j; fi; done; X=true; done")
            .await
            .1,
        "b1\nb2\n"
    );
    assert_eq!(
        sh("for i in 1 2\ndo\n  X=true\n  while $X\n  do\n    echo $i\n    X=false\n  done\ndone")
            .await
            .1,
        "1\n2\n"
    );
}

#[tokio::test]
async fn keywords_only_in_command_position() {
    assert_eq!(
        sh("echo while do done if then elif else fi for in until !")
            .await
            .1,
        "while do done if then elif else fi for in until !\n"
    );
    assert_eq!(
        sh("for i in do done; do echo $i; done").await.1,
        "do\ndone\n"
    );
    // Quoted or built, a keyword is a command's name.
    assert_eq!(
        sh("'while' x").await,
        (127, "".into(), "while: not found\n".into())
    );
    assert_eq!(sh("\\done").await.0, 127);
    assert_eq!(sh("X=fi; $X").await.0, 127);
    assert_eq!(sh("echo 'done'; echo \"fi\"").await.1, "done\nfi\n");
}

#[tokio::test]
async fn negation() {
    assert_eq!(sh("! true; echo $?").await.1, "1\n");
    assert_eq!(sh("! false && echo yes").await.1, "yes\n");
    assert_eq!(sh("! echo x | false; echo $?").await.1, "0\n");
    assert_eq!(sh("while ! $X; do echo a; X=true; done").await.1, "");
    assert_eq!(
        sh("X=false; while ! $X; do echo a; X=true; done").await.1,
        "a\n"
    );
    assert_eq!(sh("! exit 3").await.0, 3);
}

#[tokio::test]
async fn syntax_errors_of_compound_commands() {
    for (bad, message) in [
        (
            "while true; do echo x",
            "unterminated `while': `done' expected",
        ),
        ("while true", "unterminated `while': `do' expected"),
        ("until true; do :", "unterminated `until': `done' expected"),
        (
            "if true; then echo",
            "unterminated `if': `elif' or `else' or `fi' expected",
        ),
        (
            "if true; then :; else :",
            "unterminated `if': `fi' expected",
        ),
        ("for i in a b", "unterminated `for': `do' expected"),
        ("for i in a; do :", "unterminated `for': `done' expected"),
        (
            "while true; do echo done",
            "unterminated `while': `done' expected",
        ),
        ("done", "near unexpected `done'"),
        ("echo x; fi", "near unexpected `fi'"),
        ("while; do :; done", "near unexpected `do'"),
        ("while true; do; done", "near unexpected `done'"),
        ("if true; fi", "near unexpected `fi'"),
        ("true && done", "near unexpected `done'"),
        ("while true; do :; done done", "near unexpected `done'"),
    ] {
        let (code, out, err) = sh(bad).await;
        assert_eq!(
            (code, out.as_str(), err.as_str()),
            (
                2,
                "",
                format!("sh: syntax error: {message}\n")
                    .replace("error: near", "error near")
                    .as_str()
            ),
            "{bad:?}"
        );
    }
    for bad in [
        "for 1 in a; do :; done",
        "!",
        "while true; do :; done | cat",
        "while true; do :; done >/dev/null",
        "for i in a b | c; do :; done",
    ] {
        let (code, _, err) = sh(bad).await;
        assert_eq!(code, 2, "{bad:?}");
        assert!(err.starts_with("sh: "), "{bad:?}: {err}");
    }
}

#[tokio::test]
async fn interactive_shell_reads_compound_commands_over_lines() {
    let input = "for i in a b\ndo\n  echo $i\ndone\nwhile false\ndo :\ndone; echo end\n";
    assert_eq!(run(&["sh"], input).await.1, "a\nb\nend\n");
    assert_eq!(
        run(&["sh"], "echo first\nwhile true; do\n").await,
        (
            2,
            "first\n".into(),
            "sh: syntax error: unterminated `while': `done' expected\n".into()
        )
    );
}

/// A loop whose commands never wait still yields: a timer on the same single-threaded
/// runtime fires. (On a thread of its own, so that a loop that never yields fails the test
/// rather than hanging it.)
#[test]
fn busy_loops_yield_to_the_runtime() {
    for script in [
        "while X=1; do X=2; done",
        "while true; do :; done",
        "while :; do break 0; done",
    ] {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .unwrap();
            let timed = rt.block_on(async {
                tokio::time::timeout(Duration::from_millis(100), sh(script)).await
            });
            let _ = tx.send(timed.is_err());
        });
        let timed_out = rx.recv_timeout(Duration::from_secs(10));
        if script.contains("break 0") {
            // `break 0` is a bad number: the loop ends at once, with status 2.
            assert_eq!(timed_out, Ok(false), "{script}");
        } else {
            assert_eq!(timed_out, Ok(true), "{script}: the loop never yielded");
        }
    }
}
