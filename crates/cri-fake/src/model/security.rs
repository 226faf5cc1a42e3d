//! What a container's processes may do: capabilities (the runtime's default set, what the
//! security context adds and drops, everything when privileged) and seccomp (the runtime's
//! default filter, none, or a localhost profile whose `SCMP_ACT_ERRNO` rules the fake reads),
//! and how `/proc/self/status` shows them.

use cri_api_v1 as api;

/// Capability names and numbers (Linux's `capability.h`).
const CAPS: &[(&str, u32)] = &[
    ("CHOWN", 0),
    ("DAC_OVERRIDE", 1),
    ("DAC_READ_SEARCH", 2),
    ("FOWNER", 3),
    ("FSETID", 4),
    ("KILL", 5),
    ("SETGID", 6),
    ("SETUID", 7),
    ("SETPCAP", 8),
    ("LINUX_IMMUTABLE", 9),
    ("NET_BIND_SERVICE", 10),
    ("NET_BROADCAST", 11),
    ("NET_ADMIN", 12),
    ("NET_RAW", 13),
    ("IPC_LOCK", 14),
    ("IPC_OWNER", 15),
    ("SYS_MODULE", 16),
    ("SYS_RAWIO", 17),
    ("SYS_CHROOT", 18),
    ("SYS_PTRACE", 19),
    ("SYS_PACCT", 20),
    ("SYS_ADMIN", 21),
    ("SYS_BOOT", 22),
    ("SYS_NICE", 23),
    ("SYS_RESOURCE", 24),
    ("SYS_TIME", 25),
    ("SYS_TTY_CONFIG", 26),
    ("MKNOD", 27),
    ("LEASE", 28),
    ("AUDIT_WRITE", 29),
    ("AUDIT_CONTROL", 30),
    ("SETFCAP", 31),
    ("MAC_OVERRIDE", 32),
    ("MAC_ADMIN", 33),
    ("SYSLOG", 34),
    ("WAKE_ALARM", 35),
    ("BLOCK_SUSPEND", 36),
    ("AUDIT_READ", 37),
    ("PERFMON", 38),
    ("BPF", 39),
    ("CHECKPOINT_RESTORE", 40),
];

/// Every capability.
const ALL: u64 = (1 << 41) - 1;

/// What containerd gives a container unless told otherwise.
const DEFAULT: &[&str] = &[
    "CHOWN",
    "DAC_OVERRIDE",
    "FSETID",
    "FOWNER",
    "MKNOD",
    "NET_RAW",
    "SETGID",
    "SETUID",
    "SETFCAP",
    "SETPCAP",
    "NET_BIND_SERVICE",
    "SYS_CHROOT",
    "KILL",
    "AUDIT_WRITE",
];

fn bit(name: &str) -> Option<u64> {
    let name = name.trim_start_matches("CAP_");
    CAPS.iter().find(|c| c.0 == name).map(|c| 1 << c.1)
}

/// Capabilities and seccomp of a container.
#[derive(Debug, Clone, Default)]
pub(crate) struct Security {
    /// The capability set (bounding, permitted and effective alike).
    pub caps: u64,
    /// `/proc/self/status`'s `Seccomp:` (0 none, 2 filter).
    pub seccomp_mode: u8,
    /// The syscalls a localhost profile fails with `EPERM`.
    pub denied_syscalls: Vec<String>,
}

impl Security {
    pub fn new(security: Option<&api::LinuxContainerSecurityContext>) -> Self {
        let privileged = security.is_some_and(|s| s.privileged);
        let mut caps = DEFAULT.iter().filter_map(|c| bit(c)).fold(0, |a, b| a | b);
        if let Some(c) = security.and_then(|s| s.capabilities.as_ref()) {
            if c.add_capabilities.iter().any(|c| c == "ALL") {
                caps = ALL;
            }
            if c.drop_capabilities.iter().any(|c| c == "ALL") {
                caps = 0;
            }
            for add in &c.add_capabilities {
                caps |= bit(add).unwrap_or(0);
            }
            for drop in &c.drop_capabilities {
                caps &= !bit(drop).unwrap_or(0);
            }
        }
        if privileged {
            // Privileged: every capability, and no seccomp filter.
            return Security {
                caps: ALL,
                seccomp_mode: 0,
                denied_syscalls: Vec::new(),
            };
        }
        let profile = security.and_then(|s| s.seccomp.as_ref());
        let (seccomp_mode, denied_syscalls) = match profile {
            None => (0, Vec::new()),
            Some(p) if p.profile_type == api::security_profile::ProfileType::Unconfined as i32 => {
                (0, Vec::new())
            }
            Some(p) if p.profile_type == api::security_profile::ProfileType::Localhost as i32 => {
                let text = std::fs::read_to_string(&p.localhost_ref).unwrap_or_default();
                (2, denied_by(&text))
            }
            Some(_) => (2, Vec::new()),
        };
        Security {
            caps,
            seccomp_mode,
            denied_syscalls,
        }
    }

    pub fn has(&self, cap: &str) -> bool {
        bit(cap).is_some_and(|b| self.caps & b != 0)
    }

    /// Whether the seccomp filter lets `syscall` through.
    pub fn allows(&self, syscall: &str) -> bool {
        !self.denied_syscalls.iter().any(|s| s == syscall)
    }
}

/// The syscalls of a seccomp profile's rules whose action is `SCMP_ACT_ERRNO` (read without
/// a JSON parser: each `{ "names": […], "action": "…" }` object of `syscalls`).
fn denied_by(profile: &str) -> Vec<String> {
    let mut denied = Vec::new();
    let Some(start) = profile.find("\"syscalls\"") else {
        return denied;
    };
    for rule in profile[start..].split('{').skip(1) {
        let rule = rule.split('}').next().unwrap_or("");
        if !rule.contains("SCMP_ACT_ERRNO") {
            continue;
        }
        let Some(names) = rule.find("\"names\"").map(|i| &rule[i + 7..]) else {
            continue;
        };
        let list = names
            .split_once('[')
            .and_then(|(_, r)| r.split_once(']'))
            .map_or("", |(l, _)| l);
        denied.extend(
            list.split(',')
                .map(|n| n.trim().trim_matches('"').to_string())
                .filter(|n| !n.is_empty()),
        );
    }
    denied
}

/// `/proc/self/status` of a process of the container.
pub(crate) fn proc_status(identity: &super::Identity, security: &Security, name: &str) -> String {
    let groups: Vec<String> = identity.groups.iter().map(|g| g.to_string()).collect();
    let caps = format!("{:016x}", security.caps);
    format!(
        "Name:\t{name}\nState:\tR (running)\nUid:\t{u}\t{u}\t{u}\t{u}\nGid:\t{g}\t{g}\t{g}\t{g}\n\
         Groups:\t{}\nCapInh:\t0000000000000000\nCapPrm:\t{caps}\nCapEff:\t{caps}\n\
         CapBnd:\t{caps}\nCapAmb:\t0000000000000000\nNoNewPrivs:\t{}\nSeccomp:\t{}\n",
        groups.join(" "),
        u8::from(identity.no_new_privs),
        security.seccomp_mode,
        u = identity.uid,
        g = identity.gid,
    )
}
