use core::fmt;
use core::marker::PhantomData;
use std::collections::BTreeMap;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

/// How a message is written to and read from JSON; [`JsonOptions::new()`] (all off) is the
/// canonical proto3 JSON mapping that the plain `Serialize`/`Deserialize` impls use.
///
/// Build one with the `const` setters:
/// `JsonOptions::new().emit_defaults(true).proto_field_names(true)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct JsonOptions {
    /// Write fields that hold their default value (`0`, `""`, `false`, the enum's zero value,
    /// `[]`, `{}`) instead of leaving them out. Message fields that are not set are still left
    /// out (they have presence). Go's `EmitDefaultValues`, Python's
    /// `always_print_fields_with_no_presence`.
    pub emit_defaults: bool,
    /// Write the proto's field names (`created_at`) instead of lowerCamelCase (`createdAt`).
    /// Go's `UseProtoNames`, Python's `preserving_proto_field_name`. Parsing always accepts
    /// both.
    pub proto_field_names: bool,
    /// Write enum values as numbers instead of names. Go's `UseEnumNumbers`, Python's
    /// `use_integers_for_enums`. Parsing always accepts both.
    pub enums_as_numbers: bool,
    /// On parse, skip fields this version does not know and enum names it does not know
    /// (the field keeps its default) instead of failing. Go's `DiscardUnknown`, Python's
    /// `ignore_unknown_fields`. Writing is not affected.
    pub ignore_unknown_fields: bool,
    /// Write and read `KeyValue.value` (a container's environment variables, and the
    /// `KeyValue`s of any other message) as text, as proto3 JSON did while the field was a
    /// `string`: before cri-api v0.36.2 it was, and Go crictl v1.36.0 and every existing
    /// crictl config file hold `"envs": [{"key": "FOO", "value": "bar"}]`. Off, the field is
    /// `bytes` and written and read as base64 (the canonical mapping). Where the field is a
    /// `string` (runtime.v1alpha2), this option changes nothing.
    ///
    /// - **Reading:** a JSON string is the value's text, its UTF-8 bytes taken as they are (no
    ///   base64 decoding); `null` is empty.
    /// - **Writing:** a value that is UTF-8 is written as its text. A value that is not
    ///   (a binary secret, for example) cannot be text: writing fails with an error saying so
    ///   (no replacement characters, no silent switch to base64, which a reader in text mode
    ///   would take for the text). Write that message without this option to see it, as base64.
    ///   Go crictl v1.36.0 cannot show it either: its `string` field rejects the bytes when the
    ///   response is decoded.
    pub key_value_text: bool,
}

impl JsonOptions {
    /// Every option off: the canonical proto3 JSON mapping.
    pub const fn new() -> Self {
        JsonOptions {
            emit_defaults: false,
            proto_field_names: false,
            enums_as_numbers: false,
            ignore_unknown_fields: false,
            key_value_text: false,
        }
    }

    /// What `crictl -o json` and `-o yaml` write (Go's `protojson` with
    /// `EmitDefaultValues: true`): default values written, lowerCamelCase names, enums by name,
    /// and `KeyValue.value` as text ([`key_value_text`](JsonOptions::key_value_text)), as Go
    /// crictl v1.36.0, built on cri-api v0.36.0 where the field is a `string`, writes and reads
    /// it.
    pub const fn crictl() -> Self {
        JsonOptions::new().emit_defaults(true).key_value_text(true)
    }

    /// Sets [`emit_defaults`](JsonOptions::emit_defaults).
    pub const fn emit_defaults(mut self, on: bool) -> Self {
        self.emit_defaults = on;
        self
    }

    /// Sets [`proto_field_names`](JsonOptions::proto_field_names).
    pub const fn proto_field_names(mut self, on: bool) -> Self {
        self.proto_field_names = on;
        self
    }

    /// Sets [`enums_as_numbers`](JsonOptions::enums_as_numbers).
    pub const fn enums_as_numbers(mut self, on: bool) -> Self {
        self.enums_as_numbers = on;
        self
    }

    /// Sets [`ignore_unknown_fields`](JsonOptions::ignore_unknown_fields).
    pub const fn ignore_unknown_fields(mut self, on: bool) -> Self {
        self.ignore_unknown_fields = on;
        self
    }

    /// Sets [`key_value_text`](JsonOptions::key_value_text).
    pub const fn key_value_text(mut self, on: bool) -> Self {
        self.key_value_text = on;
        self
    }

    #[doc(hidden)]
    #[inline]
    pub fn name(self, json: &'static str, proto: &'static str) -> &'static str {
        if self.proto_field_names { proto } else { json }
    }
}

/// A message of this crate, written and read as proto3 JSON with [`JsonOptions`].
/// Implemented by every message type (and only by them: the trait is sealed).
pub trait JsonMessage: Sized + Default + private::Sealed {
    /// The message's full protobuf name (`runtime.v1.ContainerStatus`).
    const FULL_NAME: &'static str;
    #[doc(hidden)]
    const FIELDS: &'static [&'static str];
    #[doc(hidden)]
    fn field_index(name: &str) -> Option<usize>;
    #[doc(hidden)]
    fn serialize_with<S: Serializer>(
        &self,
        serializer: S,
        options: JsonOptions,
    ) -> Result<S::Ok, S::Error>;
    #[doc(hidden)]
    fn fields_from<'de, A: MapAccess<'de>>(map: A, options: JsonOptions) -> Result<Self, A::Error>;
}

/// A `serde::Serialize` view of a message that writes it with options; from [`with_options`].
#[derive(Clone, Copy, Debug)]
pub struct WithOptions<'a, M> {
    message: &'a M,
    options: JsonOptions,
}

impl<M: JsonMessage> Serialize for WithOptions<'_, M> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.message.serialize_with(serializer, self.options)
    }
}

/// A `serde::Serialize` view of `message` that writes it with `options`, for any serde
/// serializer (`serde_json`, a YAML serializer, …).
pub fn with_options<M: JsonMessage>(message: &M, options: JsonOptions) -> WithOptions<'_, M> {
    WithOptions { message, options }
}

/// A `serde::de::DeserializeSeed` that reads a message with options, for any serde
/// deserializer (`serde_json`, a YAML deserializer, …).
pub struct Seed<M> {
    options: JsonOptions,
    message: PhantomData<fn() -> M>,
}

impl<M> Seed<M> {
    /// Reads a message of type `M` with `options`.
    pub const fn new(options: JsonOptions) -> Self {
        Seed {
            options,
            message: PhantomData,
        }
    }
}

impl<M> Clone for Seed<M> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<M> Copy for Seed<M> {}
impl<M> fmt::Debug for Seed<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Seed")
            .field("options", &self.options)
            .finish()
    }
}

impl<'de, M: JsonMessage> DeserializeSeed<'de> for Seed<M> {
    type Value = M;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<M, D::Error> {
        deserializer.deserialize_map(private::MessageVisitor::<M>(self.options, PhantomData))
    }
}

/// Reads a message from any serde deserializer with `options`.
pub fn deserialize<'de, M: JsonMessage, D: Deserializer<'de>>(
    deserializer: D,
    options: JsonOptions,
) -> Result<M, D::Error> {
    Seed::new(options).deserialize(deserializer)
}

/// Parses a message from JSON text with `options`; trailing characters other than white space
/// are an error.
pub fn from_str<M: JsonMessage>(json: &str, options: JsonOptions) -> Result<M, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let message = Seed::new(options).deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(message)
}

/// Parses a message from JSON bytes (UTF-8) with `options`, like [`from_str`].
pub fn from_slice<M: JsonMessage>(
    json: &[u8],
    options: JsonOptions,
) -> Result<M, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    let message = Seed::new(options).deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(message)
}

/// Writes a message as compact JSON with `options`.
pub fn to_string<M: JsonMessage>(
    message: &M,
    options: JsonOptions,
) -> Result<String, serde_json::Error> {
    serde_json::to_string(&with_options(message, options))
}

/// Writes a message as indented JSON with `options`.
pub fn to_string_pretty<M: JsonMessage>(
    message: &M,
    options: JsonOptions,
) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(&with_options(message, options))
}

/// The machinery the generated impls share (with every protobuf kind, used or not by this
/// version). Not a public API.
#[allow(dead_code)]
pub(crate) mod private {
    use super::*;

    pub trait Sealed {}

    /// An enum of this crate, by number and name.
    pub trait JsonEnum {
        const FULL_NAME: &'static str;
        fn name(number: i32) -> Option<&'static str>;
        fn number(name: &str) -> Option<i32>;
    }

    /// How one protobuf field type is written and read.
    pub trait Kind {
        type Rust;
        fn is_default(value: &Self::Rust) -> bool;
        fn write<S: Serializer>(
            value: &Self::Rust,
            s: S,
            o: JsonOptions,
        ) -> Result<S::Ok, S::Error>;
        /// `None`: an unknown enum name skipped under `ignore_unknown_fields`.
        fn read<'de, D: Deserializer<'de>>(
            d: D,
            o: JsonOptions,
            field: &'static str,
        ) -> Result<Option<Self::Rust>, D::Error>;
    }

    /// How a map key type is written and read (always as a JSON string).
    pub trait Key: Kind {
        fn write_key<S: Serializer>(value: &Self::Rust, s: S) -> Result<S::Ok, S::Error>;
        fn read_key<E: de::Error>(key: &str, field: &'static str) -> Result<Self::Rust, E>;
    }

    pub struct Str;
    pub struct Bytes;
    /// `KeyValue.value` where it is `bytes`: base64, or text under `key_value_text`.
    pub struct KeyValueText;
    pub struct Bool;
    pub struct I32;
    pub struct U32;
    pub struct I64;
    pub struct U64;
    pub struct F32;
    pub struct F64;
    pub struct Enum<E>(PhantomData<E>);
    pub struct Msg<M>(PhantomData<M>);

    // ---- writing -------------------------------------------------------------------------

    /// One value of kind `K`.
    pub struct One<'a, K: Kind>(pub &'a K::Rust, pub JsonOptions);
    impl<K: Kind> Serialize for One<'_, K> {
        #[inline]
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            K::write(self.0, s, self.1)
        }
    }

    /// A repeated field.
    pub struct Rep<'a, K: Kind>(pub &'a [K::Rust], pub JsonOptions);
    impl<K: Kind> Serialize for Rep<'_, K> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut seq = s.serialize_seq(Some(self.0.len()))?;
            for item in self.0 {
                seq.serialize_element(&One::<K>(item, self.1))?;
            }
            seq.end()
        }
    }

    /// A map field.
    pub struct Map<'a, K: Key, V: Kind>(pub &'a BTreeMap<K::Rust, V::Rust>, pub JsonOptions);
    impl<K: Key, V: Kind> Serialize for Map<'_, K, V> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut map = s.serialize_map(Some(self.0.len()))?;
            for (key, value) in self.0 {
                map.serialize_key(&KeyOf::<K>(key))?;
                map.serialize_value(&One::<V>(value, self.1))?;
            }
            map.end()
        }
    }

    struct KeyOf<'a, K: Key>(&'a K::Rust);
    impl<K: Key> Serialize for KeyOf<'_, K> {
        #[inline]
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            K::write_key(self.0, s)
        }
    }

    // ---- reading -------------------------------------------------------------------------

    /// Reads the messages' fields: a field name or `None` at the end of the object. Skips
    /// unknown fields under `ignore_unknown_fields`, rejects a field given twice (under either
    /// of its names).
    #[inline]
    pub fn next_field<'de, M: JsonMessage, A: MapAccess<'de>>(
        map: &mut A,
        o: JsonOptions,
        seen: &mut u128,
    ) -> Result<Option<usize>, A::Error> {
        loop {
            match map.next_key_seed(FieldName::<M>(o.ignore_unknown_fields, PhantomData))? {
                None => return Ok(None),
                Some(None) => {
                    map.next_value::<de::IgnoredAny>()?;
                }
                Some(Some(index)) => {
                    let bit = 1u128 << index;
                    if *seen & bit != 0 {
                        return Err(de::Error::custom(format_args!(
                            "duplicate field `{}` in {}",
                            M::FIELDS[index],
                            M::FULL_NAME
                        )));
                    }
                    *seen |= bit;
                    return Ok(Some(index));
                }
            }
        }
    }

    struct FieldName<M>(bool, PhantomData<M>);
    impl<'de, M: JsonMessage> DeserializeSeed<'de> for FieldName<M> {
        type Value = Option<usize>;
        #[inline]
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_identifier(self)
        }
    }
    impl<'de, M: JsonMessage> Visitor<'de> for FieldName<M> {
        type Value = Option<usize>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "a field name of {}", M::FULL_NAME)
        }
        #[inline]
        fn visit_str<E: de::Error>(self, name: &str) -> Result<Self::Value, E> {
            match M::field_index(name) {
                Some(index) => Ok(Some(index)),
                None if self.0 => Ok(None),
                None => Err(E::custom(format_args!(
                    "unknown field `{name}` in {} (its fields: {})",
                    M::FULL_NAME,
                    M::FIELDS.join(", ")
                ))),
            }
        }
        fn visit_bytes<E: de::Error>(self, name: &[u8]) -> Result<Self::Value, E> {
            match core::str::from_utf8(name) {
                Ok(name) => self.visit_str(name),
                Err(_) => Err(E::invalid_value(de::Unexpected::Bytes(name), &self)),
            }
        }
    }

    /// Reads a message object.
    pub struct MessageVisitor<M>(pub JsonOptions, pub PhantomData<M>);
    impl<'de, M: JsonMessage> Visitor<'de> for MessageVisitor<M> {
        type Value = M;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "a {} object", M::FULL_NAME)
        }
        #[inline]
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<M, A::Error> {
            M::fields_from(map, self.0)
        }
    }

    /// A singular field: `null` reads as `None` (the default).
    pub struct Field<K>(pub JsonOptions, pub &'static str, pub PhantomData<K>);
    pub fn field<K>(o: JsonOptions, name: &'static str) -> Field<K> {
        Field(o, name, PhantomData)
    }
    impl<'de, K: Kind> DeserializeSeed<'de> for Field<K> {
        type Value = Option<K::Rust>;
        #[inline]
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_option(self)
        }
    }
    impl<'de, K: Kind> Visitor<'de> for Field<K> {
        type Value = Option<K::Rust>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "a value for field `{}`", self.1)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        #[inline]
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            K::read(d, self.0, self.1)
        }
    }

    /// One element of a list or one map value: `null` is an error.
    struct Element<K>(JsonOptions, &'static str, PhantomData<K>);
    impl<'de, K: Kind> DeserializeSeed<'de> for Element<K> {
        type Value = Option<K::Rust>;
        #[inline]
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            K::read(d, self.0, self.1)
        }
    }

    /// A repeated field: `null` reads as empty.
    pub struct RepField<K>(pub JsonOptions, pub &'static str, pub PhantomData<K>);
    pub fn rep_field<K>(o: JsonOptions, name: &'static str) -> RepField<K> {
        RepField(o, name, PhantomData)
    }
    impl<'de, K: Kind> DeserializeSeed<'de> for RepField<K> {
        type Value = Vec<K::Rust>;
        #[inline]
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_option(self)
        }
    }
    impl<'de, K: Kind> Visitor<'de> for RepField<K> {
        type Value = Vec<K::Rust>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "a list for field `{}`", self.1)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_seq(self)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
            while let Some(item) =
                seq.next_element_seed(Element::<K>(self.0, self.1, PhantomData))?
            {
                if let Some(item) = item {
                    out.push(item);
                }
            }
            Ok(out)
        }
    }

    /// A map field: `null` reads as empty; a key given twice is an error.
    pub struct MapField<K, V>(pub JsonOptions, pub &'static str, pub PhantomData<(K, V)>);
    pub fn map_field<K, V>(o: JsonOptions, name: &'static str) -> MapField<K, V> {
        MapField(o, name, PhantomData)
    }
    impl<'de, K: Key, V: Kind> DeserializeSeed<'de> for MapField<K, V>
    where
        K::Rust: Ord,
    {
        type Value = BTreeMap<K::Rust, V::Rust>;
        #[inline]
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_option(self)
        }
    }
    impl<'de, K: Key, V: Kind> Visitor<'de> for MapField<K, V>
    where
        K::Rust: Ord,
    {
        type Value = BTreeMap<K::Rust, V::Rust>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "an object for map field `{}`", self.1)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(BTreeMap::new())
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(BTreeMap::new())
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_map(self)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some(key) = map.next_key_seed(MapKey::<K>(self.1, PhantomData))? {
                let value = map.next_value_seed(Element::<V>(self.0, self.1, PhantomData))?;
                match out.entry(key) {
                    std::collections::btree_map::Entry::Occupied(_) => {
                        return Err(de::Error::custom(format_args!(
                            "duplicate key in map field `{}`",
                            self.1
                        )));
                    }
                    std::collections::btree_map::Entry::Vacant(entry) => {
                        if let Some(value) = value {
                            entry.insert(value);
                        }
                    }
                }
            }
            Ok(out)
        }
    }

    struct MapKey<K>(&'static str, PhantomData<K>);
    impl<'de, K: Key> DeserializeSeed<'de> for MapKey<K> {
        type Value = K::Rust;
        #[inline]
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<K::Rust, D::Error> {
            d.deserialize_str(self)
        }
    }
    impl<'de, K: Key> Visitor<'de> for MapKey<K> {
        type Value = K::Rust;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "a key of map field `{}`", self.0)
        }
        fn visit_str<E: de::Error>(self, key: &str) -> Result<K::Rust, E> {
            K::read_key(key, self.0)
        }
        fn visit_string<E: de::Error>(self, key: String) -> Result<K::Rust, E> {
            K::read_key(&key, self.0)
        }
    }

    // ---- the kinds -------------------------------------------------------------------------

    impl Kind for Str {
        type Rust = String;
        #[inline]
        fn is_default(value: &String) -> bool {
            value.is_empty()
        }
        #[inline]
        fn write<S: Serializer>(value: &String, s: S, _: JsonOptions) -> Result<S::Ok, S::Error> {
            s.serialize_str(value)
        }
        #[inline]
        fn read<'de, D: Deserializer<'de>>(
            d: D,
            _: JsonOptions,
            field: &'static str,
        ) -> Result<Option<String>, D::Error> {
            d.deserialize_string(StrVisitor(field)).map(Some)
        }
    }
    impl Key for Str {
        #[inline]
        fn write_key<S: Serializer>(value: &String, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(value)
        }
        #[inline]
        fn read_key<E: de::Error>(key: &str, _: &'static str) -> Result<String, E> {
            Ok(key.to_owned())
        }
    }
    struct StrVisitor(&'static str);
    impl Visitor<'_> for StrVisitor {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "a string for field `{}`", self.0)
        }
        #[inline]
        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_owned())
        }
        #[inline]
        fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
            Ok(v)
        }
    }

    impl Kind for Bool {
        type Rust = bool;
        #[inline]
        fn is_default(value: &bool) -> bool {
            !*value
        }
        #[inline]
        fn write<S: Serializer>(value: &bool, s: S, _: JsonOptions) -> Result<S::Ok, S::Error> {
            s.serialize_bool(*value)
        }
        fn read<'de, D: Deserializer<'de>>(
            d: D,
            _: JsonOptions,
            field: &'static str,
        ) -> Result<Option<bool>, D::Error> {
            d.deserialize_bool(BoolVisitor(field)).map(Some)
        }
    }
    impl Key for Bool {
        fn write_key<S: Serializer>(value: &bool, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(if *value { "true" } else { "false" })
        }
        fn read_key<E: de::Error>(key: &str, field: &'static str) -> Result<bool, E> {
            match key {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(E::custom(format_args!(
                    "map field `{field}`: the key {key:?} is not \"true\" or \"false\""
                ))),
            }
        }
    }
    struct BoolVisitor(&'static str);
    impl Visitor<'_> for BoolVisitor {
        type Value = bool;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "true or false for field `{}`", self.0)
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
            Ok(v)
        }
    }

    /// Integers: JSON numbers or strings, with exponents and fractions as long as the value
    /// is integral and in range (`1e3`, `"1e3"`, `1.0`, `-0`), as the spec and Python accept.
    macro_rules! integer_kind {
        ($kind:ident, $rust:ty, $what:literal, $quoted:literal) => {
            impl Kind for $kind {
                type Rust = $rust;
                #[inline]
                fn is_default(value: &$rust) -> bool {
                    *value == 0
                }
                #[inline]
                fn write<S: Serializer>(
                    value: &$rust,
                    s: S,
                    _: JsonOptions,
                ) -> Result<S::Ok, S::Error> {
                    if $quoted {
                        s.serialize_str(itoa::Buffer::new().format(*value))
                    } else {
                        value.serialize(s)
                    }
                }
                #[inline]
                fn read<'de, D: Deserializer<'de>>(
                    d: D,
                    _: JsonOptions,
                    field: &'static str,
                ) -> Result<Option<$rust>, D::Error> {
                    let value = d.deserialize_any(IntVisitor {
                        min: <$rust>::MIN as i128,
                        max: <$rust>::MAX as i128,
                        what: $what,
                        field,
                    })?;
                    Ok(Some(value as $rust))
                }
            }
            impl Key for $kind {
                fn write_key<S: Serializer>(value: &$rust, s: S) -> Result<S::Ok, S::Error> {
                    s.serialize_str(itoa::Buffer::new().format(*value))
                }
                fn read_key<E: de::Error>(key: &str, field: &'static str) -> Result<$rust, E> {
                    let visitor = IntVisitor {
                        min: <$rust>::MIN as i128,
                        max: <$rust>::MAX as i128,
                        what: $what,
                        field,
                    };
                    visitor.visit_str(key).map(|v| v as $rust)
                }
            }
        };
    }
    integer_kind!(I32, i32, "an int32", false);
    integer_kind!(U32, u32, "a uint32", false);
    integer_kind!(I64, i64, "an int64", true);
    integer_kind!(U64, u64, "a uint64", true);

    #[derive(Clone, Copy)]
    struct IntVisitor {
        min: i128,
        max: i128,
        what: &'static str,
        field: &'static str,
    }
    impl IntVisitor {
        fn check<E: de::Error>(self, v: i128, unexpected: de::Unexpected<'_>) -> Result<i128, E> {
            if v < self.min || v > self.max {
                Err(E::invalid_value(unexpected, &self))
            } else {
                Ok(v)
            }
        }
    }
    impl Visitor<'_> for IntVisitor {
        type Value = i128;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(
                f,
                "{} in range for field `{}` (a JSON number or a string holding one, integral)",
                self.what, self.field
            )
        }
        #[inline]
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<i128, E> {
            self.check(v.into(), de::Unexpected::Signed(v))
        }
        #[inline]
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<i128, E> {
            self.check(v.into(), de::Unexpected::Unsigned(v))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<i128, E> {
            // Exactly integral and within ±2^127 (so that `as` is exact), then in range.
            if v.is_finite() && v.trunc() == v && v.abs() < 1.7e38 {
                self.check(v as i128, de::Unexpected::Float(v))
            } else {
                Err(E::invalid_value(de::Unexpected::Float(v), &self))
            }
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<i128, E> {
            match number_syntax(v) {
                Some(true) if v.len() <= 40 => match v.parse::<i128>() {
                    Ok(n) => self.check(n, de::Unexpected::Str(v)),
                    Err(_) => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                },
                // Exponent or fraction: its value as a double, as Python reads it.
                Some(_) => match v.parse::<f64>() {
                    Ok(f) if f.is_finite() && f.trunc() == f && f.abs() < 1.7e38 => {
                        self.check(f as i128, de::Unexpected::Str(v))
                    }
                    _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                },
                None => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
            }
        }
    }

    /// Is `s` a JSON number? `Some(true)` for a plain integer (`-?digits`), `Some(false)` for one
    /// with a fraction or an exponent, `None` if it is not a JSON number at all.
    pub fn number_syntax(s: &str) -> Option<bool> {
        let b = s.as_bytes();
        let mut i = usize::from(b.first() == Some(&b'-'));
        let digits = |i: &mut usize| {
            let start = *i;
            while *i < b.len() && b[*i].is_ascii_digit() {
                *i += 1;
            }
            *i > start
        };
        let start = i;
        if !digits(&mut i) || (b[start] == b'0' && i > start + 1) {
            return None;
        }
        let mut plain = true;
        if i < b.len() && b[i] == b'.' {
            i += 1;
            if !digits(&mut i) {
                return None;
            }
            plain = false;
        }
        if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
            i += 1;
            if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
                i += 1;
            }
            if !digits(&mut i) {
                return None;
            }
            plain = false;
        }
        (i == b.len()).then_some(plain)
    }

    /// Doubles and floats: numbers, or strings holding a number or exactly `"NaN"`,
    /// `"Infinity"`, `"-Infinity"`.
    macro_rules! float_kind {
        ($kind:ident, $rust:ty, $what:literal) => {
            impl Kind for $kind {
                type Rust = $rust;
                #[inline]
                fn is_default(value: &$rust) -> bool {
                    // -0.0 is not the default (it is written, as Python writes it).
                    value.to_bits() == 0
                }
                #[inline]
                fn write<S: Serializer>(
                    value: &$rust,
                    s: S,
                    _: JsonOptions,
                ) -> Result<S::Ok, S::Error> {
                    if value.is_finite() {
                        value.serialize(s)
                    } else if value.is_nan() {
                        s.serialize_str("NaN")
                    } else if *value > 0.0 {
                        s.serialize_str("Infinity")
                    } else {
                        s.serialize_str("-Infinity")
                    }
                }
                fn read<'de, D: Deserializer<'de>>(
                    d: D,
                    _: JsonOptions,
                    field: &'static str,
                ) -> Result<Option<$rust>, D::Error> {
                    let v = d.deserialize_any(FloatVisitor {
                        max: <$rust>::MAX as f64,
                        what: $what,
                        field,
                    })?;
                    Ok(Some(v as $rust))
                }
            }
        };
    }
    float_kind!(F32, f32, "a float");
    float_kind!(F64, f64, "a double");

    struct FloatVisitor {
        max: f64,
        what: &'static str,
        field: &'static str,
    }
    impl FloatVisitor {
        fn check<E: de::Error>(self, v: f64, unexpected: de::Unexpected<'_>) -> Result<f64, E> {
            if v.is_finite() && v.abs() <= self.max {
                Ok(v)
            } else {
                Err(E::invalid_value(unexpected, &self))
            }
        }
    }
    impl Visitor<'_> for FloatVisitor {
        type Value = f64;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(
                f,
                "{} for field `{}` (a JSON number, a string holding one, \"NaN\", \"Infinity\" or \"-Infinity\")",
                self.what, self.field
            )
        }
        #[inline]
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
            self.check(v, de::Unexpected::Float(v))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
            Ok(v as f64)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
            Ok(v as f64)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
            match v {
                "NaN" => Ok(f64::NAN),
                "Infinity" => Ok(f64::INFINITY),
                "-Infinity" => Ok(f64::NEG_INFINITY),
                _ if number_syntax(v).is_some() => match v.parse::<f64>() {
                    Ok(f) => self.check(f, de::Unexpected::Str(v)),
                    Err(_) => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                },
                _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
            }
        }
    }

    /// Bytes: base64 with padding on write; standard or URL-safe, padded or not, on read.
    impl Kind for Bytes {
        type Rust = Vec<u8>;
        #[inline]
        fn is_default(value: &Vec<u8>) -> bool {
            value.is_empty()
        }
        fn write<S: Serializer>(value: &Vec<u8>, s: S, _: JsonOptions) -> Result<S::Ok, S::Error> {
            use base64::Engine as _;
            s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(value))
        }
        fn read<'de, D: Deserializer<'de>>(
            d: D,
            _: JsonOptions,
            field: &'static str,
        ) -> Result<Option<Vec<u8>>, D::Error> {
            d.deserialize_str(BytesVisitor(field)).map(Some)
        }
    }
    struct BytesVisitor(&'static str);
    impl Visitor<'_> for BytesVisitor {
        type Value = Vec<u8>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "base64 (standard or URL-safe) for field `{}`", self.0)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<u8>, E> {
            use base64::Engine as _;
            use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
            const CONFIG: GeneralPurposeConfig = GeneralPurposeConfig::new()
                .with_decode_padding_mode(DecodePaddingMode::Indifferent)
                .with_decode_allow_trailing_bits(true);
            const STANDARD: GeneralPurpose =
                GeneralPurpose::new(&base64::alphabet::STANDARD, CONFIG);
            const URL_SAFE: GeneralPurpose =
                GeneralPurpose::new(&base64::alphabet::URL_SAFE, CONFIG);
            let engine = if v.contains(['-', '_']) {
                &URL_SAFE
            } else {
                &STANDARD
            };
            engine
                .decode(v)
                .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
        }
    }

    impl Kind for KeyValueText {
        type Rust = Vec<u8>;
        #[inline]
        fn is_default(value: &Vec<u8>) -> bool {
            value.is_empty()
        }
        fn write<S: Serializer>(value: &Vec<u8>, s: S, o: JsonOptions) -> Result<S::Ok, S::Error> {
            if !o.key_value_text {
                return Bytes::write(value, s, o);
            }
            match core::str::from_utf8(value) {
                Ok(text) => s.serialize_str(text),
                Err(error) => Err(serde::ser::Error::custom(format_args!(
                    "KeyValue.value is not UTF-8 (its byte {} of {} is not), so it cannot be \
                     written as text (JsonOptions::key_value_text); write it without that \
                     option to get base64",
                    error.valid_up_to(),
                    value.len()
                ))),
            }
        }
        fn read<'de, D: Deserializer<'de>>(
            d: D,
            o: JsonOptions,
            field: &'static str,
        ) -> Result<Option<Vec<u8>>, D::Error> {
            if !o.key_value_text {
                return Bytes::read(d, o, field);
            }
            d.deserialize_string(StrVisitor(field))
                .map(|text| Some(text.into_bytes()))
        }
    }

    /// Enums: names or numbers; numbers no name is known for are written as numbers (proto3
    /// enums are open).
    impl<T: JsonEnum> Kind for Enum<T> {
        type Rust = i32;
        #[inline]
        fn is_default(value: &i32) -> bool {
            *value == 0
        }
        #[inline]
        fn write<S: Serializer>(value: &i32, s: S, o: JsonOptions) -> Result<S::Ok, S::Error> {
            match T::name(*value) {
                Some(name) if !o.enums_as_numbers => s.serialize_str(name),
                _ => s.serialize_i32(*value),
            }
        }
        fn read<'de, D: Deserializer<'de>>(
            d: D,
            o: JsonOptions,
            field: &'static str,
        ) -> Result<Option<i32>, D::Error> {
            d.deserialize_any(EnumVisitor::<T> {
                ignore_unknown: o.ignore_unknown_fields,
                field,
                kind: PhantomData,
            })
        }
    }
    struct EnumVisitor<T> {
        ignore_unknown: bool,
        field: &'static str,
        kind: PhantomData<T>,
    }
    impl<T: JsonEnum> EnumVisitor<T> {
        fn number(&self) -> IntVisitor {
            IntVisitor {
                min: i32::MIN.into(),
                max: i32::MAX.into(),
                what: T::FULL_NAME,
                field: self.field,
            }
        }
    }
    impl<T: JsonEnum> Visitor<'_> for EnumVisitor<T> {
        type Value = Option<i32>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(
                f,
                "a value of enum {} for field `{}` (a name or an int32)",
                T::FULL_NAME,
                self.field
            )
        }
        #[inline]
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<i32>, E> {
            if let Some(number) = T::number(v) {
                return Ok(Some(number));
            }
            if number_syntax(v).is_some() {
                return self.number().visit_str(v).map(|n| Some(n as i32));
            }
            if self.ignore_unknown {
                return Ok(None);
            }
            Err(E::custom(format_args!(
                "unknown value {v:?} of enum {} for field `{}`",
                T::FULL_NAME,
                self.field
            )))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Option<i32>, E> {
            self.number().visit_i64(v).map(|n| Some(n as i32))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Option<i32>, E> {
            self.number().visit_u64(v).map(|n| Some(n as i32))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Option<i32>, E> {
            self.number().visit_f64(v).map(|n| Some(n as i32))
        }
    }

    /// The plain `Deserialize` of an enum type: a name or a number this version knows.
    pub fn deserialize_enum<'de, T: JsonEnum + TryFrom<i32>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<T, D::Error> {
        let number = Enum::<T>::read(d, JsonOptions::new(), T::FULL_NAME)?.unwrap_or_default();
        T::try_from(number).map_err(|_| {
            de::Error::custom(format_args!(
                "{number} is not a value of enum {}",
                T::FULL_NAME
            ))
        })
    }

    impl<M: JsonMessage> Kind for Msg<M> {
        type Rust = M;
        #[inline]
        fn is_default(_: &M) -> bool {
            false
        }
        #[inline]
        fn write<S: Serializer>(value: &M, s: S, o: JsonOptions) -> Result<S::Ok, S::Error> {
            value.serialize_with(s, o)
        }
        #[inline]
        fn read<'de, D: Deserializer<'de>>(
            d: D,
            o: JsonOptions,
            _: &'static str,
        ) -> Result<Option<M>, D::Error> {
            d.deserialize_map(MessageVisitor::<M>(o, PhantomData))
                .map(Some)
        }
    }
}
