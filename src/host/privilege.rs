//! Privilege: whether this process holds `CAP_NET_RAW`, and how to grant it.

/// Bit of `CAP_NET_RAW` in the capability sets.
const CAP_NET_RAW: u32 = 13;

/// True when the effective capability set holds `CAP_NET_RAW` (root usually does).
pub fn has_net_raw() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| effective_set(&status))
        .is_some_and(|set| set & (1 << CAP_NET_RAW) != 0)
}

/// The `CapEff:` line of `/proc/PID/status`, as a bit set.
fn effective_set(status: &str) -> Option<u64> {
    let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?;
    u64::from_str_radix(hex.trim(), 16).ok()
}

/// The command that grants `CAP_NET_RAW` to this binary, for messages.
pub fn grant_hint() -> String {
    let binary = std::env::current_exe()
        .map(|path| path.display().to_string())
        .unwrap_or_else(|_| "$(command -v egress-probe)".to_string());
    format!("grant it with `sudo setcap cap_net_raw+ep {binary}` (or run as root)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_effective_set() {
        let root = "Name:\tx\nCapPrm:\t000001ffffffffff\nCapEff:\t000001ffffffffff\n";
        assert!(effective_set(root).unwrap() & (1 << CAP_NET_RAW) != 0);
        let user = "CapInh:\t0000000000000000\nCapEff:\t0000000000000000\n";
        assert_eq!(effective_set(user), Some(0));
        let raw_only = "CapEff:\t0000000000002000\n";
        assert_eq!(effective_set(raw_only), Some(1 << CAP_NET_RAW));
        assert_eq!(effective_set("nothing"), None);
    }
}
