//! A PostgreSQL server of the test's own: Debian's `postgresql` package (tests/run.sh installs
//! it; no system service is started), a cluster made by `initdb` in a temporary directory,
//! listening on a loopback port, stopped and deleted when dropped. PostgreSQL refuses to run as
//! root, so as root (CI) the server runs as the package's `postgres` user (`setpriv`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running server; the role `esignd` is its superuser, trusted on loopback.
pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    server: Option<Child>,
    settings: Vec<(String, String)>,
}

/// The directory holding `initdb` and `postgres`: `ESIGND_TEST_PG_BIN`, else the newest
/// `/usr/lib/postgresql/*/bin` (Debian), else `PATH`.
fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("ESIGND_TEST_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).unwrap_or_default()
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|out| out.stdout.starts_with(b"0\n"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Postgres {
    /// A fresh server, tuned for tests (`fsync = off`: the tests crash daemons, never the host).
    pub fn start() -> Postgres {
        Self::start_with(&[("fsync", "off")])
    }

    /// A fresh server that offers TLS with a certificate for 127.0.0.1 from a CA made by openssl;
    /// and that CA's certificate (DER), for the client to trust.
    pub fn start_tls() -> (Postgres, Vec<u8>) {
        let mut der = Vec::new();
        let pg = Self::start_prepared(&[("fsync", "off"), ("ssl", "on")], |dir, settings| {
            let (cert, key, csr) = (dir.join("server.crt"), dir.join("server.key"), dir.join("server.csr"));
            let p = |path: &Path| path.to_str().unwrap().to_owned();
            let ca = super::openssl_root(dir, "pg-ca", "/CN=PostgreSQL test CA", 2);
            super::openssl_csr(dir, "server", "/CN=127.0.0.1", "ec", &["ec_paramgen_curve:P-256"]);
            let extensions = dir.join("server.ext");
            std::fs::write(&extensions, "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\n").unwrap();
            let out = super::openssl([
                "x509",
                "-req",
                "-in",
                &p(&csr),
                "-CA",
                &p(&ca),
                "-CAkey",
                &p(&dir.join("pg-ca.key")),
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                &p(&extensions),
                "-out",
                &p(&cert),
            ]);
            super::oracle::assert_ok(&out, "openssl x509 -req (the PostgreSQL server's certificate)");
            der = super::openssl(["x509", "-in", &p(&ca), "-outform", "DER"]).stdout;
            settings.push(("ssl_cert_file".into(), p(&cert)));
            settings.push(("ssl_key_file".into(), p(&key)));
            for file in [&cert, &key] {
                std::fs::set_permissions(file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
                if is_root() {
                    assert!(Command::new("chown").args(["postgres:postgres"]).arg(file).status().unwrap().success());
                }
            }
        });
        (pg, der)
    }

    /// A fresh server with `settings` (`-c name=value`).
    pub fn start_with(settings: &[(&str, &str)]) -> Postgres {
        Self::start_prepared(settings, |_, _| {})
    }

    /// A fresh server with `settings`; `prepare` may add files to its folder and settings before
    /// it starts.
    fn start_prepared(settings: &[(&str, &str)], prepare: impl FnOnce(&Path, &mut Vec<(String, String)>)) -> Postgres {
        let bin = bin_dir();
        let initdb = bin.join("initdb");
        assert!(
            initdb.is_file() || bin.as_os_str().is_empty(),
            "{initdb:?} is missing: run tests/run.sh, or apt-get install -y postgresql"
        );
        let dir = tempfile::Builder::new().prefix("esignd-pg").tempdir().unwrap();
        if is_root() {
            let status = Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir.path()).status().unwrap();
            assert!(status.success(), "chown of the PostgreSQL directory failed");
        }
        let mut pg = Postgres {
            dir,
            bin,
            port: free_port(),
            server: None,
            settings: settings.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        };
        let data = pg.data();
        let out = pg
            .command("initdb")
            .args(["-U", "esignd", "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions", "-D"])
            .arg(&data)
            .output()
            .expect("initdb runs (apt-get install -y postgresql)");
        assert!(out.status.success(), "initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        let dir = pg.dir.path().to_owned();
        prepare(&dir, &mut pg.settings);
        pg.resume();
        pg.psql("postgres", "CREATE DATABASE esignd");
        pg
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The folder of the server's files (its log is `server.log`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A command from the server's bin directory, as the user the server runs as.
    fn command(&self, program: &str) -> Command {
        let path = if self.bin.as_os_str().is_empty() { PathBuf::from(program) } else { self.bin.join(program) };
        if is_root() {
            let mut command = Command::new("setpriv");
            command.args(["--reuid=postgres", "--regid=postgres", "--init-groups"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }

    /// Start the server (again, after [`Postgres::pause`]) on the same port and files; returns
    /// once it accepts connections.
    pub fn resume(&mut self) {
        assert!(self.server.is_none(), "the server is running");
        let log = std::fs::File::create(self.dir.path().join("server.log")).unwrap();
        let mut command = self.command("postgres");
        command
            .arg("-D")
            .arg(self.data())
            .args(["-p", &self.port.to_string(), "-c", "listen_addresses=127.0.0.1"])
            .arg("-c")
            .arg(format!("unix_socket_directories={}", self.dir.path().display()))
            .args(["-c", "max_connections=300"]);
        for (name, value) in &self.settings {
            command.arg("-c").arg(format!("{name}={value}"));
        }
        let child = command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(log).spawn().expect("postgres starts");
        self.server = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = Command::new(self.bin.join("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string()])
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return;
            }
            if let Some(status) = self.server.as_mut().unwrap().try_wait().unwrap() {
                let log = std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
                panic!("postgres exited with {status}:\n{log}");
            }
            assert!(Instant::now() < deadline, "postgres did not accept connections within 30 s");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stop the server (fast shutdown: connections are cut, as when a database host goes away)
    /// and wait until it is gone.
    pub fn pause(&mut self) {
        let Some(mut child) = self.server.take() else { return };
        let out = self.command("pg_ctl").args(["stop", "-m", "fast", "-w", "-D"]).arg(self.data()).output().unwrap();
        if !out.status.success() {
            let _ = child.kill();
        }
        let _ = child.wait();
    }

    /// Run `sql` in `database` with psql, failing the test if it fails; its output.
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U", "esignd"])
            .args(["-p", &self.port.to_string(), "-d", database, "-c", sql])
            .output()
            .expect("psql runs");
        assert!(out.status.success(), "psql {sql:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// The URL of `database` (created with [`Postgres::create_database`], or `esignd`).
    pub fn url_of(&self, database: &str) -> String {
        format!("postgres://esignd@127.0.0.1:{}/{database}", self.port)
    }

    /// The URL of the `esignd` database.
    pub fn url(&self) -> String {
        self.url_of("esignd")
    }

    /// A new empty database; its URL.
    pub fn create_database(&self, name: &str) -> String {
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        self.url_of(name)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.pause();
    }
}
