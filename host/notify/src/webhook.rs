//! `kind = "webhook"`: POSTs the [`Notification`] as JSON. The reference provider: copy
//! this module to add one (parse the fields, send, say which kinds you want).
//!
//! ```toml
//! [notify.hooks]
//! kind = "webhook"
//! url = { env = "HOOK_URL" }                  # a secret reference, or a string
//! headers = { "X-Team" = "ops" }              # optional
//! secret = { file = "/run/secrets/hook" }     # optional: HMAC-SHA256 signature header
//! ```
//!
//! Headers sent: `Content-Type: application/json`, `User-Agent: picket/VERSION`,
//! `X-Picket-Event` (the kind), `X-Picket-Delivery` (the outbox id, the same on every
//! retry), and with `secret`, `X-Picket-Signature: sha256=HEX` — the HMAC-SHA256 of the
//! exact body bytes under the secret, as GitHub signs its webhooks.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{FieldError, Fields, Notification, Provider, SendContext, SendFuture, check_response};

pub struct Webhook {
    url: url::Url,
    headers: Vec<(String, String)>,
    secret: Option<String>,
}

// By hand: the URL and secret must never reach a log.
impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook").field("host", &self.url.host_str()).field("signed", &self.secret.is_some()).finish()
    }
}

/// `sha256=HEX` of `body` under `secret`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

impl Webhook {
    pub fn parse(f: &Fields) -> Result<Webhook, FieldError> {
        let url = f.url("url", None)?;
        let headers = f.string_map("headers")?;
        for (name, value) in &headers {
            if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() || reqwest::header::HeaderValue::from_str(value).is_err() {
                return Err(FieldError::new("headers", format!("`{name}` is not a valid HTTP header")));
            }
        }
        let secret = f.opt_str("secret")?;
        if secret.as_deref() == Some("") {
            return Err(FieldError::new("secret", "must not be empty"));
        }
        Ok(Webhook { url, headers, secret })
    }
}

impl Provider for Webhook {
    fn kind(&self) -> &'static str {
        "webhook"
    }

    fn send<'a>(&'a self, n: &'a Notification, cx: &'a SendContext) -> SendFuture<'a> {
        Box::pin(async move {
            let body = serde_json::to_vec(n).expect("notification serializes");
            let mut req = cx
                .http
                .post(self.url.clone())
                .header("content-type", "application/json")
                .header("x-picket-event", n.kind.as_str())
                .header("x-picket-delivery", cx.delivery.to_string());
            for (k, v) in &self.headers {
                req = req.header(k, v);
            }
            if let Some(secret) = &self.secret {
                req = req.header("x-picket-signature", signature(secret, &body));
            }
            check_response(req.body(body).send().await).await
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn signature_matches_a_known_vector() {
        // RFC 4231 test case 2.
        assert_eq!(
            super::signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
