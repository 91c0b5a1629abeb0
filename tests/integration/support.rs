//! What the daemon-level notification tests share: an HTTP service whose health the test
//! switches, and a check file's start with one webhook channel as the critical route.

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use picket_testkit::servers::{HttpServer, Reply};

/// How long any of these tests waits for a positive marker.
pub const SOON: Duration = Duration::from_secs(30);

/// An HTTP service whose health answer the test switches.
pub struct App {
    pub server: HttpServer,
    status: Arc<AtomicU16>,
}

impl App {
    pub fn start(status: u16) -> App {
        let s = Arc::new(AtomicU16::new(status));
        let st = s.clone();
        let server = HttpServer::start(move |_| {
            let code = st.load(Ordering::SeqCst);
            Reply::status(code, if code == 200 { "ok" } else { "unavailable" })
        });
        App { server, status: s }
    }

    pub fn set(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }
}

/// `[defaults]` and one webhook channel `hook` as the critical route; checks follow.
pub fn with_hook(every: &str, alert: &str, hook: &str) -> String {
    format!(
        "[defaults]\nevery = \"{every}\"\nalert = {{ {alert} }}\n\n[notify.hook]\nkind = \"webhook\"\nurl = \"{hook}\"\nretry_first = \"100ms\"\nretry_max = \"400ms\"\n\n[route.critical]\nnotify = [\"hook\"]\n"
    )
}

/// A check that fails, recovers, fails and recovers: two incidents, four notifications.
pub fn flapping_app_checks(hook: &str, app: &str) -> String {
    with_hook("200ms", "after = 1, resolve_after = 1, flap_history = 0", hook)
        + &format!("\n[[check]]\nname = \"api\"\nplugin = \"http\"\ntarget = \"{app}\"\n")
}
