//! Proto3 JSON with options chosen at run time.
//!
//! The plain `serde::Serialize`/`Deserialize` impls of every message are the canonical proto3
//! JSON mapping ([`JsonOptions::new()`]). [`with_options`] writes a message with other options
//! through any serde serializer, [`from_str`] (or [`Seed`] for any serde deserializer) reads
//! one with options.

include!("generated/json.rs");
