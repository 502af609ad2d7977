//! The roster: who is at work (status, out-of-office ranges, open leads) and who owns which
//! account. Data, not logic: it changes every hour, the policy every quarter. [`read`] reads the
//! file with the position of every problem; [`check`] holds it against a policy.

pub mod check;
pub mod read;

use crate::model::Policy;
use crate::syntax::ast::{InlineRoster, RepFact};
use jiff::Timestamp;
use std::collections::BTreeMap;

/// A rep's availability as the roster states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Status {
    #[default]
    Available,
    Away,
    Offline,
}

/// An out-of-office range: dates (`2026-12-21`, whole days, inclusive) or RFC 3339 times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutOfOffice {
    pub from: String,
    pub to: String,
}

/// One rep in the roster.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepEntry {
    pub status: Status,
    /// Open leads as of the roster's `as_of`.
    pub open: u64,
    pub out_of_office: Vec<OutOfOffice>,
}

/// One account: its owner and its parent account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountEntry {
    pub owner: Option<String>,
    pub parent: Option<String>,
}

/// The roster file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roster {
    /// When `open` counts were taken; leads assigned after it add to them.
    pub as_of: Option<Timestamp>,
    pub reps: BTreeMap<String, RepEntry>,
    pub accounts: BTreeMap<String, AccountEntry>,
}

impl Roster {
    /// Where a rep's load starts counting the state's assignments, for a router whose first
    /// routing time is `first`: the roster's `as_of` (earlier assignments are in `open`), or
    /// `first` when `as_of` is later (a backfill with a past `--now`, a roster taken ahead):
    /// the router's own assignments always count, so a cap is never passed unseen.
    pub fn loads_since(&self, first: Timestamp) -> Option<Timestamp> {
        self.as_of.map(|as_of| as_of.min(first))
    }
}

/// An out-of-office range resolved to instants: `[from, to)`.
#[derive(Debug, Clone, Copy)]
pub struct Absence {
    pub from: Timestamp,
    pub to: Timestamp,
    /// Whether the range was given as dates (shown as dates in reasons).
    pub whole_days: bool,
}

impl Roster {
    /// Turns an inline roster into a roster. An inline roster states exceptions: every member of
    /// every pool starts available with no open leads, and the roster changes what it names.
    pub fn from_inline(inline: &InlineRoster, policy: &Policy) -> Roster {
        let mut roster = Roster::default();
        for pool in &policy.pools {
            for member in &pool.members {
                roster.reps.entry(member.clone()).or_default();
            }
        }
        for rep in &inline.reps {
            let mut entry = roster.reps.remove(&rep.name.name).unwrap_or_default();
            for fact in &rep.facts {
                match fact {
                    RepFact::Away => entry.status = Status::Away,
                    RepFact::Offline => entry.status = Status::Offline,
                    RepFact::Available => entry.status = Status::Available,
                    RepFact::Open(open) => entry.open = *open,
                    RepFact::Out { from, to } => entry.out_of_office.push(OutOfOffice {
                        from: from.clone(),
                        to: to.clone(),
                    }),
                    // Leads already assigned live in the state, not the roster: the test seeds
                    // its state with them (`testing::earlier_leads`).
                    RepFact::Assigned { .. } => {}
                }
            }
            roster.reps.insert(rep.name.name.clone(), entry);
        }
        for account in &inline.accounts {
            roster.accounts.insert(
                account.name.value.clone(),
                AccountEntry {
                    owner: account.owner.as_ref().map(|o| o.name.clone()),
                    parent: account.parent.as_ref().map(|p| p.value.clone()),
                },
            );
        }
        // Parents named but not listed are accounts too (with no owner).
        let parents: Vec<String> = roster
            .accounts
            .values()
            .filter_map(|a| a.parent.clone())
            .collect();
        for parent in parents {
            roster.accounts.entry(parent).or_default();
        }
        roster
    }

    /// Reads a roster from JSON. The error names the first problem's line and column; use
    /// [`read::read`] for every problem as diagnostics.
    pub fn from_json(text: &str) -> Result<Roster, read::RosterError> {
        read::read(text).map(|file| file.roster)
    }

    /// The rep's absences as instants; dates are whole days in `zone`.
    pub fn absences(&self, rep: &str, zone: &jiff::tz::TimeZone) -> Vec<Absence> {
        let Some(entry) = self.reps.get(rep) else {
            return Vec::new();
        };
        entry
            .out_of_office
            .iter()
            .filter_map(|range| {
                let (from, from_date) = resolve(&range.from, zone, false)?;
                let (to, to_date) = resolve(&range.to, zone, true)?;
                Some(Absence {
                    from,
                    to,
                    whole_days: from_date && to_date,
                })
            })
            .collect()
    }

    /// The owner of an account: the account's own, else its nearest ancestor's, else the owner of
    /// the closest relative in the same family (descendants of the nearest ancestor first,
    /// nearer generations first, names in order). Returns the owner and how it was found.
    pub fn owner_of(&self, account: &str) -> Option<(String, String)> {
        if !self.accounts.contains_key(account) {
            return None;
        }
        let mut chain = vec![account];
        let mut current = account;
        while let Some(parent) = self.accounts.get(current).and_then(|a| a.parent.as_deref()) {
            if chain.contains(&parent) {
                break;
            }
            chain.push(parent);
            current = parent;
        }
        for (depth, ancestor) in chain.iter().enumerate() {
            if let Some(owner) = self.accounts.get(*ancestor).and_then(|a| a.owner.clone()) {
                let how = if depth == 0 {
                    format!("owns `{account}`")
                } else {
                    format!("owns `{ancestor}`, the parent of `{account}`")
                };
                return Some((owner, how));
            }
        }
        // No owner up the chain: the closest owned relative under each ancestor in turn.
        for ancestor in &chain {
            let mut generation: Vec<&str> = vec![ancestor];
            while !generation.is_empty() {
                let mut next: Vec<&str> = self
                    .accounts
                    .iter()
                    .filter(|(_, entry)| {
                        entry
                            .parent
                            .as_deref()
                            .is_some_and(|p| generation.contains(&p))
                    })
                    .map(|(name, _)| name.as_str())
                    .filter(|name| !chain.contains(name))
                    .collect();
                next.sort_unstable();
                for relative in &next {
                    if let Some(owner) = self.accounts.get(*relative).and_then(|a| a.owner.clone())
                    {
                        let how = if *ancestor == account {
                            format!("owns `{relative}`, under `{account}`")
                        } else {
                            format!(
                                "owns `{relative}`, in the same family as `{account}` (`{ancestor}`)"
                            )
                        };
                        return Some((owner, how));
                    }
                }
                generation = next;
            }
        }
        None
    }
}

pub(crate) use crate::route::reader::parse_date;

/// Resolves a range end to an instant; a date `to` means the end of that day.
pub(crate) fn resolve(
    value: &str,
    zone: &jiff::tz::TimeZone,
    end: bool,
) -> Option<(Timestamp, bool)> {
    // An end past the last instant computed with (`9999-12-31`, HR's "for good", ends at the
    // start of year 10000) is the last instant: the absence holds for good, never dropped.
    let beyond = |whole_days| end.then_some((Timestamp::MAX, whole_days));
    if let Some(nanos) = crate::route::reader::read_time(value) {
        return match Timestamp::from_nanosecond(nanos) {
            Ok(time) => Some((time, false)),
            Err(_) => beyond(false),
        };
    }
    let date = parse_date(value)?;
    let day = if end {
        match date.tomorrow() {
            Ok(day) => day,
            Err(_) => return beyond(true),
        }
    } else {
        date
    };
    match zone
        .to_ambiguous_timestamp(day.to_datetime(jiff::civil::Time::midnight()))
        .compatible()
    {
        Ok(instant) => Some((instant, true)),
        Err(_) => beyond(true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roster() -> Roster {
        Roster::from_json(
            r#"{ "accounts": {
                "Marvel Studios": { "owner": "petr", "parent": "The Walt Disney Company" },
                "ESPN": { "parent": "The Walt Disney Company" },
                "Pixar": { "parent": "The Walt Disney Company", "owner": "maria" },
                "The Walt Disney Company": {},
                "ESPN Deportes": { "parent": "ESPN" },
                "Acme": { "owner": "anna" } } }"#,
        )
        .unwrap()
    }

    #[test]
    fn owner_comes_from_the_account_then_parents_then_siblings() {
        let roster = roster();
        assert_eq!(roster.owner_of("Acme").unwrap().0, "anna");
        // ESPN has no owner and neither has Disney: the closest owned sibling, by name.
        let (owner, how) = roster.owner_of("ESPN").unwrap();
        assert_eq!(owner, "petr");
        assert!(how.contains("Marvel Studios"), "{how}");
        // A grandchild finds its family through two levels.
        assert_eq!(roster.owner_of("ESPN Deportes").unwrap().0, "petr");
        assert!(roster.owner_of("Unknown Corp").is_none());
    }

    #[test]
    fn bad_rosters_say_where() {
        let error = Roster::from_json(r#"{ "reps": { "anna": { "status": "busy" } } }"#)
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("line 1, column 33: "), "{error}");
        assert!(error.contains("`busy`"), "{error}");
        let error = Roster::from_json(r#"{ "accounts": { "A": { "parent": "B" } } }"#)
            .unwrap_err()
            .to_string();
        assert!(error.contains("parent `B` is not in `accounts`"), "{error}");
        let error = Roster::from_json(
            r#"{ "accounts": { "A": { "parent": "B" }, "B": { "parent": "A" } } }"#,
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("its own ancestor"), "{error}");
    }
}
