//! Certificates for the peer links of a sandbox or a test group: a group CA and one
//! certificate per member naming `member-<id>.grproxy` (see `consensus::peer_tls`).
//! ECDSA P-256 keys, valid from 1975 to 4096 (rcgen's defaults): fine for a sandbox, not
//! for production (docs/security-peers.md shows how to make real ones).

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose};

use crate::consensus::{member_name, PeerTls, PeerTlsError};

/// A group CA that can sign member certificates.
pub struct GroupCa {
    cert_pem: String,
    key: KeyPair,
    /// The CA as rcgen's issuer (only its name, key usages and key are used for signing).
    issuer: rcgen::Certificate,
}

/// A member's certificate and private key, PEM.
pub struct MemberCert {
    pub cert_pem: String,
    pub key_pem: String,
}

/// Where a member's peer TLS files are (the `group.tls` keys).
#[derive(Debug, Clone)]
pub struct PeerTlsFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl PeerTlsFiles {
    /// Loads the files.
    pub fn load(&self) -> Result<PeerTls, PeerTlsError> {
        PeerTls::from_pem_files(&self.ca, &self.cert, &self.key)
    }
}

fn ca_params(name: &str) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name.push(DnType::CommonName, name);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p
}

const CA_NAME: &str = "grproxy sandbox group CA";

impl GroupCa {
    /// A new CA.
    pub fn generate() -> Result<GroupCa, rcgen::Error> {
        Self::generate_named(CA_NAME)
    }

    /// A new CA with the given common name (tests make a second, foreign CA).
    pub fn generate_named(name: &str) -> Result<GroupCa, rcgen::Error> {
        let key = KeyPair::generate()?;
        let issuer = ca_params(name).self_signed(&key)?;
        Ok(GroupCa {
            cert_pem: issuer.pem(),
            key,
            issuer,
        })
    }

    /// The CA written earlier by [`GroupCa::write`] (so members added later chain to it).
    pub fn load(cert_pem: String, key_pem: &str) -> Result<GroupCa, rcgen::Error> {
        let key = KeyPair::from_pem(key_pem)?;
        // Signing needs only the CA's name and key: a re-made certificate with the same name
        // and key issues certificates that chain to the original one.
        let issuer = ca_params(CA_NAME).self_signed(&key)?;
        Ok(GroupCa { cert_pem, key, issuer })
    }

    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    pub fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }

    /// A certificate for member `id`.
    pub fn member(&self, id: u64) -> Result<MemberCert, rcgen::Error> {
        self.leaf(&member_name(id), vec![member_name(id)])
    }

    /// A certificate with common name `cn` and these DNS names (tests: impostors).
    pub fn leaf(&self, cn: &str, dns_names: Vec<String>) -> Result<MemberCert, rcgen::Error> {
        let mut p = CertificateParams::new(dns_names)?;
        p.distinguished_name = rcgen::DistinguishedName::new();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
        let key = KeyPair::generate()?;
        let cert = p.signed_by(&key, &self.issuer, &self.key)?;
        Ok(MemberCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// Member `id`'s TLS material, in memory.
    pub fn peer_tls(&self, id: u64) -> Result<PeerTls, anyhow::Error> {
        let m = self.member(id)?;
        Ok(PeerTls::from_pem(&self.cert_pem, &m.cert_pem, &m.key_pem)?)
    }

    /// Writes `ca.pem` and `ca-key.pem` (0600) into `dir`.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        write_private(&dir.join("ca.pem"), &self.cert_pem)?;
        write_private(&dir.join("ca-key.pem"), &self.key_pem())
    }

    /// Reads the CA [`GroupCa::write`] left in `dir`, if any.
    pub fn read(dir: &Path) -> anyhow::Result<Option<GroupCa>> {
        let (cert, key) = (dir.join("ca.pem"), dir.join("ca-key.pem"));
        if !cert.exists() || !key.exists() {
            return Ok(None);
        }
        let ca = GroupCa::load(std::fs::read_to_string(cert)?, &std::fs::read_to_string(key)?)?;
        Ok(Some(ca))
    }

    /// Writes member `id`'s peer TLS files into `dir` (`peer-ca.pem`, `peer-cert.pem`,
    /// `peer-key.pem`, all 0600) and returns their paths.
    pub fn write_member(&self, id: u64, dir: &Path) -> anyhow::Result<PeerTlsFiles> {
        let m = self.member(id)?;
        let files = PeerTlsFiles {
            ca: dir.join("peer-ca.pem"),
            cert: dir.join("peer-cert.pem"),
            key: dir.join("peer-key.pem"),
        };
        write_private(&files.ca, &self.cert_pem)?;
        write_private(&files.cert, &m.cert_pem)?;
        write_private(&files.key, &m.key_pem)?;
        Ok(files)
    }
}

/// Writes `text` to `path`, readable and writable by this user only.
pub(crate) fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // An existing file keeps its mode on open: set it.
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    f.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reloaded_ca_signs_certificates_that_chain_to_the_original() {
        let dir = tempfile::tempdir().unwrap();
        let ca = GroupCa::generate().unwrap();
        ca.write(dir.path()).unwrap();
        let again = GroupCa::read(dir.path()).unwrap().unwrap();
        assert_eq!(again.cert_pem(), ca.cert_pem());
        let files = again.write_member(2, dir.path()).unwrap();
        use std::os::unix::fs::PermissionsExt;
        for p in [&files.ca, &files.cert, &files.key, &dir.path().join("ca-key.pem")] {
            let mode = std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", p.display());
        }
        let tls = files.load().unwrap();
        // Member 2's context accepts its own certificate, which checks the chain to the CA.
        crate::consensus::peer_tls::PeerTlsContext::new(2, [1, 2, 3], &tls).expect("chains to the original CA");
        // ... and refuses to run as member 3 with it.
        let e = crate::consensus::peer_tls::PeerTlsContext::new(3, [1, 2, 3], &tls)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("names member 2"), "{e}");
    }
}
