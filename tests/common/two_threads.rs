//! One load of leads for `route` on one thread and on two (`tests/route_two_threads.rs` with
//! SQLite, `tests/stores` with PostgreSQL): a policy of pools, caps, calendars and escalations,
//! leads over many days with repeats, reused ids and broken lines, and the check that both
//! ways give the same lines and leave the same state.
#![allow(dead_code)] // each test binary uses part of it

use std::path::Path;
use std::process::{Command, Output};

fn switchboard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(args)
        .env_remove("SWITCHBOARD_STATE")
        .output()
        .unwrap()
}

/// Pools with round robin, weights, caps per day and of open leads, calendars and
/// escalations; a queue; no `previous rep of` (a lead of that rule reads the state's file).
pub const POOLS: &str = "\
schema lead { id: string  email: string?  tier: enum { small, big, vip }  created_at: time }
calendar berlin { timezone Europe/Berlin  hours mon-fri 09:00-18:00 }
pool sdr { members anna, boris, chen  strategy round_robin  cap 300 per day  calendar berlin }
pool senior { members dana, eli, anna  strategy weighted(dana=2, eli=1, anna=1)  cap 1500 }
pool backup { members fay, gus  strategy ordered }
queue nurture
rule vip: when tier = vip -> pool senior within 15m escalate backup after 30m
rule small: when tier = small -> queue nurture
otherwise -> pool sdr within 1h escalate backup after 2h
";

/// [`POOLS`] with `previous rep of`: its leads read the state's file in every batch.
pub fn returning() -> String {
    POOLS.replace(
        "otherwise ->",
        "rule returning: when email is set -> previous rep of email since 30d else pool sdr within 1h\n\
         otherwise ->",
    )
}

/// Lead `n` of a load: 1,200 a day from 2026-11-02 on, so that every batch meets days (and
/// caps' windows) the batches before did not; every 97th line sends an earlier lead again,
/// every 331st reuses an earlier id for another lead, every 500th is not JSON. anna is in two
/// pools, and `sdr`'s cap counts what `senior` gave her too.
pub fn lead(n: usize) -> String {
    if n % 500 == 499 {
        return format!("{{\"id\": \"T-{n}\", broken");
    }
    let (id, n) = if n % 97 == 96 {
        (n - 50, n - 50)
    } else if n % 331 == 330 {
        (n - 100, n)
    } else {
        (n, n)
    };
    let tier = ["small", "big", "big", "vip", "big"][n % 5];
    let email = if n % 3 == 0 {
        "null".to_string()
    } else {
        format!("\"buyer{}@acme.com\"", n % 400)
    };
    let minute = n * 6 / 5;
    format!(
        "{{\"id\": \"T-{id}\", \"tier\": \"{tier}\", \"email\": {email}, \
         \"created_at\": \"2026-11-{:02}T{:02}:{:02}:00Z\"}}",
        2 + minute / (24 * 60),
        minute / 60 % 24,
        minute % 60
    )
}

pub fn write_leads(path: &Path, numbers: impl Iterator<Item = usize>) {
    let text: String = numbers.map(|n| lead(n) + "\n").collect();
    std::fs::write(path, text).unwrap();
}

/// Routes `leads` into `state` with `threads`: stdout, and stderr's summary.
pub fn route(policy: &Path, leads: &Path, state: &str, threads: &str) -> (String, String) {
    let output = switchboard(&[
        "route",
        &policy.to_string_lossy(),
        "--leads",
        &leads.to_string_lossy(),
        "--state",
        state,
        "--threads",
        threads,
        "--now",
        "2026-11-27T12:00:00Z",
    ]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "the malformed lines are errors: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

pub fn export(state: &str) -> String {
    let output = switchboard(&["state", "export", "--state", state]);
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap()
}

/// Routes `leads` into the state `one` on one thread and into `two` on two: one line out per
/// line in, the same lines, the same summary (each state named `STATE`) and the same exported
/// state. Answers the lines.
pub fn routed_alike(policy: &Path, leads: &Path, one: &str, two: &str) -> String {
    let (lines_one, said_one) = route(policy, leads, one, "1");
    let (lines_two, said_two) = route(policy, leads, two, "2");
    assert_eq!(
        lines_one.lines().count(),
        std::fs::read_to_string(leads).unwrap().lines().count(),
        "one line out per line in"
    );
    assert!(
        lines_one == lines_two,
        "the lines differ on two threads:\n{}",
        first_difference(&lines_one, &lines_two)
    );
    assert_eq!(
        said_one.replace(one, "STATE"),
        said_two.replace(two, "STATE")
    );
    let (rows_one, rows_two) = (export(one), export(two));
    assert!(
        rows_one == rows_two,
        "the states differ:\n{}",
        first_difference(&rows_one, &rows_two)
    );
    lines_two
}

/// Two loads (the second sends 3,000 leads of the first again among 6,000 new ones) into a
/// state routed on one thread (`one`) and into one routed on two (`two`): the same lines, the
/// same state. `dir` takes the policy and the leads. The summary names each state: `one` and
/// `two` are replaced by `STATE` there.
pub fn same_on_one_thread_and_two(dir: &Path, policy_text: &str, one: &str, two: &str) {
    let policy = dir.join("policy.route");
    std::fs::write(&policy, policy_text).unwrap();
    let (first, second) = (dir.join("first.ndjson"), dir.join("second.ndjson"));
    write_leads(&first, 0..14_000);
    write_leads(&second, (11_000..14_000).chain(20_000..26_000));
    let mut last = String::new();
    for leads in [&first, &second] {
        last = routed_alike(&policy, leads, one, two);
    }
    // Sent a third time, every lead decided before comes back as the recorded decision.
    let (again, _) = route(&policy, &second, two, "2");
    let decided = |lines: &str| {
        lines
            .lines()
            .filter(|line| !line.contains("\"error\""))
            .count()
    };
    assert!(decided(&last) > 8_000, "{last}");
    assert_eq!(again.matches("\"duplicate\":true").count(), decided(&last));
    assert_eq!(decided(&again), decided(&last));
}

pub fn first_difference(a: &str, b: &str) -> String {
    a.lines()
        .zip(b.lines())
        .enumerate()
        .find(|(_, (a, b))| a != b)
        .map_or_else(
            || format!("{} lines against {}", a.lines().count(), b.lines().count()),
            |(index, (a, b))| format!("line {}:\n  {a}\n  {b}", index + 1),
        )
}
