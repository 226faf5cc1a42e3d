//! Properties of the conversions, over every message type both versions share, with random
//! values from the API crates' `arbitrary` derives.

use arbitrary::{Arbitrary, Unstructured};
use cri_convert::{Downgrade, Upgrade};
use prost::Message;

/// Random values per message type and property; the seed is fixed so a failure reproduces.
const CASES: usize = 48;

/// xorshift64*: enough randomness for input bytes, and deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A random value of `T`, built from up to 4 KiB of random bytes.
    fn value<T: for<'a> Arbitrary<'a> + Default>(&mut self) -> T {
        let len = (self.next() % 4096) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| self.next() as u8).collect();
        T::arbitrary(&mut Unstructured::new(&bytes)).unwrap_or_default()
    }
}

fn seed(name: &str) -> Rng {
    // FNV-1a of the type name: each type gets its own stream, stable across runs.
    Rng(name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    }) | 1)
}

/// How much the random values exercised: guards against a generator that only makes defaults.
#[derive(Default)]
struct Coverage {
    non_default: usize,
    strict_ok: usize,
    strict_err: usize,
}

macro_rules! check_pair {
    ($alpha:ty, $v1:ty, $coverage:ident) => {{
        let name = <$v1 as prost::Name>::full_name();
        let mut rng = seed(&name);
        for case in 0..CASES {
            // v1alpha2 → v1 → v1alpha2 is the identity, and the wire agrees: decoding the
            // v1alpha2 encoding as v1 gives the upgraded value.
            let alpha: $alpha = rng.value();
            if alpha != <$alpha>::default() {
                $coverage.non_default += 1;
            }
            let wire = alpha.encode_to_vec();
            let upgraded: $v1 = alpha.clone().upgrade();
            assert_eq!(
                <$v1>::decode(wire.as_slice()).unwrap(),
                upgraded,
                "{name} case {case}: wire"
            );
            assert_eq!(
                upgraded.clone().downgrade().as_ref(),
                Ok(&alpha),
                "{name} case {case}: round trip"
            );

            // Any v1 value: strict succeeds exactly when the lossy report is empty, and then
            // both give the same value, which upgrades back to the input.
            let v1: $v1 = rng.value();
            let strict = v1.clone().downgrade();
            let (lossy, report) = v1.clone().downgrade_lossy();
            assert_eq!(
                strict.is_ok(),
                report.is_empty(),
                "{name} case {case}: {report}"
            );
            match strict {
                Ok(exact) => {
                    $coverage.strict_ok += 1;
                    assert_eq!(exact, lossy, "{name} case {case}");
                    assert_eq!(
                        exact.upgrade(),
                        v1,
                        "{name} case {case}: exact downgrade lost something"
                    );
                }
                Err(error) => {
                    $coverage.strict_err += 1;
                    assert_eq!(error.dropped(), report.dropped(), "{name} case {case}");
                    assert!(error.to_string().contains(&name), "{error}");
                }
            }
            // What the lossy form keeps is exact from then on.
            let kept: $v1 = lossy.clone().upgrade();
            assert_eq!(
                kept.downgrade().as_ref(),
                Ok(&lossy),
                "{name} case {case}: lossy result is not stable"
            );
        }
        1
    }};
}

#[test]
fn every_shared_message_round_trips_and_agrees_with_the_wire() {
    let mut types = 0;
    let mut coverage = Coverage::default();
    macro_rules! each {
        ($alpha:ty, $v1:ty) => {
            types += check_pair!($alpha, $v1, coverage);
        };
    }
    cri_convert::__for_each_shared_message!(each);
    // Every v1alpha2 message (map entries aside) has a v1 counterpart.
    let mut alpha_messages = 0;
    macro_rules! count {
        ($ty:ty, $name:literal) => {
            alpha_messages += 1;
        };
    }
    cri_api_v1alpha2::__for_each_message!(count);
    assert_eq!(types, alpha_messages);
    // Most random values are not defaults (only empty messages are always default), and both
    // outcomes of the strict downgrade occur.
    assert!(
        coverage.non_default * 2 > types * CASES,
        "only {} non-default values",
        coverage.non_default
    );
    assert!(coverage.strict_ok > 0 && coverage.strict_err > 0);
    eprintln!(
        "{types} message types, {} cases: {} non-default v1alpha2 values; strict downgrade ok {} / failed {}",
        types * CASES * 2,
        coverage.non_default,
        coverage.strict_ok,
        coverage.strict_err
    );
}
