//! Tests of the change-log entries and of writing them into Keep a Changelog files.

use super::*;

const OLD: &str = "package runtime.v1\nservice S\nrpc S.A(AReq) returns (AResp)\n\
    rpc S.Gone(GReq) returns (GResp)\nmessage M\nfield M.a = 1: string\n\
    field M.b = 2: int64\nfield M.c = 3: string\nmessage Old\nfield Old.x = 1: bool\n\
    enum E\nvalue E.ZERO = 0\nvalue E.TWO = 2\n";
const NEW: &str = "package runtime.v1\nservice S\nrpc S.A(AReq) returns (AResp)\n\
    rpc S.B(BReq) returns (stream BResp)\nmessage M\nfield M.a = 1: string [deprecated]\n\
    field M.b = 2: uint64\nfield M.d = 4: repeated string\nreserved M 3..4\nmessage N\n\
    field N.y = 1: map<string, string>\nenum E\nvalue E.ZERO = 0\nvalue E.ONE = 1\nvalue E.E_TWO = 2\n";

#[test]
fn every_kind_of_difference_is_named() {
    let d = diff(OLD, NEW);
    let rev = |r: &str| Revision {
        git_ref: r.into(),
        commit: None,
        surface: String::new(),
    };
    let text = render_entry(&rev("v0.1.0"), &rev("v0.2.0"), &d, Some("0.2.0"));
    for expected in [
        "## Unreleased: runtime.v1 v0.1.0 → v0.2.0",
        "version `0.2.0`",
        "- RPC `S.B(BReq) returns (stream BResp)`",
        "- field `M.d = 4: repeated string`",
        "- message `N`\n  - `y = 1: map<string, string>`",
        "- enum value `E.ONE = 1`",
        "- reserved numbers `M 3..4`",
        "- **breaking**: field `M.b` changed from `= 2: int64` to `= 2: uint64`",
        "- **breaking**: removed RPC `S.Gone(GReq) returns (GResp)`",
        "- **breaking**: removed field `M.c = 3: string`",
        "- **breaking**: removed message `Old`",
        "- field `M.a` is now `[deprecated]`",
        "- **breaking**: 1 value of enum `E` renamed",
        "  - `TWO` → `E_TWO`",
    ] {
        assert!(text.contains(expected), "`{expected}` not in\n{text}");
    }
    // Members of a removed message are not listed one by one; of an added one, nested.
    assert!(!text.contains("Old.x"), "{text}");
    assert!(!text.contains("- field `N.y"), "{text}");
    assert!(d.is_breaking());
    assert!(diff(NEW, NEW).is_empty());
    assert!(!diff(OLD, &OLD.replace("string\n", "string [deprecated]\n")).is_breaking());
}

#[test]
fn versions_follow_the_policy() {
    let v = |s: &str| semver::Version::parse(s).unwrap();
    let next = |cur: &str, tag: &str| next_version(&v(cur), tag).unwrap().to_string();
    assert_eq!(next("0.36.0", "v0.37.0"), "0.37.0");
    assert_eq!(next("0.36.0", "v0.37.0-beta.0"), "0.37.0-beta.0");
    assert_eq!(next("0.36.0", "v0.36.4"), "0.36.1");
    assert_eq!(next("0.37.0-beta.0", "v0.37.0"), "0.37.0");
    assert_eq!(next_version(&v("0.36.0"), "master"), None);
}

#[test]
fn entries_go_first_under_unreleased_once_and_the_file_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("CHANGELOG.md");
    let one = "## Unreleased: runtime.v1 a → b\n\n### Breaking\n\n- a\n";
    let two = "## Unreleased: runtime.v1 b → c\n\n- b\n";
    assert!(prepend_entry(&path, one).unwrap());
    assert!(prepend_entry(&path, two).unwrap());
    assert!(!prepend_entry(&path, two).unwrap());
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("# Changelog\n\n"), "{text}");
    assert!(text.contains("[Keep a Changelog]"), "{text}");
    let at = |needle: &str| {
        text.find(needle)
            .unwrap_or_else(|| panic!("no `{needle}` in\n{text}"))
    };
    assert!(at(UNRELEASED) < at("### runtime.v1 b → c"), "{text}");
    assert!(
        at("### runtime.v1 b → c") < at("### runtime.v1 a → b"),
        "{text}"
    );
    assert!(text.contains("#### Breaking\n\n- a\n"), "{text}");
    assert!(!text.contains("## Unreleased:"), "{text}");
    assert!(prepend_entry(&path, "no heading").is_err());
}

#[test]
fn a_crate_change_log_gets_the_entry_in_its_unreleased_section() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("CHANGELOG.md");
    let entry = "## Unreleased: runtime.v1 a → b\n\n- new\n";
    // With an [Unreleased] section of hand-written entries: first in it.
    std::fs::write(
        &path,
        "# Changelog\n\nIntro.\n\n## [Unreleased]\n\n### Fixed\n\n- x\n\n## [0.36.0] - 2026-11-23\n\n- y\n",
    )
    .unwrap();
    assert!(prepend_entry(&path, entry).unwrap());
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "# Changelog\n\nIntro.\n\n## [Unreleased]\n\n### runtime.v1 a → b\n\n- new\n\n\
         ### Fixed\n\n- x\n\n## [0.36.0] - 2026-11-23\n\n- y\n"
    );
    // Without one: made above the newest release.
    std::fs::write(
        &path,
        "# Changelog\n\nIntro.\n\n## [0.36.0] - 2026-11-23\n\n- y\n",
    )
    .unwrap();
    assert!(prepend_entry(&path, entry).unwrap());
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "# Changelog\n\nIntro.\n\n## [Unreleased]\n\n### runtime.v1 a → b\n\n- new\n\n\
         ## [0.36.0] - 2026-11-23\n\n- y\n"
    );
}
