//! The calls the reference device makes to esignd: enrolment, wallet binding, and the device
//! API (poll, answer).

use std::time::Duration;

use hyper::Method;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName};
use serde::Deserialize;
use serde_json::{Value, json};

use super::DeviceClientError;
use crate::service::devices::binding::Possession;

/// esignd, as the device sees it.
#[derive(Clone, Debug)]
pub struct Server {
    url: String,
    /// Where requests go: the public URL, or one daemon's address behind it.
    base: String,
    http: crate::outbound::HttpClient,
}

/// A certified device key.
#[derive(Clone, Debug)]
pub struct Certified {
    /// The pseudonym (or walletUserId) the device signs under.
    pub pseudonym: String,
    /// The certificate, PEM.
    pub certificate_pem: String,
}

/// A signing request as the device API lists it.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SigningRequest {
    /// What to answer to.
    pub request_id: String,
    /// What to show the user.
    pub data_to_be_displayed: String,
    /// `SHA2-256`...
    pub hash_type: String,
    /// The document digest, base64.
    pub hash: String,
    /// The DER signed attributes to sign, base64.
    pub signed_attributes: String,
    /// `ecdsa-with-SHA256`, `sha384WithRSAEncryption`...
    pub signature_algorithm: String,
    /// Until when an answer is taken.
    pub expires_at: String,
}

impl Server {
    /// esignd at `url` (its public URL, e.g. `http://127.0.0.1:8080`).
    pub fn new(url: &str) -> Self {
        let url = url.trim_end_matches('/').to_owned();
        Self { base: url.clone(), url, http: crate::outbound::HttpClient::new() }
    }

    /// The same server, reached at one daemon `host_port` (same scheme) instead of the public
    /// URL's host.
    #[must_use]
    pub fn connecting_to(mut self, host_port: &str) -> Self {
        let scheme = self.url.split("://").next().unwrap_or("http");
        self.base = format!("{scheme}://{host_port}");
        self
    }

    /// Its public URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        headers: Vec<(HeaderName, String)>,
        body: Option<&Value>,
        timeout: Duration,
    ) -> Result<Value, DeviceClientError> {
        let mut headers = headers;
        if body.is_some() {
            headers.push((CONTENT_TYPE, "application/json".into()));
        }
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let response = self.http.send(method, &format!("{}{path}", self.base), &headers, bytes, timeout).await?;
        let value: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
        if !response.status.is_success() {
            let message = value["status"]["message"].as_str().unwrap_or("no message").to_owned();
            return Err(DeviceClientError::Refused { status: response.status.as_u16(), message });
        }
        Ok(value)
    }

    /// `POST /v1/cert/create`: certify the key in `csr_pem` for the user of `id_token`.
    ///
    /// # Errors
    /// Transport errors and refusals.
    pub async fn enroll(
        &self,
        id_token: &str,
        csr_pem: &str,
        scd_type: &str,
        pseudonym: Option<&str>,
    ) -> Result<Certified, DeviceClientError> {
        let mut body = json!({
            "CSR": csr_pem,
            "SCDType": scd_type,
            "SCDRemoteId": format!("esign-device-{}", crate::ids::random_hex(4)),
            "SCDKeyId": 0,
        });
        if let Some(pseudonym) = pseudonym {
            body["pseodonym"] = pseudonym.into();
        }
        let headers = vec![(HeaderName::from_static("x-govstack-authenticationtoken"), id_token.to_owned())];
        let answer = self.call(Method::POST, "/v1/cert/create", headers, Some(&body), Duration::from_secs(30)).await?;
        Ok(Certified {
            pseudonym: answer["pseudonym"].as_str().unwrap_or_default().to_owned(),
            certificate_pem: answer["certificate"].as_str().unwrap_or_default().to_owned(),
        })
    }

    /// `PATCH /v1/cert/{certificate_id}`: `code` (`ACTIVATE`, `SUSPEND`, `REVOKE`) for the user
    /// of `id_token`, with the device's `proof` for it when given; the new status code.
    ///
    /// # Errors
    /// Transport errors and refusals.
    pub async fn change(
        &self,
        id_token: &str,
        certificate_id: &str,
        code: &str,
        proof: Option<&str>,
    ) -> Result<String, DeviceClientError> {
        let mut body = json!({ "status": { "code": code, "message": "by esign-device" } });
        if let Some(proof) = proof {
            body["deviceProof"] = proof.into();
        }
        let headers = vec![(HeaderName::from_static("x-govstack-authenticationtoken"), id_token.to_owned())];
        let path = format!("/v1/cert/{certificate_id}");
        let answer = self.call(Method::PATCH, &path, headers, Some(&body), Duration::from_secs(30)).await?;
        Ok(answer["status"]["code"].as_str().unwrap_or_default().to_owned())
    }

    /// `POST /binding/wallet-binding`: bind `public_jwk` to the individual, proving who they are
    /// with an ID-provider token (challenge `IDT`), as binding partner `partner` (id, API key).
    ///
    /// # Errors
    /// Transport errors; e-Signet error codes as [`DeviceClientError::Refused`].
    pub async fn bind(
        &self,
        id_token: &str,
        individual_id: &str,
        partner: (&str, &str),
        public_jwk: Value,
        key_proof: impl FnOnce(&Possession<'_>) -> Result<String, DeviceClientError>,
    ) -> Result<Certified, DeviceClientError> {
        let request_time = crate::vocabulary::rfc3339(std::time::SystemTime::now());
        let (partner_id, partner_api_key) = partner;
        let nonce = crate::service::devices::binding::nonce(id_token);
        let proof = key_proof(&Possession { individual_id, partner_id, request_time: &request_time, nonce: &nonce })?;
        let body = json!({
            "requestTime": request_time,
            "request": {
                "individualId": individual_id,
                "authFactorType": "WLA",
                "format": "jwt",
                "challengeList": [{ "authFactorType": "IDT", "challenge": id_token, "format": "jwt" }],
                "publicKey": public_jwk,
                "keyProof": proof,
            }
        });
        let headers = vec![
            (HeaderName::from_static("partner-id"), partner_id.to_owned()),
            (HeaderName::from_static("partner-api-key"), partner_api_key.to_owned()),
        ];
        let answer =
            self.call(Method::POST, "/binding/wallet-binding", headers, Some(&body), Duration::from_secs(30)).await?;
        if let Some(error) = answer["errors"].as_array().and_then(|errors| errors.first()) {
            return Err(DeviceClientError::Refused {
                status: 200,
                message: format!(
                    "{}: {}",
                    error["errorCode"].as_str().unwrap_or("?"),
                    error["errorMessage"].as_str().unwrap_or("")
                ),
            });
        }
        Ok(Certified {
            pseudonym: answer["response"]["walletUserId"].as_str().unwrap_or_default().to_owned(),
            certificate_pem: answer["response"]["certificate"].as_str().unwrap_or_default().to_owned(),
        })
    }

    /// `GET /v1/device/requests`, waiting up to `wait`.
    ///
    /// # Errors
    /// Transport errors and refusals.
    pub async fn poll(&self, jwt: &str, wait: Duration) -> Result<Vec<SigningRequest>, DeviceClientError> {
        let path = format!("/v1/device/requests?wait={}", wait.as_secs());
        let headers = vec![(AUTHORIZATION, format!("Bearer {jwt}"))];
        let answer = self.call(Method::GET, &path, headers, None, wait + Duration::from_secs(10)).await?;
        serde_json::from_value(answer["requests"].clone()).map_err(|e| DeviceClientError::Refused {
            status: 200,
            message: format!("the request list does not fit the device API: {e}"),
        })
    }

    /// `POST /v1/device/requests/{id}` with a signature (base64 DER) or a refusal.
    ///
    /// # Errors
    /// Transport errors and refusals.
    pub async fn answer(
        &self,
        jwt: &str,
        request_id: &str,
        signature: Option<&[u8]>,
    ) -> Result<String, DeviceClientError> {
        use base64::Engine as _;
        let body = match signature {
            Some(signature) => json!({ "signature": base64::engine::general_purpose::STANDARD.encode(signature) }),
            None => json!({ "refused": true }),
        };
        let headers = vec![(AUTHORIZATION, format!("Bearer {jwt}"))];
        let path = format!("/v1/device/requests/{request_id}");
        let answer = self.call(Method::POST, &path, headers, Some(&body), Duration::from_secs(30)).await?;
        Ok(answer["status"].as_str().unwrap_or_default().to_owned())
    }
}
