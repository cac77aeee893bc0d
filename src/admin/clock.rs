//! The clock that times every command: the CPU's time-stamp counter where it runs at a constant
//! rate (x86_64 with `constant_tsc`), else `Instant`.
//!
//! Reading the TSC costs a few nanoseconds; `Instant::now()` costs a clock_gettime call, measured
//! at about 60 ns on the development VM, and every command reads the clock twice. Ticks become
//! nanoseconds through a rate measured against `Instant` at start-up and refined by the watchdog
//! thread as time goes by (the longer the span, the better the estimate); shards only load it.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

pub struct Clock {
    /// Time zero, as an `Instant` and in ticks.
    pub epoch: Instant,
    epoch_ticks: u64,
    tsc: bool,
    /// Nanoseconds per tick, as f64 bits.
    ns_per_tick: AtomicU64,
}

/// Whether the TSC runs at a constant rate and agrees across cores on this machine: the CPU says
/// so in /proc/cpuinfo, and the kernel, which checks the cores' counters against each other,
/// still uses it as its clock source (a thread may move between cores mid-command).
fn constant_tsc() -> bool {
    let kernel_trusts_it =
        std::fs::read_to_string("/sys/devices/system/clocksource/clocksource0/current_clocksource")
            .is_ok_and(|source| source.trim() == "tsc");
    cfg!(target_arch = "x86_64")
        && kernel_trusts_it
        && std::fs::read_to_string("/proc/cpuinfo")
            .map(|info| {
                info.lines()
                    .find(|line| line.starts_with("flags"))
                    .is_some_and(|flags| {
                        flags.split_whitespace().any(|f| f == "constant_tsc")
                            && flags.split_whitespace().any(|f| f == "nonstop_tsc")
                    })
            })
            .unwrap_or(false)
}

impl Clock {
    /// A clock calibrated over a couple of milliseconds.
    pub fn new() -> Clock {
        let tsc = constant_tsc();
        let epoch = Instant::now();
        let mut clock = Clock {
            epoch,
            epoch_ticks: 0,
            tsc,
            ns_per_tick: AtomicU64::new(1f64.to_bits()),
        };
        clock.epoch_ticks = clock.ticks();
        if tsc {
            std::thread::sleep(Duration::from_millis(2));
            clock.calibrate();
        }
        clock
    }

    /// The current reading, in ticks.
    #[inline]
    pub fn ticks(&self) -> u64 {
        #[cfg(target_arch = "x86_64")]
        if self.tsc {
            // SAFETY: RDTSC has no preconditions on x86_64.
            return unsafe { core::arch::x86_64::_rdtsc() };
        }
        self.epoch.elapsed().as_nanos() as u64
    }

    fn rate(&self) -> f64 {
        f64::from_bits(self.ns_per_tick.load(Relaxed))
    }

    /// Nanoseconds between two readings.
    #[inline]
    pub fn nanos_between(&self, from: u64, to: u64) -> u64 {
        (to.saturating_sub(from) as f64 * self.rate()) as u64
    }

    /// Nanoseconds from the epoch to a reading (comparable with `epoch.elapsed()`).
    #[inline]
    pub fn nanos_since_epoch(&self, reading: u64) -> u64 {
        self.nanos_between(self.epoch_ticks, reading)
    }

    /// Measures the tick rate over the whole time since the epoch.
    pub fn calibrate(&self) {
        if !self.tsc {
            return;
        }
        let ticks = self.ticks().saturating_sub(self.epoch_ticks);
        let nanos = self.epoch.elapsed().as_nanos() as f64;
        if ticks > 0 && nanos > 0.0 {
            self.ns_per_tick
                .store((nanos / ticks as f64).to_bits(), Relaxed);
        }
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_convert_to_wall_time() {
        let clock = Clock::new();
        let start = clock.ticks();
        let wall = Instant::now();
        std::thread::sleep(Duration::from_millis(20));
        let measured = clock.nanos_between(start, clock.ticks());
        let real = wall.elapsed().as_nanos() as u64;
        let error = measured.abs_diff(real) as f64 / real as f64;
        assert!(error < 0.05, "measured {measured} ns, real {real} ns");
        let since = clock.nanos_since_epoch(clock.ticks());
        let real_since = clock.epoch.elapsed().as_nanos() as u64;
        assert!(since.abs_diff(real_since) < real_since / 20 + 1_000_000);
    }
}
