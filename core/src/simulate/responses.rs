//! How fast reps first touch a lead, as `simulate` assumes it: a response model read from JSON,
//! and the seeded, deterministic draw of one response per holding.
//!
//! A model gives a log-normal delay by its median and 90th percentile, a share of leads never
//! touched, and whether the delay counts working time (the holder's calendar) or wall-clock
//! time; per rep, else per pool, else the default, field by field:
//!
//! ```json
//! { "default": { "median": "12m", "p90": "2h", "never": 0.05, "in": "working" },
//!   "pools":   { "senior": { "median": "5m", "p90": "40m" } },
//!   "reps":    { "boris":  { "never": 0.3 } } }
//! ```
//!
//! A level that gives a median without a p90 keeps the spread (p90 / median) of the level above
//! it. Durations are at most 30 days.
//!
//! Invariants: a draw depends only on the seed, the lead id and the holding's number (1 for the
//! routed holder, 2 for the first escalation, …), never on the order leads are simulated in or
//! on the policy, so two policies simulated on the same leads and seed get the same responses
//! where they hand a lead to a rep the same way ("common random numbers").

use crate::model::Policy;
use serde_json::Value;
use std::collections::BTreeMap;

/// How a delay is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    /// In the holder's working time (their calendar, else the pool's or rule's): a lead that
    /// arrives at night is touched after the next opening.
    Working,
    /// In wall-clock time.
    Wall,
}

/// The response of one rep, pool or the default; `None` fields fall back to the next level.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Profile {
    pub median_seconds: Option<f64>,
    pub p90_seconds: Option<f64>,
    pub never: Option<f64>,
    pub counted: Option<Counted>,
}

/// A complete response profile, every field known.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Resolved {
    pub median_seconds: f64,
    pub p90_seconds: f64,
    pub never: f64,
    pub counted: Counted,
}

/// The model: a default and overrides per pool and per rep (the default model: none given).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResponseModel {
    pub default: Profile,
    pub pools: BTreeMap<String, Profile>,
    pub reps: BTreeMap<String, Profile>,
}

/// What `simulate` assumes without `--responses`.
pub const DEFAULT_MODEL: Resolved = Resolved {
    median_seconds: 12.0 * 60.0,
    p90_seconds: 2.0 * 3600.0,
    never: 0.05,
    counted: Counted::Working,
};

/// One draw: when the holder touches the lead, if ever.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Response {
    /// After this many seconds (of working or wall-clock time, as `counted`).
    After {
        seconds: i64,
        counted: Counted,
    },
    Never,
}

/// The z-score of the 90th percentile of the standard normal distribution.
const Z90: f64 = 1.281_551_565_545;

impl ResponseModel {
    /// The profile for a rep holding a lead through `pool` (if any).
    pub fn resolve(&self, rep: &str, pool: Option<&str>) -> Resolved {
        self.resolve_levels([
            self.reps.get(rep),
            pool.and_then(|pool| self.pools.get(pool)),
            Some(&self.default),
        ])
    }

    /// The median and p90 a rep's, a pool's and the default's profile give together, before
    /// the p90 is held to at least the median: `read_model` refuses a model where it is not.
    fn spread_of(&self, levels: [Option<&Profile>; 3]) -> (f64, f64) {
        let resolved = self.resolve_unclamped(levels);
        (resolved.median_seconds, resolved.p90_seconds)
    }

    fn resolve_levels(&self, levels: [Option<&Profile>; 3]) -> Resolved {
        let resolved = self.resolve_unclamped(levels);
        Resolved {
            p90_seconds: resolved.p90_seconds.max(resolved.median_seconds),
            ..resolved
        }
    }

    fn resolve_unclamped(&self, levels: [Option<&Profile>; 3]) -> Resolved {
        let pick = |field: fn(&Profile) -> Option<f64>, fallback: f64| {
            levels
                .iter()
                .flatten()
                .find_map(|profile| field(profile))
                .unwrap_or(fallback)
        };
        let median_at = |from: usize| {
            levels[from..]
                .iter()
                .flatten()
                .find_map(|profile| profile.median_seconds)
                .unwrap_or(DEFAULT_MODEL.median_seconds)
        };
        let median_level = levels
            .iter()
            .position(|level| level.is_some_and(|p| p.median_seconds.is_some()));
        let median_seconds = median_at(0);
        let p90_level = levels
            .iter()
            .position(|level| level.is_some_and(|p| p.p90_seconds.is_some()));
        let p90_seconds = match (p90_level, median_level) {
            // The p90 was given with the median, or for someone more specific: as given.
            (Some(at), Some(median)) if at <= median => levels[at]
                .and_then(|p| p.p90_seconds)
                .unwrap_or(median_seconds),
            // A median given below a level's p90 keeps that level's spread (p90 / median).
            (Some(at), _) => {
                let p90 = levels[at]
                    .and_then(|p| p.p90_seconds)
                    .unwrap_or(median_seconds);
                median_seconds * p90 / median_at(at)
            }
            (None, _) => median_seconds * DEFAULT_MODEL.p90_seconds / DEFAULT_MODEL.median_seconds,
        };
        Resolved {
            median_seconds,
            p90_seconds,
            never: pick(|p| p.never, DEFAULT_MODEL.never),
            counted: levels
                .iter()
                .flatten()
                .find_map(|profile| profile.counted)
                .unwrap_or(DEFAULT_MODEL.counted),
        }
    }

    /// The response of `rep` to holding number `holding` (1-based) of `lead`.
    pub fn draw(
        &self,
        seed: u64,
        lead: &str,
        holding: usize,
        rep: &str,
        pool: Option<&str>,
    ) -> Response {
        let profile = self.resolve(rep, pool);
        let mut stream = Stream::new(seed, lead, holding);
        let never = stream.uniform();
        if never < profile.never {
            return Response::Never;
        }
        let z = stream.normal();
        let mu = profile.median_seconds.max(1.0).ln();
        let sigma = (profile.p90_seconds.max(1.0).ln() - mu).max(0.0) / Z90;
        let seconds = (mu + sigma * z).exp();
        // A century is "never" in all but name; the cast saturates anyway.
        let seconds = seconds.clamp(1.0, 3.2e9).round() as i64;
        Response::After {
            seconds,
            counted: profile.counted,
        }
    }
}

/// A small deterministic random stream (SplitMix64) keyed by seed, lead and holding.
struct Stream(u64);

impl Stream {
    fn new(seed: u64, lead: &str, holding: usize) -> Stream {
        // FNV-1a of the lead id: stable across platforms and releases.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in lead.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        Stream(
            seed.wrapping_mul(0x9e37_79b9_7f4a_7c15)
                ^ hash
                ^ (holding as u64).wrapping_mul(0xd1b5_4a32_d192_ed03),
        )
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1).
    fn uniform(&mut self) -> f64 {
        ((self.next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller).
    fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.uniform(), self.uniform());
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// Why a response model was refused: where (`pools.senior.p90`) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelError {
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for ModelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "`{}`: {}", self.path, self.message)
        }
    }
}

fn error(path: &str, message: impl Into<String>) -> ModelError {
    ModelError {
        path: path.to_string(),
        message: message.into(),
    }
}

/// Reads a model; pools and reps are held against the policy (an unknown name is an error with
/// a did-you-mean, as a misspelt name would silently change nothing).
pub fn read_model(
    text: &str,
    policy: &Policy,
    roster_reps: &[&str],
) -> Result<ResponseModel, ModelError> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        error(
            "",
            format!("not JSON at line {}, column {}: {e}", e.line(), e.column()),
        )
    })?;
    let Value::Object(top) = value else {
        return Err(error(
            "",
            "a response model is a JSON object with `default`, `pools` and `reps`, such as \
             {\"default\":{\"median\":\"12m\",\"p90\":\"2h\",\"never\":0.05}}",
        ));
    };
    let mut model = ResponseModel::default();
    for (key, value) in &top {
        match key.as_str() {
            "default" => model.default = profile("default", value)?,
            "pools" | "reps" => {
                let Value::Object(entries) = value else {
                    return Err(error(key, "must be an object of names to profiles"));
                };
                for (name, value) in entries {
                    let path = format!("{key}.{name}");
                    let known: Vec<&str> = if key == "pools" {
                        policy.pools.iter().map(|pool| pool.name.as_str()).collect()
                    } else {
                        // Reps of the policy, and the roster's (`owner of`, `rep FIELD`).
                        let mut reps = policy.rep_names();
                        reps.extend(
                            roster_reps
                                .iter()
                                .filter(|rep| !reps.contains(rep))
                                .copied()
                                .collect::<Vec<_>>(),
                        );
                        reps
                    };
                    if !known.contains(&name.as_str()) {
                        let what = if key == "pools" { "pool" } else { "rep" };
                        let hint = crate::check::suggest::did_you_mean(name, known.iter().copied())
                            .map(|hint| format!("; {hint}"))
                            .unwrap_or_default();
                        return Err(error(
                            &path,
                            if key == "pools" {
                                format!("the policy has no {what} `{name}`{hint}")
                            } else {
                                format!(
                                    "neither the policy nor the roster has a {what} `{name}`{hint}"
                                )
                            },
                        ));
                    }
                    let parsed = profile(&path, value)?;
                    if key == "pools" {
                        model.pools.insert(name.clone(), parsed);
                    } else {
                        model.reps.insert(name.clone(), parsed);
                    }
                }
            }
            other => {
                let hint = crate::check::suggest::did_you_mean(other, ["default", "pools", "reps"])
                    .map(|hint| format!("; {hint}"))
                    .unwrap_or_default();
                return Err(error(
                    other,
                    format!("unknown key (expected `default`, `pools` or `reps`){hint}"),
                ));
            }
        }
    }
    check_spreads(&model, policy)?;
    Ok(model)
}

/// Field by field, a p90 given for a pool or a rep goes with a median given less specifically
/// (the default's, or the pool's): where they meet, the p90 must not be shorter than that
/// median, as within one profile. Checked where they meet: a pool with the default, a rep with
/// each pool that has them as a member, and with the default alone when the policy can hand
/// them a lead outside a pool (or they are in none).
fn check_spreads(model: &ResponseModel, policy: &Policy) -> Result<(), ModelError> {
    let mut meetings: Vec<(Option<&str>, Option<&str>)> = vec![(None, None)];
    meetings.extend(model.pools.keys().map(|pool| (None, Some(pool.as_str()))));
    for rep in model.reps.keys() {
        let pools: Vec<&str> = policy
            .pools
            .iter()
            .filter(|pool| pool.members.contains(rep))
            .map(|pool| pool.name.as_str())
            .collect();
        if pools.is_empty() || held_outside_pools(policy, rep) {
            meetings.push((Some(rep.as_str()), None));
        }
        meetings.extend(
            pools
                .into_iter()
                .map(|pool| (Some(rep.as_str()), Some(pool))),
        );
    }
    for (rep, pool) in meetings {
        let named = [
            rep.map(|rep| (format!("reps.{rep}"), model.reps.get(rep))),
            pool.map(|pool| (format!("pools.{pool}"), model.pools.get(pool))),
            Some(("default".to_string(), Some(&model.default))),
        ];
        let levels = named
            .clone()
            .map(|level| level.and_then(|(_, profile)| profile));
        let (median, p90) = model.spread_of(levels);
        if p90 >= median {
            continue;
        }
        let path_of = |field: fn(&Profile) -> Option<f64>| {
            named
                .iter()
                .flatten()
                .find(|(_, profile)| profile.and_then(field).is_some())
                .map(|(path, _)| path.clone())
        };
        let p90_at = path_of(|profile| profile.p90_seconds).unwrap_or_default();
        let median_from = path_of(|profile| profile.median_seconds).map_or_else(
            || "simulate's default median".to_string(),
            |path| format!("`{path}.median`"),
        );
        return Err(error(
            &format!("{p90_at}.p90"),
            format!(
                "is {}, shorter than the median it goes with ({}, from {median_from}): the 90th \
                 percentile is at least the median; give this profile its own median too",
                crate::text::duration(p90.round() as i64),
                crate::text::duration(median.round() as i64),
            ),
        ));
    }
    Ok(())
}

/// Whether the policy can hand `rep` a lead outside any pool, where their profile goes with the
/// default alone: `rep NAME`, an escalation to them, or an action that names a rep from the
/// lead (`rep FIELD`, `owner of`, `previous rep of`), which may name anyone.
fn held_outside_pools(policy: &Policy, rep: &str) -> bool {
    use crate::syntax::ast::ActionKind;
    policy.rules.iter().any(|rule| {
        rule.syntax.actions.iter().any(|action| match &action.kind {
            ActionKind::Rep(name) => {
                name.name == rep || policy.fields.iter().any(|field| field.name == name.name)
            }
            ActionKind::OwnerOf(_) | ActionKind::PreviousRep { .. } => true,
            ActionKind::Pool(_) | ActionKind::Queue(_) => false,
        }) || rule
            .syntax
            .escalations
            .iter()
            .any(|escalation| escalation.target.name == rep)
    })
}

fn profile(path: &str, value: &Value) -> Result<Profile, ModelError> {
    let Value::Object(fields) = value else {
        return Err(error(
            path,
            "must be an object such as {\"median\":\"12m\",\"p90\":\"2h\",\"never\":0.05,\"in\":\"working\"}",
        ));
    };
    let mut profile = Profile::default();
    for (key, value) in fields {
        let at = format!("{path}.{key}");
        match key.as_str() {
            "median" => profile.median_seconds = Some(duration(&at, value)?),
            "p90" => profile.p90_seconds = Some(duration(&at, value)?),
            "never" => match value.as_f64() {
                Some(share) if (0.0..=1.0).contains(&share) => profile.never = Some(share),
                _ => {
                    return Err(error(
                        &at,
                        format!(
                            "must be the share of leads never touched, from 0 to 1, found {value}"
                        ),
                    ));
                }
            },
            "in" => {
                profile.counted = Some(match value.as_str() {
                    Some("working") => Counted::Working,
                    Some("wall") => Counted::Wall,
                    _ => {
                        return Err(error(
                            &at,
                            format!("must be \"working\" or \"wall\", found {value}"),
                        ));
                    }
                });
            }
            other => {
                let hint =
                    crate::check::suggest::did_you_mean(other, ["median", "p90", "never", "in"])
                        .map(|hint| format!("; {hint}"))
                        .unwrap_or_default();
                return Err(error(
                    &at,
                    format!("unknown key (expected `median`, `p90`, `never` or `in`){hint}"),
                ));
            }
        }
    }
    if let (Some(median), Some(p90)) = (profile.median_seconds, profile.p90_seconds)
        && p90 < median
    {
        return Err(error(
            &format!("{path}.p90"),
            "is shorter than the median: the 90th percentile is at least the median",
        ));
    }
    Ok(profile)
}

/// `"90s"`, `"12m"`, `"2h"`, `"1d"` (also `"1h30m"`): seconds, more than zero.
fn duration(path: &str, value: &Value) -> Result<f64, ModelError> {
    let bad = || {
        error(
            path,
            format!("must be a duration such as \"90s\", \"12m\", \"2h\" or \"1d\", found {value}"),
        )
    };
    let text = value.as_str().ok_or_else(bad)?.trim();
    let mut total: f64 = 0.0;
    let mut number = String::new();
    let mut any = false;
    for c in text.chars() {
        if c.is_ascii_digit() || c == '.' {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1.0,
            'm' => 60.0,
            'h' => 3600.0,
            'd' => 86_400.0,
            _ => return Err(bad()),
        };
        let amount: f64 = number.parse().map_err(|_| bad())?;
        total += amount * unit;
        number.clear();
        any = true;
    }
    if !number.is_empty() || !any || !total.is_finite() {
        return Err(bad());
    }
    if total <= 0.0 {
        return Err(error(path, "must be longer than zero"));
    }
    if total > 30.0 * 86_400.0 {
        return Err(error(
            path,
            format!("{text} is longer than 30 days: use `never` for leads nobody touches"),
        ));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A rep's p90 goes with the median of each pool they are in, and with the default's
    /// only when the policy can hand them a lead outside a pool.
    #[test]
    fn a_reps_p90_is_held_to_the_medians_it_can_go_with() {
        let policy = |actions: &str| {
            let text = format!(
                "schema lead {{ id: string  owner: string?  created_at: time }}\n\
                 pool senior {{ members anna, boris }}\n\
                 queue q\n\
                 rule r: when owner is set -> {actions}\n\
                 otherwise -> pool senior\n"
            );
            let report = crate::pipeline::check_source(&text);
            assert_eq!(report.error_count(), 0, "{:?}", report.diagnostics);
            report.compiled.unwrap().0
        };
        let model = r#"{"default":{"median":"1h"},"pools":{"senior":{"median":"10m"}},"reps":{"anna":{"p90":"30m"}}}"#;
        // Only through `senior`: 30m goes with its 10m.
        assert!(read_model(model, &policy("queue q"), &[]).is_ok());
        // `rep owner`, `owner of`, `previous rep of`, `rep anna` or an escalation to anna
        // can hand her a lead outside it, where 30m goes with the default's 1h.
        for actions in [
            "rep owner",
            "owner of owner",
            "previous rep of owner",
            "rep anna",
            "queue q escalate anna after 1h",
        ] {
            let refused = read_model(model, &policy(actions), &[]).unwrap_err();
            assert_eq!(refused.path, "reps.anna.p90", "{actions}: {refused:?}");
        }
    }

    #[test]
    fn durations_read_with_units() {
        let read = |text: &str| duration("d", &Value::String(text.into()));
        assert_eq!(read("90s"), Ok(90.0));
        assert_eq!(read("1h30m"), Ok(5400.0));
        assert_eq!(read("1d"), Ok(86_400.0));
        assert!(read("12").is_err());
        assert!(read("0m").is_err());
        assert!(read("m").is_err());
        assert!(read("5 min").is_err());
    }

    #[test]
    fn the_median_and_p90_are_those_of_the_draws() {
        let model = ResponseModel {
            default: Profile {
                median_seconds: Some(600.0),
                p90_seconds: Some(3600.0),
                never: Some(0.0),
                counted: Some(Counted::Wall),
            },
            ..ResponseModel::default()
        };
        let mut draws: Vec<i64> = (0..20_000)
            .map(
                |i| match model.draw(7, &format!("L-{i}"), 1, "anna", None) {
                    Response::After { seconds, .. } => seconds,
                    Response::Never => i64::MAX,
                },
            )
            .collect();
        draws.sort_unstable();
        let median = draws[draws.len() / 2] as f64;
        let p90 = draws[draws.len() * 9 / 10] as f64;
        assert!((median / 600.0 - 1.0).abs() < 0.05, "median {median}");
        assert!((p90 / 3600.0 - 1.0).abs() < 0.07, "p90 {p90}");
    }

    #[test]
    fn a_median_alone_keeps_the_spread_of_the_level_above() {
        let model = ResponseModel {
            pools: [(
                "senior".to_string(),
                Profile {
                    median_seconds: Some(600.0),
                    p90_seconds: Some(3_600.0),
                    ..Profile::default()
                },
            )]
            .into(),
            reps: [(
                "boris".to_string(),
                Profile {
                    median_seconds: Some(7_200.0),
                    ..Profile::default()
                },
            )]
            .into(),
            ..ResponseModel::default()
        };
        let boris = model.resolve("boris", Some("senior"));
        assert_eq!(boris.median_seconds, 7_200.0);
        assert_eq!(
            boris.p90_seconds, 43_200.0,
            "six times the median, as the pool's"
        );
        let anna = model.resolve("anna", Some("senior"));
        assert_eq!((anna.median_seconds, anna.p90_seconds), (600.0, 3_600.0));
        let alone = model.resolve("anna", None);
        assert_eq!(alone.p90_seconds, DEFAULT_MODEL.p90_seconds);
    }

    #[test]
    fn the_never_share_holds_and_draws_repeat() {
        let model = ResponseModel {
            default: Profile {
                never: Some(0.25),
                ..Profile::default()
            },
            ..ResponseModel::default()
        };
        let never = (0..10_000)
            .filter(|i| model.draw(1, &format!("L-{i}"), 1, "anna", None) == Response::Never)
            .count();
        assert!((2_300..2_700).contains(&never), "{never}");
        assert_eq!(
            model.draw(3, "L-1", 2, "anna", None),
            model.draw(3, "L-1", 2, "anna", None)
        );
        assert_ne!(
            model.draw(3, "L-1", 1, "anna", None),
            model.draw(4, "L-1", 1, "anna", None)
        );
    }

    #[test]
    fn a_rep_overrides_a_pool_overrides_the_default_field_by_field() {
        let model = ResponseModel {
            default: Profile {
                never: Some(0.1),
                ..Profile::default()
            },
            pools: [(
                "senior".to_string(),
                Profile {
                    median_seconds: Some(300.0),
                    p90_seconds: Some(1200.0),
                    ..Profile::default()
                },
            )]
            .into(),
            reps: [(
                "boris".to_string(),
                Profile {
                    counted: Some(Counted::Wall),
                    ..Profile::default()
                },
            )]
            .into(),
        };
        let boris = model.resolve("boris", Some("senior"));
        assert_eq!(boris.median_seconds, 300.0);
        assert_eq!(boris.p90_seconds, 1200.0);
        assert_eq!(boris.never, 0.1);
        assert_eq!(boris.counted, Counted::Wall);
        let anna = model.resolve("anna", None);
        assert_eq!(anna.median_seconds, DEFAULT_MODEL.median_seconds);
        assert_eq!(anna.counted, Counted::Working);
    }
}
