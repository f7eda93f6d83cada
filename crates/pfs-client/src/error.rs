//! The error type every call returns.

use pfs_wire::{ErrorReply, Guid};

/// A shorthand for results whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a call failed.
///
/// No variant ever carries the session id (`suid`), a passphrase or a linkage key, so errors
/// are safe to log and to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The server answered with a PFS `Error` body (normally with HTTP 200).
    #[error(
        "PFS error {code}: {user_friendly_message}{}",
        technical_suffix(technical_message)
    )]
    Pfs {
        /// `errorCode`, e.g. `9`; see [`pfs_wire::codes`].
        code: String,
        /// `userFriendlyMessage`: text meant for the patient.
        user_friendly_message: String,
        /// `technicalMessage`: diagnostic text for developers.
        technical_message: String,
        /// `uuid`: normally the echo of the request's `uuid`.
        uuid: Option<Guid>,
    },
    /// The server answered with a non-2xx status and no PFS `Error` body.
    #[error("the server answered HTTP {status} without a PFS Error body")]
    Http {
        /// The HTTP status code.
        status: u16,
    },
    /// Connecting, the TLS handshake or the HTTP exchange failed (including the connect
    /// timeout); the text includes the underlying causes. When connecting or the handshake
    /// failed, the request was not sent and is retried whatever it does (see
    /// [`RetryPolicy`](crate::RetryPolicy)); otherwise only reads and idempotent requests are.
    #[error("transport error: {0}")]
    Transport(String),
    /// An attempt (connect, send and read the reply) took longer than the timeout of the call
    /// ([`ClientBuilder::timeout`](crate::ClientBuilder::timeout),
    /// [`Client::with_timeout`](crate::Client::with_timeout)). The request may have been
    /// processed.
    #[error("the request timed out")]
    Timeout,
    /// The reply could not be decoded as the expected message (wrong root element, missing
    /// or malformed attributes, not UTF-8, …).
    #[error("unexpected reply: {0}")]
    UnexpectedReply(String),
    /// The client is misconfigured (bad endpoint, unreadable PEM, missing application, …).
    #[error("configuration error: {0}")]
    Config(String),
}

fn technical_suffix(technical_message: &str) -> String {
    if technical_message.is_empty() {
        String::new()
    } else {
        format!(" ({technical_message})")
    }
}

impl Error {
    /// The PFS `errorCode` when this is a [`Error::Pfs`], otherwise `None`.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Pfs { code, .. } => Some(code),
            _ => None,
        }
    }
}

impl Error {
    /// The variant's name in `snake_case` (`pfs`, `http`, `transport`, `timeout`,
    /// `unexpected_reply`, `config`): the `outcome` of a failed call's `pfs.call` span.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Pfs { .. } => "pfs",
            Error::Http { .. } => "http",
            Error::Transport(_) => "transport",
            Error::Timeout => "timeout",
            Error::UnexpectedReply(_) => "unexpected_reply",
            Error::Config(_) => "config",
        }
    }
}

impl From<ErrorReply> for Error {
    fn from(e: ErrorReply) -> Self {
        Error::Pfs {
            code: e.error_code,
            user_friendly_message: e.user_friendly_message,
            technical_message: e.technical_message,
            uuid: e.uuid,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_and_display() {
        let e = Error::from(ErrorReply {
            error_code: "6".into(),
            user_friendly_message: "No access".into(),
            technical_message: "Service disabled".into(),
            uuid: None,
        });
        assert_eq!(e.code(), Some("6"));
        assert_eq!(e.to_string(), "PFS error 6: No access (Service disabled)");
        let e = Error::Pfs {
            code: "3".into(),
            user_friendly_message: "Log in again".into(),
            technical_message: String::new(),
            uuid: None,
        };
        assert_eq!(e.to_string(), "PFS error 3: Log in again");
        assert_eq!(Error::Timeout.code(), None);
        assert_eq!(Error::Http { status: 502 }.code(), None);
    }
}
