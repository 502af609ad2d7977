//! Instants as people read them: an RFC 3339 time with the UTC offset of the calendar it was
//! computed on (`2026-11-23T10:15:00+01:00`), or in UTC (`…Z`) when no calendar applies.

use super::CalendarDef;
use jiff::Timestamp;
use jiff::tz::Offset;
use std::fmt;

/// An instant with the offset it is shown in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LocalTime {
    pub instant: Timestamp,
    /// `None`: shown in UTC with `Z`.
    pub offset: Option<Offset>,
}

impl LocalTime {
    /// `instant` in the zone of `calendar` (UTC without one).
    pub fn on(instant: Timestamp, calendar: Option<&CalendarDef>) -> LocalTime {
        LocalTime {
            instant,
            offset: calendar.map(|calendar| calendar.zone.to_offset(instant)),
        }
    }

    /// `instant` in UTC, shown with `Z`.
    pub fn utc(instant: Timestamp) -> LocalTime {
        LocalTime {
            instant,
            offset: None,
        }
    }

    /// Reads an RFC 3339 time, keeping its offset (`Z` as UTC). `None` when it is not one.
    pub fn parse(text: &str) -> Option<LocalTime> {
        let instant: Timestamp = text.parse().ok()?;
        if text.ends_with('Z') || text.ends_with('z') {
            return Some(LocalTime::utc(instant));
        }
        let zoned: jiff::fmt::temporal::Pieces<'_> =
            jiff::fmt::temporal::Pieces::parse(text).ok()?;
        let offset = match zoned.offset()? {
            jiff::fmt::temporal::PiecesOffset::Numeric(numeric) => numeric.offset(),
            jiff::fmt::temporal::PiecesOffset::Zulu => return Some(LocalTime::utc(instant)),
            _ => return None,
        };
        Some(LocalTime {
            instant,
            offset: Some(offset),
        })
    }
}

impl LocalTime {
    /// Appends the time as its `Display` writes it (RFC 3339 with the offset, `Z` in UTC). The
    /// common case (whole seconds, years 1 to 9999, an offset of whole minutes) is written
    /// by hand, without the general formatter; anything else goes through `Display`.
    pub fn write_to(&self, out: &mut String) {
        let offset_seconds = self.offset.map_or(0, |offset| offset.seconds());
        let local = self
            .instant
            .as_second()
            .checked_add(i64::from(offset_seconds));
        let whole = self.instant.subsec_nanosecond() == 0 && offset_seconds % 60 == 0;
        let Some(local) = local.filter(|_| whole) else {
            let _ = fmt::Write::write_fmt(out, format_args!("{self}"));
            return;
        };
        let days = local.div_euclid(86_400);
        let second_of_day = local.rem_euclid(86_400);
        let mut text = [0u8; 25];
        let Some(date) = date_text(days) else {
            let _ = fmt::Write::write_fmt(out, format_args!("{self}"));
            return;
        };
        text[..10].copy_from_slice(&date);
        let mut put = |at: usize, value: i64| put_two_digits(&mut text, at, value);
        put(11, second_of_day / 3600);
        put(14, second_of_day / 60 % 60);
        put(17, second_of_day % 60);
        let length = match self.offset {
            None => {
                text[19] = b'Z';
                20
            }
            Some(_) => {
                let minutes = i64::from(offset_seconds.unsigned_abs() / 60);
                put(20, minutes / 60);
                put(23, minutes % 60);
                text[19] = if offset_seconds < 0 { b'-' } else { b'+' };
                text[22] = b':';
                25
            }
        };
        text[10] = b'T';
        text[13] = b':';
        text[16] = b':';
        // Only ASCII digits and separators were written.
        out.push_str(std::str::from_utf8(&text[..length]).unwrap_or_default());
    }
}

/// `YYYY-MM-DD` of the day `days` after 1970-01-01, for years 1 to 9999 (`None` beyond). The
/// dates written last are kept by day, per thread: a run's due and escalation times fall on a
/// few weeks of days, and most are written from there without the calendar arithmetic.
fn date_text(days: i64) -> Option<[u8; 10]> {
    /// How many dates are kept: a slot a day, chosen by the day's low bits.
    const KEPT: usize = 64;
    std::thread_local! {
        static DATES: std::cell::RefCell<[(i64, [u8; 10]); KEPT]> =
            const { std::cell::RefCell::new([(i64::MIN, [0; 10]); KEPT]) };
    }
    let slot = days.rem_euclid(KEPT as i64) as usize;
    let kept = DATES.with(|dates| {
        let dates = dates.try_borrow().ok()?;
        dates
            .get(slot)
            .filter(|(day, _)| *day == days)
            .map(|(_, text)| *text)
    });
    if kept.is_some() {
        return kept;
    }
    let (year, month, day) = civil_from_days(days);
    if !(1..=9999).contains(&year) {
        return None;
    }
    let mut text = *b"0000-00-00";
    for (at, value) in [(0, year / 100), (2, year % 100), (5, month), (8, day)] {
        put_two_digits(&mut text, at, value);
    }
    DATES.with(|dates| {
        if let Ok(mut dates) = dates.try_borrow_mut()
            && let Some(place) = dates.get_mut(slot)
        {
            *place = (days, text);
        }
    });
    Some(text)
}

/// Writes `value` (below 100) as two digits at `at` of `text`, from [`DIGIT_PAIRS`].
fn put_two_digits(text: &mut [u8], at: usize, value: i64) {
    let pair = usize::try_from(value.rem_euclid(100)).unwrap_or_default() * 2;
    if let (Some(to), Some(digits)) = (text.get_mut(at..at + 2), DIGIT_PAIRS.get(pair..pair + 2)) {
        to.copy_from_slice(digits);
    }
}

/// "00" to "99", each number's two digits at twice its place.
const DIGIT_PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// `Timestamp::from_nanosecond(nanos)`, without its 128-bit division where the nanoseconds fit
/// 64 bits (years 1678 to 2262: every lead's clock; routing reads it three times a lead).
pub fn instant_of_nanos(nanos: i128) -> Option<Timestamp> {
    match i64::try_from(nanos) {
        // Both parts truncated toward zero, so of one sign, as a timestamp holds them.
        Ok(nanos) => Timestamp::new(
            nanos / 1_000_000_000,
            i32::try_from(nanos % 1_000_000_000).ok()?,
        )
        .ok(),
        Err(_) => Timestamp::from_nanosecond(nanos).ok(),
    }
}

/// The proleptic Gregorian date of a day counted from 1970-01-01 (the public "days from civil"
/// inverse of H. Hinnant): year, month 1-12, day 1-31.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

impl fmt::Display for LocalTime {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.offset {
            Some(offset) => write!(formatter, "{}", self.instant.display_with_offset(offset)),
            None => write!(formatter, "{}", self.instant),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A xorshift generator from `seed`: the same numbers every run.
    fn numbers(mut seed: u64) -> impl FnMut() -> u64 {
        move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        }
    }

    #[test]
    fn instants_of_nanoseconds_are_jiffs() {
        let mut next = numbers(0x9e37_79b9_7f4a_7c15);
        let mut all: Vec<i128> = (0..100_000).map(|_| i128::from(next() as i64)).collect();
        all.extend((0..1_000).map(|_| i128::from(next() as i64) * 1_000_000_000));
        all.extend((0..1_000).map(|_| i128::from(next() as i64 % 10_000_000_000)));
        let max = Timestamp::MAX.as_nanosecond();
        let min = Timestamp::MIN.as_nanosecond();
        for edge in [
            0,
            1,
            -1,
            999_999_999,
            -999_999_999,
            1_000_000_000,
            -1_000_000_000,
        ] {
            all.extend([edge, max + edge, min + edge]);
        }
        all.extend([
            i128::from(i64::MAX),
            i128::from(i64::MIN),
            i128::MAX,
            i128::MIN,
        ]);
        for nanos in all {
            assert_eq!(
                instant_of_nanos(nanos),
                Timestamp::from_nanosecond(nanos).ok(),
                "{nanos}"
            );
        }
    }

    #[test]
    fn the_hand_written_form_is_the_general_one() {
        // Instants over the whole range jiff holds, and around epochs, leap days and year
        // ends; offsets of whole minutes, of seconds, and none.
        let mut next = numbers(0x2545_f491_4f6c_dd1d);
        let min = Timestamp::MIN.as_second();
        let max = Timestamp::MAX.as_second();
        let mut seconds: Vec<i64> = (0..20_000)
            .map(|_| min + (next() % (max - min) as u64) as i64)
            .collect();
        for year_start in [
            -62_135_596_800i64,
            0,
            951_782_400,
            1_709_164_800,
            253_402_300_799,
        ] {
            seconds.extend((-3..3).map(|day| year_start + day * 86_400 + (next() % 86_400) as i64));
        }
        let offsets = [
            None,
            Some(0),
            Some(3600),
            Some(-18_000),
            Some(20_700),
            Some(-34_200),
            Some(93_599),
            Some(-93_599),
            Some(3_630),
        ];
        for (index, second) in seconds.into_iter().enumerate() {
            let nanos = if index % 10 == 0 {
                (next() % 1_000_000_000) as i32
            } else {
                0
            };
            let Ok(instant) = Timestamp::new(second, nanos) else {
                continue;
            };
            for offset in offsets {
                let offset = offset.and_then(|seconds| Offset::from_seconds(seconds).ok());
                let time = LocalTime { instant, offset };
                let mut written = String::new();
                time.write_to(&mut written);
                assert_eq!(written, time.to_string(), "{instant:?} {offset:?}");
            }
        }
    }

    /// Times on 200 days, after 1970 and before it (negative day numbers), written in a
    /// scrambled order, as a run writes its due times: dates are kept, replaced by a day 64
    /// days away and kept again, and each time is written as the general form writes it.
    #[test]
    fn dates_kept_from_earlier_times_are_written_right() {
        let mut next = numbers(0x9e37_79b9_7f4a_7c15);
        for index in 0..50_000 {
            let start = if index % 2 == 0 {
                1_795_000_000i64
            } else {
                -300_000_000
            };
            let second = start + (next() % (200 * 86_400)) as i64;
            let offset = match next() % 3 {
                0 => None,
                1 => Offset::from_seconds(3_600).ok(),
                _ => Offset::from_seconds(-36_000).ok(),
            };
            let time = LocalTime {
                instant: Timestamp::from_second(second).expect("in range"),
                offset,
            };
            let mut written = String::new();
            time.write_to(&mut written);
            assert_eq!(written, time.to_string());
        }
    }

    #[test]
    fn local_times_read_back_as_written() {
        for text in [
            "2026-11-23T10:15:00+01:00",
            "2026-11-24T10:00:00-05:00",
            "2026-11-23T09:00:00Z",
            "2026-11-23T09:00:00.5Z",
            "2026-03-29T03:30:00+05:45",
        ] {
            let time = LocalTime::parse(text).unwrap();
            assert_eq!(time.to_string(), text);
        }
        assert_eq!(LocalTime::parse("yesterday"), None);
    }
}
