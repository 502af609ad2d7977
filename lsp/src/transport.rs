//! A guard in front of the protocol library's reader. tower-lsp-server stops reading for good at
//! the first message it cannot decode (a framing error or a body that is not a JSON-RPC message),
//! which would end the session over one bad byte. This layer reads the framed stream itself,
//! passes every well-formed message through unchanged, and drops (with a note on stderr) what
//! the library would choke on: bad headers, bodies that are not JSON, JSON that is not a message,
//! JSON nested deeper than [`MAX_DEPTH`]. A dropped request that has an id is answered: it is
//! replaced by a [`REJECTED`] request with the same id, which the server answers with an
//! "invalid request" error that says why, so the client never waits for ever. A body that is
//! not JSON, or whose id is neither an integer nor a string, is answered the same way with id
//! `null`, as JSON-RPC asks when the id cannot be known.

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

/// The largest message body accepted; larger bodies are skipped without being held in memory.
pub const MAX_BODY: usize = 256 * 1024 * 1024;

/// The deepest nesting of arrays and objects accepted in a message (the protocol's deepest is
/// about ten; the library's JSON reader gives up at 128 and ends the session).
pub const MAX_DEPTH: usize = 64;

/// The method a rejected request is replaced by; the server answers it with an error.
pub const REJECTED: &str = "switchboard/rejected";

/// Copies well-formed messages from `input` to `output` until `input` ends.
pub async fn forward_valid_messages(
    input: impl AsyncRead + Unpin,
    mut output: impl AsyncWrite + Unpin,
) {
    let mut reader = BufReader::new(input);
    loop {
        let length = match read_headers(&mut reader).await {
            Headers::End => break,
            Headers::Invalid(reason) => {
                stderr_line!("switchboard lsp: dropped a message: {reason}");
                continue;
            }
            Headers::Length(length) => length,
        };
        if length > MAX_BODY {
            stderr_line!("switchboard lsp: dropped a message of {length} bytes (limit {MAX_BODY})");
            let mut skipped = (&mut reader).take(length as u64);
            if tokio::io::copy(&mut skipped, &mut tokio::io::sink())
                .await
                .is_err()
            {
                break;
            }
            continue;
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).await.is_err() {
            break;
        }
        let body = match check_message(&body) {
            Ok(()) => body,
            Err(rejection) => {
                stderr_line!("switchboard lsp: dropped a message: {}", rejection.reason);
                match rejection.id {
                    Some(id) => serde_json::json!({
                        "jsonrpc": "2.0",
                        "id": id,
                        "method": REJECTED,
                        "params": { "reason": rejection.reason },
                    })
                    .to_string()
                    .into_bytes(),
                    None => continue,
                }
            }
        };
        let header = format!("Content-Length: {}\r\n\r\n", body.len());
        let written = async {
            output.write_all(header.as_bytes()).await?;
            output.write_all(&body).await?;
            output.flush().await
        };
        if written.await.is_err() {
            break;
        }
    }
    let _ = output.shutdown().await;
}

enum Headers {
    Length(usize),
    Invalid(String),
    End,
}

/// Reads one header block. A block without a valid `Content-Length` is invalid; the reader is
/// left at the start of the next line either way. A header that does not start its line (after
/// a body whose length was wrong) is still found, so the stream resynchronises at the next
/// message.
async fn read_headers(reader: &mut (impl AsyncBufReadExt + Unpin)) -> Headers {
    let mut length = None;
    let mut seen_any = false;
    loop {
        let line = match read_line_bounded(reader).await {
            None => return Headers::End,
            Some(Err(too_long)) => return Headers::Invalid(too_long),
            Some(Ok(line)) => line,
        };
        let text = String::from_utf8_lossy(&line);
        let mut text = text.trim_end_matches(['\r', '\n']);
        if text.is_empty() {
            if !seen_any {
                continue;
            }
            return match length {
                Some(length) => Headers::Length(length),
                None => Headers::Invalid("no Content-Length header".to_string()),
            };
        }
        if !seen_any && let Some(at) = text.find("Content-Length:").filter(|&at| at > 0) {
            stderr_line!(
                "switchboard lsp: skipped {at} bytes before a header: `{}`",
                shorten(&text[..at])
            );
            text = &text[at..];
        }
        seen_any = true;
        let Some((name, value)) = text.split_once(':') else {
            return Headers::Invalid(format!("`{}` is not a header", shorten(text)));
        };
        if name.trim().eq_ignore_ascii_case("content-length") {
            match value.trim().parse::<usize>() {
                Ok(parsed) => length = Some(parsed),
                Err(_) => {
                    return Headers::Invalid(format!("Content-Length `{}`", shorten(value.trim())));
                }
            }
        }
    }
}

/// The longest header line read whole; longer lines are skipped to their end.
const MAX_HEADER_LINE: usize = 8 * 1024;

/// One line (with its `\n`), or why it was skipped; `None` at the end of the input.
async fn read_line_bounded(
    reader: &mut (impl AsyncBufReadExt + Unpin),
) -> Option<Result<Vec<u8>, String>> {
    let mut line = Vec::new();
    let read = (&mut *reader)
        .take(MAX_HEADER_LINE as u64)
        .read_until(b'\n', &mut line)
        .await
        .ok()?;
    if read == 0 {
        return None;
    }
    if line.ends_with(b"\n") || read < MAX_HEADER_LINE {
        return Some(Ok(line));
    }
    // Skip the rest of an over-long line without holding it.
    loop {
        let buffer = reader.fill_buf().await.ok()?;
        if buffer.is_empty() {
            return None;
        }
        match buffer.iter().position(|&b| b == b'\n') {
            Some(newline) => {
                reader.consume(newline + 1);
                return Some(Err(format!(
                    "a header line longer than {MAX_HEADER_LINE} bytes"
                )));
            }
            None => {
                let all = buffer.len();
                reader.consume(all);
            }
        }
    }
}

/// The envelope of a JSON-RPC message; `params` and `result` are skipped, not built.
#[derive(serde::Deserialize)]
struct Envelope {
    jsonrpc: Option<String>,
    method: Option<Value>,
    id: Option<Value>,
    #[serde(default, rename = "params")]
    _params: Option<serde::de::IgnoredAny>,
    result: Option<serde::de::IgnoredAny>,
    error: Option<serde::de::IgnoredAny>,
}

/// Why a message was dropped, and the id to answer it with when it was a request.
struct Rejection {
    reason: String,
    id: Option<Value>,
}

/// Whether a body is a JSON-RPC 2.0 message the protocol library can decode.
fn check_message(body: &[u8]) -> Result<(), Rejection> {
    // A body that cannot be read, or whose id is of no allowed kind, is answered with id
    // `null`, as JSON-RPC asks when the id cannot be known.
    let envelope: Envelope = serde_json::from_slice(body).map_err(|error| Rejection {
        reason: format!("the body is not a JSON-RPC message: {error}"),
        id: Some(Value::Null),
    })?;
    // A request's id when it can be answered: a number or a string, and a method.
    let answerable = envelope
        .id
        .clone()
        .filter(|id| id.is_string() || id.is_i64() || id.is_u64())
        .filter(|_| matches!(envelope.method, Some(Value::String(_))));
    let reject = |reason: String| Rejection {
        reason,
        id: answerable.clone(),
    };
    if envelope.jsonrpc.as_deref() != Some("2.0") {
        return Err(reject("`jsonrpc` is not \"2.0\"".to_string()));
    }
    if let Some(id) = &envelope.id
        && !(id.is_null() || id.is_string() || id.is_i64() || id.is_u64())
    {
        return Err(Rejection {
            reason: "`id` is not an integer or a string".to_string(),
            id: Some(Value::Null),
        });
    }
    let depth = nesting_depth(body);
    if depth > MAX_DEPTH {
        return Err(reject(format!(
            "the message nests {depth} levels of arrays and objects; at most {MAX_DEPTH} are read"
        )));
    }
    match envelope.method {
        Some(Value::String(_)) => Ok(()),
        Some(_) => Err(reject("`method` is not a string".to_string())),
        None if envelope.id.is_some()
            && (envelope.result.is_some() || envelope.error.is_some()) =>
        {
            Ok(())
        }
        None => Err(reject(
            "neither a request, a notification nor a response".to_string(),
        )),
    }
}

/// The deepest nesting of arrays and objects in a JSON text (brackets inside strings do not
/// count), in one pass and constant memory.
fn nesting_depth(json: &[u8]) -> usize {
    let mut depth = 0usize;
    let mut deepest = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &byte in json {
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

fn shorten(text: &str) -> String {
    text.chars().take(60).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn pass(input: &[u8]) -> String {
        let mut out = Vec::new();
        forward_valid_messages(input, &mut out).await;
        String::from_utf8(out).unwrap()
    }

    fn framed(body: &str) -> String {
        format!("Content-Length: {}\r\n\r\n{body}", body.len())
    }

    #[tokio::test]
    async fn answers_or_drops_what_the_library_would_choke_on_and_keeps_the_rest() {
        let good = r#"{"jsonrpc":"2.0","id":1,"method":"shutdown"}"#;
        let input = [
            framed("{bad}"),
            framed(r#"{"foo":1}"#),
            framed(r#"{"jsonrpc":"2.0","id":[1],"method":"x"}"#),
            "Content-Type: nothing\r\n\r\n".to_string(),
            "garbage line\r\n\r\n".to_string(),
            "Content-Length: nine\r\n\r\n".to_string(),
            format!("{}\r\n\r\n", "x".repeat(20_000)),
            // A wrong length: the body runs into the next header, which is still found.
            format!("Content-Length: 3\r\n\r\n{good}"),
            framed(good),
        ]
        .concat();
        // What cannot be read, or has an id of no allowed kind, is answered with id `null` (a
        // request the server rejects); JSON that is no message at all is dropped.
        let rejected = |reason: &str| {
            framed(
                &serde_json::json!({
                    "jsonrpc": "2.0",
                    "id": null,
                    "method": REJECTED,
                    "params": { "reason": reason },
                })
                .to_string(),
            )
        };
        let expected = [
            rejected("the body is not a JSON-RPC message: key must be a string at line 1 column 2"),
            rejected("`id` is not an integer or a string"),
            rejected(
                "the body is not a JSON-RPC message: EOF while parsing a string at line 1 column 3",
            ),
            framed(good),
        ]
        .concat();
        assert_eq!(pass(input.as_bytes()).await, expected);
    }

    #[test]
    fn nesting_is_counted_outside_strings() {
        assert_eq!(nesting_depth(b"{}"), 1);
        assert_eq!(nesting_depth(br#"{"a":[1,{"b":[]}]}"#), 4);
        assert_eq!(nesting_depth(br#"{"a":"[[[[\"[[["}"#), 1);
        assert_eq!(nesting_depth(b"1"), 0);
    }

    #[tokio::test]
    async fn a_deep_request_is_answered_and_a_deep_notification_dropped() {
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let request =
            format!(r#"{{"jsonrpc":"2.0","id":5,"method":"textDocument/hover","params":{deep}}}"#);
        let notification = format!(r#"{{"jsonrpc":"2.0","method":"x","params":{deep}}}"#);
        let good = r#"{"jsonrpc":"2.0","id":6,"method":"shutdown"}"#;
        let input = [framed(&request), framed(&notification), framed(good)].concat();
        let out = pass(input.as_bytes()).await;
        let replaced = serde_json::json!({
            "jsonrpc": "2.0",
            "id": 5,
            "method": REJECTED,
            "params": {
                "reason": "the message nests 201 levels of arrays and objects; at most 64 are read"
            },
        })
        .to_string();
        assert_eq!(out, [framed(&replaced), framed(good)].concat());
    }

    #[tokio::test]
    async fn a_body_shorter_than_its_length_does_not_lose_the_next_message() {
        let good = r#"{"jsonrpc":"2.0","id":7,"method":"shutdown"}"#;
        // Length 200 swallows the next frame's header; the stream recovers at the one after.
        let input = [
            "Content-Length: 60\r\n\r\n{\"jsonrpc\":\"2.0\",\"method\":\"x\"}".to_string(),
            framed(good),
            framed(good),
        ]
        .concat();
        let out = pass(input.as_bytes()).await;
        assert!(out.ends_with(&framed(good)), "{out:?}");
    }

    #[tokio::test]
    async fn skips_bodies_over_the_limit_and_stops_at_a_truncated_body() {
        let good = r#"{"jsonrpc":"2.0","method":"exit"}"#;
        let input = format!("{}Content-Length: 100\r\n\r\n{{", framed(good));
        assert_eq!(pass(input.as_bytes()).await, framed(good));
    }
}
