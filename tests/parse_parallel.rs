//! Large policies are parsed in two halves at once (with the parallelism the caller gives the
//! parser); the tree and the errors must be exactly those of a parse from start to end, whatever
//! sits at the split, and whichever half finishes first.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../bench/generator.rs"]
#[allow(dead_code)]
mod generator;

use switchboard::syntax::{Parallelism, Sequential, parse_with};

/// Two threads, as the command line and the language server give them.
struct Threads;

impl Parallelism for Threads {
    fn both(&self, first: &mut (dyn FnMut() + Send), second: &mut (dyn FnMut() + Send)) {
        std::thread::scope(|scope| {
            let helper = scope.spawn(second);
            first();
            helper.join().unwrap();
        });
    }
}

/// The second half first, then the first.
struct Backwards;

impl Parallelism for Backwards {
    fn both(&self, first: &mut (dyn FnMut() + Send), second: &mut (dyn FnMut() + Send)) {
        second();
        first();
    }
}

fn same_both_ways(text: &str) {
    let one = parse_with(text, None);
    for parallelism in [&Threads as &dyn Parallelism, &Backwards, &Sequential] {
        let two = parse_with(text, Some(parallelism));
        assert_eq!(one.file, two.file);
        assert_eq!(one.errors, two.errors);
    }
}

/// The offset of the item start nearest the middle (where the parallel parse splits).
fn middle_item(text: &str) -> usize {
    let half = text.len() / 2;
    half + text[half..]
        .find("\nrule ")
        .expect("a rule after the middle")
        + 1
}

#[test]
fn a_clean_large_policy_parses_the_same_in_two_halves() {
    let text = generator::policy(2_000);
    same_both_ways(&text);
    let parsed = parse_with(&text, Some(&Threads));
    assert!(parsed.errors.is_empty());
    // Rule positions continue across the split.
    let positions: Vec<usize> = parsed.file.rules.iter().map(|r| r.position).collect();
    assert_eq!(positions, (1..=positions.len()).collect::<Vec<_>>());
}

#[test]
fn broken_items_and_items_across_the_split_parse_the_same() {
    let base = generator::policy(2_000);
    let at = middle_item(&base);
    let cases = [
        // A broken rule just before the split, at the split, and just after it.
        format!("{}rule broken: when -> pool\n{}", &base[..at], &base[at..]),
        format!(
            "{}when intent = = high -> queue nope\n{}",
            &base[..at],
            &base[at..]
        ),
        // A test whose body has a line starting with an item keyword (not an item start).
        format!(
            "{}test \"spans\" {{\n  lead {{ id: \"x\" }}\n  expect\npool senior\n}}\n{}",
            &base[..at],
            &base[at..]
        ),
        // An unclosed brace that swallows the split.
        format!("{}pool open {{ members a, b\n{}", &base[..at], &base[at..]),
        // A rule header whose `when` is on the next line, split between them.
        format!(
            "{}rule late_header:\nwhen intent = high -> queue q\n{}",
            &base[..at],
            &base[at..]
        ),
    ];
    for case in &cases {
        same_both_ways(case);
    }
    // Every split point in a band around the middle.
    let small = generator::policy(60);
    for cut in (small.len() / 2 - 400..small.len() / 2 + 400).step_by(37) {
        let mut text = small.clone();
        if text.is_char_boundary(cut) {
            text.insert_str(cut, "\nwhen ( -> \n");
            same_both_ways(&text);
        }
    }
}

/// A small deterministic generator of edits (no dependency, same edits every run).
struct Edits(u64);

impl Edits {
    fn next(&mut self, below: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % below.max(1)
    }

    /// One edit of the kind a person makes: type or delete a character, paste or cut a line,
    /// break or duplicate an item.
    fn apply(&mut self, text: &mut String) {
        let mut at = self.next(text.len() + 1);
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        const PIECES: [&str; 16] = [
            "x",
            " ",
            "\n",
            "#",
            "}",
            "{",
            "->",
            "\nwhen intent = high -> queue q\n",
            "\npool p { members a }\n",
            "\"",
            "\ncalendar berlin\n",
            "\nrule r:\n",
            "when ",
            "\ntest \"t\" { lead { id: \"1\" } expect\n",
            "pool ",
            " else queue q",
        ];
        match self.next(4) {
            0 | 1 => {
                let piece = PIECES[self.next(PIECES.len())];
                text.insert_str(at, piece);
            }
            2 => {
                let mut end = (at + 1 + self.next(40)).min(text.len());
                while !text.is_char_boundary(end) {
                    end += 1;
                }
                text.replace_range(at..end, "");
            }
            _ => {
                // Duplicate the line holding `at` (an identical item elsewhere).
                let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
                let end = text[at..].find('\n').map_or(text.len(), |i| at + i + 1);
                let line = text[start..end].to_string();
                text.insert_str(start, &line);
            }
        }
    }
}

fn reuse_matches_a_fresh_parse(start: &str, seed: u64, steps: usize, parallel: bool) {
    let mut edits = Edits(seed);
    let mut text = start.to_string();
    let (first, mut cache) =
        switchboard::syntax::parse_cached(&text, &Default::default(), &Threads);
    let fresh = parse_with(&text, parallel.then_some(&Threads as &dyn Parallelism));
    assert_eq!(first.file, fresh.file);
    assert_eq!(first.errors, fresh.errors);
    for step in 0..steps {
        edits.apply(&mut text);
        let (reused, next) = switchboard::syntax::parse_cached(&text, &cache, &Threads);
        let fresh = parse_with(&text, None);
        assert_eq!(
            reused.file, fresh.file,
            "tree differs after edit {step} (seed {seed}):\n{text}"
        );
        assert_eq!(
            reused.errors, fresh.errors,
            "errors differ after edit {step} (seed {seed})"
        );
        cache = next;
    }
}

#[test]
fn reusing_unchanged_items_gives_the_tree_and_errors_of_a_fresh_parse() {
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/routing.route"
    ))
    .unwrap();
    let tests = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/routing.test.route"
    ))
    .unwrap();
    for seed in 0..10 {
        reuse_matches_a_fresh_parse(&example, seed, 80, false);
        reuse_matches_a_fresh_parse(&tests, seed + 100, 60, false);
    }
    reuse_matches_a_fresh_parse(&generator::policy(40), 7, 80, false);
}

#[test]
fn reuse_on_a_large_policy_parsed_in_two_halves() {
    let text = generator::policy(2_000);
    let (first, cache) = switchboard::syntax::parse_cached(&text, &Default::default(), &Threads);
    assert!(
        cache.len() > 2_000,
        "every clean item is cached: {}",
        cache.len()
    );
    // A one-character edit in the middle: the result is the same as parsing from scratch.
    let mut edited = text.clone();
    let middle = edited.len() / 2;
    let at = middle + edited[middle..].find("5000").unwrap();
    edited.replace_range(at..at + 1, "6");
    let (reused, _) = switchboard::syntax::parse_cached(&edited, &cache, &Threads);
    let fresh = parse_with(&edited, None);
    assert_eq!(reused.file, fresh.file);
    assert_eq!(reused.errors, fresh.errors);
    assert_ne!(reused.file, first.file);
}

#[test]
fn reuse_agrees_where_the_line_scan_and_the_grammar_read_a_keyword_differently() {
    // `queue·x`: the line scan sees the keyword `queue`; the grammar does not (`·` continues an
    // identifier), so the item before it must not be reused as if it ended there.
    let schema = "schema lead { id: string }\nqueue a\nwhen id = \"1\" -> queue a\n";
    let (_, cache) = switchboard::syntax::parse_cached(schema, &Default::default(), &Threads);
    for next in ["queue·x\n", "queue\u{0301}x\n", "queue x\n", "queue‿x"] {
        let edited = format!("{schema}{next}");
        let (reused, _) = switchboard::syntax::parse_cached(&edited, &cache, &Threads);
        let fresh = parse_with(&edited, None);
        assert_eq!(reused.file, fresh.file, "{next:?}");
        assert_eq!(reused.errors, fresh.errors, "{next:?}");
    }
}

#[test]
fn names_are_what_the_grammar_accepts() {
    use switchboard::syntax::is_name;
    // `·` continues an identifier (XID_Continue) though it is no letter; `Ⓐ` starts none.
    for good in ["senior", "ops_review", "жé", "_x", "pool", "a·b"] {
        assert!(is_name(good), "{good}");
    }
    for bad in ["", "when", "and", "1x", "a b", "Ⓐx", "x-y"] {
        assert!(!is_name(bad), "{bad}");
    }
}

/// Found by the reparse fuzzer: a byte-order mark between `rule` and `:` in a broken item
/// made the cached parse of the very same text differ from a fresh one.
#[test]
fn a_text_reparsed_with_its_own_cache_parses_the_same_with_a_bom_in_a_broken_rule() {
    let text = "queue review\nqueue review\nrule \u{feff}:";
    let (_, cache) = switchboard::syntax::parse_cached(
        text,
        &Default::default(),
        &switchboard::syntax::Sequential,
    );
    let (reused, _) =
        switchboard::syntax::parse_cached(text, &cache, &switchboard::syntax::Sequential);
    let fresh = switchboard::syntax::parse(text);
    assert_eq!(reused.errors, fresh.errors);
    assert_eq!(reused.file, fresh.file);
}
