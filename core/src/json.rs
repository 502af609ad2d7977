//! JSON with positions: a small reader that keeps the byte span of every value and key, so that
//! a problem in a data file (a roster, a mapping) is reported at its line and column. It reads
//! RFC 8259 JSON exactly (checked against JSONTestSuite), never panics, and refuses nesting
//! deeper than a limit before it could exhaust the stack.

use crate::span::Span;

/// A value and where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub span: Span,
    pub value: Value,
}

/// A JSON value. Numbers keep their text (the reader of the value decides what it may be).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(String),
    String(String),
    Array(Vec<Node>),
    Object(Vec<Member>),
}

/// One `"key": value` of an object, in order (repeated keys are kept, for the reader to judge).
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub key: String,
    pub key_span: Span,
    pub value: Node,
}

/// Why the text is not JSON, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    pub span: Span,
    pub message: String,
}

impl Value {
    /// "an object", "a string", … for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        }
    }
}

/// The deepest nesting [`parse`] accepts by default.
pub const MAX_DEPTH: usize = 128;

/// Reads one JSON value that is the whole text (whitespace around it allowed).
pub fn parse(text: &str, max_depth: usize) -> Result<Node, JsonError> {
    let mut reader = Reader {
        text,
        bytes: text.as_bytes(),
        at: 0,
        max_depth,
    };
    reader.whitespace();
    let node = reader.value(0)?;
    reader.whitespace();
    if reader.at < reader.bytes.len() {
        return Err(reader.error_here("more text after the JSON value"));
    }
    Ok(node)
}

struct Reader<'t> {
    text: &'t str,
    bytes: &'t [u8],
    at: usize,
    max_depth: usize,
}

impl Reader<'_> {
    fn error_here(&self, message: &str) -> JsonError {
        let end = next_boundary(self.text, self.at);
        JsonError {
            span: Span::new(self.at, end),
            message: message.to_string(),
        }
    }

    fn error_found(&self, expected: &str) -> JsonError {
        match self
            .text
            .get(self.at..)
            .and_then(|rest| rest.chars().next())
        {
            None => self.error_here(&format!("expected {expected}, found the end of the text")),
            Some(found) => self.error_here(&format!("expected {expected}, found `{found}`")),
        }
    }

    fn whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    fn value(&mut self, depth: usize) -> Result<Node, JsonError> {
        let start = self.at;
        let value = match self.bytes.get(self.at) {
            Some(b'{') => self.object(depth)?,
            Some(b'[') => self.array(depth)?,
            Some(b'"') => Value::String(self.string()?),
            Some(b'-' | b'0'..=b'9') => Value::Number(self.number()?),
            Some(b't') => self.word("true", Value::Bool(true))?,
            Some(b'f') => self.word("false", Value::Bool(false))?,
            Some(b'n') => self.word("null", Value::Null)?,
            _ => return Err(self.error_found("a JSON value")),
        };
        Ok(Node {
            span: Span::new(start, self.at),
            value,
        })
    }

    fn word(&mut self, word: &str, value: Value) -> Result<Value, JsonError> {
        if self.bytes[self.at..].starts_with(word.as_bytes()) {
            self.at += word.len();
            Ok(value)
        } else {
            Err(self.error_found("a JSON value"))
        }
    }

    fn nested(&self, depth: usize) -> Result<(), JsonError> {
        if depth >= self.max_depth {
            return Err(self.error_here(&format!("nested deeper than {} levels", self.max_depth)));
        }
        Ok(())
    }

    fn object(&mut self, depth: usize) -> Result<Value, JsonError> {
        self.nested(depth)?;
        self.at += 1;
        let mut members = Vec::new();
        self.whitespace();
        if self.bytes.get(self.at) == Some(&b'}') {
            self.at += 1;
            return Ok(Value::Object(members));
        }
        loop {
            self.whitespace();
            if self.bytes.get(self.at) != Some(&b'"') {
                return Err(self.error_found("a key in double quotes"));
            }
            let key_start = self.at;
            let key = self.string()?;
            let key_span = Span::new(key_start, self.at);
            self.whitespace();
            if self.bytes.get(self.at) != Some(&b':') {
                return Err(self.error_found("`:` after the key"));
            }
            self.at += 1;
            self.whitespace();
            let value = self.value(depth + 1)?;
            members.push(Member {
                key,
                key_span,
                value,
            });
            self.whitespace();
            match self.bytes.get(self.at) {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(Value::Object(members));
                }
                _ => return Err(self.error_found("`,` or `}`")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, JsonError> {
        self.nested(depth)?;
        self.at += 1;
        let mut items = Vec::new();
        self.whitespace();
        if self.bytes.get(self.at) == Some(&b']') {
            self.at += 1;
            return Ok(Value::Array(items));
        }
        loop {
            self.whitespace();
            items.push(self.value(depth + 1)?);
            self.whitespace();
            match self.bytes.get(self.at) {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.error_found("`,` or `]`")),
            }
        }
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.at += 1;
        let mut out = String::new();
        loop {
            let run_start = self.at;
            while let Some(&byte) = self.bytes.get(self.at) {
                if byte == b'"' || byte == b'\\' || byte < 0x20 {
                    break;
                }
                self.at += 1;
            }
            // The text is a `str`, and the run stops only at ASCII bytes: a boundary.
            out.push_str(self.text.get(run_start..self.at).unwrap_or_default());
            match self.bytes.get(self.at) {
                Some(b'"') => {
                    self.at += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.at += 1;
                    self.escape(&mut out)?;
                }
                Some(_) => return Err(self.error_here("a control character inside a string")),
                None => return Err(self.error_here("a string that is never closed")),
            }
        }
    }

    fn escape(&mut self, out: &mut String) -> Result<(), JsonError> {
        let Some(&byte) = self.bytes.get(self.at) else {
            return Err(self.error_here("a string that is never closed"));
        };
        self.at += 1;
        match byte {
            b'"' => out.push('"'),
            b'\\' => out.push('\\'),
            b'/' => out.push('/'),
            b'b' => out.push('\u{8}'),
            b'f' => out.push('\u{c}'),
            b'n' => out.push('\n'),
            b'r' => out.push('\r'),
            b't' => out.push('\t'),
            b'u' => {
                let first = self.hex4()?;
                let code = if (0xD800..0xDC00).contains(&first) {
                    if !self.bytes[self.at..].starts_with(b"\\u") {
                        return Err(self.error_here("a lone surrogate in `\\u` escapes"));
                    }
                    self.at += 2;
                    let second = self.hex4()?;
                    if !(0xDC00..0xE000).contains(&second) {
                        return Err(self.error_here("a lone surrogate in `\\u` escapes"));
                    }
                    0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
                } else if (0xDC00..0xE000).contains(&first) {
                    return Err(self.error_here("a lone surrogate in `\\u` escapes"));
                } else {
                    first
                };
                match char::from_u32(code) {
                    Some(ch) => out.push(ch),
                    None => return Err(self.error_here("an invalid `\\u` escape")),
                }
            }
            _ => {
                self.at -= 1;
                return Err(self.error_here("an invalid escape"));
            }
        }
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let digits = self
            .text
            .get(self.at..self.at + 4)
            .filter(|digits| digits.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| self.error_here("`\\u` needs four hex digits"))?;
        self.at += 4;
        u32::from_str_radix(digits, 16).map_err(|_| self.error_here("`\\u` needs four hex digits"))
    }

    fn number(&mut self) -> Result<String, JsonError> {
        let start = self.at;
        if self.bytes.get(self.at) == Some(&b'-') {
            self.at += 1;
        }
        match self.bytes.get(self.at) {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.error_found("a digit")),
        }
        if self.bytes.get(self.at) == Some(&b'.') {
            self.at += 1;
            if !self.bytes.get(self.at).is_some_and(u8::is_ascii_digit) {
                return Err(self.error_found("a digit after `.`"));
            }
            self.digits();
        }
        if let Some(b'e' | b'E') = self.bytes.get(self.at) {
            self.at += 1;
            if let Some(b'+' | b'-') = self.bytes.get(self.at) {
                self.at += 1;
            }
            if !self.bytes.get(self.at).is_some_and(u8::is_ascii_digit) {
                return Err(self.error_found("a digit in the exponent"));
            }
            self.digits();
        }
        Ok(self
            .text
            .get(start..self.at)
            .unwrap_or_default()
            .to_string())
    }

    fn digits(&mut self) {
        while self.bytes.get(self.at).is_some_and(u8::is_ascii_digit) {
            self.at += 1;
        }
    }
}

/// The next character boundary after `at` (the span of one character), or `at` at the end.
fn next_boundary(text: &str, at: usize) -> usize {
    text.get(at..)
        .and_then(|rest| rest.chars().next())
        .map_or(at, |ch| at + ch.len_utf8())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_keep_their_spans() {
        let text =
            r#"{ "reps": { "anna": { "open": 3 } }, "list": [true, null, "é\u00e9\ud83d\ude00"] }"#;
        let node = parse(text, MAX_DEPTH).unwrap();
        let Value::Object(members) = &node.value else {
            panic!("an object")
        };
        assert_eq!(
            &text[members[0].key_span.start..members[0].key_span.end],
            "\"reps\""
        );
        let Value::Array(items) = &members[1].value.value else {
            panic!("an array")
        };
        assert_eq!(items[2].value, Value::String("éé😀".to_string()));
        assert_eq!(&text[items[0].span.start..items[0].span.end], "true");
    }

    #[test]
    fn errors_say_where() {
        for (text, at, words) in [
            ("{\"a\": }", 6, "expected a JSON value, found `}`"),
            ("{\"a\" 1}", 5, "expected `:`"),
            ("[1, 2", 5, "found the end"),
            ("\"\\x\"", 2, "invalid escape"),
            ("01", 1, "more text"),
            ("[1.]", 3, "a digit after"),
            ("{} x", 3, "more text"),
        ] {
            let error = parse(text, MAX_DEPTH).unwrap_err();
            assert_eq!(error.span.start, at, "{text}: {error:?}");
            assert!(error.message.contains(words), "{text}: {}", error.message);
        }
        let deep = "[".repeat(200);
        assert!(
            parse(&deep, MAX_DEPTH)
                .unwrap_err()
                .message
                .contains("deeper")
        );
    }
}
