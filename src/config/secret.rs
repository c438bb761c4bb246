//! Resolving the service account password from its configured source.
//!
//! Error messages name the environment variable or file, never the secret.

use std::path::Path;

use super::{ConfigError, ServiceAccount};

/// Where the password comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PasswordSource<'a> {
    /// No source configured: the empty password.
    Empty,
    /// `password:` inline.
    Inline,
    /// `password_env:` variable name.
    Env(&'a str),
    /// `password_file:` path.
    File(&'a Path),
}

impl ServiceAccount {
    /// Names of the password keys that are set, in declaration order.
    pub(crate) fn password_sources(&self) -> Vec<&'static str> {
        let mut keys = Vec::new();
        if self.password.is_some() {
            keys.push("password");
        }
        if self.password_env.is_some() {
            keys.push("password_env");
        }
        if self.password_file.is_some() {
            keys.push("password_file");
        }
        keys
    }

    /// The single configured password source.
    pub(crate) fn password_source(&self) -> Result<PasswordSource<'_>, ConfigError> {
        let sources = self.password_sources();
        if sources.len() > 1 {
            return Err(self.secret_error(
                "service_account",
                format!(
                    "only one of password, password_env, password_file may be set (found: {})",
                    sources.join(", ")
                ),
            ));
        }
        Ok(match (&self.password, &self.password_env, &self.password_file) {
            (Some(_), _, _) => PasswordSource::Inline,
            (_, Some(name), _) => PasswordSource::Env(name),
            (_, _, Some(path)) => PasswordSource::File(path),
            _ => PasswordSource::Empty,
        })
    }

    /// Returns the password from the configured source.
    ///
    /// * `password`: the inline value;
    /// * `password_env`: the variable's value (it must be set and valid UTF-8;
    ///   an empty value is an empty password);
    /// * `password_file`: the file's contents with trailing `\n` / `\r\n` removed
    ///   (other whitespace is kept: it may be part of the password);
    /// * none of them: the empty password.
    ///
    /// Errors name the variable or file, never the value.
    pub fn resolve_password(&self) -> Result<String, ConfigError> {
        match self.password_source()? {
            PasswordSource::Empty => Ok(String::new()),
            PasswordSource::Inline => Ok(self.password.clone().unwrap_or_default()),
            PasswordSource::Env(name) => match std::env::var(name) {
                Ok(value) => Ok(value),
                Err(std::env::VarError::NotPresent) => Err(self.secret_error(
                    "service_account.password_env",
                    format!("environment variable {name:?} is not set"),
                )),
                Err(std::env::VarError::NotUnicode(_)) => Err(self.secret_error(
                    "service_account.password_env",
                    format!("environment variable {name:?} is not valid UTF-8"),
                )),
            },
            PasswordSource::File(path) => {
                let bytes = std::fs::read(path).map_err(|e| {
                    self.secret_error(
                        "service_account.password_file",
                        format!("cannot read password file {}: {e}", path.display()),
                    )
                })?;
                let text = String::from_utf8(bytes).map_err(|_| {
                    self.secret_error(
                        "service_account.password_file",
                        format!("password file {} is not valid UTF-8", path.display()),
                    )
                })?;
                Ok(trim_trailing_newlines(text))
            }
        }
    }

    fn secret_error(&self, key_path: &str, message: String) -> ConfigError {
        ConfigError::Secret {
            at: self.source_position.clone(),
            key_path: key_path.to_owned(),
            message,
        }
    }
}

/// Removes trailing line terminators (`\n`, `\r\n`, stray `\r`) only.
fn trim_trailing_newlines(mut s: String) -> String {
    let keep = s.trim_end_matches(['\n', '\r']).len();
    s.truncate(keep);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::path::PathBuf;

    fn account() -> ServiceAccount {
        ServiceAccount {
            user: "grproxy".into(),
            ..ServiceAccount::default()
        }
    }

    #[test]
    fn no_source_is_empty_password() {
        assert_eq!(account().resolve_password().unwrap(), "");
    }

    #[test]
    fn inline_password() {
        let sa = ServiceAccount {
            password: Some("s3cret".into()),
            ..account()
        };
        assert_eq!(sa.resolve_password().unwrap(), "s3cret");
    }

    #[test]
    fn env_set_and_unset() {
        let var = "GRPROXY_CFG_TEST_PW_SET_8f3a";
        std::env::set_var(var, "from-env");
        let sa = ServiceAccount {
            password_env: Some(var.into()),
            ..account()
        };
        assert_eq!(sa.resolve_password().unwrap(), "from-env");

        let unset = "GRPROXY_CFG_TEST_PW_UNSET_8f3a";
        std::env::remove_var(unset);
        let sa = ServiceAccount {
            password_env: Some(unset.into()),
            ..account()
        };
        let msg = sa.resolve_password().unwrap_err().to_string();
        assert!(msg.contains(unset), "{msg}");
        assert!(msg.contains("not set"), "{msg}");
        assert!(msg.contains("service_account.password_env"), "{msg}");
    }

    #[test]
    fn file_trailing_newline_trimmed() {
        let cases = [
            ("pw\n", "pw"),
            ("pw\r\n", "pw"),
            ("pw\n\n", "pw"),
            ("pw", "pw"),
            (" pw \n", " pw "),
            ("", ""),
        ];
        for (contents, want) in cases {
            let mut f = tempfile::NamedTempFile::new().unwrap();
            f.write_all(contents.as_bytes()).unwrap();
            let sa = ServiceAccount {
                password_file: Some(f.path().to_path_buf()),
                ..account()
            };
            assert_eq!(sa.resolve_password().unwrap(), want, "{contents:?}");
        }
    }

    #[test]
    fn file_errors_name_the_file_not_the_secret() {
        let missing = PathBuf::from("/nonexistent/grproxy-test/pw");
        let sa = ServiceAccount {
            password_file: Some(missing.clone()),
            ..account()
        };
        let msg = sa.resolve_password().unwrap_err().to_string();
        assert!(msg.contains("/nonexistent/grproxy-test/pw"), "{msg}");
        assert!(msg.contains("service_account.password_file"), "{msg}");

        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(b"top\xffsecret").unwrap();
        let sa = ServiceAccount {
            password_file: Some(f.path().to_path_buf()),
            ..account()
        };
        let msg = sa.resolve_password().unwrap_err().to_string();
        assert!(msg.contains("not valid UTF-8"), "{msg}");
        assert!(!msg.contains("secret"), "{msg}");
    }

    #[test]
    fn two_sources_rejected_at_resolve_time() {
        let sa = ServiceAccount {
            password: Some("inline-secret".into()),
            password_env: Some("X".into()),
            ..account()
        };
        let msg = sa.resolve_password().unwrap_err().to_string();
        assert!(msg.contains("only one of"), "{msg}");
        assert!(!msg.contains("inline-secret"), "{msg}");
    }
}
