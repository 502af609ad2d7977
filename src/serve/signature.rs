//! Webhook signatures, by the published algorithms: HubSpot's v3 request signature and the
//! Standard Webhooks signature. Both are HMAC-SHA256 in base64, compared in constant time, with
//! deliveries older than five minutes refused. Checked on the raw body before it is parsed.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How old (or how far in the future) a signed timestamp may be.
pub const TOLERANCE_SECONDS: i64 = 300;

/// Why a delivery's signature was refused: said in the 401 answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// A header the scheme needs is not there.
    Missing(&'static str),
    /// The timestamp is not a number.
    BadTimestamp(String),
    /// The timestamp is more than five minutes from now, by this many seconds.
    Stale(i64),
    /// No signature matches the body.
    Mismatch,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::Missing(header) => write!(formatter, "the `{header}` header is missing"),
            Refused::BadTimestamp(value) => {
                write!(formatter, "the timestamp `{value}` is not a number")
            }
            // `seconds`: now less the signing time, so negative when signed in the future.
            Refused::Stale(seconds) if *seconds < 0 => write!(
                formatter,
                "the delivery is signed {} s in the future (more than {TOLERANCE_SECONDS} s \
                 ahead): a clock that is wrong, here or at the sender",
                seconds.unsigned_abs()
            ),
            Refused::Stale(seconds) => write!(
                formatter,
                "the delivery was signed {seconds} s ago (more than {TOLERANCE_SECONDS} s): a \
                 replay, or a clock that is wrong"
            ),
            Refused::Mismatch => write!(
                formatter,
                "the signature does not match the body: a wrong secret, or a changed body"
            ),
        }
    }
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC takes a key of any length.
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable_key(),
    };
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

#[cold]
fn unreachable_key() -> Hmac<Sha256> {
    // `new_from_slice` fails only for fixed-size keys; HMAC accepts every length. Keep a
    // working (empty-key) MAC rather than panic.
    <Hmac<Sha256> as hmac::digest::KeyInit>::new(&Default::default())
}

/// Equal bytes, compared without stopping at the first difference.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn fresh(signed_at_seconds: i64, now_seconds: i64) -> Result<(), Refused> {
    let off = now_seconds.saturating_sub(signed_at_seconds);
    if off.abs() > TOLERANCE_SECONDS {
        Err(Refused::Stale(off))
    } else {
        Ok(())
    }
}

/// HubSpot's v3 signature: base64(HMAC-SHA256(app secret, method + URI + body + timestamp)),
/// where the URI is the full URL HubSpot called (with a few percent-escapes decoded, as
/// HubSpot does) and the timestamp is `X-HubSpot-Request-Timestamp` in milliseconds.
pub fn hubspot_v3(secret: &str, method: &str, uri: &str, body: &[u8], timestamp: &str) -> String {
    let uri = hubspot_decode_uri(uri);
    BASE64.encode(hmac_sha256(
        secret.as_bytes(),
        &[
            method.as_bytes(),
            uri.as_bytes(),
            body,
            timestamp.as_bytes(),
        ],
    ))
}

/// Checks a HubSpot v3 delivery; `now_ms` is the current time in milliseconds.
pub fn verify_hubspot_v3(
    secret: &str,
    method: &str,
    uri: &str,
    body: &[u8],
    signature: Option<&str>,
    timestamp: Option<&str>,
    now_ms: i64,
) -> Result<(), Refused> {
    let signature = signature.ok_or(Refused::Missing("X-HubSpot-Signature-v3"))?;
    let timestamp = timestamp.ok_or(Refused::Missing("X-HubSpot-Request-Timestamp"))?;
    let millis: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| Refused::BadTimestamp(timestamp.to_string()))?;
    // HubSpot refuses only old deliveries; a future one is as suspicious.
    fresh(millis.div_euclid(1000), now_ms.div_euclid(1000))?;
    let expected = hubspot_v3(secret, method, uri, body, timestamp.trim());
    if constant_time_eq(expected.as_bytes(), signature.trim().as_bytes()) {
        Ok(())
    } else {
        Err(Refused::Mismatch)
    }
}

/// The escapes HubSpot decodes in the URI before signing.
fn hubspot_decode_uri(uri: &str) -> String {
    const DECODED: [(&str, char); 12] = [
        ("%3A", ':'),
        ("%2F", '/'),
        ("%3F", '?'),
        ("%40", '@'),
        ("%21", '!'),
        ("%24", '$'),
        ("%27", '\''),
        ("%28", '('),
        ("%29", ')'),
        ("%2A", '*'),
        ("%2C", ','),
        ("%3B", ';'),
    ];
    let mut out = String::with_capacity(uri.len());
    let mut rest = uri;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let escape = rest.get(at..at + 3).unwrap_or("");
        match DECODED
            .iter()
            .find(|(code, _)| code.eq_ignore_ascii_case(escape))
        {
            Some((_, decoded)) => {
                out.push(*decoded);
                rest = &rest[at + 3..];
            }
            None => {
                out.push('%');
                rest = &rest[at + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The fewest bytes a Standard Webhooks key may have: shorter keys (an empty one signs with
/// nothing anybody could not compute) are guessed; the specification's keys are 24 to 64.
pub const STANDARD_KEY_MIN_BYTES: usize = 16;

/// A Standard Webhooks secret: `whsec_` and the key in base64 (the prefix is optional), of at
/// least [`STANDARD_KEY_MIN_BYTES`].
pub fn standard_key(secret: &str) -> Result<Vec<u8>, String> {
    let encoded = secret.trim();
    let encoded = encoded.strip_prefix("whsec_").unwrap_or(encoded);
    let key = BASE64.decode(encoded).map_err(|error| {
        format!("the secret is not `whsec_` followed by the key in base64: {error}")
    })?;
    if key.len() < STANDARD_KEY_MIN_BYTES {
        return Err(format!(
            "the secret's key is {} bytes; a key of fewer than {STANDARD_KEY_MIN_BYTES} can be \
             guessed, so anybody could sign: make one of 32 with `openssl rand -base64 32` \
             (and `whsec_` before it)",
            key.len()
        ));
    }
    Ok(key)
}

/// The Standard Webhooks signature of a message: `v1,` + base64(HMAC-SHA256(key,
/// "{id}.{timestamp}.{body}")).
pub fn standard_sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let timestamp = timestamp.to_string();
    let mac = hmac_sha256(
        key,
        &[id.as_bytes(), b".", timestamp.as_bytes(), b".", body],
    );
    format!("v1,{}", BASE64.encode(mac))
}

/// Checks a Standard Webhooks delivery: the `webhook-signature` header may carry several
/// space-separated signatures (during a key rotation); one `v1` match is enough.
pub fn verify_standard(
    key: &[u8],
    id: Option<&str>,
    timestamp: Option<&str>,
    signatures: Option<&str>,
    body: &[u8],
    now_seconds: i64,
) -> Result<(), Refused> {
    let id = id.ok_or(Refused::Missing("webhook-id"))?;
    let timestamp = timestamp.ok_or(Refused::Missing("webhook-timestamp"))?;
    let signatures = signatures.ok_or(Refused::Missing("webhook-signature"))?;
    let seconds: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| Refused::BadTimestamp(timestamp.to_string()))?;
    fresh(seconds, now_seconds)?;
    let expected = standard_sign(key, id, seconds, body);
    let matched = signatures
        .split_whitespace()
        .filter(|signature| signature.starts_with("v1,"))
        .fold(false, |found, signature| {
            // Every candidate is compared, so the time does not tell which one matched.
            constant_time_eq(signature.as_bytes(), expected.as_bytes()) | found
        });
    if matched {
        Ok(())
    } else {
        Err(Refused::Mismatch)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn hmac_sha256_matches_rfc_4231_case_2() {
        let mac = hmac_sha256(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    /// An empty key (`whsec_` alone) would sign with nothing anybody could not compute.
    #[test]
    fn empty_and_short_standard_keys_are_refused() {
        for secret in ["whsec_", "", "whsec_c2hvcnQ=", "c2hvcnQ="] {
            let refused = standard_key(secret).unwrap_err();
            assert!(refused.contains("can be guessed"), "{secret}: {refused}");
        }
        // 16 bytes is enough.
        assert_eq!(
            standard_key("whsec_MDEyMzQ1Njc4OWFiY2RlZg==").unwrap(),
            b"0123456789abcdef"
        );
    }

    #[test]
    fn standard_webhooks_matches_the_specifications_example() {
        // The example of the Standard Webhooks specification and its reference libraries.
        let key = standard_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        let signature = standard_sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        let header = format!("v1,bm9uc2Vuc2U= {signature}");
        let verify = |body: &[u8], now| {
            verify_standard(
                &key,
                Some("msg_p5jXN8AQM9LWM0D4loKWxJek"),
                Some("1614265330"),
                Some(&header),
                body,
                now,
            )
        };
        assert_eq!(verify(body, 1614265330 + 60), Ok(()));
        assert_eq!(
            verify(br#"{"test": 2432232315}"#, 1614265330),
            Err(Refused::Mismatch)
        );
        assert_eq!(verify(body, 1614265330 + 301), Err(Refused::Stale(301)));
        assert_eq!(verify(body, 1614265330 - 301), Err(Refused::Stale(-301)));
        assert_eq!(
            Refused::Stale(-301).to_string(),
            "the delivery is signed 301 s in the future (more than 300 s ahead): a clock that \
             is wrong, here or at the sender"
        );
        assert_eq!(
            Refused::Stale(301).to_string(),
            "the delivery was signed 301 s ago (more than 300 s): a replay, or a clock that is \
             wrong"
        );
    }

    #[test]
    fn hubspot_v3_signs_method_uri_body_and_timestamp() {
        let body = br#"[{"objectId":1}]"#;
        let signed = hubspot_v3(
            "secret",
            "POST",
            "https://example.com/v1/hooks/hubspot?x=%3A",
            body,
            "1700000000000",
        );
        // The same as the decoded URI, by HubSpot's rule.
        assert_eq!(
            signed,
            hubspot_v3(
                "secret",
                "POST",
                "https://example.com/v1/hooks/hubspot?x=:",
                body,
                "1700000000000"
            )
        );
        let check = |signature: &str, now_ms| {
            verify_hubspot_v3(
                "secret",
                "POST",
                "https://example.com/v1/hooks/hubspot?x=%3A",
                body,
                Some(signature),
                Some("1700000000000"),
                now_ms,
            )
        };
        assert_eq!(check(&signed, 1_700_000_100_000), Ok(()));
        assert_eq!(check("AAAA", 1_700_000_100_000), Err(Refused::Mismatch));
        assert_eq!(check(&signed, 1_700_000_400_000), Err(Refused::Stale(400)));
        assert_eq!(
            verify_hubspot_v3("secret", "POST", "/", body, None, Some("1"), 0),
            Err(Refused::Missing("X-HubSpot-Signature-v3"))
        );
        assert_eq!(hubspot_decode_uri("a%2f%zz%"), "a/%zz%");
    }
}
