//! Whether this member's mysqld answers. A member whose mysqld is gone cannot take, apply
//! or serve anything: it reports ERROR (so a single-primary group elects another primary, and
//! clients are refused with a clear error) until mysqld answers again.

use std::sync::Weak;
use std::time::Duration;

use mysql_async::prelude::Queryable;

use super::group::Group;

/// How often mysqld is asked.
const EVERY: Duration = Duration::from_millis(500);
/// How long one question may take.
const ANSWER_WITHIN: Duration = Duration::from_secs(2);
/// Failed questions in a row before the member says mysqld is down.
const FAILURES: u32 = 2;

/// Asks mysqld `DO 1` every [`EVERY`] until the group is gone, on a connection of its own (not
/// the pool's, which a busy applier or many sessions may hold: a wait there is not a dead
/// mysqld); a failed connection is opened again at the next question.
pub async fn watch(group: Weak<Group>, opts: mysql_async::Opts) {
    let mut conn: Option<mysql_async::Conn> = None;
    let mut failures = 0u32;
    loop {
        tokio::time::sleep(EVERY).await;
        let Some(g) = group.upgrade() else { return };
        let answer = tokio::time::timeout(ANSWER_WITHIN, async {
            if conn.is_none() {
                conn = Some(mysql_async::Conn::new(opts.clone()).await?);
            }
            let c = conn.as_mut().expect("just opened");
            c.query_drop("DO 1").await
        })
        .await;
        if !matches!(answer, Ok(Ok(()))) {
            // A connection that failed, or is stuck in a question, is not used again.
            conn = None;
        }
        let failure = match answer {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(_) => Some(format!("no answer within {ANSWER_WITHIN:?}")),
        };
        match failure {
            None => {
                if failures >= FAILURES {
                    tracing::info!("this member's mysqld answers again");
                }
                failures = 0;
                g.set_mysqld_down(None);
            }
            Some(why) => {
                failures += 1;
                if failures == FAILURES {
                    tracing::error!(error = %why, "this member's mysqld does not answer: the member is in ERROR until it does");
                }
                if failures >= FAILURES {
                    g.set_mysqld_down(Some(format!("mysqld does not answer: {why}")));
                }
            }
        }
    }
}
