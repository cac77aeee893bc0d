//! LATENCY: the latency monitor (events at least `latency-monitor-threshold` ms long) and the
//! per-command latency histograms, as Redis 7's `latency.c` reports them.
//!
//! Each shard records its own events ("command" for slow commands, "fast-command" for slow
//! commands flagged fast, as Redis's `call()` does); LATENCY LATEST / HISTORY / RESET merge the
//! shards' series. A series holds one sample per second (the worst of that second) and at most
//! 160 of them (Redis's LATENCY_TS_LEN).

use std::collections::BTreeMap;

use bytes::Bytes;

use super::stats::{bucket_bound_us, CommandTotals};
use crate::protocol::reply::Reply;

/// Redis's LATENCY_TS_LEN.
const SERIES_LEN: usize = 160;

/// One sample: Unix time in seconds and the latency in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub time: u64,
    pub latency_ms: u64,
}

/// One event's history on one shard.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    /// Oldest first.
    pub samples: Vec<Sample>,
    pub max_ms: u64,
}

/// One shard's latency events by name.
#[derive(Debug, Default)]
pub struct LatencyMonitor {
    events: BTreeMap<&'static str, Series>,
}

impl LatencyMonitor {
    /// Redis's `latencyAddSample`: one sample per second, the worst one.
    pub fn add_sample(&mut self, event: &'static str, time: u64, latency_ms: u64) {
        let series = self.events.entry(event).or_default();
        series.max_ms = series.max_ms.max(latency_ms);
        match series.samples.last_mut() {
            Some(last) if last.time == time => last.latency_ms = last.latency_ms.max(latency_ms),
            _ => {
                series.samples.push(Sample { time, latency_ms });
                if series.samples.len() > SERIES_LEN {
                    series.samples.remove(0);
                }
            }
        }
    }

    /// A copy of every series.
    pub fn series(&self) -> Vec<(String, Series)> {
        self.events
            .iter()
            .map(|(name, series)| (name.to_string(), series.clone()))
            .collect()
    }

    /// Forgets the named events (every event when `names` is empty); returns the names forgotten.
    pub fn reset(&mut self, names: &[String]) -> Vec<String> {
        let forgotten: Vec<String> = self
            .events
            .keys()
            .filter(|name| names.is_empty() || names.iter().any(|n| n.eq_ignore_ascii_case(name)))
            .map(|name| name.to_string())
            .collect();
        self.events
            .retain(|name, _| !forgotten.iter().any(|f| f == name));
        forgotten
    }
}

/// Merges the shards' series of each event: samples of the same second keep the worst.
pub fn merge(shards: Vec<Vec<(String, Series)>>) -> BTreeMap<String, Series> {
    let mut merged: BTreeMap<String, BTreeMap<u64, u64>> = BTreeMap::new();
    let mut max: BTreeMap<String, u64> = BTreeMap::new();
    for (name, series) in shards.into_iter().flatten() {
        let worst = max.entry(name.clone()).or_default();
        *worst = (*worst).max(series.max_ms);
        let samples = merged.entry(name).or_default();
        for sample in series.samples {
            let at = samples.entry(sample.time).or_default();
            *at = (*at).max(sample.latency_ms);
        }
    }
    merged
        .into_iter()
        .map(|(name, samples)| {
            let mut samples: Vec<Sample> = samples
                .into_iter()
                .map(|(time, latency_ms)| Sample { time, latency_ms })
                .collect();
            if samples.len() > SERIES_LEN {
                samples.drain(..samples.len() - SERIES_LEN);
            }
            let max_ms = max.get(&name).copied().unwrap_or(0);
            (name, Series { samples, max_ms })
        })
        .collect()
}

/// LATENCY LATEST: per event, its name, the time and latency of the latest sample, and the
/// all-time maximum.
pub fn latest_reply(events: &BTreeMap<String, Series>) -> Reply {
    Reply::Array(
        events
            .iter()
            .filter_map(|(name, series)| {
                let last = series.samples.last()?;
                Some(Reply::Array(vec![
                    Reply::Bulk(Bytes::from(name.clone())),
                    Reply::Integer(last.time as i64),
                    Reply::Integer(last.latency_ms as i64),
                    Reply::Integer(series.max_ms as i64),
                ]))
            })
            .collect(),
    )
}

/// `LATENCY HISTORY <event>`: `[time, latency]` pairs, oldest first; empty for an unknown event.
pub fn history_reply(series: Option<&Series>) -> Reply {
    Reply::Array(
        series
            .map(|series| {
                series
                    .samples
                    .iter()
                    .map(|s| {
                        Reply::Array(vec![
                            Reply::Integer(s.time as i64),
                            Reply::Integer(s.latency_ms as i64),
                        ])
                    })
                    .collect()
            })
            .unwrap_or_default(),
    )
}

/// LATENCY HISTOGRAM [command ...]: per command, `calls` and `histogram_usec`, a map from each
/// power-of-two bucket bound (us) that holds samples to the cumulative count up to it (Redis's
/// `fillCommandCDF`). Unknown names and commands never called are left out.
pub fn histogram_reply(totals: &[CommandTotals], wanted: &[Bytes]) -> Reply {
    let selected = totals.iter().filter(|t| {
        wanted.is_empty()
            || wanted
                .iter()
                .any(|w| w.eq_ignore_ascii_case(t.name.as_bytes()))
    });
    Reply::Map(
        selected
            .map(|t| {
                let mut cumulative = 0;
                let mut points = Vec::new();
                for (i, count) in t.buckets.iter().enumerate() {
                    if *count == 0 {
                        continue;
                    }
                    cumulative += count;
                    let bound = bucket_bound_us(i).unwrap_or(1 << (super::stats::BUCKETS - 1));
                    points.push((
                        Reply::Integer(bound as i64),
                        Reply::Integer(cumulative as i64),
                    ));
                }
                (
                    Reply::Bulk(Bytes::from(t.name)),
                    Reply::Map(vec![
                        (
                            Reply::Bulk(Bytes::from_static(b"calls")),
                            Reply::Integer(t.calls as i64),
                        ),
                        (
                            Reply::Bulk(Bytes::from_static(b"histogram_usec")),
                            Reply::Map(points),
                        ),
                    ]),
                )
            })
            .collect(),
    )
}

/// LATENCY DOCTOR's text: Redis's report, reduced to the events and their worst latency.
pub fn doctor_text(events: &BTreeMap<String, Series>) -> String {
    if events.is_empty() {
        return "Dave, no latency spike was observed during the lifetime of this Redis instance, \
                not in the slightest bit. I honestly think you ought to sleep tonight.\n"
            .to_string();
    }
    let mut text = String::from("Dave, I have observed latency spikes in this Redis instance.\n\n");
    for (i, (name, series)) in events.iter().enumerate() {
        text.push_str(&format!(
            "{}. {}: {} latency spikes (worst {}ms).\n",
            i + 1,
            name,
            series.samples.len(),
            series.max_ms
        ));
    }
    text
}

pub const HELP: &[&str] = &[
    "DOCTOR",
    "    Return a human readable latency analysis report.",
    "HISTORY <event>",
    "    Return time-latency samples for the <event> class.",
    "LATEST",
    "    Return the latest latency samples for all events.",
    "RESET [<event> ...]",
    "    Reset latency data of one or more <event> classes.",
    "    (default: reset all data for all event classes)",
    "HISTOGRAM [COMMAND ...]",
    "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
    "    If no commands are specified then all histograms are replied.",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_sample_per_second_keeping_the_worst() {
        let mut monitor = LatencyMonitor::default();
        monitor.add_sample("command", 100, 20);
        monitor.add_sample("command", 100, 50);
        monitor.add_sample("command", 100, 30);
        monitor.add_sample("command", 101, 10);
        let series = &monitor.series()[0].1;
        assert_eq!(
            series.samples,
            vec![
                Sample {
                    time: 100,
                    latency_ms: 50
                },
                Sample {
                    time: 101,
                    latency_ms: 10
                }
            ]
        );
        assert_eq!(series.max_ms, 50);
    }

    #[test]
    fn merge_and_reset() {
        let mut a = LatencyMonitor::default();
        let mut b = LatencyMonitor::default();
        a.add_sample("command", 100, 20);
        b.add_sample("command", 100, 40);
        b.add_sample("fast-command", 99, 5);
        let merged = merge(vec![a.series(), b.series()]);
        assert_eq!(merged["command"].samples.len(), 1);
        assert_eq!(merged["command"].max_ms, 40);
        assert_eq!(merged["fast-command"].samples[0].time, 99);
        assert_eq!(b.reset(&["COMMAND".to_string()]), vec!["command"]);
        assert_eq!(b.reset(&[]), vec!["fast-command"]);
    }
}
