//! `StatsReading`: one sample of the engine's stats stream for a container, as the figures
//! `docker stats` shows (CPU %, memory without page cache, network and block IO totals).

use bollard::models::{ContainerCpuStats, ContainerStatsResponse};

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct StatsReading {
    /// CPU use since the engine's previous sample, 100 = one core; `None` when there is no
    /// previous sample (the first of a stream).
    pub cpu_percent: Option<f64>,
    /// Memory in use, page cache excluded.
    pub memory_bytes: u64,
    /// The memory limit the engine reports (the host's memory when unlimited).
    pub memory_limit_bytes: Option<u64>,
    /// Bytes received and sent over every interface, since the container started.
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    /// Bytes read from and written to block devices, since the container started.
    pub read_bytes: u64,
    pub write_bytes: u64,
    pub pids: Option<u64>,
}

impl StatsReading {
    pub(super) fn from_response(response: &ContainerStatsResponse) -> StatsReading {
        let memory = response.memory_stats.clone().unwrap_or_default();
        let usage = memory.usage.unwrap_or(0);
        let cache = memory
            .stats
            .as_ref()
            .and_then(|stats| {
                // cgroup v1 reports `total_inactive_file`, v2 `inactive_file`.
                stats
                    .get("total_inactive_file")
                    .or_else(|| stats.get("inactive_file"))
                    .copied()
            })
            .unwrap_or(0);
        let (mut rx_bytes, mut tx_bytes) = (0, 0);
        for network in response.networks.iter().flat_map(|n| n.values()) {
            rx_bytes += network.rx_bytes.unwrap_or(0);
            tx_bytes += network.tx_bytes.unwrap_or(0);
        }
        let (mut read_bytes, mut write_bytes) = (0, 0);
        let entries = response
            .blkio_stats
            .as_ref()
            .and_then(|blkio| blkio.io_service_bytes_recursive.as_ref());
        for entry in entries.into_iter().flatten() {
            let value = entry.value.unwrap_or(0);
            match entry.op.as_deref().map(str::to_ascii_lowercase).as_deref() {
                Some("read") => read_bytes += value,
                Some("write") => write_bytes += value,
                _ => {}
            }
        }
        StatsReading {
            cpu_percent: cpu_percent(response.cpu_stats.as_ref(), response.precpu_stats.as_ref()),
            memory_bytes: usage.saturating_sub(if cache < usage { cache } else { 0 }),
            memory_limit_bytes: memory.limit.filter(|limit| *limit > 0),
            rx_bytes,
            tx_bytes,
            read_bytes,
            write_bytes,
            pids: response.pids_stats.as_ref().and_then(|pids| pids.current),
        }
    }
}

/// The container's share of the machine's CPU time between two samples, scaled to cores.
fn cpu_percent(now: Option<&ContainerCpuStats>, before: Option<&ContainerCpuStats>) -> Option<f64> {
    let (now, before) = (now?, before?);
    let total = |stats: &ContainerCpuStats| stats.cpu_usage.as_ref()?.total_usage;
    let (used_now, used_before) = (total(now)?, total(before)?);
    let (system_now, system_before) = (now.system_cpu_usage?, before.system_cpu_usage?);
    if used_before == 0 && system_before == 0 {
        return None;
    }
    let system = system_now.checked_sub(system_before).filter(|d| *d > 0)?;
    let used = used_now.saturating_sub(used_before);
    let cpus = now
        .online_cpus
        .map(u64::from)
        .or_else(|| {
            now.cpu_usage
                .as_ref()
                .and_then(|usage| usage.percpu_usage.as_ref())
                .map(|per| per.len() as u64)
        })
        .filter(|cpus| *cpus > 0)
        .unwrap_or(1);
    Some(used as f64 / system as f64 * cpus as f64 * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stats document as Docker 20.10 sends it on cgroup v1 (trimmed).
    const SAMPLE: &str = r#"{
        "read": "2024-01-01T00:00:02Z", "preread": "2024-01-01T00:00:01Z",
        "pids_stats": {"current": 3},
        "blkio_stats": {"io_service_bytes_recursive": [
            {"major": 8, "minor": 0, "op": "Read", "value": 4096},
            {"major": 8, "minor": 0, "op": "Write", "value": 8192},
            {"major": 8, "minor": 0, "op": "Total", "value": 12288}
        ]},
        "cpu_stats": {"cpu_usage": {"total_usage": 3000000000}, "system_cpu_usage": 20000000000, "online_cpus": 2},
        "precpu_stats": {"cpu_usage": {"total_usage": 2500000000}, "system_cpu_usage": 18000000000, "online_cpus": 2},
        "memory_stats": {"usage": 10485760, "limit": 67108864, "stats": {"total_inactive_file": 2097152}},
        "networks": {"eth0": {"rx_bytes": 1000, "tx_bytes": 2000}, "eth1": {"rx_bytes": 10, "tx_bytes": 20}}
    }"#;

    #[test]
    fn reads_what_docker_stats_shows() {
        let response: ContainerStatsResponse = serde_json::from_str(SAMPLE).unwrap();
        let reading = StatsReading::from_response(&response);
        // 0.5 s of CPU over 2 s of machine time on 2 CPUs: half a core.
        assert_eq!(reading.cpu_percent, Some(50.0));
        assert_eq!(reading.memory_bytes, 8 << 20);
        assert_eq!(reading.memory_limit_bytes, Some(64 << 20));
        assert_eq!((reading.rx_bytes, reading.tx_bytes), (1010, 2020));
        assert_eq!((reading.read_bytes, reading.write_bytes), (4096, 8192));
        assert_eq!(reading.pids, Some(3));
    }

    #[test]
    fn the_first_sample_has_no_cpu_figure() {
        let mut response: ContainerStatsResponse = serde_json::from_str(SAMPLE).unwrap();
        response.precpu_stats = Some(ContainerCpuStats::default());
        assert_eq!(StatsReading::from_response(&response).cpu_percent, None);
        let empty = StatsReading::from_response(&ContainerStatsResponse::default());
        assert_eq!(empty, StatsReading::default());
    }
}
