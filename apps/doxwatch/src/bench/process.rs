//! What a service process costs, read from Linux's /proc: CPU time (user + system) from
//! `/proc/<pid>/stat`, resident memory now and at its peak (`VmRSS`, `VmHWM`) from
//! `/proc/<pid>/status`. On a machine without /proc every figure is `None`: "not measured".

use serde::Serialize;

/// One reading of a process.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reading {
    /// User plus system CPU time so far, in seconds.
    pub cpu_seconds: Option<f64>,
    /// Resident memory now, in bytes.
    pub rss_bytes: Option<u64>,
    /// The most resident memory the process has had, in bytes.
    pub peak_rss_bytes: Option<u64>,
}

/// Reads process `pid`; what cannot be read is `None`.
pub fn read(pid: u32) -> Reading {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok();
    let field =
        |name: &str| status.as_deref().and_then(|text| kib_field(text, name)).map(|kib| kib.saturating_mul(1024));
    Reading {
        cpu_seconds: std::fs::read_to_string(format!("/proc/{pid}/stat")).ok().and_then(|text| cpu_seconds(&text)),
        rss_bytes: field("VmRSS:"),
        peak_rss_bytes: field("VmHWM:"),
    }
}

/// `utime + stime` of a `/proc/<pid>/stat` line, in seconds. The command name (field 2) is in
/// parentheses and may hold spaces, so fields are counted from the last `)`.
fn cpu_seconds(stat: &str) -> Option<f64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, so utime (14) and stime (15) are at 11 and 12 here.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime.saturating_add(stime) as f64 / clock_ticks_per_second()?)
}

fn clock_ticks_per_second() -> Option<f64> {
    // SAFETY: sysconf has no preconditions; it answers -1 for a name it does not know.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (ticks > 0).then_some(ticks as f64)
}

/// The whole machine's CPU time so far, from the first line of `/proc/stat`: busy (every state
/// but idle and waiting for I/O), in seconds summed over the cores. What the services,
/// the store's own processes (PostgreSQL's backends) and the load's client spent together.
#[derive(Debug, Clone, Copy, Default)]
pub struct MachineReading {
    pub busy_seconds: f64,
}

/// Reads the machine's CPU time; `None` without /proc.
pub fn machine() -> Option<MachineReading> {
    machine_from(&std::fs::read_to_string("/proc/stat").ok()?)
}

fn machine_from(stat: &str) -> Option<MachineReading> {
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let ticks: Vec<u64> = line.split_whitespace().map(|f| f.parse().ok()).collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal [guest guest_nice, already counted in user
    // and nice].
    let total: u64 = ticks.iter().take(8).fold(0u64, |sum, t| sum.saturating_add(*t));
    let waiting = ticks.get(3)?.saturating_add(*ticks.get(4)?);
    let per_second = clock_ticks_per_second()?;
    Some(MachineReading { busy_seconds: total.saturating_sub(waiting) as f64 / per_second })
}

/// How many of the machine's cores were busy between two readings, on average.
pub fn busy_cores(before: MachineReading, after: MachineReading, wall_seconds: f64) -> f64 {
    (after.busy_seconds - before.busy_seconds).max(0.0) / wall_seconds.max(1e-9)
}

/// The value in KiB of a `Name:   1234 kB` line.
fn kib_field(status: &str, name: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with(name))?;
    line[name.len()..].split_whitespace().next()?.parse().ok()
}

/// What one service cost over a measured stretch, as the report shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceCost {
    pub service: String,
    /// CPU seconds the service used during the measured load; `None` when not measured.
    pub cpu_seconds: Option<f64>,
    /// Its resident memory once started, before any load, in MiB.
    pub idle_rss_mib: Option<f64>,
    /// The most resident memory it had over the whole run, in MiB.
    pub peak_rss_mib: Option<f64>,
}

impl ServiceCost {
    /// The cost between `before` and `after` (the same process), with its idle reading.
    pub fn between(service: &str, idle: Reading, before: Reading, after: Reading) -> Self {
        let mib = |bytes: Option<u64>| bytes.map(|b| b as f64 / (1024.0 * 1024.0));
        Self {
            service: service.to_owned(),
            cpu_seconds: before.cpu_seconds.zip(after.cpu_seconds).map(|(b, a)| (a - b).max(0.0)),
            idle_rss_mib: mib(idle.rss_bytes),
            peak_rss_mib: mib(after.peak_rss_bytes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_with_spaces_in_the_name_is_read_from_its_end() {
        let line = "4242 (doxwatch serve) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 1 0 0";
        let ticks = clock_ticks_per_second().expect("sysconf");
        assert_eq!(cpu_seconds(line), Some(300.0 / ticks));
    }

    #[test]
    fn the_machine_is_busy_in_every_state_but_idle_and_waiting() {
        let stat = "cpu  100 20 30 400 50 6 4 0 7 0\ncpu0 50 10 15 200 25 3 2 0 0 0\n";
        let ticks = clock_ticks_per_second().expect("sysconf");
        let read = machine_from(stat).expect("a reading");
        assert_eq!(read.busy_seconds, 160.0 / ticks);
        assert!(machine_from("intr 1 2 3").is_none());
        assert!(machine_from("cpu  1 x 3").is_none());
    }

    #[test]
    fn memory_fields_are_read_in_kib() {
        let status = "Name:\tdoxwatch\nVmHWM:\t   51200 kB\nVmRSS:\t   40960 kB\n";
        assert_eq!(kib_field(status, "VmHWM:"), Some(51200));
        assert_eq!(kib_field(status, "VmRSS:"), Some(40960));
        assert_eq!(kib_field(status, "VmSwap:"), None);
    }

    #[test]
    fn this_process_can_be_read_where_there_is_a_proc() {
        let me = read(std::process::id());
        if std::path::Path::new("/proc/self/stat").exists() {
            assert!(me.cpu_seconds.is_some() && me.rss_bytes.is_some_and(|b| b > 0), "{me:?}");
        }
    }
}
