//! Signed webhooks: HubSpot's v3 signature and the Standard Webhooks signature, computed here
//! from the published algorithms (HMAC-SHA256, base64) with the crates that implement them, and
//! the example mappings of `examples/hooks/` applied to their example payloads.

use super::{Server, example, exchange, request, scratch};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const HUBSPOT_SECRET: &str = "hubspot-app-client-secret";
/// A Standard Webhooks secret: `whsec_` and 24 random bytes in base64.
const WEBHOOK_SECRET: &str = "whsec_c3dpdGNoYm9hcmQtdGVzdC1rZXktMDEy";

fn mac_base64(key: &[u8], message: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(message);
    BASE64.encode(mac.finalize().into_bytes())
}

/// HubSpot v3: base64(HMAC-SHA256(secret, method + URI + body + timestamp in ms)).
fn hubspot_headers(address: &str, body: &str, millis: i64) -> (String, String) {
    let uri = format!("http://{address}/v1/hooks/hubspot");
    let source = format!("POST{uri}{body}{millis}");
    (
        mac_base64(HUBSPOT_SECRET.as_bytes(), source.as_bytes()),
        millis.to_string(),
    )
}

/// Standard Webhooks: `v1,` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")).
fn standard_signature(id: &str, seconds: i64, body: &str) -> String {
    let key = BASE64
        .decode(WEBHOOK_SECRET.strip_prefix("whsec_").unwrap())
        .unwrap();
    format!(
        "v1,{}",
        mac_base64(&key, format!("{id}.{seconds}.{body}").as_bytes())
    )
}

fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

fn hook_server(name: &str) -> (Server, std::path::PathBuf) {
    let dir = scratch(name);
    let server = Server::start_with(
        &example("routing.route"),
        &dir.join("state.db"),
        &[
            "--roster",
            &example("roster.json"),
            "--hubspot-map",
            &example("hooks/hubspot.map.json"),
            "--standard-map",
            &example("hooks/salesforce.map.json"),
        ],
        &[
            ("SWITCHBOARD_HUBSPOT_SECRET", HUBSPOT_SECRET),
            ("SWITCHBOARD_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ],
    );
    (server, dir)
}

#[test]
fn hubspot_deliveries_are_verified_before_they_are_read_then_mapped_to_leads() {
    let (server, _dir) = hook_server("hubspot");
    let address = server.address.as_str();
    let payload = std::fs::read_to_string(example("hooks/hubspot.payload.json")).unwrap();
    let post = |body: &str, signature: &str, timestamp: &str| {
        request(
            address,
            "POST",
            "/v1/hooks/hubspot",
            body,
            &[
                ("Content-Type", "application/json"),
                ("X-HubSpot-Signature-v3", signature),
                ("X-HubSpot-Request-Timestamp", timestamp),
            ],
        )
    };
    let (signature, timestamp) = hubspot_headers(address, &payload, now_ms());
    let (status, body) = post(&payload, &signature, &timestamp);
    assert_eq!(status, 200, "{body}");
    // The contact's string properties became the schema's numbers, its `createdate` (epoch
    // milliseconds) a time: a hot, strong lead from Germany for the senior pool.
    assert_eq!(
        body,
        "{\"lead\":\"7301\",\"rule\":\"hot\",\"line\":75,\"action\":\"pool\",\"pool\":\"senior\",\"rep\":\"anna\",\"due\":\"2026-11-23T10:15:00+01:00\",\"escalation\":[{\"at\":\"2026-11-23T10:30:00+01:00\",\"to\":\"backup\"}]}\n"
    );
    // HubSpot retries: the same delivery gets the recorded decision.
    let (status, again) = post(&payload, &signature, &timestamp);
    assert_eq!(status, 200);
    assert!(again.contains("\"duplicate\":true"), "{again}");

    // A changed body under the old signature, a stale delivery and a missing header: 401, and
    // the answer says which.
    let tampered = payload.replace("\"800\"", "\"8000\"");
    let (status, body) = post(&tampered, &signature, &timestamp);
    assert_eq!(status, 401);
    assert!(body.contains("does not match the body"), "{body}");
    let old = now_ms() - 6 * 60 * 1000;
    let (signature_old, timestamp_old) = hubspot_headers(address, &payload, old);
    let (status, body) = post(&payload, &signature_old, &timestamp_old);
    assert_eq!(status, 401);
    assert!(body.contains("more than 300 s"), "{body}");
    let (status, body) = request(address, "POST", "/v1/hooks/hubspot", &payload, &[]);
    assert_eq!(status, 401);
    assert!(
        body.contains("`X-HubSpot-Signature-v3` header is missing"),
        "{body}"
    );
    // Signed, but not JSON: read only after the signature held.
    let (signature, timestamp) = hubspot_headers(address, "vid=7301", now_ms());
    let (status, body) = post("vid=7301", &signature, &timestamp);
    assert_eq!(status, 400, "{body}");
    // A `createdate` in seconds where the mapping reads milliseconds would be a lead of
    // January 1970, its SLA long run out: the lead's error record, naming the unit, 422.
    let seconds = payload
        .replace("\"1795424400000\"", "\"1795424400\"")
        .replace("7301", "7303");
    let (signature, timestamp) = hubspot_headers(address, &seconds, now_ms());
    let (status, body) = post(&seconds, &signature, &timestamp);
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("\"lead\":\"7303\""), "{body}");
    assert!(body.contains("\"code\":\"lead.type\""), "{body}");
    assert!(
        body.contains("it looks like seconds (2026-11-23T09:00:00Z); if the CRM sends seconds"),
        "{body}"
    );
    // Signed JSON without the fields the policy needs: the lead's error record, 422.
    let thin = r#"{"vid": 7302, "properties": {}}"#;
    let (signature, timestamp) = hubspot_headers(address, thin, now_ms());
    let (status, body) = post(thin, &signature, &timestamp);
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("\"lead\":\"7302\""), "{body}");
    assert!(server.stop().success());
}

#[test]
fn standard_webhooks_deliveries_are_verified_and_mapped_from_salesforce() {
    let (server, _dir) = hook_server("standard");
    let address = server.address.as_str();
    let payload = std::fs::read_to_string(example("hooks/salesforce.payload.json")).unwrap();
    let post = |id: &str, seconds: i64, signature: &str, body: &str| {
        let seconds = seconds.to_string();
        exchange(
            address,
            "POST",
            "/v1/hooks/standard",
            body,
            &[
                ("Content-Type", "application/json"),
                ("webhook-id", id),
                ("webhook-timestamp", &seconds),
                ("webhook-signature", signature),
            ],
        )
        .unwrap()
    };
    let now = now_ms() / 1000;
    let signature = standard_signature("msg_sf_1", now, &payload);
    // A rotated key sends two signatures; one that matches is enough.
    let both = format!("v1,b2xkLWtleS1zaWduYXR1cmU= {signature}");
    let (status, head, body) = post("msg_sf_1", now, &both, &payload);
    assert_eq!(status, 200, "{body}");
    // The American lead to the American pool, its SLA in New York's working hours (10:00 there).
    assert!(
        head.to_ascii_lowercase().contains("x-request-id: sb-"),
        "{head}"
    );
    assert_eq!(
        body,
        "{\"lead\":\"00Q5g00000AbCdEEAV\",\"rule\":\"amer\",\"line\":65,\"action\":\"pool\",\"pool\":\"amer_ae\",\"rep\":\"olivia\",\"due\":\"2026-11-23T14:00:00-05:00\"}\n"
    );
    let (status, _, body) = post("msg_sf_1", now, &signature, &payload.replace("1200", "12"));
    assert_eq!(status, 401, "{body}");
    let stale = now - 301;
    let (status, _, body) = post(
        "msg_sf_1",
        stale,
        &standard_signature("msg_sf_1", stale, &payload),
        &payload,
    );
    assert_eq!(status, 401);
    assert!(body.contains("more than 300 s"), "{body}");
    // The delivery id is part of what is signed.
    let (status, _, _) = post("msg_sf_2", now, &signature, &payload);
    assert_eq!(status, 401);
    // A payload that gives a key twice is refused, naming it: parsed into a map it would keep
    // the last value without a word (here another lead's id).
    let twice = payload.replacen("{", "{\"Id\": \"00Q000000000OTHER\",", 1);
    let (status, _, body) = post(
        "msg_sf_3",
        now,
        &standard_signature("msg_sf_3", now, &twice),
        &twice,
    );
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains("\"code\":\"payload\"")
            && body.contains("the payload's key `Id` appears more than once in one object"),
        "{body}"
    );
    // An id that is not ASCII is said to be so, not to be missing.
    let (status, _, body) = post("é/ü", now, &signature, &payload);
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("the `webhook-id` header is not ASCII text"),
        "{body}"
    );
    assert!(server.stop().success());
}

#[test]
fn hooks_without_a_secret_are_closed_and_bad_mappings_stop_the_start() {
    let dir = scratch("hooks-off");
    let server = Server::start(&dir.join("state.db"), &[], None);
    let (status, body) = super::post(&server.address, "/v1/hooks/hubspot", "{}");
    assert_eq!(status, 404);
    assert!(body.contains("SWITCHBOARD_HUBSPOT_SECRET"), "{body}");
    let (status, body) = super::post(&server.address, "/v1/hooks/standard", "{}");
    assert_eq!(status, 404);
    assert!(body.contains("SWITCHBOARD_WEBHOOK_SECRET"), "{body}");
    assert!(server.stop().success());

    let mapping = dir.join("bad.map.json");
    std::fs::write(&mapping, r#"{"fields": {"emial": "/email"}}"#).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args([
            "serve",
            &example("routing.route"),
            "--listen",
            "127.0.0.1:0",
        ])
        .arg("--hubspot-map")
        .arg(&mapping)
        .env("SWITCHBOARD_HUBSPOT_SECRET", HUBSPOT_SECRET)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("field `emial` is not in the policy's schema"),
        "{stderr}"
    );
    // The mapping is what to fix, not the policy (which checks clean).
    assert!(
        stderr.contains("error: cannot serve: fix the mapping first"),
        "{stderr}"
    );
    assert!(!stderr.contains("switchboard check"), "{stderr}");
    // A policy that requires a field the mapping gives no source: every delivery would be a
    // 422 and its leads never routed, so the start is refused, naming the field.
    let policy = std::fs::read_to_string(example("routing.route")).unwrap();
    // Its tests give no `tier`: left out.
    let policy = policy[..policy.find("\ntest ").unwrap_or(policy.len())].replace(
        "  country:        string\n",
        "  country:        string\n  tier:           string\n",
    );
    assert!(policy.contains("tier:"));
    let tiered = dir.join("tiered.route");
    std::fs::write(&tiered, policy).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .arg(&tiered)
        .arg("--hubspot-map")
        .arg(example("hooks/hubspot.map.json"))
        .env("SWITCHBOARD_HUBSPOT_SECRET", HUBSPOT_SECRET)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "the policy's schema requires `tier`, and the mapping gives it no source: every \
             delivery would be refused"
        ),
        "{stderr}"
    );
    // A broken policy is what `check` shows.
    let broken = dir.join("broken.route");
    std::fs::write(
        &broken,
        "schema lead { id: string }\nwhen nope = 1 -> queue x\n",
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .arg(&broken)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "error: cannot serve: fix the errors first (`switchboard check {}` shows them)",
            broken.display()
        )),
        "{stderr}"
    );
    // A mapping without the secret to check deliveries with is refused too.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args([
            "serve",
            &example("routing.route"),
            "--listen",
            "127.0.0.1:0",
        ])
        .arg("--hubspot-map")
        .arg(&mapping)
        .env_remove("SWITCHBOARD_HUBSPOT_SECRET")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("SWITCHBOARD_HUBSPOT_SECRET is not set")
    );
}

#[test]
fn the_docs_show_the_example_mappings_as_they_are() {
    let docs = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/serve.md"),
    )
    .unwrap();
    for name in ["hooks/hubspot.map.json", "hooks/salesforce.map.json"] {
        let file = std::fs::read_to_string(example(name)).unwrap();
        assert!(
            docs.contains(&format!("```json\n{file}```")),
            "docs/serve.md does not show {name} as it is"
        );
    }
}
