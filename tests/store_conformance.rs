//! The store conformance suite: every case runs against both engines behind the `Store` trait,
//! SQLite (a temporary file) and PostgreSQL (a server of the test's own, a fresh database per
//! case), and must give the same answers. The concurrent cases race tasks against one store,
//! as several daemons' requests race in a deployment: one winner for a redemption, a spend or a
//! CRL number; the queue cap and outbox claims never passed twice; an audit chain that verifies.

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::json;

use esignd::audit::AuditEvent;
use esignd::audit::checkpoint::Checkpoint;
use esignd::store::audit::AuditQuery;
use esignd::store::device_requests::{DeviceRequestRow, DeviceRequestStore, DeviceSigned, Finish, Queued};
use esignd::store::devices::{Binding, CrlRow, DeviceCertificateRow, StateChange};
use esignd::store::outbox::Attempted;
use esignd::store::postgres::PostgresStore;
use esignd::store::sqlite::SqliteStore;
use esignd::store::{CertificateRow, SessionRow, SignatureRow, Spend, Store, StoreError};
use esignd::vocabulary::{CertificateState, RequestState, SessionState};

type Case = fn(Arc<dyn Store>) -> Pin<Box<dyn Future<Output = ()> + Send>>;

macro_rules! cases {
    ($($name:ident),+ $(,)?) => {
        const CASES: &[(&str, Case)] = &[$((stringify!($name), |store| Box::pin($name(store)))),+];
    };
}

cases!(
    sessions_move_by_compare_and_set,
    a_signature_is_redeemed_once_by_its_client,
    redeemers_racing_have_one_winner,
    a_spent_id_cannot_pay_twice,
    replay_caches_remember_once_under_a_race,
    expired_rows_are_swept,
    device_certificates_change_state_with_their_crl,
    crl_numbers_only_go_up_under_a_race,
    a_wallet_binding_revokes_what_it_replaces,
    secrets_are_made_once,
    a_signature_is_kept_only_while_its_certificate_stays_active,
    requests_queued_at_once_cannot_pass_the_cap_together,
    deliveries_are_queued_with_the_outcome_and_claimed_once,
    records_are_queried_by_field_and_pruned_only_up_to_an_old_checkpoint,
    concurrent_appends_make_one_chain,
    the_first_publications_at_once_all_commit,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_case_on_sqlite() {
    for (name, case) in CASES {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("esignd.db")).unwrap());
        eprintln!("case {name} on SQLite");
        case(store).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_case_on_postgresql() {
    let server = common::postgres::Postgres::start();
    for (i, (name, case)) in CASES.iter().enumerate() {
        let url = server.create_database(&format!("case{i}"));
        let store: Arc<dyn Store> = Arc::new(connect(&url, 8).await.unwrap());
        eprintln!("case {name} on PostgreSQL");
        case(store).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_migrates_once_and_refuses_a_newer_schema() {
    let server = common::postgres::Postgres::start();
    let url = server.url();
    // Daemons starting together: one migrates, the others find it done.
    let starting = (0..4).map(|_| {
        let url = url.clone();
        tokio::spawn(async move { connect(&url, 2).await.map(|_| ()) })
    });
    for start in starting.collect::<Vec<_>>() {
        start.await.unwrap().unwrap();
    }
    assert_eq!(server.psql("esignd", "SELECT version FROM esignd_schema"), "1");
    server.psql("esignd", "UPDATE esignd_schema SET version = 99");
    let error = connect(&url, 2).await.unwrap_err();
    assert!(matches!(error, StoreError::SchemaTooNew { found: 99, supported: 1 }), "{error}");
    // A server that is not there is an error that names the store, not a hang.
    let closed = format!("postgres://esignd@127.0.0.1:{}/esignd", free_port());
    let error = connect(&closed, 2).await.unwrap_err().to_string();
    assert!(error.contains("127.0.0.1") && error.contains("connect"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_queued_on_one_daemon_wakes_the_poll_on_another() {
    let mut server = common::postgres::Postgres::start();
    let url = server.url();
    let (a, b) = (connect(&url, 2).await.unwrap(), connect(&url, 2).await.unwrap());
    let (sender, mut woken) = tokio::sync::mpsc::unbounded_channel::<Option<String>>();
    assert!(a.watch_device_requests(Arc::new(move |device| sender.send(device.map(str::to_owned)).is_ok())));
    // The listener's "look at everything" on connecting comes first.
    assert_eq!(tokio::time::timeout(Duration::from_secs(20), woken.recv()).await.unwrap(), Some(None));
    let b: Arc<dyn Store> = Arc::new(b);
    assert!(b.add_device_certificate(&device(CERTIFICATE, "jane", "jane-phone", in_secs(-60)), &[]).await.unwrap());
    let (row, session) = request(1);
    assert_eq!(b.add_device_request(&row, &session, None, 10, &[]).await.unwrap(), Queued::Done);
    assert_eq!(next_device(&mut woken).await, CERTIFICATE);

    // The database goes away and comes back: the listener says "look at everything" (what was
    // queued while it was away) and, once connected again, passes notifications on again.
    server.pause();
    server.resume();
    let woken_again = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(device) = woken.recv().await {
            if device.is_none() {
                return;
            }
        }
    });
    woken_again.await.expect("told to look again after losing the connection");
    let mut notified = false;
    for n in 2..9 {
        let (row, session) = request(n);
        assert_eq!(b.add_device_request(&row, &session, None, 10, &[]).await.unwrap(), Queued::Done);
        let wake = tokio::time::timeout(Duration::from_secs(3), async {
            while let Some(device) = woken.recv().await {
                if device.is_some() {
                    return device;
                }
            }
            None
        });
        if let Ok(device) = wake.await {
            assert_eq!(device.as_deref(), Some(CERTIFICATE));
            notified = true;
            break;
        }
    }
    assert!(notified, "notifications flow again once the listener has reconnected");
}

/// The next certificate id a watcher is woken for (passing over "look at everything").
async fn next_device(woken: &mut tokio::sync::mpsc::UnboundedReceiver<Option<String>>) -> String {
    loop {
        let wake = tokio::time::timeout(Duration::from_secs(20), woken.recv()).await;
        if let Some(device) = wake.expect("woken within 20 s").expect("the listener runs") {
            return device;
        }
    }
}

/// A store on `url` (plain, or TLS when the server offers it; nothing trusted beyond the
/// system's roots).
async fn connect(url: &str, connections: usize) -> Result<PostgresStore, StoreError> {
    PostgresStore::connect(url, None, connections, esignd::outbound::tls_config(false, &[])).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_over_tls_trusts_what_outbound_trusts() {
    let (server, certificate) = common::postgres::Postgres::start_tls();
    let url = format!("{}?sslmode=require", server.url());
    let trusted = esignd::outbound::tls_config(false, &[certificate]);
    let store = PostgresStore::connect(&url, None, 2, trusted).await.unwrap();
    store.ping().await.unwrap();
    let encrypted = server.psql(
        "esignd",
        "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'esignd' AND s.ssl",
    );
    assert_ne!(encrypted, "0", "esignd's connections use TLS");
    // A server whose certificate is not trusted is refused, and the error says why.
    let error = connect(&url, 2).await.unwrap_err().to_string();
    assert!(error.contains("TLS") && error.contains("certificate"), "{error}");
    // sslmode=require refuses a server without TLS.
    let plain = common::postgres::Postgres::start();
    let error = connect(&format!("{}?sslmode=require", plain.url()), 2).await.unwrap_err().to_string();
    assert!(error.to_lowercase().contains("tls") || error.contains("ssl"), "{error}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

// ---------------------------------------------------------------------------------------------
// Rows

/// `secs` from now, in whole seconds (the stores' unit).
fn in_secs(secs: i64) -> SystemTime {
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs() as i64;
    SystemTime::UNIX_EPOCH + Duration::from_secs((now + secs) as u64)
}

fn session(n: usize, status: SessionState) -> SessionRow {
    SessionRow {
        id: format!("session-{n}"),
        client_id: "eservice-a".into(),
        correlation_id: format!("correlation-{n}"),
        status,
        oidc_state: None,
        expires_at: in_secs(300),
        body: format!("{{\"n\":{n}}}"),
        webhook_url: None,
    }
}

fn signature(id: &str, expires_in: i64) -> SignatureRow {
    SignatureRow {
        signature_id: id.into(),
        client_id: "eservice-a".into(),
        response: format!("{{\"signatureId\":\"{id}\"}}"),
        expires_at: in_secs(expires_in),
    }
}

fn certificate(serial: &str) -> CertificateRow {
    CertificateRow { serial: serial.into(), der: vec![0x30, 0x03, 0x02, 0x01, 0x01], not_after: in_secs(60) }
}

fn event(kind: &'static str, n: usize) -> AuditEvent {
    AuditEvent::new(kind, json!({ "correlationId": format!("c-{n}"), "serial": "0a" }))
}

const CERTIFICATE: &str = "c0ffee";

fn device(id: &str, owner: &str, pseudonym: &str, changed_at: SystemTime) -> DeviceCertificateRow {
    DeviceCertificateRow {
        certificate_id: id.into(),
        owner: owner.into(),
        pseudonym: pseudonym.into(),
        serial: format!("{id}-serial"),
        der: vec![0x30, 0x00],
        state: CertificateState::Active,
        state_message: None,
        changed_at,
        not_after: in_secs(3600),
        scd_type: "REMOTE_SCD_SIM".into(),
        scd_remote_id: "r".into(),
        scd_key_id: 0,
        key_sha256: format!("key-of-{id}"),
    }
}

fn crl(number: u64) -> CrlRow {
    CrlRow { number, der: vec![0x30, number as u8], next_update: in_secs(3600) }
}

async fn audit_count(store: &Arc<dyn Store>, kind: &str) -> usize {
    let query = AuditQuery { kind: Some(kind.into()), limit: 10_000, ..AuditQuery::default() };
    store.audit_records(&query).await.unwrap().len()
}

/// Run `n` copies of `work` at once; their answers.
async fn race<T, F, Fut>(n: usize, work: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    let tasks: Vec<_> = (0..n).map(|i| tokio::spawn(work(i))).collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    answers
}

// ---------------------------------------------------------------------------------------------
// Sessions, signatures, replay caches

async fn sessions_move_by_compare_and_set(store: Arc<dyn Store>) {
    let mut row = session(1, SessionState::Pending);
    row.oidc_state = Some("state-1".into());
    assert!(store.create_session(&row, &[event("session.created", 1)]).await.unwrap());
    let mut twin = session(2, SessionState::Pending);
    twin.correlation_id = row.correlation_id.clone();
    assert!(!store.create_session(&twin, &[event("session.created", 2)]).await.unwrap(), "correlation id taken");
    assert_eq!(audit_count(&store, "session.created").await, 1, "a refused write leaves no record");

    assert_eq!(store.session("session-1").await.unwrap().as_ref(), Some(&row));
    assert_eq!(store.session_by_correlation("eservice-a", "correlation-1").await.unwrap().as_ref(), Some(&row));
    assert_eq!(store.session_by_correlation("eservice-b", "correlation-1").await.unwrap(), None);
    assert_eq!(store.session_by_oidc_state("state-1").await.unwrap().map(|s| s.id), Some("session-1".into()));
    assert_eq!(store.session("nobody").await.unwrap(), None);

    let mut moved = row.clone();
    moved.status = SessionState::Authenticating;
    assert!(!store.update_session(&moved, SessionState::Signing, &[]).await.unwrap(), "not in that state");
    assert!(store.update_session(&moved, SessionState::Pending, &[]).await.unwrap());
    assert!(!store.update_session(&moved, SessionState::Pending, &[]).await.unwrap(), "moved already");

    let mut signed = moved.clone();
    signed.status = SessionState::Signed;
    let finished = store
        .finish_session(&signed, SessionState::Authenticating, &signature("sig-1", 60), &certificate("0a"), None, &[])
        .await
        .unwrap();
    assert!(finished);
    assert_eq!(store.session("session-1").await.unwrap().unwrap().status, SessionState::Signed);
    assert_eq!(store.certificate("0A").await.unwrap(), Some(certificate("0a").der));
    assert!(
        !store
            .finish_session(
                &signed,
                SessionState::Authenticating,
                &signature("sig-2", 60),
                &certificate("0b"),
                None,
                &[]
            )
            .await
            .unwrap(),
        "a session finishes once"
    );
    assert_eq!(store.certificate("0b").await.unwrap(), None, "nothing of the lost race is written");
    store.ping().await.unwrap();
}

async fn a_signature_is_redeemed_once_by_its_client(store: Arc<dyn Store>) {
    let row = session(1, SessionState::Signing);
    assert!(store.create_session(&row, &[]).await.unwrap());
    let mut signed = row.clone();
    signed.status = SessionState::Signed;
    let keep = signature("sig-1", 60);
    assert!(store.finish_session(&signed, SessionState::Signing, &keep, &certificate("01"), None, &[]).await.unwrap());
    let now = SystemTime::now();
    assert_eq!(store.redeem_signature("sig-1", "eservice-b", now, &[]).await.unwrap(), None, "another client's");
    let redeemed = store.redeem_signature("sig-1", "eservice-a", now, &[event("signature.redeemed", 1)]).await.unwrap();
    assert_eq!(redeemed, Some(keep.response.clone()));
    assert_eq!(
        store.redeem_signature("sig-1", "eservice-a", now, &[event("signature.redeemed", 1)]).await.unwrap(),
        None
    );
    assert_eq!(audit_count(&store, "signature.redeemed").await, 1);

    let mut late = session(2, SessionState::Signing);
    assert!(store.create_session(&late, &[]).await.unwrap());
    late.status = SessionState::Signed;
    let expired = signature("sig-2", 1);
    assert!(store.finish_session(&late, SessionState::Signing, &expired, &certificate("02"), None, &[]).await.unwrap());
    assert_eq!(store.redeem_signature("sig-2", "eservice-a", in_secs(5), &[]).await.unwrap(), None, "expired");
}

async fn redeemers_racing_have_one_winner(store: Arc<dyn Store>) {
    for n in 0..4 {
        let mut row = session(n, SessionState::Signing);
        assert!(store.create_session(&row, &[]).await.unwrap());
        row.status = SessionState::Signed;
        let keep = signature(&format!("sig-{n}"), 60);
        let serial = format!("0{n}");
        assert!(
            store.finish_session(&row, SessionState::Signing, &keep, &certificate(&serial), None, &[]).await.unwrap()
        );
        let winners = race(12, |_| {
            let (store, id) = (Arc::clone(&store), keep.signature_id.clone());
            async move {
                store.redeem_signature(&id, "eservice-a", SystemTime::now(), &[event("signature.redeemed", n)]).await
            }
        })
        .await;
        let won: Vec<_> = winners.into_iter().filter_map(Result::unwrap).collect();
        assert_eq!(won, std::slice::from_ref(&keep.response), "exactly one redeemer gets the signature");
    }
    assert_eq!(audit_count(&store, "signature.redeemed").await, 4, "one record per redemption");
}

async fn a_spent_id_cannot_pay_twice(store: Arc<dyn Store>) {
    let spend = Spend { kind: "payment", id: "jti-1".into(), until: in_secs(600) };
    for n in 0..2 {
        let row = session(n, SessionState::Signing);
        assert!(store.create_session(&row, &[]).await.unwrap());
    }
    let first = session(0, SessionState::Signed);
    let paid = store
        .finish_session(&first, SessionState::Signing, &signature("sig-0", 60), &certificate("00"), Some(&spend), &[])
        .await
        .unwrap();
    assert!(paid);
    let second = session(1, SessionState::Signed);
    let replay = store
        .finish_session(
            &second,
            SessionState::Signing,
            &signature("sig-1", 60),
            &certificate("01"),
            Some(&spend),
            &[event("payment.spent", 1)],
        )
        .await;
    assert!(matches!(replay, Err(StoreError::AlreadySpent("payment"))), "{replay:?}");
    assert_eq!(store.session("session-1").await.unwrap().unwrap().status, SessionState::Signing, "rolled back");
    assert_eq!(store.redeem_signature("sig-1", "eservice-a", SystemTime::now(), &[]).await.unwrap(), None);
    assert_eq!(store.certificate("01").await.unwrap(), None);
    assert_eq!(audit_count(&store, "payment.spent").await, 0);

    let publish = store.publish_certificate(&certificate("02"), Some(&spend), &[]).await;
    assert!(matches!(publish, Err(StoreError::AlreadySpent(_))), "{publish:?}");
    assert_eq!(store.certificate("02").await.unwrap(), None);
    let fresh = Spend { id: "jti-2".into(), ..spend };
    store.publish_certificate(&certificate("03"), Some(&fresh), &[]).await.unwrap();
    assert!(store.certificate("03").await.unwrap().is_some());
}

async fn replay_caches_remember_once_under_a_race(store: Arc<dyn Store>) {
    let answers = race(16, |_| {
        let store = Arc::clone(&store);
        async move { store.remember_once("device-jti", "jti-1", in_secs(60)).await.unwrap() }
    })
    .await;
    assert_eq!(answers.iter().filter(|&&first| first).count(), 1, "{answers:?}");
    assert!(store.remember_once("other-kind", "jti-1", in_secs(60)).await.unwrap(), "kinds are apart");
}

async fn expired_rows_are_swept(store: Arc<dyn Store>) {
    let mut old = session(1, SessionState::Pending);
    old.expires_at = in_secs(-2 * 86_400);
    assert!(store.create_session(&old, &[]).await.unwrap());
    let fresh = session(2, SessionState::Pending);
    assert!(store.create_session(&fresh, &[]).await.unwrap());
    let expired = store.expired_sessions(SystemTime::now(), &[SessionState::Pending, SessionState::Device]).await;
    assert_eq!(expired.unwrap().iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["session-1"]);
    assert!(store.expired_sessions(SystemTime::now(), &[SessionState::Signed]).await.unwrap().is_empty());

    assert!(store.remember_once("jti", "old", in_secs(-10)).await.unwrap());
    assert!(store.remember_once("jti", "new", in_secs(600)).await.unwrap());
    // The pending session waits for the expiry sweep of the service; a finished one goes.
    let mut done = old.clone();
    done.status = SessionState::Failed;
    assert!(store.update_session(&done, SessionState::Pending, &[]).await.unwrap());
    let removed = store.sweep(SystemTime::now()).await.unwrap();
    assert_eq!(removed, 2, "the old jti and the finished session");
    assert!(store.remember_once("jti", "old", in_secs(600)).await.unwrap(), "forgotten");
    assert!(!store.remember_once("jti", "new", in_secs(600)).await.unwrap(), "still remembered");
    assert_eq!(store.session("session-1").await.unwrap(), None);
    assert!(store.session("session-2").await.unwrap().is_some());
}

// ---------------------------------------------------------------------------------------------
// Device certificates and the CRL

async fn device_certificates_change_state_with_their_crl(store: Arc<dyn Store>) {
    let issued = in_secs(-600);
    let phone = device("id-1", "jane", "jane-phone", issued);
    assert!(store.add_device_certificate(&phone, &[event("device.certificate.created", 1)]).await.unwrap());
    let taken = device("id-2", "john", "jane-phone", issued);
    assert!(!store.add_device_certificate(&taken, &[event("device.certificate.created", 2)]).await.unwrap());
    assert_eq!(audit_count(&store, "device.certificate.created").await, 1);
    let tablet = device("id-3", "jane", "jane-tablet", issued);
    assert!(store.add_device_certificate(&tablet, &[]).await.unwrap());
    assert_eq!(store.certificate(&phone.serial).await.unwrap(), Some(phone.der.clone()), "published");

    assert_eq!(store.device_certificate("ID-1").await.unwrap().as_ref(), Some(&phone), "ids are hex, any case");
    let mine: Vec<_> = store.device_certificates("jane").await.unwrap().into_iter().map(|d| d.certificate_id).collect();
    assert_eq!(mine, ["id-1", "id-3"], "oldest first");
    assert_eq!(store.device_by_pseudonym("jane-tablet").await.unwrap().map(|d| d.certificate_id), Some("id-3".into()));
    assert_eq!(store.device_certificates_by_key("key-of-id-1").await.unwrap().len(), 1);

    let now = SystemTime::now();
    let suspend =
        StateChange { from: CertificateState::Active, to: CertificateState::Suspended, message: Some("lost"), at: now };
    assert!(
        store.change_device_state("id-1", suspend, &crl(1), &[event("device.certificate.state", 1)]).await.unwrap()
    );
    assert!(!store.change_device_state("id-1", suspend, &crl(2), &[]).await.unwrap(), "no longer active");
    assert_eq!(store.crl().await.unwrap().map(|c| c.number), Some(1), "the lost move installs no CRL");
    let revoke = StateChange { from: CertificateState::Active, to: CertificateState::Revoked, message: None, at: now };
    assert!(!store.change_device_state("id-3", revoke, &crl(1), &[]).await.unwrap(), "a CRL number is used once");
    assert_eq!(store.device_certificate("id-3").await.unwrap().unwrap().state, CertificateState::Active, "rolled back");
    assert!(store.change_device_state("id-3", revoke, &crl(2), &[]).await.unwrap());

    let withheld: Vec<_> = store.withheld_certificates(now).await.unwrap().into_iter().map(|d| d.state).collect();
    assert_eq!(withheld, [CertificateState::Suspended, CertificateState::Revoked]);
    let suspended = store.device_certificate("id-1").await.unwrap().unwrap();
    assert_eq!(suspended.state_message.as_deref(), Some("lost"));
    assert!(store.device_certificates_by_key("key-of-id-3").await.unwrap().is_empty(), "revoked keys are free");
    assert_eq!(audit_count(&store, "device.certificate.state").await, 1);
}

async fn crl_numbers_only_go_up_under_a_race(store: Arc<dyn Store>) {
    assert_eq!(store.crl().await.unwrap(), None);
    let installed = race(24, |n| {
        let store = Arc::clone(&store);
        // Numbers 1..=12, each offered twice.
        async move { (n as u64 % 12 + 1, store.install_crl(&crl(n as u64 % 12 + 1)).await.unwrap()) }
    })
    .await;
    assert_eq!(store.crl().await.unwrap().map(|c| c.number), Some(12));
    let mut numbers: Vec<u64> = installed.iter().filter(|(_, ok)| *ok).map(|(n, _)| *n).collect();
    numbers.sort_unstable();
    numbers.dedup();
    assert_eq!(
        installed.iter().filter(|(_, ok)| *ok).count(),
        numbers.len(),
        "no number is installed twice: {installed:?}"
    );
    assert!(!store.install_crl(&crl(11)).await.unwrap(), "never a lower number after a higher");
    assert_eq!(store.crl().await.unwrap().unwrap(), crl(12));
}

async fn a_wallet_binding_revokes_what_it_replaces(store: Arc<dyn Store>) {
    let first = device("id-1", "jane", "wallet-user", in_secs(-60));
    let bind = Binding { row: first.clone(), replaces: Vec::new(), at: SystemTime::now(), crl: None };
    assert!(store.bind_device(&bind, &[event("wallet.bound", 1)]).await.unwrap());
    let second = device("id-2", "jane", "wallet-user", SystemTime::now());
    let rebind =
        Binding { row: second.clone(), replaces: vec!["id-1".into()], at: SystemTime::now(), crl: Some(crl(1)) };
    assert!(store.bind_device(&rebind, &[event("wallet.bound", 2)]).await.unwrap());
    assert_eq!(store.device_certificate("id-1").await.unwrap().unwrap().state, CertificateState::Revoked);
    assert_eq!(store.device_by_pseudonym("wallet-user").await.unwrap().map(|d| d.certificate_id), Some("id-2".into()));
    assert_eq!(store.crl().await.unwrap().map(|c| c.number), Some(1));

    let stale = Binding { row: device("id-3", "jane", "wallet-user", SystemTime::now()), ..rebind.clone() };
    assert!(!store.bind_device(&stale, &[]).await.unwrap(), "what it replaces was revoked already");
    let stranger = Binding { row: device("id-4", "john", "wallet-user", SystemTime::now()), ..bind };
    assert!(!store.bind_device(&stranger, &[]).await.unwrap(), "another owner's walletUserId");
    assert_eq!(store.device_certificates("john").await.unwrap(), Vec::new());
    assert_eq!(audit_count(&store, "wallet.bound").await, 2);
}

async fn secrets_are_made_once(store: Arc<dyn Store>) {
    let made = race(8, |_| {
        let store = Arc::clone(&store);
        async move { store.secret("wallet-salt").await.unwrap() }
    })
    .await;
    assert_eq!(made[0].len(), 32);
    assert!(made.iter().all(|secret| *secret == made[0]), "every caller gets the one stored secret");
    assert_ne!(store.secret("other").await.unwrap(), made[0]);
}

// ---------------------------------------------------------------------------------------------
// Device requests

fn request(n: usize) -> (DeviceRequestRow, SessionRow) {
    let row = DeviceRequestRow {
        request_id: format!("request-{n}"),
        signature_id: format!("signature-{n}"),
        client_id: "eservice-a".into(),
        session_id: format!("session-{n}"),
        certificate_id: CERTIFICATE.into(),
        status: RequestState::Pending,
        expires_at: in_secs(300),
        body: "{}".into(),
    };
    (row, session(n, SessionState::Device))
}

async fn finish(store: &Arc<dyn Store>, n: usize, stamped_at: SystemTime) -> Finish {
    let (mut row, mut session) = request(n);
    row.status = RequestState::Signed;
    session.status = SessionState::Signed;
    let signed = DeviceSigned { signature: signature(&format!("signature-{n}"), 300), stamped_at, spend: None };
    store.finish_device_request(&row, &session, Some(&signed), &[]).await.unwrap()
}

/// Move the test device to `to` as of `at`, whatever its state, with CRL `number`.
async fn set_state(store: &Arc<dyn Store>, to: CertificateState, at: SystemTime, number: u64) {
    let from = store.device_certificate(CERTIFICATE).await.unwrap().unwrap().state;
    let change = StateChange { from, to, message: None, at };
    assert!(store.change_device_state(CERTIFICATE, change, &crl(number), &[]).await.unwrap());
}

async fn kept(store: &Arc<dyn Store>, n: usize) -> bool {
    store.redeem_signature(&format!("signature-{n}"), "eservice-a", SystemTime::now(), &[]).await.unwrap().is_some()
}

async fn a_signature_is_kept_only_while_its_certificate_stays_active(store: Arc<dyn Store>) {
    let issued = in_secs(-600);
    assert!(store.add_device_certificate(&device(CERTIFICATE, "jane", "jane-phone", issued), &[]).await.unwrap());
    for n in 0..4 {
        let (row, session) = request(n);
        assert_eq!(store.add_device_request(&row, &session, None, 10, &[]).await.unwrap(), Queued::Done);
    }
    let now = SystemTime::now();
    // Suspended while the answer was being finished (its requests not yet withdrawn): the
    // signature is not kept, the request still waits to be ended.
    set_state(&store, CertificateState::Suspended, now, 1).await;
    assert_eq!(finish(&store, 0, now).await, Finish::CertificateWithdrawn);
    assert!(!kept(&store, 0).await);
    assert_eq!(store.device_request("request-0").await.unwrap().unwrap().status, RequestState::Pending);
    // Suspended and reactivated after the time-stamp: made while withheld, so refused too.
    set_state(&store, CertificateState::Active, now + Duration::from_secs(5), 2).await;
    assert_eq!(finish(&store, 1, now).await, Finish::CertificateWithdrawn);
    // Revoked: refused.
    set_state(&store, CertificateState::Revoked, now, 3).await;
    assert_eq!(finish(&store, 2, now + Duration::from_secs(10)).await, Finish::CertificateWithdrawn);
    // Active since before the stamp: kept, once.
    set_state(&store, CertificateState::Active, issued, 4).await;
    assert_eq!(finish(&store, 3, now).await, Finish::Done);
    assert_eq!(finish(&store, 3, now).await, Finish::Moved);
    assert_eq!(store.device_request("request-3").await.unwrap().unwrap().status, RequestState::Signed);
    assert!(kept(&store, 3).await);
    let by_signature = store.device_request_by_signature("signature-3", "eservice-a").await.unwrap();
    assert_eq!(by_signature.map(|r| r.request_id), Some("request-3".into()));
    assert_eq!(store.device_request_by_signature("signature-3", "eservice-b").await.unwrap(), None);
    assert!(store.overdue_device_requests(in_secs(600)).await.unwrap().len() == 3, "the three still pending");
}

async fn requests_queued_at_once_cannot_pass_the_cap_together(store: Arc<dyn Store>) {
    assert!(store.add_device_certificate(&device(CERTIFICATE, "jane", "jane-phone", in_secs(-60)), &[]).await.unwrap());
    let outcomes = race(12, |n| {
        let store = Arc::clone(&store);
        async move {
            let (row, session) = request(n);
            store.add_device_request(&row, &session, None, 10, &[event("device.request.queued", n)]).await.unwrap()
        }
    })
    .await;
    assert_eq!(outcomes.iter().filter(|&&q| q == Queued::Done).count(), 10, "{outcomes:?}");
    assert_eq!(outcomes.iter().filter(|&&q| q == Queued::DeviceBusy).count(), 2, "{outcomes:?}");
    let pending = store.pending_device_requests(CERTIFICATE, SystemTime::now()).await.unwrap();
    assert_eq!(pending.len(), 10);
    assert_eq!(audit_count(&store, "device.request.queued").await, 10, "refused requests leave no record");
    let (row, session) = request(0);
    let again = store.add_device_request(&row, &session, Some(SessionState::Pending), 20, &[]).await.unwrap();
    assert_eq!(again, Queued::SessionMoved, "the session is not pending");
}

// ---------------------------------------------------------------------------------------------
// The outbox

async fn deliveries_are_queued_with_the_outcome_and_claimed_once(store: Arc<dyn Store>) {
    for n in 0..20 {
        let mut row = session(n, SessionState::Pending);
        row.webhook_url = Some(format!("https://eservice.example/hook/{n}"));
        assert!(store.create_session(&row, &[]).await.unwrap());
        let mut failed = row.clone();
        failed.status = SessionState::Failed;
        assert!(store.update_session(&failed, SessionState::Pending, &[]).await.unwrap());
    }
    // A move that does not end the session queues nothing.
    let mut quiet = session(99, SessionState::Pending);
    quiet.webhook_url = Some("https://eservice.example/hook/99".into());
    assert!(store.create_session(&quiet, &[]).await.unwrap());
    quiet.status = SessionState::Authenticating;
    assert!(store.update_session(&quiet, SessionState::Pending, &[]).await.unwrap());
    let (backlog, oldest) = store.outbox_backlog().await.unwrap();
    assert_eq!(backlog, 20);
    assert!(oldest.is_some());

    let now = esignd_millis();
    let claims = race(8, |_| {
        let store = Arc::clone(&store);
        async move { store.claim_deliveries(now, 30_000, 5, None).await.unwrap() }
    })
    .await;
    let mut ids: Vec<String> = claims.into_iter().flatten().map(|d| d.id).collect();
    let claimed = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!((claimed, ids.len()), (20, 20), "every delivery claimed, none twice");
    assert!(store.claim_deliveries(now, 30_000, 50, None).await.unwrap().is_empty(), "leased");

    // Retry one later with its sealed body; deliver another; abandon a third.
    store
        .attempted(&ids[0], &Attempted::Retry { next_at_ms: now + 60_000, body: "{\"sealed\":1}".into() })
        .await
        .unwrap();
    store.attempted(&ids[1], &Attempted::Delivered(event("webhook.delivered", 1))).await.unwrap();
    store.attempted(&ids[1], &Attempted::Delivered(event("webhook.delivered", 1))).await.unwrap();
    store.attempted(&ids[2], &Attempted::Abandoned(event("webhook.abandoned", 2))).await.unwrap();
    assert_eq!(store.outbox_backlog().await.unwrap().0, 18);
    assert_eq!(audit_count(&store, "webhook.delivered").await, 1, "recorded once, with the removal");
    assert_eq!(audit_count(&store, "webhook.abandoned").await, 1);
    let later = store.claim_deliveries(now + 61_000, 30_000, 50, None).await.unwrap();
    let retried = later.iter().find(|d| d.id == ids[0]).expect("due again after its backoff");
    assert_eq!((retried.attempts, retried.body.as_deref()), (1, Some("{\"sealed\":1}")));
    assert_eq!(later.len(), 18, "leases ended");
    let mine = store.claim_deliveries(now + 61_000, 30_000, 5, Some(&retried.session_id)).await.unwrap();
    assert!(mine.is_empty(), "a session's own claim respects the lease too");
}

fn esignd_millis() -> i64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_millis() as i64
}

// ---------------------------------------------------------------------------------------------
// The audit trail

fn checkpoint_of(head: &esignd::audit::chain::Record, time: &str) -> Checkpoint {
    Checkpoint {
        seq: head.seq,
        head: head.hash.clone(),
        time: time.to_owned(),
        signature: "c2lnbmF0dXJl".into(),
        timestamp_token: String::new(),
    }
}

async fn records_are_queried_by_field_and_pruned_only_up_to_an_old_checkpoint(store: Arc<dyn Store>) {
    for n in 1..=5 {
        store.record(&[event("session.created", n)]).await.unwrap();
    }
    // A checkpoint a year old covers records 1 to 5; one made now covers 1 to 7.
    let old = store.audit_head().await.unwrap().unwrap();
    assert!(store.add_checkpoint(&checkpoint_of(&old, "2025-11-01T00:00:00Z")).await.unwrap());
    assert!(!store.add_checkpoint(&checkpoint_of(&old, "2025-11-01T00:00:00Z")).await.unwrap(), "once per record");
    store.record(&[AuditEvent::new("session.created", json!({ "correlationId": "c-6" }))]).await.unwrap();
    let recent = store.audit_head().await.unwrap().unwrap();
    let now = esignd::vocabulary::rfc3339(SystemTime::now());
    assert!(store.add_checkpoint(&checkpoint_of(&recent, &now)).await.unwrap());

    assert_eq!(store.latest_checkpoint().await.unwrap().map(|c| c.seq), Some(recent.seq));
    let query = AuditQuery { correlation_id: Some("c-3".into()), limit: 10, ..AuditQuery::default() };
    assert_eq!(store.audit_records(&query).await.unwrap().iter().map(|r| r.seq).collect::<Vec<_>>(), [3]);
    let query = AuditQuery { serial: Some("0a".into()), after: 3, limit: 10, ..AuditQuery::default() };
    assert_eq!(store.audit_records(&query).await.unwrap().iter().map(|r| r.seq).collect::<Vec<_>>(), [4, 5]);
    let query = AuditQuery { kind: Some("audit.checkpoint".into()), limit: 10, ..AuditQuery::default() };
    assert_eq!(store.audit_records(&query).await.unwrap().len(), 2, "each checkpoint is noted in the chain");
    let query = AuditQuery { after: 2, limit: 2, ..AuditQuery::default() };
    assert_eq!(store.audit_records(&query).await.unwrap().iter().map(|r| r.seq).collect::<Vec<_>>(), [3, 4]);
    let query = AuditQuery { from: Some("2999-01-01T00:00:00Z".into()), limit: 10, ..AuditQuery::default() };
    assert!(store.audit_records(&query).await.unwrap().is_empty());

    // Retention of 30 days: only what the year-old checkpoint covers goes.
    let pruned = store.prune_audit(SystemTime::now() - Duration::from_secs(30 * 86_400)).await.unwrap();
    assert_eq!(pruned, 5);
    let rest = store.audit_records(&AuditQuery { limit: 100, ..AuditQuery::default() }).await.unwrap();
    assert_eq!(rest.first().map(|r| (r.seq, r.prev.clone())), Some((6, old.hash.clone())));
    let checkpoints = store.checkpoints(0, 10).await.unwrap();
    assert_eq!(checkpoints.len(), 2, "checkpoints are never pruned");
    let summary = esignd::audit::trail::verify_trail_with(&rest, &checkpoints, None, |_| Ok(())).unwrap();
    assert_eq!(summary.records, rest.len() as u64);
    assert_eq!(store.prune_audit(SystemTime::now() - Duration::from_secs(86_400)).await.unwrap(), 0);
}

async fn the_first_publications_at_once_all_commit(store: Arc<dyn Store>) {
    // The store's first one-time publications arrive together: whichever starts the grouped
    // writer, none is refused while it starts.
    let published = race(32, |n| {
        let store = Arc::clone(&store);
        async move {
            store.publish_certificate(&certificate(&format!("f{n:03x}")), None, &[event("certificate.issued", n)]).await
        }
    })
    .await;
    assert!(published.iter().all(Result::is_ok), "{published:?}");
    assert_eq!(audit_count(&store, "certificate.issued").await, 32);
}

async fn concurrent_appends_make_one_chain(store: Arc<dyn Store>) {
    // Writers of every kind at once, each appending with its change; one-time certificates
    // among them (PostgreSQL writes those of signatures finished together in one transaction).
    race(16, |n| {
        let store = Arc::clone(&store);
        async move {
            for round in 0..5 {
                let k = n * 10 + round;
                let row = session(k, SessionState::Pending);
                assert!(
                    store
                        .create_session(&row, &[event("session.created", k), event("consent.given", k)])
                        .await
                        .unwrap()
                );
                store.record(&[event("request.refused", k)]).await.unwrap();
                let signed =
                    [event("certificate.issued", k), event("signature.produced", k), event("key.destroyed", k)];
                store.publish_certificate(&certificate(&format!("{k:04x}")), None, &signed).await.unwrap();
            }
        }
    })
    .await;
    let records = store.audit_records(&AuditQuery { limit: 10_000, ..AuditQuery::default() }).await.unwrap();
    assert_eq!(records.len(), 16 * 5 * 6);
    assert!(records.iter().enumerate().all(|(i, r)| r.seq == i as u64 + 1), "no gaps, no repeats");
    let summary = esignd::audit::trail::verify_trail_with(&records, &[], None, |_| Ok(())).unwrap();
    assert_eq!(summary.records, 480);
    // A session's two records, and a signature's three, stay together: each caller's records
    // were appended in one transaction, in its order.
    for pair in records.windows(2).filter(|w| w[0].kind == "session.created") {
        assert_eq!(pair[1].kind, "consent.given");
        assert_eq!(pair[0].fields["correlationId"], pair[1].fields["correlationId"]);
    }
    for three in records.windows(3).filter(|w| w[0].kind == "certificate.issued") {
        assert_eq!([three[1].kind.as_str(), three[2].kind.as_str()], ["signature.produced", "key.destroyed"]);
        assert!(three.iter().all(|r| r.fields["correlationId"] == three[0].fields["correlationId"]));
    }
    // Every certificate was published with its records.
    for k in (0..16).flat_map(|n| (0..5).map(move |round| n * 10 + round)) {
        assert!(store.certificate(&format!("{k:04x}")).await.unwrap().is_some(), "certificate {k:04x}");
    }
}
