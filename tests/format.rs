//! The formatter: idempotent, comment-preserving, meaning-preserving, on every policy in the
//! repository's fixtures and examples, and on random policies.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may fail loudly

use std::path::{Path, PathBuf};

fn policies() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in [
        "examples",
        "tests/fixtures/check/ok",
        "tests/fixtures/check/analysis",
    ] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|ext| ext == "route") {
                files.push(path);
            }
        }
    }
    for entry in std::fs::read_dir(root.join("tests/fixtures/route")).unwrap() {
        files.push(entry.unwrap().path().join("policy.route"));
    }
    files.sort();
    files
}

/// What a policy means: its declarations and its rules' resolved conditions and actions.
fn meaning(text: &str) -> String {
    let report = switchboard::check_source(text);
    match report.compiled {
        Some((policy, _)) => {
            let rules: Vec<String> = policy
                .rules
                .iter()
                .map(|rule| {
                    format!(
                        "{} {:?} {:?} {:?} {:?}",
                        rule.label,
                        rule.cond,
                        rule.syntax
                            .actions
                            .iter()
                            .map(|a| format!("{:?}", a.kind)
                                .replace(|c: char| c.is_ascii_digit(), ""))
                            .collect::<Vec<_>>(),
                        rule.syntax.within.map(|w| w.kind),
                        rule.syntax
                            .escalations
                            .iter()
                            .map(|e| (e.target.name.clone(), e.after.map(|a| a.kind)))
                            .collect::<Vec<_>>(),
                    ) + &format!(" tags {:?}", rule.tags)
                })
                .collect();
            let scores: Vec<String> = policy
                .scores
                .iter()
                .map(|score| {
                    let lines: Vec<String> = score
                        .lines
                        .iter()
                        .map(|line| format!("{} {:?}", line.points, line.cond))
                        .collect();
                    format!("{}: {}", score.name, lines.join("; "))
                })
                .collect();
            format!(
                "{:?}\n{:?}\n{:?}\n{:?}\n{}\n{}",
                policy.fields,
                policy.pools,
                policy.queues,
                policy.tags,
                scores.join("\n"),
                rules.join("\n")
            )
        }
        None => format!(
            "{:?}",
            report
                .diagnostics
                .iter()
                .map(|d| d.code)
                .collect::<Vec<_>>()
        ),
    }
}

fn comments(text: &str) -> Vec<String> {
    let mut found: Vec<String> = text
        .lines()
        .filter_map(|line| {
            switchboard::syntax::comment_start(line)
                .map(|index| line[index..].trim_end().to_string())
        })
        .collect();
    found.sort();
    found
}

#[test]
fn formatting_is_idempotent_and_keeps_meaning_and_comments() {
    for path in policies() {
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.display().to_string();
        let once = switchboard::format::format(&text)
            .unwrap_or_else(|errors| panic!("{name}: {errors:?}"));
        let twice = switchboard::format::format(&once).unwrap();
        assert_eq!(once, twice, "{name}: not idempotent");
        assert_eq!(
            meaning(&text),
            meaning(&once),
            "{name}: meaning changed:\n{once}"
        );
        assert_eq!(
            comments(&text),
            comments(&once),
            "{name}: comments changed:\n{once}"
        );
        let tests_before = switchboard::syntax::parse(&text).file.tests.len();
        assert_eq!(
            tests_before,
            switchboard::syntax::parse(&once).file.tests.len()
        );
    }
}

/// Each fixture's formatted text, reviewed.
#[test]
fn formatted_fixtures_match_their_snapshots() {
    insta::glob!("fixtures/check/{ok,analysis}/*.route", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        insta::assert_snapshot!(switchboard::format::format(&text).unwrap());
    });
}

#[test]
fn comments_after_the_last_item_keep_their_blank_line_and_add_none() {
    let format = |text: &str| switchboard::format::format(text).unwrap();
    // Found by the format fuzzer: the newline ending the comment was taken for a blank line.
    let close = "queue q\nrule r: when x = 1 -> queue q\n# the end\n";
    assert_eq!(format(close), close);
    assert_eq!(
        format("queue q\nrule r: when x = 1 -> queue q\n# the end"),
        close
    );
    let apart = "queue q\n\n# the end\n";
    assert_eq!(format(apart), apart);
}

#[test]
fn a_byte_order_mark_inside_the_text_is_whitespace_to_the_formatter_too() {
    // Found by the format fuzzer: a BOM after a field's type put a byte offset inside it.
    let text = "schema lead {\n  id: string\n  created_at: time\u{feff}\n}\nqueue q\n";
    let once = switchboard::format::format(text).unwrap();
    assert_eq!(switchboard::format::format(&once).unwrap(), once);
    assert!(once.contains("created_at: time"), "{once}");
}

#[test]
fn a_file_with_syntax_errors_is_not_formatted() {
    let errors = switchboard::format::format("schema lead { id: string }\nwhen x = -> queue q\n")
        .unwrap_err();
    assert!(errors.iter().any(|d| d.code.as_str() == "syntax"));
}

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Spaces and tabs between tokens do not change the formatted text.
    #[test]
    fn spacing_does_not_change_the_layout(seed in prop::collection::vec(0u8..4, 64)) {
        for path in policies() {
            let text = std::fs::read_to_string(&path).unwrap();
            let expected = switchboard::format::format(&text).unwrap();
            // Widen runs of spaces outside comments and strings.
            let mut perturbed = String::new();
            let mut counter = 0usize;
            for line in text.split_inclusive('\n') {
                let mut in_string = false;
                let mut in_comment = false;
                let mut previous = ' ';
                for ch in line.chars() {
                    if ch == '"' && previous != '\\' && !in_comment {
                        in_string = !in_string;
                    }
                    if ch == '#' && !in_string {
                        in_comment = true;
                    }
                    perturbed.push(ch);
                    if ch == ' ' && !in_string && !in_comment {
                        let extra = seed[counter % seed.len()];
                        counter += 1;
                        for _ in 0..extra {
                            perturbed.push(if extra == 3 { '\t' } else { ' ' });
                        }
                    }
                    previous = ch;
                }
            }
            let reformatted = switchboard::format::format(&perturbed).unwrap();
            prop_assert_eq!(&reformatted, &expected, "{}", path.display());
        }
    }
}

/// A random condition over the schema of `random_policy`.
fn condition() -> impl Strategy<Value = String> {
    let atom = prop_oneof![
        prop::sample::select(vec!["low", "medium", "high"]).prop_map(|v| format!("intent = {v}")),
        prop::sample::select(vec!["<", "<=", ">", ">=", "=", "!="]).prop_flat_map(|op| {
            prop::sample::select(vec!["0", "10_000", "50000", "2.5"])
                .prop_map(move |v| format!("deal_value {op} {v}"))
        }),
        Just("country in {\"DE\", \"AT\"}".to_string()),
        Just("country not in {\"FR\"}".to_string()),
        Just("industry is set".to_string()),
        Just("industry is not set".to_string()),
        Just("inside office".to_string()),
        Just("outside office".to_string()),
    ];
    atom.prop_recursive(3, 10, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..=3)
                .prop_map(|parts| format!("({})", parts.join(" and "))),
            prop::collection::vec(inner.clone(), 2..=3).prop_map(|parts| parts.join(" or ")),
            inner.prop_map(|part| format!("not ({part})")),
        ]
    })
}

/// A random policy over a fixed schema, laid out at random: spaces, newlines and comments.
fn random_policy() -> impl Strategy<Value = String> {
    (
        prop::collection::vec((condition(), any::<bool>(), 0u8..6, any::<bool>()), 1..6),
        prop::collection::vec(0u8..5, 40),
        prop::collection::vec((-20i64..=20, condition()), 1..4),
    )
        .prop_map(|(rules, spacing, score_lines)| {
            let mut counter = 0;
            let mut gap = || {
                counter += 1;
                match spacing[counter % spacing.len()] {
                    0 => " ",
                    1 => "  ",
                    2 => "\n  ",
                    3 => "\t",
                    _ => " ",
                }
            };
            let mut text = String::from(
                "# random policy\nschema lead { id: string  intent: enum { low, medium, high }  deal_value: number\n  country: string  industry: string?  created_at: time }\n",
            );
            text.push_str("calendar office { timezone Europe/Berlin  hours mon-fri 09:00-18:00 }\n");
            text.push_str(&format!("pool desk {{{}members anna, boris{}strategy round_robin }}\nqueue review\n", gap(), gap()));
            text.push_str(&format!("tags {{{}call,{}sms }}\nscore fit {{", gap(), gap()));
            for (points, condition) in &score_lines {
                text.push_str(&format!("{}{points:+}{}when {condition}", gap(), gap()));
            }
            text.push_str("\n}\n");
            for (index, (condition, named, clause, commented)) in rules.iter().enumerate() {
                if *named {
                    text.push_str(&format!("rule r{index}:{}", gap()));
                }
                let condition = if index % 3 == 1 {
                    format!("fit >= 5 and ({condition})")
                } else {
                    condition.clone()
                };
                text.push_str(&format!("when{}{condition}{}->{}", gap(), gap(), gap()));
                text.push_str(if index % 2 == 0 { "pool desk else queue review" } else { "queue review" });
                match clause {
                    0 => text.push_str(&format!("{}within 15m", gap())),
                    1 => text.push_str(&format!("{}within 1h{}escalate review after 2h", gap(), gap())),
                    2 => text.push_str(&format!("{}tag sms,{}call", gap(), gap())),
                    _ => {}
                }
                if *commented {
                    text.push_str(&format!("  # rule {index}"));
                }
                text.push('\n');
            }
            text.push_str("otherwise -> queue review\n");
            text
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// On random policies: formatting parses, is idempotent, keeps every comment and the meaning.
    #[test]
    fn random_policies_format_safely(text in random_policy()) {
        let once = switchboard::format::format(&text).map_err(|errors| TestCaseError::fail(format!("{errors:?}\n{text}")))?;
        let twice = switchboard::format::format(&once).unwrap();
        prop_assert_eq!(&once, &twice, "not idempotent:\n{}", text);
        prop_assert_eq!(meaning(&text), meaning(&once), "meaning changed:\n{}\n---\n{}", text, once);
        prop_assert_eq!(comments(&text), comments(&once), "comments changed:\n{}\n---\n{}", text, once);
    }
}

#[test]
fn a_comment_on_the_last_line_inside_braces_never_swallows_the_brace() {
    // Found by a new-user try-out: `rep a {\n  cap 20  # agreed\n}` was written on one line
    // with the comment before the `}`, which the comment then hid.
    for text in [
        "schema lead {\n  id: string\n}\npool p {\n  members a, b\n  strategy round_robin  # rr\n}\nqueue q\notherwise -> pool p\n",
        "schema lead {\n  id: string\n}\npool p { members a }\nrep a {\n  cap 20  # agreed\n}\nqueue q\notherwise -> pool p\n",
    ] {
        let once = switchboard::format::format(text).unwrap();
        assert_eq!(once, text, "kept as written, indented by its braces");
        assert!(
            switchboard::check_source(&once).diagnostics.is_empty(),
            "{once}"
        );
    }
}

#[test]
fn braced_items_with_comments_are_indented_by_their_braces() {
    let text = "schema lead { id: string }\npool p {\n      members a, b  # the team\n    strategy round_robin\n        }\nqueue q\notherwise -> pool p\n";
    assert_eq!(
        switchboard::format::format(text).unwrap(),
        "schema lead {\n  id: string\n}\npool p {\n  members a, b  # the team\n  strategy round_robin\n}\nqueue q\notherwise -> pool p\n"
    );
}

/// A list that goes on past a comma in a braced item kept as written (a comment inside it)
/// goes on two spaces further in than the clause it belongs to, not as a clause of its own;
/// a comment between its lines, too. Formatting it again changes nothing.
#[test]
fn a_list_continued_on_the_next_line_stays_indented_in_a_kept_block() {
    let text = "schema lead { id: string }\npool senior {\n  # the seniors\n  members anna, boris,\nchen,\n      # new in December\n  dmitri\n  strategy round_robin\n}\nqueue q\notherwise -> pool senior\n";
    let formatted = switchboard::format::format(text).unwrap();
    assert_eq!(
        formatted,
        "schema lead {\n  id: string\n}\npool senior {\n  # the seniors\n  members anna, boris,\n    chen,\n    # new in December\n    dmitri\n  strategy round_robin\n}\nqueue q\notherwise -> pool senior\n"
    );
    assert_eq!(switchboard::format::format(&formatted).unwrap(), formatted);
}

#[test]
fn an_inline_roster_keeps_its_strings_as_written() {
    let text = "schema lead {\n  id: string\n  account: string?\n}\npool p { members anna }\notherwise -> pool p\n\ntest \"t\" {\n  roster {account   \"Acme  Corp\"  owner anna}\n  lead { id: \"1\" }\n  expect pool p\n}\n";
    let formatted = switchboard::format::format(text).unwrap();
    assert!(
        formatted.contains("roster { account \"Acme  Corp\" owner anna }"),
        "{formatted}"
    );
}

/// Formats `text`, which must be formatted once and for all, keep its meaning and each of its
/// comments exactly once.
fn formatted_safely(text: &str) -> String {
    let once = switchboard::format::format(text).unwrap_or_else(|errors| {
        panic!("not formatted: {errors:?}\n{text}");
    });
    assert_eq!(
        switchboard::format::format(&once).unwrap(),
        once,
        "not idempotent:\n{text}"
    );
    assert_eq!(
        meaning(text),
        meaning(&once),
        "meaning changed:\n{text}\n---\n{once}"
    );
    assert_eq!(
        comments(text),
        comments(&once),
        "comments changed:\n{text}\n---\n{once}"
    );
    once
}

#[test]
fn comments_stay_with_the_part_they_follow_never_lost_or_copied() {
    // Found by a QA pass: an own-line comment between `queue` and its name was dropped.
    let queue = formatted_safely(
        "schema lead { id: string }\nqueue\n# own-line note\nnurture\notherwise -> queue nurture\n",
    );
    assert!(queue.contains("# own-line note"), "{queue}");
    // The comment after a schema's `{` when its name's line has one too was dropped.
    let schema =
        formatted_safely("schema lead # a\n{ # b\n  id: string }\notherwise -> queue q\nqueue q\n");
    assert!(schema.contains("# a") && schema.contains("# b"), "{schema}");
    // Items sharing a line: the comment is the last one's, not moved to the first.
    assert_eq!(
        formatted_safely(
            "schema lead { id: string }\nqueue a queue b # about b\notherwise -> queue a\n"
        ),
        "schema lead {\n  id: string\n}\nqueue a\nqueue b  # about b\notherwise -> queue a\n"
    );
    assert_eq!(
        formatted_safely(
            "schema lead { id: string }\npool p { members x } pool p2 { members y } # about p2\n\
             queue a\nrule r1: when id = \"1\" -> queue a rule r2: when id = \"2\" -> queue a # about r2\n\
             otherwise -> queue a\n"
        ),
        "schema lead {\n  id: string\n}\npool p  { members x }\npool p2 { members y }  # about p2\n\
         queue a\nrule r1: when id = \"1\" -> queue a\nrule r2: when id = \"2\" -> queue a  # about r2\n\
         otherwise -> queue a\n"
    );
    // A field's comment stays with the field, not the schema's first line.
    let fields = formatted_safely(
        "schema lead { id: string  a: int  b: int # about b\n c: int }\nqueue q\notherwise -> queue q\n",
    );
    assert!(fields.contains("b:  int  # about b"), "{fields}");
    assert!(fields.starts_with("schema lead {\n"), "{fields}");
    // A comment inside the second item of a line is written once, with that item.
    for text in [
        "schema lead { id: string }\npool a { members x }   pool b # about b\n{ members z }\notherwise -> pool a\n",
        "schema lead { id: string }\npool a { members x, y }   pool b { # cz4\nmembers z }\notherwise -> pool a\n",
        "schema lead { id: string }\ncalendar berlin { timezone Europe/Berlin }  calendar ny { timezone America/New_York hours # cz1\nmon-fri 09:00-18:00 }\nqueue q\notherwise -> queue q\n",
    ] {
        formatted_safely(text);
    }
}

#[test]
fn a_rule_kept_as_written_keeps_its_last_comment_before_a_blank_line() {
    // Found by a second QA pass: the comment that ends a rule kept with its line breaks was
    // looked for on the blank line after it, and `fmt` refused the file.
    for text in [
        "schema lead { id: string  k: enum { a, b } }\nqueue q\nwhen k = a -> # mid\n  queue q # end\n\notherwise -> queue q\n",
        "schema lead { id: string  k: enum { a, b } }\nqueue q\nrule c: when k = a -> # mid\n queue q # end\n otherwise -> queue q\n",
    ] {
        let once = formatted_safely(text);
        assert!(once.contains("    queue q  # end\n"), "{once}");
    }
}

/// Many comments at once, own-line and end-of-line, at every `step`-th gap between tokens of
/// the example policy: each kept once, the meaning unchanged, never refused.
#[test]
fn many_comments_at_once_are_kept() {
    let source = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/routing.route"),
    )
    .unwrap();
    let with_comments = |at: &[(usize, bool)]| {
        let mut text = String::new();
        let mut from = 0;
        for (gap, own_line) in at {
            text.push_str(&source[from..*gap]);
            text.push_str(if *own_line { "\n# C\n" } else { " # C\n" });
            from = gap + 1;
        }
        text.push_str(&source[from..]);
        text
    };
    // The gaps where one comment (either kind) keeps the file parsing: not inside a string,
    // nor between `rep`, `score` or `tags` and their `{`.
    let gaps: Vec<usize> = source
        .char_indices()
        .filter(|(_, ch)| *ch == ' ' || *ch == '\n')
        .map(|(at, _)| at)
        .filter(|at| {
            [true, false].iter().all(|own_line| {
                switchboard::syntax::parse(&with_comments(&[(*at, *own_line)]))
                    .errors
                    .is_empty()
            })
        })
        .collect();
    assert!(gaps.len() > 200, "{}", gaps.len());
    for step in [2usize, 3, 5, 7, 11] {
        for offset in 0..step.min(3) {
            let at: Vec<(usize, bool)> = gaps
                .iter()
                .skip(offset)
                .step_by(step)
                .enumerate()
                .map(|(index, gap)| (*gap, index % 3 == 0))
                .collect();
            let text = with_comments(&at);
            let once = switchboard::format::format(&text)
                .unwrap_or_else(|errors| panic!("step {step}: not formatted: {errors:?}\n{text}"));
            assert_eq!(
                comments(&text),
                comments(&once),
                "step {step}:\n{text}\n---\n{once}"
            );
            assert_eq!(
                meaning(&text),
                meaning(&once),
                "step {step}:\n{text}\n---\n{once}"
            );
            assert_eq!(
                switchboard::format::format(&once).unwrap(),
                once,
                "step {step}"
            );
        }
    }
}

#[test]
fn weights_are_written_one_way() {
    for written in [
        "weighted(a1 = 1 ,b1 = 2)",
        "weighted(a1=1,b1=2)",
        "weighted( a1= 1, b1 =2 )",
    ] {
        let text = format!(
            "schema lead {{ id: string }}\npool q {{ members a1, b1 strategy {written} }}\notherwise -> pool q\n"
        );
        let once = formatted_safely(&text);
        assert!(once.contains("strategy weighted(a1=1, b1=2)"), "{once}");
    }
}

/// A comment, on its own line or at the end of one, at every place between two tokens of the
/// example policy and a few others: each is kept once, the meaning unchanged (a QA fuzzer's
/// method, which found the layouts above).
#[test]
fn a_comment_anywhere_between_tokens_is_kept_once() {
    let sources = [
        "schema lead # s\n{ id: string  a: int? }\ncalendar c { timezone UTC  hours mon-fri 09:00-18:00 }\n\
         pool p { members x, y  strategy weighted(x=1, y=2)  cap 3  calendar c } pool p2 { members z }\n\
         rep x { cap 2 per day }\nqueue q queue r\nuse \"other.route\"\n\
         rule r1: when a > 1 and id = \"1\" -> pool p within 1h escalate q after 2h\n\
         otherwise -> queue q\ntest \"t\" { lead { id: \"1\", a: 2 } expect pool p }\n",
    ];
    for source in sources {
        let gaps: Vec<usize> = source
            .char_indices()
            .filter(|(_, ch)| *ch == ' ' || *ch == '\n')
            .map(|(at, _)| at)
            .collect();
        for at in gaps {
            for comment in [" # X\n", "\n# X\n"] {
                let text = format!("{}{comment}{}", &source[..at], &source[at + 1..]);
                if !switchboard::syntax::parse(&text).errors.is_empty() {
                    continue;
                }
                let once = switchboard::format::format(&text).unwrap_or_else(|errors| {
                    panic!("not formatted: {errors:?}\n{text}");
                });
                assert_eq!(
                    comments(&text),
                    comments(&once),
                    "comments changed:\n{text}\n---\n{once}"
                );
                assert_eq!(
                    meaning(&text),
                    meaning(&once),
                    "meaning changed:\n{text}\n---\n{once}"
                );
                assert_eq!(
                    switchboard::format::format(&once).unwrap(),
                    once,
                    "not idempotent:\n{text}"
                );
            }
        }
    }
}
