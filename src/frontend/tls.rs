//! TLS for client connections (rustls, ring provider): from PEM files, or a self-signed
//! certificate generated at startup when none is configured. The certificate sits in a
//! [`CertSlot`] so that SIGHUP can replace it (rotated files) without a restart: handshakes
//! after the swap get the new one, sessions already in TLS keep theirs.

use std::path::Path;
use std::sync::{Arc, RwLock};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    Disabled,
    Preferred,
    Required,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("reading {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{0}: no certificate found")]
    NoCert(String),
    #[error("{0}: no private key found")]
    NoKey(String),
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("generating a self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The certificate offered to clients; replaceable while the proxy runs.
#[derive(Debug)]
pub struct CertSlot {
    current: RwLock<Arc<CertifiedKey>>,
}

impl CertSlot {
    /// Replaces the certificate; true when it differs from the one in use.
    pub fn replace(&self, key: CertifiedKey) -> bool {
        let mut current = self.current.write().unwrap();
        let changed = current.cert != key.cert;
        *current = Arc::new(key);
        changed
    }

    /// The end-entity certificate in use (DER).
    pub fn end_entity(&self) -> Vec<u8> {
        let current = self.current.read().unwrap();
        current.cert.first().map(|c| c.to_vec()).unwrap_or_default()
    }
}

impl ResolvesServerCert for CertSlot {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.read().unwrap().clone())
    }
}

/// A server TLS configuration whose certificate can be replaced.
#[derive(Debug, Clone)]
pub struct ClientTls {
    pub config: Arc<ServerConfig>,
    pub cert: Arc<CertSlot>,
}

impl ClientTls {
    fn new(key: CertifiedKey) -> Result<Self, TlsError> {
        let cert = Arc::new(CertSlot {
            current: RwLock::new(Arc::new(key)),
        });
        let config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(cert.clone());
        Ok(Self {
            config: Arc::new(config),
            cert,
        })
    }

    /// Loads `cert` and `key` again (after a rotation) into the running configuration; true
    /// when the certificate changed. On an error the certificate in use stays.
    pub fn reload(&self, cert: &Path, key: &Path) -> Result<bool, TlsError> {
        Ok(self.cert.replace(load_pem_files(cert, key)?))
    }
}

/// Reads a certificate chain and its key from PEM files and checks that they belong together.
fn load_pem_files(cert: &Path, key: &Path) -> Result<CertifiedKey, TlsError> {
    let read = |p: &Path| {
        std::fs::read(p).map_err(|source| TlsError::Read {
            path: p.display().to_string(),
            source,
        })
    };
    let cert_pem = read(cert)?;
    let key_pem = read(key)?;
    let certs: Vec<_> = rustls_pemfile::certs(&mut &cert_pem[..])
        .collect::<Result<_, _>>()
        .map_err(|source| TlsError::Read {
            path: cert.display().to_string(),
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCert(cert.display().to_string()));
    }
    let key = rustls_pemfile::private_key(&mut &key_pem[..])
        .map_err(|source| TlsError::Read {
            path: key.display().to_string(),
            source,
        })?
        .ok_or_else(|| TlsError::NoKey(key.display().to_string()))?;
    Ok(CertifiedKey::from_der(certs, key, &provider())?)
}

/// Loads a certificate chain and key from PEM files.
pub fn from_pem_files(cert: &Path, key: &Path) -> Result<ClientTls, TlsError> {
    ClientTls::new(load_pem_files(cert, key)?)
}

/// A self-signed certificate for `localhost`, `127.0.0.1` and `::1`.
pub fn self_signed() -> Result<ClientTls, TlsError> {
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()];
    let ck = rcgen::generate_simple_self_signed(names)?;
    let cert = CertificateDer::from(ck.cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.key_pair.serialize_der()));
    ClientTls::new(CertifiedKey::from_der(vec![cert], key, &provider())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_pair(dir: &Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
        let ck = rcgen::generate_simple_self_signed(vec![name.to_string()]).unwrap();
        let (c, k) = (dir.join(format!("{name}.crt")), dir.join(format!("{name}.key")));
        std::fs::write(&c, ck.cert.pem()).unwrap();
        std::fs::write(&k, ck.key_pair.serialize_pem()).unwrap();
        (c, k)
    }

    /// A reload swaps the certificate the resolver hands out, reports whether it changed, and
    /// keeps the old one when the new files are unusable.
    #[test]
    fn reload_replaces_the_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let (c1, k1) = write_pair(dir.path(), "one");
        let (c2, k2) = write_pair(dir.path(), "two");
        let tls = from_pem_files(&c1, &k1).unwrap();
        let first = tls.cert.end_entity();
        assert!(!tls.reload(&c1, &k1).unwrap(), "same files: unchanged");
        assert!(tls.reload(&c2, &k2).unwrap());
        let second = tls.cert.end_entity();
        assert_ne!(first, second);
        // A key that does not match the certificate is refused; the certificate stays.
        let e = tls.reload(&c1, &k2).unwrap_err();
        assert!(matches!(e, TlsError::Rustls(_)), "{e}");
        assert_eq!(tls.cert.end_entity(), second);
        let e = tls.reload(&dir.path().join("missing.crt"), &k1).unwrap_err();
        assert!(e.to_string().contains("missing.crt"), "{e}");
    }
}
