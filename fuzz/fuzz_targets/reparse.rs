//! Reusing parsed items between versions: for an arbitrary text, an arbitrary edit of it, and the
//! cache of the first version, `parse_cached` must give exactly what a fresh parse gives.

#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_core::syntax::{ItemCache, Sequential, parse_cached, parse_with};

fuzz_target!(|data: &[u8]| {
    // The first two bytes place the edit; the rest, split at the first NUL, is the text and the
    // piece inserted.
    if data.len() < 2 {
        return;
    }
    let (place, rest) = data.split_at(2);
    let (text, piece) = match rest.iter().position(|&b| b == 0) {
        Some(nul) => (&rest[..nul], &rest[nul + 1..]),
        None => (rest, &[][..]),
    };
    let (Ok(text), Ok(piece)) = (std::str::from_utf8(text), std::str::from_utf8(piece)) else {
        return;
    };
    let (_, cache) = parse_cached(text, &ItemCache::default(), &Sequential);
    let mut at = usize::from(u16::from_le_bytes([place[0], place[1]])) % (text.len() + 1);
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let cut = (at + piece.len() % 7).min(text.len());
    let cut = (cut..=text.len()).find(|&i| text.is_char_boundary(i)).unwrap_or(text.len());
    let edited = format!("{}{}{}", &text[..at], piece, &text[cut..]);
    let (reused, _) = parse_cached(&edited, &cache, &Sequential);
    let fresh = parse_with(&edited, None);
    assert_eq!(reused.file, fresh.file);
    assert_eq!(reused.errors, fresh.errors);
});
