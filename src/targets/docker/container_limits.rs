//! `ContainerLimits`: some of a container's resource limits, as the engine's HostConfig
//! holds them. One type for three uses: what inspect read (every field), what a fault changes
//! (the fields it sets), and what a revert restores (the previous values of those fields).
//!
//! The engine's update API reads 0 as "leave unchanged", so a limit that was unset (0) cannot
//! be written back as 0. Reverting writes the engine's explicit "no limit" instead (`-1` for
//! the CPU quota and swap, the kernel's unlimited value for memory, the default weight for
//! block IO), which the kernel treats exactly like the unset limit; every other value is
//! restored exactly.

use serde::{Deserialize, Serialize};

/// The CFS period the kernel uses when none is set, in microseconds.
pub const DEFAULT_CPU_PERIOD_US: i64 = 100_000;
/// The engine refuses quotas under 1 ms.
const MIN_CPU_QUOTA_US: i64 = 1_000;
/// The kernel's "no memory limit" (`PAGE_COUNTER_MAX` pages of 4 KiB), which it reads back
/// as unlimited on cgroup v1 and as `max` on v2.
pub const UNLIMITED_MEMORY: i64 = 0x7FFF_FFFF_FFFF_F000;
/// The block IO weight a container has when none is set.
pub const DEFAULT_BLKIO_WEIGHT: u16 = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ContainerLimits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nano_cpus: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_quota: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_period: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_swap: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blkio_weight: Option<u16>,
}

/// One limit field, for comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    NanoCpus,
    CpuQuota,
    CpuPeriod,
    Memory,
    MemorySwap,
    BlkioWeight,
}

const FIELDS: [Field; 6] = [
    Field::NanoCpus,
    Field::CpuQuota,
    Field::CpuPeriod,
    Field::Memory,
    Field::MemorySwap,
    Field::BlkioWeight,
];

impl ContainerLimits {
    /// The change that caps the container at `cores`, given its current limits: through
    /// NanoCpus when it already has a NanoCpus limit (the engine forbids mixing the two), else
    /// through the CFS quota under its current period, which unlike NanoCpus can be unset
    /// again afterwards.
    pub fn cpu_change(cores: f64, current: &ContainerLimits) -> ContainerLimits {
        if current.nano_cpus.unwrap_or(0) > 0 {
            return ContainerLimits {
                nano_cpus: Some((cores * 1e9).round() as i64),
                ..ContainerLimits::default()
            };
        }
        let period = current
            .cpu_period
            .filter(|period| *period > 0)
            .unwrap_or(DEFAULT_CPU_PERIOD_US);
        let quota = ((cores * period as f64).round() as i64).max(MIN_CPU_QUOTA_US);
        ContainerLimits {
            cpu_quota: Some(quota),
            ..ContainerLimits::default()
        }
    }

    /// The change that caps memory at `bytes`, swap included (so the cap is real).
    pub fn memory_change(bytes: i64) -> ContainerLimits {
        ContainerLimits {
            memory: Some(bytes),
            memory_swap: Some(bytes),
            ..ContainerLimits::default()
        }
    }

    /// The change that sets the block IO weight.
    pub fn blkio_change(weight: u16) -> ContainerLimits {
        ContainerLimits {
            blkio_weight: Some(weight),
            ..ContainerLimits::default()
        }
    }

    /// `current`'s values of the fields this change sets: what a revert restores.
    pub fn previous_in(&self, current: &ContainerLimits) -> ContainerLimits {
        let mut previous = ContainerLimits::default();
        for field in FIELDS {
            if self.get(field).is_some() {
                previous.set(field, Some(current.get(field).unwrap_or(0)));
            }
        }
        previous
    }

    /// Whether `current` holds every field of `self` (the same value, or an equivalent "no
    /// limit"): then there is nothing to change.
    pub fn holds_in(&self, current: &ContainerLimits) -> bool {
        FIELDS.iter().all(|&field| match self.get(field) {
            None => true,
            Some(wanted) => equivalent(field, wanted, current.get(field).unwrap_or(0)),
        })
    }

    /// The update requests that write these values back, in order. A memory limit that was
    /// unlimited, or a swap limit that was unlimited, takes two: the kernel refuses a memory
    /// limit above the current swap limit, and the engine leaves the swap limit alone when it
    /// is told `-1` (unlimited), so both are raised to the kernel's unlimited value first.
    pub fn restore_steps(&self) -> Vec<ContainerLimits> {
        let mut first = ContainerLimits::default();
        let mut second = ContainerLimits::default();
        for field in FIELDS {
            let Some(value) = self.get(field) else {
                continue;
            };
            let writable = match field {
                Field::CpuQuota if value <= 0 => -1,
                Field::Memory if value <= 0 => UNLIMITED_MEMORY,
                Field::MemorySwap if value <= 0 => {
                    second.memory_swap = Some(-1);
                    UNLIMITED_MEMORY
                }
                Field::BlkioWeight if value == 0 => i64::from(DEFAULT_BLKIO_WEIGHT),
                // NanoCpus and the period are only ever changed when they were set.
                _ => value,
            };
            first.set(field, Some(writable));
        }
        if let (Some(memory), None) = (first.memory, first.memory_swap) {
            // Never leave swap below memory: restore it too when only memory is restored.
            first.memory_swap = Some(memory);
        }
        [first, second]
            .into_iter()
            .filter(|step| *step != ContainerLimits::default())
            .collect()
    }

    /// The restore steps still to run when the limits read `current`: all of them, unless
    /// `current` is already equivalent; then only a last step whose exact values are not in
    /// place (pfi was killed between the two steps: memory and swap read the kernel's
    /// unlimited value, and swap still has to be written back as `-1`, the engine's "no
    /// limit" the container had), or none.
    pub fn remaining_steps(&self, current: &ContainerLimits) -> Vec<ContainerLimits> {
        let steps = self.restore_steps();
        if !self.holds_in(current) {
            return steps;
        }
        match steps.as_slice() {
            [_, .., last] if !last.exactly_in(current) => vec![*last],
            _ => Vec::new(),
        }
    }

    /// Whether `current` holds every field of `self` with exactly the same value.
    fn exactly_in(&self, current: &ContainerLimits) -> bool {
        FIELDS
            .iter()
            .all(|&field| self.get(field).is_none() || self.get(field) == current.get(field))
    }

    /// Whether no field is set.
    pub fn is_empty(&self) -> bool {
        *self == ContainerLimits::default()
    }

    /// `NanoCpus=… CpuQuota=…` for the fields that are set.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        for field in FIELDS {
            if let Some(value) = self.get(field) {
                parts.push(format!("{}={value}", field.name()));
            }
        }
        parts.join(" ")
    }

    fn get(&self, field: Field) -> Option<i64> {
        match field {
            Field::NanoCpus => self.nano_cpus,
            Field::CpuQuota => self.cpu_quota,
            Field::CpuPeriod => self.cpu_period,
            Field::Memory => self.memory,
            Field::MemorySwap => self.memory_swap,
            Field::BlkioWeight => self.blkio_weight.map(i64::from),
        }
    }

    fn set(&mut self, field: Field, value: Option<i64>) {
        match field {
            Field::NanoCpus => self.nano_cpus = value,
            Field::CpuQuota => self.cpu_quota = value,
            Field::CpuPeriod => self.cpu_period = value,
            Field::Memory => self.memory = value,
            Field::MemorySwap => self.memory_swap = value,
            Field::BlkioWeight => {
                self.blkio_weight = value.map(|v| u16::try_from(v.max(0)).unwrap_or(u16::MAX))
            }
        }
    }
}

impl Field {
    fn name(self) -> &'static str {
        match self {
            Field::NanoCpus => "NanoCpus",
            Field::CpuQuota => "CpuQuota",
            Field::CpuPeriod => "CpuPeriod",
            Field::Memory => "Memory",
            Field::MemorySwap => "MemorySwap",
            Field::BlkioWeight => "BlkioWeight",
        }
    }
}

/// Whether two values of a field limit the same: equal, or both "no limit".
fn equivalent(field: Field, a: i64, b: i64) -> bool {
    let unlimited = |v: i64| match field {
        Field::CpuQuota => v <= 0,
        Field::Memory | Field::MemorySwap => v <= 0 || v >= UNLIMITED_MEMORY,
        Field::BlkioWeight => v == 0 || v == i64::from(DEFAULT_BLKIO_WEIGHT),
        Field::NanoCpus | Field::CpuPeriod => v == 0,
    };
    a == b || (unlimited(a) && unlimited(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restore_cut_between_its_two_steps_is_finished() {
        // The container had no memory limit; the fault set 64 MiB.
        let previous = ContainerLimits {
            memory: Some(0),
            memory_swap: Some(0),
            ..ContainerLimits::default()
        };
        let steps = previous.restore_steps();
        assert_eq!(steps.len(), 2);
        let limited = ContainerLimits {
            memory: Some(64 << 20),
            memory_swap: Some(128 << 20),
            ..ContainerLimits::default()
        };
        assert_eq!(previous.remaining_steps(&limited), steps);
        // Killed after the first step: unlimited, but swap reads the kernel's value.
        let cut = ContainerLimits {
            memory: Some(UNLIMITED_MEMORY),
            memory_swap: Some(UNLIMITED_MEMORY),
            ..ContainerLimits::default()
        };
        assert!(previous.holds_in(&cut));
        assert_eq!(previous.remaining_steps(&cut), vec![steps[1]]);
        let done = ContainerLimits {
            memory: Some(UNLIMITED_MEMORY),
            memory_swap: Some(-1),
            ..ContainerLimits::default()
        };
        assert!(previous.remaining_steps(&done).is_empty());
        // A one-step restore that holds has nothing left.
        let cpu = ContainerLimits {
            nano_cpus: Some(1_000_000_000),
            ..ContainerLimits::default()
        };
        assert!(cpu.remaining_steps(&cpu).is_empty());
    }

    fn limits(nano: i64, quota: i64, period: i64, memory: i64, swap: i64) -> ContainerLimits {
        ContainerLimits {
            nano_cpus: Some(nano),
            cpu_quota: Some(quota),
            cpu_period: Some(period),
            memory: Some(memory),
            memory_swap: Some(swap),
            blkio_weight: Some(0),
        }
    }

    #[test]
    fn cpu_goes_through_the_quota_unless_nano_cpus_is_set() {
        let unlimited = limits(0, 0, 0, 0, 0);
        let change = ContainerLimits::cpu_change(0.2, &unlimited);
        assert_eq!(change.cpu_quota, Some(20_000));
        assert_eq!(change.nano_cpus, None);
        let with_period = limits(0, 50_000, 50_000, 0, 0);
        assert_eq!(
            ContainerLimits::cpu_change(0.5, &with_period).cpu_quota,
            Some(25_000)
        );
        let nano = limits(1_500_000_000, 0, 0, 0, 0);
        let change = ContainerLimits::cpu_change(0.25, &nano);
        assert_eq!(change.nano_cpus, Some(250_000_000));
        assert_eq!(change.cpu_quota, None);
        assert_eq!(
            ContainerLimits::cpu_change(0.000_1, &unlimited).cpu_quota,
            Some(1_000)
        );
    }

    #[test]
    fn previous_values_are_taken_for_the_changed_fields_only() {
        let current = limits(0, 0, 0, 256 << 20, 512 << 20);
        let change = ContainerLimits::memory_change(64 << 20);
        let previous = change.previous_in(&current);
        assert_eq!(
            previous,
            ContainerLimits {
                memory: Some(256 << 20),
                memory_swap: Some(512 << 20),
                ..ContainerLimits::default()
            }
        );
        assert_eq!(previous.describe(), "Memory=268435456 MemorySwap=536870912");
        assert!(previous.holds_in(&current));
        assert!(!change.holds_in(&current));
    }

    #[test]
    fn set_values_are_restored_exactly_in_one_step() {
        let previous = ContainerLimits {
            memory: Some(256 << 20),
            memory_swap: Some(512 << 20),
            ..ContainerLimits::default()
        };
        assert_eq!(previous.restore_steps(), vec![previous]);
        let nano = ContainerLimits {
            nano_cpus: Some(1_500_000_000),
            ..ContainerLimits::default()
        };
        assert_eq!(nano.restore_steps(), vec![nano]);
    }

    #[test]
    fn unset_values_are_restored_as_the_engines_no_limit() {
        let previous = ContainerLimits {
            cpu_quota: Some(0),
            ..ContainerLimits::default()
        };
        assert_eq!(previous.restore_steps()[0].cpu_quota, Some(-1));
        let previous = ContainerLimits {
            memory: Some(0),
            memory_swap: Some(0),
            ..ContainerLimits::default()
        };
        let steps = previous.restore_steps();
        assert_eq!(steps.len(), 2);
        assert_eq!(steps[0].memory, Some(UNLIMITED_MEMORY));
        assert_eq!(steps[0].memory_swap, Some(UNLIMITED_MEMORY));
        assert_eq!(
            steps[1],
            ContainerLimits {
                memory_swap: Some(-1),
                ..ContainerLimits::default()
            }
        );
        // What the engine shows afterwards counts as the unset limit.
        let after = limits(0, -1, 0, UNLIMITED_MEMORY, -1);
        assert!(previous.holds_in(&after));
        assert!(
            ContainerLimits {
                cpu_quota: Some(0),
                ..ContainerLimits::default()
            }
            .holds_in(&after)
        );
    }

    #[test]
    fn serialises_only_the_fields_set() {
        let change = ContainerLimits::blkio_change(300);
        assert_eq!(
            serde_json::to_string(&change).unwrap(),
            r#"{"blkio_weight":300}"#
        );
        let back: ContainerLimits = serde_json::from_str(r#"{"blkio_weight":300}"#).unwrap();
        assert_eq!(back, change);
        assert!(ContainerLimits::default().is_empty());
    }
}
