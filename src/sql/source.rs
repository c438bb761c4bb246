//! Maps between the original SQL text, lexer tokens and `sqlparser` spans.
//!
//! `sqlparser` 0.63 spans are line/column pairs (1-based, columns counted in
//! `char`s, end exclusive). Spans of single tokens (keywords, identifiers,
//! literals, parentheses) are exact, but spans of composite expressions are
//! often too small: `Nested` drops its parentheses, `UnaryOp` drops the
//! operator (`-1` spans `1`), `IS NULL`, `CAST(..)`, `COLLATE` keep only the
//! inner expression, and some nodes (e.g. `MATCH ... AGAINST`) have no span.
//! So extracted text is delimited with the lexer (top-level keywords, commas
//! and parentheses), anchored on exact token spans, and every available
//! expression span is checked to lie inside the text chosen for it.

use std::ops::Range;

use sqlparser::tokenizer::{Location, Span};

use super::lexer::{tokenize, Token, TokenKind};

/// The SQL text with its tokens, their parenthesis depth, and a line index.
#[derive(Debug)]
pub(super) struct Source<'a> {
    pub sql: &'a str,
    pub toks: Vec<Token>,
    /// Executable-comment markers (see [`super::lexer::Lexed`]).
    pub exec_markers: Vec<Range<usize>>,
    /// Depth of each token; `(` and `)` get the depth outside them.
    pub depth: Vec<u32>,
    /// Byte offset of each line start.
    line_starts: Vec<usize>,
    /// For non-ASCII text: byte offset of every char, and the char index of
    /// each line start (so a column maps to a byte in O(1)).
    char_starts: Option<(Vec<usize>, Vec<usize>)>,
    /// Byte offsets of the `?` tokens.
    placeholder_starts: Vec<usize>,
}

impl<'a> Source<'a> {
    pub fn new(sql: &'a str) -> Self {
        let lexed = tokenize(sql.as_bytes());
        let toks = lexed.tokens;
        let mut depth = Vec::with_capacity(toks.len());
        let mut d = 0u32;
        for t in &toks {
            if t.is_punct(sql.as_bytes(), ")") {
                d = d.saturating_sub(1);
            }
            depth.push(d);
            if t.is_punct(sql.as_bytes(), "(") {
                d += 1;
            }
        }
        let line_starts: Vec<usize> = std::iter::once(0)
            .chain(sql.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        let char_starts = (!sql.is_ascii()).then(|| {
            let chars: Vec<usize> = sql.char_indices().map(|(i, _)| i).collect();
            let lines = line_starts.iter().map(|b| chars.partition_point(|c| c < b)).collect();
            (chars, lines)
        });
        let placeholder_starts = toks
            .iter()
            .filter(|t| t.kind == TokenKind::Placeholder)
            .map(|t| t.start)
            .collect();
        Source {
            sql,
            toks,
            exec_markers: lexed.exec_markers,
            depth,
            line_starts,
            char_starts,
            placeholder_starts,
        }
    }

    /// Byte offset of a `sqlparser` location, if it is inside the text.
    pub fn offset(&self, loc: Location) -> Option<usize> {
        let line = usize::try_from(loc.line).ok()?.checked_sub(1)?;
        let col = usize::try_from(loc.column).ok()?.checked_sub(1)?;
        let start = *self.line_starts.get(line)?;
        let end = self.line_starts.get(line + 1).map_or(self.sql.len(), |next| next - 1);
        let at = match &self.char_starts {
            None => start.checked_add(col)?,
            Some((chars, lines)) => {
                let idx = lines[line].checked_add(col)?;
                chars.get(idx).copied().unwrap_or(self.sql.len())
            }
        };
        (at <= end).then_some(at)
    }

    /// Byte range of a span; `None` for an empty (unknown) span.
    pub fn span_range(&self, span: Span) -> Option<Range<usize>> {
        if span == Span::empty() {
            return None;
        }
        let (s, e) = (self.offset(span.start)?, self.offset(span.end)?);
        (s <= e).then_some(s..e)
    }

    /// Index of the token starting exactly at byte `at`.
    pub fn tok_starting_at(&self, at: usize) -> Option<usize> {
        self.toks.binary_search_by_key(&at, |t| t.start).ok()
    }

    /// Index of the token a (single-token) span covers.
    pub fn tok_of_span(&self, span: Span) -> Option<usize> {
        let r = self.span_range(span)?;
        let i = self.tok_starting_at(r.start)?;
        (self.toks[i].end == r.end).then_some(i)
    }

    pub fn is_kw(&self, i: usize, kw: &str) -> bool {
        self.toks.get(i).is_some_and(|t| t.is_kw(self.sql.as_bytes(), kw))
    }

    pub fn is_punct(&self, i: usize, p: &str) -> bool {
        self.toks.get(i).is_some_and(|t| t.is_punct(self.sql.as_bytes(), p))
    }

    /// First token index in `within` at depth `depth` that starts the keyword
    /// sequence `kws`.
    pub fn find_kws(&self, within: Range<usize>, depth: u32, kws: &[&str]) -> Option<usize> {
        within
            .into_iter()
            .find(|&i| self.depth[i] == depth && kws.iter().enumerate().all(|(k, kw)| self.is_kw(i + k, kw)))
    }

    /// Original text from the first to the last token of `toks` (empty for
    /// an empty range).
    pub fn text(&self, toks: Range<usize>) -> &'a str {
        self.byte_range(toks).map_or("", |r| &self.sql[r])
    }

    /// Byte range covered by a token index range.
    pub fn byte_range(&self, toks: Range<usize>) -> Option<Range<usize>> {
        if toks.start >= toks.end {
            return None;
        }
        Some(self.toks.get(toks.start)?.start..self.toks.get(toks.end - 1)?.end)
    }

    /// Splits a token range on commas at depth `depth`.
    pub fn split_commas(&self, toks: Range<usize>, depth: u32) -> Vec<Range<usize>> {
        let mut out = Vec::new();
        let mut start = toks.start;
        for i in toks.clone() {
            if self.depth[i] == depth && self.is_punct(i, ",") {
                out.push(start..i);
                start = i + 1;
            }
        }
        if start < toks.end || !out.is_empty() {
            out.push(start..toks.end);
        }
        out
    }

    /// The first token index at depth `depth` in `toks` that is `p`.
    pub fn find_punct(&self, toks: Range<usize>, depth: u32, p: &str) -> Option<usize> {
        toks.into_iter()
            .find(|&i| self.depth[i] == depth && self.is_punct(i, p))
    }

    /// Number of `?` markers before byte `at`.
    pub fn placeholders_before(&self, at: usize) -> usize {
        self.placeholder_starts.partition_point(|&p| p < at)
    }

    /// Total number of `?` markers.
    pub fn placeholders(&self) -> usize {
        self.placeholder_starts.len()
    }
}
