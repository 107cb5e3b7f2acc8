//! The RFC 3161 client against TSAs that misbehave: a wrong nonce, a wrong imprint, a
//! rejection, garbage, silence, a closed port, an untrusted certificate — each refused with a
//! clear error — and fail-over to the next URL.

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use common::fake_tsa::{Reply, serve};
use der::asn1::{OctetString, Uint};
use der::{Decode, Encode};
use esignd::config::KeyLabels;
use esignd::hsm::KeyStore;
use esignd::hsm::memory::MemoryKeyStore;
use esignd::preflight;
use esignd::provision::{DevPlan, provision_dev};
use esignd::tsa::Error;
use esignd::tsa::asn1::{PkiStatusInfo, TimeStampReq, TimeStampResp, failure, status};
use esignd::tsa::builtin::BuiltinTsa;
use esignd::tsa::client::{TransportError, TsaClient};
use x509_cert::Certificate;

/// A real TSA (esignd's built-in one on an in-memory key store) to build answers from.
#[derive(Clone)]
struct Signer {
    store: MemoryKeyStore,
    tsa: Arc<BuiltinTsa>,
    chain: Vec<Certificate>,
}

fn labels() -> KeyLabels {
    KeyLabels { ca: "ca".into(), tsa: "tsa".into(), service: "service".into(), ..KeyLabels::default() }
}

fn signer() -> Signer {
    let store = MemoryKeyStore::new();
    let (_, inventory) = provision_dev(&store.session().unwrap(), &labels(), &DevPlan::default()).unwrap();
    let tsa = BuiltinTsa::new(inventory.tsa_certificate.clone(), "1.2.3.4.1".parse().unwrap(), Duration::from_secs(1))
        .unwrap();
    Signer { store, tsa: Arc::new(tsa), chain: inventory.ca_chain }
}

impl Signer {
    /// A granted response to `request`, after `tamper` changed what gets stamped.
    fn answer(&self, request: &[u8], tamper: impl FnOnce(&mut TimeStampReq)) -> Vec<u8> {
        let mut req = TimeStampReq::from_der(request).unwrap();
        tamper(&mut req);
        let session = self.store.session().unwrap();
        let key = preflight::check(&session, &labels()).unwrap().tsa_key;
        let token = self.tsa.stamp(&session, &key, req.message_imprint, req.nonce, true, SystemTime::now()).unwrap();
        TimeStampResp {
            status: PkiStatusInfo { status: status::GRANTED, status_string: None, fail_info: None },
            time_stamp_token: Some(der::Any::from_der(&token).unwrap()),
        }
        .to_der()
        .unwrap()
    }
}

fn client(urls: Vec<String>, anchors: Vec<Certificate>) -> TsaClient {
    TsaClient::new(urls, Duration::from_millis(700), anchors)
}

/// The single failure of a one-URL client.
async fn only_failure(client: &TsaClient) -> Error {
    match client.timestamp(b"signature value").await {
        Err(Error::AllFailed(mut failures)) => *failures.remove(0).1,
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[tokio::test]
async fn a_good_token_is_accepted() {
    let signer = signer();
    let answering = signer.clone();
    let tsa = serve(move |body| Reply::Body(answering.answer(body, |_| {})));
    let stamped = client(vec![tsa.url.clone()], signer.chain.clone()).timestamp(b"signature value").await.unwrap();
    assert_eq!(stamped.url, tsa.url);
    assert!(stamped.tst_info.nonce.is_some());
}

#[tokio::test]
async fn a_wrong_nonce_is_refused() {
    let signer = signer();
    let answering = signer.clone();
    let tsa =
        serve(move |body| Reply::Body(answering.answer(body, |req| req.nonce = Some(Uint::new(&[0x42; 8]).unwrap()))));
    let err = only_failure(&client(vec![tsa.url], signer.chain)).await;
    assert!(matches!(err, Error::NonceMismatch), "{err}");
    assert!(err.to_string().contains("nonce"));
}

#[tokio::test]
async fn a_wrong_imprint_is_refused() {
    let signer = signer();
    let answering = signer.clone();
    let tsa = serve(move |body| {
        Reply::Body(
            answering.answer(body, |req| req.message_imprint.hashed_message = OctetString::new([9u8; 32]).unwrap()),
        )
    });
    let err = only_failure(&client(vec![tsa.url], signer.chain)).await;
    assert!(matches!(err, Error::ImprintMismatch), "{err}");
}

#[tokio::test]
async fn a_rejection_is_reported_with_its_reason() {
    let tsa = serve(|_| {
        let response = TimeStampResp {
            status: PkiStatusInfo {
                status: status::REJECTION,
                status_string: Some(vec!["policy not offered".into()]),
                fail_info: Some(failure::bit(failure::UNACCEPTED_POLICY)),
            },
            time_stamp_token: None,
        };
        Reply::Body(response.to_der().unwrap())
    });
    let err = only_failure(&client(vec![tsa.url], signer().chain)).await;
    assert_eq!(err.to_string(), "the TSA answered rejection (unacceptedPolicy): policy not offered");
}

#[tokio::test]
async fn garbage_is_refused() {
    let tsa = serve(|_| Reply::Body(b"<html>502 Bad Gateway</html>".to_vec()));
    let err = only_failure(&client(vec![tsa.url], signer().chain)).await;
    assert!(matches!(err, Error::Transport(TransportError::NotTimeStampResp)), "{err}");
}

#[tokio::test]
async fn silence_times_out() {
    let tsa = serve(|_| Reply::Hang);
    let started = std::time::Instant::now();
    let err = only_failure(&client(vec![tsa.url], signer().chain)).await;
    assert!(matches!(err, Error::Transport(TransportError::Timeout(_))), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn a_closed_port_is_a_transport_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let err = only_failure(&client(vec![format!("http://127.0.0.1:{port}/tsa")], signer().chain)).await;
    assert!(matches!(err, Error::Transport(TransportError::Request(_))), "{err}");
}

#[tokio::test]
async fn a_token_from_an_untrusted_tsa_is_refused() {
    let signer = signer();
    let answering = signer.clone();
    let tsa = serve(move |body| Reply::Body(answering.answer(body, |_| {})));
    let stranger = self::signer().chain; // another CA entirely
    let err = only_failure(&client(vec![tsa.url], stranger)).await;
    assert!(matches!(err, Error::Untrusted(_)), "{err}");
}

#[tokio::test]
async fn the_next_tsa_is_tried_when_one_fails() {
    let signer = signer();
    let answering = signer.clone();
    let garbage = serve(|_| Reply::Body(vec![0x30, 0x03, 0x02, 0x01]));
    let silent = serve(|_| Reply::Hang);
    let good = serve(move |body| Reply::Body(answering.answer(body, |_| {})));
    let client = client(vec![garbage.url, silent.url, good.url.clone()], signer.chain);
    let stamped = client.timestamp(b"signature value").await.unwrap();
    assert_eq!(stamped.url, good.url);

    let all_bad = TsaClient::new(
        vec![serve(|_| Reply::Hang).url, serve(|_| Reply::Body(vec![1])).url],
        Duration::from_millis(300),
        vec![],
    );
    let message = all_bad.timestamp(b"x").await.unwrap_err().to_string();
    assert!(
        message.starts_with("no TSA gave a valid time-stamp:")
            && message.contains("no answer within")
            && message.contains("not a TimeStampResp"),
        "{message}"
    );
}
