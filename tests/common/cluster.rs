//! Two daemons as a deployment runs them: one PostgreSQL, one SoftHSM token directory opened by
//! both, HAProxy in front (round robin, `/readyz` checks), a real OpenID provider, eService
//! webhooks. Each daemon listens on a port chosen here, so that a killed or restarted daemon
//! comes back where the balancer expects it.

use std::net::SocketAddr;
use std::process::Command;

use super::daemon::Daemon;
use super::eservices::{Webhooks, clients_toml};
use super::haproxy::Haproxy;
use super::oidc::Provider;
use super::postgres::Postgres;
use super::{TokenDir, http_get, oracle};

/// The device key's PIN in [`Cluster::device`].
pub const PIN: &str = "4711-device-pin";

/// A running deployment.
pub struct Cluster {
    pub token: TokenDir,
    pub provider: Provider,
    pub webhooks: Webhooks,
    pub pg: Postgres,
    /// The daemons, by index; `None` while one is stopped.
    pub daemons: Vec<Option<Daemon>>,
    /// Where each daemon listens.
    pub addrs: Vec<SocketAddr>,
    pub balancer: Haproxy,
    env: Vec<(String, String)>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Cluster {
    /// Two daemons; the webhook receiver refuses its first `webhook_failures` deliveries;
    /// `extra` is appended to the configuration and `env` set for every daemon.
    pub fn start(webhook_failures: usize, extra: &str, env: &[(&str, &str)]) -> Cluster {
        let pg = Postgres::start();
        let port = free_port();
        let public_url = format!("http://127.0.0.1:{port}");
        let provider = Provider::start(&[&format!("{public_url}/sign/oidc/callback")]);
        let webhooks = Webhooks::start(webhook_failures);
        let token = TokenDir::new();
        std::fs::write(token.path("client-secret"), "esignd-secret\n").unwrap();
        std::fs::write(token.path("device-pin"), format!("{PIN}\n")).unwrap();
        let config = format!(
            "\n[identity]\nissuer = \"{issuer}\"\nclient_id = \"esignd\"\nclient_auth = \"client_secret_basic\"\n\
             client_secret_file = \"client-secret\"\naudience = \"esignd\"\n{clients}{extra}",
            issuer = provider.issuer,
            clients = clients_toml(webhooks.url()),
        );
        let existing = std::fs::read_to_string(token.config()).unwrap();
        // One address (the balancer) makes every request: no per-address limits.
        let existing = existing.replacen(
            "[server]\n",
            "[server]\nrequests_per_ip_per_second = 0\nmax_connections_per_ip = 1024\n",
            1,
        );
        std::fs::write(token.config(), existing + &config).unwrap();
        let mut env: Vec<(String, String)> = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        env.push(("ESIGND__STORE__URL".into(), pg.url()));
        env.push(("ESIGND__SERVER__PUBLIC_URL".into(), public_url));
        let addrs: Vec<SocketAddr> = (0..2).map(|_| format!("127.0.0.1:{}", free_port()).parse().unwrap()).collect();
        let mut cluster = Cluster {
            token,
            provider,
            webhooks,
            pg,
            daemons: Vec::new(),
            balancer: Haproxy::start(port, &addrs),
            addrs,
            env,
        };
        for n in 0..2 {
            cluster.daemons.push(None);
            cluster.start_daemon(n);
        }
        cluster
    }

    /// Start daemon `n` (again) on its port; returns once it serves.
    pub fn start_daemon(&mut self, n: usize) {
        assert!(self.daemons[n].is_none(), "daemon {n} runs");
        let mut command = super::daemon::esignd(&self.token);
        command.envs(self.env.iter().map(|(k, v)| (k, v))).env("ESIGND__SERVER__LISTEN", self.addrs[n].to_string());
        let mut daemon = Daemon::start_with(command);
        assert_eq!(daemon.listening_on(), self.addrs[n]);
        self.daemons[n] = Some(daemon);
    }

    /// Daemon `n`.
    pub fn daemon(&mut self, n: usize) -> &mut Daemon {
        self.daemons[n].as_mut().expect("the daemon runs")
    }

    /// Daemon `n`'s address.
    pub fn addr(&self, n: usize) -> SocketAddr {
        self.addrs[n]
    }

    /// The balancer's address.
    pub fn lb(&self) -> SocketAddr {
        self.balancer.addr
    }

    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.token.path(name)
    }

    /// Requests each running daemon has answered, from its `/metrics` (0 for a stopped one).
    pub fn answered(&mut self) -> Vec<u64> {
        let mut counts = Vec::new();
        for daemon in &mut self.daemons {
            let Some(daemon) = daemon else {
                counts.push(0);
                continue;
            };
            let (status, metrics) = http_get(daemon.ops_on(), "/metrics");
            assert_eq!(status, 200);
            let total = metrics
                .lines()
                .filter(|line| line.starts_with("esignd_http_requests_total{"))
                .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
                .sum::<f64>();
            counts.push(total as u64);
        }
        counts
    }

    /// An esign-device on a key of its own (PIN-encrypted PKCS#8 made by openssl) that knows
    /// esignd by the balancer's URL and talks to `daemon` (the balancer's address, or one
    /// daemon's).
    pub fn device(&self, name: &str, daemon: SocketAddr) -> Command {
        let key = self.path(&format!("{name}.key"));
        if !key.exists() {
            super::encrypted_device_key(&key, &self.path("device-pin"));
        }
        let mut command = Command::new(env!("CARGO_BIN_EXE_esign-device"));
        command.args(["--server", &format!("http://{}", self.balancer.addr), "--connect-to", &daemon.to_string()]);
        command.args(["--key-file", key.to_str().unwrap()]);
        command.args(["--pin-file", self.path("device-pin").to_str().unwrap()]);
        command.args(["--state", self.path(&format!("{name}.json")).to_str().unwrap()]);
        command
    }

    /// `esignctl audit verify` on the shared store: its output, after checking it succeeded.
    pub fn audit_verify(&self) -> String {
        let out = self
            .token
            .command(env!("CARGO_BIN_EXE_esignctl"))
            .arg("--config")
            .arg(self.token.config())
            .env("ESIGND__STORE__URL", self.pg.url())
            .args(["audit", "verify"])
            .output()
            .unwrap();
        oracle::assert_ok(&out, "esignctl audit verify");
        let said = super::text(&out.stdout);
        assert!(said.starts_with("audit OK"), "{said}");
        said
    }
}
