//! Byte spans into a source text and their conversion to lines and columns.
//!
//! Spans are byte offsets so that slicing the source is free; every front end converts them at
//! its edge: 1-based lines and character columns for people and CI, UTF-16 units for the LSP.

use serde::Serialize;

/// A half-open byte range `start..end` into one source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    /// The zero-width span at `offset`.
    pub fn at(offset: usize) -> Span {
        Span::new(offset, offset)
    }

    pub fn len(self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(self) -> bool {
        self.start == self.end
    }

    /// The smallest span covering both.
    pub fn cover(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }

    pub fn contains(self, offset: usize) -> bool {
        self.start <= offset && offset < self.end
    }
}

impl From<pest::Span<'_>> for Span {
    fn from(span: pest::Span<'_>) -> Span {
        Span::new(span.start(), span.end())
    }
}

/// A 1-based line and column; the column counts characters (Unicode scalar values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct LineColumn {
    pub line: usize,
    pub column: usize,
}

/// Maps byte offsets of one text to lines and columns.
#[derive(Debug, Clone)]
pub struct LineIndex<'a> {
    text: &'a str,
    /// Byte offset of the start of every line.
    line_starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub fn new(text: &'a str) -> LineIndex<'a> {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(offset, _)| offset + 1));
        LineIndex { text, line_starts }
    }

    /// The 0-based line that holds `offset` (offsets past the end map to the last line).
    pub fn line_of(&self, offset: usize) -> usize {
        match self.line_starts.binary_search(&offset) {
            Ok(line) => line,
            Err(next) => next.saturating_sub(1),
        }
    }

    /// Byte offset where 0-based `line` starts, if the line exists.
    pub fn line_start(&self, line: usize) -> Option<usize> {
        self.line_starts.get(line).copied()
    }

    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }

    /// The 1-based line and character column of a byte offset (clamped to the text, and moved
    /// back to a character boundary if it falls inside one).
    pub fn line_column(&self, offset: usize) -> LineColumn {
        let offset = self.floor_boundary(offset);
        let line = self.line_of(offset);
        let start = self.line_starts[line];
        let column = self.text[start..offset].chars().count() + 1;
        LineColumn {
            line: line + 1,
            column,
        }
    }

    /// The byte offset of a 0-based line and UTF-16 column (as the LSP counts), clamped to the line.
    pub fn offset_of_utf16(&self, line: usize, utf16_column: usize) -> usize {
        let Some(start) = self.line_start(line) else {
            return self.text.len();
        };
        let end = self.line_start(line + 1).unwrap_or(self.text.len());
        let mut units = 0;
        for (index, ch) in self.text[start..end].char_indices() {
            if units >= utf16_column || ch == '\n' {
                return start + index;
            }
            units += ch.len_utf16();
        }
        end
    }

    /// The 0-based line and UTF-16 column of a byte offset (as the LSP counts).
    pub fn utf16_position(&self, offset: usize) -> (usize, usize) {
        let offset = self.floor_boundary(offset);
        let line = self.line_of(offset);
        let start = self.line_starts[line];
        let column = self.text[start..offset].encode_utf16().count();
        (line, column)
    }

    fn floor_boundary(&self, offset: usize) -> usize {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        offset
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_count_characters_not_bytes() {
        let text = "ab\nçé x\n";
        let index = LineIndex::new(text);
        assert_eq!(index.line_column(0), LineColumn { line: 1, column: 1 });
        assert_eq!(index.line_column(3), LineColumn { line: 2, column: 1 });
        let x = text.find('x').unwrap_or_default();
        assert_eq!(index.line_column(x), LineColumn { line: 2, column: 4 });
        assert_eq!(
            index.line_column(text.len()),
            LineColumn { line: 3, column: 1 }
        );
    }

    #[test]
    fn utf16_round_trip() {
        let text = "a😀b\nc";
        let index = LineIndex::new(text);
        let b = text.find('b').unwrap_or_default();
        assert_eq!(index.utf16_position(b), (0, 3));
        assert_eq!(index.offset_of_utf16(0, 3), b);
        assert_eq!(index.offset_of_utf16(0, 99), 6);
        assert_eq!(index.offset_of_utf16(7, 0), text.len());
    }
}
