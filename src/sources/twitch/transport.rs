//! The byte stream of one Twitch IRC connection: TCP or TLS, boxed, so the session, the reader and
//! the writer half the serving loop uses share one type whatever the connection is.

use tokio::io::{AsyncRead, AsyncWrite};

/// Anything readable and writable: a TCP stream or a TLS stream over one.
pub trait Transport: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Transport for T {}
