//! Mutual TLS on peer links (rustls, ring provider, TLS 1.3 only).
//!
//! Every member holds a certificate signed by the group's CA whose DNS subject alternative
//! name is `member-<id>.grproxy` ([`member_name`]). A connection is accepted only when the
//! client's certificate chains to the CA and names exactly one configured member; that member
//! id is then the connection's identity, and the server refuses requests made in another
//! member's name (see `server`). The client checks that the server's certificate chains to the
//! CA and names the member it dialed (the TLS server name is `member-<dialed id>.grproxy`) and
//! no other member. Addresses play no part: a member may be reached through a relay or NAT.
//!
//! Session resumption is off: every connection runs a full handshake and certificate check
//! (peer connections are long-lived, so this costs nothing measurable).

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{NoServerSessionStorage, ParsedCertificate, WebPkiClientVerifier};
use rustls::{ClientConfig, DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig, SignatureScheme};

use crate::consensus::types::NodeId;

/// The DNS name a member's certificate carries: `member-<id>.grproxy`.
pub fn member_name(id: NodeId) -> String {
    format!("member-{id}.grproxy")
}

/// How peer links are secured.
#[derive(Clone, Debug)]
pub enum PeerSecurity {
    /// Mutual TLS with member certificates (the only production setting).
    Tls(PeerTls),
    /// Plain TCP, no authentication: anyone who reaches the peer port can forge Raft messages
    /// and put statements into the log. Only the transport's unit tests build it; no
    /// configuration can (a `group:` without `tls:` is refused).
    InsecurePlaintext,
}

/// A member's TLS material: the group CA, its certificate chain and private key.
pub struct PeerTls {
    ca: Vec<CertificateDer<'static>>,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl Clone for PeerTls {
    fn clone(&self) -> Self {
        PeerTls {
            ca: self.ca.clone(),
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl std::fmt::Debug for PeerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerTls")
            .field("ca_certs", &self.ca.len())
            .field("chain_certs", &self.chain.len())
            .field("key", &"<redacted>")
            .finish()
    }
}

/// Errors of loading or using peer TLS material.
#[derive(Debug, thiserror::Error)]
pub enum PeerTlsError {
    #[error("reading {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{0}: no certificate found")]
    NoCert(String),
    #[error("{0}: no private key found")]
    NoKey(String),
    #[error("{what}: {reason}")]
    Invalid { what: String, reason: String },
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

impl PeerTls {
    /// Loads the CA certificate(s), this member's certificate chain and its key from PEM files.
    pub fn from_pem_files(ca: &Path, cert: &Path, key: &Path) -> Result<PeerTls, PeerTlsError> {
        let read = |p: &Path| {
            std::fs::read(p).map_err(|source| PeerTlsError::Read {
                path: p.display().to_string(),
                source,
            })
        };
        Self::parse(
            (&read(ca)?, &ca.display().to_string()),
            (&read(cert)?, &cert.display().to_string()),
            (&read(key)?, &key.display().to_string()),
        )
    }

    /// As [`PeerTls::from_pem_files`], from PEM text.
    pub fn from_pem(ca: &str, cert: &str, key: &str) -> Result<PeerTls, PeerTlsError> {
        Self::parse(
            (ca.as_bytes(), "CA PEM"),
            (cert.as_bytes(), "certificate PEM"),
            (key.as_bytes(), "key PEM"),
        )
    }

    fn parse(ca: (&[u8], &str), cert: (&[u8], &str), key: (&[u8], &str)) -> Result<PeerTls, PeerTlsError> {
        let certs = |(pem, name): (&[u8], &str)| -> Result<Vec<CertificateDer<'static>>, PeerTlsError> {
            let v: Vec<_> = rustls_pemfile::certs(&mut &pem[..])
                .collect::<Result<_, _>>()
                .map_err(|source| PeerTlsError::Read {
                    path: name.to_string(),
                    source,
                })?;
            if v.is_empty() {
                return Err(PeerTlsError::NoCert(name.to_string()));
            }
            Ok(v)
        };
        let ca_certs = certs(ca)?;
        let chain = certs(cert)?;
        let k = rustls_pemfile::private_key(&mut &key.0[..])
            .map_err(|source| PeerTlsError::Read {
                path: key.1.to_string(),
                source,
            })?
            .ok_or_else(|| PeerTlsError::NoKey(key.1.to_string()))?;
        Ok(PeerTls {
            ca: ca_certs,
            chain,
            key: k,
        })
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn roots(ca: &[CertificateDer<'static>]) -> Result<Arc<RootCertStore>, PeerTlsError> {
    let mut roots = RootCertStore::empty();
    for c in ca {
        roots.add(c.clone()).map_err(|e| PeerTlsError::Invalid {
            what: "group CA certificate".into(),
            reason: e.to_string(),
        })?;
    }
    Ok(Arc::new(roots))
}

/// The configured members a certificate names (by [`member_name`]).
fn named_members(cert: &CertificateDer<'_>, members: &BTreeSet<NodeId>) -> Result<Vec<NodeId>, rustls::Error> {
    let parsed = ParsedCertificate::try_from(cert)?;
    Ok(members
        .iter()
        .copied()
        .filter(|id| {
            ServerName::try_from(member_name(*id))
                .is_ok_and(|n| rustls::client::verify_server_name(&parsed, &n).is_ok())
        })
        .collect())
}

/// The members a peer may authenticate as: those in this member's config and in the group's
/// current membership (it changes online), shared by the verifiers of one context.
pub(crate) type MemberSet = Arc<std::sync::RwLock<BTreeSet<NodeId>>>;

/// The one member `cert` names, or why it names none or several.
fn the_member(cert: &CertificateDer<'_>, members: &MemberSet) -> Result<NodeId, String> {
    let members = members.read().unwrap_or_else(|e| e.into_inner()).clone();
    match named_members(cert, &members).map_err(|e| e.to_string())?[..] {
        [id] => Ok(id),
        [] => Err(format!(
            "the certificate names no configured member (expected a DNS name member-<id>.grproxy \
             for one of {members:?})"
        )),
        ref several => Err(format!("the certificate names several members: {several:?}")),
    }
}

fn refuse(why: String) -> rustls::Error {
    rustls::Error::InvalidCertificate(rustls::CertificateError::Other(rustls::OtherError(Arc::new(
        std::io::Error::other(why),
    ))))
}

/// Client certificates: chain to the CA (webpki) and name exactly one configured member.
#[derive(Debug)]
struct MemberClientVerifier {
    inner: Arc<dyn ClientCertVerifier>,
    members: MemberSet,
}

impl ClientCertVerifier for MemberClientVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let ok = self.inner.verify_client_cert(end_entity, intermediates, now)?;
        the_member(end_entity, &self.members).map_err(refuse)?;
        Ok(ok)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Server certificates: chain to the CA and carry the dialed member's name (webpki), and name
/// no other member.
#[derive(Debug)]
struct MemberServerVerifier {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
    members: MemberSet,
}

impl ServerCertVerifier for MemberServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let ok = self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)?;
        the_member(end_entity, &self.members).map_err(refuse)?;
        Ok(ok)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Checks that member `me`'s own certificate chains to the CA and names `me` (and no other
/// member), as a server and as a client.
fn check_own(me: NodeId, tls: &PeerTls, members: &MemberSet) -> Result<(), PeerTlsError> {
    let leaf = &tls.chain[0];
    let invalid = |reason: String| PeerTlsError::Invalid {
        what: format!("member {me}'s peer certificate"),
        reason,
    };
    match the_member(leaf, members) {
        Ok(id) if id == me => {}
        Ok(id) => {
            return Err(invalid(format!(
                "it names member {id} ({}), not {}",
                member_name(id),
                member_name(me)
            )))
        }
        Err(e) => return Err(invalid(e)),
    }
    let roots = roots(&tls.ca)?;
    let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(roots.clone(), provider())
        .build()
        .map_err(|e| invalid(e.to_string()))?;
    let name = ServerName::try_from(member_name(me)).map_err(|e| invalid(e.to_string()))?;
    verifier
        .verify_server_cert(leaf, &tls.chain[1..], &name, &[], UnixTime::now())
        .map_err(|e| invalid(format!("it does not verify against the group CA as a server: {e}")))?;
    // Each member is a client of the others too (extendedKeyUsage clientAuth, if any).
    WebPkiClientVerifier::builder_with_provider(roots, provider())
        .build()
        .map_err(|e| invalid(e.to_string()))?
        .verify_client_cert(leaf, &tls.chain[1..], UnixTime::now())
        .map_err(|e| invalid(format!("it does not verify against the group CA as a client: {e}")))?;
    Ok(())
}

/// A member's TLS acceptor and connector for its peer links.
#[derive(Clone)]
pub(crate) struct PeerTlsContext {
    /// This member's acceptor and connector; replaced when its certificate is reloaded (all
    /// clones of the context share them).
    endpoints: Arc<std::sync::RwLock<Endpoints>>,
    members: MemberSet,
}

#[derive(Clone)]
struct Endpoints {
    acceptor: tokio_rustls::TlsAcceptor,
    connector: tokio_rustls::TlsConnector,
    /// The certificate chain and CA they were built from (to tell whether a reload changes
    /// anything).
    source: Vec<Vec<u8>>,
}

fn source_of(tls: &PeerTls) -> Vec<Vec<u8>> {
    tls.chain
        .iter()
        .chain(tls.ca.iter())
        .map(|c| c.as_ref().to_vec())
        .collect()
}

impl PeerTlsContext {
    /// Builds member `me`'s context; its own certificate must chain to the CA and name `me`
    /// (and no other member), so a misconfigured member fails at start-up, not at every peer.
    pub(crate) fn new(
        me: NodeId,
        members: impl IntoIterator<Item = NodeId>,
        tls: &PeerTls,
    ) -> Result<PeerTlsContext, PeerTlsError> {
        let ctx = Self::build(members, tls)?;
        check_own(me, tls, &ctx.members)?;
        Ok(ctx)
    }

    /// As [`PeerTlsContext::new`] without checking the own certificate (tests use it to play
    /// a misconfigured or impostor member).
    pub(crate) fn build(
        members: impl IntoIterator<Item = NodeId>,
        tls: &PeerTls,
    ) -> Result<PeerTlsContext, PeerTlsError> {
        let members: MemberSet = Arc::new(std::sync::RwLock::new(members.into_iter().collect()));
        let endpoints = endpoints(&members, tls)?;
        Ok(PeerTlsContext {
            endpoints: Arc::new(std::sync::RwLock::new(endpoints)),
            members,
        })
    }

    /// Takes a new certificate (and CA) for this member's new peer connections; existing
    /// connections keep theirs. Checked as at start-up; an error changes nothing. False: the
    /// same certificate and CA as in use.
    pub(crate) fn reload(&self, me: NodeId, tls: &PeerTls) -> Result<bool, PeerTlsError> {
        if self.endpoints.read().unwrap_or_else(|e| e.into_inner()).source == source_of(tls) {
            return Ok(false);
        }
        check_own(me, tls, &self.members)?;
        let fresh = endpoints(&self.members, tls)?;
        *self.endpoints.write().unwrap_or_else(|e| e.into_inner()) = fresh;
        Ok(true)
    }

    pub(crate) fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        self.endpoints
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .acceptor
            .clone()
    }

    pub(crate) fn connector(&self) -> tokio_rustls::TlsConnector {
        self.endpoints
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .connector
            .clone()
    }
}

/// The acceptor and connector of a member with certificate `tls`, verifying peers against
/// `members`.
fn endpoints(members: &MemberSet, tls: &PeerTls) -> Result<Endpoints, PeerTlsError> {
    let roots = roots(&tls.ca)?;
    let invalid = |e: &dyn std::fmt::Display| PeerTlsError::Invalid {
        what: "peer TLS verifier".into(),
        reason: e.to_string(),
    };
    let client_verifier = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider())
        .build()
        .map_err(|e| invalid(&e))?;
    let mut server = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(Arc::new(MemberClientVerifier {
            inner: client_verifier,
            members: members.clone(),
        }))
        .with_single_cert(tls.chain.clone(), tls.key.clone_key())?;
    server.session_storage = Arc::new(NoServerSessionStorage {});
    server.send_tls13_tickets = 0;
    let server_verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider())
        .build()
        .map_err(|e| invalid(&e))?;
    let mut client = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(MemberServerVerifier {
            inner: server_verifier,
            members: members.clone(),
        }))
        .with_client_auth_cert(tls.chain.clone(), tls.key.clone_key())?;
    client.resumption = rustls::client::Resumption::disabled();
    Ok(Endpoints {
        acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(server)),
        connector: tokio_rustls::TlsConnector::from(Arc::new(client)),
        source: source_of(tls),
    })
}

impl PeerTlsContext {
    /// Replaces the members peers may authenticate as (this member's config plus the group's
    /// current membership, see `Consensus`).
    pub(crate) fn set_members(&self, ids: BTreeSet<NodeId>) {
        *self.members.write().unwrap_or_else(|e| e.into_inner()) = ids;
    }

    /// Lets `id` authenticate from now on (a member about to be added).
    pub(crate) fn admit(&self, id: NodeId) {
        self.members.write().unwrap_or_else(|e| e.into_inner()).insert(id);
    }

    /// The member an accepted connection authenticated as.
    pub(crate) fn authenticated(&self, conn: &rustls::ServerConnection) -> Result<NodeId, String> {
        let leaf = conn
            .peer_certificates()
            .and_then(|c| c.first())
            .ok_or("no client certificate")?;
        the_member(leaf, &self.members)
    }

    /// The TLS server name under which member `target` is dialed.
    pub(crate) fn server_name(target: NodeId) -> Result<ServerName<'static>, String> {
        ServerName::try_from(member_name(target)).map_err(|e| e.to_string())
    }
}
