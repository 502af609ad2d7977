//! The format leads come in: NDJSON, or CSV as CRMs export it (by the file's extension `.csv`,
//! or `--input-format csv`), read through `route::tabular` into the NDJSON lines every command
//! already reads. The header's warnings are said once on stderr.

use super::Failure;
use clap::ValueEnum;
use std::io::Read;
use std::path::Path;
use switchboard::model::Policy;
use switchboard::route::tabular::{CsvLeads, CsvOptions};

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InputFormat {
    /// One JSON object per line
    Ndjson,
    /// A header row naming the fields, then one lead per row (RFC 4180)
    Csv,
}

/// How leads are read: the options every command that reads leads takes.
#[derive(clap::Args, Clone, Copy, Default)]
pub struct InputArgs {
    /// The leads' format; default: CSV for a `.csv` file, else NDJSON
    #[arg(long, value_enum, value_name = "FORMAT")]
    input_format: Option<InputFormat>,
    /// CSV: read an enum's values in any case (`High` for `high`)
    #[arg(long)]
    lenient_enums: bool,
}

/// Opens a leads file, or says which one and why not.
pub fn open_leads(path: &Path) -> Result<std::fs::File, Failure> {
    super::open_input(path, "leads")
}

impl InputArgs {
    /// Whether either option was given (they mean nothing without leads to read).
    pub fn given(&self) -> bool {
        self.input_format.is_some() || self.lenient_enums
    }

    /// Whether the leads at `path` (`None`: stdin) are read as CSV.
    /// Whether the format is guessed (no `--input-format`): only then is a CSV-looking input
    /// refused as NDJSON; a format given is read as given.
    pub fn guesses(&self) -> bool {
        self.input_format.is_none()
    }

    pub fn is_csv(&self, path: Option<&Path>) -> bool {
        match self.input_format {
            Some(format) => format == InputFormat::Csv,
            None => path.is_some_and(|path| {
                path.extension()
                    .is_some_and(|extension| extension.eq_ignore_ascii_case("csv"))
            }),
        }
    }

    /// The leads as NDJSON: `input` itself, or its CSV rows read as lines. The header's warnings
    /// are said on stderr unless `quiet`; commands say them once per run, even under `--quiet`
    /// (as a roster's warnings: they are about what the leads will say). `from` names the input.
    pub fn leads<'i>(
        &self,
        input: Box<dyn Read + 'i>,
        csv: bool,
        policies: &[&Policy],
        from: &str,
        quiet: bool,
        longest_row: usize,
    ) -> Result<Box<dyn Read + 'i>, Failure> {
        if !csv {
            return Ok(input);
        }
        let input: Box<dyn Read + 'i> = if self.guesses() {
            // `{"id":"L-1",…`: JSON lines in a file named `.csv`. Read as CSV, the first lead
            // would be taken for the header and every other line would be an error. Said when
            // the format is guessed from the name; `--input-format csv` is obeyed.
            let mut buffered = std::io::BufReader::new(input);
            let first = std::io::BufRead::fill_buf(&mut buffered)
                .map_err(|error| Failure::usage(format!("cannot read leads {from}: {error}")))?;
            let first = first.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(first);
            if first.trim_ascii_start().starts_with(b"{") {
                return Err(Failure::usage(format!(
                    "leads {from}: its first row begins with `{{`: these look like JSON lines \
                     (NDJSON), not CSV; read them with `--input-format ndjson`"
                )));
            }
            Box::new(buffered)
        } else {
            input
        };
        let options = CsvOptions {
            lenient_enums: self.lenient_enums,
            longest_row: Some(longest_row as u64),
        };
        let (leads, warnings) = CsvLeads::new(input, policies, options)
            .map_err(|error| Failure::usage(format!("leads {from}: {error}")))?;
        if !quiet {
            for warning in warnings {
                stderr_line!("warning: leads {from}: {warning}");
            }
        }
        Ok(Box::new(leads))
    }
}
