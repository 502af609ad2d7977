//! `switchboard serve` through a real HTTP client (a plain HTTP/1.1 exchange over a TCP socket)
//! against the spawned binary: every endpoint's answers and errors, the bearer token, the same
//! bytes as `route`, concurrent clients with repeated ids, a large request sent again, and
//! SIGTERM with nothing lost.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may fail loudly

mod hooks;
mod notify;
mod reload;

#[path = "../common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
        .to_string_lossy()
        .to_string()
}

fn scratch(name: &str) -> PathBuf {
    common::scratch("serve", name)
}

/// A running server, stopped with SIGTERM when dropped.
struct Server {
    child: Child,
    address: String,
    /// What the server wrote on stderr, read to the end once it exits.
    log: Option<std::thread::JoinHandle<String>>,
}

impl Server {
    fn start(state: &Path, extra: &[&str], token: Option<&str>) -> Server {
        let env: Vec<(&str, &str)> = token
            .map(|token| ("SWITCHBOARD_TOKEN", token))
            .into_iter()
            .collect();
        Server::start_with(&example("routing.route"), state, extra, &env)
    }

    /// A server for `policy`, with extra arguments and environment variables.
    fn start_with(policy: &str, state: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard"));
        command
            .args([
                "serve",
                policy,
                "--state",
                &state.to_string_lossy(),
                "--listen",
                "127.0.0.1:0",
            ])
            .args(extra)
            .env_remove("SWITCHBOARD_TOKEN")
            .env_remove("SWITCHBOARD_HUBSPOT_SECRET")
            .env_remove("SWITCHBOARD_WEBHOOK_SECRET")
            .env_remove("SWITCHBOARD_NOTIFY_SECRET")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if !extra.contains(&"--sweep-every") {
            // No sweep during a test unless it asks for one.
            command.args(["--sweep-every", "3600"]);
        }
        let mut child = command.spawn().unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        stderr.read_line(&mut line).unwrap();
        let address: String = line
            .split("http://")
            .nth(1)
            .map(|rest| {
                rest.chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
                    .collect()
            })
            .filter(|address: &String| !address.is_empty())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        // Keep reading stderr so the server never blocks on it.
        let log = std::thread::spawn(move || {
            let mut rest = line;
            let _ = stderr.read_to_string(&mut rest);
            rest
        });
        Server {
            child,
            address,
            log: Some(log),
        }
    }

    /// Stops the server; its exit status and everything it logged.
    fn stop_with_log(mut self) -> (std::process::ExitStatus, String) {
        terminate(&self.child);
        let status = self.child.wait().unwrap();
        let log = self.log.take().unwrap().join().unwrap();
        std::mem::forget(self);
        (status, log)
    }

    fn stop(mut self) -> std::process::ExitStatus {
        terminate(&self.child);
        let status = self.child.wait().unwrap();
        std::mem::forget(self);
        status
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn terminate(child: &Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
}

/// One HTTP/1.1 request; the status and the body.
fn request(
    address: &str,
    method: &str,
    path: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> (u16, String) {
    let (status, _, body) = exchange(address, method, path, body, headers).unwrap();
    (status, body)
}

/// One HTTP/1.1 request; the status, the head and the body, or why there was no answer.
fn exchange(
    address: &str,
    method: &str,
    path: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<(u16, String, String)> {
    let mut stream = TcpStream::connect(address)?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status: u16 = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status in {response:?}")))?;
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    Ok((status, head.to_string(), body.to_string()))
}

fn post(address: &str, path: &str, body: &str) -> (u16, String) {
    request(address, "POST", path, body, &[])
}

#[test]
fn leads_are_answered_with_the_bytes_route_prints() {
    let dir = scratch("bytes");
    let server = Server::start(&dir.join("state.db"), &[], None);
    let leads = std::fs::read_to_string(example("leads.ndjson")).unwrap();
    // One request per lead, as a CRM sends them; the answers are `route`'s lines.
    let mut served = String::new();
    for line in leads.lines() {
        let (status, body) = post(&server.address, "/v1/leads", line);
        assert_eq!(status, 200, "{body}");
        served.push_str(&body);
    }
    let routed = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args([
            "route",
            &example("routing.route"),
            "--state",
            ":memory:",
            "--leads",
            &example("leads.ndjson"),
            "--quiet",
        ])
        .output()
        .unwrap();
    assert_eq!(served, String::from_utf8(routed.stdout).unwrap());
    // docs/serve.md shows the first of these lines.
    let docs = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/serve.md"))
        .unwrap();
    assert!(docs.contains(served.lines().next().unwrap()));
    assert!(server.stop().success());
}

#[test]
fn every_kind_of_body_gets_its_answer() {
    let dir = scratch("bodies");
    let server = Server::start(&dir.join("state.db"), &["--max-body-bytes", "4096"], None);
    let address = &server.address;
    let lead = |id: &str| {
        format!(
            r#"{{"id":"{id}","intent":"high","fit":"strong","region":"emea","country":"DE","employees":800,"deal_value":20000,"source":"demo_request","created_at":"2026-11-23T10:00:00+01:00"}}"#
        )
    };
    // A batch as a JSON array with one bad lead: lines in = answers out, 200.
    let (status, body) = post(
        address,
        "/v1/leads",
        &format!("[{}, {{\"id\":\"B-2\"}}, {}]", lead("B-1"), lead("B-3")),
    );
    assert_eq!(status, 200);
    let answers: Vec<serde_json::Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(answers.len(), 3);
    assert_eq!(answers[0]["rep"], "anna");
    assert_eq!(answers[1]["error"]["code"], "lead.missing");
    assert_eq!(answers[1]["error"]["input_line"], 2);
    assert_eq!(answers[2]["rep"], "boris");
    // A lead of an array, over several lines, that gives a field twice is refused as on one
    // line: its record says which key, the others are routed.
    let twice = lead("B-5").replacen('{', "{\n  \"intent\": \"low\",\n  ", 1);
    let (status, body) = post(
        address,
        "/v1/leads",
        &format!("[\n{twice},\n{}\n]", lead("B-6")),
    );
    assert_eq!(status, 200, "{body}");
    let answers: Vec<serde_json::Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(answers.len(), 2);
    assert_eq!(answers[0]["lead"], "B-5", "{body}");
    assert!(
        answers[0]["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("key `intent` appears more than once in the object"),
        "{body}"
    );
    assert!(answers[1].get("error").is_none(), "{body}");
    // NDJSON works too, and a repeated id answers its recorded decision.
    let (status, body) = post(
        address,
        "/v1/leads",
        &format!("{}\n{}\n", lead("B-1"), lead("N-1")),
    );
    assert_eq!(status, 200);
    let answers: Vec<serde_json::Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(answers[0]["duplicate"], true);
    assert_eq!(answers[0]["rep"], "anna");
    // A blank line between leads is answered as `route` answers it, so that answer N is line
    // N's; blank lines at the end are none.
    let (status, body) = post(
        address,
        "/v1/leads",
        &format!("{}\n\n{{\"id\":\"N-2\"}}\n\n", lead("N-1")),
    );
    assert_eq!(status, 200);
    let answers: Vec<serde_json::Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(answers.len(), 3, "{body}");
    assert_eq!(answers[0]["duplicate"], true);
    assert_eq!(answers[1]["error"]["code"], "lead.json");
    assert_eq!(answers[1]["error"]["input_line"], 2);
    assert_eq!(answers[2]["error"]["code"], "lead.missing");
    assert_eq!(answers[2]["error"]["input_line"], 3);
    // One lead written over several lines (pretty-printed) is one lead.
    let pretty = serde_json::to_string_pretty(
        &serde_json::from_str::<serde_json::Value>(&lead("P-1")).unwrap(),
    )
    .unwrap();
    assert!(pretty.lines().count() > 5);
    let (status, body) = post(address, "/v1/leads", &pretty);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body.lines().count(), 1, "{body}");
    assert!(body.starts_with("{\"lead\":\"P-1\""), "{body}");
    // The same cut short (a proxy that truncated it): 422 with where it breaks, not an answer
    // per fragment of it.
    let cut = &pretty[..pretty.len() / 2];
    let (status, body) = post(address, "/v1/leads", cut);
    assert_eq!(status, 422, "{body}");
    assert_eq!(body.lines().count(), 1, "{body}");
    assert!(body.contains("\"code\":\"lead.json\""), "{body}");
    // Pretty-printed leads with a broken one among them (`"intent": ` and no value, or one cut
    // short): that one is an error, and every lead after it is read and answered, in order.
    let pretty_lead = |id: &str| {
        serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(&lead(id)).unwrap())
            .unwrap()
    };
    let broken = "{\n  \"id\": \"P-3\",\n  \"intent\": \n}";
    let cut_short = &pretty_lead("P-5")[..60];
    for (body, expected) in [
        (
            [pretty_lead("P-2"), broken.to_string(), pretty_lead("P-4")].join("\n"),
            vec!["P-2", "error", "P-4"],
        ),
        (
            [broken.to_string(), pretty_lead("P-6")].join("\n"),
            vec!["error", "P-6"],
        ),
        (
            [
                pretty_lead("P-7"),
                cut_short.to_string(),
                pretty_lead("P-8"),
                pretty_lead("P-9"),
            ]
            .join("\n"),
            vec!["P-7", "error", "P-8", "P-9"],
        ),
    ] {
        let (status, answer) = post(address, "/v1/leads", &body);
        assert_eq!(status, 200, "{answer}");
        let got: Vec<String> = answer
            .lines()
            .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
            .map(|record| {
                if record.get("error").is_some() {
                    "error".to_string()
                } else {
                    record["lead"].as_str().unwrap().to_string()
                }
            })
            .collect();
        assert_eq!(got, expected, "{body}\n{answer}");
    }
    // Where a broken object breaks is said as the body's line and column, not as the column of
    // the one line the router reads it on: `"intent": ` and no value, at the `}` of the
    // broken object's fourth line.
    let body = [pretty_lead("P-2"), broken.to_string(), pretty_lead("P-4")].join("\n");
    let (_, answer) = post(address, "/v1/leads", &body);
    let record: serde_json::Value =
        serde_json::from_str(answer.lines().nth(1).unwrap_or_default()).unwrap();
    let line = pretty_lead("P-2").lines().count() + 4;
    assert_eq!(
        record["error"]["message"],
        format!("not valid JSON: expected value at line {line} column 1 of the body"),
        "{answer}"
    );
    // A raw line break inside a string is refused where it is, never read as a space: the
    // id `P-1\n0` is not the lead `P-1 0`.
    let raw_break = pretty_lead("P-10").replacen("\"P-10\"", "\"P-1\n0\"", 1);
    let (status, answer) = post(address, "/v1/leads", &raw_break);
    assert_eq!(status, 422, "{answer}");
    let at = raw_break.find("P-1\n").unwrap() + 3;
    let line = raw_break[..at].matches('\n').count() + 1;
    let column = at - raw_break[..at].rfind('\n').map_or(0, |start| start + 1) + 1;
    assert!(
        answer.contains(&format!(
            "control character (\\\\u0000-\\\\u001F) found while parsing a string at line \
             {line} column {column} of the body"
        )),
        "{answer}"
    );
    // One invalid lead alone: 422 with its error record.
    let (status, body) = post(address, "/v1/leads", r#"{"id":"X-1","intent":"hgh"}"#);
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("\"code\":\"lead."), "{body}");
    // The same id with other content: 422, lead.id_conflict.
    let conflicting = lead("B-1").replace("\"DE\"", "\"FR\"");
    let (status, body) = post(address, "/v1/leads", &conflicting);
    assert_eq!(status, 422);
    assert!(body.contains("lead.id_conflict"), "{body}");
    // Not JSON at all: 400. Too big: 413. Empty: 400.
    let (status, body) = post(address, "/v1/leads", "id=1&intent=high");
    assert_eq!(status, 400);
    assert!(body.contains("\"code\":\"body.json\""), "{body}");
    assert!(body.contains("the body is not JSON"), "{body}");
    // JSON, but not a lead: 400, said as such.
    for (json, what) in [
        ("42", "a JSON number"),
        ("null", "JSON `null`"),
        ("\"L-1\"", "a JSON string"),
    ] {
        let (status, body) = post(address, "/v1/leads", json);
        assert_eq!(status, 400, "{json}");
        assert!(
            body.contains(&format!("the body is {what}, not a lead")),
            "{body}"
        );
    }
    let (status, body) = post(address, "/v1/leads", &"x".repeat(5000));
    assert_eq!(status, 413);
    assert_eq!(
        body,
        "{\"error\":{\"code\":\"body.size\",\"message\":\"the body is larger than 4096 bytes (--max-body-bytes)\"}}\n"
    );
    // Unknown paths and methods are JSON errors too.
    let (status, body) = request(address, "GET", "/v1/nothing", "", &[]);
    assert_eq!(status, 404);
    assert!(body.contains("\"code\":\"path\""), "{body}");
    let (status, head, body) = exchange(address, "GET", "/v1/leads", "", &[]).unwrap();
    assert_eq!(status, 405);
    assert!(body.contains("`/v1/leads` does not take GET"), "{body}");
    assert!(
        head.to_ascii_lowercase().contains("\r\nallow: post"),
        "{head}"
    );
    let (status, _) = post(address, "/v1/leads", "");
    assert_eq!(status, 400);
    // Events, as `track` takes them.
    let (status, body) = post(
        address,
        "/v1/events",
        r#"{"lead":"B-1","event":"touched","at":"2026-11-23T10:05:00+01:00","by":"anna"}"#,
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"sla\":\"met\""), "{body}");
    let (status, body) = post(
        address,
        "/v1/events",
        r#"{"lead":"B-1","event":"touched","at":"2026-11-23T10:06:00+01:00","by":"boris"}"#,
    );
    assert_eq!(status, 422);
    assert!(body.contains("event.not_holder"), "{body}");
    // An event over several lines that breaks: where, in the body.
    let (status, body) = post(
        address,
        "/v1/events",
        "{\n  \"lead\": \"B-1\",\r\n  \"event\": tru\n}\n",
    );
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains("not JSON at line 3 column 12 of the body: "),
        "{body}"
    );
    // Health, readiness, status.
    assert_eq!(request(address, "GET", "/healthz", "", &[]).0, 200);
    assert_eq!(request(address, "GET", "/readyz", "", &[]).0, 200);
    let (status, body) = request(address, "GET", "/v1/status", "", &[]);
    assert_eq!(status, 200);
    let status_page: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(status_page["policy_hash"].as_str().unwrap().len() == 16);
    assert!(server.stop().success());
}

#[test]
fn a_token_guards_the_api_and_open_addresses_need_one() {
    let dir = scratch("token");
    let server = Server::start(&dir.join("state.db"), &[], Some("s3cret"));
    let body = r#"{"id":"T-1"}"#;
    let (status, answer) = post(&server.address, "/v1/leads", body);
    assert_eq!(status, 401, "{answer}");
    let (status, _) = request(
        &server.address,
        "POST",
        "/v1/leads",
        body,
        &[("Authorization", "Bearer wrong")],
    );
    assert_eq!(status, 401);
    let (status, _) = request(
        &server.address,
        "POST",
        "/v1/leads",
        body,
        &[("Authorization", "Bearer s3cret")],
    );
    assert_eq!(status, 422, "authorized; the lead itself lacks fields");
    // The scheme's name in any case (RFC 9110); the token exactly.
    for (authorization, expected) in [("bearer s3cret", 422), ("bearer S3CRET", 401)] {
        let (status, _) = request(
            &server.address,
            "POST",
            "/v1/leads",
            body,
            &[("Authorization", authorization)],
        );
        assert_eq!(status, expected, "{authorization}");
    }
    assert_eq!(request(&server.address, "GET", "/healthz", "", &[]).0, 200);
    assert!(server.stop().success());
    // Listening on every interface without a token is refused, with the way out.
    let output = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args([
            "serve",
            &example("routing.route"),
            "--state",
            ":memory:",
            "--listen",
            "0.0.0.0:0",
        ])
        .env_remove("SWITCHBOARD_TOKEN")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("SWITCHBOARD_TOKEN is not set"), "{stderr}");
}

/// The SQLite store takes a large batch's leads for new and lets the ledger's key check them
/// at commit: a request of 300 leads sent again, or with a recorded lead among new ones, is
/// answered as if it had read the ledger first.
#[test]
fn a_large_request_sent_again_gets_the_recorded_decisions() {
    let dir = scratch("again");
    let server = Server::start(&dir.join("state.db"), &[], None);
    let examples: Vec<serde_json::Value> = std::fs::read_to_string(example("leads.ndjson"))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let lead = |n: usize| {
        let mut lead = examples[n % examples.len()].clone();
        lead["id"] = format!("S-{n}").into();
        format!("{lead}\n")
    };
    let answers = |body: &str| -> Vec<serde_json::Value> {
        let (status, answer) = post(&server.address, "/v1/leads", body);
        assert_eq!(status, 200, "{answer}");
        answer
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    };
    let without_flag = |answer: &serde_json::Value| {
        let mut answer = answer.clone();
        answer.as_object_mut().unwrap().remove("duplicate");
        answer
    };
    let first = answers(&(0..300).map(lead).collect::<String>());
    assert_eq!(first.len(), 300);
    assert!(
        first
            .iter()
            .all(|a| a.get("duplicate").is_none() && a.get("error").is_none())
    );
    let again = answers(&(0..300).map(lead).collect::<String>());
    assert_eq!(again.len(), 300);
    for (before, now) in first.iter().zip(&again) {
        assert_eq!(now["duplicate"], true, "{now}");
        assert_eq!(without_flag(now), *before);
    }
    // 299 new leads, and the first one again at the end.
    let mixed = answers(&(300..599).chain([0]).map(lead).collect::<String>());
    assert_eq!(mixed.len(), 300);
    assert!(mixed[..299].iter().all(|a| a.get("duplicate").is_none()));
    assert_eq!(mixed[299]["duplicate"], true);
    assert_eq!(without_flag(&mixed[299]), first[0]);
    assert!(server.stop().success());
}

#[test]
fn concurrent_clients_with_repeated_ids_assign_each_lead_once_and_a_restart_keeps_them() {
    let dir = scratch("concurrent");
    let state = dir.join("state.db");
    let server = Server::start(&state, &[], None);
    let lead = |id: usize| {
        format!(
            r#"{{"id":"C-{id}","intent":"high","fit":"weak","region":"emea","country":"PL","employees":40,"deal_value":8000,"source":"demo_request","created_at":"2026-11-23T10:00:00+01:00"}}"#
        )
    };
    // 8 clients, 1,000 leads each; every tenth id is also sent by the next client.
    let clients: Vec<_> = (0..8)
        .map(|client| {
            let address = server.address.clone();
            std::thread::spawn(move || {
                let mut answers = Vec::new();
                for n in 0..1000 {
                    let id = if n % 10 == 0 {
                        ((client + 1) % 8) * 1000 + n
                    } else {
                        client * 1000 + n
                    };
                    let (status, body) = post(&address, "/v1/leads", &lead(id));
                    assert_eq!(status, 200, "{body}");
                    let answer: serde_json::Value = serde_json::from_str(body.trim()).unwrap();
                    answers.push((id, answer));
                }
                answers
            })
        })
        .collect();
    let mut by_id: std::collections::BTreeMap<usize, Vec<serde_json::Value>> =
        std::collections::BTreeMap::new();
    for client in clients {
        for (id, answer) in client.join().unwrap() {
            by_id.entry(id).or_default().push(answer);
        }
    }
    let mut counts: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for (id, answers) in &by_id {
        let fresh: Vec<_> = answers.iter().filter(|a| a["duplicate"] != true).collect();
        assert_eq!(fresh.len(), 1, "C-{id} decided {} times", fresh.len());
        for answer in answers {
            assert_eq!(answer["rep"], fresh[0]["rep"], "C-{id} answered two ways");
        }
        *counts
            .entry(fresh[0]["rep"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert_eq!(by_id.len(), 8000);
    // `hot_weak` sends them to `sdr`, weighted(dmitri=2, egor=1, sergei=1): whatever order the
    // clients' requests arrived in, the 8,000 leads split exactly 2:1:1.
    assert_eq!(
        counts,
        [("dmitri", 4000), ("egor", 2000), ("sergei", 2000)]
            .map(|(rep, n)| (rep.to_string(), n))
            .into_iter()
            .collect()
    );
    assert!(server.stop().success());
    // After SIGTERM, every answered lead is in the state: sending them all again gives
    // duplicates only.
    let server = Server::start(&state, &[], None);
    let all: String = by_id.keys().map(|id| format!("{}\n", lead(*id))).collect();
    let (status, body) = post(&server.address, "/v1/leads", &all);
    assert_eq!(status, 200);
    assert_eq!(body.lines().count(), 8000);
    assert!(body.lines().all(|line| line.contains("\"duplicate\":true")));
    assert!(server.stop().success());
}

#[test]
fn the_sweeper_fires_due_escalations_inside_the_server() {
    let dir = scratch("sweeper");
    let server = Server::start(&dir.join("state.db"), &["--sweep-every", "1"], None);
    // A hot lead from last week: its step to `backup` has long been due.
    let lead = r#"{"id":"S-1","intent":"high","fit":"strong","region":"emea","country":"DE","employees":800,"deal_value":20000,"source":"demo_request","created_at":"2026-11-23T10:00:00+01:00"}"#;
    let (status, body) = post(&server.address, "/v1/leads", lead);
    assert_eq!(status, 200);
    assert!(body.contains("\"rep\":\"anna\""), "{body}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (_, page) = request(&server.address, "GET", "/v1/status", "", &[]);
        let page: serde_json::Value = serde_json::from_str(&page).unwrap();
        if page["escalations_fired"].as_u64() == Some(1) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no sweep: {page}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // The lead's current decision is now the escalation's.
    let (_, body) = post(&server.address, "/v1/leads", lead);
    assert!(body.contains("\"pool\":\"backup\""), "{body}");
    assert!(body.contains("\"duplicate\":true"), "{body}");
    assert!(server.stop().success());
}

#[test]
fn sigterm_under_load_loses_no_answered_lead_and_retries_assign_none_twice() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let dir = scratch("sigterm");
    let state = dir.join("state.db");
    let server = Server::start(&state, &[], None);
    let lead = |id: usize| {
        format!(
            r#"{{"id":"T-{id}","intent":"high","fit":"weak","region":"emea","country":"PL","employees":40,"deal_value":8000,"source":"demo_request","created_at":"2026-11-23T10:00:00+01:00"}}"#
        )
    };
    let ids = |client: usize| {
        (0..400).map(move |n| {
            if n % 10 == 0 {
                ((client + 1) % 8) * 400 + n
            } else {
                client * 400 + n
            }
        })
    };
    let answered = std::sync::Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..8)
        .map(|client| {
            let address = server.address.clone();
            let answered = std::sync::Arc::clone(&answered);
            std::thread::spawn(move || {
                // (id, the answer when it was 200)
                let mut results = Vec::new();
                for id in ids(client) {
                    let answer = exchange(&address, "POST", "/v1/leads", &lead(id), &[])
                        .ok()
                        .filter(|(status, _, _)| *status == 200)
                        .map(|(_, _, body)| {
                            serde_json::from_str::<serde_json::Value>(body.trim()).unwrap()
                        });
                    if answer.is_some() {
                        answered.fetch_add(1, Ordering::Relaxed);
                    }
                    results.push((id, answer));
                }
                results
            })
        })
        .collect();
    // SIGTERM once about a third of the 3,200 requests were answered.
    while answered.load(Ordering::Relaxed) < 1000 {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    assert!(server.stop().success());
    let mut before: std::collections::BTreeMap<usize, Vec<serde_json::Value>> =
        std::collections::BTreeMap::new();
    let mut unanswered = 0;
    for client in clients {
        for (id, answer) in client.join().unwrap() {
            match answer {
                Some(answer) => before.entry(id).or_default().push(answer),
                None => unanswered += 1,
            }
        }
    }
    assert!(
        unanswered > 0,
        "the load ended before SIGTERM: make it longer"
    );
    // Clients retry everything after the restart: what was answered comes back as recorded.
    let server = Server::start(&state, &[], None);
    let every: std::collections::BTreeSet<usize> = (0..8).flat_map(ids).collect();
    let all: String = every.iter().map(|id| format!("{}\n", lead(*id))).collect();
    let (status, body) = post(&server.address, "/v1/leads", &all);
    assert_eq!(status, 200);
    let after: Vec<serde_json::Value> = body
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(after.len(), every.len());
    let mut fresh_after = 0;
    for (id, answer) in every.iter().zip(&after) {
        match before.get(id) {
            Some(answers) => {
                // Answered before SIGTERM: in the state, with the same rep, decided once.
                assert_eq!(answer["duplicate"], true, "T-{id} was answered, then lost");
                let fresh: Vec<_> = answers.iter().filter(|a| a["duplicate"] != true).collect();
                assert_eq!(fresh.len(), 1, "T-{id} decided {} times", fresh.len());
                assert_eq!(answer["rep"], fresh[0]["rep"], "T-{id} answered two ways");
            }
            None => {
                if answer["duplicate"] != true {
                    fresh_after += 1;
                }
            }
        }
    }
    assert!(fresh_after > 0);
    assert!(server.stop().success());
}

/// The README's "Run it as a service" example: the server as its `serve` line starts it, the
/// lead its `curl` line posts, and the answer it shows.
#[test]
fn the_readme_service_example_answers_what_the_readme_shows() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = readme
        .split("## Run it as a service")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("README has a section `Run it as a service`");
    let block = |fence: &str| {
        section
            .split(fence)
            .nth(1)
            .and_then(|rest| rest.split("```").next())
            .unwrap_or_else(|| panic!("no {fence} block"))
            .to_string()
    };
    let commands = block("```sh\n");
    let shown = block("```text\n");
    let serve = commands
        .lines()
        .find(|line| line.starts_with("switchboard serve "))
        .unwrap();
    let curl = commands
        .lines()
        .find(|line| line.starts_with("curl "))
        .unwrap();
    // The serve line's arguments, on a free port.
    let args: Vec<&str> = serve
        .trim_end_matches('&')
        .split_whitespace()
        .skip(2)
        .collect();
    let (policy, rest) = args.split_first().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let rest: Vec<String> = rest
        .iter()
        .map(|arg| {
            if arg.starts_with("examples/") {
                root.join(arg).to_string_lossy().to_string()
            } else {
                (*arg).to_string()
            }
        })
        .collect();
    let state_at = rest.iter().position(|arg| arg == "--state").unwrap();
    let state = PathBuf::from(&rest[state_at + 1]);
    let mut extra: Vec<&str> = rest.iter().map(String::as_str).collect();
    extra.drain(state_at..state_at + 2);
    let server = Server::start_with(&root.join(policy).to_string_lossy(), &state, &extra, &[]);
    let url = curl
        .split_whitespace()
        .find(|word| word.starts_with("http://127.0.0.1:8080"))
        .unwrap();
    let path = url.trim_start_matches("http://127.0.0.1:8080");
    let body = curl.split('\'').nth(1).unwrap();
    let (status, answer) = post(&server.address, path, body);
    assert_eq!(status, 200);
    assert_eq!(answer, shown);
    assert!(server.stop().success());
}

#[test]
fn metrics_count_requests_and_decisions_and_logs_can_be_json() {
    let dir = scratch("metrics");
    let server = Server::start(&dir.join("state.db"), &["--log-format", "json"], None);
    let lead = r#"{"id":"M-1","intent":"high","fit":"weak","region":"emea","country":"PL","employees":40,"deal_value":8000,"source":"demo_request","created_at":"2026-11-23T10:00:00+01:00"}"#;
    assert_eq!(post(&server.address, "/v1/leads", lead).0, 200);
    assert_eq!(post(&server.address, "/v1/leads", lead).0, 200);
    assert_eq!(post(&server.address, "/v1/leads", "{\"id\":1}").0, 422);
    assert_eq!(post(&server.address, "/v1/leads", "nope").0, 400);
    // A mistyped hook URL is counted too.
    assert_eq!(post(&server.address, "/v1/hooks/hubspot/", "{}").0, 404);
    let (status, head, text) = exchange(
        &server.address,
        "GET",
        "/metrics",
        "",
        &[("X-Request-Id", "from-the-proxy")],
    )
    .unwrap();
    assert_eq!(status, 200);
    // A request id given by the caller comes back; the others get one.
    assert!(
        head.to_ascii_lowercase()
            .contains("x-request-id: from-the-proxy"),
        "{head}"
    );
    for expected in [
        "switchboard_requests_total{endpoint=\"/v1/leads\",status=\"200\"} 2\n",
        "switchboard_requests_total{endpoint=\"/v1/leads\",status=\"422\"} 1\n",
        "switchboard_requests_total{endpoint=\"/v1/leads\",status=\"400\"} 1\n",
        "switchboard_request_duration_seconds_count{endpoint=\"/v1/leads\"} 4\n",
        "switchboard_requests_total{endpoint=\"other\",status=\"404\"} 1\n",
        "switchboard_decisions_total{action=\"pool\"} 1\n",
        "switchboard_decisions_total{action=\"error\"} 1\n",
        "switchboard_duplicates_total 1\n",
        "# TYPE switchboard_request_duration_seconds histogram\n",
    ] {
        assert!(text.contains(expected), "{expected} not in\n{text}");
    }
    // The log: one JSON object per line, the refused requests among them.
    let (status, log) = server.stop_with_log();
    assert!(status.success());
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|line| line["status"] == 422 && line["level"] == "WARN"),
        "{log}"
    );
    assert!(
        lines
            .iter()
            .any(|line| line["message"] == "stopped; every answered request is in the state"),
        "{log}"
    );
}

/// `SWITCHBOARD_LOG=warning` (meant: quieter) is no level: refused at the start, rather than
/// the log left at `info` without a word.
#[test]
fn a_log_level_that_names_no_level_is_refused() {
    let dir = scratch("log-level");
    let output = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args([
            "serve",
            &example("routing.route"),
            "--state",
            ":memory:",
            "--listen",
            "127.0.0.1:0",
        ])
        .current_dir(&dir)
        .env("SWITCHBOARD_LOG", "warning")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr).trim_end(),
        "error: SWITCHBOARD_LOG=`warning` is no log level: give `error`, `warn`, `info` or \
         `debug` (or `trace`, `off`)"
    );
}

#[test]
fn a_client_that_stalls_in_its_headers_is_disconnected_and_never_holds_a_shutdown() {
    let dir = scratch("slow-headers");
    let server = Server::start(&dir.join("state.db"), &["--header-timeout", "1"], None);
    // Half a request head, then nothing: the server hangs up after the header timeout.
    let mut stalled = TcpStream::connect(&server.address).unwrap();
    stalled
        .write_all(b"POST /v1/leads HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    stalled
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let mut rest = Vec::new();
    let read = stalled.read_to_end(&mut rest);
    assert!(read.is_ok(), "the server closed the connection: {read:?}");
    // Another stalled client does not keep a stopping server waiting.
    let mut second = TcpStream::connect(&server.address).unwrap();
    second.write_all(b"POST /v1/leads HTTP/1.1\r\n").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let stopping = std::time::Instant::now();
    let status = server.stop();
    assert!(status.success(), "{status}");
    assert!(
        stopping.elapsed() < std::time::Duration::from_secs(20),
        "the stop waited {:?} for a stalled client",
        stopping.elapsed()
    );
}

#[test]
fn a_request_past_its_time_is_a_counted_json_503() {
    let dir = scratch("timeout-503");
    let server = Server::start(&dir.join("state.db"), &["--request-timeout", "1"], None);
    // The head says 50 bytes; 10 come: the handler waits for the rest until the timeout.
    let mut stream = TcpStream::connect(&server.address).unwrap();
    stream
        .write_all(b"POST /v1/leads HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{\"id\":\"T-")
        .unwrap();
    let mut response = String::new();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    while reader.read_line(&mut line).unwrap() > 0 {
        response.push_str(&line);
        if line == "\r\n" {
            break;
        }
        line.clear();
    }
    assert!(response.starts_with("HTTP/1.1 503"), "{response}");
    let length: usize = response
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length: ")
                .map(str::to_string)
        })
        .and_then(|n| n.trim().parse().ok())
        .unwrap();
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let body = String::from_utf8(body).unwrap();
    assert!(body.contains("\"code\":\"timeout\""), "{body}");
    let (_, metrics) = request(&server.address, "GET", "/metrics", "", &[]);
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("switchboard_requests_total{") && l.contains("status=\"503\"")),
        "{metrics}"
    );
    assert!(server.stop().success());
}

#[test]
fn a_request_id_that_could_forge_log_fields_is_replaced() {
    let dir = scratch("request-ids");
    let server = Server::start(&dir.join("state.db"), &[], None);
    let forged = "fake\" status=200 path=/admin";
    for (sent, kept) in [
        ("abc-123", true),
        (forged, false),
        (&"x".repeat(500) as &str, false),
    ] {
        let (_, head, _) = exchange(
            &server.address,
            "GET",
            "/healthz",
            "",
            &[("x-request-id", sent)],
        )
        .unwrap();
        let echoed = head
            .lines()
            .find_map(|l| l.strip_prefix("x-request-id: "))
            .unwrap_or_default()
            .to_string();
        if kept {
            assert_eq!(echoed, sent);
        } else {
            assert!(
                echoed.starts_with("sb-"),
                "{sent:?} came back as {echoed:?}"
            );
        }
    }
    let (_, log) = server.stop_with_log();
    assert!(!log.contains("path=/admin"), "{log}");
}
