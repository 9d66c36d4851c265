//! `--filter KEY=VALUE[,VALUE...]`: which records the analysis keeps, by action, port, remote
//! service, remote region and interface. Values of one key are alternatives; keys combine.

use std::str::FromStr;

use crate::flowlogs::record::Action;

/// One `--filter` option as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    /// `action=ACCEPT|REJECT`.
    Action(Vec<Action>),
    /// `port=N`: source or destination port.
    Port(Vec<u16>),
    /// `service=NAME`: the remote's AWS service, or `internet` / `private`.
    Service(Vec<String>),
    /// `region=NAME`: the remote's region.
    Region(Vec<String>),
    /// `interface=eni-...`.
    Interface(Vec<String>),
}

impl FromStr for Term {
    type Err = String;

    fn from_str(text: &str) -> Result<Term, String> {
        let Some((key, values)) = text.split_once('=') else {
            return Err(format!(
                "`{text}` is not KEY=VALUE (keys: action, port, service, region, interface)"
            ));
        };
        let values: Vec<&str> = values
            .split(',')
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .collect();
        if values.is_empty() {
            return Err(format!("`{text}` gives no value"));
        }

        let owned = |upper: bool| -> Vec<String> {
            values
                .iter()
                .map(|value| {
                    if upper {
                        value.to_ascii_uppercase()
                    } else {
                        value.to_ascii_lowercase()
                    }
                })
                .collect()
        };
        match key.trim() {
            "action" => values
                .iter()
                .map(|value| match value.to_ascii_uppercase().as_str() {
                    "ACCEPT" => Ok(Action::Accept),
                    "REJECT" => Ok(Action::Reject),
                    _ => Err(format!("action `{value}` is neither ACCEPT nor REJECT")),
                })
                .collect::<Result<_, _>>()
                .map(Term::Action),
            "port" => values
                .iter()
                .map(|value| {
                    value
                        .parse::<u16>()
                        .map_err(|_| format!("port `{value}` is not a port number"))
                })
                .collect::<Result<_, _>>()
                .map(Term::Port),
            "service" => Ok(Term::Service(owned(true))),
            "region" => Ok(Term::Region(owned(false))),
            "interface" => Ok(Term::Interface(owned(false))),
            other => Err(format!(
                "unknown filter key `{other}` (keys: action, port, service, region, interface)"
            )),
        }
    }
}

/// All `--filter` terms together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    terms: Vec<Term>,
}

/// What a record offers to the filter.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    /// `action`.
    pub action: Option<Action>,
    /// `srcport`.
    pub src_port: Option<u16>,
    /// `dstport`.
    pub dst_port: Option<u16>,
    /// Service names the remote answers to (label, ip-ranges services, scope word).
    pub services: &'a [&'a str],
    /// The remote's region (`-` when none).
    pub region: &'a str,
    /// `interface-id`.
    pub interface: &'a [u8],
}

impl Filter {
    /// A filter from the terms given.
    pub fn new(terms: Vec<Term>) -> Filter {
        Filter { terms }
    }

    /// True when no term was given.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// True when the record passes every term.
    pub fn accepts(&self, candidate: &Candidate<'_>) -> bool {
        self.terms.iter().all(|term| match term {
            Term::Action(actions) => candidate.action.is_some_and(|a| actions.contains(&a)),
            Term::Port(ports) => [candidate.src_port, candidate.dst_port]
                .iter()
                .flatten()
                .any(|port| ports.contains(port)),
            Term::Service(names) => candidate
                .services
                .iter()
                .any(|service| names.iter().any(|name| name.eq_ignore_ascii_case(service))),
            Term::Region(names) => names
                .iter()
                .any(|name| name.eq_ignore_ascii_case(candidate.region)),
            Term::Interface(names) => names
                .iter()
                .any(|name| name.as_bytes() == candidate.interface),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate<'a>(services: &'a [&'a str]) -> Candidate<'a> {
        Candidate {
            action: Some(Action::Reject),
            src_port: Some(443),
            dst_port: Some(40_000),
            services,
            region: "us-east-1",
            interface: b"eni-1",
        }
    }

    #[test]
    fn terms_parse_and_combine() {
        let filter = Filter::new(vec![
            "action=reject".parse().unwrap(),
            "port=80,443".parse().unwrap(),
            "service=s3".parse().unwrap(),
            "region=US-EAST-1".parse().unwrap(),
            "interface=eni-1".parse().unwrap(),
        ]);
        assert!(filter.accepts(&candidate(&["S3", "AMAZON"])));
        assert!(!filter.accepts(&candidate(&["EC2", "AMAZON"])));
        assert!(Filter::default().accepts(&candidate(&[])));
    }

    #[test]
    fn each_key_excludes_what_it_does_not_name() {
        let check =
            |term: &str| Filter::new(vec![term.parse().unwrap()]).accepts(&candidate(&["S3"]));
        assert!(!check("action=ACCEPT"));
        assert!(!check("port=22"));
        assert!(!check("region=eu-west-1"));
        assert!(!check("interface=eni-2"));
        assert!(check("port=40000"));
        let global = Candidate {
            region: "GLOBAL",
            ..candidate(&["CLOUDFRONT"])
        };
        assert!(Filter::new(vec!["region=GLOBAL".parse().unwrap()]).accepts(&global));
    }

    #[test]
    fn malformed_terms_say_what_is_wrong() {
        for (text, expected) in [
            ("action", "not KEY=VALUE"),
            ("port=", "no value"),
            ("port=http", "not a port number"),
            ("action=DROP", "neither ACCEPT nor REJECT"),
            ("vpc=vpc-1", "unknown filter key `vpc`"),
        ] {
            let err = text.parse::<Term>().unwrap_err();
            assert!(err.contains(expected), "{text}: {err}");
        }
    }
}
