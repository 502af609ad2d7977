//! Webhook mappings (`serve --hubspot-map`, `--standard-map`) through the library: payloads to
//! typed lead lines, ids from the delivery, and every mistake in a mapping named.
#![allow(clippy::unwrap_used)] // tests may fail loudly

use serde_json::Value;
use switchboard::model::Policy;
use switchboard::route::mapping::Mapping;

fn policy() -> Policy {
    let source = "schema lead { id: string  email: string?  employees: int?  paying: bool?  \
                  created_at: time? }\n\
                  queue inbox\n\
                  otherwise -> queue inbox\n";
    switchboard::check_source(source).compiled.unwrap().0
}

#[test]
fn a_hubspot_payload_becomes_typed_leads() {
    let mapping = Mapping::parse(
        r#"{"fields": {"id": "/objectId", "email": "/properties/email",
            "employees": {"path": "/properties/numberofemployees", "default": 0},
            "paying": "/properties/paying",
            "created_at": {"path": "/occurredAt", "from": "epoch_ms"}}}"#,
        &policy(),
    )
    .unwrap();
    let payload: Value = serde_json::from_str(
        r#"[{"objectId": 51, "occurredAt": 1700000000000,
             "properties": {"email": "a@b.co", "numberofemployees": "250", "paying": "true"}},
            {"objectId": 52, "properties": {"email": "c@d.co", "numberofemployees": "lots"}},
            {"objectId": 53, "properties": {"email": " ", "numberofemployees": ""}}]"#,
    )
    .unwrap();
    let leads: Vec<String> = mapping
        .leads(&payload, Some("d1"))
        .unwrap()
        .into_iter()
        .map(|line| String::from_utf8(line.unwrap()).unwrap())
        .collect();
    assert_eq!(
        leads,
        [
            r#"{"id":"51","email":"a@b.co","employees":250,"paying":true,"created_at":"2023-11-14T22:13:20Z"}"#,
            r#"{"id":"52","email":"c@d.co","employees":"lots"}"#,
            // HubSpot's `""` for a property nobody filled in is no value: the default applies.
            r#"{"id":"53","employees":0}"#,
        ]
    );
}

#[test]
fn leads_without_an_id_take_the_deliverys() {
    let mapping = Mapping::parse(
        r#"{"leads": "/data", "fields": {"email": "/email"}}"#,
        &policy(),
    )
    .unwrap();
    let one: Value = serde_json::from_str(r#"{"data": {"email": "a@b.co"}}"#).unwrap();
    assert_eq!(
        lines(&mapping, &one, Some("msg_1")),
        [r#"{"email":"a@b.co","id":"msg_1"}"#]
    );
    let two: Value = serde_json::from_str(r#"{"data": [{"email": "a"}, {"email": "b"}]}"#).unwrap();
    assert_eq!(
        lines(&mapping, &two, Some("msg_2"))[1],
        r#"{"email":"b","id":"msg_2/2"}"#
    );
    assert!(mapping.leads(&serde_json::json!({"x": 1}), None).is_err());
}

/// The lead lines of `payload`, every lead converted.
fn lines(mapping: &Mapping, payload: &Value, delivery: Option<&str>) -> Vec<String> {
    mapping
        .leads(payload, delivery)
        .unwrap()
        .into_iter()
        .map(|line| String::from_utf8(line.unwrap()).unwrap())
        .collect()
}

#[test]
fn no_two_deliveries_give_their_leads_one_id() {
    // The second lead of delivery `d` is `d/2`; a delivery whose id is `d/2` (or `d%2F2`)
    // must not be taken for it, or its lead would get the other's recorded decision.
    let mapping = Mapping::parse(
        r#"{"leads": "/data", "fields": {"email": "/email"}}"#,
        &policy(),
    )
    .unwrap();
    let two: Value = serde_json::from_str(r#"{"data": [{"email": "a"}, {"email": "b"}]}"#).unwrap();
    let one: Value = serde_json::from_str(r#"{"data": {"email": "c"}}"#).unwrap();
    let ids = |payload: &Value, delivery: &str| -> Vec<String> {
        lines(&mapping, payload, Some(delivery))
            .iter()
            .map(|line| {
                let lead: Value = serde_json::from_str(line).unwrap();
                lead["id"].as_str().unwrap().to_string()
            })
            .collect()
    };
    assert_eq!(ids(&two, "d"), ["d/1", "d/2"]);
    assert_eq!(ids(&one, "d/2"), ["d%2F2"]);
    assert_eq!(ids(&one, "d%2F2"), ["d%252F2"]);
    assert_eq!(ids(&two, "d/2"), ["d%2F2/1", "d%2F2/2"]);
    // An id without `/` or `%` is the delivery's id as it was, so redeliveries made before
    // this change still find their decisions.
    assert_eq!(
        ids(&one, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"),
        ["msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"]
    );
}

#[test]
fn an_epoch_of_the_other_unit_is_named_not_routed_in_1970_or_5138() {
    let seconds = Mapping::parse(
        r#"{"fields": {"id": "/id", "created_at": {"path": "/t", "from": "epoch_s"}}}"#,
        &policy(),
    )
    .unwrap();
    let millis = Mapping::parse(
        r#"{"fields": {"id": "/id", "created_at": {"path": "/t", "from": "epoch_ms"}}}"#,
        &policy(),
    )
    .unwrap();
    let one = |mapping: &Mapping, t: Value| {
        let payload = serde_json::json!({"id": 7, "t": t});
        mapping.leads(&payload, None).unwrap().remove(0)
    };
    let refused = |mapping: &Mapping, t: Value| {
        let error = one(mapping, t).unwrap_err();
        assert_eq!(error.code, "lead.type");
        assert_eq!(error.lead.as_deref(), Some("7"));
        error.message
    };
    // Whole numbers exactly, fractions (Python's `time.time()`) and numbers' text.
    let time = |mapping: &Mapping, t: Value| {
        let line = String::from_utf8(one(mapping, t).unwrap()).unwrap();
        let lead: Value = serde_json::from_str(&line).unwrap();
        lead["created_at"].as_str().unwrap().to_string()
    };
    assert_eq!(
        time(&seconds, serde_json::json!(1_764_000_000)),
        "2025-11-24T16:00:00Z"
    );
    assert_eq!(
        time(&seconds, serde_json::json!(1_764_000_000.25)),
        "2025-11-24T16:00:00.25Z"
    );
    assert_eq!(
        time(&seconds, serde_json::json!(" 1764000000 ")),
        "2025-11-24T16:00:00Z"
    );
    assert_eq!(
        time(&millis, serde_json::json!(1_764_000_000_123_i64)),
        "2025-11-24T16:00:00.123Z"
    );
    assert_eq!(
        time(&millis, serde_json::json!("1764000000123")),
        "2025-11-24T16:00:00.123Z"
    );
    // Milliseconds read as seconds would be after the year 5138; seconds read as milliseconds
    // in January 1970, when the lead's SLA would have run out long ago.
    assert_eq!(
        refused(&seconds, serde_json::json!(1_764_000_000_123_i64)),
        "field `created_at`: 1764000000123 seconds since 1970 (the mapping's `from: \"epoch_s\"`) \
         is after 5138, not a lead's time: it looks like milliseconds \
         (2025-11-24T16:00:00.123Z); if the CRM sends milliseconds, write `from: \"epoch_ms\"`"
    );
    assert_eq!(
        refused(&millis, serde_json::json!(1_764_000_000)),
        "field `created_at`: 1764000000 milliseconds since 1970 (the mapping's \
         `from: \"epoch_ms\"`) is before 1973, not a lead's time: it looks like seconds \
         (2025-11-24T16:00:00Z); if the CRM sends seconds, write `from: \"epoch_s\"`"
    );
    // A CRM's 0 for "not set" is no time of a lead, in either unit.
    assert_eq!(
        refused(&millis, serde_json::json!(0)),
        "field `created_at`: 0 milliseconds since 1970 (the mapping's `from: \"epoch_ms\"`) is \
         before 1973, not a lead's time"
    );
    assert_eq!(
        refused(&seconds, serde_json::json!("soon")),
        "field `created_at`: expected a number of seconds since 1970 (the mapping's \
         `from: \"epoch_s\"`), found \"soon\""
    );
    assert!(refused(&seconds, serde_json::json!(true)).contains("found true"));
    // 1973 begins at 94694400: taken; a second before it is not, and its other reading (the
    // year 4970) suggests no other unit.
    assert_eq!(
        time(&seconds, serde_json::json!(94_694_400)),
        "1973-01-01T00:00:00Z"
    );
    assert_eq!(
        refused(&millis, serde_json::json!(94_694_399_999_i64)),
        "field `created_at`: 94694399999 milliseconds since 1970 (the mapping's \
         `from: \"epoch_ms\"`) is before 1973, not a lead's time"
    );
    // A lead without an id of its own is named by the delivery's.
    let payload = serde_json::json!({"t": 5});
    let only_time = Mapping::parse(
        r#"{"fields": {"created_at": {"path": "/t", "from": "epoch_s"}}}"#,
        &policy(),
    )
    .unwrap();
    let error = only_time
        .leads(&payload, Some("msg_9"))
        .unwrap()
        .remove(0)
        .unwrap_err();
    assert_eq!(error.lead.as_deref(), Some("msg_9"));
}

#[test]
fn times_pass_through_for_the_router_to_read() {
    // Salesforce's `…000+0000` is RFC 3339 enough for the router; anything else is left
    // as it came, so the router's error names it.
    let mapping =
        Mapping::parse(r#"{"fields": {"created_at": "/CreatedDate"}}"#, &policy()).unwrap();
    let payload = serde_json::json!({"CreatedDate": "2026-11-23T15:00:00.000+0000"});
    assert_eq!(
        lines(&mapping, &payload, None),
        [r#"{"created_at":"2026-11-23T15:00:00.000+0000"}"#]
    );
}

#[test]
fn mistakes_in_a_mapping_are_named() {
    let error = |text: &str| Mapping::parse(text, &policy()).unwrap_err();
    assert!(error(r#"{"fields": {"emial": "/email"}}"#).contains("field `emial` is not"));
    assert!(error(r#"{"fields": {"email": "email"}}"#).contains("not a JSON pointer"));
    assert!(error(r#"{"fields": {"email": {"value": 1, "path": "/x"}}}"#).contains("constant"));
    assert!(
        error(r#"{"fields": {"employees": {"path": "/x", "from": "epoch_ms"}}}"#)
            .contains("not a `time`")
    );
    assert!(error(r#"{"field": {}}"#).contains("unknown key `field`"));
    assert!(error("[").contains("not JSON"));
    // A default the field cannot take stops the server at start, not every blank delivery.
    assert_eq!(
        error(r#"{"fields": {"employees": {"path": "/x", "default": "lots"}}}"#),
        "field `employees`: the `default` \"lots\" is not a whole number"
    );
    assert!(
        error(
            r#"{"fields": {"created_at": {"path": "/t", "from": "epoch_ms", "default": "soon"}}}"#
        )
        .contains("with `from`, a default is an epoch")
    );
    // An epoch default of the wrong unit stops the server too.
    assert!(
        error(r#"{"fields": {"created_at": {"path": "/t", "from": "epoch_ms", "default": 0}}}"#)
            .contains("before 1973, not a lead's time")
    );
    // Defaults the mapping converts as it converts the payload's values are fine, and used so.
    let mapping = Mapping::parse(
        r#"{"fields": {"id": "/id", "employees": {"path": "/x", "default": "250"},
            "created_at": {"path": "/t", "from": "epoch_ms", "default": 1700000000000}}}"#,
        &policy(),
    )
    .unwrap();
    assert_eq!(
        lines(
            &mapping,
            &serde_json::json!({"id": "a", "x": "", "t": null}),
            None
        ),
        [r#"{"id":"a","employees":250,"created_at":"2023-11-14T22:13:20Z"}"#]
    );
}
