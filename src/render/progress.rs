//! Live progress of a walk: one line per cluster on a terminal (what runs, for how long, what
//! waits), plain timestamped lines otherwise.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use slipway_engine::{Action, Observer, Plan, WalkEvent};
use slipway_provider::Address;

use super::Out;

/// Renders walk events; an [`Observer`] for the engine.
pub struct ProgressRenderer {
    live: Option<Live>,
    plain: bool,
}

struct Live {
    bars: BTreeMap<String, ProgressBar>,
    running: Mutex<BTreeMap<Address, (String, Instant)>>,
    /// Resources waiting for others, with what they wait for.
    waiting: Mutex<BTreeMap<Address, Vec<Address>>>,
    /// Resources whose action ended, so waits on them are over.
    ended: Mutex<BTreeSet<Address>>,
    _multi: MultiProgress,
}

impl ProgressRenderer {
    /// A renderer for `plan`: live bars on a terminal, plain lines otherwise, nothing in JSON mode.
    pub fn new(out: &Out, plan: &Plan) -> Self {
        if out.json() || out.quiet {
            return Self {
                live: None,
                plain: false,
            };
        }
        if !out.stderr_is_terminal {
            return Self {
                live: None,
                plain: true,
            };
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(
            "{spinner} {prefix:<20} [{pos}/{len}] {elapsed:>4} {wide_msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
        let mut totals: BTreeMap<String, u64> = BTreeMap::new();
        for action in plan.actions.iter().filter(|a| a.action != Action::NoOp) {
            *totals.entry(action.address.cluster.clone()).or_default() += 1;
        }
        let bars = totals
            .into_iter()
            .map(|(cluster, total)| {
                let bar = multi.add(ProgressBar::new(total));
                bar.set_style(style.clone());
                bar.set_prefix(cluster.clone());
                bar.enable_steady_tick(Duration::from_millis(200));
                (cluster, bar)
            })
            .collect();
        Self {
            live: Some(Live {
                bars,
                running: Mutex::new(BTreeMap::new()),
                waiting: Mutex::new(BTreeMap::new()),
                ended: Mutex::new(BTreeSet::new()),
                _multi: multi,
            }),
            plain: false,
        }
    }

    /// Stops the live display.
    pub fn finish(&self) {
        if let Some(live) = &self.live {
            for bar in live.bars.values() {
                bar.finish();
            }
        }
    }

    fn plain_line(&self, address: &Address, text: &str) {
        let now = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ");
        let _ = writeln!(std::io::stderr().lock(), "{now} {address}: {text}");
    }
}

fn verb(action: Action) -> &'static str {
    match action {
        Action::Create => "creating",
        Action::Update => "updating",
        Action::Replace { .. } => "replacing",
        Action::Delete => "deleting",
        Action::NoOp => "checking",
    }
}

impl Live {
    fn refresh(&self, cluster: &str) {
        let Some(bar) = self.bars.get(cluster) else {
            return;
        };
        let running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let mut parts: Vec<String> = running
            .iter()
            .filter(|(a, _)| a.cluster == cluster)
            .map(|(a, (what, since))| {
                format!(
                    "{what} {}/{} ({}s)",
                    a.kind,
                    a.name,
                    since.elapsed().as_secs()
                )
            })
            .collect();
        if parts.len() > 3 {
            let more = parts.len() - 3;
            parts.truncate(3);
            parts.push(format!("+{more} more"));
        }
        let waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        let mut blocked = waiting.iter().filter(|(a, _)| a.cluster == cluster);
        if let Some((first, on)) = blocked.next() {
            let ended = self.ended.lock().unwrap_or_else(|p| p.into_inner());
            let on = on
                .iter()
                .find(|d| !ended.contains(*d))
                .map(|d| match d.cluster == cluster {
                    true => format!(" on {}/{}", d.kind, d.name),
                    false => format!(" on {d}"),
                })
                .unwrap_or_default();
            parts.push(format!(
                "{} waiting, e.g. {}/{}{on}",
                1 + blocked.count(),
                first.kind,
                first.name
            ));
        }
        bar.set_message(parts.join(", "));
    }
}

impl Observer for ProgressRenderer {
    fn on_event(&self, event: &WalkEvent) {
        if self.plain {
            match event {
                WalkEvent::Started { address, action } => {
                    self.plain_line(address, &format!("{} started", verb(*action)))
                }
                WalkEvent::Progress { address, message } => self.plain_line(address, message),
                WalkEvent::Finished {
                    address,
                    action,
                    elapsed,
                } => self.plain_line(
                    address,
                    &format!("{} done in {:.1}s", verb(*action), elapsed.as_secs_f64()),
                ),
                WalkEvent::Failed {
                    address,
                    action,
                    error,
                } => self.plain_line(
                    address,
                    &format!(
                        "{} failed: {}",
                        verb(*action),
                        super::report::without_address(error, address)
                    ),
                ),
                WalkEvent::Skipped {
                    address, because, ..
                } => self.plain_line(address, &format!("skipped because {because} failed")),
                _ => {}
            }
            return;
        }
        let Some(live) = &self.live else { return };
        match event {
            WalkEvent::Waiting { address, on } => {
                live.waiting
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(address.clone(), on.clone());
                live.refresh(&address.cluster);
            }
            WalkEvent::Started { address, action } => {
                live.waiting
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(address);
                live.running
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(address.clone(), (verb(*action).to_owned(), Instant::now()));
                live.refresh(&address.cluster);
            }
            WalkEvent::Finished { address, .. }
            | WalkEvent::Failed { address, .. }
            | WalkEvent::Skipped { address, .. } => {
                live.running
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(address);
                live.waiting
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(address);
                live.ended
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(address.clone());
                if let Some(bar) = live.bars.get(&address.cluster) {
                    bar.inc(1);
                    if let WalkEvent::Failed { error, .. } = event {
                        bar.println(format!(
                            "✗ {address}: {}",
                            super::report::without_address(error, address)
                        ));
                    }
                }
                live.refresh(&address.cluster);
            }
            WalkEvent::Progress { address, .. } => live.refresh(&address.cluster),
            _ => {}
        }
    }
}
