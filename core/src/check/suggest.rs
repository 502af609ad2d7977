//! "Did you mean": the closest known name to a misspelt one.

/// The longest name "did you mean" looks for a near miss of.
pub const MAX_SUGGESTED_LENGTH: usize = 64;

/// The candidate closest to `word` by optimal string alignment distance (a swap of two letters
/// counts once), if it is close enough to be a plausible typo. Ties go to the candidate closer
/// in case (`routing` before `Routing` for `routng`), then to the one that sorts first, so the
/// answer does not depend on declaration order.
pub fn closest<'a, I>(word: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    // A typo of a name people write is short: past this, nothing is suggested, so that a
    // hostile megabyte-long name costs nothing (the distance is quadratic in the length).
    let length = word.chars().count();
    if length > MAX_SUGGESTED_LENGTH {
        return None;
    }
    let lowered = word.to_lowercase();
    let limit = (length / 3).max(1);
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        if candidate == word {
            continue;
        }
        // The distance is at least the difference in length: skip what cannot be close.
        let candidate_length = candidate.chars().count();
        if candidate_length.abs_diff(length) > limit {
            continue;
        }
        let distance = strsim::osa_distance(&lowered, &candidate.to_lowercase());
        if distance > limit {
            continue;
        }
        let better = match best {
            None => true,
            Some((best_distance, best_name)) => {
                distance < best_distance
                    || (distance == best_distance
                        && (strsim::osa_distance(word, candidate), candidate)
                            < (strsim::osa_distance(word, best_name), best_name))
            }
        };
        if better {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, name)| name)
}

/// `Some("did you mean `x`?")` when a close candidate exists.
pub fn did_you_mean<'a, I>(word: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    closest(word, candidates).map(|name| format!("did you mean `{name}`?"))
}

/// The name a "did you mean" help suggests: the inverse of [`did_you_mean`], for tools that turn
/// the suggestion into an edit (the language server's quick fix).
pub fn suggested_name(help: &str) -> Option<&str> {
    let name = help.strip_prefix("did you mean `")?.strip_suffix("`?")?;
    (!name.is_empty() && !name.contains('`')).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_swaps_and_missing_letters() {
        assert_eq!(
            closest("intnet", ["fit", "intent", "region"]),
            Some("intent")
        );
        assert_eq!(closest("hgh", ["low", "medium", "high"]), Some("high"));
        assert_eq!(
            closest("seniro", ["sdr", "senior", "backup"]),
            Some("senior")
        );
        assert_eq!(closest("xyz", ["senior", "backup"]), None);
        assert_eq!(closest("Intent", ["intent"]), Some("intent"));
    }

    #[test]
    fn a_tie_goes_to_the_candidate_closer_in_case() {
        assert_eq!(
            closest("routng.route", ["Routing.ROUTE", "routing.route"]),
            Some("routing.route")
        );
        assert_eq!(
            closest("ROUTNG.ROUTE", ["Routing.ROUTE", "routing.route"]),
            Some("Routing.ROUTE")
        );
    }

    #[test]
    fn suggested_name_inverts_did_you_mean() {
        let help = did_you_mean("intnet", ["intent"]).unwrap();
        assert_eq!(suggested_name(&help), Some("intent"));
        assert_eq!(suggested_name("add `x` to `members`"), None);
    }
}
