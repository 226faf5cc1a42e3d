//! The outcome of a run: one record per spec, the summary a person reads and the JUnit file.

use std::fmt::Write as _;
use std::time::Duration;

/// What happened to one spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// It passed.
    Passed,
    /// It failed, with this message.
    Failed(String),
}

/// One spec's record.
#[derive(Debug, Clone)]
pub struct Record {
    /// `group::name`.
    pub name: String,
    /// The group.
    pub group: String,
    /// Its verdict.
    pub verdict: Verdict,
    /// How long it ran (cleanup included).
    pub duration: Duration,
}

/// The records of a run, in the order the specs finished.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// One per spec that ran.
    pub records: Vec<Record>,
    /// Wall time of the whole run.
    pub duration: Duration,
}

impl Report {
    /// How many passed.
    pub fn passed(&self) -> usize {
        self.records
            .iter()
            .filter(|r| r.verdict == Verdict::Passed)
            .count()
    }

    /// The records of the specs that failed.
    pub fn failures(&self) -> impl Iterator<Item = &Record> {
        self.records.iter().filter(|r| r.verdict != Verdict::Passed)
    }

    /// The verdict of the spec named `name` (`group::name`), if it ran.
    pub fn verdict(&self, name: &str) -> Option<&Verdict> {
        self.records
            .iter()
            .find(|r| r.name == name)
            .map(|r| &r.verdict)
    }

    /// A summary a person reads: counts per group, then each failure with its message, then
    /// a closing `N passed, N failed` line.
    pub fn summary(&self) -> String {
        let mut groups: Vec<(&str, usize, usize)> = Vec::new();
        for r in &self.records {
            let i = match groups.iter().position(|g| g.0 == r.group) {
                Some(i) => i,
                None => {
                    groups.push((&r.group, 0, 0));
                    groups.len() - 1
                }
            };
            match r.verdict {
                Verdict::Passed => groups[i].1 += 1,
                Verdict::Failed(_) => groups[i].2 += 1,
            }
        }
        groups.sort_by(|a, b| a.0.cmp(b.0));
        let mut out = String::from("\ncri-conformance summary\n");
        for (group, passed, failed) in &groups {
            let _ = writeln!(out, "  {group:<14} {passed:>3} passed {failed:>3} failed");
        }
        let mut failures: Vec<&Record> = self.failures().collect();
        failures.sort_by(|a, b| a.name.cmp(&b.name));
        if !failures.is_empty() {
            out.push_str("\nfailures:\n");
            for r in failures {
                if let Verdict::Failed(message) = &r.verdict {
                    let _ = writeln!(out, "  {}: {}", r.name, message.replace('\n', "\n    "));
                }
            }
        }
        let failed = self.records.len() - self.passed();
        let _ = writeln!(
            out,
            "\nin {:.1} s\n{} passed, {} failed",
            self.duration.as_secs_f64(),
            self.passed(),
            failed
        );
        out
    }

    /// The report as JUnit XML (one `testsuite` per group).
    pub fn junit(&self) -> String {
        let mut groups: Vec<&str> = self.records.iter().map(|r| r.group.as_str()).collect();
        groups.sort_unstable();
        groups.dedup();
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            out,
            "<testsuites name=\"cri-conformance\" tests=\"{}\" failures=\"{}\" time=\"{:.3}\">",
            self.records.len(),
            self.records.len() - self.passed(),
            self.duration.as_secs_f64()
        );
        for group in groups {
            let records: Vec<&Record> = self.records.iter().filter(|r| r.group == group).collect();
            let failed = records
                .iter()
                .filter(|r| r.verdict != Verdict::Passed)
                .count();
            let _ = writeln!(
                out,
                "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failed}\">",
                xml(group),
                records.len()
            );
            for r in records {
                let _ = write!(
                    out,
                    "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
                    xml(group),
                    xml(&r.name),
                    r.duration.as_secs_f64()
                );
                match &r.verdict {
                    Verdict::Passed => out.push_str("/>\n"),
                    Verdict::Failed(message) => {
                        let _ = writeln!(
                            out,
                            ">\n      <failure message=\"{}\"/>\n    </testcase>",
                            xml(message)
                        );
                    }
                }
            }
            out.push_str("  </testsuite>\n");
        }
        out.push_str("</testsuites>\n");
        out
    }
}

fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("&#10;"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junit_escapes_and_counts() {
        let report = Report {
            records: vec![
                Record {
                    name: "pod::a".into(),
                    group: "pod".into(),
                    verdict: Verdict::Passed,
                    duration: Duration::from_millis(5),
                },
                Record {
                    name: "pod::b".into(),
                    group: "pod".into(),
                    verdict: Verdict::Failed("want <1> & \"x\"".into()),
                    duration: Duration::from_millis(5),
                },
            ],
            duration: Duration::from_secs(1),
        };
        let xml = report.junit();
        assert!(xml.contains("tests=\"2\" failures=\"1\""));
        assert!(xml.contains("want &lt;1&gt; &amp; &quot;x&quot;"));
        assert!(report.summary().ends_with("1 passed, 1 failed\n"));
    }
}
