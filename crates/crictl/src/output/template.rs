//! `-o go-template --template '...'`: Go's `text/template`, as crictl runs it on the JSON it
//! would print (decoded with `UseNumber`, `missingkey=error`, the functions `json`, `title`,
//! `lower`, `upper` besides Go's built-ins).
//!
//! Written here rather than taken from a crate: `gtmpl` 0.7 (the Rust port of Go templates,
//! unchanged since 2021) keeps maps in a `HashMap` (so `range` over a map and `%v` of a map come
//! out in hash order, where Go sorts the keys), has no `missingkey=error` (a missing key prints
//! `<no value>` where crictl fails) and knows nothing of `json.Number`. What this one lacks
//! against Go: `define`/`template`/`block`, `call`, `slice`, `html`, `js`, `urlquery`, and
//! `printf` verbs past `%v %s %d %q %t %f %e %g %x %X`.

mod exec;
mod format;
mod parse;

use serde_json::Value;

use crate::failure::{Failure, Result};

/// Parses `template` (crictl checks it before calling the runtime).
pub fn check(template: &str) -> Result<()> {
    parse::parse(template)
        .map(drop)
        .map_err(|e| Failure::msg(format!("failed to generate go-template: {e}")))
}

/// Executes `template` on `data`, as crictl's `tmplExecuteRawJSON`.
pub fn render(template: &str, data: Value) -> Result<String> {
    let parsed = parse::parse(template)
        .map_err(|e| Failure::msg(format!("failed to generate go-template: {e}")))?;
    exec::execute(&parsed, data).map_err(|e| Failure::msg(format!("failed to template data: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(template: &str, data: Value) -> String {
        render(template, data).unwrap()
    }

    #[test]
    fn fields_ranges_and_functions() {
        let data: Value = serde_json::from_str(
            r#"{"status":{"id":"abc","n":5,"labels":{"b":"2","a":"1"},"ips":["x","y"],"ok":true,"none":null}}"#,
        )
        .unwrap();
        assert_eq!(run("{{.status.id}}", data.clone()), "abc");
        assert_eq!(run("{{.status.n}}", data.clone()), "5");
        assert_eq!(run("{{.status.labels}}", data.clone()), "map[a:1 b:2]");
        assert_eq!(run("{{.status.ips}}", data.clone()), "[x y]");
        assert_eq!(run("{{.status.none}}", data.clone()), "<no value>");
        assert_eq!(
            run(
                "{{range $k, $v := .status.labels}}{{$k}}={{$v}};{{end}}",
                data.clone()
            ),
            "a=1;b=2;"
        );
        assert_eq!(
            run("{{range .status.ips}}{{upper .}} {{- end}}", data.clone()),
            "XY"
        );
        assert_eq!(
            run("{{if .status.ok}}yes{{else}}no{{end}}", data.clone()),
            "yes"
        );
        assert_eq!(
            run(
                "{{with .status}}{{.id | printf \"%-5s|\"}}{{end}}",
                data.clone()
            ),
            "abc  |"
        );
        assert_eq!(run("{{len .status.ips}}", data.clone()), "2");
        assert_eq!(run("{{index .status.ips 1}}", data.clone()), "y");
        assert_eq!(run("{{index .status.labels \"a\"}}", data.clone()), "1");
        assert_eq!(run("{{eq .status.id \"abc\"}}", data.clone()), "true");
        assert_eq!(run("{{eq .status.n \"5\"}}", data.clone()), "true");
        assert_eq!(
            run("{{json .status.labels}}", data.clone()),
            "{\"a\":\"1\",\"b\":\"2\"}\n"
        );
        assert_eq!(
            run("{{title \"hello world\"}}", data.clone()),
            "Hello World"
        );
        assert_eq!(
            run("{{printf \"%d\" .status.n}}", data.clone()),
            "%!d(json.Number=5)"
        );
        assert_eq!(run("{{print 1 2 \"a\" 3}}", data.clone()), "1 2a3");
        assert_eq!(run("{{$x := .status.id}}{{$x}}", data.clone()), "abc");
        assert_eq!(
            run("{{/* note */}}a  {{- \" b\" -}}  c", data.clone()),
            "a bc"
        );
        assert_eq!(
            run(
                "{{if not .status.ok}}1{{else if .status.id}}2{{else}}3{{end}}",
                data
            ),
            "2"
        );
    }

    #[test]
    fn errors_as_crictl_reports_them() {
        let error = render("{{.nope}}", json!({"a": 1})).unwrap_err();
        let Failure::Message(error) = error else {
            panic!("a message")
        };
        assert!(
            error.contains("map has no entry for key \"nope\""),
            "{error}"
        );
        let error = render("{{.a.b}}", json!({"a": "x"})).unwrap_err();
        let Failure::Message(error) = error else {
            panic!("a message")
        };
        assert!(
            error.contains("can't evaluate field b in type string"),
            "{error}"
        );
        assert!(check("{{if .a}}").is_err());
        assert!(check("{{.a").is_err());
        assert!(render("{{eq .a 1}}", json!({"a": 1})).is_err());
        assert!(render("{{nosuch .a}}", json!({"a": 1})).is_err());
    }
}
