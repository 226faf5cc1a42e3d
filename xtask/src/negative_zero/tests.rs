//! Tests of the `-0.0` Message impls, on a proto with every field shape and on the vendored ones.

use super::*;

/// A package of every field shape next to a `double`, compiled, and prost-build's output
/// for it (ordered maps, as `regen` asks).
fn synthetic(proto: &str) -> (DescriptorPool, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.proto"), proto).unwrap();
    let mut compiler = protox::Compiler::new([dir.path()]).unwrap();
    compiler
        .include_source_info(true)
        .open_file("t.proto")
        .unwrap();
    let fds = compiler.file_descriptor_set();
    let mut config = prost_build::Config::new();
    config.btree_map(["."]).skip_debug([".t.Secret"]);
    let requests = fds
        .file
        .iter()
        .map(|f| {
            (
                prost_build::Module::from_protobuf_package_name("t"),
                f.clone(),
            )
        })
        .collect();
    let code = config
        .generate(requests)
        .unwrap()
        .into_values()
        .next()
        .unwrap();
    (compiler.descriptor_pool(), code)
}

const SHAPES: &str = r#"
    syntax = "proto3";
    package t;
    enum Mode { MODE_A = 0; MODE_B = 1; }
    message Inner { float f = 1; }
    message Shapes {
      double d = 3;
      Mode mode = 1;
      string s = 2;
      bytes b = 4;
      Inner inner = 5;
      repeated Inner inners = 6;
      repeated double ds = 7;
      repeated string ss = 8;
      map<string, string> labels = 9;
      map<int64, Inner> by_id = 10;
      int64 type = 11;
      message Nested { double n = 1; }
    }
    message Empty {}
    message Secret { double d = 1; string password = 2; }
    message Unrelated { double list = 1; }
"#;

#[test]
fn only_messages_with_a_singular_float_field_get_an_impl() {
    let (pool, _) = synthetic(SHAPES);
    let names: Vec<String> = messages(&pool, "t")
        .iter()
        .map(|m| m.full_name().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "t.Inner",
            "t.Shapes",
            "t.Shapes.Nested",
            "t.Secret",
            "t.Unrelated"
        ]
    );

    let root = crate::workspace_root().join(crate::PROTO_DIR);
    for (version, expected) in [
        (crate::V1, vec!["runtime.v1.PsiData"]),
        (crate::V1ALPHA2, vec![]),
    ] {
        let pool = crate::compile(&root, &version).unwrap().descriptor_pool();
        let names: Vec<String> = messages(&pool, version.package)
            .iter()
            .map(|m| m.full_name().to_string())
            .collect();
        assert_eq!(names, expected, "{}", version.package);
    }
}

#[test]
fn every_shape_is_written_and_the_derive_comes_off() {
    let (pool, mut code) = synthetic(SHAPES);
    let impls = apply(&mut code, &pool, "t", &|m| m.name() == "Secret").unwrap();
    // The derive stays only on the messages without a float field.
    assert_eq!(code.matches("::prost::Message)]").count(), 1, "{code}");
    assert!(!code.contains("#[prost("), "field attributes left:\n{code}");
    assert!(
        code.contains("PartialEq, Default)]\npub struct Shapes {"),
        "{code}"
    );
    // -0.0 is written, in encode_raw and encoded_len alike; other scalars as the derive does.
    for needle in [
        "if self.d.to_bits() != 0 {\n            ::prost::encoding::double::encode(3, &self.d, buf);",
        "+ (if self.d.to_bits() != 0 {\n                ::prost::encoding::double::encoded_len(3, &self.d)",
        "if self.f.to_bits() != 0 {",
        "::prost::encoding::double::encode_packed(7, &self.ds, buf);",
        "::prost::encoding::string::encode_repeated(8, &self.ss, buf);",
        "::prost::encoding::message::encode_repeated(6, &self.inners, buf);",
        "::prost::encoding::btree_map::encode(",
        "::prost::encoding::int64::encode(11, &self.r#type, buf);",
        "error.push(STRUCT_NAME, \"type\");",
        "pub fn set_mode(&mut self, value: Mode)",
        "&DebugEnum::<Mode>(self.mode, ::core::marker::PhantomData)",
        "impl ::prost::Message for shapes::Nested",
    ] {
        assert!(impls.contains(needle), "no `{needle}` in:\n{impls}");
    }
    // Fields in number order on the wire: mode (1) before d (3).
    let encode_raw = &impls[impls.find("impl ::prost::Message for Shapes").unwrap()..];
    assert!(
        encode_raw.find("int32::encode(1").unwrap() < encode_raw.find("double::encode(3").unwrap()
    );
    // The redacted message keeps the generator's own Debug: none written here.
    assert!(!impls.contains("impl ::core::fmt::Debug for Secret"));
    assert!(impls.contains("impl ::core::fmt::Debug for Shapes"));
}

#[test]
fn shapes_it_does_not_write_stop_regen_with_the_field_named() {
    for (proto, expected) in [
        (
            "syntax = \"proto3\"; package t; message M { double d = 1; oneof o { int32 a = 2; } }",
            "t.M has a double or float field and the oneof `o`",
        ),
        (
            "syntax = \"proto3\"; package t; enum E { E0 = 0; } message M { double d = 1; repeated E es = 2; }",
            "t.M.es is a repeated enum",
        ),
        (
            "syntax = \"proto3\"; package t; enum E { E0 = 0; } message M { double d = 1; map<string, E> m = 2; }",
            "t.M.m is a map with enum values",
        ),
    ] {
        let (pool, mut code) = synthetic(proto);
        let error = apply(&mut code, &pool, "t", &|_| false)
            .unwrap_err()
            .to_string();
        assert!(error.contains(expected), "{error}");
    }
}
