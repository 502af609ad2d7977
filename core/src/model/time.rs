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
