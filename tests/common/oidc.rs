//! The real OpenID provider of the tests: `oidc-provider` from npm (tests/oidc, installed by
//! tests/run.sh with `npm ci`), started per test on a free loopback port.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A running provider; stopped when dropped.
pub struct Provider {
    child: Child,
    /// Its issuer URL.
    pub issuer: String,
    state: tempfile::TempDir,
}

fn oidc_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc")
}

impl Provider {
    /// Start the provider; `redirect_uris` are esignd's callback URLs (for the browser flow).
    pub fn start(redirect_uris: &[&str]) -> Self {
        Self::start_with(redirect_uris, None)
    }

    /// As [`Provider::start`]; with `jwks_uri`, esignd's client authenticates with
    /// `private_key_jwt` against the keys published there.
    pub fn start_with(redirect_uris: &[&str], jwks_uri: Option<&str>) -> Self {
        assert!(
            oidc_dir().join("node_modules/oidc-provider").is_dir(),
            "tests/oidc/node_modules is missing: run tests/run.sh (it runs npm ci there)"
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let state = tempfile::tempdir().unwrap();
        let mut child = Command::new("node")
            .current_dir(oidc_dir())
            .arg("provider.mjs")
            .arg(port.to_string())
            .arg(state.path())
            .env("ESIGND_REDIRECT_URIS", redirect_uris.join(","))
            .envs(jwks_uri.map(|uri| ("ESIGND_JWKS_URI", uri)))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node is installed (tests/run.sh installs it)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let issuer = line
            .trim()
            .strip_prefix("ready ")
            .unwrap_or_else(|| panic!("the provider did not start: {line:?}"))
            .to_owned();
        Self { child, issuer, state }
    }

    fn node(&self, args: &[&str]) -> String {
        super::node("tests/oidc", args)
    }

    /// Log `user` in as eService `client` and return its access token.
    pub fn access_token(&self, client: &str, user: &str) -> String {
        let tokens: serde_json::Value =
            serde_json::from_str(&self.node(&["login.mjs", &self.issuer, client, user])).unwrap();
        tokens["access_token"].as_str().unwrap().to_owned()
    }

    /// Wallet-binding partner `client`'s own token (client credentials) with `scope`.
    pub fn partner_token(&self, client: &str, scope: &str) -> String {
        self.node(&["partner-token.mjs", &self.issuer, client, scope])
    }

    /// A JWT signed with the provider's own key, with `claims` (plus `iss` and `iat`).
    pub fn mint(&self, claims: &serde_json::Value) -> String {
        self.mint_typed(claims, "at+jwt")
    }

    /// As [`Provider::mint`], with the header's `typ` (an ID token is a plain `JWT`).
    pub fn mint_typed(&self, claims: &serde_json::Value, typ: &str) -> String {
        self.node(&["mint.mjs", self.state.path().to_str().unwrap(), &claims.to_string(), typ])
    }

    /// Play the citizen from `url` (a signing link) until the browser reaches `stop_at`;
    /// `form` is "start" or "cancel", `abort` cancels at the provider. Returns the final URL and
    /// the pages seen (url, status, html).
    pub fn citizen(&self, url: &str, stop_at: &str, login: &str, form: &str, abort: bool) -> serde_json::Value {
        let mut args = vec!["sign.mjs", url, stop_at, login, form];
        if abort {
            args.push("abort");
        }
        serde_json::from_str(&self.node(&args)).unwrap()
    }

    /// Verify a webhook body with panva/jose against `jwks_url` (decrypting it first with the
    /// PEM private key in `private_key`, if given); returns headers and payload.
    pub fn verify_jose(&self, jwks_url: &str, token: &str, private_key: Option<&Path>) -> serde_json::Value {
        let mut args = vec!["verify.mjs", jwks_url, token];
        let key;
        if let Some(path) = private_key {
            key = path.to_str().unwrap().to_owned();
            args.push(&key);
        }
        serde_json::from_str(&self.node(&args)).unwrap()
    }

    /// The provider's JWKS URL.
    pub fn jwks_url(&self) -> String {
        format!("{}/jwks", self.issuer)
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
