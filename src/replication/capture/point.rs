//! The point fast path: an UPDATE or DELETE that names exactly one row by its whole primary key
//! (`WHERE id = 5`, `WHERE a = 1 AND b = 2`), on a table whose only key is the primary key and
//! that has no foreign keys. For such a statement the before-image adds nothing to what is
//! replicated: the row's identity is in the statement, the write-set is that primary key
//! alone, and an UPDATE's new values are read back after it. Skipping the locking read saves a
//! statement and a round trip to mysqld per write (sysbench's UPDATE and DELETE are all
//! point statements).
//!
//! Key values must be integers written canonically (`5`, `-3`, not `05`, `5.0`, `'5'`) in an
//! integer column: a DELETE's key is replicated and hashed as written, so it must be the text
//! mysqld itself prints for that value.

use crate::sql::lexer::{tokenize, unquote_ident, TokenKind};

use super::ImageShape;

/// The primary-key values named by `where_clause`, in key-column order, if the statement is a
/// point statement on `shape`'s table.
pub fn point_key(shape: &ImageShape, where_clause: &str) -> Option<Vec<Vec<u8>>> {
    let meta = &shape.meta;
    let pk = meta.primary.as_ref()?;
    if !meta.uniques.is_empty() || !meta.foreign_keys.is_empty() || meta.referenced_with_cascade {
        return None;
    }
    if !pk.columns.iter().all(|&c| is_integer_type(&meta.columns[c].data_type)) {
        return None;
    }
    let src = where_clause.as_bytes();
    let toks = tokenize(src).tokens;
    let mut values: Vec<Option<Vec<u8>>> = vec![None; pk.columns.len()];
    let mut i = 0;
    loop {
        // [qualifier .] column
        let mut name_tok = *toks.get(i)?;
        if !matches!(name_tok.kind, TokenKind::Word | TokenKind::QuotedIdent) {
            return None;
        }
        if toks.get(i + 1).is_some_and(|t| t.is_punct(src, ".")) {
            name_tok = *toks.get(i + 2)?;
            if !matches!(name_tok.kind, TokenKind::Word | TokenKind::QuotedIdent) {
                return None;
            }
            i += 2;
        }
        let name = unquote_ident(name_tok.text(src));
        let k = pk
            .columns
            .iter()
            .position(|&c| meta.columns[c].name.eq_ignore_ascii_case(&name))?;
        if !toks.get(i + 1).is_some_and(|t| t.is_punct(src, "=")) {
            return None;
        }
        i += 2;
        let negative = toks.get(i).is_some_and(|t| t.is_punct(src, "-"));
        if negative {
            i += 1;
        }
        let lit = toks.get(i)?;
        if lit.kind != TokenKind::Number {
            return None;
        }
        let digits = lit.text(src);
        if !canonical_digits(digits) || (negative && digits == b"0") || values[k].is_some() {
            return None;
        }
        let mut v = Vec::with_capacity(digits.len() + 1);
        if negative {
            v.push(b'-');
        }
        v.extend_from_slice(digits);
        values[k] = Some(v);
        i += 1;
        match toks.get(i) {
            None => break,
            Some(t) if t.is_kw(src, "AND") => i += 1,
            Some(_) => return None,
        }
    }
    values.into_iter().collect()
}

fn canonical_digits(d: &[u8]) -> bool {
    !d.is_empty() && d.iter().all(u8::is_ascii_digit) && (d == b"0" || d[0] != b'0')
}

fn is_integer_type(t: &str) -> bool {
    matches!(t, "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::replication::metadata::{Column, ForeignKey, Key, TableMeta};

    fn col(name: &str, ty: &str) -> Column {
        Column {
            name: name.into(),
            data_type: ty.into(),
            generated: false,
            auto_increment: false,
        }
    }

    fn shape(pk: &[usize], pk_type: &str, unique: bool, fk: bool) -> ImageShape {
        ImageShape::new(Arc::new(TableMeta {
            schema: "db".into(),
            table: "t".into(),
            columns: vec![col("id", pk_type), col("b", "int"), col("c", "varchar")],
            primary: Some(Key {
                name: "PRIMARY".into(),
                columns: pk.to_vec(),
            }),
            uniques: if unique {
                vec![Key {
                    name: "c".into(),
                    columns: vec![2],
                }]
            } else {
                vec![]
            },
            foreign_keys: if fk {
                vec![ForeignKey {
                    name: "fk".into(),
                    cascades: false,
                    columns: vec![1],
                    parent_schema: "db".into(),
                    parent_table: "p".into(),
                    parent_index: "PRIMARY".into(),
                }]
            } else {
                vec![]
            },
            referenced_with_cascade: false,
            engine: "InnoDB".into(),
            has_triggers: false,
        }))
    }

    #[test]
    fn point_keys_table() {
        let single = shape(&[0], "int", false, false);
        let pair = shape(&[0, 1], "bigint", false, false);
        let v = |s: &[&str]| Some(s.iter().map(|x| x.as_bytes().to_vec()).collect::<Vec<_>>());
        type Case<'a> = (&'a ImageShape, &'a str, Option<Vec<Vec<u8>>>);
        let cases: &[Case] = &[
            (&single, "id=5", v(&["5"])),
            (&single, "id = 5", v(&["5"])),
            (&single, "`id` = 17", v(&["17"])),
            (&single, "t.id = 0", v(&["0"])),
            (&single, "x.`ID` = -3", v(&["-3"])),
            (&single, "id = 05", None),
            (&single, "id = 5.0", None),
            (&single, "id = '5'", None),
            (&single, "id = -0", None),
            (&single, "id = 5 OR id = 6", None),
            (&single, "id = 5 AND b = 1", None),
            (&single, "id IN (5)", None),
            (&single, "id >= 5", None),
            (&single, "id = 5 + 1", None),
            (&single, "b = 5", None),
            (&single, "id = ?", None),
            (&single, "id = @v", None),
            (&single, "id = 5 AND id = 5", None),
            (&pair, "id = 1 AND b = 2", v(&["1", "2"])),
            (&pair, "b = 2 AND id = 1", v(&["1", "2"])),
            (&pair, "id = 1", None),
            (&pair, "(id = 1 AND b = 2)", None),
        ];
        for (s, w, want) in cases {
            assert_eq!(&point_key(s, w), want, "{w}");
        }
    }

    #[test]
    fn only_tables_whose_only_key_is_an_integer_primary_key() {
        assert!(point_key(&shape(&[0], "int", false, false), "id = 1").is_some());
        assert!(
            point_key(&shape(&[0], "int", true, false), "id = 1").is_none(),
            "unique key"
        );
        assert!(
            point_key(&shape(&[0], "int", false, true), "id = 1").is_none(),
            "foreign key"
        );
        assert!(point_key(&shape(&[0], "varchar", false, false), "id = 1").is_none());
        assert!(point_key(&shape(&[0], "decimal", false, false), "id = 1").is_none());
    }
}
