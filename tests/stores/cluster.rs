//! A throwaway PostgreSQL cluster for the tests: `initdb` in a temporary directory, a free port,
//! trust authentication on 127.0.0.1 only, run as a user that is not root (the `postgres` user
//! when the tests run as root, as on CI). It is killed when the test process ends (the server
//! runs under `setpriv --pdeathsig`, from a thread that lives as long as the process).
//! `Err`, with the reason, when PostgreSQL is not installed (`.ci/run` installs it), or when
//! `SWITCHBOARD_TEST_POSTGRES=off`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

pub struct Cluster {
    pub port: u16,
    next_database: std::sync::atomic::AtomicUsize,
    /// The server's command, to start it again.
    bin: PathBuf,
    data: PathBuf,
    socket_dir: PathBuf,
    root: bool,
    /// The CA that signed the server's certificate (the server takes TLS, and the role
    /// `tlsonly` may connect only through it), when `openssl` could make them.
    pub tls_root: Option<PathBuf>,
}

impl Cluster {
    /// Stops the server (a fast shutdown: sessions are cut, nothing committed is lost) and starts
    /// it again on the same files and port, as a restart of the database does. Call it from the
    /// thread that lives longest (the harness's main thread): the new server is killed when
    /// that thread ends.
    pub fn restart(&self) {
        self.stop();
        self.start_again();
    }

    /// Stops the server (a fast shutdown).
    pub fn stop(&self) {
        let pid = std::fs::read_to_string(self.data.join("postmaster.pid"))
            .ok()
            .and_then(|text| text.lines().next().map(str::to_string))
            .expect("the server's pid file");
        let stopped = Command::new("kill").args(["-INT", &pid]).status().unwrap();
        assert!(stopped.success());
        // A clean shutdown removes the pid file last (the process itself stays a zombie of
        // ours, never reaped, so /proc would not tell).
        let pid_file = self.data.join("postmaster.pid");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while pid_file.exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "the server did not stop"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Starts the stopped server again on the same files and port, from the calling thread
    /// (which should be the harness's main thread: the server dies with it).
    pub fn start_again(&self) {
        let mut server = server_command(
            &self.bin,
            &self.data,
            &self.socket_dir,
            self.port,
            self.root,
            self.tls_root.is_some(),
        );
        let child = server.spawn().expect("the server starts again");
        std::mem::forget(child);
        wait_until_ready(self.port).expect("the server answers again");
    }

    /// Runs SQL on the cluster's `postgres` database as the superuser.
    pub fn execute(&self, sql: &str) {
        let mut client = postgres::Client::connect(
            &format!(
                "host=127.0.0.1 port={} user=switchboard dbname=postgres",
                self.port
            ),
            postgres::NoTls,
        )
        .expect("the test cluster answers");
        client.batch_execute(sql).expect("the SQL runs");
    }

    /// A new, empty database on the cluster, as a `--state` URL.
    pub fn database(&self, name: &str) -> String {
        let n = self
            .next_database
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let database = format!(
            "{}_{n}",
            name.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
        );
        let mut client = postgres::Client::connect(
            &format!(
                "host=127.0.0.1 port={} user=switchboard dbname=postgres",
                self.port
            ),
            postgres::NoTls,
        )
        .expect("the test cluster answers");
        client
            .batch_execute(&format!("CREATE DATABASE {database}"))
            .expect("a test database can be created");
        format!("postgres://switchboard@127.0.0.1:{}/{database}", self.port)
    }
}

/// The count a query (`SELECT count(*) …`) answers in the database of a `--state` URL.
pub fn count(state: &str, sql: &str) -> i64 {
    let mut client =
        postgres::Client::connect(state, postgres::NoTls).expect("the test database answers");
    client.query_one(sql, &[]).expect("the query runs").get(0)
}

/// A transaction of the test's own on a `--state` database, holding the gate every writing
/// batch locks first: routers wait for it as they wait for another router's batch, and what it
/// writes is committed, as another router's batch would be, when it is released.
pub struct HeldGate {
    client: postgres::Client,
    state: String,
}

impl HeldGate {
    pub fn take(state: &str) -> HeldGate {
        let mut client =
            postgres::Client::connect(state, postgres::NoTls).expect("the test database answers");
        client
            // As a router's batch takes it: locked, its generation moved on.
            .batch_execute("BEGIN; UPDATE gate SET generation = generation + 1 WHERE gate_key = 1")
            .expect("the gate can be locked");
        HeldGate {
            client,
            state: state.to_string(),
        }
    }

    /// Waits (up to a minute) until the session named `application` waits for a lock, and
    /// answers whether its transaction had written anything by then (it has an id).
    pub fn waiting_writer(&self, application: &str) -> bool {
        let mut watcher = postgres::Client::connect(&self.state, postgres::NoTls)
            .expect("the test database answers");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let waiting = watcher
                .query_opt(
                    "SELECT backend_xid IS NOT NULL FROM pg_stat_activity \
                     WHERE application_name = $1 AND wait_event_type = 'Lock'",
                    &[&application],
                )
                .expect("pg_stat_activity can be read");
            if let Some(row) = waiting {
                return row.get(0);
            }
            assert!(
                std::time::Instant::now() < deadline,
                "`{application}` never waited for the gate"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Runs SQL inside the held transaction.
    pub fn execute(&mut self, sql: &str) {
        self.client.batch_execute(sql).expect("the SQL runs");
    }

    /// Commits what it wrote and lets the routers in.
    pub fn release(mut self) {
        self.client.batch_execute("COMMIT").expect("the commit");
    }
}

/// Removes the cluster's directory (the server itself is killed when the process ends).
pub fn remove_files() {
    let dir = std::env::temp_dir().join(format!("switchboard-pg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(dir);
}

/// The cluster of this test process, started on first use.
pub fn cluster() -> Result<&'static Cluster, String> {
    static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();
    CLUSTER.get_or_init(start).as_ref().map_err(Clone::clone)
}

fn binaries() -> Result<PathBuf, String> {
    let from_pg_config = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()));
    let mut candidates: Vec<PathBuf> = from_pg_config.into_iter().collect();
    if let Ok(versions) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut found: Vec<PathBuf> = versions
            .filter_map(Result::ok)
            .map(|entry| entry.path().join("bin"))
            .collect();
        found.sort();
        candidates.extend(found.into_iter().rev());
    }
    candidates
        .into_iter()
        .find(|dir| dir.join("initdb").exists() && dir.join("postgres").exists())
        .ok_or_else(|| {
            "PostgreSQL is not installed (no initdb and postgres found by pg_config or under \
             /usr/lib/postgresql; `.ci/run` installs them with apt-get install postgresql)"
                .to_string()
        })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
}

/// `program args…` as the cluster's user: `postgres` under root, else ourselves.
fn as_cluster_user(program: &Path, root: bool) -> Command {
    if root {
        let mut command = Command::new("setpriv");
        command
            .args([
                "--reuid=postgres",
                "--regid=postgres",
                "--init-groups",
                "--pdeathsig=KILL",
            ])
            .arg(program);
        command
    } else {
        let mut command = Command::new("setpriv");
        command.arg("--pdeathsig=KILL").arg(program);
        command
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .unwrap_or(54329)
}

fn start() -> Result<Cluster, String> {
    if std::env::var("SWITCHBOARD_TEST_POSTGRES").is_ok_and(|value| value == "off") {
        return Err("SWITCHBOARD_TEST_POSTGRES=off".to_string());
    }
    let bin = binaries()?;
    let root = is_root();
    let dir = std::env::temp_dir().join(format!("switchboard-pg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|error| format!("cannot create {dir:?}: {error}"))?;
    if root {
        let owned = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(&dir)
            .status()
            .map_err(|error| format!("chown: {error}"))?;
        if !owned.success() {
            return Err("cannot give the cluster's directory to the `postgres` user".to_string());
        }
    }
    let data = dir.join("data");
    let initdb = as_cluster_user(&bin.join("initdb"), root)
        .arg("-D")
        .arg(&data)
        .args([
            "-U",
            "switchboard",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ])
        .stdout(Stdio::null())
        .output()
        .map_err(|error| format!("cannot run initdb: {error}"))?;
    if !initdb.status.success() {
        return Err(format!(
            "initdb failed: {}",
            String::from_utf8_lossy(&initdb.stderr)
        ));
    }
    let tls_root = certificates(&dir, &data, root);
    let port = free_port();
    let (started, ready) = std::sync::mpsc::channel();
    let mut server = server_command(&bin, &data, &dir, port, root, tls_root.is_some());
    // The thread that starts the server lives as long as the process: the server gets SIGKILL
    // when it ends (pdeathsig follows the thread that forked it).
    std::thread::spawn(move || {
        let child = server.spawn();
        let failed = child.as_ref().err().map(ToString::to_string);
        let _ = started.send(failed);
        let _child = child;
        loop {
            std::thread::park();
        }
    });
    if let Ok(Some(error)) = ready.recv() {
        return Err(format!("cannot start postgres: {error}"));
    }
    wait_until_ready(port)?;
    Ok(Cluster {
        port,
        next_database: std::sync::atomic::AtomicUsize::new(0),
        bin,
        data,
        socket_dir: dir,
        root,
        tls_root,
    })
}

/// A CA and a server certificate for 127.0.0.1 signed by it (ECDSA P-256, by `openssl`), in
/// the data directory, and `pg_hba.conf` lines that let the role `tlsonly` in only through TLS.
/// `None` when `openssl` is missing or fails.
fn certificates(dir: &Path, data: &Path, root: bool) -> Option<PathBuf> {
    let openssl = |args: &[&str]| {
        Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    };
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
         keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .ok()?;
    let key = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let made = openssl(
        &[
            &["req", "-x509"][..],
            &key,
            &["-keyout", "ca.key", "-out", "ca.pem", "-days", "2"],
            &["-subj", "/CN=Switchboard test CA"],
        ]
        .concat(),
    ) && openssl(
        &[
            &["req"][..],
            &key,
            &[
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=127.0.0.1",
            ],
        ]
        .concat(),
    ) && openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
    if !made {
        return None;
    }
    for file in ["server.crt", "server.key"] {
        std::fs::copy(dir.join(file), data.join(file)).ok()?;
    }
    if root {
        let owned = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(data.join("server.crt"))
            .arg(data.join("server.key"))
            .status();
        if !owned.is_ok_and(|status| status.success()) {
            return None;
        }
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        data.join("server.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .ok()?;
    let hba = data.join("pg_hba.conf");
    let rules = std::fs::read_to_string(&hba).ok()?;
    std::fs::write(
        &hba,
        format!(
            "hostssl all tlsonly 127.0.0.1/32 trust\nhost all tlsonly 127.0.0.1/32 reject\n{rules}"
        ),
    )
    .ok()?;
    Some(dir.join("ca.pem"))
}

fn server_command(
    bin: &Path,
    data: &Path,
    socket_dir: &Path,
    port: u16,
    root: bool,
    tls: bool,
) -> Command {
    let mut server = as_cluster_user(&bin.join("postgres"), root);
    server
        .arg("-D")
        .arg(data)
        .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1"])
        .arg("-k")
        .arg(socket_dir)
        .args(["-c", "fsync=off", "-c", "max_connections=200"]);
    if tls {
        server.args(["-c", "ssl=on", "-c", "ssl_cert_file=server.crt"]);
        server.args(["-c", "ssl_key_file=server.key"]);
    }
    server.stdout(Stdio::null()).stderr(Stdio::null());
    server
}

fn wait_until_ready(port: u16) -> Result<(), String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let connected = postgres::Client::connect(
            &format!("host=127.0.0.1 port={port} user=switchboard dbname=postgres"),
            postgres::NoTls,
        );
        match connected {
            Ok(_) => return Ok(()),
            Err(error) if std::time::Instant::now() > deadline => {
                return Err(format!("the test cluster did not start: {error}"));
            }
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(50)),
        }
    }
}
