//! What installing gives besides the binary: shell completions and the manual page, generated
//! from the same argument definitions as `--help`, and the language server inside the one binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::process::{Command, Stdio};

fn switchboard(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn completions_for_each_shell_name_every_command() {
    for (shell, marker) in [
        ("bash", "complete -F _switchboard"),
        ("zsh", "#compdef switchboard"),
        ("fish", "complete -c switchboard"),
    ] {
        let output = switchboard(&["completions", shell]);
        assert_eq!(output.status.code(), Some(0), "{shell}");
        let script = String::from_utf8(output.stdout).unwrap();
        assert!(script.contains(marker), "{shell}: {script}");
        for command in ["check", "route", "explain", "lsp", "completions"] {
            assert!(script.contains(command), "{shell} completes `{command}`");
        }
    }
    let output = switchboard(&["completions", "tcsh"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8(output.stderr)
            .unwrap()
            .contains("possible values")
    );
}

#[test]
fn the_manual_page_is_roff_with_every_command() {
    let output = switchboard(&["man"]);
    assert_eq!(output.status.code(), Some(0));
    let page = String::from_utf8(output.stdout).unwrap();
    assert!(
        page.starts_with(".ie \\n(.g .ds Aq \\(aq"),
        "{}",
        &page[..80]
    );
    assert!(page.contains(".TH switchboard 1"), "{page}");
    for command in ["check", "route", "explain", "lsp"] {
        assert!(
            page.contains(&format!("switchboard\\-{command}")),
            "{command}"
        );
    }
}

/// Every page the main one names exists: `switchboard man COMMAND` prints one, `--out-dir`
/// writes them all, and the main page names no page for `help`. A command that does not exist
/// and a folder that does not exist are refused by name.
#[test]
fn every_command_has_the_page_the_main_page_names() {
    let page = String::from_utf8(switchboard(&["man"]).stdout).unwrap();
    assert!(!page.contains("switchboard\\-help"), "{page}");
    let route = switchboard(&["man", "route"]);
    assert_eq!(route.status.code(), Some(0));
    let route = String::from_utf8(route.stdout).unwrap();
    assert!(route.contains(".TH switchboard-route 1"), "{route}");
    assert!(route.contains("\\-\\-threads"), "{route}");
    let dir = std::env::temp_dir().join(format!("switchboard-man-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let written = switchboard(&["man", "--out-dir", dir.to_str().unwrap()]);
    assert_eq!(written.status.code(), Some(0));
    let listed = String::from_utf8(written.stdout).unwrap();
    for named in page.split("switchboard\\-").skip(1) {
        let command: String = named
            .chars()
            .take_while(|c| c.is_ascii_lowercase())
            .collect();
        let file = dir.join(format!("switchboard-{command}.1"));
        assert!(file.is_file(), "no page for `{command}` in {listed}");
        assert!(listed.contains(&*file.to_string_lossy()), "{listed}");
    }
    assert!(dir.join("switchboard.1").is_file());
    // Every file written is listed, nested commands' pages too.
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        assert!(
            listed.contains(&*path.to_string_lossy()),
            "{path:?} not in {listed}"
        );
    }
    assert!(dir.join("switchboard-state-export.1").is_file());
    let nested = String::from_utf8(switchboard(&["man", "state", "export"]).stdout).unwrap();
    assert!(
        nested.contains(".TH switchboard-state-export 1"),
        "{nested}"
    );
    let unknown = switchboard(&["man", "rout"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("no command `rout`: the commands are"),
        "{}",
        String::from_utf8_lossy(&unknown.stderr)
    );
    let missing = switchboard(&["man", "--out-dir", dir.join("nope").to_str().unwrap()]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("does not exist: make it first"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `switchboard lsp` is the language server itself, linked into the binary: it answers
/// `initialize` with no other executable installed.
#[test]
fn the_one_binary_answers_initialize() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("lsp")
        .env("PATH", "/nonexistent")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":{}}}"#;
    let mut stdin = child.stdin.take().unwrap();
    write!(stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
    stdin.flush().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("\"capabilities\"") {
        let read = stdout.read(&mut buffer).unwrap();
        assert!(
            read > 0,
            "the server closed its output: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buffer[..read]);
    }
    let text = String::from_utf8_lossy(&seen);
    assert!(text.contains("\"name\":\"switchboard\""), "{text}");
    drop(stdin);
    let _ = child.kill();
    let _ = child.wait();
}
