//! Byte spans to LSP ranges and back. The protocol counts columns in UTF-16 code units; the
//! library counts bytes. This is the only place that converts between them.

use switchboard_core::{LineIndex, Span};
use tower_lsp_server::ls_types::{Position, Range};

/// The LSP range of a byte span.
pub fn range(lines: &LineIndex<'_>, span: Span) -> Range {
    Range {
        start: position(lines, span.start),
        end: position(lines, span.end),
    }
}

/// The LSP position of a byte offset (clamped to the text).
pub fn position(lines: &LineIndex<'_>, offset: usize) -> Position {
    let (line, column) = lines.utf16_position(offset);
    Position {
        line: saturate(line),
        character: saturate(column),
    }
}

/// The byte offset of an LSP position, or `None` when the line is past the end of the text.
/// A column past the end of its line is clamped to the line's end, as the protocol asks.
pub fn offset(lines: &LineIndex<'_>, position: Position) -> Option<usize> {
    let line = position.line as usize;
    lines.line_start(line)?;
    Some(lines.offset_of_utf16(line, position.character as usize))
}

/// The byte span of an LSP range, or `None` when it starts past the end of the text. An end past
/// the end of the text is clamped to it (clients ask for "the whole document" that way).
pub fn span(lines: &LineIndex<'_>, range: Range) -> Option<Span> {
    let start = offset(lines, range.start)?;
    let end = offset(lines, range.end).unwrap_or_else(|| lines.offset_of_utf16(usize::MAX, 0));
    (start <= end).then(|| Span::new(start, end))
}

/// A span without the whitespace it ends with (item spans run up to the next item).
pub fn trim_end(text: &str, span: Span) -> Span {
    let Some(slice) = text.get(span.start..span.end) else {
        return span;
    };
    Span::new(span.start, span.start + slice.trim_end().len())
}

fn saturate(value: usize) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_utf16_code_units() {
        // `é` is 2 bytes and 1 UTF-16 unit; `😀` is 4 bytes and 2 units.
        let text = "# é😀\nqueue x\n";
        let lines = LineIndex::new(text);
        let queue = text.find("queue").unwrap();
        assert_eq!(position(&lines, queue), Position::new(1, 0));
        let after_emoji = text.find('\n').unwrap();
        assert_eq!(position(&lines, after_emoji), Position::new(0, 5));
        assert_eq!(offset(&lines, Position::new(0, 5)), Some(after_emoji));
        assert_eq!(offset(&lines, Position::new(0, 99)), Some(after_emoji));
        assert_eq!(offset(&lines, Position::new(7, 0)), None);
    }
}
