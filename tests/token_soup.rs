//! No input makes the parser or the checker panic: random soups of the language's own tokens
//! (which reach far deeper into the grammar than random bytes), and random text.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may fail loudly

use proptest::prelude::*;

const TOKENS: &[&str] = &[
    "schema",
    "lead",
    "{",
    "}",
    "id",
    ":",
    "string",
    "int",
    "number",
    "time",
    "bool",
    "enum",
    "intent",
    "low",
    "high",
    ",",
    "?",
    "calendar",
    "berlin",
    "timezone",
    "Europe/Berlin",
    "hours",
    "mon-fri",
    "09:00-18:00",
    "holidays",
    "2026-12-24",
    "pool",
    "senior",
    "members",
    "anna",
    "strategy",
    "round_robin",
    "weighted",
    "(",
    ")",
    "anna=2",
    "=",
    "cap",
    "25",
    "0",
    "queue",
    "review",
    "rule",
    "hot",
    "when",
    "and",
    "or",
    "not",
    "in",
    "is",
    "set",
    "inside",
    "outside",
    "->",
    "else",
    "rep",
    "owner",
    "of",
    "within",
    "15m",
    "2",
    "business",
    "days",
    "escalate",
    "after",
    "otherwise",
    "test",
    "\"t\"",
    "expect",
    "unassigned",
    "<",
    "<=",
    ">",
    ">=",
    "!=",
    "1_000",
    "-3.5",
    "2026-11-23T10:00:00Z",
    "null",
    "true",
    "#",
    "\n",
    " ",
    "\t",
    "\"",
    "é",
    "😀",
    "\u{feff}",
];

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..120).prop_map(|tokens| {
        let mut text = String::new();
        for token in tokens {
            text.push_str(token);
            text.push(' ');
        }
        text
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn token_soup_never_panics(text in soup()) {
        let report = switchboard::check_source(&text);
        for diagnostic in &report.diagnostics {
            prop_assert!(diagnostic.span.start <= diagnostic.span.end);
            prop_assert!(diagnostic.span.end <= text.len());
            prop_assert!(text.is_char_boundary(diagnostic.span.start));
            prop_assert!(text.is_char_boundary(diagnostic.span.end));
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,400}") {
        let _ = switchboard::check_source(&text);
    }
}

#[test]
fn deep_nesting_is_reported_not_crashed() {
    for opener in ["(", "not ", "not ("] {
        let text = format!(
            "schema lead {{ id: string  intent: enum {{ low, high }} }}\nqueue q\nwhen {}intent = high -> queue q\notherwise -> queue q\n",
            opener.repeat(100_000)
        );
        let report = switchboard::check_source(&text);
        assert!(
            report
                .diagnostics
                .iter()
                .any(|d| d.code.as_str() == "nesting-too-deep"),
            "{opener}"
        );
    }
}

#[test]
fn huge_flat_inputs_are_fine() {
    let values: Vec<String> = (0..50_000).map(|i| format!("\"c{i}\"")).collect();
    let text = format!(
        "schema lead {{ id: string  country: string }}\nqueue q\nwhen country in {{{}}} -> queue q\notherwise -> queue q\n",
        values.join(", ")
    );
    let report = switchboard::check_source(&text);
    assert_eq!(report.error_count(), 0);
}
