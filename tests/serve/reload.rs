//! Hot reload: a policy written over the served file is checked first; a broken one is refused
//! (the old one keeps routing, and `/v1/status`, `/metrics` and the log say why), a clean one
//! takes over; SIGHUP asks for the same.

use super::{Server, example, post, request, scratch};

fn status(address: &str) -> serde_json::Value {
    let (_, page) = request(address, "GET", "/v1/status", "", &[]);
    serde_json::from_str(&page).unwrap()
}

fn wait_for_reload(address: &str, previous_at: &serde_json::Value) -> serde_json::Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let page = status(address);
        if !page["reload"].is_null() && page["reload"]["at"] != *previous_at {
            return page;
        }
        assert!(std::time::Instant::now() < deadline, "no reload: {page}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

const LEAD: &str = r#"{"id":"ID","intent":"high","fit":"strong","region":"emea","country":"DE","employees":800,"deal_value":20000,"source":"demo_request","created_at":"2026-11-23T10:00:00+01:00"}"#;

#[test]
fn a_broken_policy_is_refused_and_the_old_one_serves_until_a_fixed_one_arrives() {
    let dir = scratch("reload");
    let policy = dir.join("routing.route");
    let original = std::fs::read_to_string(example("routing.route")).unwrap();
    std::fs::write(&policy, &original).unwrap();
    let server = Server::start_with(
        &policy.to_string_lossy(),
        &dir.join("state.db"),
        &["--watch-every-ms", "100"],
        &[],
    );
    let address = server.address.clone();
    let first = status(&address);
    assert!(first["reload"].is_null());

    // A typo in a pool's name: the checker refuses it.
    std::fs::write(
        &policy,
        original.replace("-> pool senior", "-> pool senoir"),
    )
    .unwrap();
    let refused = wait_for_reload(&address, &serde_json::Value::Null);
    assert_eq!(refused["reload"]["ok"], false, "{refused}");
    let error = refused["reload"]["error"].as_str().unwrap();
    assert!(error.contains("senoir"), "{error}");
    assert!(
        refused["reload"]["why"]
            .as_str()
            .unwrap()
            .ends_with("routing.route changed")
    );
    assert_eq!(refused["policy_hash"], first["policy_hash"]);
    // The old policy still routes: 15 minutes for a hot lead.
    let (code, body) = post(&address, "/v1/leads", &LEAD.replace("ID", "R-1"));
    assert_eq!(code, 200);
    assert!(
        body.contains("\"due\":\"2026-11-23T10:15:00+01:00\""),
        "{body}"
    );
    let (_, metrics) = request(&address, "GET", "/metrics", "", &[]);
    assert!(
        metrics.contains("switchboard_reload_failures_total 1\n"),
        "{metrics}"
    );

    // Fixed, with a slower SLA for hot leads: it takes over.
    std::fs::write(&policy, original.replace("within 15m", "within 20m")).unwrap();
    let taken = wait_for_reload(&address, &refused["reload"]["at"]);
    assert_eq!(taken["reload"]["ok"], true, "{taken}");
    assert_ne!(taken["policy_hash"], first["policy_hash"]);
    let (_, body) = post(&address, "/v1/leads", &LEAD.replace("ID", "R-2"));
    assert!(
        body.contains("\"due\":\"2026-11-23T10:20:00+01:00\""),
        "{body}"
    );
    // A lead decided before keeps its recorded decision.
    let (_, body) = post(&address, "/v1/leads", &LEAD.replace("ID", "R-1"));
    assert!(
        body.contains("10:15:00") && body.contains("\"duplicate\":true"),
        "{body}"
    );

    // SIGHUP reloads too (here the same file, said as such).
    let _ = std::process::Command::new("kill")
        .args(["-HUP", &server.child.id().to_string()])
        .status();
    let hup = wait_for_reload(&address, &taken["reload"]["at"]);
    assert_eq!(hup["reload"]["why"], "SIGHUP");
    assert_eq!(hup["reload"]["ok"], true);

    // A policy of the same length and modification time renamed over the served one, as a
    // deployment that gives every file one time does (Nix, reproducible builds, `cp -p`): seen.
    let served = std::fs::metadata(&policy).unwrap();
    let next = dir.join("routing.route.new");
    std::fs::write(&next, original.replace("within 15m", "within 25m")).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&next)
        .unwrap()
        .set_modified(served.modified().unwrap())
        .unwrap();
    assert_eq!(std::fs::metadata(&next).unwrap().len(), served.len());
    std::fs::rename(&next, &policy).unwrap();
    let same_stamp = wait_for_reload(&address, &hup["reload"]["at"]);
    assert_eq!(same_stamp["reload"]["ok"], true, "{same_stamp}");
    assert!(
        same_stamp["reload"]["why"]
            .as_str()
            .unwrap()
            .ends_with("routing.route changed")
    );
    let (_, body) = post(&address, "/v1/leads", &LEAD.replace("ID", "R-3"));
    assert!(
        body.contains("\"due\":\"2026-11-23T10:25:00+01:00\""),
        "{body}"
    );

    // Written in place with its time set back (`cp -p` over it): the same inode, length and
    // modification time; only the change time tells.
    let served = std::fs::metadata(&policy).unwrap();
    std::fs::write(&policy, original.replace("within 15m", "within 10m")).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&policy)
        .unwrap()
        .set_modified(served.modified().unwrap())
        .unwrap();
    let in_place = wait_for_reload(&address, &same_stamp["reload"]["at"]);
    assert_eq!(in_place["reload"]["ok"], true, "{in_place}");
    let (_, body) = post(&address, "/v1/leads", &LEAD.replace("ID", "R-4"));
    assert!(
        body.contains("\"due\":\"2026-11-23T10:10:00+01:00\""),
        "{body}"
    );
    assert!(server.stop().success());
}
