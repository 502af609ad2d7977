//! The error-tolerant parse driver: one item at a time, recovering at item boundaries.
//!
//! pest stops at the first error, so the driver never asks it for a whole file. It parses one
//! `item_at` (an item followed by the start of the next one, or the end of the text) from the
//! current offset. When that fails, the pest error becomes a diagnostic and the driver resumes at
//! the next line that begins with an item keyword after the failure. Within an item, the grammar's
//! `bad_*` and `missing_rbrace` rules let one broken field or clause fail alone; [`super::lower`]
//! reports those.

use super::ast::{BrokenItem, Ident, ItemKind, PolicyFile};
use super::cache::{Counts, Fragment, ItemCache};
use super::errors::{nesting_error, syntax_error};
use super::lower::Lowerer;
use super::{MAX_NESTING, PestParser, Rule};
use crate::diagnostic::{self, Diagnostic};
use crate::span::Span;
use pest::Parser;
use std::sync::Arc;

/// The result of parsing: the tree that could be built and every syntax error.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    pub file: PolicyFile,
    pub errors: Vec<Diagnostic>,
}

/// Texts larger than this are parsed in two halves at once when the caller offers parallelism
/// (the result is the same).
const PARALLEL_FROM: usize = 128 * 1024;

/// How the caller lets the parser do two things at once. The core starts no threads of its own:
/// the command line and the language server pass an implementation that runs `first` and
/// `second` on two threads; [`Sequential`] runs one after the other.
pub trait Parallelism: Sync {
    /// Runs both, possibly at the same time, and returns when both have finished.
    fn both(&self, first: &mut (dyn FnMut() + Send), second: &mut (dyn FnMut() + Send));
}

/// One thing at a time.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sequential;

impl Parallelism for Sequential {
    fn both(&self, first: &mut (dyn FnMut() + Send), second: &mut (dyn FnMut() + Send)) {
        first();
        second();
    }
}

/// Parses a policy text on the calling thread. Never fails and never panics: errors are
/// returned beside the tree.
pub fn parse(text: &str) -> Parsed {
    run(text, None, None).0
}

/// [`parse`], with the caller's parallelism for large texts.
///
/// A large text is parsed in two halves at once, split at an item start near the middle. The
/// halves are joined only if the first half's last item ends exactly where the second begins;
/// otherwise (an item that runs across the split) the first half simply carries on, so the tree
/// and the errors are always those of a parse from start to end.
pub fn parse_in(text: &str, parallelism: &dyn Parallelism) -> Parsed {
    let parallel = (text.len() >= PARALLEL_FROM).then_some(parallelism);
    run(text, parallel, None).0
}

/// Whether `text` is a name the grammar accepts (an identifier, not a reserved word).
pub fn is_name(text: &str) -> bool {
    PestParser::parse(Rule::ident, text)
        .ok()
        .and_then(|mut pairs| pairs.next())
        .is_some_and(|pair| pair.as_span().end() == text.len())
}

/// Parses a new version of a text, reusing the items of the last version that did not change
/// (see [`ItemCache`]). Returns the same as [`parse`], and the cache for the next version.
pub fn parse_cached(
    text: &str,
    cache: &ItemCache,
    parallelism: &dyn Parallelism,
) -> (Parsed, ItemCache) {
    let parallel = (text.len() >= PARALLEL_FROM).then_some(parallelism);
    let (parsed, fresh) = run(text, parallel, Some(cache));
    let cache = ItemCache {
        items: fresh.into_iter().collect(),
    };
    (parsed, cache)
}

/// The path a file of tests names in its leading `use "PATH"`, read without parsing the rest of
/// the file (finding the files of tests beside a policy must not parse every large policy in
/// the folder). `None` when the file does not start, after comments, with a `use`.
pub fn leading_use(text: &str) -> Option<String> {
    let start = skip_trivia(text, 0);
    let rest = text.get(start..)?;
    let after_keyword = rest.strip_prefix("use")?;
    if !after_keyword.starts_with([' ', '\t', '\r', '\n', '"', '#']) {
        return None;
    }
    let quote = skip_trivia(text, start + 3);
    let bytes = text.as_bytes();
    if bytes.get(quote) != Some(&b'"') {
        return None;
    }
    // The closing quote, past escaped characters.
    let mut index = quote + 1;
    while index < bytes.len() {
        match bytes[index] {
            b'\\' => index += 2,
            b'"' => break,
            b'\n' => return None,
            _ => index += 1,
        }
    }
    let head = text.get(..=index)?;
    parse(head)
        .file
        .uses
        .into_iter()
        .next()
        .map(|used| used.value)
}

/// [`parse`] that splits the text whatever its size when given parallelism (tests compare the
/// two ways on small texts).
#[doc(hidden)]
pub fn parse_with(text: &str, parallelism: Option<&dyn Parallelism>) -> Parsed {
    run(text, parallelism, None).0
}

type Fresh = Vec<(String, Arc<Fragment>)>;

/// What one thread of the driver builds.
struct Part<'text> {
    lowerer: Lowerer<'text>,
    errors: Vec<Diagnostic>,
    /// The cacheable items seen (reused or parsed), for the next version's cache.
    fresh: Fresh,
}

impl<'text> Part<'text> {
    fn new(text: &'text str) -> Part<'text> {
        Part {
            lowerer: Lowerer::new(text),
            errors: Vec::new(),
            fresh: Vec::new(),
        }
    }
}

fn run(
    text: &str,
    parallelism: Option<&dyn Parallelism>,
    cache: Option<&ItemCache>,
) -> (Parsed, Fresh) {
    let item_starts = item_starts(text);
    let too_deep = too_deep_regions(text, &item_starts);
    let driver = Driver {
        text,
        item_starts: &item_starts,
        too_deep: &too_deep,
        cache,
    };
    let start = skip_trivia(text, 0);
    let split = parallelism.and_then(|parallelism| {
        let split = next_start(&item_starts, text.len() / 2);
        (split > start && split < text.len()).then_some((parallelism, split))
    });
    let part = match split {
        None => {
            let mut part = Part::new(text);
            driver.drive(&mut part, start, text.len());
            part
        }
        Some((parallelism, split)) => {
            let mut head = None;
            let mut tail = None;
            parallelism.both(
                &mut || {
                    let mut part = Part::new(text);
                    let end = driver.drive(&mut part, start, split);
                    head = Some((part, end));
                },
                &mut || {
                    let mut part = Part::new(text);
                    driver.drive(&mut part, split, text.len());
                    tail = Some(part);
                },
            );
            let (mut part, end) = head.unwrap_or_else(|| {
                // The caller's parallelism did not run the first half: parse it here.
                let mut part = Part::new(text);
                let end = driver.drive(&mut part, start, split);
                (part, end)
            });
            match tail {
                Some(tail) if end == split => {
                    part.lowerer.append(tail.lowerer);
                    part.errors.extend(tail.errors);
                    part.fresh.extend(tail.fresh);
                }
                // An item ran across the split (or the second half did not run): finish alone.
                _ => {
                    driver.drive(&mut part, end, text.len());
                }
            }
            part
        }
    };
    let Part {
        lowerer,
        mut errors,
        fresh,
    } = part;
    let (file, lower_errors) = lowerer.finish();
    errors.extend(lower_errors);
    diagnostic::sort(&mut errors);
    (Parsed { file, errors }, fresh)
}

/// The text and what was found about it before parsing; shared by the threads.
struct Driver<'a> {
    text: &'a str,
    item_starts: &'a [usize],
    too_deep: &'a [(usize, usize)],
    cache: Option<&'a ItemCache>,
}

impl Driver<'_> {
    /// Parses items from `offset` until an item ends at or after `stop`; returns where it
    /// stopped (an item start, or the end of the text).
    fn drive(&self, part: &mut Part<'_>, mut offset: usize, stop: usize) -> usize {
        let (text, item_starts) = (self.text, self.item_starts);
        while offset < stop {
            let own_end = next_start(item_starts, offset);
            if let Some((deep_at, region_end)) = self
                .too_deep
                .iter()
                .copied()
                .find(|&(deep_at, _)| deep_at >= offset && own_end > deep_at)
            {
                part.errors.push(nesting_error(text, deep_at));
                // What comes before the deep nesting may be a whole item, with only what
                // follows it broken (`use "policy.route"` above a garbled line): keep it. The
                // text before `deep_at` nests no deeper than the limit, so pest may read it.
                match PestParser::parse(Rule::item_only, &text[offset..deep_at]) {
                    Ok(pairs) => {
                        for pair in pairs {
                            part.lowerer.item(pair, offset);
                        }
                    }
                    Err(_) => record_broken(&mut part.lowerer, text, offset, region_end),
                }
                offset = skip_trivia(text, region_end);
                continue;
            }
            let key = &text[offset..own_end];
            let reusable = self.cache.is_some() && plain_item_start(text, own_end);
            if let Some(fragment) = self
                .cache
                .filter(|_| reusable)
                .and_then(|cache| cache.items.get(key))
            {
                part.lowerer.place(fragment, offset);
                part.fresh.push((key.to_string(), fragment.clone()));
                offset = skip_trivia(text, own_end);
                continue;
            }
            match PestParser::parse(Rule::item_at, &text[offset..]) {
                Ok(pairs) => {
                    let before = Counts::of(part.lowerer.file());
                    let errors_before = part.lowerer.error_count();
                    let mut end = offset;
                    for pair in pairs {
                        end = end.max(offset + pair.as_span().end());
                        part.lowerer.item(pair, offset);
                    }
                    if end == offset {
                        // An empty match cannot happen with this grammar; never loop on it.
                        end = next_start(item_starts, offset);
                    }
                    let next = skip_trivia(text, end);
                    let clean = part.lowerer.error_count() == errors_before
                        && part.lowerer.file().broken.len() == before.broken();
                    if self.cache.is_some() && clean && next == own_end {
                        let fragment = Fragment::capture(part.lowerer.file(), &before, offset);
                        part.fresh.push((key.to_string(), Arc::new(fragment)));
                    }
                    offset = next;
                }
                Err(error) => {
                    let mut diagnostic = syntax_error(text, offset, &error);
                    // An error past the next item start usually means this item lacks its end
                    // and pest read on into the next one: report the error within the item's
                    // own lines.
                    if diagnostic.span.start > own_end
                        && let Err(own_error) =
                            PestParser::parse(Rule::item_at, &text[offset..own_end])
                    {
                        diagnostic = syntax_error(text, offset, &own_error);
                    }
                    let failed_at = diagnostic.span.start.max(offset);
                    let resume =
                        if item_starts.binary_search(&failed_at).is_ok() && failed_at > offset {
                            failed_at
                        } else {
                            next_start(item_starts, failed_at)
                        };
                    part.errors.push(diagnostic);
                    // The item may be whole with only what follows it wrong (`-> queue q
                    // within` with no duration): keep the item, so that its names and uses
                    // still count.
                    match PestParser::parse(Rule::item_only, &text[offset..resume]) {
                        Ok(pairs) => {
                            for pair in pairs {
                                part.lowerer.item(pair, offset);
                            }
                        }
                        Err(_) => record_broken(&mut part.lowerer, text, offset, resume),
                    }
                    offset = skip_trivia(text, resume);
                }
            }
        }
        offset
    }
}

/// Whether the item start at `offset` (or the end of the text) is one the grammar sees too: the
/// line scan takes a word as Unicode letters and digits, the grammar's keywords end where an
/// identifier character would not continue them (`queue·x` is no keyword to pest). After an
/// ASCII keyword followed by an ASCII character, the two always agree, so a cached item whose
/// parse ended there ends there again.
fn plain_item_start(text: &str, offset: usize) -> bool {
    let rest = text.get(offset..).unwrap_or("");
    let word = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    rest[word..].chars().next().is_none_or(|c| c.is_ascii())
}

/// Notes a broken item and the name it declares, if that much can be read.
fn record_broken(lowerer: &mut Lowerer<'_>, text: &str, start: usize, end: usize) {
    let chunk = &text[start..end];
    let first_word: String = chunk
        .chars()
        .take_while(|ch| ch.is_alphanumeric() || *ch == '_')
        .collect();
    let kind = match first_word.as_str() {
        "schema" => ItemKind::Schema,
        "calendar" => ItemKind::Calendar,
        "pool" => ItemKind::Pool,
        "rep" => ItemKind::Rep,
        "score" => ItemKind::Score,
        "queue" => ItemKind::Queue,
        "rule" | "when" | "otherwise" => ItemKind::Rule,
        _ => ItemKind::Other,
    };
    let name = PestParser::parse(Rule::item_header, chunk)
        .ok()
        .and_then(|mut pairs| pairs.next())
        .and_then(|header| {
            header
                .into_inner()
                .find(|pair| pair.as_rule() == Rule::ident)
        })
        .map(|ident| Ident {
            name: ident.as_str().to_string(),
            span: Span::new(
                start + ident.as_span().start(),
                start + ident.as_span().end(),
            ),
        });
    lowerer.broken(BrokenItem {
        kind,
        name,
        span: Span::new(start, end.max(start)),
    });
}

/// The first item start strictly after `offset`, or the end of the text.
fn next_start(item_starts: &[usize], offset: usize) -> usize {
    let index = item_starts.partition_point(|&start| start <= offset);
    // The last entry is always the end of the text.
    item_starts.get(index).copied().unwrap_or(offset)
}

/// The words that begin an item (at the start of a line, not followed by `:`).
pub const ITEM_KEYWORDS: [&str; 9] = [
    "schema",
    "calendar",
    "pool",
    "queue",
    "rule",
    "when",
    "otherwise",
    "test",
    "use",
];

/// Offsets of every line whose first word is an item keyword not followed by `:` (which would
/// make it a schema field), then the end of the text. These are the places where the driver may
/// resume after an error. A `when` right after a `rule NAME:` line continues that rule.
fn item_starts(text: &str) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut line_start = 0;
    let mut after_rule_header = false;
    for line in text.split_inclusive('\n') {
        let code = line.split('#').next().unwrap_or("").trim();
        let trimmed = line.trim_start_matches([' ', '\t', '\r', '\u{feff}']);
        let indent = line.len() - trimmed.len();
        let word_len = trimmed
            .find(|ch: char| !(ch.is_alphanumeric() || ch == '_'))
            .unwrap_or(trimmed.len());
        let word = &trimmed[..word_len];
        let after = trimmed[word_len..].trim_start_matches([' ', '\t']);
        let continues_rule = word == "when" && after_rule_header;
        let item_word = ITEM_KEYWORDS.contains(&word)
            || (matches!(word, "rep" | "score") && opens_named_block(after))
            || (word == "tags" && after.starts_with('{'));
        if item_word && !after.starts_with(':') && !continues_rule {
            starts.push(line_start + indent);
        }
        if !code.is_empty() {
            after_rule_header = code.ends_with(':');
        }
        line_start += line.len();
    }
    starts.push(text.len());
    starts
}

/// Whether the text after a line's leading `rep` or `score` is `NAME {`: a `rep` or `score` item,
/// where a line that starts `rep NAME` alone continues an action (`else` at the end of the line
/// before), and `score` alone is a field or a word of an expectation.
fn opens_named_block(after: &str) -> bool {
    let name_len = after
        .find(|ch: char| !(ch.is_alphanumeric() || ch == '_'))
        .unwrap_or(after.len());
    name_len > 0
        && after[name_len..]
            .trim_start_matches([' ', '\t'])
            .starts_with('{')
}

/// Finds conditions nested deeper than [`MAX_NESTING`] (parentheses or `not`), which pest would
/// recurse into. Returns each offending offset with the end of the item region that holds it.
fn too_deep_regions(text: &str, item_starts: &[usize]) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut regions = Vec::new();
    let mut depth = 0usize;
    let mut nots = 0usize;
    let mut index = 0;
    let mut next_region_start = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'#' => {
                while index < bytes.len() && bytes[index] != b'\n' {
                    index += 1;
                }
                continue;
            }
            b'"' => {
                index += 1;
                while index < bytes.len() && bytes[index] != b'"' && bytes[index] != b'\n' {
                    if bytes[index] == b'\\' {
                        index += 1;
                    }
                    index += 1;
                }
                nots = 0;
                index += 1;
                continue;
            }
            b'(' => depth += 1,
            b')' => depth = depth.saturating_sub(1),
            b'n' if text[index..].starts_with("not")
                && !text[..index].ends_with(|ch: char| ch.is_alphanumeric() || ch == '_')
                && !text[index + 3..].starts_with(|ch: char| ch.is_alphanumeric() || ch == '_') =>
            {
                nots += 1;
                index += 3;
                if depth + nots > MAX_NESTING && index > next_region_start {
                    let end = next_start(item_starts, index);
                    regions.push((index - 3, end));
                    next_region_start = end;
                }
                continue;
            }
            b' ' | b'\t' | b'\r' | b'\n' => {}
            _ => nots = 0,
        }
        if bytes[index] == b'(' && depth + nots > MAX_NESTING && index >= next_region_start {
            let end = next_start(item_starts, index);
            regions.push((index, end));
            next_region_start = end;
        }
        if item_starts.binary_search(&index).is_ok() {
            depth = 0;
            nots = 0;
        }
        index += 1;
    }
    regions
}

/// Skips whitespace and comments from `offset`.
fn skip_trivia(text: &str, offset: usize) -> usize {
    let bytes = text.as_bytes();
    let mut index = offset.min(text.len());
    loop {
        while index < bytes.len() && matches!(bytes[index], b' ' | b'\t' | b'\r' | b'\n') {
            index += 1;
        }
        if text[index..].starts_with('\u{feff}') {
            index += '\u{feff}'.len_utf8();
            continue;
        }
        if index < bytes.len() && bytes[index] == b'#' {
            while index < bytes.len() && bytes[index] != b'\n' {
                index += 1;
            }
            continue;
        }
        return index;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_item_before_a_too_deep_nesting_in_its_region_is_kept() {
        let text = format!(
            "use \"routing.route\"\n|garbled {} line\n",
            "(".repeat(MAX_NESTING + 10)
        );
        let parsed = parse(&text);
        assert_eq!(parsed.file.uses.len(), 1);
        assert_eq!(leading_use(&text).as_deref(), Some("routing.route"));
        assert!(
            parsed
                .errors
                .iter()
                .any(|e| e.code == crate::diagnostic::Code::NestingTooDeep)
        );
        // A rule whose own condition is too deep is still one broken item.
        let text = format!("rule r: when {}x = 1\n", "(".repeat(MAX_NESTING + 10));
        let parsed = parse(&text);
        assert!(parsed.file.rules.is_empty());
        assert_eq!(parsed.file.broken.len(), 1);
    }

    #[test]
    fn the_leading_use_is_read_without_the_rest() {
        assert_eq!(
            leading_use("use \"a.route\"\ntest \"t\" {"),
            Some("a.route".into())
        );
        assert_eq!(
            leading_use("# tests\n\n  use  # the policy\n \"dir/a b.route\" junk"),
            Some("dir/a b.route".into())
        );
        assert_eq!(
            leading_use("use \"a\\\"b.route\""),
            Some("a\"b.route".into())
        );
        assert_eq!(
            leading_use("schema lead { id: string }\nuse \"a.route\""),
            None
        );
        assert_eq!(leading_use("user"), None);
        assert_eq!(leading_use("use"), None);
        assert_eq!(leading_use("use \"unclosed"), None);
        assert_eq!(leading_use("use \"line\nbreak\""), None);
        assert_eq!(leading_use(""), None);
    }

    #[test]
    fn item_starts_skip_schema_fields_named_like_keywords() {
        let text = "schema lead {\n  pool: string\n}\npool p { members a }\n";
        let starts = item_starts(text);
        assert_eq!(
            starts,
            vec![0, text.find("pool p").unwrap_or_default(), text.len()]
        );
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = "(".repeat(10_000);
        let text = format!("when {deep}intent = high -> queue q\nqueue q\n");
        let parsed = parse(&text);
        assert!(
            parsed
                .errors
                .iter()
                .any(|error| error.code == crate::diagnostic::Code::NestingTooDeep)
        );
        assert_eq!(parsed.file.queues.len(), 1);
    }
}
