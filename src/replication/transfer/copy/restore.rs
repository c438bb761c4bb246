//! The joiner side of a copy: clear the local mysqld, then load the stream into it.

use std::process::Stdio;

use mysql_async::prelude::Queryable;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

use super::{io, program, CopyError, MysqldTarget, MAX_PACKET, PROGRESS_EVERY, SYSTEM_SCHEMAS, TRAILER};

/// How feeding the client ended.
enum Fed {
    Complete,
    Truncated,
    ReadFailed(std::io::Error),
    WriteFailed(std::io::Error),
}

/// Makes the local mysqld a copy of `input` (a stream from [`super::start_dump`]): prepared
/// XA transactions are rolled back, every non-system schema and every role is dropped, then
/// the copy is loaded.
/// None of it is binlogged. Returns the bytes loaded; `progress` hears of them at least
/// every 4 MiB.
pub async fn restore(
    target: &MysqldTarget,
    mut input: impl AsyncRead + Unpin,
    mut progress: impl FnMut(u64),
) -> Result<u64, CopyError> {
    clear(target).await?;
    let (_dir, defaults) = target.defaults_file()?;
    let mut child = Command::new(program(&["mariadb", "mysql"])?)
        .arg(format!("--defaults-extra-file={}", defaults.display()))
        .args([
            "--binary-mode",
            "--init-command=SET SESSION sql_log_bin=0",
            // A reconnect would run on without the dump's session settings.
            "--skip-reconnect",
            MAX_PACKET,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(io("starting the mariadb client"))?;
    let mut stdin = child.stdin.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let errors = tokio::spawn(async move {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s).await;
        s
    });
    let mut buf = vec![0u8; 1 << 20];
    let mut tail: Vec<u8> = Vec::with_capacity(2 * TRAILER.len());
    let (mut total, mut reported) = (0u64, 0u64);
    let fed = loop {
        let n = match input.read(&mut buf).await {
            Ok(0) if tail.ends_with(TRAILER) => break Fed::Complete,
            Ok(0) => break Fed::Truncated,
            Ok(n) => n,
            Err(e) => break Fed::ReadFailed(e),
        };
        if let Err(e) = stdin.write_all(&buf[..n]).await {
            break Fed::WriteFailed(e);
        }
        tail.extend_from_slice(&buf[n.saturating_sub(TRAILER.len())..n]);
        tail.drain(..tail.len().saturating_sub(TRAILER.len()));
        total += n as u64;
        if total - reported >= PROGRESS_EVERY {
            progress(total);
            reported = total;
        }
    };
    if matches!(fed, Fed::Truncated | Fed::ReadFailed(_)) {
        // Closing stdin would run the last statement: the client goes without it.
        let _ = child.start_kill();
    }
    drop(stdin);
    let status = child.wait().await.map_err(io("waiting for the mariadb client"))?;
    let errors = errors.await.unwrap_or_default();
    match fed {
        Fed::Truncated => return Err(CopyError::Truncated(total)),
        Fed::ReadFailed(source) => {
            return Err(CopyError::Io {
                what: "reading the copy",
                source,
            })
        }
        _ if !status.success() => {
            let e = errors.trim();
            return Err(CopyError::Load(if e.is_empty() {
                status.to_string()
            } else {
                e.to_string()
            }));
        }
        Fed::WriteFailed(source) => {
            return Err(CopyError::Io {
                what: "feeding the mariadb client",
                source,
            })
        }
        Fed::Complete => {}
    }
    progress(total);
    Ok(total)
}

/// Rolls back every prepared XA transaction, drops every non-system schema and every role,
/// unlogged.
async fn clear(target: &MysqldTarget) -> Result<(), CopyError> {
    let mut c = target.connect().await?;
    c.query_drop("SET SESSION sql_log_bin = 0").await?;
    let prepared: Vec<(i64, i64, i64, Vec<u8>)> = c.query("XA RECOVER").await?;
    let hex = |s: &[u8]| s.iter().map(|x| format!("{x:02X}")).collect::<String>();
    for (format, gtrid_len, bqual_len, data) in prepared {
        let g = (gtrid_len.max(0) as usize).min(data.len());
        let b = (g + bqual_len.max(0) as usize).min(data.len());
        // X'' is not valid SQL for an empty bqual; '' is.
        let lit = |s: &[u8]| {
            if s.is_empty() {
                "''".to_string()
            } else {
                format!("X'{}'", hex(s))
            }
        };
        c.query_drop(format!("XA ROLLBACK {},{},{format}", lit(&data[..g]), lit(&data[g..b])))
            .await?;
    }
    let schemas: Vec<String> = c
        .query(format!(
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME NOT IN ({SYSTEM_SCHEMAS})"
        ))
        .await?;
    for s in schemas {
        c.query_drop(format!("DROP DATABASE {}", crate::replication::ident(&s)))
            .await?;
    }
    // A role that exists already keeps its admins, and the dump's own import role may then
    // not grant it: the copy brings every role of the donor again, with its grants.
    let roles: Vec<String> = c.query("SELECT User FROM mysql.user WHERE is_role = 'Y'").await?;
    for r in roles {
        c.query_drop(format!("DROP ROLE {}", crate::replication::ident(&r)))
            .await?;
    }
    let _ = c.disconnect().await;
    Ok(())
}
