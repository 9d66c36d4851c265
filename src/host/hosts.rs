//! `/etc/hosts`: a name listed there never reaches DNS, so the report must say so.

use std::net::IpAddr;
use std::path::Path;

/// The addresses `/etc/hosts` gives `name`, in file order; empty when it is not listed.
pub fn lookup(path: &Path, name: &str) -> Vec<IpAddr> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    parse(&text, name)
}

/// The addresses a hosts-file text gives `name` (case-insensitive, trailing dot ignored).
pub fn parse(text: &str, name: &str) -> Vec<IpAddr> {
    let wanted = name.trim_end_matches('.');
    let mut found = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut fields = line.split_whitespace();
        let Some(Ok(addr)) = fields.next().map(str::parse::<IpAddr>) else {
            continue;
        };
        if fields.any(|alias| alias.trim_end_matches('.').eq_ignore_ascii_case(wanted))
            && !found.contains(&addr)
        {
            found.push(addr);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_aliases_and_ignores_comments() {
        let text = "127.0.0.1 localhost\n\
                    # 203.0.113.9 s3.us-west-2.amazonaws.com\n\
                    203.0.113.10 s3-pin S3.us-west-2.amazonaws.com. # pinned\n\
                    2001:db8:a::10 s3.us-west-2.amazonaws.com\n\
                    garbage line here\n";
        let found = parse(text, "s3.us-west-2.amazonaws.com");
        assert_eq!(
            found,
            [
                "203.0.113.10".parse::<IpAddr>().unwrap(),
                "2001:db8:a::10".parse().unwrap()
            ]
        );
        assert!(parse(text, "s3.us-east-1.amazonaws.com").is_empty());
    }
}
