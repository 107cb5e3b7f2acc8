//! The durable outbox, attacked with kill -9: a session ends, the first webhook attempt fails
//! (the eService answers 500), the daemon is killed, and a new daemon on the same store
//! delivers it. Every attempt carries the same body and the same `X-Esignd-Delivery-Id`, so the
//! receiver can drop duplicates; the audit records the delivery.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::daemon::Daemon;
use common::eservices::{clients_toml, new_session};
use common::{TokenDir, binding_cookie, http_full, http_with, text};

/// A delivery as the receiver saw it.
#[derive(Clone, Debug)]
struct Seen {
    delivery_id: String,
    body: String,
}

/// A webhook receiver that answers 500 to the first `failures` deliveries and 200 after.
fn receiver(failures: usize) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/webhook", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorded = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let (mut length, mut delivery_id) = (0, String::new());
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let (name, value) = line.split_once(':').unwrap_or((&line, ""));
                match name.to_ascii_lowercase().as_str() {
                    "content-length" => length = value.trim().parse().unwrap_or(0),
                    "x-esignd-delivery-id" => delivery_id = value.trim().to_owned(),
                    _ => {}
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            let mut seen = recorded.lock().unwrap();
            seen.push(Seen { delivery_id, body: String::from_utf8_lossy(&body).into_owned() });
            let status = if seen.len() <= failures { "500 Internal Server Error" } else { "200 OK" };
            let _ = stream
                .write_all(format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").as_bytes());
        }
    });
    (url, seen)
}

#[test]
fn a_webhook_whose_daemon_was_killed_is_delivered_by_the_next_one() {
    let (url, seen) = receiver(1);
    let token = TokenDir::new();
    let config = std::fs::read_to_string(token.config()).unwrap()
        + &clients_toml(&url)
        + "\n[webhooks]\nattempts = 5\nfirst_retry_ms = 2000\n";
    std::fs::write(token.config(), config).unwrap();
    let mut first = Daemon::start(&token);
    let addr = first.listening_on();

    // A session, cancelled by the citizen on the page: it ends, and its webhook is queued.
    let body = new_session("outbox-1", serde_json::json!({})).to_string();
    let headers = [("Content-Type", "application/json"), ("apikey", "key-a")];
    let (status, created) = http_with(addr, "POST", "/v1/sessions", &headers, body.as_bytes());
    assert_eq!(status, 201, "{}", text(&created));
    let created: serde_json::Value = serde_json::from_slice(&created).unwrap();
    let page = created["redirectUrl"].as_str().unwrap();
    let page = &page[page.find("/sign/").unwrap()..];
    let cookie = binding_cookie(addr, page);
    let token_param = page.split("token=").nth(1).unwrap();
    let origin = format!("http://{addr}");
    let form = [
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Cookie", cookie.as_str()),
        ("Origin", origin.as_str()),
    ];
    let (status, _, back) =
        http_full(addr, "POST", "/sign/interactive/cancel", &form, format!("token={token_param}").as_bytes());
    assert_eq!(status, 303, "{back:?}");
    // The first attempt was made (and refused) before the browser was sent back.
    assert_eq!(seen.lock().unwrap().len(), 1, "one attempt before the redirect");

    // Killed before its retry (2 s later): the delivery stays in the store.
    first.signal("KILL");
    first.wait_exit();
    let mut second = Daemon::start(&token);
    second.listening_on();
    let deadline = Instant::now() + Duration::from_secs(20);
    while seen.lock().unwrap().len() < 2 {
        assert!(Instant::now() < deadline, "the next daemon did not deliver: {:?}", seen.lock().unwrap());
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "delivered once after the refusal, not again: {seen:?}");
    assert_eq!(seen[0].delivery_id.len(), 32, "{seen:?}");
    assert_eq!(seen[0].delivery_id, seen[1].delivery_id, "one delivery id across attempts and daemons");
    assert_eq!(seen[0].body, seen[1].body, "the body sealed once is sent again");
    assert!(seen[0].body.split('.').count() == 3, "a compact JWS: {}", seen[0].body);

    // Delivered: the outbox is empty and the audit says so, once.
    second.signal("TERM");
    assert_eq!(second.wait_exit(), Some(0));
    let db = token.path("esignd.db");
    let left = text(&common::audit::sqlite(&db, "SELECT count(*) FROM outbox").stdout);
    assert_eq!(left.trim(), "0");
    let delivered = common::audit::types(&db, &[]).iter().filter(|t| *t == "webhook.delivered").count();
    assert_eq!(delivered, 1);
}
