//! Small helpers for text shown to people: padding to a column (without `format!`'s width,
//! which panics past 65,535), cutting a name that would flood a message, and a length of time
//! as people read it (`1h05m`).

/// `text` padded with spaces to `width` characters (unchanged when already as wide).
pub fn pad(text: &str, width: usize) -> String {
    let mut out = String::with_capacity(text.len() + width);
    out.push_str(text);
    let count = text.chars().count();
    for _ in count..width {
        out.push(' ');
    }
    out
}

/// The longest name a message quotes whole; longer ones are cut.
pub const SHOWN_NAME_CHARS: usize = 80;

/// `name` as a message quotes it: whole when short, else its start, an ellipsis and its length.
pub fn cut(name: &str) -> std::borrow::Cow<'_, str> {
    match name.char_indices().nth(SHOWN_NAME_CHARS) {
        None => std::borrow::Cow::Borrowed(name),
        Some((end, _)) => std::borrow::Cow::Owned(format!(
            "{}… ({} characters)",
            &name[..end],
            name.chars().count()
        )),
    }
}

/// `message` with every backticked name longer than [`SHOWN_NAME_CHARS`] cut by [`cut`], so a
/// hostile megabyte-long name is quoted once, briefly, however many times a message names it.
pub fn cut_quoted(message: String) -> String {
    if message.len() <= SHOWN_NAME_CHARS * 2 {
        return message;
    }
    let mut out = String::with_capacity(message.len().min(4096));
    let mut rest = message.as_str();
    loop {
        let Some(open) = rest.find('`') else {
            out.push_str(rest);
            break;
        };
        out.push_str(&rest[..=open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('`') else {
            out.push_str(&cut(after));
            break;
        };
        out.push_str(&cut(&after[..close]));
        out.push('`');
        rest = &after[close + 1..];
    }
    // A name with backticks of its own turns part of itself into unquoted text; bound the whole.
    match out.char_indices().nth(LONGEST_MESSAGE_CHARS) {
        None => out,
        Some((end, _)) => {
            let count = out.chars().count();
            out.truncate(end);
            out.push_str(&format!("… (a message of {count} characters, cut)"));
            out
        }
    }
}

/// The longest message shown whole: room for a dozen cut names and the words around them.
pub const LONGEST_MESSAGE_CHARS: usize = 2_000;

/// "45s", "7m", "1h05m", "2d3h".
pub fn duration(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3_600 => format!("{}m", s / 60),
        3_600..86_400 => match (s / 3_600, s % 3_600 / 60) {
            (h, 0) => format!("{h}h"),
            (h, m) => format!("{h}h{m:02}m"),
        },
        _ => match (s / 86_400, s % 86_400 / 3_600) {
            (d, 0) => format!("{d}d"),
            (d, h) => format!("{d}d{h}h"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_and_cutting() {
        assert_eq!(pad("ab", 4), "ab  ");
        assert_eq!(pad("abcdef", 4), "abcdef");
        assert_eq!(pad("é", 3), "é  ");
        let long = "x".repeat(100_000);
        assert_eq!(pad(&long, 70_000).len(), 100_000);
        assert_eq!(pad("", 70_000).len(), 70_000);
        assert_eq!(cut("intent"), "intent");
        let shown = cut(&long);
        assert!(shown.starts_with(&"x".repeat(80)) && shown.ends_with("… (100000 characters)"));
        let message = format!("unknown field `{long}`; `{long}` is not declared in `policy`");
        let quoted = cut_quoted(message);
        assert!(quoted.len() < 300, "{quoted}");
        assert!(quoted.ends_with("(100000 characters)` is not declared in `policy`"));
        let short = "unknown field `intnet`".to_string();
        assert_eq!(cut_quoted(short.clone()), short);
        let unclosed = format!("a `{long}");
        assert!(cut_quoted(unclosed).len() < 200);
        // A name full of backticks: its pieces are quoted and not, alternately.
        let ticked = "`".repeat(3).to_string() + &"ab`".repeat(50_000);
        let message = cut_quoted(format!("unknown key `x` in rep `{ticked}`"));
        assert!(
            message.chars().count() < LONGEST_MESSAGE_CHARS + 60,
            "{message}"
        );
        assert!(message.ends_with("characters, cut)"));
    }
}
