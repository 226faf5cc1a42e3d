//! Writes the committed seed corpus (`corpus/<target>/`): one small input per message type
//! and mode, from values the API crates' `arbitrary` derives make from a fixed seed, so the
//! corpus is reproducible. Run from `fuzz/`: `cargo run --example seeds`.

use std::fs;
use std::path::Path;

use arbitrary::{Arbitrary, Unstructured};
use prost::Message;

/// Inputs larger than this are not kept as seeds.
const MAX_SEED: usize = 200;

/// xorshift64*, seeded per type.
struct Rng(u64);

impl Rng {
    fn for_type(name: &str) -> Self {
        Rng(name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        }) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A small non-default value of `M` whose encoding fits a seed, if one turns up.
    fn value<M>(&mut self) -> M
    where
        M: for<'a> Arbitrary<'a> + Message + Default + PartialEq,
    {
        for attempt in 0..200 {
            let len = 8 + (self.next() % (16 + attempt as u64 * 4)) as usize;
            let bytes: Vec<u8> = (0..len).map(|_| self.next() as u8).collect();
            if let Ok(value) = M::arbitrary(&mut Unstructured::new(&bytes)) {
                if value != M::default() && value.encoded_len() <= MAX_SEED {
                    return value;
                }
            }
        }
        M::default()
    }
}

fn write(target: &str, index: usize, name: &str, mode: Option<u8>, body: &[u8]) {
    let dir = Path::new("corpus").join(target);
    fs::create_dir_all(&dir).unwrap();
    let mut input = u16::try_from(index).unwrap().to_le_bytes().to_vec();
    input.extend(mode);
    input.extend_from_slice(body);
    let suffix = mode.map_or(String::new(), |m| format!("-{m}"));
    fs::write(dir.join(format!("{index:03}-{name}{suffix}")), input).unwrap();
}

fn main() {
    for target in ["wire", "json", "convert"] {
        let _ = fs::remove_dir_all(Path::new("corpus").join(target));
    }
    // wire and json share the table order of cri_fuzz::wire_checks / json_checks.
    let mut index = 0;
    macro_rules! message {
        ($ty:ty, $name:literal) => {
            let mut rng = Rng::for_type($name);
            let value: $ty = rng.value();
            write("wire", index, $name, None, &value.encode_to_vec());
            // JSON text when today's serializer can write it; the protobuf form otherwise.
            match serde_json::to_string(&value) {
                Ok(json) => write("json", index, $name, Some(0), json.as_bytes()),
                Err(_) => write("json", index, $name, Some(1), &value.encode_to_vec()),
            }
            index += 1;
        };
    }
    cri_api_v1::__for_each_message!(message);
    cri_api_v1alpha2::__for_each_message!(message);
    assert_eq!(index, cri_fuzz::wire_checks().len());

    let mut index = 0;
    macro_rules! pair {
        ($alpha:ty, $v1:ty) => {
            let name = <$v1 as prost::Name>::full_name();
            let mut rng = Rng::for_type(&name);
            let alpha: $alpha = rng.value();
            write("convert", index, &name, Some(0), &alpha.encode_to_vec());
            let v1: $v1 = rng.value();
            write("convert", index, &name, Some(1), &v1.encode_to_vec());
            index += 1;
        };
    }
    cri_convert::__for_each_shared_message!(pair);
    assert_eq!(index, cri_fuzz::convert_checks().len());
    println!("wrote corpus/{{wire,json,convert}}");
}
