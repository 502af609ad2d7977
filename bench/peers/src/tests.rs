//! The translators, specified by agreement: on a policy that uses every kind of test (sets,
//! ranges on ints, numbers and times, presence, negation, `or`, calendars with several
//! intervals, a Saturday and a holiday) and on leads with absent, null and present optional
//! fields at any hour, ZEN and the CEL loop pick the rule `Policy::first_match` picks.

use crate::engines::{Cel, Engine, Zen};
use crate::translate::{to_cel, to_jdm};
use crate::workload::Random;
use std::fmt::Write as _;
use switchboard::model::EvalContext;
use switchboard::route::reader::{Limits, parse_lead};

const POLICY: &str = r#"
schema lead {
  id:         string
  tier:       enum { gold, silver, bronze }
  vip:        bool
  seats:      int
  amount:     number
  country:    string
  owner:      string?
  score:      int?
  created_at: time
}
calendar office {
  timezone Europe/Berlin
  hours mon-fri 09:00-12:00, 13:00-17:30
  hours sat 10:00-14:00
  holidays 2026-12-24
}
queue q
rule owned:   when owner is set and owner != "anna" -> queue q
rule scored:  when score >= 50 and not (tier = gold) -> queue q
rule big:     when vip = true and seats > 100 or amount >= 5000.5 -> queue q
rule dach:    when country in {"DE", "AT"} and amount >= 1000.25 and amount < 2000 -> queue q
rule december: when created_at >= 2026-12-01T00:00:00Z and inside office -> queue q
rule unscored: when tier != silver and score is not set and seats <= 10 -> queue q
rule late:    when outside office and country not in {"FR"} -> queue q
rule exact:   when seats = 42 -> queue q
otherwise -> queue q
"#;

fn leads(count: usize) -> Vec<String> {
    let mut random = Random::new(7);
    let tiers = ["gold", "silver", "bronze"];
    let countries = ["DE", "AT", "FR", "US"];
    let owners = ["\"anna\"", "\"boris\"", "null"];
    (0..count)
        .map(|index| {
            let mut line = format!(
                r#"{{"id":"T-{index}","tier":"{}","vip":{},"seats":{},"amount":{},"country":"{}""#,
                tiers[random.below(3) as usize],
                random.below(2) == 1,
                random.below(200),
                // Whole and fractional amounts, right on the bounds sometimes.
                [1000.25, 2000.0, 5000.5, 999.0, 1500.75, 7000.0][random.below(6) as usize],
                countries[random.below(4) as usize],
            );
            if random.below(2) == 0 {
                let _ = write!(line, r#","owner":{}"#, owners[random.below(3) as usize]);
            }
            match random.below(3) {
                0 => {}
                1 => line.push_str(r#","score":null"#),
                _ => {
                    let _ = write!(line, r#","score":{}"#, 40 + random.below(20));
                }
            }
            // Any minute from 2026-11-20 to 2026-12-31, in a few offsets.
            let minutes = random.below(41 * 24 * 60) as i64;
            let instant = "2026-11-20T00:00:00Z"
                .parse::<jiff::Timestamp>()
                .unwrap()
                .checked_add(jiff::SignedDuration::from_mins(minutes))
                .unwrap();
            let offset = [0i8, 1, -5][random.below(3) as usize];
            let zoned =
                instant.to_zoned_datetime(jiff::tz::TimeZone::fixed(jiff::tz::offset(offset)));
            let _ = write!(
                line,
                r#","created_at":"{}"}}"#,
                zoned.strftime("%Y-%m-%dT%H:%M:%S%:z")
            );
            line
        })
        .collect()
}

#[test]
fn zen_and_cel_pick_the_rule_first_match_picks() {
    let report = switchboard::check_source(POLICY);
    assert_eq!(report.error_count(), 0, "{:#?}", report.diagnostics);
    let (policy, _) = report.compiled.unwrap();
    let mut zen = Zen::new(to_jdm(&policy).unwrap()).unwrap();
    let mut cel = Cel::new(&to_cel(&policy).unwrap()).unwrap();
    let context = EvalContext {
        now: "2026-11-23T10:00:00Z".parse().unwrap(),
    };
    let mut seen = vec![0usize; policy.rules.len()];
    for line in leads(4_000) {
        let parsed = parse_lead(&policy, line.as_bytes(), &Limits::default()).unwrap();
        let index = policy.first_match(&parsed.lead, &context);
        if let Some(index) = index {
            seen[index] += 1;
        }
        let mut expected = Vec::new();
        crate::engines::write_decision(
            &mut expected,
            &parsed.id,
            index.map(|i| policy.rules[i].label.as_str()),
        );
        for (name, engine) in [("zen", &mut zen as &mut dyn Engine), ("cel", &mut cel)] {
            let mut out = Vec::new();
            assert!(
                engine.line(line.as_bytes(), &mut out),
                "{name} failed on {line}"
            );
            assert_eq!(
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(&expected),
                "{name} on {line}"
            );
        }
    }
    // Every rule was decided at least once, so every translation was exercised.
    assert!(seen.iter().all(|n| *n > 0), "rules never matched: {seen:?}");
}

#[test]
fn quotes_in_strings_are_refused_by_the_zen_translator_not_mistranslated() {
    let text = "schema lead { id: string  country: string }\nqueue q\n\
                rule odd: when country = \"a\\\"b\" -> queue q\notherwise -> queue q\n";
    let report = switchboard::check_source(text);
    assert_eq!(report.error_count(), 0, "{:#?}", report.diagnostics);
    let (policy, _) = report.compiled.unwrap();
    assert!(to_jdm(&policy).is_err());
    assert!(to_cel(&policy).is_ok());
}

/// Not a check: prints what the translators make of the policy above, for reading
/// (`cargo test --release -- --ignored --nocapture`).
#[test]
#[ignore]
fn print_translations() {
    let (policy, _) = switchboard::check_source(POLICY).compiled.unwrap();
    for rule in to_cel(&policy).unwrap() {
        println!("{}: {}", rule.label, rule.source);
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&to_jdm(&policy).unwrap()["nodes"][1]["content"]["rules"])
            .unwrap()
    );
}
