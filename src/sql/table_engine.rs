//! Which storage engine a `CREATE TABLE` / `ALTER TABLE` gives its table, read from the
//! statement's text (its `ENGINE` table option) and, for a `CREATE TABLE` without one, the
//! session's `default_storage_engine`.
//!
//! A group member replicates only InnoDB tables: a write to a non-transactional table
//! (MyISAM, Aria, MEMORY) cannot be undone when certification fails, and mysqld logs it outside
//! the client's XA transaction, so a stored program or prepared statement that writes one
//! commits it on one member only. Refusing the table's creation closes every such path.

use super::lexer::{tokenize, unquote_ident, Token, TokenKind};

/// The engines a table-definition statement names or implies that are not InnoDB.
///
/// `statement` is the text of a `CREATE TABLE` (`create` true) or `ALTER TABLE`;
/// `default_engine` is the session's `default_storage_engine`. Only table options at the
/// statement's top level count (a column, index or CHECK mentioning `engine` does not), and
/// `CREATE TABLE ... LIKE` keeps the engine of the table it copies (not judged here).
pub fn non_innodb_engines(statement: &str, create: bool, default_engine: &str) -> Vec<String> {
    let src = statement.as_bytes();
    let toks = tokenize(src).tokens;
    let mut depth = 0i32;
    let mut named = Vec::new();
    let mut like = false;
    for (i, t) in toks.iter().enumerate() {
        if t.is_punct(src, "(") {
            depth += 1;
        } else if t.is_punct(src, ")") {
            depth -= 1;
        }
        if depth != 0 {
            continue;
        }
        if t.is_kw(src, "LIKE") {
            like = true;
        }
        if t.is_kw(src, "ENGINE") && is_table_option(src, &toks, i) {
            let value = match toks.get(i + 1) {
                Some(n) if n.is_punct(src, "=") => toks.get(i + 2),
                other => other,
            };
            if let Some(v) = value.filter(|v| is_name(v)) {
                named.push(unquote_ident(v.text(src)).trim_matches('\'').to_string());
            }
        }
    }
    if create && named.is_empty() && !like {
        named.push(default_engine.to_string());
    }
    named.retain(|e| !e.eq_ignore_ascii_case("InnoDB"));
    named
}

/// Whether the `ENGINE` word at `i` is the table option, not a column or index named
/// `engine` (`ADD engine INT`, `CHANGE a engine INT`, `AFTER engine`, `RENAME COLUMN engine`).
fn is_table_option(src: &[u8], toks: &[Token], i: usize) -> bool {
    const NAMING: &[&str] = &[
        "ADD", "COLUMN", "CHANGE", "MODIFY", "DROP", "AFTER", "TO", "INDEX", "KEY", "AS",
    ];
    if let Some(p) = i.checked_sub(1).and_then(|p| toks.get(p)) {
        if NAMING.iter().any(|k| p.is_kw(src, k)) {
            return false;
        }
    }
    if i.checked_sub(2)
        .and_then(|p| toks.get(p))
        .is_some_and(|p| p.is_kw(src, "CHANGE"))
    {
        return false;
    }
    match toks.get(i + 1) {
        Some(n) if n.is_punct(src, "=") => true,
        // `ENGINE InnoDB` without `=`: the next word must not be a column type, as in a
        // column definition the checks above did not catch.
        Some(n) => is_name(n) && !is_column_type(src, n),
        None => false,
    }
}

fn is_name(t: &Token) -> bool {
    matches!(t.kind, TokenKind::Word | TokenKind::QuotedIdent | TokenKind::String)
}

fn is_column_type(src: &[u8], t: &Token) -> bool {
    const TYPES: &[&str] = &[
        "INT",
        "INTEGER",
        "TINYINT",
        "SMALLINT",
        "MEDIUMINT",
        "BIGINT",
        "DECIMAL",
        "NUMERIC",
        "FLOAT",
        "DOUBLE",
        "REAL",
        "BIT",
        "BOOL",
        "BOOLEAN",
        "CHAR",
        "VARCHAR",
        "TEXT",
        "TINYTEXT",
        "MEDIUMTEXT",
        "LONGTEXT",
        "BLOB",
        "TINYBLOB",
        "MEDIUMBLOB",
        "LONGBLOB",
        "BINARY",
        "VARBINARY",
        "ENUM",
        "SET",
        "DATE",
        "TIME",
        "DATETIME",
        "TIMESTAMP",
        "YEAR",
        "JSON",
        "UUID",
        "INET4",
        "INET6",
        "GEOMETRY",
        "POINT",
    ];
    TYPES.iter().any(|k| t.is_kw(src, k))
}

#[cfg(test)]
mod tests {
    use super::non_innodb_engines;

    #[test]
    fn engines_that_are_not_innodb() {
        // (statement, create, default engine, expected non-InnoDB engines)
        let cases: &[(&str, bool, &str, &[&str])] = &[
            ("CREATE TABLE t (id INT PRIMARY KEY)", true, "InnoDB", &[]),
            ("CREATE TABLE t (id INT PRIMARY KEY)", true, "MyISAM", &["MyISAM"]),
            ("CREATE TABLE t (id INT PRIMARY KEY) ENGINE=InnoDB", true, "MyISAM", &[]),
            (
                "CREATE TABLE t (id INT PRIMARY KEY) engine = innodb",
                true,
                "MyISAM",
                &[],
            ),
            (
                "CREATE TABLE t (id INT PRIMARY KEY) ENGINE=MyISAM",
                true,
                "InnoDB",
                &["MyISAM"],
            ),
            (
                "CREATE TABLE t (id INT PRIMARY KEY) ENGINE Aria",
                true,
                "InnoDB",
                &["Aria"],
            ),
            (
                "CREATE TABLE t (id INT PRIMARY KEY) ENGINE=`MEMORY`",
                true,
                "InnoDB",
                &["MEMORY"],
            ),
            (
                "CREATE TABLE t (id INT PRIMARY KEY) DEFAULT CHARSET=utf8mb4, ENGINE=MyISAM",
                true,
                "InnoDB",
                &["MyISAM"],
            ),
            // A column, an index or a CHECK called engine is not the option.
            (
                "CREATE TABLE t (id INT PRIMARY KEY, engine VARCHAR(10))",
                true,
                "InnoDB",
                &[],
            ),
            (
                "CREATE TABLE t (id INT PRIMARY KEY, engine INT, CHECK (engine = 1))",
                true,
                "InnoDB",
                &[],
            ),
            ("CREATE TABLE t LIKE s", true, "MyISAM", &[]),
            (
                "CREATE TABLE t (id INT PRIMARY KEY) PARTITION BY HASH (id) (PARTITION p0 ENGINE=InnoDB)",
                true,
                "InnoDB",
                &[],
            ),
            ("ALTER TABLE t ENGINE=MyISAM", false, "InnoDB", &["MyISAM"]),
            ("ALTER TABLE t ENGINE InnoDB", false, "MyISAM", &[]),
            ("ALTER TABLE t ADD COLUMN x INT", false, "MyISAM", &[]),
            ("ALTER TABLE t ADD engine INT", false, "InnoDB", &[]),
            ("ALTER TABLE t ADD COLUMN engine VARCHAR(3)", false, "InnoDB", &[]),
            ("ALTER TABLE t CHANGE a engine INT", false, "InnoDB", &[]),
            ("ALTER TABLE t MODIFY engine BIGINT", false, "InnoDB", &[]),
            ("ALTER TABLE t ADD x INT AFTER engine", false, "InnoDB", &[]),
            ("ALTER TABLE t DROP engine", false, "InnoDB", &[]),
            ("ALTER TABLE t RENAME COLUMN engine TO e", false, "InnoDB", &[]),
            ("ALTER TABLE t ADD INDEX (engine)", false, "InnoDB", &[]),
            ("ALTER TABLE t FORCE", false, "MyISAM", &[]),
        ];
        for (sql, create, default, want) in cases {
            let got = non_innodb_engines(sql, *create, default);
            assert_eq!(got, want.iter().map(|s| s.to_string()).collect::<Vec<_>>(), "{sql}");
        }
    }
}
