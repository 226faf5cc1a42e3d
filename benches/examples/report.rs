//! Writes `benches/RESULTS.md` from criterion's saved estimates and the figures of
//! `scripts/build-cost.sh`. Run by `scripts/bench-report.sh`, which runs both first:
//!
//! ```text
//! cargo run -p cri-benches --example report -- CRITERION_DIR BUILD_COST_TSV MACHINE_TSV
//! ```
//!
//! The two TSV files hold `key<TAB>value` lines; a missing build-cost file (`-`) leaves that
//! table out. The report goes to standard output.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

const MESSAGES: [&str; 4] = [
    "ListContainersResponse",
    "ListPodSandboxResponse",
    "ListContainerStatsResponse",
    "ListImagesResponse",
];

/// One benchmark: median time per call (ns), its 95% interval, and what one call processes.
struct Figure {
    median_ns: f64,
    low_ns: f64,
    high_ns: f64,
    elements: u64,
    bytes: u64,
}

impl Figure {
    /// The figure criterion saved, if it saved it after `since` (seconds since the epoch): a
    /// bench left out of this run must not show an old figure.
    fn read(
        criterion: &Path,
        since: u64,
        message: &str,
        function: &str,
        n: usize,
    ) -> Option<Figure> {
        let dir = criterion
            .join(message)
            .join(function)
            .join(n.to_string())
            .join("new");
        let saved = std::fs::metadata(dir.join("estimates.json"))
            .ok()?
            .modified()
            .ok()?;
        if saved < std::time::UNIX_EPOCH + std::time::Duration::from_secs(since) {
            return None;
        }
        let json = |name: &str| -> Option<Value> {
            serde_json::from_str(&std::fs::read_to_string(dir.join(name)).ok()?).ok()
        };
        let estimates = json("estimates.json")?;
        let benchmark = json("benchmark.json")?;
        let median = &estimates["median"];
        let throughput = &benchmark["throughput"]["ElementsAndBytes"];
        Some(Figure {
            median_ns: median["point_estimate"].as_f64()?,
            low_ns: median["confidence_interval"]["lower_bound"].as_f64()?,
            high_ns: median["confidence_interval"]["upper_bound"].as_f64()?,
            elements: throughput["elements"].as_u64()?,
            bytes: throughput["bytes"].as_u64()?,
        })
    }

    fn mb_per_s(&self) -> f64 {
        self.bytes as f64 / self.median_ns * 1e3
    }

    /// Half the width of the 95% interval of the median, relative to it.
    fn spread(&self) -> f64 {
        (self.high_ns - self.low_ns) / 2.0 / self.median_ns
    }

    /// `20.1 ms · 452 MB/s · 497 k items/s`
    fn cell(&self) -> String {
        let items_per_s = self.elements as f64 / self.median_ns * 1e9;
        format!(
            "{} · {:.0} MB/s · {} items/s",
            duration(self.median_ns),
            self.mb_per_s(),
            si(items_per_s)
        )
    }
}

fn duration(ns: f64) -> String {
    match ns {
        ns if ns >= 1e9 => format!("{:.2} s", ns / 1e9),
        ns if ns >= 1e6 => format!("{:.3} ms", ns / 1e6),
        ns if ns >= 1e3 => format!("{:.1} µs", ns / 1e3),
        ns => format!("{ns:.0} ns"),
    }
}

fn si(value: f64) -> String {
    match value {
        v if v >= 1e6 => format!("{:.2} M", v / 1e6),
        v if v >= 1e3 => format!("{:.0} k", v / 1e3),
        v => format!("{v:.0}"),
    }
}

fn megabytes(bytes: u64) -> String {
    format!("{:.2} MB", bytes as f64 / 1e6)
}

fn read_tsv(path: &str) -> BTreeMap<String, String> {
    if path == "-" {
        return BTreeMap::new();
    }
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    text.lines()
        .filter_map(|line| line.split_once('\t'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The proto3 JSON benches before issue 10 (pbjson), kept in `benches/json-before.tsv`:
/// `(message, function, items) -> figure`.
fn json_before() -> BTreeMap<(String, String, usize), Figure> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/json-before.tsv");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let cells: Vec<&str> = line.split('\t').collect();
            let number = |i: usize| cells[i].parse::<f64>().expect("a number");
            (
                (
                    cells[0].to_string(),
                    cells[1].to_string(),
                    number(2) as usize,
                ),
                Figure {
                    median_ns: number(3),
                    low_ns: number(4),
                    high_ns: number(5),
                    elements: number(6) as u64,
                    bytes: number(7) as u64,
                },
            )
        })
        .collect()
}

/// Proto3 JSON with options (issue 10): before/after, with and without default values, and the
/// descriptor-driven candidate.
fn json_sections(w: &mut String, figure: &dyn Fn(&str, &str, usize) -> Option<Figure>) {
    let text = |f: &Option<Figure>| f.as_ref().map_or("–".to_string(), Figure::cell);
    let before = json_before();
    writeln!(
        w,
        "\n## Proto3 JSON before and after issue 10 (`--bench json`)\n\n\
         Before: pbjson 0.9 (commit b89c548), figures kept in `benches/json-before.tsv` (measured \
         on the same machine, as busy as its header says). After: the generated serde code with \
         run-time options (`xtask/src/json.rs`), canonical output (the same text as before). \
         Ratio: before time / after time (above 1: faster now).\n"
    )
    .unwrap();
    writeln!(
        w,
        "| message | items | serialize before | serialize after | ratio | parse before | parse after | ratio |\n\
         |---|---:|---|---|---:|---|---|---:|"
    )
    .unwrap();
    for message in MESSAGES {
        for n in cri_benches::SIZES {
            let old = |f: &str| {
                before
                    .get(&(message.to_string(), f.to_string(), n))
                    .map(|f| Figure { ..*f })
            };
            let ratio = |a: &Option<Figure>, b: &Option<Figure>| match (a, b) {
                (Some(a), Some(b)) => format!("{:.2}", a.median_ns / b.median_ns),
                _ => "–".to_string(),
            };
            let (sb, sa) = (old("json-serialize"), figure(message, "json-serialize", n));
            let (pb, pa) = (old("json-parse"), figure(message, "json-parse", n));
            writeln!(
                w,
                "| {message} | {n} | {} | {} | {} | {} | {} | {} |",
                text(&sb),
                text(&sa),
                ratio(&sb, &sa),
                text(&pb),
                text(&pa),
                ratio(&pb, &pa)
            )
            .unwrap();
        }
    }
    writeln!(
        w,
        "\n### With default values written, and the descriptor-driven candidate\n\n\
         `defaults`: `json::with_options(.., JsonOptions::crictl())` (what `crictl -o json` writes: \
         every field without presence, at its default too) and `json::from_slice` of that longer \
         text; MB/s counts that text. `prost-reflect`: the candidate measured against the generated \
         code, prost-reflect 0.16's serde support over the descriptor set, writing and reading the \
         same canonical JSON, including the transcoding between the generated type and a \
         `DynamicMessage` (10,000 items only); MB/s counts the canonical text.\n"
    )
    .unwrap();
    writeln!(
        w,
        "| message | items | JSON with defaults | serialize, defaults | parse, defaults | prost-reflect serialize | prost-reflect parse |\n\
         |---|---:|---:|---|---|---|---|"
    )
    .unwrap();
    for message in MESSAGES {
        for n in cri_benches::SIZES {
            let ser = figure(message, "json-serialize-defaults", n);
            let size = ser.as_ref().map_or("–".to_string(), |f| megabytes(f.bytes));
            writeln!(
                w,
                "| {message} | {n} | {size} | {} | {} | {} | {} |",
                text(&ser),
                text(&figure(message, "json-parse-defaults", n)),
                text(&figure(message, "reflect-serialize", n)),
                text(&figure(message, "reflect-parse", n)),
            )
            .unwrap();
        }
    }
}

fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "**not met**" }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [criterion, build_cost, machine] = <[String; 3]>::try_from(args)
        .expect("usage: report CRITERION_DIR BUILD_COST_TSV|- MACHINE_TSV");
    let criterion = Path::new(&criterion);
    let build = read_tsv(&build_cost);
    let machine = read_tsv(&machine);
    let m = |key: &str| machine.get(key).map(String::as_str).unwrap_or("?");
    let since: u64 = m("started").parse().unwrap_or(0);
    let figure = |message: &str, function: &str, n: usize| {
        Figure::read(criterion, since, message, function, n)
    };
    let load: f64 = [m("load_before"), m("load_after")]
        .iter()
        .filter_map(|l| l.parse::<f64>().ok())
        .fold(0.0, f64::max);
    let cores: f64 = m("nproc").parse().unwrap_or(1.0);
    let noise = if load >= 0.5 {
        format!(
            "**The machine was busy** (load average up to {load:.1} on {cores} cores: other \
             builds shared the CPUs), so the times are longer and the spreads wider than on an \
             idle machine; read the figures as lower bounds of the throughput."
        )
    } else {
        "The machine was otherwise idle.".to_string()
    };
    let noise = format!(
        "{noise} On a shared machine absolute times move between runs (on the project's 2-core \
         machines, under other builds, by up to 2× for cold builds and ±20% for decoding), while \
         the ratios within one run (to k8s-cri, to decode) move by a few hundredths: compare \
         those, and absolute figures only between quiet runs."
    );

    let mut out = String::new();
    let w = &mut out;
    writeln!(w, "# Benchmark results\n").unwrap();
    writeln!(
        w,
        "Generated by `{}` on {} (took {}). Do not edit by hand: run the command again.\n",
        m("command"),
        m("date"),
        m("elapsed")
    )
    .unwrap();
    writeln!(
        w,
        "- Machine: {}, {} cores, {} MiB of memory",
        m("cpu"),
        m("nproc"),
        m("memory_mib")
    )
    .unwrap();
    writeln!(w, "- Toolchain: {}", m("rustc")).unwrap();
    writeln!(
        w,
        "- Load average (1 min) before / after the benches: {} / {}",
        m("load_before"),
        m("load_after")
    )
    .unwrap();
    writeln!(
        w,
        "- Times are criterion's median per call (release profile); MB is 10^6 bytes; ±% is half \
         the width of the median's 95% confidence interval. {noise}"
    )
    .unwrap();
    writeln!(
        w,
        "- Payloads: `cri_benches` (benches/src/lib.rs), deterministic, `runtime.v1`: kubelet \
         labels and annotations, 64-hex ids, sha256 image digests; decode includes freeing the \
         value, encode writes into a reused buffer.\n"
    )
    .unwrap();

    // Targets first: they are what a reader looks for.
    let decode = figure("ListContainersResponse", "decode", 10_000);
    let upgrade = figure("ListContainersResponse", "upgrade", 10_000);
    let downgrade = figure("ListContainersResponse", "downgrade", 10_000);
    let lossy = figure("ListContainersResponse", "downgrade-lossy", 10_000);
    writeln!(w, "## Targets (issue 6)\n").unwrap();
    writeln!(w, "| target | measured | |\n|---|---|---|").unwrap();
    if let Some(decode) = &decode {
        writeln!(
            w,
            "| decode a 10,000-container `ListContainersResponse` at ≥ 300 MB/s | {:.0} MB/s ±{:.0}% ({}) | {} |",
            decode.mb_per_s(),
            decode.spread() * 100.0,
            megabytes(decode.bytes),
            met(decode.mb_per_s() >= 300.0)
        )
        .unwrap();
        for (what, conversion) in [
            ("upgrade", &upgrade),
            ("exact downgrade", &downgrade),
            (
                "lossy downgrade (with a report of every dropped field)",
                &lossy,
            ),
        ] {
            if let Some(conversion) = conversion {
                let ratio = conversion.median_ns / decode.median_ns;
                writeln!(
                    w,
                    "| {what} of that list < 10% of its decode time | {:.1}% ({} against {}) | {} |",
                    ratio * 100.0,
                    duration(conversion.median_ns),
                    duration(decode.median_ns),
                    met(ratio < 0.10)
                )
                .unwrap();
            }
        }
    }
    if let (Some(r_all), Some(r_none)) = (build.get("ratio_all"), build.get("ratio_none")) {
        let r_all: f64 = r_all.parse().unwrap();
        let r_none: f64 = r_none.parse().unwrap();
        writeln!(
            w,
            "| cold build of a dependent, all features ≤ 1/2 of `k8s-cri`'s | {r_all:.2} | {} |",
            met(r_all <= 0.5)
        )
        .unwrap();
        writeln!(
            w,
            "| cold build of a dependent, no features < 1/3 of `k8s-cri`'s | {r_none:.2} | {} |",
            met(r_none < 1.0 / 3.0)
        )
        .unwrap();
    }
    if decode.as_ref().is_some_and(|d| d.mb_per_s() < 300.0) {
        writeln!(
            w,
            "\nWhere the decode time goes, and what representation would reach the target: \
             [PROFILE.md](PROFILE.md)."
        )
        .unwrap();
    }

    writeln!(
        w,
        "\n## Protobuf and proto3 JSON (`cargo bench -p cri-benches --bench wire --bench json`)\n"
    )
    .unwrap();
    writeln!(
        w,
        "| message | items | protobuf | encode | decode | JSON | JSON serialize | JSON parse |\n\
         |---|---:|---:|---|---|---:|---|---|"
    )
    .unwrap();
    for message in MESSAGES {
        for n in cri_benches::SIZES {
            let cells: Vec<Option<Figure>> = ["encode", "decode", "json-serialize", "json-parse"]
                .iter()
                .map(|f| figure(message, f, n))
                .collect();
            let text = |f: &Option<Figure>| f.as_ref().map_or("–".to_string(), Figure::cell);
            let size =
                |f: &Option<Figure>| f.as_ref().map_or("–".to_string(), |f| megabytes(f.bytes));
            writeln!(
                w,
                "| {message} | {n} | {} | {} | {} | {} | {} | {} |",
                size(&cells[1]),
                text(&cells[0]),
                text(&cells[1]),
                size(&cells[3]),
                text(&cells[2]),
                text(&cells[3])
            )
            .unwrap();
        }
    }

    json_sections(w, &figure);

    writeln!(
        w,
        "\n## v1alpha2 ⇄ v1 through `cri-convert` (`--bench convert`)\n"
    )
    .unwrap();
    writeln!(
        w,
        "MB/s counts the protobuf size of the value, so that the figures compare with decode. \
         `downgrade` is exact (a value v1alpha2 can carry); `lossy` drops the v1-only fields of \
         the full payload and reports them. Input cloned and output dropped outside the timing.\n"
    )
    .unwrap();
    writeln!(
        w,
        "| message | items | upgrade | downgrade | lossy downgrade | upgrade / decode | downgrade / decode |\n\
         |---|---:|---|---|---|---:|---:|"
    )
    .unwrap();
    for message in MESSAGES {
        for n in cri_benches::SIZES {
            let up = figure(message, "upgrade", n);
            let down = figure(message, "downgrade", n);
            let lossy = figure(message, "downgrade-lossy", n);
            let decode = figure(message, "decode", n);
            let text = |f: &Option<Figure>| f.as_ref().map_or("–".to_string(), Figure::cell);
            let ratio = |f: &Option<Figure>| match (f, &decode) {
                (Some(f), Some(d)) => format!("{:.1}%", f.median_ns / d.median_ns * 100.0),
                _ => "–".to_string(),
            };
            writeln!(
                w,
                "| {message} | {n} | {} | {} | {} | {} | {} |",
                text(&up),
                text(&down),
                text(&lossy),
                ratio(&up),
                ratio(&down)
            )
            .unwrap();
        }
    }

    if !build.is_empty() {
        let b = |key: &str| build.get(key).map(String::as_str).unwrap_or("?");
        writeln!(w, "\n## Build cost (`scripts/build-cost.sh`)\n").unwrap();
        writeln!(
            w,
            "Cold `cargo build` (dev profile, fresh target directory, downloads done before) of a \
             minimal crate outside the workspace; median of {} run(s). The `all` and `k8s-cri` \
             dependents have the same code (client and server types, JSON through serde_json). \
             k8s-cri runs `{}` in its build script.\n",
            b("runs"),
            b("protoc")
        )
        .unwrap();
        writeln!(w, "| dependent | cold build | / k8s-cri |\n|---|---:|---:|").unwrap();
        for (label, key, ratio) in [
            (
                "cri-api-v1, no features".to_string(),
                "none",
                b("ratio_none"),
            ),
            ("cri-api-v1, `serde`".to_string(), "serde", b("ratio_serde")),
            (
                format!("cri-api-v1, all features ({})", b("all_features")),
                "all",
                b("ratio_all"),
            ),
            (
                format!("k8s-cri {} (default features)", b("k8s_cri_version")),
                "k8s-cri",
                "1.00",
            ),
        ] {
            writeln!(
                w,
                "| {label} | {} s | {ratio} |",
                b(&format!("seconds_{key}"))
            )
            .unwrap();
        }
    }
    print!("{out}");
}
