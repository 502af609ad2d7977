//! Working time: SLA and escalation times on a calendar. The clock runs only inside working
//! hours, in the calendar's time zone, skipping nights, weekends and holidays; daylight-saving
//! changes are handled by converting each local boundary to an instant with jiff.

use crate::model::CalendarDef;
use crate::syntax::ast::{BusinessUnit, DurationKind};
use jiff::Timestamp;
use jiff::civil::Date;

/// How far ahead working time is searched before giving up (a calendar whose every day is a
/// holiday has no working time).
const HORIZON_DAYS: usize = 3_700;

/// Adds a duration to `start`: wall-clock time without a calendar; working time with one.
/// `None` when the calendar has no working time within the horizon, or for business time
/// without a calendar (the checker rejects that).
pub fn add(
    start: Timestamp,
    duration: DurationKind,
    calendar: Option<&CalendarDef>,
) -> Option<Timestamp> {
    add_remembering(start, duration, calendar, None)
}

/// [`add`], with the working intervals of `start`'s day taken from `days` (and kept there).
pub fn add_remembering(
    start: Timestamp,
    duration: DurationKind,
    calendar: Option<&CalendarDef>,
    days: Option<&DayCache>,
) -> Option<Timestamp> {
    match (duration, calendar) {
        (DurationKind::Fixed { seconds }, None) => {
            let seconds = i64::try_from(seconds).ok()?;
            start
                .checked_add(jiff::SignedDuration::from_secs(seconds))
                .ok()
        }
        (DurationKind::Fixed { seconds }, Some(calendar)) => {
            add_working(calendar, start, seconds, days)
        }
        (
            DurationKind::Business {
                count,
                unit: BusinessUnit::Hours,
            },
            Some(calendar),
        ) => add_working(calendar, start, count.checked_mul(3_600)?, days),
        (
            DurationKind::Business {
                count,
                unit: BusinessUnit::Days,
            },
            Some(calendar),
        ) => add_business_days(calendar, start, count),
        (DurationKind::Business { .. }, None) => None,
    }
}

/// [`add_remembering`] through `days`, with the UTC offset of `calendar` at the answer (none
/// without a calendar) as [`DayCache::offset`] gives it: a decision's due and escalation times.
pub fn add_local(
    start: Timestamp,
    duration: DurationKind,
    calendar: Option<&CalendarDef>,
    days: &DayCache,
) -> Option<(Timestamp, Option<jiff::tz::Offset>)> {
    let seconds = match (duration, calendar) {
        (DurationKind::Fixed { seconds }, Some(_)) => Some(seconds),
        (
            DurationKind::Business {
                count,
                unit: BusinessUnit::Hours,
            },
            Some(_),
        ) => count.checked_mul(3_600),
        _ => None,
    };
    let walked = calendar
        .zip(seconds)
        .and_then(|(calendar, seconds)| days.add_working(calendar, start, seconds));
    let (instant, offset) = match walked {
        Some(answer) => answer?,
        None => (
            add_remembering(start, duration, calendar, Some(days))?,
            None,
        ),
    };
    Some((
        instant,
        calendar.map(|calendar| offset.unwrap_or_else(|| days.offset(calendar, instant))),
    ))
}

/// The working intervals of one local date, as instants, in order (none on holidays).
fn intervals(
    calendar: &CalendarDef,
    date: Date,
) -> impl Iterator<Item = (Timestamp, Timestamp)> + '_ {
    let holiday = calendar.holidays.contains(&date);
    let day = date.weekday().to_monday_zero_offset() as usize;
    calendar
        .week
        .get(day)
        .filter(|_| !holiday)
        .into_iter()
        .flatten()
        .filter_map(move |(from, to)| {
            Some((
                calendar.instant_at(date, *from)?,
                calendar.instant_at(date, *to)?,
            ))
        })
}

/// `start` if it is in working time, else the next opening.
pub fn next_opening(calendar: &CalendarDef, start: Timestamp) -> Option<Timestamp> {
    let mut date = calendar.zone.to_datetime(start).date();
    for _ in 0..HORIZON_DAYS {
        for (open, close) in intervals(calendar, date) {
            if start < close {
                return Some(open.max(start));
            }
        }
        date = date.tomorrow().ok()?;
    }
    None
}

/// Where to place leads a rep already got so that each window around `at` counts what it
/// should: `counts` are the cumulative counts this hour, today and this week (each at least the
/// one before). Returns `(own time, count)` pairs: this hour's at the hour's start, the rest of
/// the day's where the day is not this hour, the rest of the week's where the week is not today.
pub fn earlier_lead_times(
    at: Timestamp,
    zone: &jiff::tz::TimeZone,
    [in_hour, in_day, in_week]: [u64; 3],
) -> Option<Vec<(Timestamp, u64)>> {
    use crate::model::Period;
    let this_hour = period_window(at, Period::Hour, zone)?;
    let today = period_window(at, Period::Day, zone)?;
    let this_week = period_window(at, Period::Week, zone)?;
    // Today but not this hour: the day's start, unless this is its first hour.
    let rest_of_day = if today.0 < this_hour.0 {
        today.0
    } else {
        this_hour.1
    };
    // This week but not today: the week's start, unless today is its first day.
    let rest_of_week = if this_week.0 < today.0 {
        this_week.0
    } else {
        today.1
    };
    Some(
        [
            (this_hour.0, in_hour),
            (rest_of_day, in_day.saturating_sub(in_hour)),
            (rest_of_week, in_week.saturating_sub(in_day)),
        ]
        .into_iter()
        .filter(|(_, count)| *count > 0)
        .collect(),
    )
}

/// The fixed window of `period` that holds `at`, in `zone`: the local hour, the local day (23
/// or 25 hours long across a DST change), or the week from Monday 00:00. `[start, end)`.
pub fn period_window(
    at: Timestamp,
    period: crate::model::Period,
    zone: &jiff::tz::TimeZone,
) -> Option<(Timestamp, Timestamp)> {
    use crate::model::Period;
    let local = zone.to_datetime(at);
    let midnight = |date: Date| {
        zone.to_ambiguous_timestamp(date.to_datetime(jiff::civil::Time::midnight()))
            .compatible()
            .ok()
    };
    match period {
        Period::Hour => {
            // The instant minus the local minutes and seconds: right in folds and in zones
            // whose offset is not a whole hour.
            let into = i64::from(local.minute()) * 60 + i64::from(local.second());
            let start = at
                .checked_sub(jiff::SignedDuration::new(into, local.subsec_nanosecond()))
                .ok()?;
            let end = start
                .checked_add(jiff::SignedDuration::from_hours(1))
                .ok()?;
            Some((start, end))
        }
        Period::Day => Some((
            midnight(local.date())?,
            midnight(local.date().tomorrow().ok()?)?,
        )),
        Period::Week => {
            let back = i64::from(local.weekday().to_monday_zero_offset());
            let monday = local
                .date()
                .checked_sub(jiff::Span::new().days(back))
                .ok()?;
            let next = monday.checked_add(jiff::Span::new().days(7)).ok()?;
            Some((midnight(monday)?, midnight(next)?))
        }
    }
}

/// The working seconds between `from` and `to` (0 when `to` is not after `from`): how long a
/// rep took to respond, counted as the SLA clock counts.
pub fn working_seconds(calendar: &CalendarDef, from: Timestamp, to: Timestamp) -> i64 {
    if to <= from {
        return 0;
    }
    let mut total = 0;
    let mut date = calendar.zone.to_datetime(from).date();
    let last = calendar.zone.to_datetime(to).date();
    for _ in 0..HORIZON_DAYS {
        for (open, close) in intervals(calendar, date) {
            let start = open.max(from);
            let end = close.min(to);
            if end > start {
                total += (end - start).as_secs();
            }
        }
        if date >= last {
            break;
        }
        let Ok(next) = date.tomorrow() else {
            break;
        };
        date = next;
    }
    total
}

/// `start` plus `seconds` of working time.
fn add_working(
    calendar: &CalendarDef,
    start: Timestamp,
    seconds: u64,
    days: Option<&DayCache>,
) -> Option<Timestamp> {
    let mut remaining = i64::try_from(seconds).ok()?;
    let mut now = start;
    let mut horizon = HORIZON_DAYS;
    let remembered = days.and_then(|days| {
        days.with_day(calendar, start, |date, intervals| {
            (
                date,
                spend(intervals.iter().copied(), &mut now, &mut remaining),
            )
        })
    });
    let mut date = match remembered {
        Some((_, Some(done))) => return done,
        Some((date, None)) => {
            horizon -= 1;
            date.tomorrow().ok()?
        }
        None => calendar.zone.to_datetime(start).date(),
    };
    for _ in 0..horizon {
        if let Some(done) = spend(intervals(calendar, date), &mut now, &mut remaining) {
            return done;
        }
        date = date.tomorrow().ok()?;
    }
    None
}

/// Spends `remaining` seconds of the working `intervals` of one day from `now`: `Some` with the
/// instant it runs out at (`None` inside past the last instant), or `None` with what is left
/// at the day's end.
fn spend(
    intervals: impl Iterator<Item = (Timestamp, Timestamp)>,
    now: &mut Timestamp,
    remaining: &mut i64,
) -> Option<Option<Timestamp>> {
    for (open, close) in intervals {
        if *now >= close {
            continue;
        }
        *now = (*now).max(open);
        let available = (close - *now).as_secs();
        if *remaining <= available {
            return Some(
                now.checked_add(jiff::SignedDuration::from_secs(*remaining))
                    .ok(),
            );
        }
        *remaining -= available;
        *now = close;
    }
    None
}

/// The local dates asked for, per calendar: the instants each spans, its working intervals
/// and, when no offset change falls in it, its UTC offset. Times computed on a date met before
/// (nearly every lead of a run: leads come from a few weeks) skip the time-zone lookups; the
/// answers are those without it. At most [`MOST_DAYS`] dates per calendar are kept (further
/// dates are read afresh), and [`MOST_DAYS_IN_ALL`] in all (past that, all are forgotten).
#[derive(Debug, Default)]
pub struct DayCache(std::cell::RefCell<Vec<CalendarDays>>);

/// The most dates remembered for one calendar: a few years of leads.
const MOST_DAYS: usize = 1_024;

/// The most dates a due or escalation time walks through remembered dates (a lead late on a
/// Friday before a long weekend is due some days later); further dates are read afresh.
const REMEMBERED_WALK: usize = 16;

/// The most dates remembered for all calendars together (a policy may have thousands of
/// calendars): past that, every calendar's are forgotten at once.
const MOST_DAYS_IN_ALL: usize = 16_384;

/// One calendar's remembered dates, in date order (so in the order of their spans too: a
/// date's span ends where the next date's begins).
#[derive(Debug)]
struct CalendarDays {
    /// The calendar's address: a cache belongs to one policy, whose calendars do not move.
    calendar: usize,
    days: Vec<RememberedDay>,
}

#[derive(Debug)]
struct RememberedDay {
    date: Date,
    /// The first instant of the date and the first of the next.
    span: (Timestamp, Timestamp),
    intervals: Vec<(Timestamp, Timestamp)>,
    offset: Option<jiff::tz::Offset>,
}

impl CalendarDays {
    /// The remembered date whose span holds `instant`.
    fn spanning(&self, instant: Timestamp) -> Option<&RememberedDay> {
        let after = self.days.partition_point(|day| day.span.0 <= instant);
        self.days
            .get(after.checked_sub(1)?)
            .filter(|day| instant < day.span.1)
    }

    /// The index of the remembered date of `instant`, remembered now if it was not, as
    /// [`DayCache::with_day`] finds it; `None` where its span cannot be computed or does not
    /// hold `instant`.
    fn index_spanning(&mut self, calendar: &CalendarDef, instant: Timestamp) -> Option<usize> {
        // Within the span is within the date unless a change straddles midnight (a fall-back
        // at 00:01 repeats the day before's last hour inside it): on a day with a change, the
        // date is looked up.
        let after = self.days.partition_point(|day| day.span.0 <= instant);
        let held = after.checked_sub(1).filter(|&at| {
            self.days.get(at).is_some_and(|day| {
                instant < day.span.1
                    && (day.offset.is_some()
                        || calendar.zone.to_datetime(instant).date() == day.date)
            })
        });
        if held.is_some() {
            return held;
        }
        let at = self.index_of(calendar, calendar.zone.to_datetime(instant).date())?;
        self.days
            .get(at)
            .is_some_and(|day| day.span.0 <= instant && instant < day.span.1)
            .then_some(at)
    }

    /// The index of `date`, remembered now if it was not; `None` where its span cannot be
    /// computed.
    fn index_of(&mut self, calendar: &CalendarDef, date: Date) -> Option<usize> {
        match self.find(date) {
            Ok(at) => Some(at),
            Err(_) => {
                self.remember(calendar, date)?;
                self.find(date).ok()
            }
        }
    }

    /// The remembered `date`, or where it would go.
    fn find(&self, date: Date) -> Result<usize, usize> {
        self.days.binary_search_by(|day| day.date.cmp(&date))
    }

    /// Remembers `date` of `calendar` (not remembered yet); `None` where its span cannot be
    /// computed, or the calendar has [`MOST_DAYS`] dates already.
    fn remember(&mut self, calendar: &CalendarDef, date: Date) -> Option<&RememberedDay> {
        // A calendar met on more dates than are kept (leads over years, in no order) keeps the
        // ones it has: clearing them would have every later lead remember dates again.
        if self.days.len() >= MOST_DAYS {
            return None;
        }
        let span = (
            calendar.instant_at(date, 0)?,
            calendar.instant_at(date, 86_400)?,
        );
        // The offset holds for the whole day when the zone's next change is after it.
        let changes = calendar.zone.following(span.0).next();
        let offset = changes
            .is_none_or(|change| change.timestamp() >= span.1)
            .then(|| calendar.zone.to_offset(span.0));
        let day = RememberedDay {
            date,
            span,
            intervals: intervals(calendar, date).collect(),
            offset,
        };
        let at = self.find(date).unwrap_or_else(|at| at);
        self.days.insert(at, day);
        self.days.get(at)
    }
}

impl DayCache {
    /// Runs `visit` on the dates remembered for `calendar`, made empty if there are none yet.
    fn with_calendar<T>(
        &self,
        calendar: &CalendarDef,
        visit: impl FnOnce(&mut CalendarDays) -> T,
    ) -> T {
        let address = std::ptr::from_ref(calendar) as usize;
        let mut calendars = self.0.borrow_mut();
        if calendars.iter().map(|days| days.days.len()).sum::<usize>() >= MOST_DAYS_IN_ALL {
            for days in calendars.iter_mut() {
                days.days.clear();
            }
        }
        let at = match calendars.iter().position(|days| days.calendar == address) {
            Some(at) => at,
            None => {
                calendars.push(CalendarDays {
                    calendar: address,
                    days: Vec::new(),
                });
                calendars.len() - 1
            }
        };
        visit(&mut calendars[at])
    }

    /// [`add_working`] walking the remembered dates from the one of `start`, under one borrow,
    /// with the UTC offset at the answer when its date has one all day: `Some` with the answer
    /// ([`add_working`]'s), `None` when a date met cannot be remembered (its span cannot be
    /// computed, or `start` is in a day's repeated hour): then [`add_working`] answers.
    fn add_working(
        &self,
        calendar: &CalendarDef,
        start: Timestamp,
        seconds: u64,
    ) -> Option<Option<(Timestamp, Option<jiff::tz::Offset>)>> {
        let Ok(mut remaining) = i64::try_from(seconds) else {
            return Some(None);
        };
        self.with_calendar(calendar, |days| {
            let mut at = days.index_spanning(calendar, start)?;
            let mut now = start;
            let mut walked = 0;
            let mut date = loop {
                let day = days.days.get(at)?;
                if let Some(done) = spend(day.intervals.iter().copied(), &mut now, &mut remaining) {
                    return Some(done.map(|instant| {
                        let within = day.span.0 <= instant && instant < day.span.1;
                        (instant, day.offset.filter(|_| within))
                    }));
                }
                walked += 1;
                let Ok(next) = day.date.tomorrow() else {
                    return Some(None);
                };
                if walked >= HORIZON_DAYS {
                    return Some(None);
                }
                if walked >= REMEMBERED_WALK {
                    break next;
                }
                at = match days.days.get(at + 1) {
                    Some(day) if day.date == next => at + 1,
                    _ => match days.index_of(calendar, next) {
                        Some(at) => at,
                        // Not kept: read afresh from here on.
                        None => break next,
                    },
                };
            };
            // Past the first days the walk reads each date afresh, as `add_working` does: a
            // long time on a sparse calendar walks thousands of dates, which remembering would
            // only churn.
            for _ in walked..HORIZON_DAYS {
                if let Some(done) = spend(intervals(calendar, date), &mut now, &mut remaining) {
                    return Some(done.map(|instant| (instant, None)));
                }
                let Ok(next) = date.tomorrow() else {
                    return Some(None);
                };
                date = next;
            }
            Some(None)
        })
    }

    /// Runs `visit` on the local date of `instant` on `calendar` and its working intervals;
    /// `None` where the date's span cannot be computed.
    fn with_day<T>(
        &self,
        calendar: &CalendarDef,
        instant: Timestamp,
        visit: impl FnOnce(Date, &[(Timestamp, Timestamp)]) -> T,
    ) -> Option<T> {
        self.with_calendar(calendar, |days| {
            let at = days.index_spanning(calendar, instant)?;
            let day = days.days.get(at)?;
            Some(visit(day.date, &day.intervals))
        })
    }

    /// The UTC offset of `calendar` at `instant`.
    pub fn offset(&self, calendar: &CalendarDef, instant: Timestamp) -> jiff::tz::Offset {
        let address = std::ptr::from_ref(calendar) as usize;
        let calendars = self.0.borrow();
        calendars
            .iter()
            .find(|days| days.calendar == address)
            .and_then(|days| days.spanning(instant))
            .and_then(|day| day.offset)
            .unwrap_or_else(|| calendar.zone.to_offset(instant))
    }
}

/// `count` working days after the start of the clock, at the same local time of day (or that
/// day's closing time, if it closes earlier).
fn add_business_days(calendar: &CalendarDef, start: Timestamp, count: u64) -> Option<Timestamp> {
    let begin = next_opening(calendar, start)?;
    let local_begin = calendar.zone.to_datetime(begin);
    let time_of_day = local_begin.time();
    let mut date = local_begin.date();
    let mut left = count;
    for _ in 0..HORIZON_DAYS {
        if left == 0 {
            let target = calendar
                .zone
                .to_ambiguous_timestamp(date.to_datetime(time_of_day))
                .compatible()
                .ok()?;
            let day: Vec<(Timestamp, Timestamp)> = intervals(calendar, date).collect();
            let inside = day
                .iter()
                .any(|(open, close)| *open <= target && target <= *close);
            return Some(if inside {
                target
            } else {
                // The day closes earlier than the time the clock started: due at its close.
                day.iter()
                    .map(|(_, close)| *close)
                    .filter(|close| *close <= target)
                    .max()
                    .unwrap_or(target)
            });
        }
        date = date.tomorrow().ok()?;
        if intervals(calendar, date).next().is_some() {
            left -= 1;
        }
    }
    None
}

/// An instant as RFC 3339 with the calendar's UTC offset at that instant (or `Z` without one).
pub fn format(instant: Timestamp, calendar: Option<&CalendarDef>) -> String {
    match calendar {
        Some(calendar) => {
            let offset = calendar.zone.to_offset(instant);
            instant.display_with_offset(offset).to_string()
        }
        None => instant.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn berlin() -> CalendarDef {
        let nine_to_six = vec![(9 * 3_600, 18 * 3_600)];
        CalendarDef::new(
            "berlin".to_string(),
            jiff::tz::db().get("Europe/Berlin").unwrap(),
            [
                nine_to_six.clone(),
                nine_to_six.clone(),
                nine_to_six.clone(),
                nine_to_six.clone(),
                nine_to_six,
                Vec::new(),
                Vec::new(),
            ],
            BTreeSet::from(["2026-12-24".parse().unwrap(), "2026-12-25".parse().unwrap()]),
        )
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn due(start: &str, duration: DurationKind) -> String {
        let calendar = berlin();
        format(
            add(at(start), duration, Some(&calendar)).unwrap(),
            Some(&calendar),
        )
    }

    const FIFTEEN_MINUTES: DurationKind = DurationKind::Fixed { seconds: 900 };

    #[test]
    fn the_clock_starts_at_the_next_opening() {
        // 22:00 Thursday + 15m is due 09:15 Friday.
        assert_eq!(
            due("2026-11-26T22:00:00+01:00", FIFTEEN_MINUTES),
            "2026-11-27T09:15:00+01:00"
        );
        // 17:55 Friday + 15m is due 09:10 Monday.
        assert_eq!(
            due("2026-11-27T17:55:00+01:00", FIFTEEN_MINUTES),
            "2026-11-30T09:10:00+01:00"
        );
        // Inside working time: plain addition.
        assert_eq!(
            due("2026-11-23T10:00:00+01:00", FIFTEEN_MINUTES),
            "2026-11-23T10:15:00+01:00"
        );
    }

    #[test]
    fn holidays_and_dst_are_skipped() {
        // Wednesday 23 December 17:30 + 1h: 30 minutes left, then 24th and 25th are holidays,
        // then a weekend: due Monday 28th at 09:30.
        assert_eq!(
            due(
                "2026-12-23T17:30:00+01:00",
                DurationKind::Fixed { seconds: 3_600 }
            ),
            "2026-12-28T09:30:00+01:00"
        );
        // Across the end of daylight saving time (25 October 2026): offsets change, working
        // time does not: Friday 17:00 CEST + 2h = Monday 10:00 CET.
        assert_eq!(
            due(
                "2026-10-23T17:00:00+02:00",
                DurationKind::Fixed { seconds: 7_200 }
            ),
            "2026-10-26T10:00:00+01:00"
        );
    }

    #[test]
    fn business_days_keep_the_time_of_day() {
        let two_days = DurationKind::Business {
            count: 2,
            unit: BusinessUnit::Days,
        };
        assert_eq!(
            due("2026-11-26T11:00:00+01:00", two_days),
            "2026-11-30T11:00:00+01:00"
        );
        // After hours, the clock starts at the next opening.
        assert_eq!(
            due("2026-11-26T20:00:00+01:00", two_days),
            "2026-12-01T09:00:00+01:00"
        );
        let four_hours = DurationKind::Business {
            count: 4,
            unit: BusinessUnit::Hours,
        };
        assert_eq!(
            due("2026-11-27T16:00:00+01:00", four_hours),
            "2026-11-30T11:00:00+01:00"
        );
    }
}

#[cfg(test)]
mod remembered_days {
    use super::*;
    use std::collections::BTreeSet;

    /// A calendar in `zone` with `hours` (seconds from midnight) every day (DST changes fall on
    /// Sundays in many zones) but Saturday, and a holiday.
    fn calendar(zone: &str, hours: &[(u32, u32)]) -> CalendarDef {
        let day = hours.to_vec();
        CalendarDef::new(
            zone.to_string(),
            jiff::tz::db().get(zone).unwrap(),
            [
                day.clone(),
                day.clone(),
                day.clone(),
                day.clone(),
                day.clone(),
                Vec::new(),
                day,
            ],
            BTreeSet::from(["2026-04-06".parse().unwrap()]),
        )
    }

    /// `inside CAL` and `on shift` ([`CalendarDef::contains`]) say "working" for exactly the
    /// instants the SLA clock counts as working time, on the days clocks change too: hours that
    /// begin or end in the hour that repeats (`00:00-02:30` in Berlin's autumn), in the hour
    /// that is skipped (`02:30-04:00` in its spring), half-hour changes (Lord Howe), a change
    /// at midnight (São Paulo's old rules). Every five minutes from a day and a half before each
    /// change to a day and a half after.
    #[test]
    fn working_time_is_the_same_for_inside_and_for_the_sla_clock() {
        let instant_of = |text: &str| -> Timestamp { text.parse().unwrap() };
        let calendars = [
            calendar(
                "Europe/Berlin",
                &[(0, 2 * 3_600 + 1_800), (9 * 3_600, 18 * 3_600)],
            ),
            calendar("Europe/Berlin", &[(2 * 3_600 + 1_800, 4 * 3_600)]),
            calendar("Europe/Berlin", &[(2 * 3_600, 3 * 3_600)]),
            calendar("America/New_York", &[(3_600 + 1_800, 86_400)]),
            calendar("Australia/Lord_Howe", &[(3_600 + 900, 2 * 3_600 + 900)]),
            calendar("America/Sao_Paulo", &[(0, 3_600), (8 * 3_600, 20 * 3_600)]),
        ];
        for calendar in &calendars {
            let changes: Vec<Timestamp> = calendar
                .zone
                .following(instant_of("2016-01-01T00:00:00Z"))
                .take(4)
                .map(|change| change.timestamp())
                .collect();
            assert!(!changes.is_empty(), "{}", calendar.name);
            for change in changes {
                let mut instant = change - jiff::SignedDuration::from_hours(36);
                while instant < change + jiff::SignedDuration::from_hours(36) {
                    let date = calendar.zone.to_datetime(instant).date();
                    let counted = intervals(calendar, date)
                        .any(|(open, close)| open <= instant && instant < close);
                    assert_eq!(
                        calendar.contains(instant),
                        counted,
                        "{} at {instant} ({})",
                        calendar.name,
                        calendar.zone.to_datetime(instant)
                    );
                    instant += jiff::SignedDuration::from_mins(5);
                }
            }
        }
        // Far from a change, the wall clock is read directly: the same answer.
        let berlin = &calendars[0];
        assert!(berlin.contains(instant_of("2026-11-23T08:30:00Z")));
        assert!(!berlin.contains(instant_of("2026-11-23T17:30:00Z")));
        // Before 1900 and after 2200 no change is known: read through the day's intervals.
        assert!(berlin.contains(instant_of("2300-06-03T08:30:00Z")));
    }

    /// `add_local` through `days` answers `fresh` (the time computed afresh) with the
    /// calendar's offset there.
    fn assert_local_is_fresh(
        at: Timestamp,
        duration: DurationKind,
        calendar: &CalendarDef,
        days: &DayCache,
        fresh: Option<Timestamp>,
    ) {
        assert_eq!(
            add_local(at, duration, Some(calendar), days),
            fresh.map(|due| (due, Some(calendar.zone.to_offset(due)))),
            "{} at {at}",
            calendar.name
        );
    }

    /// Across DST changes (at 02:00, at midnight in São Paulo's old rules, half an hour on Lord
    /// Howe, 45 minutes off the hour in the Chathams) and days that span midnight or the whole
    /// day, the remembered days give the same times and offsets as computing each afresh.
    #[test]
    fn remembered_days_answer_as_fresh_lookups_do() {
        let calendars = [
            calendar("Europe/Berlin", &[(9 * 3_600, 18 * 3_600)]),
            calendar("America/New_York", &[(0, 86_400)]),
            calendar("America/Sao_Paulo", &[(0, 3_600), (8 * 3_600, 20 * 3_600)]),
            calendar(
                "Australia/Lord_Howe",
                &[(1_800, 2 * 3_600 + 1_800), (22 * 3_600, 86_400)],
            ),
            calendar("Pacific/Chatham", &[(6 * 3_600, 23 * 3_600)]),
            calendar("UTC", &[(9 * 3_600, 17 * 3_600)]),
        ];
        let durations = [
            DurationKind::Fixed { seconds: 1 },
            DurationKind::Fixed { seconds: 900 },
            DurationKind::Fixed { seconds: 7_200 },
            DurationKind::Fixed {
                seconds: 30 * 3_600,
            },
            DurationKind::Business {
                count: 3,
                unit: BusinessUnit::Hours,
            },
        ];
        let days = DayCache::default();
        let mut checked = 0;
        for (year, step) in [(2018, 7_919i64), (2026, 4_513)] {
            let start: Timestamp = format!("{year}-01-01T00:00:00Z").parse().unwrap();
            let mut at = start;
            while at < start + jiff::SignedDuration::from_hours(366 * 24) {
                for calendar in &calendars {
                    for duration in durations {
                        let fresh = add(at, duration, Some(calendar));
                        let remembered = add_remembering(at, duration, Some(calendar), Some(&days));
                        assert_eq!(remembered, fresh, "{} at {at}", calendar.name);
                        assert_local_is_fresh(at, duration, calendar, &days, fresh);
                        if let Some(due) = fresh {
                            assert_eq!(
                                days.offset(calendar, due),
                                calendar.zone.to_offset(due),
                                "{} at {due}",
                                calendar.name
                            );
                        }
                        checked += 1;
                    }
                }
                at += jiff::SignedDuration::from_secs(step);
            }
        }
        assert!(checked > 100_000, "{checked}");
        // A fall-back at 00:01 (Goose Bay until 2010): the day before's last hour comes again
        // inside the next date's span; minute by minute across it, with hours to midnight.
        let goose_bay = calendar("America/Goose_Bay", &[(22 * 3_600, 86_400)]);
        let mut at: Timestamp = "1990-10-28T01:00:00Z".parse().unwrap();
        while at < "1990-10-28T06:00:00Z".parse().unwrap() {
            for duration in durations {
                let fresh = add(at, duration, Some(&goose_bay));
                assert_eq!(
                    add_remembering(at, duration, Some(&goose_bay), Some(&days)),
                    fresh,
                    "Goose Bay at {at}"
                );
                assert_local_is_fresh(at, duration, &goose_bay, &days, fresh);
            }
            at += jiff::SignedDuration::from_secs(60);
        }
        // In no order, as a run's leads come, over more than three years: past the dates a
        // calendar keeps.
        let days = DayCache::default();
        let start: Timestamp = "2025-06-01T00:00:00Z".parse().unwrap();
        let mut random = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..40_000 {
            random = random
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let at =
                start + jiff::SignedDuration::from_secs((random >> 33) as i64 % (1_200 * 86_400));
            let calendar = &calendars[(random >> 20) as usize % calendars.len()];
            let duration = durations[(random >> 8) as usize % durations.len()];
            let fresh = add(at, duration, Some(calendar));
            assert_local_is_fresh(at, duration, calendar, &days, fresh);
            assert_eq!(
                add_remembering(at, duration, Some(calendar), Some(&days)),
                fresh,
                "{} at {at}",
                calendar.name
            );
            if let Some(due) = fresh {
                assert_eq!(days.offset(calendar, due), calendar.zone.to_offset(due));
            }
        }
        // Long times, which walk past the remembered dates into dates read afresh.
        let days = DayCache::default();
        for (n, calendar) in calendars.iter().cycle().take(6 * 1_500).enumerate() {
            let at =
                start + jiff::SignedDuration::from_secs((n as i64 * 7_919_993) % (400 * 86_400));
            let long = DurationKind::Fixed {
                seconds: 200 * 3_600,
            };
            let fresh = add(at, long, Some(calendar));
            assert_local_is_fresh(at, long, calendar, &days, fresh);
        }
        // Many calendars, each met on many dates: more than are remembered in all.
        let many: Vec<CalendarDef> = (0..24)
            .map(|n| calendar("Europe/Berlin", &[(9 * 3_600, (10 + n % 8) * 3_600)]))
            .collect();
        let days = DayCache::default();
        for step in 0..(MOST_DAYS_IN_ALL + MOST_DAYS_IN_ALL / 4) {
            let calendar = &many[step % many.len()];
            let at = start
                + jiff::SignedDuration::from_secs((step / many.len()) as i64 * 86_400 + 61_200);
            let fresh = add(at, durations[2], Some(calendar));
            assert_local_is_fresh(at, durations[2], calendar, &days, fresh);
        }
        let remembered: usize = days.0.borrow().iter().map(|days| days.days.len()).sum();
        assert!(remembered < MOST_DAYS_IN_ALL, "{remembered}");
        // Out of order too: a day remembered does not answer for another.
        let berlin = &calendars[0];
        for text in [
            "2026-03-29T08:00:00Z",
            "2026-03-28T08:00:00Z",
            "2026-10-25T00:30:00Z",
        ] {
            let at: Timestamp = text.parse().unwrap();
            assert_eq!(
                add_remembering(at, durations[2], Some(berlin), Some(&days)),
                add(at, durations[2], Some(berlin))
            );
        }
    }
}
