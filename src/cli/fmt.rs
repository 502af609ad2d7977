//! `switchboard fmt`: rewrites policy files in the canonical layout, or with `--check` prints a
//! unified diff of what would change and writes nothing.

use super::{EXIT_PROBLEMS, FileDiagnostics, human_style, print_stdout, read_sources, render};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct FmtArgs {
    /// Policy files, or directories to search for `*.route` files
    #[arg(value_name = "FILE|DIR", default_value = ".")]
    paths: Vec<PathBuf>,
    /// Print a unified diff of what would change and exit 1 if anything would; write nothing
    #[arg(long)]
    check: bool,
}

pub fn run(args: &FmtArgs) -> Result<ExitCode, super::Failure> {
    let sources = read_sources(&args.paths)?;
    let mut changed = 0usize;
    let mut broken = 0usize;
    let mut diffs = String::new();
    for source in &sources {
        match switchboard::format::format(&source.text)
            .map(|text| switchboard::format::keep_line_endings(&source.text, text))
        {
            Err(errors) => {
                // A file that does not parse is left as it is.
                broken += 1;
                let file = FileDiagnostics {
                    path: &source.path,
                    text: &source.text,
                    diagnostics: &errors,
                };
                let mut err = std::io::stderr().lock();
                let _ = err.write_all(render::human(&file, human_style()).as_bytes());
                if errors
                    .iter()
                    .any(|error| error.message == switchboard::format::COMMENT_NOT_KEPT)
                {
                    let _ = writeln!(
                        err,
                        "error: `{}` was not formatted: a comment could not be kept in place (a \
                         defect of `fmt`; the file is unchanged)",
                        source.path
                    );
                } else {
                    let _ = writeln!(
                        err,
                        "error: `{}` has syntax errors; it was not formatted",
                        source.path
                    );
                }
            }
            Ok(formatted) if formatted == source.text => {}
            Ok(formatted) => {
                changed += 1;
                if args.check {
                    diffs.push_str(&unified_diff(&source.path, &source.text, &formatted));
                } else {
                    std::fs::write(&source.path, formatted)
                        .map_err(|error| format!("cannot write `{}`: {error}", source.path))?;
                    stderr_line!("formatted {}", source.path);
                }
            }
        }
    }
    if args.check {
        print_stdout(&diffs)?;
        if changed > 0 {
            stderr_line!(
                "{changed} file{} would be reformatted; run `switchboard fmt` to do it",
                if changed == 1 { "" } else { "s" }
            );
        }
    }
    Ok(if broken > 0 || (args.check && changed > 0) {
        ExitCode::from(EXIT_PROBLEMS)
    } else {
        ExitCode::SUCCESS
    })
}

/// A unified diff (3 lines of context) between two texts, as `diff -u` prints it.
pub fn unified_diff(path: &str, old: &str, new: &str) -> String {
    let old_lines: Vec<&str> = old.lines().collect();
    let new_lines: Vec<&str> = new.lines().collect();
    let operations = diff_lines(&old_lines, &new_lines);
    let mut out = format!("--- {path}\n+++ {path} (formatted)\n");
    if old_lines == new_lines {
        // The lines are the same: what changes is invisible in a diff of lines.
        out.push_str(if old.ends_with('\n') == new.ends_with('\n') {
            "(only the line endings change: each line will end as the first one does)\n"
        } else {
            "(only the end of the file changes: it will end with one line break)\n"
        });
        return out;
    }
    // Group operations into hunks with 3 lines of context.
    let context = 3;
    let changes: Vec<usize> = operations
        .iter()
        .enumerate()
        .filter(|(_, op)| !matches!(op, Op::Same(..)))
        .map(|(index, _)| index)
        .collect();
    let mut index = 0;
    while index < changes.len() {
        let start = changes[index].saturating_sub(context);
        let mut end = (changes[index] + context + 1).min(operations.len());
        while index + 1 < changes.len() && changes[index + 1] <= end + context {
            index += 1;
            end = (changes[index] + context + 1).min(operations.len());
        }
        let (old_start, new_start) = positions(&operations[..start]);
        let hunk = &operations[start..end];
        let old_count = hunk
            .iter()
            .filter(|op| !matches!(op, Op::Insert(_)))
            .count();
        let new_count = hunk
            .iter()
            .filter(|op| !matches!(op, Op::Delete(_)))
            .count();
        out.push_str(&format!(
            "@@ -{},{old_count} +{},{new_count} @@\n",
            old_start + usize::from(old_count > 0),
            new_start + usize::from(new_count > 0)
        ));
        for op in hunk {
            match op {
                Op::Same(line) => out.push_str(&format!(" {line}\n")),
                Op::Delete(line) => out.push_str(&format!("-{line}\n")),
                Op::Insert(line) => out.push_str(&format!("+{line}\n")),
            }
        }
        index += 1;
    }
    out
}

enum Op<'a> {
    Same(&'a str),
    Delete(&'a str),
    Insert(&'a str),
}

/// Lines before a point in each text.
fn positions(operations: &[Op<'_>]) -> (usize, usize) {
    let old = operations
        .iter()
        .filter(|op| !matches!(op, Op::Insert(_)))
        .count();
    let new = operations
        .iter()
        .filter(|op| !matches!(op, Op::Delete(_)))
        .count();
    (old, new)
}

/// A shortest edit script by longest common subsequence (quadratic: policy files are small; past
/// a size limit the whole text is one replacement).
fn diff_lines<'a>(old: &[&'a str], new: &[&'a str]) -> Vec<Op<'a>> {
    if old.len().saturating_mul(new.len()) > 16_000_000 {
        return old
            .iter()
            .map(|l| Op::Delete(l))
            .chain(new.iter().map(|l| Op::Insert(l)))
            .collect();
    }
    let (n, m) = (old.len(), new.len());
    let mut table = vec![0u32; (n + 1) * (m + 1)];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            table[i * (m + 1) + j] = if old[i] == new[j] {
                table[(i + 1) * (m + 1) + j + 1] + 1
            } else {
                table[(i + 1) * (m + 1) + j].max(table[i * (m + 1) + j + 1])
            };
        }
    }
    let mut operations = Vec::with_capacity(n + m);
    let (mut i, mut j) = (0, 0);
    while i < n && j < m {
        if old[i] == new[j] {
            operations.push(Op::Same(old[i]));
            i += 1;
            j += 1;
        } else if table[(i + 1) * (m + 1) + j] >= table[i * (m + 1) + j + 1] {
            operations.push(Op::Delete(old[i]));
            i += 1;
        } else {
            operations.push(Op::Insert(new[j]));
            j += 1;
        }
    }
    operations.extend(old[i..].iter().map(|l| Op::Delete(l)));
    operations.extend(new[j..].iter().map(|l| Op::Insert(l)));
    operations
}
