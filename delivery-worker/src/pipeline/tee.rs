//! One read of a staged object feeding several targets.
//!
//! An object whose tenant has both a CloudWatch and an S3 target is fetched once: the
//! staging body's chunks are handed, shared (`Bytes` clones, no copy), to one bounded
//! channel per target, each of which the target's sink reads as its own body. What this
//! keeps true:
//!
//! - **bounded memory**: a reader at most [`CHUNKS_AHEAD`] chunks ahead of the slowest
//!   waits for it, so an object in flight holds a few chunks however large it is;
//! - **independence**: a target that stops reading (its delivery failed) drops its body
//!   and the others read on; once every body is dropped the read stops;
//! - **no silent truncation**: a failed read of the staged object reaches every body as
//!   an I/O error (retriable, as a failed read of a body of its own would be), and each
//!   body reports the object's exact length, which the S3 copy's upload needs.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_types::error::display::DisplayErrorContext;
use bytes::Bytes;
use futures_util::future::join_all;
use http_body::{Body, Frame, SizeHint};
use tokio::sync::mpsc;

/// Chunks buffered per body ahead of its reader (staging chunks are 8–64 KiB).
pub const CHUNKS_AHEAD: usize = 8;

/// Splits `source` (of `length` bytes, when known) into `readers` bodies that each yield
/// every byte of it, and the future that copies it into them. The future must be polled
/// alongside the bodies' readers (it ends when the source does, or when every body is
/// dropped).
pub fn tee(
    source: ByteStream,
    length: Option<u64>,
    readers: usize,
) -> (Vec<ByteStream>, impl std::future::Future<Output = ()> + Send) {
    let (senders, bodies): (Vec<_>, Vec<_>) = (0..readers)
        .map(|_| {
            let (tx, rx) = mpsc::channel(CHUNKS_AHEAD);
            let body = SharedBody {
                chunks: rx,
                remaining: length,
            };
            (tx, ByteStream::from_body_1_x(body))
        })
        .unzip();
    (bodies, copy(source, senders))
}

/// Copies `source` chunk by chunk into every live sender.
async fn copy(mut source: ByteStream, mut senders: Vec<mpsc::Sender<io::Result<Bytes>>>) {
    loop {
        let chunk = match source.next().await {
            Some(Ok(chunk)) => chunk,
            Some(Err(err)) => {
                let message = format!("reading the staged object: {}", DisplayErrorContext(&err));
                for tx in &senders {
                    // A body whose reader is gone needs no error.
                    let _ = tx.send(Err(io::Error::other(message.clone()))).await;
                }
                return;
            }
            None => return,
        };
        let sent = join_all(senders.iter().map(|tx| tx.send(Ok(chunk.clone())))).await;
        let mut live = sent.iter().map(Result::is_ok);
        senders.retain(|_| live.next().unwrap_or(false));
        if senders.is_empty() {
            return;
        }
    }
}

/// One reader's share of the object: the chunks its channel receives.
struct SharedBody {
    chunks: mpsc::Receiver<io::Result<Bytes>>,
    remaining: Option<u64>,
}

impl Body for SharedBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match self.chunks.poll_recv(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                if let Some(remaining) = self.remaining.as_mut() {
                    *remaining = remaining.saturating_sub(chunk.len() as u64);
                }
                Poll::Ready(Some(Ok(Frame::data(chunk))))
            }
            Poll::Ready(Some(Err(err))) => Poll::Ready(Some(Err(err))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn size_hint(&self) -> SizeHint {
        self.remaining
            .map_or_else(SizeHint::default, SizeHint::with_exact)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source yielding `chunks`, then `error` if given.
    fn source(chunks: Vec<&'static [u8]>, error: bool) -> ByteStream {
        let (tx, rx) = mpsc::channel(chunks.len() + 1);
        for chunk in chunks {
            tx.try_send(Ok(Bytes::from_static(chunk))).unwrap();
        }
        if error {
            tx.try_send(Err(io::Error::other("connection reset"))).unwrap();
        }
        ByteStream::from_body_1_x(SharedBody {
            chunks: rx,
            remaining: None,
        })
    }

    async fn read_all(mut body: ByteStream) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| io::Error::other(DisplayErrorContext(&e).to_string()))?;
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }

    #[tokio::test]
    async fn every_reader_gets_every_byte_with_the_exact_length() {
        let chunks: Vec<&'static [u8]> = vec![b"hello ", b"shared ", b"world"];
        let (bodies, copying) = tee(source(chunks, false), Some(18), 2);
        assert!(bodies.iter().all(|b| b.size_hint() == (18, Some(18))));
        let (_, read) = tokio::join!(copying, join_all(bodies.into_iter().map(read_all)));
        for body in read {
            assert_eq!(body.unwrap(), b"hello shared world");
        }
    }

    #[tokio::test]
    async fn a_reader_that_stops_does_not_stop_the_others() {
        // More chunks than the channels buffer: the copy must notice the dropped body.
        let chunks: Vec<&'static [u8]> = vec![b"x"; CHUNKS_AHEAD * 4];
        let (mut bodies, copying) = tee(source(chunks, false), None, 2);
        drop(bodies.pop());
        let body = bodies.pop().unwrap();
        let (_, read) = tokio::join!(copying, read_all(body));
        assert_eq!(read.unwrap().len(), CHUNKS_AHEAD * 4);
    }

    #[tokio::test]
    async fn a_failed_read_of_the_source_reaches_every_reader() {
        let (bodies, copying) = tee(source(vec![b"partial"], true), Some(100), 2);
        let (_, read) = tokio::join!(copying, join_all(bodies.into_iter().map(read_all)));
        for body in read {
            let err = body.unwrap_err();
            assert!(err.to_string().contains("connection reset"), "{err}");
        }
    }

    #[tokio::test]
    async fn the_copy_ends_once_every_reader_is_gone() {
        let chunks: Vec<&'static [u8]> = vec![b"x"; CHUNKS_AHEAD * 4];
        let (bodies, copying) = tee(source(chunks, false), None, 3);
        drop(bodies);
        tokio::time::timeout(std::time::Duration::from_secs(5), copying)
            .await
            .expect("the copy kept reading for nobody");
    }
}
