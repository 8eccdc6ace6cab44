//! An HTTP endpoint that answers every request with 200 and records each request's head:
//! what the AWS emulator does not check (an `ExpectedBucketOwner` header, for one) is read
//! off the request itself.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The heads (request line and headers, lower-cased) of the requests received, in order.
pub type Heads = Arc<Mutex<Vec<String>>>;

/// Starts the endpoint on a free local port; returns its URL and the heads it records.
pub async fn start() -> (String, Heads) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a local port");
    let endpoint = format!("http://{}", listener.local_addr().expect("a local address"));
    let heads = Heads::default();
    let recorded = heads.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(serve(socket, recorded.clone()));
        }
    });
    (endpoint, heads)
}

/// Answers the requests of one connection until the client closes it.
async fn serve(mut socket: TcpStream, heads: Heads) {
    let mut pending = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") else {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => pending.extend_from_slice(&buf[..n]),
            }
            continue;
        };
        let head = String::from_utf8_lossy(&pending[..end]).to_ascii_lowercase();
        let body = content_length(&head);
        while pending.len() < end + 4 + body {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => pending.extend_from_slice(&buf[..n]),
            }
        }
        pending.drain(..end + 4 + body);
        heads.lock().expect("heads lock").push(head);
        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        if socket.write_all(answer).await.is_err() {
            return;
        }
    }
}

fn content_length(head: &str) -> usize {
    head.lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0)
}
