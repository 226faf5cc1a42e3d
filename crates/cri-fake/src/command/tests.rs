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
