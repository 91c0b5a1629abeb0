//! The delivery worker: takes due rows from the outbox, sends each through its channel,
//! and records the outcome — delivered, retry later (exponential backoff), or failed.
//!
//! At-least-once: a row is marked delivered only after the receiver said yes, so a crash
//! between the two sends it again after restart; receivers that deduplicate on the
//! incident's key (PagerDuty, Alertmanager) see it once. Rows of one incident go to one
//! channel in order: the outbox hands out only the oldest pending row per
//! (channel, dedup key), and a row in flight blocks the rest of its key here.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use super::router::NotifyPlan;
use super::{Channel, Notification, Provider, SendContext, SendError};
use picket_store::journal::{Attempt, AttemptOutcome, Journal, OutboxRow};
use picket_store::now_ms;

/// The longest one send may take before it counts as a failed attempt.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// How many sends run at once.
const IN_FLIGHT: usize = 16;
/// The longest the worker sleeps without looking (retries due, rows added elsewhere).
const IDLE_POLL: Duration = Duration::from_secs(1);

/// Delivery counters for /metrics, by channel.
#[derive(Debug, Default)]
pub struct Stats {
    pub delivered: Mutex<BTreeMap<String, u64>>,
    pub failed_attempts: Mutex<BTreeMap<String, u64>>,
    pub given_up: Mutex<BTreeMap<String, u64>>,
}

/// Each channel's provider, built from its validated fields once and again only when a
/// reload changes the channel.
#[derive(Default)]
pub struct Providers(Mutex<BTreeMap<String, Built>>);

/// A provider and the channel it was built from.
type Built = (Channel, Arc<dyn Provider>);

impl Providers {
    /// The provider for `channel`. Building cannot fail for a channel that config
    /// validated; if it does anyway, that delivery fails for good with the reason.
    fn get(&self, channel: &Channel) -> Result<Arc<dyn Provider>, SendError> {
        let mut built = self.0.lock().expect("lock");
        if let Some((c, p)) = built.get(&channel.name)
            && c == channel
        {
            return Ok(p.clone());
        }
        let p = super::provider(channel).map_err(|e| SendError::fatal(format!("[notify.{}]: {}", channel.name, e.message)))?;
        built.insert(channel.name.clone(), (channel.clone(), p.clone()));
        Ok(p)
    }
}

fn bump(m: &Mutex<BTreeMap<String, u64>>, key: &str) {
    *m.lock().expect("lock").entry(key.to_string()).or_default() += 1;
}

pub struct Delivery {
    /// Providers built from the plan's channels, rebuilt when a reload changes one.
    pub providers: Providers,
    pub journal: Arc<Journal>,
    pub plan: watch::Receiver<Arc<NotifyPlan>>,
    pub wake: Arc<Notify>,
    pub stats: Arc<Stats>,
    pub http: reqwest::Client,
}

/// The HTTP client every provider shares: no redirects (a webhook that redirects is
/// misconfigured, and following it could leak the body elsewhere), bounded time.
pub fn http_client() -> reqwest::Client {
    // The TLS config every picket client uses: OS store plus bundled roots.
    picket_tls::reqwest_builder()
        .user_agent(concat!("picket/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .timeout(SEND_TIMEOUT)
        .build()
        .expect("HTTP client")
}

type Done = (OutboxRow, Result<(), SendError>, super::RetryPolicy);

impl Delivery {
    /// Runs until `stop` fires; sends in flight are given up to `SEND_TIMEOUT` to finish.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut in_flight: HashSet<i64> = HashSet::new();
        let mut busy_keys: HashSet<(String, String)> = HashSet::new();
        let mut sends: JoinSet<Done> = JoinSet::new();
        loop {
            if *stop.borrow() {
                break;
            }
            if sends.len() < IN_FLIGHT {
                let j = self.journal.clone();
                let due = tokio::task::spawn_blocking(move || j.due(now_ms(), IN_FLIGHT * 4)).await;
                match due {
                    Ok(Ok(rows)) => {
                        for row in rows {
                            if sends.len() >= IN_FLIGHT {
                                break;
                            }
                            let key = (row.provider.clone(), row.dedup_key.clone());
                            if in_flight.contains(&row.id) || busy_keys.contains(&key) {
                                continue;
                            }
                            if let Some(done) = self.start(&row, &mut sends) {
                                self.finish(vec![done]).await;
                                continue;
                            }
                            in_flight.insert(row.id);
                            busy_keys.insert(key);
                        }
                    }
                    Ok(Err(e)) => tracing::error!("cannot read the outbox: {e}"),
                    Err(e) => tracing::error!("outbox reader: {e}"),
                }
            }
            let sleep = {
                let j = self.journal.clone();
                let next = tokio::task::spawn_blocking(move || j.next_due_ms()).await.ok().and_then(Result::ok).flatten();
                let wait = next.map(|n| Duration::from_millis((n - now_ms()).max(0) as u64)).unwrap_or(IDLE_POLL);
                // Rows due but waiting behind a send of their incident: look again soon.
                wait.clamp(Duration::from_millis(20), IDLE_POLL)
            };
            tokio::select! {
                Some(done) = sends.join_next(), if !sends.is_empty() => {
                    // Every send that is done by now is recorded in one transaction.
                    let mut all: Vec<Done> = done.into_iter().collect();
                    while let Some(more) = sends.try_join_next() {
                        all.extend(more);
                    }
                    for d in &all {
                        in_flight.remove(&d.0.id);
                        busy_keys.remove(&(d.0.provider.clone(), d.0.dedup_key.clone()));
                    }
                    self.finish(all).await;
                }
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(sleep) => {}
                _ = stop.changed() => {}
            }
        }
        // Let sends already on the wire finish and be recorded, so a clean stop does not
        // resend them after restart.
        let deadline = tokio::time::sleep(SEND_TIMEOUT);
        tokio::pin!(deadline);
        while !sends.is_empty() {
            tokio::select! {
                Some(Ok(done)) = sends.join_next() => self.finish(vec![done]).await,
                _ = &mut deadline => break,
            }
        }
    }

    /// Starts one send, or returns at once the outcome for a row that cannot be sent.
    fn start(&self, row: &OutboxRow, sends: &mut JoinSet<Done>) -> Option<Done> {
        let plan = self.plan.borrow().clone();
        let Some(channel) = plan.channels.get(&row.provider).cloned() else {
            let e = SendError::fatal(format!("no [notify.{}] in the configuration any more", row.provider));
            return Some((row.clone(), Err(e), super::RetryPolicy::default()));
        };
        let note: Notification = match serde_json::from_str(&row.body) {
            Ok(n) => n,
            Err(e) => return Some((row.clone(), Err(SendError::fatal(format!("unreadable notification: {e}"))), channel.retry)),
        };
        let provider = self.providers.get(&channel);
        let (row, http) = (row.clone(), self.http.clone());
        sends.spawn(async move {
            let cx = SendContext { http, delivery: row.id };
            let res = match provider {
                Err(e) => Err(e),
                Ok(provider) => match tokio::time::timeout(SEND_TIMEOUT, provider.send(&note, &cx)).await {
                    Ok(r) => r,
                    Err(_) => Err(SendError::retry(format!("no answer within {}s", SEND_TIMEOUT.as_secs()))),
                },
            };
            (row, res, channel.retry)
        });
        None
    }

    async fn finish(&self, done: Vec<Done>) {
        let now = now_ms();
        let mut outcomes = Vec::with_capacity(done.len());
        for (row, res, retry) in done {
            let attempts = row.attempts + 1;
            let channel = row.provider.as_str();
            let outcome = match res {
                Ok(()) => {
                    tracing::info!(channel, check = %row.check, incident = row.incident, kind = %row.kind, attempts, "notification delivered");
                    bump(&self.stats.delivered, channel);
                    AttemptOutcome::Delivered
                }
                Err(e) => {
                    bump(&self.stats.failed_attempts, channel);
                    let next = now + retry.delay(attempts).as_millis() as i64;
                    let give_up = !e.retryable || next - row.created_ms > retry.give_up.as_millis() as i64;
                    if give_up {
                        bump(&self.stats.given_up, channel);
                        tracing::error!(channel, check = %row.check, incident = row.incident, kind = %row.kind, attempts, "notification failed for good: {}", e.message);
                    } else {
                        tracing::warn!(channel, check = %row.check, incident = row.incident, kind = %row.kind, attempts, retry_in_ms = next - now, "notification not delivered: {}", e.message);
                    }
                    if give_up {
                        AttemptOutcome::Failed { error: e.message }
                    } else {
                        AttemptOutcome::Retry { error: e.message, next_ms: next }
                    }
                }
            };
            outcomes.push(Attempt { id: row.id, attempts, outcome });
        }
        let j = self.journal.clone();
        match tokio::task::spawn_blocking(move || j.record_attempts(&outcomes, now)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!("cannot record delivery outcomes: {e}"),
            Err(e) => tracing::error!("cannot record delivery outcomes: {e}"),
        }
    }
}
