//! A borrowing IRCv3 line parser: tags, prefix, command, middle params and trailing param.
//!
//! `[@tags ][:prefix ]COMMAND[ params][ :trailing]`. [`parse`] splits a line in one pass without
//! allocating: every part of an [`IrcMessage`] borrows from the line, tags are iterated lazily, and a
//! tag value is unescaped only when asked ([`TagValue::unescape`] borrows when the value holds no
//! backslash, which is almost always). It never panics: every split happens at an ASCII byte, so
//! slicing is always on a char boundary; that is property-tested below on arbitrary input.
//!
//! Following RFC 1459 and the IRCv3 message-tags spec: atoms are separated by one *or more* spaces
//! (tabs are not separators), a tag without `=` has an empty value, the last of duplicate tags wins,
//! and in tag values `\:` `\s` `\\` `\r` `\n` decode to `;` space `\` CR LF, any other `\x` to `x`,
//! and a trailing lone `\` is dropped.

use crate::swar;
use std::borrow::Cow;
use std::fmt;
use wide::u8x16;

/// One parsed IRC line, borrowing from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IrcMessage<'a> {
    tags: Tags<'a>,
    prefix: Option<&'a str>,
    command: &'a str,
    /// The middle params as written (possibly with runs of spaces), before any trailing param.
    middle: &'a str,
    trailing: Option<&'a str>,
}

/// Why a line is not an IRC message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("empty line")]
    Empty,
    #[error("no command at column {column}: a line needs a command after its tags and prefix")]
    MissingCommand { column: usize },
}

/// Parses one line; a trailing `\r\n` or `\n` is ignored.
pub fn parse(line: &str) -> Result<IrcMessage<'_>, ParseError> {
    let line = line.strip_suffix('\n').unwrap_or(line);
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.trim_start_matches(' ').is_empty() {
        return Err(ParseError::Empty);
    }
    let mut rest = line;
    let tags = match rest.strip_prefix('@') {
        Some(after) => {
            // The tag section is hundreds of bytes: worth a vectorized search.
            let (raw, tail) = split_atom_at(after, memchr::memchr(b' ', after.as_bytes()));
            rest = tail;
            Tags(raw)
        }
        None => Tags(""),
    };
    let prefix = match rest.strip_prefix(':') {
        Some(after) => {
            let (raw, tail) = split_atom(after);
            rest = tail;
            Some(raw)
        }
        None => None,
    };
    let (command, tail) = split_atom(rest);
    if command.is_empty() {
        return Err(ParseError::MissingCommand {
            column: line.len() - rest.len() + 1,
        });
    }
    let (middle, trailing) = split_trailing(tail);
    Ok(IrcMessage {
        tags,
        prefix,
        command,
        middle,
        trailing,
    })
}

/// Splits at the first space; the tail has its leading spaces removed.
fn split_atom(s: &str) -> (&str, &str) {
    split_atom_at(s, find_byte(s.as_bytes(), b' '))
}

/// Splits at `space`, the offset of the first space if any.
#[inline(always)]
fn split_atom_at(s: &str, space: Option<usize>) -> (&str, &str) {
    match space {
        Some(i) => (&s[..i], s[i + 1..].trim_start_matches(' ')),
        None => (s, ""),
    }
}

/// The offset of the first `needle` byte. Prefixes, commands, channels and most tag values are a
/// few dozen bytes, where starting a vectorized search costs more than the search; so the first
/// 64 bytes are checked a word at a time, and only a longer run goes on to `memchr`.
fn find_byte(bytes: &[u8], needle: u8) -> Option<usize> {
    let needles = swar::splat(needle);
    let (words, _) = bytes.as_chunks::<8>();
    for (i, word) in words.iter().take(8).enumerate() {
        let matches = swar::zero_bytes(swar::word(*word) ^ needles);
        if matches != 0 {
            return Some(i * 8 + swar::first_marked(matches));
        }
    }
    let checked = words.len().min(8) * 8;
    let rest = &bytes[checked..];
    let found = if rest.len() < 8 {
        rest.iter().position(|&b| b == needle)
    } else {
        memchr::memchr(needle, rest)
    };
    found.map(|at| checked + at)
}

/// Splits params into the middle part and the trailing param (after the first ` :` or a leading `:`).
fn split_trailing(params: &str) -> (&str, Option<&str>) {
    if let Some(trailing) = params.strip_prefix(':') {
        return ("", Some(trailing));
    }
    // The middle params are a few bytes (`#channel`), so a plain scan for ` :` beats building a
    // substring searcher for every line.
    match params.as_bytes().windows(2).position(|pair| pair == b" :") {
        Some(i) => (&params[..i], Some(&params[i + 2..])),
        None => (params, None),
    }
}

impl<'a> IrcMessage<'a> {
    pub fn tags(&self) -> Tags<'a> {
        self.tags
    }

    /// The source, without its leading `:` (`nick!user@host` or a server name).
    pub fn prefix(&self) -> Option<&'a str> {
        self.prefix
    }

    /// The nick part of the prefix (before `!` or `@`), or the whole prefix.
    pub fn nick(&self) -> Option<&'a str> {
        self.prefix.map(|p| {
            let end = p.bytes().position(|b| b == b'!' || b == b'@');
            end.map_or(p, |end| &p[..end])
        })
    }

    /// The command or three-digit numeric, as sent (commands are case-insensitive in IRC).
    pub fn command(&self) -> &'a str {
        self.command
    }

    /// All params in order, the trailing one last.
    pub fn params(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.middle
            .split(' ')
            .filter(|p| !p.is_empty())
            .chain(self.trailing)
    }

    /// The `n`-th param (0-based), the trailing one included.
    pub fn param(&self, n: usize) -> Option<&'a str> {
        if n == 0 {
            return self.first_param();
        }
        self.params().nth(n)
    }

    /// The first param: the channel of most Twitch commands, so it has a fast path.
    pub fn first_param(&self) -> Option<&'a str> {
        // `middle` never starts with a space: `split_atom` trimmed it.
        match find_byte(self.middle.as_bytes(), b' ') {
            Some(end) => Some(&self.middle[..end]),
            None if !self.middle.is_empty() => Some(self.middle),
            None => self.trailing,
        }
    }

    /// The trailing param (after ` :`), when the line has one.
    pub fn trailing(&self) -> Option<&'a str> {
        self.trailing
    }

    /// The last param, trailing or not (`JOIN #c` and `JOIN :#c` mean the same).
    pub fn last_param(&self) -> Option<&'a str> {
        self.params().last()
    }
}

/// The raw tags section of a line (without `@`), iterated lazily.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tags<'a>(&'a str);

impl<'a> Tags<'a> {
    /// The tags as written on the wire.
    pub fn raw(&self) -> &'a str {
        self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every `key=value` in order (duplicates included; see [`Tags::get`] for the one that counts).
    pub fn iter(&self) -> TagIter<'a> {
        TagIter::new(self.0)
    }

    /// The value of `key`; with duplicates, the last one wins.
    pub fn get(&self, key: &str) -> Option<TagValue<'a>> {
        self.iter()
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| v)
            .last()
    }
}

/// Iterates `key=value` pairs.
///
/// This runs for every tag of every chat line, so it finds the separators a block at a time: each
/// 64-byte block of the tag section yields one mask with a bit set for every `;` or `=` byte (four
/// 16-byte vector compares), and the iterator walks those bits in order. A tag then costs two bit
/// pops (its `=` and its `;`) instead of a byte-by-byte scan of its key and value.
#[derive(Debug, Clone)]
pub struct TagIter<'a> {
    tags: &'a str,
    /// Where the next tag starts.
    start: usize,
    /// Separator bits of the block at `block_at` not yet consumed.
    mask: u64,
    block_at: usize,
}

/// The tag section is scanned in blocks of this many bytes, one bit per byte.
const BLOCK: usize = 64;

/// Bit `i` is set when byte `at + i` is `;` or `=` (bytes past the end count as neither).
#[inline]
fn separator_bits(bytes: &[u8], at: usize) -> u64 {
    let rest = bytes.get(at..).unwrap_or_default();
    match rest.first_chunk::<BLOCK>() {
        Some(block) => block_separator_bits(block),
        None => {
            // The last, partial block: padding zeros are not separators.
            let mut block = [0u8; BLOCK];
            block[..rest.len()].copy_from_slice(rest);
            block_separator_bits(&block)
        }
    }
}

/// Sixteen bytes per vector compare (SSE2 on x86-64, NEON on aarch64, plain code elsewhere).
#[inline]
fn block_separator_bits(block: &[u8; BLOCK]) -> u64 {
    let mut bits = 0;
    for (i, lane) in block.as_chunks::<16>().0.iter().enumerate() {
        let bytes = u8x16::new(*lane);
        let separators = bytes.simd_eq(u8x16::splat(b';')) | bytes.simd_eq(u8x16::splat(b'='));
        bits |= u64::from(separators.to_bitmask()) << (16 * i);
    }
    bits
}

impl<'a> TagIter<'a> {
    fn new(tags: &'a str) -> TagIter<'a> {
        TagIter {
            tags,
            start: 0,
            mask: separator_bits(tags.as_bytes(), 0),
            block_at: 0,
        }
    }

    /// The offset of the next `;` or `=`, or the end of the tags.
    #[inline]
    fn next_separator(&mut self) -> usize {
        let bytes = self.tags.as_bytes();
        while self.mask == 0 {
            self.block_at += BLOCK;
            if self.block_at >= bytes.len() {
                return bytes.len();
            }
            self.mask = separator_bits(bytes, self.block_at);
        }
        let offset = self.block_at + self.mask.trailing_zeros() as usize;
        self.mask &= self.mask - 1;
        offset
    }

    /// `tags[start..end]` where both ends are the start, the end of the tags, or just past or at a
    /// separator found by [`TagIter::next_separator`].
    #[inline(always)]
    fn slice(&self, start: usize, end: usize) -> &'a str {
        debug_assert!(start <= end && end <= self.tags.len());
        debug_assert!(self.tags.is_char_boundary(start) && self.tags.is_char_boundary(end));
        // SAFETY: `start <= end <= len` by how the offsets are found (each is 0, the length, a
        // separator's offset or one past it, and `start` never passes `end`), and every offset
        // is on a char boundary: `;` and `=` are ASCII, so a separator byte is a whole char and
        // the byte after it starts one. Checked slicing here costs a fifth of the tag walk.
        unsafe { self.tags.get_unchecked(start..end) }
    }

    /// The offset of the next `;` (skipping any `=` inside a value), or the end of the tags.
    #[inline]
    fn next_semicolon(&mut self) -> usize {
        loop {
            let at = self.next_separator();
            if self.tags.as_bytes().get(at).is_none_or(|&b| b == b';') {
                return at;
            }
        }
    }
}

impl<'a> Iterator for TagIter<'a> {
    type Item = (&'a str, TagValue<'a>);

    // Inlined into the caller's loop: a call per tag costs as much as finding the tag.
    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        let bytes = self.tags.as_bytes();
        loop {
            if self.start >= bytes.len() {
                return None;
            }
            let start = self.start;
            let key_end = self.next_separator();
            if bytes.get(key_end) == Some(&b'=') {
                let value_end = self.next_semicolon();
                self.start = value_end + 1;
                return Some((
                    self.slice(start, key_end),
                    TagValue(self.slice(key_end + 1, value_end)),
                ));
            }
            self.start = key_end + 1;
            if key_end > start {
                return Some((self.slice(start, key_end), TagValue("")));
            }
        }
    }
}

/// A tag value as written on the wire (still escaped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TagValue<'a>(&'a str);

impl<'a> TagValue<'a> {
    pub fn raw(&self) -> &'a str {
        self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The decoded value; borrows when nothing is escaped.
    pub fn unescape(&self) -> Cow<'a, str> {
        unescape_tag_value(self.0)
    }
}

impl fmt::Display for TagValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.unescape())
    }
}

/// Decodes an escaped tag value; borrows when it holds no backslash.
pub fn unescape_tag_value(raw: &str) -> Cow<'_, str> {
    if find_byte(raw.as_bytes(), b'\\').is_none() {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(':') => out.push(';'),
            Some('s') => out.push(' '),
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => {} // A trailing lone backslash is dropped.
        }
    }
    Cow::Owned(out)
}

/// Encodes a value for a tag: the inverse of [`unescape_tag_value`].
pub fn escape_tag_value(value: &str) -> Cow<'_, str> {
    if !value.contains([';', ' ', '\\', '\r', '\n']) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        match c {
            ';' => out.push_str("\\:"),
            ' ' => out.push_str("\\s"),
            '\\' => out.push_str("\\\\"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            other => out.push(other),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// The atoms a conformant parser must find in a line.
    #[derive(Debug, PartialEq)]
    struct Atoms {
        tags: BTreeMap<String, String>,
        prefix: Option<String>,
        command: String,
        params: Vec<String>,
    }

    fn atoms(line: &str) -> Atoms {
        let msg = parse(line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
        let mut tags = BTreeMap::new();
        for (k, v) in msg.tags().iter() {
            tags.insert(k.to_string(), v.unescape().into_owned());
        }
        for (k, v) in &tags {
            assert_eq!(
                msg.tags()
                    .get(k)
                    .map(|v| v.unescape().into_owned())
                    .as_ref(),
                Some(v)
            );
        }
        assert_eq!(
            msg.first_param(),
            msg.params().next(),
            "first param of {line:?}"
        );
        Atoms {
            tags,
            prefix: msg.prefix().map(str::to_string),
            command: msg.command().to_string(),
            params: msg.params().map(str::to_string).collect(),
        }
    }

    fn expect(
        tags: &[(&str, &str)],
        prefix: Option<&str>,
        command: &str,
        params: &[&str],
    ) -> Atoms {
        Atoms {
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            prefix: prefix.map(str::to_string),
            command: command.to_string(),
            params: params.iter().map(|p| p.to_string()).collect(),
        }
    }

    /// A conformance corpus of generic IRC lines: how servers in the wild format them, including
    /// the odd ones (runs of spaces, empty trailing, `::`, control codes, escapes, duplicates).
    #[test]
    fn generic_irc_conformance_corpus() {
        let cases: Vec<(&str, Atoms)> = vec![
            ("PING", expect(&[], None, "PING", &[])),
            (
                "PING :irc.example.net",
                expect(&[], None, "PING", &["irc.example.net"]),
            ),
            (
                "NOTICE AUTH :*** Looking up your hostname",
                expect(
                    &[],
                    None,
                    "NOTICE",
                    &["AUTH", "*** Looking up your hostname"],
                ),
            ),
            (
                "cmd one two three",
                expect(&[], None, "cmd", &["one", "two", "three"]),
            ),
            (
                ":srv cmd one two three",
                expect(&[], Some("srv"), "cmd", &["one", "two", "three"]),
            ),
            (
                "cmd one two :three four",
                expect(&[], None, "cmd", &["one", "two", "three four"]),
            ),
            (
                "cmd one two :",
                expect(&[], None, "cmd", &["one", "two", ""]),
            ),
            (
                "cmd one two ::x",
                expect(&[], None, "cmd", &["one", "two", ":x"]),
            ),
            (
                ":srv cmd one :  spaced  out ",
                expect(&[], Some("srv"), "cmd", &["one", "  spaced  out "]),
            ),
            (
                ":nick!user@host PRIVMSG #chan :hi :) ",
                expect(&[], Some("nick!user@host"), "PRIVMSG", &["#chan", "hi :) "]),
            ),
            (
                ":srv cmd one :   ",
                expect(&[], Some("srv"), "cmd", &["one", "   "]),
            ),
            (
                ":nick JOIN #room",
                expect(&[], Some("nick"), "JOIN", &["#room"]),
            ),
            (
                ":nick JOIN :#room",
                expect(&[], Some("nick"), "JOIN", &["#room"]),
            ),
            (":nick QUIT", expect(&[], Some("nick"), "QUIT", &[])),
            (":nick QUIT ", expect(&[], Some("nick"), "QUIT", &[])),
            (
                ":a\tb cmd x y",
                expect(&[], Some("a\tb"), "cmd", &["x", "y"]),
            ),
            (
                ":n!u@h\x02o\x0304st PRIVMSG x :y z",
                expect(&[], Some("n!u@h\x02o\x0304st"), "PRIVMSG", &["x", "y z"]),
            ),
            (
                ":irc.example.net 433  * nick :Nickname is already in use",
                expect(
                    &[],
                    Some("irc.example.net"),
                    "433",
                    &["*", "nick", "Nickname is already in use"],
                ),
            ),
            (
                ":srv MODE #c +nt ",
                expect(&[], Some("srv"), "MODE", &["#c", "+nt"]),
            ),
            (
                ":srv MODE #c +o someone  ",
                expect(&[], Some("srv"), "MODE", &["#c", "+o", "someone"]),
            ),
            (
                ":op MODE #c :+m",
                expect(&[], Some("op"), "MODE", &["#c", "+m"]),
            ),
            (
                ":op MODE #c +ov a :b",
                expect(&[], Some("op"), "MODE", &["#c", "+ov", "a", "b"]),
            ),
            (
                "@x=1;y=22;flag;z=q9 cmd",
                expect(
                    &[("x", "1"), ("y", "22"), ("flag", ""), ("z", "q9")],
                    None,
                    "cmd",
                    &[],
                ),
            ),
            (
                "@k;e=;v=w :src cmd arg",
                expect(
                    &[("k", ""), ("e", ""), ("v", "w")],
                    Some("src"),
                    "cmd",
                    &["arg"],
                ),
            ),
            (
                r"@a=one\\two\nthree;b=x\sy;c=p\:q cmd",
                expect(
                    &[("a", "one\\two\nthree"), ("b", "x y"), ("c", "p;q")],
                    None,
                    "cmd",
                    &[],
                ),
            ),
            (
                r"@t=\\\\\:\\s\s\r\n cmd",
                expect(&[("t", "\\\\;\\s \r\n")], None, "cmd", &[]),
            ),
            (
                r"@t=a\\ntail cmd",
                expect(&[("t", "a\\ntail")], None, "cmd", &[]),
            ),
            (r"@t=a\b cmd", expect(&[("t", "ab")], None, "cmd", &[])),
            (r"@t=end\ cmd", expect(&[("t", "end")], None, "cmd", &[])),
            (
                "@t=1;u=2;t=3 cmd",
                expect(&[("t", "3"), ("u", "2")], None, "cmd", &[]),
            ),
            (
                "@t=1;vendor.example/t=2;+client=3 cmd",
                expect(
                    &[("t", "1"), ("vendor.example/t", "2"), ("+client", "3")],
                    None,
                    "cmd",
                    &[],
                ),
            ),
            (
                "@a=b;c;vendor/d=e;vendor/f= :srv.example CMD p1 p2 :p3 p3",
                expect(
                    &[("a", "b"), ("c", ""), ("vendor/d", "e"), ("vendor/f", "")],
                    Some("srv.example"),
                    "CMD",
                    &["p1", "p2", "p3 p3"],
                ),
            ),
            (
                "@a=b;;c=d cmd",
                expect(&[("a", "b"), ("c", "d")], None, "cmd", &[]),
            ),
            ("@a=b=c cmd", expect(&[("a", "b=c")], None, "cmd", &[])),
            (
                "@a=b   :src   cmd   x   :y",
                expect(&[("a", "b")], Some("src"), "cmd", &["x", "y"]),
            ),
            ("cmd x\r\n", expect(&[], None, "cmd", &["x"])),
            ("cmd x\n", expect(&[], None, "cmd", &["x"])),
            (
                "cmd :ünïcödé 👉 <3",
                expect(&[], None, "cmd", &["ünïcödé 👉 <3"]),
            ),
            ("cmd a:b c", expect(&[], None, "cmd", &["a:b", "c"])),
        ];
        for (line, want) in cases {
            assert_eq!(atoms(line), want, "line {line:?}");
        }
    }

    #[test]
    fn lines_without_a_command_are_errors() {
        assert_eq!(parse(""), Err(ParseError::Empty));
        assert_eq!(parse("\r\n"), Err(ParseError::Empty));
        assert_eq!(parse("   "), Err(ParseError::Empty));
        assert_eq!(parse("@a=b"), Err(ParseError::MissingCommand { column: 5 }));
        assert_eq!(
            parse("@a=b :prefix"),
            Err(ParseError::MissingCommand { column: 13 })
        );
        assert_eq!(
            parse(":prefix "),
            Err(ParseError::MissingCommand { column: 9 })
        );
    }

    /// The samples of Twitch's IRC chat reference, verbatim.
    #[test]
    fn twitch_wire_samples() {
        let privmsg = "@badge-info=subscriber/14;badges=moderator/1,subscriber/12;client-nonce=5f1c0e2a9b;color=#1E90FF;display-name=Viewer_One;emotes=25:6-10;first-msg=0;flags=;id=3b8c6f3a-1d2e-4f5a-9b7c-0a1b2c3d4e5f;mod=1;returning-chatter=0;room-id=11111111;subscriber=1;tmi-sent-ts=1700000000123;turbo=0;user-id=22222222;user-type=mod :viewer_one!viewer_one@viewer_one.tmi.twitch.tv PRIVMSG #somechannel :hello Kappa";
        let msg = parse(privmsg).unwrap();
        assert_eq!(msg.command(), "PRIVMSG");
        assert_eq!(msg.nick(), Some("viewer_one"));
        assert_eq!(msg.param(0), Some("#somechannel"));
        assert_eq!(msg.trailing(), Some("hello Kappa"));
        assert_eq!(msg.tags().iter().count(), 17);
        assert_eq!(msg.tags().get("emotes").unwrap().raw(), "25:6-10");
        assert_eq!(msg.tags().get("flags").unwrap().raw(), "");
        assert_eq!(msg.tags().get("vip"), None);

        let resub = r"@badge-info=subscriber/2;badges=subscriber/0;color=#0000FF;display-name=Gutrin2;emotes=;flags=;id=e0975c76-0000-4954-8cb0-91b8867ec1ca;login=gutrin2;mod=0;msg-id=resub;msg-param-cumulative-months=2;msg-param-months=0;msg-param-should-share-streak=1;msg-param-streak-months=2;msg-param-sub-plan-name=Channel\sSubscription\s(somechannel);msg-param-sub-plan=1000;room-id=11111111;subscriber=1;system-msg=Gutrin2\ssubscribed\sat\sTier\s1.;tmi-sent-ts=1700000001000;user-id=33333333;user-type= :tmi.twitch.tv USERNOTICE #somechannel :great stream";
        let msg = parse(resub).unwrap();
        assert_eq!(msg.prefix(), Some("tmi.twitch.tv"));
        assert_eq!(
            msg.tags().get("system-msg").unwrap().unescape(),
            "Gutrin2 subscribed at Tier 1."
        );
        assert_eq!(
            msg.tags()
                .get("msg-param-sub-plan-name")
                .unwrap()
                .unescape(),
            "Channel Subscription (somechannel)"
        );

        let msg = parse(":tmi.twitch.tv CAP * ACK :twitch.tv/tags twitch.tv/commands").unwrap();
        assert_eq!(
            msg.params().collect::<Vec<_>>(),
            ["*", "ACK", "twitch.tv/tags twitch.tv/commands"]
        );
        let msg = parse(":mybot.tmi.twitch.tv 353 mybot = #somechannel :mybot").unwrap();
        assert_eq!(msg.command(), "353");
        assert_eq!(msg.last_param(), Some("mybot"));
        let msg = parse("@room-id=11111111;slow=5 :tmi.twitch.tv ROOMSTATE #somechannel").unwrap();
        assert_eq!(msg.trailing(), None);
        assert_eq!(msg.param(0), Some("#somechannel"));
        let msg = parse(":tmi.twitch.tv NOTICE * :Login authentication failed").unwrap();
        assert_eq!(
            msg.params().collect::<Vec<_>>(),
            ["*", "Login authentication failed"]
        );
        assert!(msg.tags().is_empty());
        let msg = parse(":tmi.twitch.tv RECONNECT").unwrap();
        assert_eq!((msg.command(), msg.param(0)), ("RECONNECT", None));
        let msg = parse("PING :tmi.twitch.tv").unwrap();
        assert_eq!(msg.prefix(), None);
        assert_eq!(msg.trailing(), Some("tmi.twitch.tv"));
    }

    #[test]
    fn unescaping_borrows_unless_needed() {
        assert!(matches!(
            unescape_tag_value("plain"),
            Cow::Borrowed("plain")
        ));
        assert_eq!(unescape_tag_value(r"Riot\sGames"), "Riot Games");
        assert!(matches!(escape_tag_value("plain-id"), Cow::Borrowed(_)));
        assert_eq!(escape_tag_value("a; b\\c\r\n"), r"a\:\sb\\c\r\n");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        /// Arbitrary input, weighted toward the bytes that matter to the grammar.
        #[test]
        fn never_panics_on_any_input(line in "[@:; =\\\\a-z\\r\\n\\x01é👉]{0,64}|\\PC{0,200}") {
            if let Ok(msg) = parse(&line) {
                prop_assert!(!msg.command().is_empty());
                for (k, v) in msg.tags().iter() {
                    let _ = (k, v.unescape(), msg.tags().get(k));
                }
                let _ = (msg.nick(), msg.params().count(), msg.last_param(), msg.param(3));
            }
        }

        #[test]
        fn find_byte_agrees_with_a_plain_search(bytes in proptest::collection::vec(prop_oneof![Just(b' '), Just(b'!'), Just(0u8), any::<u8>()], 0..200)) {
            prop_assert_eq!(find_byte(&bytes, b' '), bytes.iter().position(|&b| b == b' '));
            prop_assert_eq!(find_byte(&bytes, b'!'), bytes.iter().position(|&b| b == b'!'));
        }

        /// The word-at-a-time tag scanner agrees with a plain split on `;` then on the first `=`,
        /// across word boundaries, runs of separators, `=` inside values and multi-byte chars.
        #[test]
        fn tag_iteration_matches_a_plain_split(raw in "[;=ab\\\\é]{0,150}|[a-z]{0,9}(=[a-z0-9=]{0,12})?(;[a-z-]{0,14}=[#a-z0-9/,=é]{0,20}){0,20}") {
            let expected: Vec<(&str, &str)> = raw
                .split(';')
                .filter(|tag| !tag.is_empty())
                .map(|tag| tag.split_once('=').unwrap_or((tag, "")))
                .collect();
            let found: Vec<(&str, &str)> = Tags(&raw).iter().map(|(k, v)| (k, v.raw())).collect();
            prop_assert_eq!(found, expected);
        }

        #[test]
        fn tag_escaping_round_trips(value in "\\PC*|[; \\\\\\r\\nsa:]{0,32}") {
            let escaped = escape_tag_value(&value);
            prop_assert!(!escaped.contains([';', ' ', '\r', '\n']));
            prop_assert_eq!(unescape_tag_value(&escaped), value.as_str());
            let line = format!("@k={escaped};other=1 :src CMD x :y z");
            let msg = parse(&line).unwrap();
            prop_assert_eq!(msg.tags().get("k").unwrap().unescape(), value.as_str());
            prop_assert_eq!(msg.tags().get("other").unwrap().raw(), "1");
            prop_assert_eq!(msg.params().collect::<Vec<_>>(), vec!["x", "y z"]);
        }
    }
}
