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
