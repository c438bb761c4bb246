//! Parameters of COM_STMT_EXECUTE, decoded so the proxy can build its own capture statements
//! with the values the client bound, and placeholder substitution for those statements.

use mysql_common::constants::{ColumnFlags, ColumnType};
use mysql_common::io::ParseBuf;
use mysql_common::proto::MyDeserialize;
use mysql_common::value::{BinValue, ValueDeserializer};
use mysql_common::Value;

use crate::sql::lexer::{tokenize, TokenKind};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParamError {
    #[error("COM_STMT_EXECUTE packet is too short")]
    Short,
    #[error("parameter {0} has no type (the first execution must bind types)")]
    NoTypes(usize),
    #[error("cannot decode parameter {0}")]
    Value(usize),
}

/// Types bound for a statement: (type, unsigned) per parameter, remembered between executions.
pub type ParamTypes = Vec<(u8, bool)>;

/// Decodes the parameter values of a COM_STMT_EXECUTE payload for a statement with `count`
/// parameters. `types` holds the types of the previous execution and is updated when the
/// packet binds new ones; `long_data` holds values sent by COM_STMT_SEND_LONG_DATA.
pub fn decode_execute(
    payload: &[u8],
    count: usize,
    types: &mut ParamTypes,
    long_data: &[(u16, Vec<u8>)],
) -> Result<Vec<Value>, ParamError> {
    if count == 0 {
        return Ok(Vec::new());
    }
    let mut pos = 10; // command, statement id, flags, iteration count
    let bitmap_len = count.div_ceil(8);
    let bitmap = payload.get(pos..pos + bitmap_len).ok_or(ParamError::Short)?;
    pos += bitmap_len;
    let bound = *payload.get(pos).ok_or(ParamError::Short)?;
    pos += 1;
    if bound == 1 {
        let raw = payload.get(pos..pos + 2 * count).ok_or(ParamError::Short)?;
        *types = raw.chunks(2).map(|c| (c[0], c[1] & 0x80 != 0)).collect();
        pos += 2 * count;
    }
    if types.len() != count {
        return Err(ParamError::NoTypes(0));
    }
    let mut buf = ParseBuf(payload.get(pos..).ok_or(ParamError::Short)?);
    let mut out = Vec::with_capacity(count);
    for (i, &(ty, unsigned)) in types.iter().enumerate() {
        if bitmap[i / 8] & (1 << (i % 8)) != 0 {
            out.push(Value::NULL);
            continue;
        }
        if let Some((_, data)) = long_data.iter().find(|(p, _)| *p as usize == i) {
            out.push(Value::Bytes(data.clone()));
            continue;
        }
        let col_type = ColumnType::try_from(ty).map_err(|_| ParamError::Value(i))?;
        let flags = if unsigned {
            ColumnFlags::UNSIGNED_FLAG
        } else {
            ColumnFlags::empty()
        };
        let v = ValueDeserializer::<BinValue>::deserialize((col_type, flags), &mut buf)
            .map_err(|_| ParamError::Value(i))?;
        out.push(v.0);
    }
    Ok(out)
}

/// Replaces every `?` placeholder of `sql` (outside strings and comments) by the SQL literal
/// of the matching value. Fails if the counts differ.
pub fn substitute(sql: &str, values: &[Value], no_backslash_escapes: bool) -> Option<String> {
    let lexed = tokenize(sql.as_bytes());
    let mut out = String::with_capacity(sql.len() + values.len() * 8);
    let mut last = 0;
    let mut n = 0;
    for t in lexed.tokens.iter().filter(|t| t.kind == TokenKind::Placeholder) {
        out.push_str(&sql[last..t.start]);
        out.push_str(&literal(values.get(n)?, no_backslash_escapes));
        last = t.end;
        n += 1;
    }
    if n != values.len() {
        return None;
    }
    out.push_str(&sql[last..]);
    Some(out)
}

/// A SQL literal for a value: numbers as numbers, strings quoted (or hex when not UTF-8).
pub fn literal(v: &Value, no_backslash_escapes: bool) -> String {
    match v {
        Value::Bytes(b) => match std::str::from_utf8(b) {
            Ok(_) => v.as_sql(no_backslash_escapes),
            Err(_) => {
                let mut s = String::with_capacity(3 + 2 * b.len());
                s.push_str("X'");
                for byte in b {
                    s.push_str(&format!("{byte:02X}"));
                }
                s.push('\'');
                s
            }
        },
        Value::Float(f) => format!("{f:?}"),
        Value::Double(d) => format!("{d:?}"),
        other => other.as_sql(no_backslash_escapes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitution_table() {
        let cases: &[(&str, Vec<Value>, Option<&str>)] = &[
            ("SELECT ?", vec![Value::Int(1)], Some("SELECT 1")),
            (
                "UPDATE t SET c=? WHERE id=?",
                vec![Value::Bytes(b"it's".to_vec()), Value::UInt(7)],
                Some("UPDATE t SET c='it\\'s' WHERE id=7"),
            ),
            (
                "SELECT '?', ? /* ? */",
                vec![Value::NULL],
                Some("SELECT '?', NULL /* ? */"),
            ),
            ("SELECT ?", vec![Value::Bytes(vec![0xFF, 0x00])], Some("SELECT X'FF00'")),
            ("SELECT ?, ?", vec![Value::Int(1)], None),
            ("SELECT 1", vec![Value::Int(1)], None),
            ("SELECT ?", vec![Value::Double(0.1)], Some("SELECT 0.1")),
        ];
        for (sql, values, want) in cases {
            assert_eq!(substitute(sql, values, false).as_deref(), *want, "{sql}");
        }
    }

    #[test]
    fn decode_execute_binds_and_remembers_types() {
        // 3 params: LONGLONG 5, NULL, VAR_STRING "ab".
        let mut p = vec![0x17, 1, 0, 0, 0, 0, 1, 0, 0, 0];
        p.push(0b010); // null bitmap: param 1 is NULL
        p.push(1);
        p.extend_from_slice(&[0x08, 0x00, 0x08, 0x00, 0xFD, 0x00]);
        p.extend_from_slice(&5i64.to_le_bytes());
        p.extend_from_slice(&[2, b'a', b'b']);
        let mut types = Vec::new();
        let v = decode_execute(&p, 3, &mut types, &[]).unwrap();
        assert_eq!(v, vec![Value::Int(5), Value::NULL, Value::Bytes(b"ab".to_vec())]);
        // Re-execution without types uses the remembered ones.
        let mut q = vec![0x17, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0b000, 0];
        q.extend_from_slice(&6i64.to_le_bytes());
        q.extend_from_slice(&7i64.to_le_bytes());
        q.extend_from_slice(&[1, b'c']);
        let v = decode_execute(&q, 3, &mut types, &[]).unwrap();
        assert_eq!(v, vec![Value::Int(6), Value::Int(7), Value::Bytes(b"c".to_vec())]);
        // Long data replaces the value in the packet.
        let mut r = vec![0x17, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0b000, 0];
        r.extend_from_slice(&6i64.to_le_bytes());
        r.extend_from_slice(&7i64.to_le_bytes());
        let v = decode_execute(&r, 3, &mut types, &[(2, b"long".to_vec())]).unwrap();
        assert_eq!(v[2], Value::Bytes(b"long".to_vec()));
        assert_eq!(decode_execute(&p[..8], 3, &mut types, &[]), Err(ParamError::Short));
        let mut fresh = Vec::new();
        assert_eq!(decode_execute(&q, 3, &mut fresh, &[]), Err(ParamError::NoTypes(0)));
    }
}
