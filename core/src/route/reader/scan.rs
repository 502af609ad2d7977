//! The lead scanner: reads the common shape of a lead line (one flat JSON object of strings
//! without escapes, whole numbers, `true`, `false` and `null`) straight from its bytes, without
//! serde's machinery, and gives up on anything else: escapes, fractions and exponents, nested
//! values, and every kind of malformed text. What it gives up on goes to the serde reader,
//! which alone reports errors, so the two can never disagree on a line the scanner reads (the
//! tests run both on generated lines and on the JSONTestSuite corpus). Its search for the
//! first byte a JSON string escapes serves the decision writer too.

use super::{Fields, Json, Remembered, field_after};
use crate::model::Policy;
use std::borrow::Cow;

/// Reads the object on `text` into `fields`, the values of the schema's fields; `None` where
/// the line is not of the common shape (`fields` then holds part of it, to be forgotten before
/// the serde reader reads the line).
pub(super) fn scan(
    policy: &Policy,
    text: &str,
    fields: &mut Fields,
    mut unknown: Remembered<'_>,
) -> Option<()> {
    let mut scanner = Scanner { text, at: 0 };
    scanner.skip_whitespace();
    scanner.expect(b'{')?;
    let mut next = 0;
    scanner.skip_whitespace();
    if scanner.peek() == Some(b'}') {
        scanner.at += 1;
    } else {
        loop {
            scanner.expect(b'"')?;
            // Lines from one source keep one order of keys: the field after the last one is
            // looked for first, right in the text, then the one after it (an optional field
            // left out), then a key remembered as naming no field, then any field.
            let index = match scanner.key(policy, next) {
                Some(index) => Some(index),
                None => match scanner.key(policy, next + 1) {
                    Some(index) => Some(index),
                    None => match scanner.rest().and_then(|rest| unknown.key_at(rest)) {
                        Some(length) => {
                            scanner.at += length + 1;
                            None
                        }
                        None => {
                            let key = scanner.string()?;
                            let found = field_after(policy, key, next);
                            if found.is_none() {
                                unknown.remember(key);
                            }
                            found
                        }
                    },
                },
            };
            scanner.skip_whitespace();
            scanner.expect(b':')?;
            scanner.skip_whitespace();
            let value = scanner.value()?;
            if let Some(index) = index {
                let plain = policy
                    .fields
                    .get(index)
                    .is_some_and(|field| fields.take_plain(field, index, &value));
                if !plain {
                    fields.take(policy, index, &value);
                }
                next = index + 1;
            }
            scanner.skip_whitespace();
            match scanner.next()? {
                b',' => scanner.skip_whitespace(),
                b'}' => break,
                _ => return None,
            }
        }
    }
    scanner.skip_whitespace();
    (scanner.at == text.len()).then_some(())
}

struct Scanner<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Scanner<'a> {
    /// The text from the scanner's place on.
    fn rest(&self) -> Option<&'a [u8]> {
        self.text.as_bytes().get(self.at..)
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.next()? == byte).then_some(())
    }

    /// Skips JSON's whitespace: space, tab, line feed, carriage return.
    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    /// Reads a key whose opening quote was read when it is the name of field `index` (with
    /// its closing quote): then its index. Field names are identifiers, with nothing JSON
    /// escapes, so the key is that name exactly when the text holds it and then a quote.
    fn key(&mut self, policy: &Policy, index: usize) -> Option<usize> {
        let name = policy.fields.get(index)?.name.as_bytes();
        let rest = self.text.as_bytes().get(self.at..)?;
        if rest.get(name.len()) == Some(&b'"')
            && rest
                .get(..name.len())
                .is_some_and(|key| same_bytes(key, name))
        {
            self.at += name.len() + 1;
            Some(index)
        } else {
            None
        }
    }

    /// The rest of a string whose opening quote was read, up to its closing quote, if it holds
    /// no escape and no control character.
    fn string(&mut self) -> Option<&'a str> {
        let rest = self.text.as_bytes().get(self.at..)?;
        // The first byte JSON escapes must be the closing quote.
        let end = first_to_escape(rest)?;
        if rest.get(end) != Some(&b'"') {
            return None;
        }
        // The text is UTF-8 and both ends are ASCII, so this is a whole string.
        let string = self.text.get(self.at..self.at + end)?;
        self.at += end + 1;
        Some(string)
    }

    /// A value of the common shape.
    fn value(&mut self) -> Option<Json<'a>> {
        match self.peek()? {
            b'"' => {
                self.at += 1;
                Some(Json::Str(Cow::Borrowed(self.string()?)))
            }
            b't' => self.literal("true", Json::Bool(true)),
            b'f' => self.literal("false", Json::Bool(false)),
            b'n' => self.literal("null", Json::Null),
            b'-' | b'0'..=b'9' => self.whole_number(),
            _ => None,
        }
    }

    fn literal(&mut self, word: &str, value: Json<'a>) -> Option<Json<'a>> {
        let rest = self.text.get(self.at..)?;
        if !rest.starts_with(word) {
            return None;
        }
        // What follows (`truex`) is checked by the object's loop, as after any value.
        self.at += word.len();
        Some(value)
    }

    /// A whole number that fits 64 bits, as the serde reader gives it: an `i64` where it fits,
    /// else a `u64`. `-0`, leading zeros, fractions, exponents and larger numbers are left to
    /// the serde reader.
    fn whole_number(&mut self) -> Option<Json<'a>> {
        let negative = self.peek() == Some(b'-');
        if negative {
            self.at += 1;
        }
        let start = self.at;
        let mut magnitude: u64 = 0;
        while let Some(digit @ b'0'..=b'9') = self.peek() {
            magnitude = magnitude
                .checked_mul(10)?
                .checked_add(u64::from(digit - b'0'))?;
            self.at += 1;
        }
        let digits = self.at - start;
        let leading_zero = self.text.as_bytes().get(start) == Some(&b'0');
        if digits == 0 || (leading_zero && digits > 1) {
            return None;
        }
        if !negative {
            return Some(i64::try_from(magnitude).map_or(Json::UInt(magnitude), Json::Int));
        }
        if magnitude == 0 {
            return None;
        }
        // -9223372036854775808 is the one negative whose magnitude is not an i64.
        let value = 0i64.checked_sub_unsigned(magnitude)?;
        Some(Json::Int(value))
    }
}

/// Whether two byte strings are equal, compared a word at a time (the last word overlapping
/// the one before): field names and enum variants are short, and a call to `memcmp` for each
/// cost more than the comparison.
#[inline]
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let length = a.len();
    if length != b.len() {
        return false;
    }
    let word = |bytes: &[u8], at: usize| {
        let mut word = [0u8; 8];
        if let Some(chunk) = bytes.get(at..at + 8) {
            word.copy_from_slice(chunk);
        }
        u64::from_le_bytes(word)
    };
    let half = |bytes: &[u8], at: usize| {
        let mut half = [0u8; 4];
        if let Some(chunk) = bytes.get(at..at + 4) {
            half.copy_from_slice(chunk);
        }
        u32::from_le_bytes(half)
    };
    match length {
        0..4 => a.iter().zip(b).all(|(x, y)| x == y),
        4..8 => half(a, 0) == half(b, 0) && half(a, length - 4) == half(b, length - 4),
        _ => {
            let mut at = 0;
            while at + 8 <= length {
                if word(a, at) != word(b, at) {
                    return false;
                }
                at += 8;
            }
            at == length || word(a, length - 8) == word(b, length - 8)
        }
    }
}

/// Whether JSON needs `byte` escaped in a string: a quote, a backslash or a control character.
fn needs_escape(byte: u8) -> bool {
    byte == b'"' || byte == b'\\' || byte < 0x20
}

/// The index of the first byte of `bytes` that JSON needs escaped. Eight bytes are tested at a
/// time: a word's bytes below 0x20, or equal to `"` or `\`, are flagged in one go, and the
/// lowest flag is the first such byte. The last bytes (fewer than eight) are tested in the
/// word that ends with them, whose earlier bytes were tested clean already.
pub(crate) fn first_to_escape(bytes: &[u8]) -> Option<usize> {
    let mut start = 0;
    while let Some(chunk) = bytes.get(start..start + 8) {
        if let Some(at) = first_flagged(chunk) {
            return Some(start + at);
        }
        start += 8;
    }
    if start == bytes.len() {
        return None;
    }
    match bytes.len().checked_sub(8) {
        // Bytes before `start` flag nothing, so they move no borrow into the bytes after.
        Some(last) => first_flagged(bytes.get(last..)?).map(|at| last + at),
        None => bytes.iter().position(|byte| needs_escape(*byte)),
    }
}

/// [`first_to_escape`] in the eight bytes of `chunk`.
#[inline(always)]
fn first_flagged(chunk: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_le_bytes([0x80; 8]);
    // The high bit of each byte that is zero, or below `limit`. A borrow may flag bytes above
    // a flagged one too, never one below it: the lowest flag is exact.
    let below = |word: u64, limit: u64| word.wrapping_sub(ONES * limit) & !word & HIGH;
    let mut word = [0; 8];
    word.copy_from_slice(chunk.get(..8)?);
    let word = u64::from_le_bytes(word);
    let flags = below(word, 0x20)
        | below(word ^ (ONES * u64::from(b'"')), 1)
        | below(word ^ (ONES * u64::from(b'\\')), 1);
    (flags != 0).then(|| (flags.trailing_zeros() / 8) as usize)
}

#[cfg(test)]
mod tests {
    use super::super::{Limits, ParsedLead, Top, parse_lead, parse_lead_reusing, parse_with_serde};
    use super::*;
    use proptest::prelude::*;

    const SCHEMA: &str = "schema lead {\n  id: string\n  intent: enum { high, low }\n  \
        deal_value: int?\n  score: number?\n  created_at: time?\n  vip: bool?\n  note: string?\n}\n\
        queue q\nqueue managers\nwhen intent = high -> queue q within 1h escalate managers\notherwise -> queue q\n";

    fn compiled() -> &'static (Policy, crate::graph::Compiled) {
        static COMPILED: std::sync::OnceLock<(Policy, crate::graph::Compiled)> =
            std::sync::OnceLock::new();
        COMPILED.get_or_init(|| {
            let report = crate::pipeline::check_source(SCHEMA);
            assert_eq!(report.error_count(), 0, "{:?}", report.diagnostics);
            report.compiled.expect("compiled")
        })
    }

    fn policy() -> &'static Policy {
        &compiled().0
    }

    /// Whatever the scanner reads, serde reads the same; answers whether the scanner read it.
    /// The scanner reads each line three ways, alike: remembering no key; with the keys of
    /// [`key`] that name no field remembered; and twice with what the first reading learnt.
    fn agree(policy: &Policy, text: &str) -> Result<bool, TestCaseError> {
        let mut scanned = Fields::new(policy);
        if scan(policy, text, &mut scanned, Remembered(None)).is_none() {
            return Ok(false);
        }
        let mut known_unknown: Vec<Box<[u8]>> = ["utm_source", "caf\u{e9}", "", "i", "idx"]
            .iter()
            .map(|key| key.as_bytes().into())
            .collect();
        for remembered in [&mut known_unknown, &mut Vec::new()] {
            for _ in 0..2 {
                let mut again = Fields::new(policy);
                let read = scan(policy, text, &mut again, Remembered(Some(&mut *remembered)));
                prop_assert!(read.is_some(), "{}", text);
                prop_assert_eq!(&again, &scanned, "{}", text);
            }
        }
        match parse_with_serde(policy, text, Fields::new(policy)) {
            Ok(Top::Object(fields)) => prop_assert_eq!(scanned, fields, "{}", text),
            Ok(Top::Other(kind)) => prop_assert!(false, "serde found {} in {}", kind, text),
            Err((error, _)) => prop_assert!(false, "serde refuses {}: {}", text, error),
        }
        Ok(true)
    }

    /// Keys: the schema's, unknown ones, and ones the scanner leaves to serde.
    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("id"),
            Just("intent"),
            Just("deal_value"),
            Just("score"),
            Just("created_at"),
            Just("vip"),
            Just("note"),
            Just("utm_source"),
            Just("i\\u0064"),
            Just("caf\u{e9}"),
            Just(""),
            // Keys that begin or end like a field's name, read right in the text when the
            // name is the one expected next.
            Just("i"),
            Just("idx"),
            Just("intent\\\""),
            Just("id\\u0000"),
        ]
        .prop_map(|key| format!("\"{key}\""))
    }

    /// Values: every JSON kind, near misses and malformed ones.
    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("\"high\"".to_string()),
            Just("\"low\"".to_string()),
            Just("\"L-1\"".to_string()),
            Just("\"\"".to_string()),
            Just("\"  \"".to_string()),
            Just("\"a\\\"b\"".to_string()),
            Just("\"tab\there\"".to_string()),
            Just("\"\u{1F600} \u{e9}\"".to_string()),
            Just("\"2026-11-23T10:00:00+01:00\"".to_string()),
            Just("\"2026-11-23T10:00:00+25:00\"".to_string()),
            Just("true".to_string()),
            Just("false".to_string()),
            Just("null".to_string()),
            Just("nul".to_string()),
            Just("truex".to_string()),
            Just("{}".to_string()),
            Just("[1, 2]".to_string()),
            Just("{\"a\": [true]}".to_string()),
            prop::num::i64::ANY.prop_map(|n| n.to_string()),
            prop::num::u64::ANY.prop_map(|n| n.to_string()),
            Just("-0".to_string()),
            Just("0".to_string()),
            Just("007".to_string()),
            Just("-".to_string()),
            Just("1.5".to_string()),
            Just("1e3".to_string()),
            Just("1E+2".to_string()),
            Just("-9223372036854775808".to_string()),
            Just("-9223372036854775809".to_string()),
            Just("18446744073709551615".to_string()),
            Just("18446744073709551616".to_string()),
            Just("12a".to_string()),
        ]
    }

    fn whitespace() -> impl Strategy<Value = &'static str> {
        prop_oneof![
            4 => Just(""),
            1 => Just(" "),
            1 => Just(" \t\r\n "),
            1 => Just("\u{a0}"),
            1 => Just("\u{c}"),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        /// Objects of every kind of member, with whitespace anywhere, sometimes cut short or
        /// with a byte changed: the scanner and serde agree wherever the scanner reads.
        #[test]
        fn the_scanner_reads_what_serde_reads(
            members in prop::collection::vec((whitespace(), key(), whitespace(), value(), whitespace()), 0..9),
            around in (whitespace(), whitespace()),
            cut in prop::option::weighted(0.1, any::<prop::sample::Index>()),
            changed in prop::option::weighted(0.1, (any::<prop::sample::Index>(), prop::sample::select(vec!['"', ',', ':', '}', '{', '\\', ' ', 'x', '1']))),
        ) {
            let body: Vec<String> = members
                .iter()
                .map(|(a, key, b, value, c)| format!("{a}{key}{b}:{value}{c}"))
                .collect();
            let mut text = format!("{}{{{}}}{}", around.0, body.join(","), around.1);
            if let Some(cut) = cut {
                let at = cut.index(text.len() + 1);
                if text.is_char_boundary(at) {
                    text.truncate(at);
                }
            }
            if let Some((at, byte)) = changed {
                let at = at.index(text.len().max(1));
                if text.is_char_boundary(at) && text.is_char_boundary(at + 1) && at < text.len() {
                    text.replace_range(at..at + 1, &byte.to_string());
                }
            }
            agree(policy(), &text)?;
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        /// Lead after lead parsed in the memory of the one before (values of other types,
        /// absent fields, repeated keys, lines serde reads and lines in error) reads as each
        /// parsed afresh.
        #[test]
        fn a_lead_parsed_in_an_earlier_ones_memory_reads_the_same(
            lines in prop::collection::vec(
                (prop::bool::weighted(0.8), prop::collection::vec((key(), value()), 0..6)), 1..8),
        ) {
            let limits = Limits::default();
            let mut earlier: Option<ParsedLead> = None;
            for (number, (valid, members)) in lines.iter().enumerate() {
                // Most lines are leads (an id and an intent first), so that most follow one.
                let base = valid.then(|| format!("\"id\":\"L-{number}\",\"intent\":\"high\""));
                let body: Vec<String> = base
                    .into_iter()
                    .chain(members.iter().map(|(key, value)| format!("{key}:{value}")))
                    .collect();
                let text = format!("{{{}}}", body.join(","));
                let fresh = parse_lead(policy(), text.as_bytes(), &limits);
                let reused = match earlier.take() {
                    Some(lead) => parse_lead_reusing(policy(), text.as_bytes(), &limits, lead),
                    None => parse_lead(policy(), text.as_bytes(), &limits),
                };
                match (&fresh, &reused) {
                    (Ok(fresh), Ok(reused)) => {
                        prop_assert_eq!(&fresh.id, &reused.id, "{}", text);
                        prop_assert_eq!(&fresh.lead.values, &reused.lead.values, "{}", text);
                        // Nothing found ahead for the earlier lead is left for this one.
                        prop_assert_eq!(fresh.fingerprint, reused.fingerprint);
                        prop_assert_eq!(fresh.rule_found, reused.rule_found);
                        prop_assert_eq!(fresh.times_found, reused.times_found);
                        prop_assert_eq!(fresh.id_hash(), reused.id_hash());
                        // The blanks read as no value, kept the same way in reused memory.
                        prop_assert_eq!(
                            fresh.as_read_with_blanks().map(|lead| lead.values),
                            reused.as_read_with_blanks().map(|lead| lead.values),
                            "{}",
                            text
                        );
                    }
                    (Err(fresh), Err(reused)) => prop_assert_eq!(fresh, reused, "{}", text),
                    _ => prop_assert!(false, "{:?} against {:?} for {}", fresh, reused, text),
                }
                // Found ahead, as `route`'s reader does, before its memory holds the next one.
                earlier = reused.ok().map(|mut lead| {
                    let (policy, compiled) = compiled();
                    let context = crate::model::EvalContext {
                        now: jiff::Timestamp::UNIX_EPOCH,
                    };
                    let ahead = crate::route::ahead::TimesAhead::new(policy);
                    lead.find_ahead(policy, compiled, &ahead, &context);
                    lead.find_id_hash();
                    lead
                });
            }
        }
    }

    #[test]
    fn word_at_a_time_equality_is_equality() {
        let text = b"territory_12_senior_anna_with_a_long_name";
        for length in 0..text.len() {
            let a = &text[..length];
            assert!(same_bytes(a, a));
            assert!(!same_bytes(a, &text[..length + 1]));
            for at in 0..length {
                let mut b = a.to_vec();
                b[at] ^= 0x20;
                assert!(!same_bytes(a, &b), "{length} {at}");
                assert!(!same_bytes(&b, a), "{length} {at}");
            }
        }
    }

    #[test]
    fn the_word_at_a_time_search_finds_the_first_byte_to_escape() {
        let simple = |bytes: &[u8]| bytes.iter().position(|b| needs_escape(*b));
        // Every position in strings of every length up to 40, for each byte that matters and
        // its neighbours, over a background of bytes that never need escaping (UTF-8 too).
        for length in 0..40 {
            for at in 0..length {
                for special in [
                    0u8, 0x08, 0x1f, 0x20, b'"', b'!', b'#', b'\\', b'[', b']', 0x7f, 0x80, 0xff,
                ] {
                    for background in [b'a', 0x21, 0x5b, 0xc3, 0x7e] {
                        let mut bytes = vec![background; length];
                        bytes[at] = special;
                        assert_eq!(super::first_to_escape(&bytes), simple(&bytes), "{bytes:?}");
                    }
                }
            }
        }
        // Two bytes that matter, either first: a borrow from one never hides the other.
        for length in 0..24 {
            for first in 0..length {
                for second in first..length {
                    for (a, b) in [(0u8, b'"'), (b'\\', 0x1f), (b'"', b'\\'), (0x20, 0)] {
                        let mut bytes = vec![0xc3; length];
                        bytes[second] = b;
                        bytes[first] = a;
                        assert_eq!(super::first_to_escape(&bytes), simple(&bytes), "{bytes:?}");
                    }
                }
            }
        }
        let text = "Müller \"GmbH\"\\\n\u{1}";
        assert_eq!(
            super::first_to_escape(text.as_bytes()),
            simple(text.as_bytes())
        );
    }

    #[test]
    fn the_common_shape_is_scanned_and_the_rest_is_left_to_serde() {
        let read = |text: &str| agree(policy(), text).unwrap();
        for common in [
            r#"{"id":"L-1","intent":"high","deal_value":-12,"created_at":"2026-11-23T10:00:00Z"}"#,
            r#" { "id" : 7 , "intent" : "low" , "vip" : true , "crm" : null } "#,
            r#"{"id":"L-1","intent":"medium","deal_value":"12"}"#,
            r#"{"id":"L-1","id":"L-2","intent":"high","deal_value":18446744073709551615}"#,
            "{}",
        ] {
            assert!(read(common), "{common}");
        }
        for other in [
            r#"{"id":"L-\u0031","intent":"high"}"#,
            r#"{"id":"L-1","intent":"high","score":1.5}"#,
            r#"{"id":"L-1","intent":"high","deal_value":-0}"#,
            r#"{"id":"L-1","intent":"high","extra":{"nested":true}}"#,
            r#"{"id":"L-1","intent":"high",}"#,
            r#"{"id":"L-1","intent":"high"} x"#,
            r#"["id"]"#,
            "{\"id\":\"L\u{1}\"}",
        ] {
            assert!(!read(other), "{other}");
        }
    }

    /// Every file of JSONTestSuite's test_parsing: the scanner never reads one serde refuses,
    /// and reads the same where both do.
    #[test]
    fn the_scanner_agrees_with_serde_on_json_test_suite() {
        let shared = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata");
        let suite = [
            shared.join("jsontestsuite/test_parsing"),
            shared.join("test_parsing"),
        ]
        .into_iter()
        .find(|path| path.exists())
        .unwrap_or_else(|| panic!("JSONTestSuite expected under {}", shared.display()));
        let mut files = 0;
        for entry in std::fs::read_dir(&suite).expect("suite") {
            let bytes = std::fs::read(entry.expect("entry").path()).expect("file");
            if let Ok(text) = std::str::from_utf8(&bytes) {
                agree(policy(), text).unwrap();
            }
            files += 1;
        }
        assert!(files > 300, "{files} files");
    }
}
