//! Misbehaving servers on loopback — TSAs, webhook receivers: a tiny HTTP/1.1 server whose
//! answer to each request body is chosen by the test (a good token, a wrong nonce, garbage,
//! silence, an error status...).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

/// What the fake answers.
pub enum Reply {
    /// 200 with this body.
    Body(Vec<u8>),
    /// 200 with this body, after a pause.
    After(Duration, Vec<u8>),
    /// Read the request, then say nothing until the client gives up.
    Hang,
    /// This status with this body.
    Status(u16, Vec<u8>),
}

/// A running fake; it lives as long as the test process.
pub struct FakeTsa {
    /// Its URL.
    pub url: String,
}

/// Serve `handler` on 127.0.0.1 on a free port.
pub fn serve(handler: impl Fn(&[u8]) -> Reply + Send + Sync + 'static) -> FakeTsa {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/tsa", listener.local_addr().unwrap());
    let handler = Arc::new(handler);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let handler = Arc::clone(&handler);
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0u8; length];
                if reader.read_exact(&mut body).is_err() {
                    return;
                }
                let mut stream = stream;
                let (status, reply) = match handler(&body) {
                    Reply::Body(bytes) => (200, bytes),
                    Reply::After(pause, bytes) => {
                        std::thread::sleep(pause);
                        (200, bytes)
                    }
                    Reply::Hang => {
                        std::thread::sleep(Duration::from_secs(60));
                        return;
                    }
                    Reply::Status(status, bytes) => (status, bytes),
                };
                let head = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/timestamp-reply\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    reply.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&reply);
            });
        }
    });
    FakeTsa { url }
}
