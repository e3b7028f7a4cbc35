//! The words after the poll command: `open <question> | <option> | <option> ... [duration]`,
//! `close`, or nothing (show the open poll).
//!
//! `|` separates the question and the options; `\|` is a literal pipe inside one of them. A
//! duration is the last word of the line when it reads as one (`30s`, `5m`, `1h`, `1m30s`) and is
//! not all of the last option, so `!poll open Wait? | 5m | 10m` has options `5m` and `10m` and no
//! timer. Everything typed is chat, so the parser never panics and every refusal says how to fix it.

use std::fmt;

/// How the command is used; part of every refusal.
pub const USAGE: &str = "open <question> | <option> | <option> [30s|5m|1h]";

/// The longest question or option, in characters (a chat line must carry them all).
pub const MAX_TEXT_CHARS: usize = 200;
/// The longest timer a poll may have.
pub const MAX_DURATION_S: u32 = 24 * 3600;

/// What a poll command asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollCommand {
    Open(OpenRequest),
    Close,
    /// No subcommand (or `status`): show the open poll.
    Show,
}

/// A poll to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenRequest {
    pub question: String,
    pub options: Vec<String>,
    /// The timer asked for, if any.
    pub duration_s: Option<u32>,
}

/// Why a poll command was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollCommandError {
    UnknownSubcommand(String),
    NoQuestion,
    TooFewOptions,
    TooManyOptions { given: usize, max: usize },
    EmptyOption { number: usize },
    DuplicateOption { option: String },
    TooLong,
    DurationTooLong,
}

impl fmt::Display for PollCommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PollCommandError::UnknownSubcommand(word) => {
                write!(
                    f,
                    "unknown poll command {word:?}; use open, close or nothing"
                )
            }
            PollCommandError::NoQuestion => write!(f, "the question is missing"),
            PollCommandError::TooFewOptions => {
                write!(f, "a poll needs at least 2 options, separated by |")
            }
            PollCommandError::TooManyOptions { given, max } => {
                write!(f, "{given} options given, at most {max} allowed")
            }
            PollCommandError::EmptyOption { number } => {
                write!(f, "option {number} is empty (two | in a row?)")
            }
            PollCommandError::DuplicateOption { option } => {
                write!(f, "option {option:?} is listed twice")
            }
            PollCommandError::TooLong => write!(
                f,
                "the question and each option must be at most {MAX_TEXT_CHARS} characters"
            ),
            PollCommandError::DurationTooLong => {
                write!(f, "a poll may run at most {}h", MAX_DURATION_S / 3600)
            }
        }
    }
}

/// Parses the text after the poll command. `max_options` is the creator's setting.
pub fn parse(args: &str, max_options: usize) -> Result<PollCommand, PollCommandError> {
    let args = args.trim();
    let (word, rest) = match args.find(char::is_whitespace) {
        Some(i) => (&args[..i], args[i..].trim_start()),
        None => (args, ""),
    };
    match word.to_lowercase().as_str() {
        "" | "status" => Ok(PollCommand::Show),
        "close" | "end" => Ok(PollCommand::Close),
        "open" => parse_open(rest, max_options).map(PollCommand::Open),
        _ => Err(PollCommandError::UnknownSubcommand(
            word.chars().take(20).collect(),
        )),
    }
}

fn parse_open(text: &str, max_options: usize) -> Result<OpenRequest, PollCommandError> {
    let mut parts = split_unescaped_pipes(text);
    let mut duration_s = None;
    if parts.len() > 1
        && let Some(last) = parts.last_mut()
        && let Some((before, word)) = last.trim_end().rsplit_once(char::is_whitespace)
        && !before.trim().is_empty()
        && let Some(seconds) = parse_duration(word)
    {
        if seconds > MAX_DURATION_S {
            return Err(PollCommandError::DurationTooLong);
        }
        duration_s = Some(seconds);
        *last = before.to_string();
    }
    let mut parts = parts.into_iter().map(|p| p.trim().to_string());
    let question = parts.next().unwrap_or_default();
    if question.is_empty() {
        return Err(PollCommandError::NoQuestion);
    }
    let options: Vec<String> = parts.collect();
    if let Some(i) = options.iter().position(String::is_empty) {
        return Err(PollCommandError::EmptyOption { number: i + 1 });
    }
    if options.len() < 2 {
        return Err(PollCommandError::TooFewOptions);
    }
    if options.len() > max_options {
        return Err(PollCommandError::TooManyOptions {
            given: options.len(),
            max: max_options,
        });
    }
    if std::iter::once(&question)
        .chain(&options)
        .any(|t| t.chars().count() > MAX_TEXT_CHARS)
    {
        return Err(PollCommandError::TooLong);
    }
    for (i, option) in options.iter().enumerate() {
        if options[..i]
            .iter()
            .any(|o| o.to_lowercase() == option.to_lowercase())
        {
            return Err(PollCommandError::DuplicateOption {
                option: option.clone(),
            });
        }
    }
    Ok(OpenRequest {
        question,
        options,
        duration_s,
    })
}

/// Splits on `|`, turning `\|` into a literal pipe.
fn split_unescaped_pipes(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                chars.next();
                current.push('|');
            }
            '|' => parts.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    parts.push(current);
    parts
}

/// `30s`, `5m`, `1h`, `1m30s`, `2h15m`: whole units, each at most once, largest first.
pub(super) fn parse_duration(word: &str) -> Option<u32> {
    let word = word.to_ascii_lowercase();
    let mut total: u64 = 0;
    let mut number = String::new();
    let mut last_unit = u64::MAX;
    let mut any = false;
    for c in word.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            if number.len() > 6 {
                return None;
            }
            continue;
        }
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
        if number.is_empty() || unit >= last_unit {
            return None;
        }
        total += number.parse::<u64>().ok()? * unit;
        number.clear();
        last_unit = unit;
        any = true;
    }
    if !any || !number.is_empty() || total == 0 {
        return None;
    }
    u32::try_from(total).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn open(text: &str) -> Result<OpenRequest, PollCommandError> {
        match parse(text, 5)? {
            PollCommand::Open(request) => Ok(request),
            other => panic!("not an open: {other:?}"),
        }
    }

    #[test]
    fn question_options_and_a_trailing_duration() {
        let r = open("open Best snack? | chips | salted nuts | fruit 2m").unwrap();
        assert_eq!(r.question, "Best snack?");
        assert_eq!(r.options, ["chips", "salted nuts", "fruit"]);
        assert_eq!(r.duration_s, Some(120));
        let r = open("OPEN  Q |a|b").unwrap();
        assert_eq!((r.options.len(), r.duration_s), (2, None));
        assert_eq!(open("open Q | a | b 1m30s").unwrap().duration_s, Some(90));
    }

    #[test]
    fn an_option_that_is_only_a_duration_stays_an_option() {
        let r = open("open How long? | 5m | 10m").unwrap();
        assert_eq!(r.options, ["5m", "10m"]);
        assert_eq!(r.duration_s, None);
        // A bare number is never a duration: "Level 2" keeps its 2.
        assert_eq!(
            open("open Q | Level 1 | Level 2").unwrap().options[1],
            "Level 2"
        );
    }

    #[test]
    fn escaped_pipes_stay_inside_options() {
        let r = open(r"open Which op? | a \| b | a & b").unwrap();
        assert_eq!(r.options, ["a | b", "a & b"]);
    }

    #[test]
    fn refusals_say_what_is_wrong() {
        let cases = [
            ("open", "the question is missing"),
            ("open | a | b", "the question is missing"),
            ("open Q?", "a poll needs at least 2 options, separated by |"),
            (
                "open Q? | only",
                "a poll needs at least 2 options, separated by |",
            ),
            ("open Q? | a || b", "option 2 is empty (two | in a row?)"),
            ("open Q? | a | b |", "option 3 is empty (two | in a row?)"),
            (
                "open Q? | 1|2|3|4|5|6",
                "6 options given, at most 5 allowed",
            ),
            ("open Q? | a | A", "option \"A\" is listed twice"),
            ("open Q? | a | b 48h", "a poll may run at most 24h"),
            (
                "launch Q? | a | b",
                "unknown poll command \"launch\"; use open, close or nothing",
            ),
        ];
        for (text, expected) in cases {
            let err = parse(text, 5).unwrap_err();
            assert_eq!(err.to_string(), expected, "{text}");
        }
    }

    #[test]
    fn close_and_show() {
        assert_eq!(parse("close", 5), Ok(PollCommand::Close));
        assert_eq!(parse(" END ", 5), Ok(PollCommand::Close));
        assert_eq!(parse("", 5), Ok(PollCommand::Show));
        assert_eq!(parse("status", 5), Ok(PollCommand::Show));
    }

    #[test]
    fn durations() {
        for (word, s) in [("30s", 30), ("5m", 300), ("1h", 3600), ("2h15m", 8100)] {
            assert_eq!(parse_duration(word), Some(s), "{word}");
        }
        for word in ["5", "m", "0s", "5m5m", "5s1m", "x5m", "9999999s", "1.5m"] {
            assert_eq!(parse_duration(word), None, "{word}");
        }
    }

    proptest! {
        #[test]
        fn never_panics_and_keeps_its_promises(text in "\\PC{0,300}", max in 0usize..30) {
            if let Ok(PollCommand::Open(r)) = parse(&text, max) {
                prop_assert!(!r.question.is_empty());
                prop_assert!(r.options.len() >= 2 && r.options.len() <= max);
                prop_assert!(r.options.iter().all(|o| !o.is_empty()));
                prop_assert!(r.duration_s.is_none_or(|s| s > 0 && s <= MAX_DURATION_S));
            }
        }

        #[test]
        fn never_panics_on_pipe_heavy_input(text in "(open )?[a-z|\\\\ 0-9hms]{0,120}") {
            let _ = parse(&text, 10);
        }
    }
}
