//! `grproxy status`: a running member's `SHOW GRPROXY STATUS` (and `SHOW GRPROXY MEMBERS`
//! where the proxy has it), read through the MySQL protocol like any client would.

use mysql_async::prelude::Queryable;

/// What `status` needs to log in.
pub struct Target {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
}

async fn login(t: &Target) -> Result<(mysql_async::Conn, String), String> {
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname(t.host.clone())
        .tcp_port(t.port)
        .prefer_socket(false)
        .user(Some(t.user.clone()))
        .pass(Some(t.password.clone()));
    let at = format!("{}:{}", t.host, t.port);
    let conn = mysql_async::Conn::new(opts)
        .await
        .map_err(|e| format!("cannot log in to {at} as {}: {e}", t.user))?;
    Ok((conn, at))
}

/// Runs one administration statement (`grproxy group ...`) and returns its one-line result.
pub async fn run_statement(t: &Target, sql: &str) -> Result<String, String> {
    let (mut conn, at) = login(t).await?;
    let done: Option<String> = conn.query_first(sql).await.map_err(|e| format!("{at}: {e}"))?;
    let _ = conn.disconnect().await;
    Ok(done.unwrap_or_default())
}

/// The report to print, or why there is none.
pub async fn status(t: &Target) -> Result<String, String> {
    let (mut conn, at) = login(t).await?;
    let rows: Vec<(String, String)> = conn
        .query("SHOW GRPROXY STATUS")
        .await
        .map_err(|e| format!("{at}: SHOW GRPROXY STATUS: {e} (is it a grproxy? the account needs PROCESS)"))?;
    let mut out = format!("grproxy at {at}\n{}", table(&rows));
    // Members are listed by proxies that know the statement; others answer with a syntax
    // error from mysqld, and the section is left out.
    if let Ok(members) = conn.query::<mysql_async::Row, _>("SHOW GRPROXY MEMBERS").await {
        if let Some(first) = members.first() {
            let header: Vec<String> = first.columns_ref().iter().map(|c| c.name_str().into_owned()).collect();
            let cells: Vec<Vec<String>> = members
                .iter()
                .map(|row| (0..row.len()).map(|i| cell(row.as_ref(i))).collect())
                .collect();
            out.push_str("\nmembers\n");
            out.push_str(&grid(&header, &cells));
        }
    }
    let _ = conn.disconnect().await;
    Ok(out)
}

fn cell(v: Option<&mysql_async::Value>) -> String {
    match v {
        Some(mysql_async::Value::Bytes(b)) => String::from_utf8_lossy(b).into_owned(),
        Some(mysql_async::Value::NULL) | None => String::new(),
        Some(other) => other.as_sql(true),
    }
}

/// A header and rows in aligned columns.
fn grid(header: &[String], rows: &[Vec<String>]) -> String {
    let mut width: Vec<usize> = header.iter().map(String::len).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < width.len() {
                width[i] = width[i].max(c.len());
            }
        }
    }
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells.iter().zip(&width).map(|(c, w)| format!("{c:w$}")).collect();
        format!("  {}\n", padded.join("  ").trim_end())
    };
    std::iter::once(line(header))
        .chain(rows.iter().map(|r| line(r)))
        .collect()
}

/// Two aligned columns.
fn table(rows: &[(String, String)]) -> String {
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    rows.iter().map(|(k, v)| format!("  {k:width$}  {v}\n")).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn grid_aligns() {
        let h = vec!["id".to_string(), "address".to_string()];
        let rows = vec![vec!["1".to_string(), "10.0.0.1:7001".to_string()]];
        assert_eq!(super::grid(&h, &rows), "  id  address\n  1   10.0.0.1:7001\n");
    }

    #[test]
    fn table_aligns() {
        let rows = vec![
            ("a".to_string(), "1".to_string()),
            ("long_name".to_string(), "x".to_string()),
        ];
        assert_eq!(super::table(&rows), "  a          1\n  long_name  x\n");
    }
}
