//! Mirror lists and metalinks: the pure parsers, the mirrors as tagged targets, and (in
//! [`fetch`]) a bounded fetch.

pub mod fetch;

pub use fetch::{
    FetchError, Fetched, LIST_DEADLINE, MAX_LIST_BYTES, MAX_REDIRECTS, client, fetch_list,
    fetch_lists,
};

use quick_xml::XmlVersion;
use quick_xml::events::Event;
use reqwest::Url;
use serde::Serialize;

use crate::yum::buckets::{self, HostKind};
use crate::yum::repo::UrlKind;
use crate::yum::vars::Vars;

/// The schemes a mirror list line may use, as yum accepts them.
const MIRROR_SCHEMES: &[&str] = &["http", "https", "ftp", "file"];

/// One mirror: a repository root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mirror {
    /// The repository root (for metalinks, the `repomd.xml` location minus `repodata/...`).
    pub url: String,
    /// The metalink preference (higher first), when given.
    pub preference: Option<u32>,
    /// The metalink location (a country code), when given.
    pub location: Option<String>,
}

/// What a mirror list or metalink body held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MirrorList {
    /// `mirrorlist` or `metalink`, by content rather than by the option's name.
    pub format: UrlKind,
    /// The mirrors in the order the package manager tries them.
    pub mirrors: Vec<Mirror>,
    /// Lines or entries skipped, each with the reason.
    pub skipped: Vec<String>,
}

/// Why a body is not a usable list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListError {
    /// The bytes are not UTF-8 text.
    #[error("the body is not UTF-8 text")]
    NotText,
    /// A metalink that does not parse as XML.
    #[error("the metalink is not XML: {0}")]
    NotXml(String),
    /// XML whose root is not `<metalink>`.
    #[error("the metalink is XML but not a metalink: {0}")]
    NotMetalink(String),
    /// No mirror in it.
    #[error("it names no mirror")]
    Empty,
}

/// Parses a mirror list: one URL per line, `#` comments, `$ARCH` meaning `$basearch`.
pub fn parse_mirrorlist(body: &str) -> MirrorList {
    let mut list = MirrorList {
        format: UrlKind::Mirrorlist,
        mirrors: Vec::new(),
        skipped: Vec::new(),
    };
    for (index, line) in body.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let scheme = line
            .split_once("://")
            .map(|(scheme, _)| scheme.to_ascii_lowercase());
        match scheme {
            Some(scheme) if MIRROR_SCHEMES.contains(&scheme.as_str()) => {
                list.mirrors.push(Mirror {
                    url: line.replace("$ARCH", "$basearch"),
                    preference: None,
                    location: None,
                })
            }
            _ => list.skipped.push(format!(
                "line {}: `{}` is not an http, https, ftp or file URL",
                index + 1,
                shorten(line)
            )),
        }
    }
    list
}

/// Parses a metalink (version 3 or 4): the `repomd.xml` URLs, highest preference first, as
/// repository roots.
pub fn parse_metalink(body: &str) -> Result<MirrorList, ListError> {
    let mut reader = quick_xml::Reader::from_str(body);
    let mut list = MirrorList {
        format: UrlKind::Metalink,
        mirrors: Vec::new(),
        skipped: Vec::new(),
    };
    let mut seen_root = false;
    let mut open: Option<Mirror> = None;
    let mut text = String::new();

    loop {
        let event = reader
            .read_event()
            .map_err(|err| ListError::NotXml(err.to_string()))?;
        match event {
            Event::Start(start) | Event::Empty(start) if !seen_root => {
                let name = start.local_name().as_ref().to_string();
                if name != "metalink" {
                    return Err(ListError::NotMetalink(format!(
                        "the root element is <{name}>"
                    )));
                }
                seen_root = true;
            }
            Event::Text(content) if !seen_root && !content.trim().is_empty() => {
                return Err(ListError::NotXml(format!(
                    "text `{}` before any element",
                    shorten(content.trim())
                )));
            }
            Event::Start(start) if start.local_name().as_ref() == "url" => {
                let mut mirror = Mirror {
                    url: String::new(),
                    preference: None,
                    location: None,
                };
                for attribute in start.attributes().flatten() {
                    let value = attribute
                        .normalized_value(XmlVersion::Implicit1_0)
                        .map(|value| value.into_owned())
                        .unwrap_or_default();
                    match attribute.key.local_name().as_ref() {
                        "preference" | "priority" => mirror.preference = value.parse().ok(),
                        "location" => mirror.location = Some(value),
                        _ => {}
                    }
                }
                open = Some(mirror);
                text.clear();
            }
            Event::Text(content) if open.is_some() => text.push_str(&content),
            Event::CData(content) if open.is_some() => text.push_str(&content),
            Event::GeneralRef(reference) if open.is_some() => {
                let resolved = match reference.resolve_char_ref() {
                    Ok(Some(ch)) => ch.to_string(),
                    _ => quick_xml::escape::unescape(&format!("&{};", &*reference))
                        .map(|text| text.into_owned())
                        .unwrap_or_default(),
                };
                text.push_str(&resolved);
            }
            Event::End(end) if end.local_name().as_ref() == "url" => {
                if let Some(mut mirror) = open.take() {
                    mirror.url = text.trim().to_string();
                    list.add_metalink_url(mirror);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }

    if !seen_root {
        return Err(ListError::NotXml("no element at all".to_string()));
    }
    // Metalink 3 ranks by `preference` (higher first), metalink 4 by `priority` (lower first);
    // repositories publish version 3, so the higher number goes first.
    list.mirrors
        .sort_by_key(|mirror| std::cmp::Reverse(mirror.preference.unwrap_or(0)));
    if list.mirrors.is_empty() {
        return Err(ListError::Empty);
    }
    Ok(list)
}

impl MirrorList {
    fn add_metalink_url(&mut self, mut mirror: Mirror) {
        let scheme = mirror
            .url
            .split_once("://")
            .map(|(scheme, _)| scheme.to_ascii_lowercase());
        if !scheme.is_some_and(|scheme| MIRROR_SCHEMES.contains(&scheme.as_str())) {
            let skipped = format!(
                "`{}` is not an http, https, ftp or file URL",
                shorten(&mirror.url)
            );
            self.skipped.push(skipped);
            return;
        }
        if let Some(root) = mirror.url.strip_suffix("repodata/repomd.xml") {
            mirror.url = root.to_string();
        }
        self.mirrors.push(mirror);
    }
}

/// Parses a fetched body: a metalink when configured as one or when the body is XML (dnf
/// accepts a metalink behind `mirrorlist=` too), else a plain mirror list.
pub fn parse_list(body: &[u8], configured_as: UrlKind) -> Result<MirrorList, ListError> {
    let text = std::str::from_utf8(body).map_err(|_| ListError::NotText)?;
    let text = text.trim_start_matches('\u{feff}');
    let looks_like_xml = text.trim_start().starts_with('<');
    if configured_as == UrlKind::Metalink || looks_like_xml {
        return parse_metalink(text);
    }
    let list = parse_mirrorlist(text);
    if list.mirrors.is_empty() {
        return Err(ListError::Empty);
    }
    Ok(list)
}

fn shorten(text: &str) -> String {
    const MAX: usize = 80;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}

/// One mirror as a probe target, tagged with its repository and what its name says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MirrorTarget {
    /// The repository that lists it.
    pub repo: String,
    /// The repository root, variables substituted.
    pub url: String,
    /// Its scheme.
    pub scheme: String,
    /// Its host.
    pub host: Option<String>,
    /// The region its name states, if any.
    pub region: Option<String>,
    /// The S3 bucket behind it, when it is an S3 name.
    pub bucket: Option<buckets::Bucket>,
    /// True when its region differs from the instance's.
    pub cross_region: bool,
    /// A CDN name that no S3 endpoint can carry.
    pub cdn: bool,
}

/// Tags each mirror with its repository, region and bucket; `home` is the instance's region.
pub fn targets(
    repo: &str,
    list: &MirrorList,
    vars: &Vars,
    home: Option<&str>,
) -> Vec<MirrorTarget> {
    list.mirrors
        .iter()
        .map(|mirror| {
            let url = vars.expand(&mirror.url).text;
            let parsed = Url::parse(&url).ok();
            let host = parsed
                .as_ref()
                .and_then(|u| u.host_str().map(str::to_string));
            let region = host
                .as_deref()
                .and_then(crate::aws::hostname::parse)
                .and_then(|info| info.region);
            let kind = parsed.as_ref().map(buckets::host_kind);
            let cross_region = matches!((region.as_deref(), home), (Some(r), Some(h)) if r != h);
            MirrorTarget {
                repo: repo.to_string(),
                scheme: url
                    .split_once("://")
                    .map(|(s, _)| s.to_ascii_lowercase())
                    .unwrap_or_default(),
                bucket: match &kind {
                    Some(HostKind::S3(bucket)) => Some(bucket.clone()),
                    _ => None,
                },
                cdn: matches!(kind, Some(HostKind::Cdn { .. })),
                url,
                host,
                region,
                cross_region,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_list_lines_comments_and_junk() {
        let body = "# mirrors\n\nhttp://packages.us-west-2.amazonaws.com/2018.03/updates/x/$ARCH\n\
                    <html>oops</html>\n  https://cdn.example/al/  \nrsync://m.example/x\n";
        let list = parse_mirrorlist(body);
        assert_eq!(
            list.mirrors[0].url,
            "http://packages.us-west-2.amazonaws.com/2018.03/updates/x/$basearch"
        );
        assert_eq!(list.mirrors[1].url, "https://cdn.example/al/");
        assert_eq!(list.mirrors.len(), 2);
        assert_eq!(list.skipped.len(), 2);
        assert!(list.skipped[0].starts_with("line 4:"));
    }

    #[test]
    fn metalink_urls_by_preference_as_roots() {
        let body = r#"<?xml version="1.0" encoding="utf-8"?>
<metalink version="3.0" xmlns="http://www.metalinker.org/" type="dynamic">
 <files><file name="repomd.xml"><resources maxconnections="1">
  <url protocol="http" location="DE" preference="90">http://b.example/f31/repodata/repomd.xml</url>
  <url protocol="https" location="US" preference="100"
    >https://a.example/os/repodata/repomd.xml?a=1&amp;b=2</url>
  <url protocol="rsync" location="US" preference="80">rsync://c.example/repodata/repomd.xml</url>
 </resources></file></files>
</metalink>"#;
        let list = parse_metalink(body).unwrap();
        assert_eq!(list.format, UrlKind::Metalink);
        assert_eq!(list.mirrors[0].preference, Some(100));
        assert_eq!(
            list.mirrors[0].url,
            "https://a.example/os/repodata/repomd.xml?a=1&b=2"
        );
        assert_eq!(list.mirrors[1].url, "http://b.example/f31/");
        assert_eq!(list.mirrors[1].location.as_deref(), Some("DE"));
        assert_eq!(list.skipped.len(), 1);
    }

    #[test]
    fn bodies_that_are_not_metalinks() {
        assert!(matches!(
            parse_metalink("just text"),
            Err(ListError::NotXml(_))
        ));
        assert!(matches!(
            parse_metalink("<html><body>503</body></html>"),
            Err(ListError::NotMetalink(_))
        ));
        assert!(matches!(
            parse_metalink("<metalink><files><file></metalink>"),
            Err(ListError::NotXml(_))
        ));
        assert_eq!(parse_metalink("<metalink/>"), Err(ListError::Empty));
        assert_eq!(
            parse_list(&[0xff, 0xfe, 0x00], UrlKind::Mirrorlist),
            Err(ListError::NotText)
        );
        assert_eq!(
            parse_list(b"\n# only comments\n", UrlKind::Mirrorlist),
            Err(ListError::Empty)
        );
        let xml = parse_list(b"<?xml version=\"1.0\"?><error/>", UrlKind::Mirrorlist);
        assert!(matches!(xml, Err(ListError::NotMetalink(_))));
    }
}
