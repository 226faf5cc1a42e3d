//! Just enough DER to read the subject of an X.509 certificate: its common names and
//! organizations, the identity a client certificate carries (as the kubelet reads it: the
//! common name is the user, the organizations the groups).
//!
//! The certificate was already verified by rustls; this reader still trusts nothing: any
//! malformed input gives an empty subject, never a panic.

/// The attributes of a subject the authorization hook shows.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Subject {
    pub common_names: Vec<String>,
    pub organizations: Vec<String>,
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const VERSION: u8 = 0xa0;
/// 2.5.4.3, commonName.
const COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];
/// 2.5.4.10, organizationName.
const ORGANIZATION: &[u8] = &[0x55, 0x04, 0x0a];

/// One TLV: the tag, the contents and what follows.
fn next(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    // Multi-byte tags do not occur where this reader looks.
    if tag & 0x1f == 0x1f {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// The contents of a TLV that must have `tag`, and what follows.
fn expect(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (found, contents, rest) = next(input)?;
    (found == tag).then_some((contents, rest))
}

/// The subject of a DER certificate; an empty one when it cannot be read.
pub(super) fn subject(der: &[u8]) -> Subject {
    read_subject(der).unwrap_or_default()
}

fn read_subject(der: &[u8]) -> Option<Subject> {
    let (certificate, _) = expect(der, SEQUENCE)?;
    let (tbs, _) = expect(certificate, SEQUENCE)?;
    let mut fields = tbs;
    if fields.first() == Some(&VERSION) {
        fields = next(fields)?.2;
    }
    // serialNumber, signature, issuer, validity, then the subject.
    for _ in 0..4 {
        fields = next(fields)?.2;
    }
    let (mut name, _) = expect(fields, SEQUENCE)?;
    let mut subject = Subject::default();
    while !name.is_empty() {
        let (mut rdn, rest) = expect(name, SET)?;
        name = rest;
        while !rdn.is_empty() {
            let (attribute, rest) = expect(rdn, SEQUENCE)?;
            rdn = rest;
            let (oid, value) = expect(attribute, OID)?;
            let list = match oid {
                COMMON_NAME => &mut subject.common_names,
                ORGANIZATION => &mut subject.organizations,
                _ => continue,
            };
            if let Some(text) = directory_string(value) {
                list.push(text);
            }
        }
    }
    Some(subject)
}

/// A DirectoryString's text (UTF8String, PrintableString, IA5String, T61String as Latin-1,
/// BMPString as UCS-2); `None` for other types or invalid text.
fn directory_string(value: &[u8]) -> Option<String> {
    let (tag, contents, _) = next(value)?;
    match tag {
        0x0c | 0x13 | 0x16 => std::str::from_utf8(contents).ok().map(str::to_string),
        0x14 => Some(contents.iter().map(|&b| char::from(b)).collect()),
        0x1e if contents.len() % 2 == 0 => {
            let units = contents
                .chunks_exact(2)
                .map(|pair| u16::from_be_bytes([pair[0], pair[1]]));
            char::decode_utf16(units)
                .collect::<Result<String, _>>()
                .ok()
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn certificate(names: &[(rcgen::DnType, &str)]) -> Vec<u8> {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["node".into()]).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        for (kind, value) in names {
            params.distinguished_name.push(kind.clone(), *value);
        }
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn the_subject_names_the_client() {
        let der = certificate(&[
            (rcgen::DnType::OrganizationName, "system:nodes"),
            (rcgen::DnType::CommonName, "system:node:worker-1"),
            (rcgen::DnType::CountryName, "NL"),
        ]);
        assert_eq!(
            subject(&der),
            Subject {
                common_names: vec!["system:node:worker-1".into()],
                organizations: vec!["system:nodes".into()],
            }
        );
        assert_eq!(subject(&certificate(&[])), Subject::default());
    }

    #[test]
    fn malformed_input_gives_an_empty_subject() {
        let der = certificate(&[(rcgen::DnType::CommonName, "kubelet")]);
        for cut in 0..der.len() {
            let _ = subject(&der[..cut]);
        }
        let mut flipped = der.clone();
        for i in 0..flipped.len() {
            flipped[i] ^= 0xff;
            let _ = subject(&flipped);
            flipped[i] ^= 0xff;
        }
        for junk in [
            &[][..],
            &[0x30],
            &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff],
            &[0x1f, 0x00],
        ] {
            assert_eq!(subject(junk), Subject::default());
        }
    }

    #[test]
    fn directory_strings() {
        assert_eq!(
            directory_string(&[0x0c, 2, b'h', b'i']).as_deref(),
            Some("hi")
        );
        assert_eq!(directory_string(&[0x14, 1, 0xe9]).as_deref(), Some("é"));
        assert_eq!(directory_string(&[0x1e, 2, 0, b'x']).as_deref(), Some("x"));
        assert_eq!(directory_string(&[0x1e, 1, 0]), None);
        assert_eq!(directory_string(&[0x04, 1, 0]), None);
    }
}
