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
        .map(|line| String::from_utf8(line).unwrap())
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
    let lines = mapping.leads(&one, Some("msg_1")).unwrap();
    assert_eq!(lines[0], br#"{"email":"a@b.co","id":"msg_1"}"#);
    let two: Value = serde_json::from_str(r#"{"data": [{"email": "a"}, {"email": "b"}]}"#).unwrap();
    let lines = mapping.leads(&two, Some("msg_2")).unwrap();
    assert_eq!(lines[1], br#"{"email":"b","id":"msg_2/2"}"#);
    assert!(mapping.leads(&serde_json::json!({"x": 1}), None).is_err());
}

#[test]
fn times_pass_through_for_the_router_to_read() {
    // Salesforce's `…000+0000` is RFC 3339 enough for the router; anything else is left
    // as it came, so the router's error names it.
    let mapping =
        Mapping::parse(r#"{"fields": {"created_at": "/CreatedDate"}}"#, &policy()).unwrap();
    let payload = serde_json::json!({"CreatedDate": "2026-11-23T15:00:00.000+0000"});
    let lines = mapping.leads(&payload, None).unwrap();
    assert_eq!(
        lines[0],
        br#"{"created_at":"2026-11-23T15:00:00.000+0000"}"#
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
    // Defaults the mapping converts as it converts the payload's values are fine, and used so.
    let mapping = Mapping::parse(
        r#"{"fields": {"id": "/id", "employees": {"path": "/x", "default": "250"},
            "created_at": {"path": "/t", "from": "epoch_ms", "default": 1700000000000}}}"#,
        &policy(),
    )
    .unwrap();
    let lines = mapping
        .leads(&serde_json::json!({"id": "a", "x": "", "t": null}), None)
        .unwrap();
    assert_eq!(
        lines[0],
        br#"{"id":"a","employees":250,"created_at":"2023-11-14T22:13:20Z"}"#
    );
}
