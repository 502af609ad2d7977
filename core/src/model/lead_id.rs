//! A lead's id as routing carries it: kept in the value itself when it is short (every common
//! CRM id is: numbers, Salesforce's 18 characters, ULIDs, UUIDs with their hyphens), shared
//! otherwise, so that taking a lead's id from its line and handing it to the decision, the
//! ledger and the output allocates nothing. Reading an inline id back is the crate's only
//! `unsafe` (the bytes are not checked as UTF-8 again: they were a `str` when copied in).

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

/// A lead's id: a string, compared, ordered and hashed as its text.
#[derive(Clone)]
pub struct LeadId(Repr);

#[derive(Clone)]
enum Repr {
    /// The id's bytes, the first `len` of `bytes` (a whole `str`, never cut inside a character).
    Inline {
        len: u8,
        bytes: [u8; LeadId::INLINE],
    },
    /// An id longer than [`LeadId::INLINE`] bytes.
    Shared(Arc<str>),
}

impl LeadId {
    /// The longest id kept inline, in bytes: a UUID's 36 and more, in a value of 40 bytes.
    pub const INLINE: usize = 38;

    /// The id's text.
    // The crate's one `unsafe`: checking the inline bytes as UTF-8 at every read (routing reads
    // a lead's id some ten times: the ledger, the loads, the output) cost route 6% to 8% of its
    // time (docs/benchmarks.md).
    #[allow(unsafe_code)]
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Inline { len, bytes } => {
                let text = bytes.get(..usize::from(*len)).unwrap_or_default();
                debug_assert!(std::str::from_utf8(text).is_ok());
                // SAFETY: an inline id is made only by `From<&str>`, which copies a whole
                // `str` of at most `INLINE` bytes into `bytes` and sets `len` to its length;
                // nothing else writes either field (they are private to this module, and
                // `Clone` copies both). So `bytes[..len]` is that `str`'s bytes: valid UTF-8.
                unsafe { std::str::from_utf8_unchecked(text) }
            }
            Repr::Shared(text) => text,
        }
    }
}

/// The keyed hash a ledger in memory finds a lead id by: the standard library's SipHash, with
/// keys drawn at random once per process, so that no one can write leads whose ids collide.
/// Every ledger of the process uses the same keys, so a lead's hash can be computed ahead of
/// its turn, on the thread that reads it ([`crate::route::reader::ParsedLead::find_id_hash`]).
pub fn keyed_hash(id: &str) -> u64 {
    static KEYS: std::sync::OnceLock<std::hash::RandomState> = std::sync::OnceLock::new();
    std::hash::BuildHasher::hash_one(KEYS.get_or_init(std::hash::RandomState::new), id)
}

impl From<&str> for LeadId {
    fn from(text: &str) -> LeadId {
        match u8::try_from(text.len()) {
            Ok(len) if text.len() <= LeadId::INLINE => {
                let mut bytes = [0; LeadId::INLINE];
                bytes[..text.len()].copy_from_slice(text.as_bytes());
                LeadId(Repr::Inline { len, bytes })
            }
            _ => LeadId(Repr::Shared(Arc::from(text))),
        }
    }
}

impl From<String> for LeadId {
    fn from(text: String) -> LeadId {
        LeadId::from(text.as_str())
    }
}

impl From<&String> for LeadId {
    fn from(text: &String) -> LeadId {
        LeadId::from(text.as_str())
    }
}

impl From<Arc<str>> for LeadId {
    fn from(text: Arc<str>) -> LeadId {
        if text.len() <= LeadId::INLINE {
            LeadId::from(&*text)
        } else {
            LeadId(Repr::Shared(text))
        }
    }
}

impl From<&LeadId> for Arc<str> {
    fn from(id: &LeadId) -> Arc<str> {
        match &id.0 {
            Repr::Shared(text) => Arc::clone(text),
            Repr::Inline { .. } => Arc::from(id.as_str()),
        }
    }
}

impl Deref for LeadId {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for LeadId {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for LeadId {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for LeadId {
    fn eq(&self, other: &LeadId) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for LeadId {}

impl PartialEq<str> for LeadId {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for LeadId {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialOrd for LeadId {
    fn partial_cmp(&self, other: &LeadId) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for LeadId {
    fn cmp(&self, other: &LeadId) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for LeadId {
    /// As the text hashes, so that maps keyed by ids are looked up by `&str` ([`Borrow`]).
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for LeadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for LeadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn short_ids_are_inline_and_long_ones_shared() {
        for text in [
            "",
            "L-1",
            "00Q5e00000AbCdEfGh",
            "123e4567-e89b-12d3-a456-426614174000",
            "ünïcödé-ид-名前",
            &"x".repeat(LeadId::INLINE),
            // A character of two bytes ending right at the inline limit.
            &format!("{}é", "x".repeat(LeadId::INLINE - 2)),
        ] {
            let id = LeadId::from(text);
            assert!(matches!(id.0, Repr::Inline { .. }), "{text}");
            assert_eq!(id.as_str(), text);
        }
        for text in [
            "x".repeat(LeadId::INLINE + 1),
            "ид".repeat(LeadId::INLINE),
            // One that would be cut inside its last character at the limit.
            format!("{}é", "x".repeat(LeadId::INLINE - 1)),
            "y".repeat(70_000),
        ] {
            let id = LeadId::from(text.as_str());
            assert!(matches!(id.0, Repr::Shared(_)), "{} bytes", text.len());
            assert_eq!(id.as_str(), text);
            assert_eq!(LeadId::from(Arc::<str>::from(text.as_str())), id);
        }
        assert_eq!(std::mem::size_of::<LeadId>(), 40);
    }

    #[test]
    fn compares_orders_and_hashes_as_its_text() {
        let short = LeadId::from("L-2");
        let long = LeadId::from("L-".repeat(40));
        assert!(short < long && long.as_str() > short.as_str());
        assert_eq!(short, "L-2");
        let mut by_id = HashMap::new();
        by_id.insert(short.clone(), 1);
        by_id.insert(long.clone(), 2);
        assert_eq!(by_id.get("L-2"), Some(&1));
        assert_eq!(by_id.get(long.as_str()), Some(&2));
        assert_eq!(format!("{short} {short:?}"), "L-2 \"L-2\"");
        assert_eq!(&*Arc::<str>::from(&long), long.as_str());
    }
}
