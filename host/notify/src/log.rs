//! `kind = "log"`: one JSON line per notification on stdout or stderr, for log shippers
//! and for trying routes out before wiring a real receiver.
//!
//! ```toml
//! [notify.console]
//! kind = "log"
//! stream = "stdout"    # or "stderr"
//! ```

use std::io::Write;

use super::{FieldError, Fields, Notification, Provider, SendContext, SendError, SendFuture};

#[derive(Debug)]
pub struct Log {
    stderr: bool,
}

impl Log {
    pub fn parse(f: &Fields) -> Result<Log, FieldError> {
        let stderr = match f.opt_str("stream")?.as_deref() {
            None | Some("stdout") => false,
            Some("stderr") => true,
            Some(_) => return Err(FieldError::new("stream", "expected \"stdout\" or \"stderr\"")),
        };
        Ok(Log { stderr })
    }
}

impl Provider for Log {
    fn kind(&self) -> &'static str {
        "log"
    }

    fn send<'a>(&'a self, n: &'a Notification, cx: &'a SendContext) -> SendFuture<'a> {
        Box::pin(async move {
            let mut line = serde_json::json!({ "notification": n, "delivery": cx.delivery });
            line["message"] = n.headline().into();
            let mut text = line.to_string();
            text.push('\n');
            // One write call per line, so lines from concurrent sends never interleave.
            let res = if self.stderr {
                std::io::stderr().lock().write_all(text.as_bytes())
            } else {
                std::io::stdout().lock().write_all(text.as_bytes())
            };
            res.map_err(|e| SendError::retry(format!("cannot write the log line: {e}")))
        })
    }
}
