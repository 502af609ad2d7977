//! Large policies are parsed in two halves on two threads; the tree and the errors must be
//! exactly those of a parse from start to end, whatever sits at the split.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../bench/generator.rs"]
#[allow(dead_code)]
mod generator;

use switchboard::syntax::parse_with;

fn same_both_ways(text: &str) {
    let one = parse_with(text, false);
    let two = parse_with(text, true);
    assert_eq!(one.file, two.file);
    assert_eq!(one.errors, two.errors);
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
    let parsed = parse_with(&text, true);
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
