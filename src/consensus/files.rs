//! Small crc-framed files (`crc32 LE | bincode(value)`) replaced atomically: write a temp
//! file, fsync it, rename it over the old one, fsync the directory.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;

fn io_err(msg: impl Into<String>) -> io::Error {
    io::Error::other(msg.into())
}

/// Reads a `crc32 | body` file and returns the verified body; a missing file is `None`.
pub(crate) fn read_checked(path: &Path) -> io::Result<Option<Vec<u8>>> {
    let mut buf = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if buf.len() < 4 || crc32fast::hash(&buf[4..]) != u32::from_le_bytes(buf[0..4].try_into().unwrap()) {
        return Err(io_err(format!("corrupt file {}", path.display())));
    }
    buf.drain(..4);
    Ok(Some(buf))
}

/// Creates `dir` (and its parents) readable by this user only: the log and snapshots hold
/// row images and statement text.
pub(crate) fn private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
}

/// Opens (creating) a file readable and writable by this user only.
pub(crate) fn private_file() -> fs::OpenOptions {
    use std::os::unix::fs::OpenOptionsExt;
    let mut o = fs::OpenOptions::new();
    o.mode(0o600);
    o
}

/// Replaces `dir/name` with `crc32 | body`: write tmp, (fsync), rename, (fsync dir).
pub(crate) fn write_checked(dir: &Path, name: &str, body: &[u8], durable: bool) -> io::Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    {
        let mut f = private_file().create(true).write(true).truncate(true).open(&tmp)?;
        f.write_all(&crc32fast::hash(body).to_le_bytes())?;
        f.write_all(body)?;
        if durable {
            f.sync_all()?;
        }
    }
    fs::rename(&tmp, dir.join(name))?;
    if durable {
        sync_dir(dir)?;
    }
    Ok(())
}

/// Reads a `crc32 | bincode(T)` file; a missing file is `None`.
pub(crate) fn read_small<T: DeserializeOwned>(path: &Path) -> io::Result<Option<T>> {
    match read_checked(path)? {
        None => Ok(None),
        Some(body) => bincode::deserialize(&body)
            .map(Some)
            .map_err(|e| io_err(format!("decode {}: {e}", path.display()))),
    }
}

/// Replaces `dir/name` with `crc32 | bincode(value)` atomically (see [`write_checked`]).
pub(crate) fn write_small<T: Serialize>(dir: &Path, name: &str, value: &T, durable: bool) -> io::Result<()> {
    let body = bincode::serialize(value).map_err(|e| io_err(e.to_string()))?;
    write_checked(dir, name, &body, durable)
}

pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}
