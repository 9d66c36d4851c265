//! Firewall rules from CIDRs: port ranges, the rule budget, and numbered NACL entries for both
//! directions (requests out, return traffic in on the ephemeral range).

use std::fmt;
use std::str::FromStr;

use ipnet::IpNet;

/// The highest rule number a network ACL accepts.
pub const MAX_RULE_NUMBER: u32 = 32_766;

/// An inclusive TCP port range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PortRange {
    /// First port.
    pub from: u16,
    /// Last port.
    pub to: u16,
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.from == self.to {
            write!(f, "{}", self.from)
        } else {
            write!(f, "{}-{}", self.from, self.to)
        }
    }
}

impl FromStr for PortRange {
    type Err = String;

    fn from_str(text: &str) -> Result<PortRange, String> {
        let port = |part: &str| -> Result<u16, String> {
            match part.trim().parse::<u16>() {
                Ok(0) | Err(_) => Err(format!("`{part}` is not a port (1-65535)")),
                Ok(port) => Ok(port),
            }
        };
        let range = match text.split_once('-') {
            Some((from, to)) => PortRange {
                from: port(from)?,
                to: port(to)?,
            },
            None => {
                let single = port(text)?;
                PortRange {
                    from: single,
                    to: single,
                }
            }
        };
        if range.from > range.to {
            return Err(format!("`{text}`: the range runs backwards"));
        }
        Ok(range)
    }
}

/// The ports a rule set opens: sorted, overlapping and adjacent ranges joined, since one rule
/// holds one range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ports(pub Vec<PortRange>);

impl FromStr for Ports {
    type Err = String;

    fn from_str(text: &str) -> Result<Ports, String> {
        let mut ranges: Vec<PortRange> =
            text.split(',').map(str::parse).collect::<Result<_, _>>()?;
        ranges.sort();
        let mut joined: Vec<PortRange> = Vec::new();
        for range in ranges {
            match joined.last_mut() {
                Some(last) if u32::from(range.from) <= u32::from(last.to) + 1 => {
                    last.to = last.to.max(range.to);
                }
                _ => joined.push(range),
            }
        }
        Ok(Ports(joined))
    }
}

impl fmt::Display for Ports {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(PortRange::to_string).collect();
        write!(f, "{}", parts.join(","))
    }
}

/// How many CIDRs fit in `rules` rules per direction when each CIDR needs one rule per port
/// range; the return direction needs one per CIDR and so always fits.
pub fn cidrs_within(rules: usize, ports: &Ports) -> usize {
    rules / ports.0.len().max(1)
}

/// One network ACL entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NaclRule {
    /// The rule number, unique within its direction.
    pub number: u32,
    /// True for outbound.
    pub egress: bool,
    /// The remote CIDR.
    pub cidr: IpNet,
    /// The ports: the service's ports outbound, the ephemeral range inbound.
    pub ports: PortRange,
}

/// Numbering of NACL rules.
#[derive(Debug, Clone, Copy)]
pub struct Numbering {
    /// The first rule number in each direction.
    pub first: u32,
    /// The gap between consecutive rule numbers.
    pub step: u32,
}

/// Allow rules for the CIDRs (IPv4 before IPv6) in both directions, numbered from `first` by
/// `step` within each direction; fails when a number would pass 32766.
pub fn nacl_rules(
    cidrs: &[IpNet],
    ports: &Ports,
    ephemeral: PortRange,
    numbering: Numbering,
) -> Result<Vec<NaclRule>, String> {
    let mut rules = Vec::new();
    let outbound = cidrs
        .iter()
        .flat_map(|&cidr| ports.0.iter().map(move |&range| (cidr, range)));
    number(&mut rules, true, outbound, numbering)?;
    let inbound = cidrs.iter().map(|&cidr| (cidr, ephemeral));
    number(&mut rules, false, inbound, numbering)?;
    Ok(rules)
}

fn number(
    rules: &mut Vec<NaclRule>,
    egress: bool,
    wanted: impl Iterator<Item = (IpNet, PortRange)>,
    numbering: Numbering,
) -> Result<(), String> {
    for (index, (cidr, ports)) in wanted.enumerate() {
        let number = u64::from(numbering.first) + index as u64 * u64::from(numbering.step);
        if numbering.first == 0 || number > u64::from(MAX_RULE_NUMBER) {
            return Err(format!(
                "rule numbers from {} by {} would pass {MAX_RULE_NUMBER} (rule {} of a \
                 direction); lower --first-rule or --rule-step",
                numbering.first,
                numbering.step,
                index + 1
            ));
        }
        rules.push(NaclRule {
            number: number as u32,
            egress,
            cidr,
            ports,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_parsed_joined_and_counted_as_rules() {
        let ports: Ports = "443,80".parse().unwrap();
        assert_eq!(ports.to_string(), "80,443");
        assert_eq!(cidrs_within(20, &ports), 10);
        assert_eq!(cidrs_within(19, &ports), 9);
        let joined: Ports = "8000-8080,8081,8079".parse().unwrap();
        assert_eq!(joined.to_string(), "8000-8081");
        assert_eq!(cidrs_within(17, &joined), 17);
        for bad in ["", "0", "70000", "443-80", "http"] {
            assert!(bad.parse::<Ports>().is_err(), "{bad}");
        }
    }

    #[test]
    fn rules_cover_both_directions_and_stop_at_32766() {
        let cidrs: Vec<IpNet> = vec![
            "3.5.0.0/19".parse().unwrap(),
            "2600:1f00::/40".parse().unwrap(),
        ];
        let ports: Ports = "80,443".parse().unwrap();
        let ephemeral = PortRange {
            from: 1024,
            to: 65535,
        };
        let rules = nacl_rules(
            &cidrs,
            &ports,
            ephemeral,
            Numbering {
                first: 100,
                step: 10,
            },
        )
        .unwrap();
        let summary: Vec<String> = rules
            .iter()
            .map(|r| format!("{} {} {} {}", r.number, r.egress, r.cidr, r.ports))
            .collect();
        assert_eq!(
            summary,
            [
                "100 true 3.5.0.0/19 80",
                "110 true 3.5.0.0/19 443",
                "120 true 2600:1f00::/40 80",
                "130 true 2600:1f00::/40 443",
                "100 false 3.5.0.0/19 1024-65535",
                "110 false 2600:1f00::/40 1024-65535",
            ]
        );
        let err = nacl_rules(
            &cidrs,
            &ports,
            ephemeral,
            Numbering {
                first: 32_760,
                step: 5,
            },
        );
        assert!(err.unwrap_err().contains("would pass 32766 (rule 3 of"));
        assert!(
            nacl_rules(
                &cidrs,
                &ports,
                ephemeral,
                Numbering {
                    first: 32_763,
                    step: 1
                }
            )
            .is_ok()
        );
    }
}
