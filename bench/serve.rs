//! Benchmark: `switchboard serve` under load from a small HTTP/1.1 client on the same machine
//! (keep-alive connections, one thread each), SQLite state, the generated 100-rule policy:
//! (a) `route` on the leads, from the command line, as the baseline;
//! (b) batches of 100 leads per request from 4 clients: leads/s, and the ratio to (a);
//! (c) one lead per request from 16 clients as fast as they can: the maximum requests/s;
//! (d) one lead per request at a fixed rate (50% and 90% of (c), and 1,000 requests/s), spread
//!     over 16 clients: p50 and p99 latency, measured from when each request was due to be sent
//!     (so a server that falls behind is charged for the wait).
//! Run with `cargo bench --bench serve` (`-- --leads N` for (a) and (b); default 200,000).
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // a benchmark that measures the wrong thing must stop

#[path = "generator.rs"]
mod generator;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A keep-alive HTTP/1.1 connection.
struct Connection {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Connection {
    fn open(address: &str) -> Connection {
        let stream = TcpStream::connect(address).unwrap();
        stream.set_nodelay(true).unwrap();
        Connection {
            writer: stream.try_clone().unwrap(),
            reader: BufReader::new(stream),
        }
    }

    /// POSTs `body`; the status and the body's length.
    fn post(&mut self, path: &str, body: &[u8]) -> (u16, usize) {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let mut request = head.into_bytes();
        request.extend_from_slice(body);
        self.writer.write_all(&request).unwrap();
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        let status: u16 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        let mut length = 0;
        loop {
            line.clear();
            self.reader.read_line(&mut line).unwrap();
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap();
            }
        }
        let mut answer = vec![0; length];
        self.reader.read_exact(&mut answer).unwrap();
        (status, length)
    }
}

struct Server {
    child: Child,
    address: String,
}

impl Server {
    fn start(policy: &Path, state: &Path) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .arg("serve")
            .arg(policy)
            .arg("--state")
            .arg(state)
            .args(["--listen", "127.0.0.1:0", "--sweep-every", "3600"])
            .env("SWITCHBOARD_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        // At the `error` level the server says nothing: wait for it to answer.
        std::thread::spawn(move || while stderr.read_line(&mut line).unwrap_or(0) > 0 {});
        let port = wait_for_port(&child);
        Server {
            child,
            address: format!("127.0.0.1:{port}"),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// The port the server listens on, from /proc (it binds port 0).
fn wait_for_port(child: &Child) -> u16 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(port) = listening_port(child.id()) {
            return port;
        }
        assert!(Instant::now() < deadline, "the server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn listening_port(pid: u32) -> Option<u16> {
    // The inodes of the process's sockets, then the one listening in /proc/net/tcp.
    let mut inodes = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd")).ok()? {
        let target = std::fs::read_link(entry.ok()?.path()).ok()?;
        let target = target.to_string_lossy();
        if let Some(inode) = target
            .strip_prefix("socket:[")
            .and_then(|rest| rest.strip_suffix(']'))
        {
            inodes.push(inode.to_string());
        }
    }
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    table.lines().skip(1).find_map(|row| {
        let columns: Vec<&str> = row.split_whitespace().collect();
        let listening = columns.get(3) == Some(&"0A");
        let inode = columns.get(9)?;
        if listening && inodes.iter().any(|mine| mine == inode) {
            let port = columns.get(1)?.rsplit(':').next()?;
            u16::from_str_radix(port, 16).ok()
        } else {
            None
        }
    })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Sends one lead per request at `rate` requests/s for `seconds`, over `clients` connections;
/// every latency, from when its request was due.
fn paced(address: &str, leads: &[&[u8]], rate: f64, seconds: f64, clients: usize) -> Vec<Duration> {
    let total = (rate * seconds) as usize;
    let interval = Duration::from_secs_f64(clients as f64 / rate);
    let start = Instant::now() + Duration::from_millis(50);
    let mut latencies: Vec<Duration> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|client| {
                scope.spawn(move || {
                    let mut connection = Connection::open(address);
                    let mut mine = Vec::new();
                    let offset = interval.mul_f64(client as f64 / clients as f64);
                    for n in 0..total / clients {
                        let due = start + offset + interval * n as u32;
                        let now = Instant::now();
                        if due > now {
                            std::thread::sleep(due - now);
                        }
                        let lead = leads[(n * clients + client) % leads.len()];
                        let (status, _) = connection.post("/v1/leads", lead);
                        assert_eq!(status, 200);
                        mine.push(due.elapsed());
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    latencies.sort();
    latencies
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = !args.iter().any(|arg| arg == "--bench");
    let count: usize = args
        .iter()
        .position(|arg| arg == "--leads")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(if quick { 2_000 } else { 200_000 });
    let seconds = if quick { 0.5 } else { 4.0 };
    let dir = std::env::temp_dir().join(format!("switchboard-bench-serve-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let policy = dir.join("policy.route");
    std::fs::write(&policy, generator::policy(100)).unwrap();
    let input = generator::leads(count);
    let leads_file = dir.join("leads.ndjson");
    std::fs::write(&leads_file, &input).unwrap();
    let lines: Vec<&[u8]> = input
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .collect();

    // (a) route, SQLite state.
    let started = Instant::now();
    let routed = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("route")
        .arg(&policy)
        .arg("--state")
        .arg(dir.join("route.db"))
        .arg("--leads")
        .arg(&leads_file)
        .arg("--quiet")
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(routed.success());
    let route_rate = count as f64 / started.elapsed().as_secs_f64();

    // (b) batches of 100 from 4 clients.
    let server = Server::start(&policy, &dir.join("batches.db"));
    let batches: Vec<Vec<u8>> = lines
        .chunks(100)
        .map(|chunk| {
            let mut body = Vec::new();
            for line in chunk {
                body.extend_from_slice(line);
                body.push(b'\n');
            }
            body
        })
        .collect();
    let started = Instant::now();
    std::thread::scope(|scope| {
        for client in 0..4 {
            let (address, batches) = (&server.address, &batches);
            scope.spawn(move || {
                let mut connection = Connection::open(address);
                for body in batches.iter().skip(client).step_by(4) {
                    let (status, _) = connection.post("/v1/leads", body);
                    assert_eq!(status, 200);
                }
            });
        }
    });
    let batch_elapsed = started.elapsed().as_secs_f64();
    let batch_rate = count as f64 / batch_elapsed;
    drop(server);

    // (c) single leads, as fast as 16 clients go.
    let server = Server::start(&policy, &dir.join("single.db"));
    let clients = 16;
    let started = Instant::now();
    let sent: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|client| {
                let (address, lines) = (&server.address, &lines);
                scope.spawn(move || {
                    let mut connection = Connection::open(address);
                    let mut sent = 0;
                    while started.elapsed().as_secs_f64() < seconds {
                        let lead = lines[(sent * clients + client) % lines.len()];
                        assert_eq!(connection.post("/v1/leads", lead).0, 200);
                        sent += 1;
                    }
                    sent
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    let max_rate = sent as f64 / started.elapsed().as_secs_f64();

    // (d) paced single leads.
    let mut rows = Vec::new();
    for (label, rate) in [
        ("50% of the maximum", max_rate * 0.5),
        ("90% of the maximum", max_rate * 0.9),
        ("1,000 requests/s", 1000.0_f64.min(max_rate * 0.9)),
    ] {
        let latencies = paced(&server.address, &lines, rate, seconds, clients);
        rows.push((
            label,
            rate,
            latencies.len(),
            percentile(&latencies, 50.0),
            percentile(&latencies, 99.0),
        ));
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);

    println!("serve benchmark: {count} leads, generated 100-rule policy, SQLite state");
    println!("\n| run | leads/s | of `route` |");
    println!("|---|---:|---:|");
    println!("| (a) `route --state FILE` | {route_rate:.0} | 1.00 |");
    println!(
        "| (b) serve, batches of 100, 4 clients | {batch_rate:.0} | {:.2} |",
        batch_rate / route_rate
    );
    println!(
        "| (c) serve, one lead per request, 16 clients, as fast as they go | {max_rate:.0} | {:.2} |",
        max_rate / route_rate
    );
    println!("\n| one lead per request at | requests | p50 | p99 |");
    println!("|---|---:|---:|---:|");
    for (label, rate, requests, p50, p99) in rows {
        println!(
            "| {label} ({rate:.0}/s) | {requests} | {:.2} ms | {:.2} ms |",
            p50.as_secs_f64() * 1000.0,
            p99.as_secs_f64() * 1000.0
        );
    }
}
