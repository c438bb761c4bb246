//! Hand-written MySQL lexical scanner.
//!
//! The scanner works on raw bytes so that it never panics and so that every
//! offset it reports refers to the caller's original buffer, even when that
//! buffer is not valid UTF-8. All delimiters MySQL cares about are ASCII, so a
//! token boundary always falls on an ASCII byte or at the end of input; for
//! valid UTF-8 input every reported offset is therefore a `char` boundary.
//!
//! What is skipped: whitespace, `-- ` comments (MySQL needs a space or control
//! character after the two dashes, so `1--1` is `1 - -1`), `#` comments and
//! `/* ... */` comments (including `/*+ optimizer hints */`).
//!
//! What is *content*: versioned executable comments `/*! ... */`,
//! `/*!50100 ... */` and MariaDB's `/*M! ... */` / `/*M!100100 ... */`. The
//! server executes their inner text, so the scanner yields the inner tokens
//! and silently drops the opening marker (with its version number) and the
//! closing `*/`. The version condition is not evaluated: the inner text is
//! always treated as present, which is the conservative choice for a proxy.
//!
//! Quoting follows the server's default `sql_mode` unless [`LexOptions`] say
//! otherwise: `'...'` and `"..."` are strings with backslash escapes and
//! doubled-quote escapes; `` `...` `` is a quoted identifier with
//! doubled-backtick escapes and no backslash escapes.
//!
//! [`LexOptions`] model the session state that changes where a token ends
//! (each behaviour below was checked against MariaDB 10.11 by sending
//! multi-statement `COM_QUERY` packets and counting the result sets):
//!
//! - `NO_BACKSLASH_ESCAPES`: a backslash inside `'..'`, `".."`, `N'..'` and
//!   `@'..'` is an ordinary byte, so `'a\'; DELETE FROM t; --'` is the string
//!   `a\`, then a `DELETE`, then a comment.
//! - `ANSI_QUOTES`: `".."` is a quoted identifier, which (like a backtick
//!   identifier) knows no backslash escapes even without
//!   `NO_BACKSLASH_ESCAPES`. So `SELECT 1 AS "a\"; SELECT 2; -- "` is one
//!   statement by default and three under `ANSI_QUOTES`: this mode *does*
//!   change statement splitting.
//! - client character set ([`LexCharset`]): in gbk, big5, sjis and cp932 (and
//!   MySQL's gb18030) a lead byte followed by a valid trail byte is one
//!   character, everywhere the server scans characters (strings, quoted and
//!   unquoted identifiers, variable names). Trail bytes include `\` (0x5C) and
//!   `` ` `` (0x60), so `'\xB5\x5C'` is a complete one-character string in
//!   gbk but an unterminated one in utf8/latin1. No trail byte is ever `'` or
//!   `"`. A backslash escape skips exactly one byte, even a lead byte.

use std::ops::Range;

/// The lexical category of a [`Token`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// Unquoted identifier or keyword (`SELECT`, `sbtest1`, `_utf8mb4`, `1abc`).
    Word,
    /// Backtick-quoted identifier, quotes included in the token range.
    QuotedIdent,
    /// String literal: `'..'`, `".."`, or `X'..'`, `B'..'`, `N'..'` (prefix included).
    String,
    /// Numeric literal: `12`, `1.5`, `1e-3`, `0x1F`, `0b101`.
    Number,
    /// User or system variable: `@a`, `@'a'`, `@@autocommit`, `@@session.x`.
    Variable,
    /// A `?` parameter marker.
    Placeholder,
    /// Operator or punctuation (`(`, `,`, `;`, `=`, `:=`, `<=>`, ...).
    Punct,
}

/// One token with its byte range in the scanned buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Token {
    /// Lexical category.
    pub kind: TokenKind,
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset one past the last byte.
    pub end: usize,
}

impl Token {
    /// The byte range of the token.
    pub fn range(&self) -> Range<usize> {
        self.start..self.end
    }

    /// The token's bytes in `src` (the buffer that was scanned).
    pub fn text<'a>(&self, src: &'a [u8]) -> &'a [u8] {
        src.get(self.start..self.end).unwrap_or(&[])
    }

    /// True when the token is the unquoted word `kw` (ASCII case-insensitive).
    pub fn is_kw(&self, src: &[u8], kw: &str) -> bool {
        self.kind == TokenKind::Word && self.text(src).eq_ignore_ascii_case(kw.as_bytes())
    }

    /// True when the token is the punctuation `p`.
    pub fn is_punct(&self, src: &[u8], p: &str) -> bool {
        self.kind == TokenKind::Punct && self.text(src) == p.as_bytes()
    }
}

/// Result of scanning a whole buffer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Lexed {
    /// Tokens in source order.
    pub tokens: Vec<Token>,
    /// True if the input ended inside a string, quoted identifier or comment.
    pub incomplete: bool,
    /// Byte ranges of the executable-comment markers that were dropped: each
    /// `/*!NNNNN` / `/*M!NNNNNN` opener (with its version) and its `*/`.
    pub exec_markers: Vec<Range<usize>>,
}

/// Client character sets that matter to the scanner: those whose trail bytes
/// can be ASCII delimiters (`\\` or `` ` ``). Every other character set the
/// server accepts from a client (utf8mb3/utf8mb4, latin1, the EUC sets, ...)
/// scans like [`LexCharset::Default`], because its multi-byte sequences only
/// use bytes >= 0x80.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LexCharset {
    /// utf8, latin1 and every other ASCII-safe character set.
    #[default]
    Default,
    /// gbk: lead 0x81-0xFE, trail 0x40-0x7E or 0x80-0xFE.
    Gbk,
    /// big5: lead 0xA1-0xF9, trail 0x40-0x7E or 0xA1-0xFE.
    Big5,
    /// sjis: lead 0x81-0x9F or 0xE0-0xFC, trail 0x40-0x7E or 0x80-0xFC.
    Sjis,
    /// cp932: same byte structure as sjis.
    Cp932,
    /// MySQL's gb18030 (MariaDB 10.11 has no such character set): two-byte
    /// characters as gbk, plus four-byte ones `[81-FE][30-39][81-FE][30-39]`.
    Gb18030,
}

impl LexCharset {
    /// The scanner charset for a character set name (`gbk`, `BIG5`, ...);
    /// [`LexCharset::Default`] for any other name.
    pub fn from_name(name: &str) -> LexCharset {
        match name.trim().to_ascii_lowercase().as_str() {
            "gbk" => LexCharset::Gbk,
            "big5" => LexCharset::Big5,
            "sjis" => LexCharset::Sjis,
            "cp932" => LexCharset::Cp932,
            "gb18030" => LexCharset::Gb18030,
            _ => LexCharset::Default,
        }
    }

    /// The scanner charset for a collation id (handshake, `COM_CHANGE_USER`);
    /// ids as listed by MariaDB 10.11's `information_schema.COLLATIONS`, plus
    /// MySQL's gb18030 collations (248-250).
    pub fn from_collation_id(id: u16) -> LexCharset {
        match id {
            1 | 84 | 1025 | 1108 => LexCharset::Big5,
            13 | 88 | 1037 | 1112 => LexCharset::Sjis,
            28 | 87 | 1052 | 1111 => LexCharset::Gbk,
            95 | 96 | 1119 | 1120 => LexCharset::Cp932,
            248..=250 => LexCharset::Gb18030,
            _ => LexCharset::Default,
        }
    }

    /// Length of the multi-byte character starting at `s[0]` (2 or 4), or 1
    /// when `s[0]` does not start a valid multi-byte character.
    pub fn char_len(self, s: &[u8]) -> usize {
        let in_range = |b: Option<&u8>, lo: u8, hi: u8| b.is_some_and(|b| (lo..=hi).contains(b));
        let (Some(&lead), trail) = (s.first(), s.get(1)) else {
            return 1;
        };
        let two = match self {
            LexCharset::Default => false,
            LexCharset::Gbk | LexCharset::Gb18030 => {
                (0x81..=0xFE).contains(&lead) && (in_range(trail, 0x40, 0x7E) || in_range(trail, 0x80, 0xFE))
            }
            LexCharset::Big5 => {
                (0xA1..=0xF9).contains(&lead) && (in_range(trail, 0x40, 0x7E) || in_range(trail, 0xA1, 0xFE))
            }
            LexCharset::Sjis | LexCharset::Cp932 => {
                ((0x81..=0x9F).contains(&lead) || (0xE0..=0xFC).contains(&lead))
                    && (in_range(trail, 0x40, 0x7E) || in_range(trail, 0x80, 0xFC))
            }
        };
        if two {
            return 2;
        }
        let four = self == LexCharset::Gb18030
            && (0x81..=0xFE).contains(&lead)
            && in_range(trail, 0x30, 0x39)
            && in_range(s.get(2), 0x81, 0xFE)
            && in_range(s.get(3), 0x30, 0x39);
        if four {
            4
        } else {
            1
        }
    }
}

/// Session state that changes how the server splits text into tokens.
///
/// `Default` is the server's default `sql_mode` with an ASCII-safe client
/// character set, which is what [`tokenize`] assumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct LexOptions {
    /// `sql_mode` contains `NO_BACKSLASH_ESCAPES`.
    pub no_backslash_escapes: bool,
    /// `sql_mode` contains `ANSI_QUOTES` (directly or through `ANSI`,
    /// `ORACLE`, `DB2`, `MSSQL`, `MAXDB`, `POSTGRESQL`).
    pub ansi_quotes: bool,
    /// The client character set (`character_set_client`).
    pub charset: LexCharset,
}

impl LexOptions {
    /// These options with the quoting flags taken from an `sql_mode` value
    /// (comma-separated, any case; combination modes are expanded as the
    /// server does).
    pub fn with_sql_mode(self, sql_mode: &str) -> LexOptions {
        let mut out = self;
        out.no_backslash_escapes = false;
        out.ansi_quotes = false;
        for mode in sql_mode.split(',') {
            match mode.trim().to_ascii_uppercase().as_str() {
                "NO_BACKSLASH_ESCAPES" => out.no_backslash_escapes = true,
                "ANSI_QUOTES" | "ANSI" | "DB2" | "MAXDB" | "MSSQL" | "ORACLE" | "POSTGRESQL" => out.ansi_quotes = true,
                _ => {}
            }
        }
        out
    }
}

/// Scans the whole buffer with the default [`LexOptions`].
pub fn tokenize(src: &[u8]) -> Lexed {
    tokenize_with(src, LexOptions::default())
}

/// Scans the whole buffer under `opts`.
pub fn tokenize_with(src: &[u8], opts: LexOptions) -> Lexed {
    let mut lexer = Lexer::with_options(src, opts);
    let tokens = lexer.by_ref().collect();
    Lexed {
        tokens,
        incomplete: lexer.incomplete,
        exec_markers: lexer.exec_markers,
    }
}

/// Streaming scanner; iterate it to get [`Token`]s.
#[derive(Debug, Clone)]
pub struct Lexer<'a> {
    src: &'a [u8],
    opts: LexOptions,
    pos: usize,
    in_exec_comment: bool,
    incomplete: bool,
    exec_markers: Vec<Range<usize>>,
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Multi-byte operators, longest first.
const MULTI_PUNCT: &[&[u8]] = &[
    b"<=>", b"->>", b":=", b"<=", b">=", b"<>", b"!=", b"||", b"&&", b"<<", b">>", b"->",
];

impl<'a> Lexer<'a> {
    /// Creates a scanner over `src` with the default [`LexOptions`].
    pub fn new(src: &'a [u8]) -> Self {
        Lexer::with_options(src, LexOptions::default())
    }

    /// Creates a scanner over `src` under `opts`.
    pub fn with_options(src: &'a [u8], opts: LexOptions) -> Self {
        Lexer {
            src,
            opts,
            pos: 0,
            in_exec_comment: false,
            incomplete: false,
            exec_markers: Vec::new(),
        }
    }

    /// True once the scanner has hit an unterminated string, identifier or comment.
    pub fn incomplete(&self) -> bool {
        self.incomplete
    }

    fn at(&self, i: usize) -> Option<u8> {
        self.src.get(i).copied()
    }

    fn starts_with(&self, s: &[u8]) -> bool {
        self.src.get(self.pos..).is_some_and(|rest| rest.starts_with(s))
    }

    /// Skips whitespace and comments; consumes executable-comment markers.
    fn skip_trivia(&mut self) {
        while let Some(b) = self.at(self.pos) {
            if is_space(b) {
                self.pos += 1;
            } else if b == b'#' {
                self.skip_line();
            } else if b == b'-' && self.at(self.pos + 1) == Some(b'-') {
                match self.at(self.pos + 2) {
                    None => self.pos = self.src.len(),
                    Some(c) if c <= b' ' || c == 0x7f => self.skip_line(),
                    Some(_) => return,
                }
            } else if self.starts_with(b"/*!") || self.starts_with(b"/*M!") {
                let start = self.pos;
                self.pos += if self.src[self.pos + 2] == b'M' { 4 } else { 3 };
                self.skip_version(6);
                self.in_exec_comment = true;
                self.exec_markers.push(start..self.pos);
            } else if self.starts_with(b"/*") {
                self.skip_block_comment();
            } else if self.in_exec_comment && self.starts_with(b"*/") {
                self.exec_markers.push(self.pos..self.pos + 2);
                self.pos += 2;
                self.in_exec_comment = false;
            } else {
                return;
            }
        }
        if self.in_exec_comment {
            // Input ended inside `/*! ...` without its `*/`.
            self.incomplete = true;
        }
    }

    /// Skips a version number of 5 (or, if present, up to `max`) digits.
    fn skip_version(&mut self, max: usize) {
        let digits = self.src[self.pos..]
            .iter()
            .take(max)
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits >= 5 {
            self.pos += digits;
        }
    }

    fn skip_line(&mut self) {
        while let Some(b) = self.at(self.pos) {
            self.pos += 1;
            if b == b'\n' {
                return;
            }
        }
    }

    fn skip_block_comment(&mut self) {
        self.pos += 2;
        while self.pos < self.src.len() {
            if self.starts_with(b"*/") {
                self.pos += 2;
                return;
            }
            self.pos += 1;
        }
        self.incomplete = true;
    }

    /// Length of the (possibly multi-byte) character at `pos`.
    fn char_len_at(&self, pos: usize) -> usize {
        match self.opts.charset {
            LexCharset::Default => 1,
            cs => cs.char_len(&self.src[pos..]),
        }
    }

    /// Consumes a quoted run starting at the opening quote `q`; `backslash`
    /// says whether backslash escapes apply (before `NO_BACKSLASH_ESCAPES`).
    fn scan_quoted(&mut self, q: u8, backslash: bool) {
        let backslash = backslash && !self.opts.no_backslash_escapes;
        self.pos += 1;
        while let Some(b) = self.at(self.pos) {
            let n = if b >= 0x80 { self.char_len_at(self.pos) } else { 1 };
            if n > 1 {
                self.pos += n;
            } else if backslash && b == b'\\' {
                if self.pos + 1 >= self.src.len() {
                    break;
                }
                self.pos += 2;
            } else if b == q {
                if self.at(self.pos + 1) == Some(q) {
                    self.pos += 2;
                } else {
                    self.pos += 1;
                    return;
                }
            } else {
                self.pos += 1;
            }
        }
        self.pos = self.src.len();
        self.incomplete = true;
    }

    fn scan_ident_run(&mut self) {
        while let Some(b) = self.at(self.pos) {
            if b >= 0x80 {
                self.pos += self.char_len_at(self.pos);
            } else if is_ident_byte(b) {
                self.pos += 1;
            } else {
                return;
            }
        }
    }

    /// True when `"` opens a quoted identifier rather than a string.
    fn dquote_is_ident(&self) -> bool {
        self.opts.ansi_quotes
    }

    fn scan_digits(&mut self) -> usize {
        let from = self.pos;
        while self.at(self.pos).is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        self.pos - from
    }

    /// Scans a token starting with a digit; returns `Number` or `Word`.
    fn scan_number(&mut self) -> TokenKind {
        let start = self.pos;
        if self.at(start) == Some(b'0') && matches!(self.at(start + 1), Some(b'x' | b'X' | b'b' | b'B')) {
            let hex = matches!(self.at(start + 1), Some(b'x' | b'X'));
            self.pos += 2;
            self.scan_ident_run();
            let body = &self.src[start + 2..self.pos];
            let ok = !body.is_empty()
                && body.iter().all(|b| {
                    if hex {
                        b.is_ascii_hexdigit()
                    } else {
                        matches!(b, b'0' | b'1')
                    }
                });
            return if ok { TokenKind::Number } else { TokenKind::Word };
        }
        self.scan_digits();
        if self.at(self.pos) == Some(b'.') {
            self.pos += 1;
            self.scan_digits();
        }
        if matches!(self.at(self.pos), Some(b'e' | b'E')) {
            let sign = matches!(self.at(self.pos + 1), Some(b'+' | b'-'));
            let digit_at = self.pos + 1 + usize::from(sign);
            if self.at(digit_at).is_some_and(|b| b.is_ascii_digit()) {
                self.pos = digit_at;
                self.scan_digits();
            }
        }
        if self.at(self.pos).is_some_and(is_ident_byte) {
            // MySQL identifiers may start with digits: `1abc`, `123_t`.
            self.scan_ident_run();
            return TokenKind::Word;
        }
        TokenKind::Number
    }

    fn scan_variable(&mut self) {
        self.pos += 1; // '@'
        if self.at(self.pos) == Some(b'@') {
            self.pos += 1;
        }
        match self.at(self.pos) {
            Some(b'"') if self.dquote_is_ident() => self.scan_quoted(b'"', false),
            Some(q @ (b'\'' | b'"')) => self.scan_quoted(q, true),
            Some(b'`') => self.scan_quoted(b'`', false),
            _ => loop {
                self.scan_ident_run();
                if self.at(self.pos) == Some(b'.') {
                    self.pos += 1;
                } else {
                    break;
                }
            },
        }
    }

    fn scan_punct(&mut self) {
        for p in MULTI_PUNCT {
            if self.starts_with(p) {
                self.pos += p.len();
                return;
            }
        }
        self.pos += 1;
    }
}

impl Iterator for Lexer<'_> {
    type Item = Token;

    fn next(&mut self) -> Option<Token> {
        self.skip_trivia();
        let start = self.pos;
        let b = self.at(start)?;
        let kind = match b {
            b'"' if self.dquote_is_ident() => {
                self.scan_quoted(b'"', false);
                TokenKind::QuotedIdent
            }
            b'\'' | b'"' => {
                self.scan_quoted(b, true);
                TokenKind::String
            }
            b'`' => {
                self.scan_quoted(b'`', false);
                TokenKind::QuotedIdent
            }
            b'x' | b'X' | b'b' | b'B' | b'n' | b'N' if self.at(start + 1) == Some(b'\'') => {
                self.pos += 1;
                self.scan_quoted(b'\'', b == b'n' || b == b'N');
                TokenKind::String
            }
            b'0'..=b'9' => self.scan_number(),
            b'@' => {
                self.scan_variable();
                TokenKind::Variable
            }
            b'?' => {
                self.pos += 1;
                TokenKind::Placeholder
            }
            _ if is_ident_byte(b) => {
                self.scan_ident_run();
                TokenKind::Word
            }
            _ => {
                self.scan_punct();
                TokenKind::Punct
            }
        };
        Some(Token {
            kind,
            start,
            end: self.pos,
        })
    }
}

/// Removes the quoting from an identifier token (backticks with doubled
/// backticks, or, for `ANSI_QUOTES` identifiers, double quotes with doubled
/// double quotes) and returns it as a `String` (lossy for invalid UTF-8).
pub fn unquote_ident(text: &[u8]) -> String {
    match text {
        [q @ (b'`' | b'"'), inner @ .., last] if last == q => {
            let q = *q as char;
            String::from_utf8_lossy(inner).replace(&format!("{q}{q}"), &q.to_string())
        }
        _ => String::from_utf8_lossy(text).into_owned(),
    }
}

/// A cursor over a token slice, with keyword helpers used by the classifier.
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    src: &'a [u8],
    toks: &'a [Token],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// Creates a cursor at the first token of `toks`.
    pub fn new(src: &'a [u8], toks: &'a [Token]) -> Self {
        Cursor { src, toks, pos: 0 }
    }

    /// The scanned buffer.
    pub fn src(&self) -> &'a [u8] {
        self.src
    }

    /// Tokens not yet consumed.
    pub fn rest(&self) -> &'a [Token] {
        &self.toks[self.pos.min(self.toks.len())..]
    }

    /// The `n`-th token from the current position.
    pub fn peek_nth(&self, n: usize) -> Option<&'a Token> {
        self.toks.get(self.pos + n)
    }

    /// The current token.
    pub fn peek(&self) -> Option<&'a Token> {
        self.peek_nth(0)
    }

    /// Consumes and returns the current token.
    pub fn bump(&mut self) -> Option<&'a Token> {
        let t = self.toks.get(self.pos);
        if t.is_some() {
            self.pos += 1;
        }
        t
    }

    /// True when no tokens remain.
    pub fn at_end(&self) -> bool {
        self.pos >= self.toks.len()
    }

    /// True when the current token is the word `kw`.
    pub fn is_kw(&self, kw: &str) -> bool {
        self.peek().is_some_and(|t| t.is_kw(self.src, kw))
    }

    /// True when the current token is any of `kws`.
    pub fn is_any_kw(&self, kws: &[&str]) -> bool {
        kws.iter().any(|k| self.is_kw(k))
    }

    /// True when the `n`-th token is the word `kw`.
    pub fn nth_is_kw(&self, n: usize, kw: &str) -> bool {
        self.peek_nth(n).is_some_and(|t| t.is_kw(self.src, kw))
    }

    /// Consumes the word `kw` if it is next.
    pub fn eat_kw(&mut self, kw: &str) -> bool {
        let hit = self.is_kw(kw);
        if hit {
            self.pos += 1;
        }
        hit
    }

    /// Consumes the whole keyword sequence `kws` if it is next; else nothing.
    pub fn eat_kws(&mut self, kws: &[&str]) -> bool {
        let hit = kws.iter().enumerate().all(|(i, k)| self.nth_is_kw(i, k));
        if hit {
            self.pos += kws.len();
        }
        hit
    }

    /// Consumes the punctuation `p` if it is next.
    pub fn eat_punct(&mut self, p: &str) -> bool {
        let hit = self.peek().is_some_and(|t| t.is_punct(self.src, p));
        if hit {
            self.pos += 1;
        }
        hit
    }
}
