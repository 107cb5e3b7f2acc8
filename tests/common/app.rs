//! The in-process tier: the whole app — the service `esignd::app::build` makes from typed
//! configuration, on the in-memory key store (provisioned as `esignctl provision --dev` would)
//! and a temporary SQLite file — driven through the router (`esignd::http::handle`) without
//! sockets. The daemon's own outbound calls still find it: it also serves on a loopback port, so
//! its identity client discovers the demo profile's mock ID provider there, and the tests get
//! ID-provider tokens from `/demo/id-token`. A case runs in milliseconds.

use std::net::SocketAddr;
use std::sync::Arc;

use esignd::config::Config;
use esignd::hsm::KeyStore;
use esignd::hsm::memory::MemoryKeyStore;
use esignd::provision::{DevPlan, provision_dev};
use esignd::service::EsignService;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde_json::Value;

/// A running in-process app.
pub struct App {
    /// The service behind the door.
    pub service: Arc<EsignService>,
    /// Its public URL (a loopback port, for its own outbound calls).
    pub url: String,
    /// The cookies of the browser every call comes from, unless another is named.
    pub browser: Jar,
    dir: tempfile::TempDir,
    server: tokio::task::JoinHandle<()>,
}

/// A browser's cookies: what answers set, sent with its next requests.
#[derive(Default)]
pub struct Jar(std::sync::Mutex<Vec<(String, String)>>);

impl Jar {
    fn header(&self) -> Option<String> {
        let cookies = self.0.lock().unwrap();
        (!cookies.is_empty()).then(|| cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; "))
    }

    fn keep(&self, headers: &hyper::HeaderMap) {
        let mut cookies = self.0.lock().unwrap();
        for set in headers.get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()) {
            let (name, value) = set.split(';').next().unwrap().split_once('=').unwrap();
            cookies.retain(|(k, _)| k != name);
            cookies.push((name.to_owned(), value.to_owned()));
        }
    }
}

/// An answer.
#[derive(Debug)]
pub struct Answer {
    /// Its status.
    pub status: u16,
    /// Its headers.
    pub headers: hyper::HeaderMap,
    /// Its body.
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as JSON (`Null` when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The GovStack error message.
    pub fn message(&self) -> String {
        self.json()["status"]["message"].as_str().unwrap_or_default().to_owned()
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
    }
}

impl App {
    /// The app in the demo profile with `extra` configuration (TOML appended to the file).
    pub async fn start(extra: &str) -> App {
        App::start_with_hsm("", extra).await
    }

    /// As [`App::start`], with `hsm` added to the `[hsm]` table.
    pub async fn start_with_hsm(hsm: &str, extra: &str) -> App {
        let dir = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        std::fs::write(dir.path().join("pin"), "0000\n").unwrap();
        let config_path = dir.path().join("esignd.toml");
        let text = format!(
            "[server]\nlisten = \"{addr}\"\n[hsm]\npin_file = \"pin\"\n{hsm}\n[identity]\nmode = \"mock\"\n[store]\npath = \"esignd.db\"\n{extra}"
        );
        std::fs::write(&config_path, text).unwrap();
        let config = Config::load(Some(&config_path)).unwrap_or_else(|e| panic!("{e}"));
        let keys = MemoryKeyStore::new();
        provision_dev(&keys.session().unwrap(), &config.hsm.keys, &DevPlan::default()).unwrap();
        let service = esignd::app::build(Arc::new(keys), &config).await.unwrap();
        service.ensure_crl().await.unwrap();
        let delivering = Arc::clone(&service);
        tokio::spawn(async move { delivering.deliver_webhooks().await });
        let serving = Arc::clone(&service);
        let server = tokio::spawn(async move {
            let limits = esignd::http::Limits::default();
            esignd::http::serve(
                listener,
                None,
                serving,
                limits,
                std::future::pending(),
                std::time::Duration::from_secs(1),
            )
            .await;
        });
        App { service, url: format!("http://{addr}"), browser: Jar::default(), dir, server }
    }

    /// A file in the app's folder (its store is `esignd.db`).
    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    /// Rows of `table` in the store.
    pub fn rows(&self, table: &str) -> i64 {
        let db = rusqlite::Connection::open(self.path("esignd.db")).unwrap();
        db.query_row(&format!("SELECT count(*) FROM {table}"), [], |row| row.get(0)).unwrap()
    }

    /// One request through the router, from the app's browser.
    pub async fn call(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
        self.call_from(&self.browser, method, path, headers, body).await
    }

    /// One request through the router, from the browser with the cookies in `jar`.
    pub async fn call_from(
        &self,
        jar: &Jar,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Answer {
        self.send(jar, "127.0.0.1:1", method, path, headers, body).await
    }

    /// GET `path` from a client at `peer` (an address the machine may not have: the request
    /// goes straight to the router).
    pub async fn get_from(&self, peer: &str, path: &str) -> Answer {
        self.send(&Jar::default(), peer, "GET", path, &[], b"").await
    }

    async fn send(
        &self,
        jar: &Jar,
        peer: &str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Answer {
        let mut request = hyper::Request::builder().method(method).uri(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(cookies) = jar.header() {
            request = request.header("cookie", cookies);
        }
        let request = request.body(Full::new(Bytes::copy_from_slice(body))).unwrap();
        let peer: SocketAddr = peer.parse().unwrap();
        let response = esignd::http::handle(Arc::clone(&self.service), peer, request).await;
        let (parts, body) = response.into_parts();
        jar.keep(&parts.headers);
        let body = body.collect().await.unwrap().to_bytes().to_vec();
        Answer { status: parts.status.as_u16(), headers: parts.headers, body }
    }

    /// GET `path`.
    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        self.call("GET", path, headers, b"").await
    }

    /// `method` `path` with a JSON body.
    pub async fn json(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &Value) -> Answer {
        let mut all = headers.to_vec();
        all.push(("Content-Type", "application/json"));
        self.call(method, path, &all, body.to_string().as_bytes()).await
    }

    /// POST a signing-page form.
    pub async fn form(&self, path: &str, body: &str) -> Answer {
        self.call("POST", path, &[("Content-Type", "application/x-www-form-urlencoded")], body.as_bytes()).await
    }

    /// An ID-provider access token for device management, for `name` (subject `sub`), from the
    /// demo profile's mock provider; logged in just now.
    pub async fn id_token(&self, name: &str, sub: &str) -> String {
        self.mock_token(name, sub, "").await
    }

    /// As [`App::id_token`], for signing (`POST /v1/sign/onetime`).
    pub async fn signing_token(&self, name: &str, sub: &str) -> String {
        self.mock_token(name, sub, "&for=signing").await
    }

    /// A mock access token with `extra` query parameters (`&for=signing`, `&login_age_secs=`).
    pub async fn mock_token(&self, name: &str, sub: &str, extra: &str) -> String {
        let path = format!("/demo/id-token?name={}&sub={sub}{extra}", name.replace(' ', "+"));
        let answer = self.get(&path, &[]).await;
        assert_eq!(answer.status, 200, "{}", answer.text());
        answer.text().trim().to_owned()
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// `name`'s value in `url`'s query.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    url.split_once('?')?.1.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| v.to_owned())
    })
}
