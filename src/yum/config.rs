//! The INI dialect of yum and dnf configuration files, read line by line with recovery.
//!
//! A small parser rather than an INI crate: rust-ini and configparser both give up on the whole
//! file at the first malformed section header and keep no line numbers, while a report must
//! blame the one repository whose header is broken, keep the others of the same file, and say
//! on which line. The dialect follows Python's `configparser` as yum and dnf read it: `#` and `;`
//! start whole-line comments, `=` or `:` separates a key (lower-cased) from its value, and an
//! indented line continues the previous value.

/// A problem found in the file itself, with its line (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineProblem {
    /// The line the problem is on.
    pub line: usize,
    /// What is wrong, in one sentence.
    pub message: String,
    /// True when yum and dnf refuse the whole file because of it.
    pub fatal: bool,
}

/// One `key=value` setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// The key, lower-cased as the package manager reads it.
    pub key: String,
    /// The value, continuation lines joined with `\n`, surrounding blanks trimmed.
    pub value: String,
    /// The line the key is on.
    pub line: usize,
}

/// One `[section]` and its settings in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// The name between the brackets, trimmed.
    pub name: String,
    /// The line of the header.
    pub line: usize,
    /// Every setting, duplicates included, in file order.
    pub settings: Vec<Setting>,
    /// Problems inside this section (its header, its lines).
    pub problems: Vec<LineProblem>,
}

/// A parsed file: its sections and the problems that belong to no section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IniFile {
    /// The sections in file order.
    pub sections: Vec<Section>,
    /// Problems before the first section header.
    pub problems: Vec<LineProblem>,
}

impl Section {
    /// The value the package manager uses for `key`: the last one set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.setting(key).map(|setting| setting.value.as_str())
    }

    /// The last setting of `key`, with its line.
    pub fn setting(&self, key: &str) -> Option<&Setting> {
        self.settings
            .iter()
            .rev()
            .find(|setting| setting.key == key)
    }

    /// Keys set more than once, with the lines of each setting.
    pub fn duplicate_keys(&self) -> Vec<(&str, Vec<usize>)> {
        let mut seen: Vec<(&str, Vec<usize>)> = Vec::new();
        for setting in &self.settings {
            match seen.iter_mut().find(|(key, _)| *key == setting.key) {
                Some((_, lines)) => lines.push(setting.line),
                None => seen.push((&setting.key, vec![setting.line])),
            }
        }
        seen.retain(|(_, lines)| lines.len() > 1);
        seen
    }
}

impl IniFile {
    /// The first line that makes yum and dnf refuse the whole file, if any.
    pub fn fatal_line(&self) -> Option<usize> {
        let in_sections = self.sections.iter().flat_map(|section| &section.problems);
        self.problems
            .iter()
            .chain(in_sections)
            .filter(|problem| problem.fatal)
            .map(|problem| problem.line)
            .min()
    }

    /// The section named `name`, the first if several share it.
    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|section| section.name == name)
    }
}

/// Parses a configuration file; never fails, every oddity becomes a [`LineProblem`].
pub fn parse(text: &str) -> IniFile {
    let mut file = IniFile::default();
    let mut continuing = false;

    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim();

        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continuing = continuing && !trimmed.is_empty();
            continue;
        }

        let indented = raw.starts_with([' ', '\t']);
        if indented && continuing {
            if let Some(setting) = last_setting(&mut file) {
                setting.value.push('\n');
                setting.value.push_str(trimmed);
            }
            continue;
        }

        continuing = false;
        if trimmed.starts_with('[') {
            file.sections.push(header(trimmed, line));
            continue;
        }
        match key_value(trimmed, line) {
            Ok(setting) => match file.sections.last_mut() {
                Some(section) => {
                    section.settings.push(setting);
                    continuing = true;
                }
                None => file.problems.push(LineProblem {
                    line,
                    message: format!("`{}` is set before any [section] header", setting.key),
                    fatal: true,
                }),
            },
            Err(problem) => match file.sections.last_mut() {
                Some(section) => section.problems.push(problem),
                None => file.problems.push(problem),
            },
        }
    }
    file
}

fn last_setting(file: &mut IniFile) -> Option<&mut Setting> {
    file.sections.last_mut()?.settings.last_mut()
}

/// A `[name]` line; an unclosed or empty header still opens a section so its lines are kept.
fn header(trimmed: &str, line: usize) -> Section {
    let inner = &trimmed[1..];
    let (name, problem) = match inner.rfind(']') {
        Some(end) if !inner[..end].trim().is_empty() => {
            let rest = inner[end + 1..].trim();
            let problem = (!rest.is_empty() && !rest.starts_with(['#', ';'])).then(|| {
                (
                    format!("text `{rest}` after the section header is ignored"),
                    false,
                )
            });
            (inner[..end].trim().to_string(), problem)
        }
        Some(_) => (
            String::new(),
            Some(("empty section name `[]`".to_string(), true)),
        ),
        None => (
            inner.trim().to_string(),
            Some((
                format!("section header `{trimmed}` has no closing `]`"),
                true,
            )),
        ),
    };
    Section {
        name,
        line,
        settings: Vec::new(),
        problems: problem
            .map(|(message, fatal)| LineProblem {
                line,
                message,
                fatal,
            })
            .into_iter()
            .collect(),
    }
}

/// A `key = value` or `key: value` line, split at the first `=` or `:`.
fn key_value(trimmed: &str, line: usize) -> Result<Setting, LineProblem> {
    let Some(split) = trimmed.find(['=', ':']) else {
        return Err(LineProblem {
            line,
            message: format!("`{trimmed}` is neither `key=value` nor a [section] header"),
            fatal: true,
        });
    };
    let key = trimmed[..split].trim();
    if key.is_empty() {
        return Err(LineProblem {
            line,
            message: format!(
                "`{trimmed}` has no key before `{}`",
                &trimmed[split..=split]
            ),
            fatal: true,
        });
    }
    Ok(Setting {
        key: key.to_ascii_lowercase(),
        value: trimmed[split + 1..].trim().to_string(),
        line,
    })
}

/// Reads a yum boolean (`1/0`, `yes/no`, `true/false`, `on/off`); `None` when it is none of them.
pub fn boolean(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "yes" | "true" | "on" => Some(true),
        "0" | "no" | "false" | "off" => Some(false),
        _ => None,
    }
}

/// Splits a list option (`baseurl`, `reposdir`) on blanks, commas and line breaks.
pub fn list(value: &str) -> Vec<String> {
    value
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|item| !item.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_lines_comments_and_spaced_keys() {
        let text = "# generated\n[amzn2extra-docker]\nenabled = 1\n\
                    baseurl=http://a.example/repo/\n  http://b.example/repo/\n\
                    \thttp://c.example/repo/\n; note\nName: Docker\n";
        let file = parse(text);
        assert!(file.problems.is_empty());
        let section = file.section("amzn2extra-docker").unwrap();
        assert_eq!(section.line, 2);
        assert_eq!(section.get("enabled"), Some("1"));
        assert_eq!(section.get("name"), Some("Docker"));
        assert_eq!(
            list(section.get("baseurl").unwrap()),
            [
                "http://a.example/repo/",
                "http://b.example/repo/",
                "http://c.example/repo/"
            ]
        );
        assert_eq!(section.setting("name").unwrap().line, 8);
    }

    #[test]
    fn a_blank_line_ends_a_continued_value() {
        let file = parse("[a]\nbaseurl=http://x/\n\n  indented=1\n");
        let section = file.section("a").unwrap();
        assert_eq!(section.get("baseurl"), Some("http://x/"));
        assert_eq!(section.get("indented"), Some("1"));
    }

    #[test]
    fn an_unclosed_header_is_blamed_on_its_section_only() {
        let file = parse("[good]\nenabled=1\n[broken\nenabled=1\n[after]\nenabled=0\n");
        let names: Vec<&str> = file.sections.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["good", "broken", "after"]);
        assert!(file.section("good").unwrap().problems.is_empty());
        let broken = file.section("broken").unwrap();
        assert_eq!(broken.problems[0].line, 3);
        assert!(broken.problems[0].message.contains("no closing `]`"));
        assert!(broken.problems[0].fatal);
        assert_eq!(file.section("after").unwrap().get("enabled"), Some("0"));
    }

    #[test]
    fn stray_lines_duplicates_and_booleans() {
        let file = parse("orphan=1\n[r]\njust words\nenabled=1\nenabled=0\n=x\n");
        assert_eq!(file.problems[0].line, 1);
        let section = file.section("r").unwrap();
        assert_eq!(section.problems.len(), 2);
        assert_eq!(section.problems[0].line, 3);
        assert_eq!(section.get("enabled"), Some("0"));
        assert_eq!(section.duplicate_keys(), [("enabled", vec![4, 5])]);
        assert_eq!(boolean("Yes"), Some(true));
        assert_eq!(boolean("off"), Some(false));
        assert_eq!(boolean("maybe"), None);
        let header = parse("[x] trailing\n[]\n");
        assert!(header.sections[0].problems[0].message.contains("trailing"));
        assert!(!header.sections[0].problems[0].fatal);
        assert!(header.sections[1].problems[0].message.contains("empty"));
    }
}
