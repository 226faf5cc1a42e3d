//! Ordered SPDY header blocks.

use std::fmt;

/// The name/value pairs of a SPDY header block (`SYN_STREAM`, `SYN_REPLY`, `HEADERS`).
///
/// Names are lower case (SPDY/3 requires it; [`Headers::insert`] and [`Headers::append`]
/// lower-case them) and unique; a name may carry several values, which travel NUL-separated
/// in one entry as the protocol wants. Order of first insertion is kept.
///
/// ```
/// use cri_streaming::spdy::Headers;
///
/// let mut headers = Headers::new();
/// headers.insert("StreamType", "stdout");
/// headers.append("port", "8080");
/// headers.append("port", "9090");
/// assert_eq!(headers.get("streamtype"), Some("stdout"));
/// assert_eq!(headers.get_all("port").collect::<Vec<_>>(), ["8080", "9090"]);
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers {
    entries: Vec<(String, Vec<String>)>,
}

impl Headers {
    /// An empty header block.
    pub const fn new() -> Self {
        Headers {
            entries: Vec::new(),
        }
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.entries
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    /// Sets `name` to the single value `value`, replacing what it had.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) -> &mut Self {
        let name = name.into().to_ascii_lowercase();
        let value = value.into();
        match self.position(&name) {
            Some(i) => self.entries[i].1 = vec![value],
            None => self.entries.push((name, vec![value])),
        }
        self
    }

    /// Adds `value` to the values of `name`.
    pub fn append(&mut self, name: impl Into<String>, value: impl Into<String>) -> &mut Self {
        let name = name.into().to_ascii_lowercase();
        let value = value.into();
        match self.position(&name) {
            Some(i) => self.entries[i].1.push(value),
            None => self.entries.push((name, vec![value])),
        }
        self
    }

    /// The first value of `name` (compared case-insensitively), if any.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.position(name)
            .and_then(|i| self.entries[i].1.first())
            .map(String::as_str)
    }

    /// All values of `name`, in order.
    pub fn get_all<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> + 'a {
        self.position(name)
            .map(|i| self.entries[i].1.as_slice())
            .unwrap_or_default()
            .iter()
            .map(String::as_str)
    }

    /// Removes `name` and returns its values.
    pub fn remove(&mut self, name: &str) -> Option<Vec<String>> {
        self.position(name).map(|i| self.entries.remove(i).1)
    }

    /// Each name with its values, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v.as_slice()))
    }

    /// Number of distinct names.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is no header at all.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Pushes an entry as decoded from the wire (name already checked, values split).
    pub(crate) fn push_decoded(&mut self, name: String, values: Vec<String>) {
        self.entries.push((name, values));
    }
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.entries.iter().map(|(n, v)| (n, v)))
            .finish()
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Headers {
    fn from_iter<T: IntoIterator<Item = (K, V)>>(iter: T) -> Self {
        let mut headers = Headers::new();
        for (k, v) in iter {
            headers.append(k, v);
        }
        headers
    }
}

impl<K: Into<String>, V: Into<String>> Extend<(K, V)> for Headers {
    fn extend<T: IntoIterator<Item = (K, V)>>(&mut self, iter: T) {
        for (k, v) in iter {
            self.append(k, v);
        }
    }
}
