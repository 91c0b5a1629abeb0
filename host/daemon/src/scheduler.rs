//! The scheduler: one task with a heap of due times. Each turn it dispatches the checks
//! that are due; a check still running from its last turn is skipped and counted rather
//! than queued twice, and a pending check gets extra turns at its `retry_every`.
//!
//! It runs on tokio's clock, so tests drive it with paused time and a scripted
//! [`Execute`]; the daemon plugs in the sandbox runner.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::live::Shared;
use crate::config::CheckSpec;
use crate::result::CheckResult;
use crate::schedule::Clock;
use crate::state::Phase;

/// Runs one check; the daemon's implementation is the sandbox runner.
pub trait Execute: Send + Sync + 'static {
    fn execute(&self, spec: Arc<CheckSpec>) -> Pin<Box<dyn Future<Output = CheckResult> + Send + 'static>>;
}

pub enum Control {
    /// The new set of checks (state already installed in [`Shared`]).
    Reload(Vec<Arc<CheckSpec>>),
    /// Run `check` again at the given time, if it is still the same generation.
    Retry { check: String, generation: u64, at: Instant },
    /// Run `check` at `at` whatever its generation (a recovery's recheck).
    RunAt { check: String, at: Instant },
    /// Stop scheduling; running checks get the grace period.
    Stop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Turn {
    /// A turn of the schedule; firing it books the next one.
    Scheduled,
    /// An extra turn while pending.
    Retry,
}

struct Slot {
    spec: Arc<CheckSpec>,
    generation: u64,
    running: Arc<AtomicBool>,
    next_due: Instant,
}

pub struct Scheduler<E: Execute> {
    exec: Arc<E>,
    shared: Arc<Shared>,
    clock: Clock,
    permits: Arc<Semaphore>,
    slots: HashMap<String, Slot>,
    heap: BinaryHeap<Reverse<(Instant, u64, Turn, String)>>,
    generation: u64,
    ctl_tx: mpsc::UnboundedSender<Control>,
    tasks: JoinSet<()>,
    /// Where checks run: the daemon's worker pool, while the scheduler itself may run on
    /// a thread of its own.
    workers: tokio::runtime::Handle,
}

impl<E: Execute> Scheduler<E> {
    pub fn new(exec: Arc<E>, shared: Arc<Shared>, concurrency: usize, ctl_tx: mpsc::UnboundedSender<Control>) -> Scheduler<E> {
        Scheduler {
            exec,
            shared,
            clock: crate::schedule::clock_now(),
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            slots: HashMap::new(),
            heap: BinaryHeap::new(),
            generation: 0,
            ctl_tx,
            tasks: JoinSet::new(),
            workers: tokio::runtime::Handle::current(),
        }
    }

    /// Replaces the set of checks. Unchanged ones (same fingerprint) keep their place in the
    /// schedule; new and changed ones start at their splayed offset.
    pub fn load(&mut self, specs: Vec<Arc<CheckSpec>>) {
        let now = Instant::now();
        let mut old = std::mem::take(&mut self.slots);
        for spec in specs {
            let slot = match old.remove(&spec.name) {
                Some(mut s) if s.spec.fingerprint == spec.fingerprint => {
                    s.spec = spec;
                    s
                }
                _ => {
                    self.generation += 1;
                    let due = Instant::from_std(spec.schedule.first(&spec.name, &self.clock, now.into_std()));
                    self.heap.push(Reverse((due, self.generation, Turn::Scheduled, spec.name.clone())));
                    Slot { spec, generation: self.generation, running: Arc::new(AtomicBool::new(false)), next_due: due }
                }
            };
            self.slots.insert(slot.spec.name.clone(), slot);
        }
        // Removed checks' heap entries are dropped when they come up.
    }

    /// Runs until told to stop (or `ctl` closes), then waits up to `grace` for running checks.
    pub async fn run(mut self, mut ctl: mpsc::UnboundedReceiver<Control>, grace: Duration) {
        loop {
            while self.tasks.try_join_next().is_some() {}
            let next = self.heap.peek().map(|Reverse((due, ..))| *due);
            tokio::select! {
                biased;
                cmd = ctl.recv() => match cmd {
                    Some(Control::Reload(specs)) => self.load(specs),
                    Some(Control::Retry { check, generation, at }) => {
                        if let Some(slot) = self.slots.get(&check).filter(|s| s.generation == generation && at < s.next_due) {
                            self.heap.push(Reverse((at, slot.generation, Turn::Retry, check)));
                        }
                    }
                    // Always, even with a scheduled run due sooner: a recovery's recheck that
                    // lands after a run inside its grace, or a parent a child waits on.
                    Some(Control::RunAt { check, at }) => {
                        if let Some(slot) = self.slots.get(&check) {
                            self.heap.push(Reverse((at, slot.generation, Turn::Retry, check)));
                        }
                    }
                    Some(Control::Stop) | None => break,
                },
                _ = tokio::time::sleep_until(next.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600))) => self.fire_due(),
            }
        }
        let running = self.tasks.len();
        if running > 0 {
            tracing::info!(running, grace_s = grace.as_secs_f64(), "waiting for running checks");
            if tokio::time::timeout(grace, async { while self.tasks.join_next().await.is_some() {} }).await.is_err() {
                tracing::warn!(abandoned = self.tasks.len(), "shutdown grace over; abandoning running checks");
                self.tasks.abort_all();
            }
        }
    }

    fn fire_due(&mut self) {
        let now = Instant::now();
        while let Some(Reverse((due, generation, turn, name))) = self.heap.peek().cloned() {
            if due > now {
                break;
            }
            self.heap.pop();
            let Some(slot) = self.slots.get_mut(&name).filter(|s| s.generation == generation) else { continue };
            if turn == Turn::Scheduled {
                slot.next_due = Instant::from_std(slot.spec.schedule.next(&name, &self.clock, due.into_std(), now.into_std()));
                self.heap.push(Reverse((slot.next_due, generation, Turn::Scheduled, name.clone())));
            }
            // Lateness as the scheduler sees it: from the due time to the dispatch.
            self.shared.late(now.saturating_duration_since(due));
            if slot.running.swap(true, Ordering::AcqRel) {
                if turn == Turn::Scheduled {
                    tracing::debug!(check = %name, "skipped: still running from its last turn");
                    self.shared.skipped(&name);
                }
                continue;
            }
            let (spec, running, exec, shared) = (slot.spec.clone(), slot.running.clone(), self.exec.clone(), self.shared.clone());
            let (permits, ctl) = (self.permits.clone(), self.ctl_tx.clone());
            self.tasks.spawn_on(
                async move {
                    let _permit = permits.acquire_owned().await.expect("semaphore never closed");
                    // As the check sees it: from its due time to its start, waiting for a free
                    // run slot (and a worker thread) included.
                    shared.started_after(Instant::now().saturating_duration_since(due));
                    let result = exec.execute(spec.clone()).await;
                    let absorbed = shared.absorb(&spec, &result, Utc::now());
                    running.store(false, Ordering::Release);
                    let Some(absorbed) = absorbed else { return };
                    if absorbed.phase == Phase::Pending {
                        let _ = ctl.send(Control::Retry { check: spec.name.clone(), generation, at: Instant::now() + spec.retry_every });
                    }
                    for check in absorbed.run_now {
                        tracing::debug!(check = %check, for_check = %spec.name, "run now: depends_on");
                        let _ = ctl.send(Control::RunAt { check, at: Instant::now() });
                    }
                },
                &self.workers,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::Status;
    use crate::schedule::Schedule;
    use std::sync::Mutex;

    /// Records when each check started, and answers from a script of statuses.
    #[derive(Default)]
    struct Script {
        took: Duration,
        statuses: Mutex<HashMap<String, Vec<Status>>>,
        starts: Mutex<Vec<(String, Instant)>>,
        running: Arc<Mutex<HashMap<String, u32>>>,
        overlap: AtomicBool,
    }

    impl Execute for Script {
        fn execute(&self, spec: Arc<CheckSpec>) -> Pin<Box<dyn Future<Output = CheckResult> + Send + 'static>> {
            self.starts.lock().unwrap().push((spec.name.clone(), Instant::now()));
            let status = self.statuses.lock().unwrap().get_mut(&spec.name).and_then(|s| (!s.is_empty()).then(|| s.remove(0)));
            let n = {
                let mut r = self.running.lock().unwrap();
                let n = r.entry(spec.name.clone()).or_default();
                *n += 1;
                *n
            };
            if n > 1 {
                self.overlap.store(true, Ordering::SeqCst);
            }
            let (took, running) = (self.took, self.running.clone());
            Box::pin(async move {
                tokio::time::sleep(took).await;
                *running.lock().unwrap().get_mut(&spec.name).unwrap() -= 1;
                let mut r = CheckSpec::synthetic_result(&spec);
                r.status = status.unwrap_or(Status::Ok);
                r.duration = took;
                r
            })
        }
    }

    fn start(script: &Arc<Script>, specs: Vec<Arc<CheckSpec>>) -> (Arc<Shared>, mpsc::UnboundedSender<Control>) {
        let shared = Arc::new(Shared::new(None, Arc::new(crate::store::journal::Journal::memory()), 1));
        shared.install(&specs, &mut HashMap::new());
        let (tx, rx) = mpsc::unbounded_channel();
        let mut s = Scheduler::new(script.clone(), shared.clone(), 64, tx.clone());
        s.load(specs);
        tokio::spawn(s.run(rx, Duration::from_secs(1)));
        (shared, tx)
    }

    fn spec(name: &str, every: u64) -> Arc<CheckSpec> {
        Arc::new(CheckSpec::synthetic(name, Schedule::Every(Duration::from_secs(every))))
    }

    #[tokio::test(start_paused = true)]
    async fn a_thousand_checks_are_splayed_across_their_interval() {
        let script = Arc::new(Script::default());
        let t0 = Instant::now();
        let specs: Vec<_> = (0..1000).map(|i| spec(&format!("check-{i}"), 10)).collect();
        let (_shared, _tx) = start(&script, specs);
        tokio::time::sleep(Duration::from_millis(9_999)).await;
        let starts = script.starts.lock().unwrap().clone();
        assert_eq!(starts.len(), 1000, "each check runs once in its first interval");
        let mut per_100ms = [0u32; 100];
        for (_, at) in &starts {
            per_100ms[((*at - t0).as_millis() / 100) as usize] += 1;
        }
        // Uniform is 10 per 100 ms; nothing like all 1,000 in one instant.
        assert!(per_100ms.iter().all(|&n| n <= 30), "{per_100ms:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_check_is_skipped_not_stacked() {
        let script = Arc::new(Script { took: Duration::from_millis(2_500), ..Script::default() });
        let (shared, _tx) = start(&script, vec![spec("slow", 1)]);
        tokio::time::sleep(Duration::from_secs(20)).await;
        let runs = script.starts.lock().unwrap().len();
        let skipped = shared.checks.lock().unwrap()["slow"].skipped;
        assert!(!script.overlap.load(Ordering::SeqCst), "two runs of one check at once");
        // A 2.5 s run on a 1 s schedule: it starts every third second and skips two turns.
        assert!((6..=8).contains(&runs), "runs {runs}");
        assert!((12..=14).contains(&skipped), "skipped {skipped}");
        assert_eq!(shared.counters.skipped.load(Ordering::Relaxed), skipped);
    }

    #[tokio::test(start_paused = true)]
    async fn pending_checks_retry_sooner_then_fall_back_to_their_schedule() {
        let script = Arc::new(Script::default());
        let mut s = CheckSpec::synthetic("flaky", Schedule::Every(Duration::from_secs(60)));
        s.retry_every = Duration::from_secs(5);
        s.alert.after = 3;
        script.statuses.lock().unwrap().insert("flaky".into(), vec![Status::Critical; 10]);
        let (shared, _tx) = start(&script, vec![Arc::new(s)]);
        let mut events = shared.events.subscribe();
        tokio::time::sleep(Duration::from_secs(180)).await;
        let starts: Vec<Instant> = script.starts.lock().unwrap().iter().map(|(_, t)| *t).collect();
        let gaps: Vec<u64> = starts.windows(2).map(|w| (w[1] - w[0]).as_secs()).collect();
        // Fail (pending) → 5 s → fail (pending) → 5 s → fail: failing; back to the 60 s turn.
        assert_eq!(&gaps[..2], &[5, 5], "{gaps:?}");
        assert!(gaps[2] > 5, "{gaps:?}");
        let e = events.try_recv().unwrap();
        assert_eq!(e.kind.name(), "incident-opened");
        assert_eq!(shared.checks.lock().unwrap()["flaky"].state.phase, Phase::Failing);
    }

    #[tokio::test(start_paused = true)]
    async fn reload_keeps_unchanged_checks_in_place() {
        let script = Arc::new(Script::default());
        let (a, b) = (spec("a", 10), spec("b", 10));
        let (shared, tx) = start(&script, vec![a.clone(), b.clone()]);
        tokio::time::sleep(Duration::from_secs(25)).await;
        let runs_a = shared.checks.lock().unwrap()["a"].state.runs;
        // Reload with "a" unchanged, "b" removed, "c" added.
        let c = spec("c", 10);
        shared.install(&[a.clone(), c.clone()], &mut HashMap::new());
        tx.send(Control::Reload(vec![a.clone(), c])).unwrap();
        tokio::time::sleep(Duration::from_secs(10)).await;
        let checks = shared.checks.lock().unwrap();
        assert_eq!(checks["a"].state.runs, runs_a + 1, "a kept its state and its rhythm");
        assert!(!checks.contains_key("b"));
        assert_eq!(checks["c"].state.runs, 1);
    }

    /// Checks fail while their name is in `down`; every run takes 100 ms.
    #[derive(Default)]
    struct World {
        down: Mutex<std::collections::HashSet<String>>,
    }

    impl Execute for World {
        fn execute(&self, spec: Arc<CheckSpec>) -> Pin<Box<dyn Future<Output = CheckResult> + Send + 'static>> {
            let down = self.down.lock().unwrap().contains(&spec.name);
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let mut r = CheckSpec::synthetic_result(&spec);
                r.status = if down { Status::Critical } else { Status::Ok };
                r
            })
        }
    }

    fn child(name: &str, every: u64, parent: &str) -> Arc<CheckSpec> {
        let mut s = CheckSpec::synthetic(name, Schedule::Every(Duration::from_secs(every)));
        s.depends_on = vec![parent.to_string()];
        s.retry_every = Duration::from_secs(1);
        // Pages on its first failure: nothing gives the parent time to run first.
        s.alert.after = 1;
        Arc::new(s)
    }

    /// Incidents opened and not inhibited (the ones that page), by check.
    fn pages(events: &mut tokio::sync::broadcast::Receiver<crate::events::Event>) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(e) = events.try_recv() {
            let opened = e.kind.name() == "incident-opened";
            // A held incident released when its parent is up pages then.
            let released = e.kind.name() == "still-failing" && !out.contains(&e.check);
            if (opened || released) && !e.inhibited {
                out.push(e.check);
            }
        }
        out
    }

    fn start_world(world: &Arc<World>, specs: Vec<Arc<CheckSpec>>) -> Arc<Shared> {
        let shared = Arc::new(Shared::new(None, Arc::new(crate::store::journal::Journal::memory()), 1));
        shared.install(&specs, &mut HashMap::new());
        let (tx, rx) = mpsc::unbounded_channel();
        let mut s = Scheduler::new(world.clone(), shared.clone(), 64, tx);
        s.load(specs);
        tokio::spawn(s.run(rx, Duration::from_secs(1)));
        shared
    }

    /// The seed runbook's Redis outage: the parent runs every 60 s, its dependents every
    /// second, and all fail at the same instant. Whatever the order of their turns, the
    /// children wait for a fresh parent result: one page, the parent's.
    #[tokio::test(start_paused = true)]
    async fn a_parent_outage_pages_once_whatever_ran_first() {
        let world = Arc::new(World::default());
        let mut redis = CheckSpec::synthetic("redis", Schedule::Every(Duration::from_secs(60)));
        redis.retry_every = Duration::from_secs(5);
        let specs = vec![Arc::new(redis), child("api", 1, "redis"), child("worker", 1, "redis"), child("queue", 2, "redis")];
        let shared = start_world(&world, specs);
        let mut events = shared.events.subscribe();
        tokio::time::sleep(Duration::from_secs(70)).await;
        assert!(pages(&mut events).is_empty());
        world.down.lock().unwrap().extend(["redis", "api", "worker", "queue"].map(String::from));
        tokio::time::sleep(Duration::from_secs(120)).await;
        assert_eq!(pages(&mut events), ["redis"]);
        for c in ["api", "worker", "queue"] {
            let state = shared.checks.lock().unwrap()[c].state.clone();
            assert!(state.inhibited && state.incident.is_some(), "{c}: {state:?}");
        }
        // Redis is back, the children are not: each is re-run at once and pages on its own.
        world.down.lock().unwrap().remove("redis");
        tokio::time::sleep(Duration::from_secs(130)).await;
        let mut p = pages(&mut events);
        p.sort();
        assert_eq!(p, ["api", "queue", "worker"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_child_whose_parent_is_up_pages_as_usual() {
        let world = Arc::new(World::default());
        let shared = start_world(&world, vec![spec("redis", 60), child("api", 1, "redis")]);
        let mut events = shared.events.subscribe();
        tokio::time::sleep(Duration::from_secs(70)).await;
        world.down.lock().unwrap().insert("api".into());
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(pages(&mut events), ["api"]);
        assert!(!shared.checks.lock().unwrap()["api"].state.inhibited);
    }

    #[tokio::test(start_paused = true)]
    async fn a_chain_pages_only_at_its_root() {
        let world = Arc::new(World::default());
        let mut a = CheckSpec::synthetic("a", Schedule::Every(Duration::from_secs(60)));
        a.retry_every = Duration::from_secs(5);
        let shared = start_world(&world, vec![Arc::new(a), child("b", 10, "a"), child("c", 1, "b")]);
        let mut events = shared.events.subscribe();
        tokio::time::sleep(Duration::from_secs(70)).await;
        world.down.lock().unwrap().extend(["a", "b", "c"].map(String::from));
        tokio::time::sleep(Duration::from_secs(120)).await;
        assert_eq!(pages(&mut events), ["a"]);
    }
}
