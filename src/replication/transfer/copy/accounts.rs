//! The account dump's lines that a joiner replays. `mariadb-dump --system=users` writes one
//! statement per line, so a line is a statement here.

use std::collections::HashSet;

/// Which lines of the account dump the joiner replays.
pub(super) struct AccountFilter {
    /// The donor's service account as the dump writes it, in both quotings.
    exclude: Vec<String>,
    /// Accounts the dump created, as (user, host).
    created: HashSet<(String, String)>,
}

impl AccountFilter {
    pub(super) fn new(user: &str) -> AccountFilter {
        let exclude = vec![
            format!("`{}`@`", user.replace('`', "``")),
            format!("'{}'@'", user.replace('\'', "''")),
            format!("'{}'@'", user.replace('\'', "\\'")),
        ];
        AccountFilter {
            exclude,
            created: HashSet::new(),
        }
    }

    pub(super) fn keep(&mut self, line: &[u8]) -> bool {
        let Ok(s) = std::str::from_utf8(line) else {
            return true;
        };
        if self.exclude.iter().any(|x| s.contains(x.as_str())) {
            return false;
        }
        // mysqld's own default for root: only an account holding it may give it.
        if s.starts_with("GRANT PROXY ON ``@`%` TO ") {
            return false;
        }
        if let Some(a) = s
            .strip_prefix("CREATE USER IF NOT EXISTS ")
            .and_then(|r| account(r, '`'))
        {
            self.created.insert(a);
        }
        // Default roles are listed for every row of mysql.user, also for the accounts the
        // dump could not show (and so did not create): on the joiner they may not exist.
        if let Some(i) = s.find("SET DEFAULT ROLE ") {
            return match s[i..].find(" FOR ").and_then(|j| account(&s[i + j + 5..], '\'')) {
                Some(a) => self.created.contains(&a),
                None => true,
            };
        }
        true
    }
}

/// `user@host` at the start of `s`, both quoted with `q` (doubled or backslashed inside).
fn account(s: &str, q: char) -> Option<(String, String)> {
    fn quoted(s: &str, q: char) -> Option<(String, &str)> {
        let mut it = s.strip_prefix(q)?.char_indices().peekable();
        let mut out = String::new();
        while let Some((i, c)) = it.next() {
            if c == '\\' {
                out.push(it.next()?.1);
            } else if c == q {
                if it.peek().map(|x| x.1) == Some(q) {
                    it.next();
                    out.push(q);
                } else {
                    return Some((out, &s[i + 2..]));
                }
            } else {
                out.push(c);
            }
        }
        None
    }
    let (user, rest) = quoted(s, q)?;
    let (host, _) = quoted(rest.strip_prefix('@')?, q)?;
    Some((user, host))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_lines() {
        let mut f = AccountFilter::new("svc");
        let cases: &[(&str, bool)] = &[
            (
                "CREATE USER IF NOT EXISTS `svc`@`localhost` IDENTIFIED BY PASSWORD '*AB';",
                false,
            ),
            ("CREATE USER IF NOT EXISTS `svc`@`%`;", false),
            (
                "GRANT ALL PRIVILEGES ON *.* TO `svc`@`localhost` WITH GRANT OPTION;",
                false,
            ),
            ("GRANT `r1` TO `svc`@`localhost`;", false),
            ("/*M!100005 SET DEFAULT ROLE NONE FOR 'svc'@'localhost' */;", false),
            ("CREATE USER IF NOT EXISTS `svc2`@`localhost`;", true),
            (
                "CREATE USER IF NOT EXISTS `cli`@`%` IDENTIFIED BY PASSWORD '*12';",
                true,
            ),
            ("GRANT PROXY ON ``@`%` TO `root`@`localhost` WITH GRANT OPTION;", false),
            ("GRANT PROXY ON `cli`@`%` TO `app`@`%`;", true),
            ("/*M!100005 SET DEFAULT ROLE 'r1' FOR 'cli'@'%' */;", true),
            ("/*M!100005 SET DEFAULT ROLE NONE FOR 'root'@'vm' */;", false),
            ("/*M!100005 SET DEFAULT ROLE NONE FOR 'svc2'@'localhost' */;", true),
            ("GRANT SELECT ON `d`.* TO `r1`;", true),
        ];
        for (line, keep) in cases {
            assert_eq!(f.keep(format!("{line}\n").as_bytes()), *keep, "{line}");
        }
    }

    #[test]
    fn quoted_accounts() {
        assert_eq!(account("`a``b`@`h`;", '`'), Some(("a`b".into(), "h".into())));
        assert_eq!(account("'o\\'k'@'%' */", '\''), Some(("o'k".into(), "%".into())));
        assert_eq!(account("'x'", '\''), None);
    }
}
