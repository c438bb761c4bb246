//! Tests of [`read_may_write`] / [`read_writes_with`] and the built-in lists.

use super::builtins::{is_builtin_function, is_syntax_word, BUILTIN_FUNCTIONS, SYNTAX_WORDS};
use super::{read_may_write, read_may_write_with, read_writes_with, LexOptions, ReadWrites};

#[test]
fn reads_that_do_not_write() {
    let cases = [
        "SELECT 1",
        "SELECT * FROM t WHERE id = 1 FOR UPDATE",
        "SELECT COUNT(*), SUM(k), AVG(k), MAX(k), GROUP_CONCAT(DISTINCT c ORDER BY c SEPARATOR ',') FROM t",
        "SELECT count (*) FROM t",
        "SELECT NOW(), CURDATE(), DATE_ADD(d, INTERVAL 1 DAY), TIMESTAMPDIFF(SECOND, a, b) FROM t",
        "SELECT CONCAT(a, b), SUBSTRING(c FROM 1 FOR 2), TRIM(LEADING 'x' FROM c), POSITION('a' IN c) FROM t",
        "SELECT CAST(a AS CHAR(10)), CAST(b AS DECIMAL(10,2)), CONVERT(c, DATETIME(6)), CONVERT(d USING utf8mb4)",
        "SELECT CAST(a AS UNSIGNED INTEGER), CAST(b AS DOUBLE PRECISION), CAST(c AS VARCHAR(5))",
        "SELECT * FROM t WHERE a IN (1, 2) AND EXISTS (SELECT 1 FROM u WHERE u.a = t.a)",
        "SELECT * FROM t WHERE a NOT IN (SELECT a FROM u) OR b = ANY (SELECT b FROM u) OR c > ALL (SELECT 1)",
        "SELECT * FROM t JOIN u USING (id) LEFT JOIN v ON (v.id = t.id)",
        "SELECT * FROM (SELECT 1 AS a) AS d WHERE (a, a) = (1, 1)",
        "SELECT * FROM t FORCE INDEX (k) USE INDEX FOR JOIN (k2) IGNORE KEY FOR ORDER BY (k3)",
        "SELECT * FROM t PARTITION (p0, p1)",
        "SELECT ROW_NUMBER() OVER (PARTITION BY a ORDER BY b ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) FROM t",
        "SELECT RANK() OVER w, LAG(a, 1) OVER w FROM t WINDOW w AS (ORDER BY a)",
        "SELECT PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY a) OVER () FROM t",
        "WITH c AS (SELECT 1) SELECT * FROM c",
        "WITH RECURSIVE c (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 5) SELECT * FROM c",
        "WITH a (x, y) AS (SELECT 1, 2), b (z) AS (SELECT 3) SELECT * FROM a, b",
        "SELECT * FROM JSON_TABLE('[1]', '$[*]' COLUMNS (id FOR ORDINALITY, v INT PATH '$', \
         n DECIMAL(10,2) PATH '$', NESTED PATH '$' COLUMNS (w VARCHAR(10) PATH '$'))) AS jt",
        "SELECT JSON_EXTRACT(j, '$.a'), JSON_VALUE(j, '$.b'), j->>'$.c' FROM t",
        "SELECT IF(a, 1, 2), IFNULL(a, 0), NULLIF(a, b), COALESCE(a, b), CASE WHEN (a) THEN (1) ELSE (2) END",
        "SELECT MATCH (a, b) AGAINST ('x' IN NATURAL LANGUAGE MODE) FROM t",
        "SELECT LASTVAL(s), PREVIOUS VALUE FOR s",
        "SELECT DATABASE(), USER(), CURRENT_USER(), VERSION(), CONNECTION_ID(), LAST_INSERT_ID(), FOUND_ROWS()",
        "SELECT GET_LOCK('a', 1), RELEASE_LOCK('a'), SLEEP(0), UUID(), RAND()",
        "SELECT ST_AsText(POINT(1, 2)), ST_Distance(POINT(0, 0), POINT(1, 1)), MBRContains(g, g) FROM t",
        "SELECT BINARY (a), a DIV (2), NOT (a), a XOR (b), a LIKE (b) ESCAPE 'x', a BETWEEN (1) AND (2)",
        "SELECT POINT(1, 2), LINESTRING(POINT(1, 1), POINT(2, 2)), POLYGON(LINESTRING(POINT(0, 0)))",
        "SELECT * FROM t WHERE MATCH (a) AGAINST ('x' WITH QUERY EXPANSION)",
        "SELECT * FROM t1, JSON_TABLE(t1.j, '$' COLUMNS (a INT PATH '$')) AS jt",
        "SELECT * FROM t FOR SYSTEM_TIME AS OF (NOW() - INTERVAL 1 HOUR)",
        "SELECT 'f(x)', \"g(y)\", `col` FROM t -- h(z)\n",
        "SELECT /* f(1) */ 1",
        "SELECT a FROM t UNION (SELECT b FROM u) EXCEPT (SELECT c FROM v)",
        "SELECT a INTO @x FROM t",
        "SELECT * FROM t AS OF TIMESTAMP (NOW())",
        "SELECT * FROM t FOR SYSTEM_TIME BETWEEN (NOW() - INTERVAL 1 DAY) AND (NOW())",
        "SELECT a FROM t PROCEDURE ANALYSE()",
        "SELECT COLUMN_GET(d, 'x' AS CHAR(10)), WEIGHT_STRING(a AS CHAR(3))",
        "SELECT VALUES(a), ROW(1, 2) = ROW(1, 2), DEFAULT(a) FROM t",
        "SELECT STRAIGHT_JOIN (a) FROM t",
        "SELECT SQL_NO_CACHE DISTINCT (a) FROM t",
        "DO SLEEP(1)",
        "DO (SELECT 1)",
        "VALUES (1, 2), (3, 4)",
        "TABLE t",
        "SET @x = (SELECT MAX(a) FROM t)",
        "SET @a := 1, @b = CONCAT('a', 'b')",
        "SELECT 1 AS nextval",
    ];
    for sql in cases {
        let got = read_writes_with(sql.as_bytes(), LexOptions::default());
        assert_eq!(got, ReadWrites::default(), "{sql}");
        assert!(!read_may_write(sql.as_bytes()), "{sql}");
    }
}

#[test]
fn reads_that_may_write() {
    let f = |names: &[&str]| ReadWrites {
        stored_functions: names.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    let seq = ReadWrites {
        sequences: true,
        ..Default::default()
    };
    let file = ReadWrites {
        server_file: true,
        ..Default::default()
    };
    let cases: &[(&str, ReadWrites)] = &[
        ("SELECT f(1)", f(&["f"])),
        ("SELECT F (1)", f(&["f"])),
        ("SELECT my_func()", f(&["my_func"])),
        ("SELECT a FROM t WHERE b = f(a)", f(&["f"])),
        ("SELECT db.f(1)", f(&["db.f"])),
        ("SELECT `db`.`f`(1)", f(&["db.f"])),
        ("SELECT db . f (1)", f(&["db.f"])),
        ("SELECT test.now()", f(&["test.now"])),
        ("SELECT db.concat('a')", f(&["db.concat"])),
        ("SELECT `my func`(1)", f(&["my func"])),
        ("SELECT `now`()", f(&["now"])),
        ("SELECT CONCAT(f(1), g(2), f(3))", f(&["f", "g"])),
        ("SELECT * FROM t WHERE a IN (SELECT f(b) FROM u)", f(&["f"])),
        ("SELECT (SELECT f(1))", f(&["f"])),
        ("SELECT COUNT(*) FROM t GROUP BY g(a)", f(&["g"])),
        ("SELECT a FROM t ORDER BY h(a)", f(&["h"])),
        ("SELECT a FROM t HAVING i(a) > 0", f(&["i"])),
        ("SELECT * FROM t JOIN u ON t.a = j(u.a)", f(&["j"])),
        ("SELECT CASE WHEN k(a) THEN 1 END FROM t", f(&["k"])),
        ("SELECT CAST(f(a) AS CHAR(10)) FROM t", f(&["f"])),
        ("SELECT my_agg(a) OVER (ORDER BY a) FROM t", f(&["my_agg"])),
        ("WITH c AS (SELECT f(1) AS x) SELECT * FROM c", f(&["f"])),
        ("WITH c (x) AS (SELECT 1) SELECT g(x) FROM c", f(&["g"])),
        (
            "SELECT * FROM JSON_TABLE(f(1), '$' COLUMNS (a INT PATH '$')) AS j",
            f(&["f"]),
        ),
        ("SELECT pkg.fn(1)", f(&["pkg.fn"])),
        ("SELECT /*!50000 f(1) */", f(&["f"])),
        ("SELECT 1 FROM t WHERE EXISTS (SELECT 1 FROM u WHERE f(u.a))", f(&["f"])),
        ("SELECT ANALYSE(a) FROM t", f(&["analyse"])),
        // Keywords that can also name a stored function (verified: a stored
        // function `path`, `columns`, `against`, `of` is called).
        (
            "SELECT path(1), columns(1), against(1), of(1)",
            f(&["path", "columns", "against", "of"]),
        ),
        (
            "SELECT mode(1), nested(2), escape(3), inet6(4)",
            f(&["mode", "nested", "escape", "inet6"]),
        ),
        // Built-ins only in one shape; otherwise a stored-function lookup.
        ("SELECT json_table(1)", f(&["json_table"])),
        ("SELECT a FROM t WHERE JSON_TABLE(a, '$') > 0", f(&["json_table"])),
        ("SELECT point(1)", f(&["point"])),
        ("SELECT POINT(1, 2, 3)", f(&["point"])),
        ("SELECT linestring()", f(&["linestring"])),
        ("SELECT point_of(1)", f(&["point_of"])),
        ("SELECT st_my_geo(1)", f(&["st_my_geo"])),
        ("SELECT json_my(1)", f(&["json_my"])),
        ("SELECT format_bytes(1)", f(&["format_bytes"])),
        ("DO f(1)", f(&["f"])),
        ("DO db.p_log('x')", f(&["db.p_log"])),
        ("VALUES (f(1))", f(&["f"])),
        ("SET @x = (SELECT f(1))", f(&["f"])),
        ("SET @x = f(1)", f(&["f"])),
        ("SET autocommit = f()", f(&["f"])),
        ("SELECT NEXTVAL(s)", seq.clone()),
        ("SELECT nextval(db.s)", seq.clone()),
        ("SELECT SETVAL(s, 10)", seq.clone()),
        ("SELECT NEXT VALUE FOR s", seq.clone()),
        ("SELECT next value for db.s, a FROM t", seq.clone()),
        ("SELECT s.nextval", seq.clone()),
        ("SET @x = NEXT VALUE FOR s", seq.clone()),
        ("SELECT * FROM t INTO OUTFILE '/tmp/x'", file.clone()),
        ("SELECT a INTO DUMPFILE '/tmp/x' FROM t", file.clone()),
        (
            "SELECT a FROM t INTO outfile '/tmp/x' FIELDS TERMINATED BY ','",
            file.clone(),
        ),
        (
            "SELECT f(NEXTVAL(s)) INTO OUTFILE '/x'",
            ReadWrites {
                stored_functions: vec!["f".into()],
                sequences: true,
                server_file: true,
            },
        ),
    ];
    for (sql, want) in cases {
        let got = read_writes_with(sql.as_bytes(), LexOptions::default());
        assert_eq!(&got, want, "{sql}");
        assert!(read_may_write(sql.as_bytes()), "{sql}");
    }
}

#[test]
fn lexical_options_apply() {
    // Under NO_BACKSLASH_ESCAPES the string ends at the backslash, so the
    // call after it is real code.
    let sql = br"SELECT 'a\', f(1) -- '";
    assert!(!read_may_write(sql));
    let nbe = LexOptions::default().with_sql_mode("NO_BACKSLASH_ESCAPES");
    assert!(read_may_write_with(sql, nbe));
    // Under ANSI_QUOTES "f" is an identifier: a quoted function name.
    let sql = br#"SELECT "f"(1)"#;
    assert!(!read_may_write(sql));
    let ansi = LexOptions::default().with_sql_mode("ANSI_QUOTES");
    assert_eq!(read_writes_with(sql, ansi).stored_functions, ["f"]);
}

#[test]
fn builtin_lists() {
    for list in [BUILTIN_FUNCTIONS, SYNTAX_WORDS] {
        assert!(list.windows(2).all(|w| w[0] < w[1]), "sorted and unique");
        assert!(list.iter().all(|n| n
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')));
    }
    assert!(BUILTIN_FUNCTIONS.len() > 400);
    for name in [
        "count",
        "Json_Table",
        "ST_ASTEXT",
        "lastval",
        "row_number",
        "if",
        "cast",
    ] {
        assert!(is_builtin_function(name), "{name}");
    }
    for name in ["nextval", "setval", "my_func", "format_bytes", "st_isvalid", ""] {
        assert!(!is_builtin_function(name), "{name}");
    }
    for name in ["in", "Exists", "OVER", "decimal", "varchar", "using"] {
        assert!(is_syntax_word(name), "{name}");
    }
    // Keywords that can name a stored function are not syntax words.
    for name in [
        "columns", "path", "against", "of", "mode", "nested", "escape", "current",
    ] {
        assert!(!is_syntax_word(name), "{name}");
    }
}
