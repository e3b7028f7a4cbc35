//! What other bots export, read into the runtime's own types: quotes, for `ss quotes import`.
//!
//! Two shapes are read, and the column (or key) names map onto a quote as the table says, in any
//! case; the first name found wins:
//!
//! | quote field | CSV column / JSON key |
//! | --- | --- |
//! | number | `ID`, `_id`, `id`, `number`, `#` |
//! | text | `Text`, `text`, `quote` |
//! | said by | `Originator`, `originator`, `said_by`, `author` |
//! | added by | `Creator`, `creator`, `added_by`, `user` |
//! | game | `Category`, `game`, `category` |
//! | added at | `Created`, `createdAt`, `created_at`, `created`, `date` |
//!
//! - **CSV** with a header line (RFC 4180: quoted fields, `""` inside them, line breaks inside
//!   quotes). Firebot's "Export quotes" writes `ID,Text,Originator,Creator,Category,Created`.
//! - **JSON**: an array of objects, or one object per line (Firebot's own `quotes.db`, where a time
//!   is `{"$$date": ms}`).
//!
//! Times are RFC 3339 (`2021-03-04T05:06:07.890Z`), a date (`2021-03-04`), Unix milliseconds, or
//! `{"$$date": ms}`. A quote without a number can only be imported with `--renumber`; one without
//! text, with a time that does not read, or a CSV line with the wrong number of fields is an error
//! naming its line: nothing is imported then.

use crate::store::ImportedQuote;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

/// The formats of an import file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
}

impl Format {
    /// The format of `path` by its extension (`.csv`; `.json`, `.jsonl`, `.db`), else by its first
    /// character (`[` or `{`: JSON).
    pub fn guess(path: &std::path::Path, text: &str) -> Format {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("csv") => Format::Csv,
            Some("json" | "jsonl" | "ndjson" | "db") => Format::Json,
            _ if text.trim_start().starts_with(['[', '{']) => Format::Json,
            _ => Format::Csv,
        }
    }
}

/// Why a file could not be read as quotes.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ImportFileError {
    #[error("line {line}: {reason}")]
    Line { line: usize, reason: String },
    #[error("the file is empty: no header line")]
    Empty,
    #[error("the header has no text column (looked for Text, text, quote): {header}")]
    NoTextColumn { header: String },
    #[error("the JSON does not read ({0})")]
    Json(String),
}

/// A quote as read, before numbering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadQuote {
    /// The line it starts on, for messages.
    pub line: usize,
    pub number: Option<u32>,
    pub text: String,
    pub said_by: Option<String>,
    pub added_by: Option<String>,
    pub game: Option<String>,
    pub added_at: Option<DateTime<Utc>>,
}

impl ReadQuote {
    /// The quote to store: `added_by` defaults to `fallback_by`, the time to `now`, the number to
    /// 0 (to be renumbered).
    pub fn into_imported(self, fallback_by: &str, now: DateTime<Utc>) -> ImportedQuote {
        ImportedQuote {
            number: self.number.unwrap_or(0),
            text: self.text,
            added_by: self.added_by.unwrap_or_else(|| fallback_by.to_string()),
            said_by: self.said_by,
            game: self.game,
            added_at: self.added_at.unwrap_or(now),
        }
    }
}

const NUMBER: &[&str] = &["id", "_id", "number", "#"];
const TEXT: &[&str] = &["text", "quote"];
const SAID_BY: &[&str] = &["originator", "said_by", "author"];
const ADDED_BY: &[&str] = &["creator", "added_by", "user"];
const GAME: &[&str] = &["category", "game"];
const ADDED_AT: &[&str] = &["createdat", "created_at", "created", "date"];

/// Reads `text` in `format`.
pub fn read(text: &str, format: Format) -> Result<Vec<ReadQuote>, ImportFileError> {
    match format {
        Format::Csv => read_csv(text),
        Format::Json => read_json(text),
    }
}

fn non_empty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty() && s != "undefined" && s != "null").then(|| s.to_string())
}

fn parse_number(s: &str, line: usize) -> Result<Option<u32>, ImportFileError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    s.parse::<u32>()
        .ok()
        .filter(|n| *n > 0)
        .map(Some)
        .ok_or_else(|| ImportFileError::Line {
            line,
            reason: format!("quote number {s:?} is not a whole number from 1"),
        })
}

fn parse_time(s: &str, line: usize) -> Result<Option<DateTime<Utc>>, ImportFileError> {
    let s = s.trim();
    if s.is_empty() || s == "undefined" || s == "null" {
        return Ok(None);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).map(|t| t.and_utc()));
    }
    if let Ok(ms) = s.parse::<i64>()
        && let Some(t) = DateTime::from_timestamp_millis(ms)
    {
        return Ok(Some(t));
    }
    Err(ImportFileError::Line {
        line,
        reason: format!("the time {s:?} does not read (RFC 3339, YYYY-MM-DD or Unix milliseconds)"),
    })
}

/// The records of an RFC 4180 CSV text, each with the line it starts on.
fn csv_records(text: &str) -> Result<Vec<(usize, Vec<String>)>, ImportFileError> {
    let mut records = Vec::new();
    let mut field = String::new();
    let mut record: Vec<String> = Vec::new();
    let mut line = 1;
    let mut start_line = 1;
    let mut quoted = false;
    let mut chars = text.trim_start_matches('\u{feff}').chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        any = true;
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    field.push('\n');
                }
                c => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => quoted = true,
            ',' => record.push(std::mem::take(&mut field)),
            '\r' => {}
            '\n' => {
                record.push(std::mem::take(&mut field));
                if !(record.len() == 1 && record[0].is_empty()) {
                    records.push((start_line, std::mem::take(&mut record)));
                }
                record.clear();
                line += 1;
                start_line = line;
            }
            c => field.push(c),
        }
    }
    if quoted {
        return Err(ImportFileError::Line {
            line: start_line,
            reason: "a quoted field is not closed".into(),
        });
    }
    if any && (!field.is_empty() || !record.is_empty()) {
        record.push(field);
        records.push((start_line, record));
    }
    Ok(records)
}

fn read_csv(text: &str) -> Result<Vec<ReadQuote>, ImportFileError> {
    let mut records = csv_records(text)?.into_iter();
    let (_, header) = records.next().ok_or(ImportFileError::Empty)?;
    let names: Vec<String> = header.iter().map(|h| h.trim().to_lowercase()).collect();
    let column = |aliases: &[&str]| {
        aliases
            .iter()
            .find_map(|a| names.iter().position(|n| n == a))
    };
    let text_at = column(TEXT).ok_or_else(|| ImportFileError::NoTextColumn {
        header: header.join(","),
    })?;
    let (number_at, said_at, by_at, game_at, at_at) = (
        column(NUMBER),
        column(SAID_BY),
        column(ADDED_BY),
        column(GAME),
        column(ADDED_AT),
    );
    let mut quotes = Vec::new();
    for (line, fields) in records {
        if fields.len() != names.len() {
            return Err(ImportFileError::Line {
                line,
                reason: format!(
                    "{} fields where the header has {} (a comma outside quotes?)",
                    fields.len(),
                    names.len()
                ),
            });
        }
        let get = |at: Option<usize>| at.map_or("", |i| fields[i].as_str());
        let text = non_empty(&fields[text_at]).ok_or_else(|| ImportFileError::Line {
            line,
            reason: "the quote has no text".into(),
        })?;
        quotes.push(ReadQuote {
            line,
            number: parse_number(get(number_at), line)?,
            text,
            said_by: non_empty(get(said_at)),
            added_by: non_empty(get(by_at)),
            game: non_empty(get(game_at)),
            added_at: parse_time(get(at_at), line)?,
        });
    }
    Ok(quotes)
}

fn read_json(text: &str) -> Result<Vec<ReadQuote>, ImportFileError> {
    let trimmed = text.trim_start_matches('\u{feff}').trim();
    let objects: Vec<(usize, Value)> = if trimmed.starts_with('[') {
        let Value::Array(items) =
            serde_json::from_str(trimmed).map_err(|e| ImportFileError::Json(e.to_string()))?
        else {
            unreachable!("starts with [")
        };
        items
            .into_iter()
            .enumerate()
            .map(|(i, v)| (i + 1, v))
            .collect()
    } else {
        let mut objects = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let value: Value = serde_json::from_str(line).map_err(|e| ImportFileError::Line {
                line: i + 1,
                reason: format!("not JSON ({e})"),
            })?;
            objects.push((i + 1, value));
        }
        objects
    };
    let mut quotes = Vec::new();
    for (line, value) in objects {
        let Value::Object(map) = value else {
            return Err(ImportFileError::Line {
                line,
                reason: "not a JSON object".into(),
            });
        };
        let lower: Vec<(String, &Value)> = map.iter().map(|(k, v)| (k.to_lowercase(), v)).collect();
        let get = |aliases: &[&str]| {
            aliases
                .iter()
                .find_map(|a| lower.iter().find(|(k, _)| k == a).map(|(_, v)| *v))
        };
        // NeDB keeps its id counter as a record of its own: not a quote.
        if get(&["_id"]).and_then(Value::as_str) == Some("__autoid__") {
            continue;
        }
        let string = |v: Option<&Value>| match v {
            Some(Value::String(s)) => non_empty(s),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let number = match get(NUMBER) {
            Some(Value::Number(n)) => n
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| *n > 0)
                .map(Some)
                .ok_or_else(|| ImportFileError::Line {
                    line,
                    reason: format!("quote number {n} is not a whole number from 1"),
                })?,
            Some(Value::String(s)) => parse_number(s, line)?,
            _ => None,
        };
        let added_at = match get(ADDED_AT) {
            Some(Value::Object(date)) => date
                .get("$$date")
                .and_then(Value::as_i64)
                .and_then(DateTime::from_timestamp_millis)
                .map(Some)
                .ok_or_else(|| ImportFileError::Line {
                    line,
                    reason: "a time object without $$date milliseconds".into(),
                })?,
            Some(Value::Number(n)) => n.as_i64().and_then(DateTime::from_timestamp_millis),
            Some(Value::String(s)) => parse_time(s, line)?,
            _ => None,
        };
        let text = string(get(TEXT)).ok_or_else(|| ImportFileError::Line {
            line,
            reason: "the quote has no text".into(),
        })?;
        quotes.push(ReadQuote {
            line,
            number,
            text,
            said_by: string(get(SAID_BY)),
            added_by: string(get(ADDED_BY)),
            game: string(get(GAME)),
            added_at,
        });
    }
    Ok(quotes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The header and lines Firebot's "Export quotes" writes (its quote manager's CSV export).
    const FIREBOT_CSV: &str = "ID,Text,Originator,Creator,Category,Created\n\
        1,\"I never lose, I learn\",DemoStreamer,mod_max,Chess,2021-03-04T05:06:07.890Z\n\
        3,\"He said \"\"gg\"\" and left\",DemoStreamer,ann,Just Chatting,2022-11-30T21:04:05.000Z\n\
        12,\"two\nlines\",DemoStreamer,bob,,2023-01-02T03:04:05.000Z\n";

    #[test]
    fn firebots_csv_export_reads_with_its_numbers_and_fields() {
        let quotes = read(FIREBOT_CSV, Format::Csv).unwrap();
        let numbers: Vec<Option<u32>> = quotes.iter().map(|q| q.number).collect();
        assert_eq!(numbers, [Some(1), Some(3), Some(12)]);
        assert_eq!(quotes[0].text, "I never lose, I learn");
        assert_eq!(quotes[1].text, "He said \"gg\" and left");
        assert_eq!(quotes[2].text, "two\nlines");
        assert_eq!(quotes[2].game, None);
        assert_eq!(
            (
                quotes[0].said_by.as_deref(),
                quotes[0].added_by.as_deref(),
                quotes[0].game.as_deref()
            ),
            (Some("DemoStreamer"), Some("mod_max"), Some("Chess"))
        );
        assert_eq!(
            quotes[0].added_at.unwrap().timestamp_millis(),
            1_614_834_367_890
        );
        assert_eq!(quotes[2].line, 4);
    }

    #[test]
    fn firebots_database_lines_and_json_arrays_read_too() {
        let nedb = r#"{"text":"First!","originator":"Demo","creator":"ann","game":"Chess","createdAt":{"$$date":1614834367890},"_id":1}
{"_id":"__autoid__","seq":2}
{"text":"Second","creator":"bob","createdAt":{"$$date":1614834400000},"_id":2}
"#;
        let quotes = read(nedb, Format::Json).unwrap();
        assert_eq!(quotes.len(), 2, "the id counter is no quote");
        assert_eq!(
            quotes[1].added_at.unwrap().timestamp_millis(),
            1_614_834_400_000
        );
        let array = r#"[{"number": "5", "quote": "Hi", "date": "2024-05-06"}]"#;
        let q = &read(array, Format::Json).unwrap()[0];
        assert_eq!((q.number, q.text.as_str()), (Some(5), "Hi"));
        assert_eq!(
            q.added_at.unwrap().to_rfc3339(),
            "2024-05-06T00:00:00+00:00"
        );
    }

    #[test]
    fn bad_lines_are_named() {
        assert_eq!(
            read("ID,Text\n1,ok\n2,a,b\n", Format::Csv),
            Err(ImportFileError::Line {
                line: 3,
                reason: "3 fields where the header has 2 (a comma outside quotes?)".into()
            })
        );
        assert!(matches!(
            read("ID,Who\n1,x\n", Format::Csv),
            Err(ImportFileError::NoTextColumn { .. })
        ));
        assert!(matches!(
            read("ID,Text\n0,x\n", Format::Csv),
            Err(ImportFileError::Line { line: 2, .. })
        ));
        assert!(matches!(
            read("ID,Text\n1,\"open\n", Format::Csv),
            Err(ImportFileError::Line { line: 2, .. })
        ));
        assert!(matches!(
            read("ID,Text,Created\n1,x,yesterday\n", Format::Csv),
            Err(ImportFileError::Line { line: 2, .. })
        ));
        assert!(matches!(
            read("{\"text\": \"a\"}\nnot json\n", Format::Json),
            Err(ImportFileError::Line { line: 2, .. })
        ));
        assert_eq!(read("", Format::Csv), Err(ImportFileError::Empty));
    }

    proptest! {
        /// Any quote text written the RFC 4180 way reads back exactly.
        #[test]
        fn csv_round_trips_any_text(texts in proptest::collection::vec("[a-zé,\"\n 😀]{1,30}", 1..8)) {
            prop_assume!(texts.iter().all(|t| non_empty(t).is_some()));
            let mut csv = String::from("ID,Text\n");
            for (i, t) in texts.iter().enumerate() {
                csv.push_str(&format!("{},\"{}\"\n", i + 1, t.replace('"', "\"\"")));
            }
            let read = read(&csv, Format::Csv).unwrap();
            let got: Vec<&str> = read.iter().map(|q| q.text.as_str()).collect();
            let want: Vec<&str> = texts.iter().map(|t| t.trim()).collect();
            prop_assert_eq!(got, want);
        }

        /// Any input reads or fails with a message; it never panics.
        #[test]
        fn any_input_is_safe(text in "\\PC{0,200}") {
            let _ = read(&text, Format::Csv);
            let _ = read(&text, Format::Json);
        }
    }
}
