//! The variables yum and dnf substitute in repository URLs: where each value comes from
//! (a vars file, the main configuration, the release package, a flag, a built-in default), how
//! `$releasever` is chosen, and the substitution itself.
//!
//! Substitution is one pass, as in yum and dnf: a value is inserted as written, so a value that
//! itself contains `$name` reaches the URL literally. Such references, and loops among them,
//! are reported rather than followed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Serialize;

use crate::yum::config::Section;

/// How deep `${a:-${b:-...}}` may nest, as in libdnf.
const MAX_DEPTH: usize = 32;

/// Where a variable's value came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Source {
    /// A file under a vars directory, by its path inside the root.
    File {
        /// The file, e.g. `/etc/yum/vars/awsregion`.
        path: String,
    },
    /// The main configuration file (`releasever=`).
    MainConfig {
        /// `/etc/yum.conf` or `/etc/dnf/dnf.conf`.
        path: String,
    },
    /// The version of the release package, as a release file states it.
    Package {
        /// The `distroverpkg` package, `system-release` by default.
        package: String,
        /// The file the version was read from.
        path: String,
    },
    /// A command-line flag.
    Override {
        /// The flag, e.g. `--releasever`.
        flag: String,
    },
    /// The instance metadata service.
    Imds,
    /// A built-in default of the package manager or of this tool.
    Default {
        /// Why this value.
        detail: String,
    },
}

/// One variable with its value and where the value came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Variable {
    /// The name, without `$`.
    pub name: String,
    /// The value as substituted.
    pub value: String,
    /// Where the value came from.
    pub source: Source,
}

/// The variables the package manager substitutes, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vars {
    by_name: BTreeMap<String, Variable>,
}

/// The result of substituting variables in one string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expanded {
    /// The text after substitution; unknown variables are left as written.
    pub text: String,
    /// Names referenced but set nowhere, in order of first use.
    pub unknown: Vec<String>,
    /// Names substituted, in order of first use.
    pub used: Vec<String>,
}

impl Vars {
    /// Sets (or replaces) a variable.
    pub fn set(&mut self, name: &str, value: &str, source: Source) {
        let variable = Variable {
            name: name.to_string(),
            value: value.to_string(),
            source,
        };
        self.by_name.insert(name.to_string(), variable);
    }

    /// The variable called `name`.
    pub fn get(&self, name: &str) -> Option<&Variable> {
        self.by_name.get(name)
    }

    /// Every variable, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = &Variable> {
        self.by_name.values()
    }

    /// Substitutes `$name`, `${name}`, `${name:-word}` and `${name:+word}` in one pass.
    ///
    /// TODO(yum 3 reads only `$name` and `${name}`): the `:-` and `:+` forms are dnf's; no
    /// shipped yum configuration uses them.
    pub fn expand(&self, text: &str) -> Expanded {
        let mut out = Expanded {
            text: String::new(),
            unknown: Vec::new(),
            used: Vec::new(),
        };
        out.text = self.expand_at(text, 0, &mut out.unknown, &mut out.used);
        out
    }

    fn expand_at(
        &self,
        text: &str,
        depth: usize,
        unknown: &mut Vec<String>,
        used: &mut Vec<String>,
    ) -> String {
        let mut result = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(dollar) = rest.find('$') {
            result.push_str(&rest[..dollar]);
            let after = &rest[dollar + 1..];
            let Some((reference, consumed)) = Reference::read(after) else {
                result.push('$');
                rest = after;
                continue;
            };
            rest = &after[consumed..];
            let written = &text[text.len() - after.len() - 1..text.len() - rest.len()];
            let value = self
                .get(reference.name)
                .map(|variable| variable.value.as_str());
            match (value, reference.operator) {
                (Some(_), _) => note(used, reference.name),
                (None, None) => note(unknown, reference.name),
                (None, Some(_)) => {}
            }

            let word = |this: &Vars, unknown: &mut Vec<String>, used: &mut Vec<String>| {
                let word = reference.word.unwrap_or_default();
                if depth + 1 >= MAX_DEPTH {
                    word.to_string()
                } else {
                    this.expand_at(word, depth + 1, unknown, used)
                }
            };
            match (reference.operator, value) {
                (None, Some(value)) => result.push_str(value),
                (None, None) => result.push_str(written),
                (Some('-'), Some(value)) if !value.is_empty() => result.push_str(value),
                (Some('-'), _) => result.push_str(&word(self, unknown, used)),
                (Some(_), Some(value)) if !value.is_empty() => {
                    result.push_str(&word(self, unknown, used))
                }
                (Some(_), _) => {}
            }
        }
        result.push_str(rest);
        result
    }

    /// For each variable whose value mentions other variables, the names it mentions.
    pub fn references(&self) -> BTreeMap<&str, Vec<String>> {
        self.by_name
            .values()
            .filter_map(|variable| {
                let names = names_in(&variable.value);
                (!names.is_empty()).then_some((variable.name.as_str(), names))
            })
            .collect()
    }

    /// A loop through `name` among variable values (`a → b → a`), if there is one.
    pub fn loop_through(&self, name: &str) -> Option<Vec<String>> {
        let references = self.references();
        let mut path = vec![name.to_string()];
        let mut seen = BTreeSet::new();
        self.walk(name, name, &references, &mut path, &mut seen)
            .then_some(path)
    }

    fn walk(
        &self,
        start: &str,
        at: &str,
        references: &BTreeMap<&str, Vec<String>>,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        for next in references.get(at).into_iter().flatten() {
            path.push(next.clone());
            if next == start {
                return true;
            }
            if seen.insert(next.clone()) && self.walk(start, next, references, path, seen) {
                return true;
            }
            path.pop();
        }
        false
    }
}

fn note(list: &mut Vec<String>, name: &str) {
    if !list.iter().any(|known| known == name) {
        list.push(name.to_string());
    }
}

/// One `$name` or `${name[:-word|:+word]}` reference.
struct Reference<'a> {
    name: &'a str,
    operator: Option<char>,
    word: Option<&'a str>,
}

impl<'a> Reference<'a> {
    /// Reads a reference from the text after `$`; returns it and the bytes it spans.
    fn read(after: &'a str) -> Option<(Reference<'a>, usize)> {
        if let Some(inner) = after.strip_prefix('{') {
            let end = closing_brace(inner)?;
            let body = &inner[..end];
            let name_len = name_length(body);
            let name = &body[..name_len];
            let tail = &body[name_len..];
            let (operator, word) = match tail {
                "" => (None, None),
                _ if tail.starts_with(":-") => (Some('-'), Some(&tail[2..])),
                _ if tail.starts_with(":+") => (Some('+'), Some(&tail[2..])),
                _ => return None,
            };
            return (!name.is_empty()).then_some((
                Reference {
                    name,
                    operator,
                    word,
                },
                end + 2,
            ));
        }
        let len = name_length(after);
        (len > 0).then_some((
            Reference {
                name: &after[..len],
                operator: None,
                word: None,
            },
            len,
        ))
    }
}

/// The index of the `}` closing a `${`, counting nested `${`.
fn closing_brace(inner: &str) -> Option<usize> {
    let mut depth = 0usize;
    let bytes = inner.as_bytes();
    for (index, &byte) in bytes.iter().enumerate() {
        match byte {
            b'{' if index > 0 && bytes[index - 1] == b'$' => depth += 1,
            b'}' if depth == 0 => return Some(index),
            b'}' => depth -= 1,
            _ => {}
        }
    }
    None
}

fn name_length(text: &str) -> usize {
    text.bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
        .count()
}

/// The variable names a text mentions, in order, each once.
pub fn names_in(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(dollar) = rest.find('$') {
        let after = &rest[dollar + 1..];
        match Reference::read(after) {
            Some((reference, consumed)) => {
                note(&mut names, reference.name);
                for inner in names_in(reference.word.unwrap_or_default()) {
                    note(&mut names, &inner);
                }
                rest = &after[consumed..];
            }
            None => rest = after,
        }
    }
    names
}

/// Reads every variable file of a vars directory (its path inside the root), sorted by name.
///
/// The value is the file's first line without its line break; cloud-init writes some files
/// with no line break at all. Names that are not `[A-Za-z0-9_]+` are skipped, as dnf does.
pub fn read_dir(root: &Path, dir: &str) -> Vec<Variable> {
    let Ok(entries) = std::fs::read_dir(crate::yum::under(root, dir)) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().is_file())
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|name| !name.is_empty() && name_length(name) == name.len())
        .collect();
    names.sort();

    names
        .into_iter()
        .filter_map(|name| {
            let path = format!("{}/{name}", dir.trim_end_matches('/'));
            let text = std::fs::read(crate::yum::under(root, &path)).ok()?;
            let text = String::from_utf8_lossy(&text);
            let first = text.split('\n').next().unwrap_or_default();
            Some(Variable {
                name,
                value: first.strip_suffix('\r').unwrap_or(first).to_string(),
                source: Source::File { path },
            })
        })
        .collect()
}

/// Picks `$releasever`: `--releasever`, then `releasever=` in the main configuration, then
/// the version of the release package as `/etc/system-release` or `/etc/os-release` states it.
///
/// TODO(no rpm database reader): the package manager asks the rpm database for the version of
/// `distroverpkg`; the release files state the same version unless someone edited them.
pub fn releasever(
    root: &Path,
    flag: Option<&str>,
    main: Option<(&str, &Section)>,
) -> Option<Variable> {
    let variable = |value: &str, source| Variable {
        name: "releasever".to_string(),
        value: value.to_string(),
        source,
    };
    if let Some(value) = flag {
        let flag = "--releasever".to_string();
        return Some(variable(value, Source::Override { flag }));
    }
    if let Some((path, section)) = main
        && let Some(value) = section.get("releasever").filter(|v| !v.is_empty())
    {
        let path = path.to_string();
        return Some(variable(value, Source::MainConfig { path }));
    }

    let package = main
        .and_then(|(_, section)| section.get("distroverpkg"))
        .and_then(|value| crate::yum::config::list(value).into_iter().next())
        .map(|name| name.trim_end_matches("(releasever)").to_string())
        .unwrap_or_else(|| "system-release".to_string());
    let os_release = read_os_release(root);
    let id = os_release.get("ID").map(String::as_str).unwrap_or_default();
    let from_release_file = std::fs::read_to_string(crate::yum::under(root, "/etc/system-release"))
        .ok()
        .and_then(|text| release_version(&text))
        .map(|version| (version, "/etc/system-release"));
    let (version, path) = from_release_file.or_else(|| {
        let version = os_release.get("VERSION_ID")?.clone();
        Some((version, "/etc/os-release"))
    })?;
    let version = major_only(id, &version);
    let source = Source::Package {
        package,
        path: path.to_string(),
    };
    Some(variable(&version, source))
}

/// The version word after `release` in a release file: `Amazon Linux release 2 (Karoo)` → `2`.
pub fn release_version(text: &str) -> Option<String> {
    let line = text.lines().next()?;
    let mut words = line.split_whitespace();
    words.find(|word| *word == "release")?;
    words.next().map(str::to_string)
}

/// Enterprise Linux rebuilds set `$releasever` to the major version only (`9.3` → `9`).
fn major_only(id: &str, version: &str) -> String {
    let enterprise = ["rhel", "centos", "rocky", "almalinux", "ol", "scientific"];
    if enterprise.contains(&id) {
        version.split('.').next().unwrap_or(version).to_string()
    } else {
        version.to_string()
    }
}

/// `/etc/os-release` as key → unquoted value.
pub fn read_os_release(root: &Path) -> BTreeMap<String, String> {
    let text =
        std::fs::read_to_string(crate::yum::under(root, "/etc/os-release")).unwrap_or_default();
    text.lines()
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| {
            let value = value.trim().trim_matches('"').trim_matches('\'');
            (key.trim().to_string(), value.to_string())
        })
        .collect()
}

/// `$basearch`: the image's own architecture (`/etc/image-id` on Amazon Linux), else this
/// machine's.
pub fn basearch(root: &Path) -> Variable {
    let image_id = std::fs::read_to_string(crate::yum::under(root, "/etc/image-id"));
    let from_image = image_id.ok().and_then(|text| {
        text.lines().find_map(|line| {
            let value = line.strip_prefix("image_arch=")?.trim_matches('"');
            (!value.is_empty()).then(|| value.to_string())
        })
    });
    let (value, source) = match from_image {
        Some(arch) => {
            let path = "/etc/image-id".to_string();
            (arch, Source::File { path })
        }
        None => {
            let detail = "the architecture egress-probe runs on".to_string();
            (
                std::env::consts::ARCH.to_string(),
                Source::Default { detail },
            )
        }
    };
    Variable {
        name: "basearch".to_string(),
        value: base_of(&value).to_string(),
        source,
    }
}

/// The base architecture of a machine architecture (`i686` → `i386`, `armv7l` → `armhfp`).
fn base_of(arch: &str) -> &str {
    match arch {
        "i386" | "i486" | "i586" | "i686" | "athlon" => "i386",
        "armv7l" | "armv7hl" | "armv7hnl" => "armhfp",
        "amd64" => "x86_64",
        "arm64" => "aarch64",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vars {
        let mut vars = Vars::default();
        for (name, value) in pairs {
            let path = format!("/etc/dnf/vars/{name}");
            vars.set(name, value, Source::File { path });
        }
        vars
    }

    #[test]
    fn one_pass_substitution_leaves_unknown_names() {
        let vars = vars(&[
            ("awsregion", "us-west-2"),
            ("awsdomain", "amazonaws.com"),
            ("dualstack", ".dualstack"),
            ("releasever", "2023.5.20240701"),
            ("basearch", "x86_64"),
        ]);
        let url = "https://al2023-repos-$awsregion-de612dc2.s3$dualstack.$awsregion.$awsdomain\
                   /core/mirrors/$releasever/$basearch/$mirrorlist";
        let expanded = vars.expand(url);
        assert_eq!(
            expanded.text,
            "https://al2023-repos-us-west-2-de612dc2.s3.dualstack.us-west-2.amazonaws.com\
             /core/mirrors/2023.5.20240701/x86_64/$mirrorlist"
        );
        assert_eq!(expanded.unknown, ["mirrorlist"]);
        assert_eq!(expanded.used.len(), 5);
    }

    #[test]
    fn braces_defaults_and_lone_dollars() {
        let vars = vars(&[("a", "x"), ("empty", "")]);
        assert_eq!(vars.expand("${a}b$ c$").text, "xb$ c$");
        assert_eq!(vars.expand("${missing:-fallback-$a}").text, "fallback-x");
        assert_eq!(
            vars.expand("${empty:-d}|${a:+set}|${missing:+no}").text,
            "d|set|"
        );
        assert_eq!(vars.expand("${a:?bad}").text, "${a:?bad}");
        assert_eq!(
            vars.expand("$releasever$rltype").unknown,
            ["releasever", "rltype"]
        );
    }

    #[test]
    fn nested_values_are_inserted_literally_and_loops_found() {
        let vars = vars(&[("a", "$b-1"), ("b", "${a}"), ("c", "$a"), ("d", "plain")]);
        assert_eq!(vars.expand("$a").text, "$b-1");
        assert_eq!(vars.loop_through("a").unwrap(), ["a", "b", "a"]);
        assert_eq!(vars.loop_through("c"), None);
        assert_eq!(vars.loop_through("d"), None);
        assert_eq!(vars.references()["c"], ["a"]);
    }

    #[test]
    fn release_files_give_releasever() {
        assert_eq!(
            release_version("Amazon Linux release 2 (Karoo)\n").as_deref(),
            Some("2")
        );
        assert_eq!(
            release_version("Amazon Linux AMI release 2014.03\n").as_deref(),
            Some("2014.03")
        );
        assert_eq!(major_only("rocky", "9.3"), "9");
        assert_eq!(major_only("amzn", "2023.5.20240701"), "2023.5.20240701");
        assert_eq!(base_of("i686"), "i386");
    }
}
