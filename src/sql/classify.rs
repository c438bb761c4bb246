//! Statement splitting and lexical classification.
//!
//! Classification looks only at tokens from [`lexer`](super::lexer); it never
//! needs a full parse, so it works for every statement the server accepts,
//! including ones `sqlparser` cannot parse.

use std::ops::Range;

use super::ddl::ddl;
use super::detail::{AccountOp, AdminOp, Classified, Detail, MaintenanceOp, SelectInto, StatementKind, XaOp};
use super::kill::kill;
use super::lexer::{tokenize_with, unquote_ident, Cursor, LexOptions, Token, TokenKind};
use super::set::classify_set;

/// Classifies the first statement of `sql` (a COM_QUERY payload).
///
/// Byte ranges inside the result (e.g. [`KillTarget::Id`](super::KillTarget::Id)) are offsets into
/// `sql`. When `sql` holds several statements, only the first is classified
/// and [`Classified::multi_statement`] is set.
pub fn classify(sql: &str) -> Classified {
    classify_bytes(sql.as_bytes())
}

/// Like [`classify`] but for raw bytes, which need not be valid UTF-8
/// (offsets refer to the original bytes; names are converted lossily).
pub fn classify_bytes(sql: &[u8]) -> Classified {
    classify_bytes_with(sql, LexOptions::default())
}

/// [`classify_bytes`] under the session's lexical options (`sql_mode`
/// quoting flags and client character set).
pub fn classify_bytes_with(sql: &[u8], opts: LexOptions) -> Classified {
    let lexed = tokenize_with(sql, opts);
    let groups = statement_groups(&lexed.tokens, sql);
    let (kind, detail) = match groups.first() {
        Some(g) => classify_tokens(sql, &lexed.tokens[g.clone()]),
        None => (StatementKind::Unsupported, Detail::Empty),
    };
    Classified {
        kind,
        detail,
        multi_statement: groups.len() > 1,
        incomplete: lexed.incomplete,
    }
}

/// Splits a multi-statement COM_QUERY on top-level `;` (not inside strings,
/// quoted identifiers or comments). Each range excludes the `;`, is trimmed of
/// surrounding whitespace but keeps comments (so `/*!40101 ... */` stays
/// intact). Statements holding only whitespace/comments are left out.
pub fn split_statements(sql: &str) -> Vec<Range<usize>> {
    split_statements_bytes(sql.as_bytes())
}

/// [`split_statements`] for raw bytes.
pub fn split_statements_bytes(sql: &[u8]) -> Vec<Range<usize>> {
    split_statements_bytes_with(sql, LexOptions::default())
}

/// [`split_statements_bytes`] under the session's lexical options. The
/// server splits a multi-statement `COM_QUERY` with its own scanner, so these
/// must match the session's `sql_mode` and `character_set_client` or the
/// proxy and the server disagree about where statements start.
pub fn split_statements_bytes_with(sql: &[u8], opts: LexOptions) -> Vec<Range<usize>> {
    let lexed = tokenize_with(sql, opts);
    let mut out = Vec::new();
    let mut seg_start = 0;
    let mut has_tokens = false;
    // End of the segment's last token: trimming never cuts into it (an unterminated string
    // at the end of the input runs to the end, trailing whitespace included).
    let mut last_end = 0;
    let push = |from: usize, to: usize, has: bool, last_end: usize, out: &mut Vec<Range<usize>>| {
        if has {
            let seg = &sql[from..to];
            let lead = seg.iter().take_while(|b| b.is_ascii_whitespace()).count();
            let trail = seg.iter().rev().take_while(|b| b.is_ascii_whitespace()).count();
            out.push(from + lead..(to - trail).max(last_end));
        }
    };
    for t in &lexed.tokens {
        if t.is_punct(sql, ";") {
            push(seg_start, t.start, has_tokens, last_end, &mut out);
            seg_start = t.end;
            has_tokens = false;
        } else {
            has_tokens = true;
            last_end = t.end;
        }
    }
    push(seg_start, sql.len(), has_tokens, last_end, &mut out);
    out
}

/// Index ranges (into `tokens`) of the non-empty statements.
fn statement_groups(tokens: &[Token], src: &[u8]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, t) in tokens.iter().enumerate() {
        if t.is_punct(src, ";") {
            if i > start {
                out.push(start..i);
            }
            start = i + 1;
        }
    }
    if tokens.len() > start {
        out.push(start..tokens.len());
    }
    out
}

/// Uppercased text of a word token (empty for other kinds).
pub(super) fn upper(src: &[u8], t: Option<&Token>) -> String {
    match t {
        Some(t) if t.kind == TokenKind::Word => String::from_utf8_lossy(t.text(src)).to_ascii_uppercase(),
        _ => String::new(),
    }
}

/// Consumes a balanced parenthesised group starting at the current `(`.
pub(super) fn skip_group(c: &mut Cursor<'_>) {
    let mut depth = 0usize;
    while let Some(t) = c.bump() {
        if t.is_punct(c.src(), "(") {
            depth += 1;
        } else if t.is_punct(c.src(), ")") {
            depth = depth.saturating_sub(1);
            if depth == 0 {
                return;
            }
        }
    }
}

/// Classifies one statement given as its tokens (no top-level `;`).
pub(super) fn classify_tokens(src: &[u8], toks: &[Token]) -> (StatementKind, Detail) {
    let mut c = Cursor::new(src, toks);
    let Some(first) = c.peek() else {
        return (StatementKind::Unsupported, Detail::Empty);
    };
    if first.is_punct(src, "(") {
        while c.eat_punct("(") {}
        return match upper(src, c.peek()).as_str() {
            "SELECT" | "TABLE" | "VALUES" => read(select_detail(src, toks)),
            "WITH" => with_statement(c),
            _ => unknown(),
        };
    }
    let verb = upper(src, Some(first));
    let detail = match verb.as_str() {
        "SELECT" | "TABLE" | "VALUES" => select_detail(src, toks),
        "WITH" => return with_statement(c),
        "SHOW" => {
            c.bump();
            if c.eat_kws(&["GRPROXY", "STATUS"]) && c.at_end() {
                Detail::ProxyStatus
            } else if c.eat_kws(&["GRPROXY", "MEMBERS"]) && (c.at_end() || c.is_kw("WHERE")) {
                Detail::ProxyMembers
            } else {
                Detail::Show
            }
        }
        "DESC" | "DESCRIBE" | "EXPLAIN" => {
            c.bump();
            return explain(c);
        }
        "HELP" => Detail::Help,
        "GRPROXY" => Detail::ProxyCommand,
        "DO" => Detail::Do,
        "INSERT" => Detail::Insert,
        "REPLACE" => Detail::Replace,
        "UPDATE" => Detail::Update,
        "DELETE" => Detail::Delete,
        "CALL" => Detail::Call,
        "LOAD" => load(c),
        "CREATE" | "ALTER" | "DROP" | "RENAME" => {
            c.bump();
            ddl(&verb, c)
        }
        "TRUNCATE" => Detail::TruncateTable,
        "IMPORT" => Detail::OtherDdl,
        "BEGIN" => {
            c.bump();
            c.eat_kw("WORK");
            if !c.at_end() {
                // MariaDB `BEGIN NOT ATOMIC ... END` compound statement.
                return unknown();
            }
            Detail::Begin {
                read_only: false,
                consistent_snapshot: false,
            }
        }
        "START" => start(c),
        "COMMIT" | "ROLLBACK" => {
            c.bump();
            end_transaction(&verb, c)
        }
        "SAVEPOINT" => {
            c.bump();
            match name_at(&c) {
                Some(name) => Detail::Savepoint { name },
                None => Detail::Unknown,
            }
        }
        "RELEASE" => {
            c.bump();
            match (c.eat_kw("SAVEPOINT"), name_at(&c)) {
                (true, Some(name)) => Detail::ReleaseSavepoint { name },
                _ => Detail::Unknown,
            }
        }
        "XA" => Detail::Xa(match upper(src, c.peek_nth(1)).as_str() {
            "START" | "BEGIN" => XaOp::Start,
            "END" => XaOp::End,
            "PREPARE" => XaOp::Prepare,
            "COMMIT" => XaOp::Commit,
            "ROLLBACK" => XaOp::Rollback,
            "RECOVER" => XaOp::Recover,
            _ => XaOp::Other,
        }),
        "LOCK" => Detail::Lock,
        "UNLOCK" => Detail::Unlock,
        "SET" => {
            c.bump();
            return classify_set(c);
        }
        "USE" => {
            c.bump();
            match name_at(&c) {
                Some(schema) => Detail::Use { schema },
                None => Detail::Unknown,
            }
        }
        "PREPARE" => Detail::Prepare,
        "EXECUTE" => Detail::Execute,
        "DEALLOCATE" => Detail::Deallocate,
        "HANDLER" => Detail::Handler,
        "KILL" => {
            c.bump();
            kill(c)
        }
        "GRANT" => Detail::Account(AccountOp::Grant),
        "REVOKE" => Detail::Account(AccountOp::Revoke),
        "FLUSH" => Detail::Flush {
            read_lock: contains_kws(src, toks, &["WITH", "READ", "LOCK"])
                || contains_kws(src, toks, &["FOR", "EXPORT"]),
        },
        "ANALYZE" => {
            c.bump();
            return analyze(c);
        }
        "OPTIMIZE" => Detail::Maintenance(MaintenanceOp::Optimize),
        "CHECK" => Detail::Maintenance(MaintenanceOp::Check),
        "REPAIR" => Detail::Maintenance(MaintenanceOp::Repair),
        "CHECKSUM" => Detail::Maintenance(MaintenanceOp::Checksum),
        "RESET" => Detail::Admin(AdminOp::Reset),
        "PURGE" => Detail::Admin(AdminOp::Purge),
        "CHANGE" | "STOP" => Detail::Admin(AdminOp::Replication),
        "SHUTDOWN" => Detail::Admin(AdminOp::Shutdown),
        "RESTART" => Detail::Admin(AdminOp::Restart),
        "INSTALL" | "UNINSTALL" => Detail::Admin(AdminOp::Plugin),
        "CACHE" => Detail::Admin(AdminOp::KeyCache),
        "BINLOG" => Detail::Admin(AdminOp::Binlog),
        "CLONE" => Detail::Admin(AdminOp::Clone),
        _ => Detail::Unknown,
    };
    (detail.default_kind(), detail)
}

fn unknown() -> (StatementKind, Detail) {
    (StatementKind::Unsupported, Detail::Unknown)
}

fn read(detail: Detail) -> (StatementKind, Detail) {
    (StatementKind::Read, detail)
}

/// True if the keyword sequence `kws` occurs anywhere in `toks`.
fn contains_kws(src: &[u8], toks: &[Token], kws: &[&str]) -> bool {
    toks.windows(kws.len())
        .any(|w| w.iter().zip(kws).all(|(t, k)| t.is_kw(src, k)))
}

/// Locking / INTO flags of a SELECT-like statement (scans all depths).
fn select_flags(src: &[u8], toks: &[Token]) -> (bool, SelectInto) {
    let locking = contains_kws(src, toks, &["FOR", "UPDATE"])
        || contains_kws(src, toks, &["FOR", "SHARE"])
        || contains_kws(src, toks, &["LOCK", "IN", "SHARE", "MODE"]);
    let mut into = SelectInto::None;
    for (i, t) in toks.iter().enumerate() {
        if t.is_kw(src, "INTO") {
            into = match upper(src, toks.get(i + 1)).as_str() {
                "OUTFILE" => SelectInto::Outfile,
                "DUMPFILE" => SelectInto::Dumpfile,
                _ => SelectInto::Variables,
            };
        }
    }
    (locking, into)
}

fn select_detail(src: &[u8], toks: &[Token]) -> Detail {
    let (locking, into) = select_flags(src, toks);
    Detail::Select { locking, into }
}

/// `WITH [RECURSIVE] cte [, cte]... <main statement>`.
fn with_statement(mut c: Cursor<'_>) -> (StatementKind, Detail) {
    let src = c.src();
    let all = c.rest();
    c.eat_kw("WITH");
    c.eat_kw("RECURSIVE");
    loop {
        if c.bump().is_none() {
            return unknown();
        }
        if c.peek().is_some_and(|t| t.is_punct(src, "(")) {
            skip_group(&mut c);
        }
        if !c.eat_kw("AS") || !c.peek().is_some_and(|t| t.is_punct(src, "(")) {
            return unknown();
        }
        skip_group(&mut c);
        if !c.eat_punct(",") {
            break;
        }
    }
    match upper(src, c.peek()).as_str() {
        "SELECT" | "TABLE" | "VALUES" => {
            let (locking, into) = select_flags(src, all);
            read(Detail::With { locking, into })
        }
        _ if c.peek().is_some_and(|t| t.is_punct(src, "(")) => {
            let (locking, into) = select_flags(src, all);
            read(Detail::With { locking, into })
        }
        "UPDATE" => (StatementKind::Dml, Detail::Update),
        "DELETE" => (StatementKind::Dml, Detail::Delete),
        _ => unknown(),
    }
}

/// Kind of an explained statement starting at the cursor, if it is one.
fn explained_kind(c: &Cursor<'_>) -> Option<StatementKind> {
    if c.peek().is_some_and(|t| t.is_punct(c.src(), "(")) {
        return Some(StatementKind::Read);
    }
    match upper(c.src(), c.peek()).as_str() {
        "SELECT" | "WITH" | "TABLE" | "VALUES" => Some(StatementKind::Read),
        "INSERT" | "REPLACE" | "UPDATE" | "DELETE" => Some(StatementKind::Dml),
        _ => None,
    }
}

/// Skips `FORMAT = x`, `EXTENDED`, `PARTITIONS`, `INTO @var` options.
fn skip_explain_options(c: &mut Cursor<'_>) {
    loop {
        if c.eat_kw("EXTENDED") || c.eat_kw("PARTITIONS") {
            continue;
        }
        if c.is_kw("FORMAT") && c.peek_nth(1).is_some_and(|t| t.is_punct(c.src(), "=")) {
            c.bump();
            c.bump();
            c.bump();
            continue;
        }
        if c.is_kw("INTO") && c.peek_nth(1).is_some_and(|t| t.kind == TokenKind::Variable) {
            c.bump();
            c.bump();
            continue;
        }
        return;
    }
}

/// After `EXPLAIN` / `DESCRIBE` / `DESC`.
fn explain(mut c: Cursor<'_>) -> (StatementKind, Detail) {
    let analyze = c.eat_kw("ANALYZE");
    skip_explain_options(&mut c);
    if c.eat_kws(&["FOR", "CONNECTION"]) {
        return read(Detail::Explain { analyze: false });
    }
    match explained_kind(&c) {
        Some(StatementKind::Dml) if analyze => (StatementKind::Dml, Detail::Explain { analyze }),
        Some(_) => read(Detail::Explain { analyze }),
        None if c.at_end() || analyze => unknown(),
        None => read(Detail::Describe),
    }
}

/// After `ANALYZE`: table maintenance, or MariaDB's `ANALYZE <stmt>`.
fn analyze(mut c: Cursor<'_>) -> (StatementKind, Detail) {
    if c.is_any_kw(&["TABLE", "TABLES", "NO_WRITE_TO_BINLOG", "LOCAL"]) {
        let d = Detail::Maintenance(MaintenanceOp::Analyze);
        return (d.default_kind(), d);
    }
    skip_explain_options(&mut c);
    match explained_kind(&c) {
        Some(StatementKind::Dml) => (StatementKind::Dml, Detail::Explain { analyze: true }),
        Some(_) => read(Detail::Explain { analyze: true }),
        None => unknown(),
    }
}

fn load(mut c: Cursor<'_>) -> Detail {
    c.bump();
    if c.eat_kw("DATA") || c.eat_kw("XML") {
        while c.eat_kw("LOW_PRIORITY") || c.eat_kw("CONCURRENT") {}
        let local = c.eat_kw("LOCAL");
        if c.is_kw("INFILE") {
            return Detail::LoadData { local };
        }
    } else if c.is_kw("INDEX") {
        return Detail::Admin(AdminOp::KeyCache);
    }
    Detail::Unknown
}

/// After `START`.
fn start(mut c: Cursor<'_>) -> Detail {
    c.bump();
    if c.is_any_kw(&["SLAVE", "REPLICA", "GROUP_REPLICATION", "ALL"]) {
        return Detail::Admin(AdminOp::Replication);
    }
    if !c.eat_kw("TRANSACTION") {
        return Detail::Unknown;
    }
    let mut read_only = false;
    let mut consistent_snapshot = false;
    loop {
        if c.eat_kws(&["READ", "ONLY"]) {
            read_only = true;
        } else if c.eat_kws(&["READ", "WRITE"]) {
            read_only = false;
        } else if c.eat_kws(&["WITH", "CONSISTENT", "SNAPSHOT"]) {
            consistent_snapshot = true;
        } else if !c.eat_punct(",") {
            break;
        }
    }
    Detail::Begin {
        read_only,
        consistent_snapshot,
    }
}

/// After `COMMIT` / `ROLLBACK`.
fn end_transaction(verb: &str, mut c: Cursor<'_>) -> Detail {
    c.eat_kw("WORK");
    if verb == "ROLLBACK" && c.eat_kw("TO") {
        c.eat_kw("SAVEPOINT");
        return match name_at(&c) {
            Some(name) => Detail::RollbackToSavepoint { name },
            None => Detail::Unknown,
        };
    }
    let chain = c.eat_kws(&["AND", "CHAIN"]);
    c.eat_kws(&["AND", "NO", "CHAIN"]);
    let release = c.eat_kw("RELEASE");
    if verb == "COMMIT" {
        Detail::Commit { chain, release }
    } else {
        Detail::Rollback { chain, release }
    }
}

/// The identifier at the cursor, unquoted.
fn name_at(c: &Cursor<'_>) -> Option<String> {
    let t = c.peek()?;
    match t.kind {
        TokenKind::Word | TokenKind::QuotedIdent => Some(unquote_ident(t.text(c.src()))),
        _ => None,
    }
}
