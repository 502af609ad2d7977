//! TLS to PostgreSQL, for `sslmode=require` (and libpq's `verify-ca` and `verify-full`, which it
//! means here: rustls always verifies the server's certificate and name). The roots are the
//! file `sslrootcert=` (in the URL) or `PGSSLROOTCERT` names, as with libpq (a managed
//! database's own CA); without one, the Mozilla roots (webpki-roots). No channel binding:
//! SCRAM-SHA-256 authenticates, as without TLS.

use postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// What a `--state postgres://…` URL asks of TLS, read off the URL before the driver parses it
/// (the driver knows neither `sslrootcert` nor the `verify-*` modes).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TlsWanted {
    /// `sslmode=require`, `verify-ca` or `verify-full`.
    pub required: bool,
    /// `sslrootcert=FILE` (else `PGSSLROOTCERT`); `system`: the Mozilla roots.
    pub root_file: Option<String>,
    /// Whether the URL says `sslmode` at all (else `PGSSLMODE` may).
    pub mode_given: bool,
}

/// Splits the TLS settings off a URL: the URL the driver reads, and what TLS it asked for.
pub fn tls_settings(url: &str) -> (String, TlsWanted) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_string(), TlsWanted::default());
    };
    let mut wanted = TlsWanted::default();
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "sslrootcert" => wanted.root_file = Some(percent_decoded(value)),
            "sslmode" if matches!(value, "require" | "verify-ca" | "verify-full") => {
                wanted.required = true;
                wanted.mode_given = true;
                kept.push("sslmode=require".to_string());
            }
            // libpq's `allow` tries plain first: plain here (the driver does not know it).
            "sslmode" if value == "allow" => {
                wanted.mode_given = true;
                kept.push("sslmode=disable".to_string());
            }
            "sslmode" => {
                wanted.mode_given = true;
                kept.push(pair.to_string());
            }
            _ => kept.push(pair.to_string()),
        }
    }
    // A CA named in the URL asks for TLS verified by it, whatever the default mode.
    if wanted.root_file.is_some() && !wanted.mode_given {
        wanted.required = true;
    }
    let url = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    (url, wanted)
}

fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let hex = |at: usize| {
            bytes
                .get(at)
                .and_then(|byte| char::from(*byte).to_digit(16))
        };
        match (bytes[index], hex(index + 1), hex(index + 2)) {
            (b'%', Some(high), Some(low)) => {
                out.push(u8::try_from(high * 16 + low).unwrap_or(b'?'));
                index += 3;
            }
            (byte, _, _) => {
                out.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The connector: one rustls configuration for every connection of a store.
#[derive(Clone)]
pub struct MakeTls {
    config: Arc<rustls::ClientConfig>,
}

impl MakeTls {
    /// A connector trusting the roots in `root_file` (PEM), or the Mozilla roots without one.
    pub fn new(root_file: Option<&str>) -> Result<MakeTls, String> {
        let mut roots = rustls::RootCertStore::empty();
        match root_file.filter(|path| *path != "system") {
            Some(path) => {
                let certificates: Vec<CertificateDer<'static>> =
                    CertificateDer::pem_file_iter(path)
                        .map_err(|error| {
                            format!("cannot read the root certificates `{path}`: {error}")
                        })?
                        .collect::<Result<_, _>>()
                        .map_err(|error| format!("`{path}` is not PEM certificates: {error}"))?;
                if certificates.is_empty() {
                    return Err(format!(
                        "`{path}` holds no certificate (PEM, BEGIN CERTIFICATE)"
                    ));
                }
                for certificate in certificates {
                    roots
                        .add(certificate)
                        .map_err(|error| format!("a certificate in `{path}`: {error}"))?;
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|error| format!("TLS: {error}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        Ok(MakeTls {
            config: Arc::new(config),
        })
    }
}

impl<S> MakeTlsConnect<S> for MakeTls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = Tls<S>;
    type TlsConnect = Connect;
    type Error = io::Error;

    fn make_tls_connect(&mut self, domain: &str) -> io::Result<Connect> {
        let name = ServerName::try_from(domain.to_string()).map_err(|error| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("`{domain}` is not a name a certificate can hold: {error}"),
            )
        })?;
        Ok(Connect {
            connector: tokio_rustls::TlsConnector::from(Arc::clone(&self.config)),
            name,
        })
    }
}

/// One connection's handshake.
pub struct Connect {
    connector: tokio_rustls::TlsConnector,
    name: ServerName<'static>,
}

impl<S> TlsConnect<S> for Connect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = Tls<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Tls<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            self.connector
                .connect(self.name, stream)
                .await
                .map(|stream| Tls(Box::new(stream)))
        })
    }
}

/// A connection inside TLS.
pub struct Tls<S>(Box<tokio_rustls::client::TlsStream<S>>);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Tls<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_read(context, buffer)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Tls<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(context, bytes)
    }

    fn poll_flush(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(context)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(context)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for Tls<S> {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_settings_come_off_the_url() {
        assert_eq!(
            tls_settings("postgres://u@h/db"),
            ("postgres://u@h/db".to_string(), TlsWanted::default())
        );
        assert_eq!(
            tls_settings(
                "postgres://u@h/db?sslmode=verify-full&sslrootcert=%2Fetc%2Frds.pem&connect_timeout=3"
            ),
            (
                "postgres://u@h/db?sslmode=require&connect_timeout=3".to_string(),
                TlsWanted {
                    required: true,
                    root_file: Some("/etc/rds.pem".to_string()),
                    mode_given: true,
                }
            )
        );
        assert_eq!(
            tls_settings("postgres://u@h/db?sslmode=disable").1,
            TlsWanted {
                mode_given: true,
                ..TlsWanted::default()
            }
        );
        assert_eq!(
            tls_settings("postgres://u@h/db?sslmode=allow").0,
            "postgres://u@h/db?sslmode=disable"
        );
        // A CA alone asks for TLS.
        assert!(
            tls_settings("postgres://u@h/db?sslrootcert=/ca.pem")
                .1
                .required
        );
    }

    #[test]
    fn a_missing_root_file_is_named() {
        let error = MakeTls::new(Some("/nonexistent/ca.pem"))
            .err()
            .unwrap_or_default();
        assert!(error.contains("/nonexistent/ca.pem"), "{error}");
        assert!(MakeTls::new(None).is_ok());
    }
}
