//! Talking to a running daemon's API from the CLI (`picket silence`, `picket recover`):
//! one client, one way to say the daemon cannot be reached, one way to report its refusal.

use super::exit;

/// An HTTP client for the daemon's API.
pub fn client() -> reqwest::Client {
    picket_tls::reqwest_builder().timeout(std::time::Duration::from_secs(10)).build().expect("HTTP client")
}

/// Sends `req` to the daemon at `base`; the JSON body of a success, else what to exit
/// with (the daemon's error printed).
pub async fn send(req: reqwest::RequestBuilder, base: &str) -> Result<serde_json::Value, u8> {
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) => {
            eprintln!(
                "picket: cannot reach the daemon at {base}: {} (is `picket run` running? set --api or PICKET_API)",
                crate::notify::describe_reqwest(e)
            );
            return Err(exit::INTERNAL);
        }
    };
    let status = resp.status();
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    if !status.is_success() {
        eprintln!("picket: {}", body["error"].as_str().unwrap_or(status.as_str()));
        return Err(exit::USAGE);
    }
    Ok(body)
}
