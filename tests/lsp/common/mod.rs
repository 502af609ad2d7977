//! A minimal LSP client for tests: spawns the real server binary, speaks JSON-RPC over its stdio
//! with Content-Length framing, and collects the notifications it sends.

#![allow(dead_code)]

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

/// How long any one answer may take before the test fails (the server must never hang).
pub const TIMEOUT: Duration = Duration::from_secs(20);

pub struct Client {
    child: Child,
    stdin: ChildStdin,
    incoming: Receiver<Value>,
    next_id: i64,
    /// Notifications received but not yet taken, in order.
    pub notifications: Vec<Value>,
    pub workspace: PathBuf,
    /// What the server announced at `initialize`.
    pub capabilities: Value,
}

impl Client {
    /// Starts the server and initializes it, with a fresh workspace folder.
    pub fn start(name: &str) -> Client {
        let workspace =
            std::env::temp_dir().join(format!("switchboard-lsp-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&workspace);
        std::fs::create_dir_all(&workspace).unwrap();
        let workspace = workspace.canonicalize().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the server starts");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (sender, incoming) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            while let Some(message) = read_message(&mut reader) {
                if sender.send(message).is_err() {
                    break;
                }
            }
        });
        let mut client = Client {
            child,
            stdin,
            incoming,
            next_id: 1,
            notifications: Vec::new(),
            workspace,
            capabilities: Value::Null,
        };
        let root = client.uri("");
        let result = client.request(
            "initialize",
            json!({
                "processId": null,
                "rootUri": root,
                "capabilities": {
                    "textDocument": {
                        "publishDiagnostics": {"relatedInformation": true},
                        "completion": {"completionItem": {"snippetSupport": true}}
                    }
                }
            }),
        );
        assert!(
            result.get("result").is_some(),
            "initialize failed: {result}"
        );
        client.capabilities = result["result"]["capabilities"].clone();
        client.notify("initialized", json!({}));
        client
    }

    /// The server's peak resident memory so far, in KiB (Linux; `None` elsewhere).
    pub fn peak_memory_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// A `file://` URI for a path in the workspace.
    pub fn uri(&self, relative: &str) -> String {
        format!("file://{}", self.workspace.join(relative).display())
            .trim_end_matches('/')
            .to_string()
    }

    pub fn write_file(&self, relative: &str, text: &str) {
        std::fs::write(self.workspace.join(relative), text).unwrap();
    }

    pub fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// Sends a request and returns the whole response (with `result` or `error`).
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let message = self.receive(deadline, method);
            if message.get("id") == Some(&json!(id)) && message.get("method").is_none() {
                return message;
            }
            self.keep(message);
        }
    }

    /// Sends a request framed by hand (`body` is its JSON text, `id` its id) and returns the
    /// whole response.
    pub fn request_raw(&mut self, body: &str, id: &Value) -> Value {
        self.send_raw(format!("Content-Length: {}\r\n\r\n{body}", body.len()).as_bytes());
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let message = self.receive(deadline, body.get(..80).unwrap_or(body));
            if message.get("id") == Some(id) && message.get("method").is_none() {
                return message;
            }
            self.keep(message);
        }
    }

    /// The result of a request that must succeed.
    pub fn result(&mut self, method: &str, params: Value) -> Value {
        let response = self.request(method, params);
        match response.get("result") {
            Some(result) => result.clone(),
            None => panic!("{method} failed: {response}"),
        }
    }

    /// Waits for the next `publishDiagnostics` for `uri` (taking earlier ones first).
    pub fn diagnostics(&mut self, uri: &str) -> Value {
        self.notification("textDocument/publishDiagnostics", |params| {
            params["uri"] == uri
        })
    }

    /// Waits for a notification that satisfies `matches`, and takes it.
    pub fn notification(&mut self, method: &str, matches: impl Fn(&Value) -> bool) -> Value {
        if let Some(index) = self
            .notifications
            .iter()
            .position(|n| n["method"] == method && matches(&n["params"]))
        {
            return self.notifications.remove(index)["params"].clone();
        }
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let message = self.receive(deadline, method);
            if message["method"] == method && matches(&message["params"]) {
                return message["params"].clone();
            }
            self.keep(message);
        }
    }

    /// Waits for diagnostics of `uri` published for `version`, dropping older ones.
    pub fn diagnostics_for_version(&mut self, uri: &str, version: i64) -> Value {
        loop {
            let params = self.diagnostics(uri);
            if params["version"] == json!(version) {
                return params;
            }
        }
    }

    pub fn open(&mut self, relative: &str, text: &str) -> String {
        let uri = self.uri(relative);
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": "switchboard", "version": 1, "text": text}}),
        );
        uri
    }

    pub fn change(&mut self, uri: &str, version: i64, text: &str) {
        self.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]}),
        );
    }

    /// Shuts the server down and checks that it exits with status 0.
    pub fn shutdown(mut self) {
        let response = self.request("shutdown", Value::Null);
        assert_eq!(response["result"], Value::Null, "{response}");
        self.notify("exit", Value::Null);
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "the server exited with {status}");
                break;
            }
            assert!(Instant::now() < deadline, "the server did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = std::fs::remove_dir_all(&self.workspace);
    }

    /// Waits for the server to exit on its own, and its status.
    pub fn wait_for_exit(mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let _ = std::fs::remove_dir_all(&self.workspace);
                return status;
            }
            assert!(Instant::now() < deadline, "the server did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn keep(&mut self, message: Value) {
        if message.get("method").is_some() {
            self.notifications.push(message);
        }
    }

    fn receive(&mut self, deadline: Instant, waiting_for: &str) -> Value {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.incoming.recv_timeout(left) {
            Ok(message) => message,
            Err(RecvTimeoutError::Timeout) => {
                panic!("no answer to {waiting_for} within {TIMEOUT:?}")
            }
            Err(RecvTimeoutError::Disconnected) => {
                panic!("the server closed its output while we waited for {waiting_for}")
            }
        }
    }

    pub fn send(&mut self, message: &Value) {
        let body = message.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        self.stdin.flush().unwrap();
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stdin.write_all(bytes).unwrap();
        self.stdin.flush().unwrap();
    }

    /// Replaces the workspace path in a response so that snapshots do not depend on it.
    pub fn normalize(&self, value: &Value) -> Value {
        let text = value.to_string();
        let root = format!("file://{}", self.workspace.display());
        serde_json::from_str(&text.replace(&root, "file:///WORKSPACE")).unwrap()
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // A failed test's workspace is kept, to be looked at.
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.workspace);
        }
    }
}

fn read_message(reader: &mut impl BufRead) -> Option<Value> {
    let mut length = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(value) = line.strip_prefix("Content-Length:") {
            length = value.trim().parse::<usize>().ok();
        }
    }
    let mut body = vec![0; length?];
    reader.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}

/// The repository's `examples/` folder.
pub fn examples() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/examples"))
}

/// The 0-based line and UTF-16 column of the first occurrence of `needle` (after `after`).
pub fn position_of(text: &str, needle: &str, after: &str) -> (u32, u32) {
    let start = text.find(after).unwrap_or(0);
    let offset = start
        + text[start..]
            .find(needle)
            .unwrap_or_else(|| panic!("`{needle}` not in text"));
    let line = text[..offset].matches('\n').count();
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let column = text[line_start..offset].encode_utf16().count();
    (line as u32, column as u32)
}

/// Applies a list of LSP text edits (on one document) to `text`.
pub fn apply_edits(text: &str, edits: &[Value]) -> String {
    let mut spans: Vec<(usize, usize, String)> = edits
        .iter()
        .map(|edit| {
            let start = offset_of(text, &edit["range"]["start"]);
            let end = offset_of(text, &edit["range"]["end"]);
            (start, end, edit["newText"].as_str().unwrap().to_string())
        })
        .collect();
    spans.sort_by_key(|(start, _, _)| std::cmp::Reverse(*start));
    let mut out = text.to_string();
    for (start, end, new_text) in spans {
        out.replace_range(start..end, &new_text);
    }
    out
}

fn offset_of(text: &str, position: &Value) -> usize {
    let line = position["line"].as_u64().unwrap() as usize;
    let character = position["character"].as_u64().unwrap() as usize;
    let line_start = if line == 0 {
        0
    } else {
        text.match_indices('\n')
            .nth(line - 1)
            .map_or(text.len(), |(i, _)| i + 1)
    };
    let mut units = 0;
    for (index, ch) in text[line_start..].char_indices() {
        if units >= character || ch == '\n' {
            return line_start + index;
        }
        units += ch.len_utf16();
    }
    text.len()
}
