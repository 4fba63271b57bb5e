//! One aws-auth section (`mapRoles`, `mapUsers`, `mapAccounts`) read with EKS's rules,
//! remembering the exact bytes of every entry so that unmanaged ones can be written back
//! untouched.
//!
//! EKS (aws-iam-authenticator) reads each section as YAML 1.1 into a list: a missing key,
//! `""`, `''`, `[]`, `null` or comments only all mean an empty list; entry keys match
//! case-insensitively and unknown keys are ignored; a section that fails to parse is dropped
//! whole. This module reproduces that reading and reports, instead of dropping, what EKS
//! would drop — the planner refuses to write over content it cannot parse.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use granit_parser::ScalarStyle;

use super::node::{Node, parse_first_document};

/// The three sections of aws-auth's `data`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SectionName {
    MapRoles,
    MapUsers,
    MapAccounts,
}

impl SectionName {
    pub const ALL: [SectionName; 3] = [
        SectionName::MapRoles,
        SectionName::MapUsers,
        SectionName::MapAccounts,
    ];

    /// The ConfigMap data key (case-sensitive: EKS ignores `maproles`).
    pub fn key(self) -> &'static str {
        match self {
            SectionName::MapRoles => "mapRoles",
            SectionName::MapUsers => "mapUsers",
            SectionName::MapAccounts => "mapAccounts",
        }
    }

    /// The entry key holding the principal ARN (`rolearn` / `userarn`).
    pub fn arn_key(self) -> Option<&'static str> {
        match self {
            SectionName::MapRoles => Some("rolearn"),
            SectionName::MapUsers => Some("userarn"),
            SectionName::MapAccounts => None,
        }
    }
}

impl fmt::Display for SectionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// A role or user mapping as EKS reads it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mapping {
    /// The ARN exactly as written.
    pub arn: String,
    pub username: Option<String>,
    pub groups: Vec<String>,
    /// Keys EKS ignores, with their scalar values (where our ownership mark lives).
    pub extra: Vec<(String, String)>,
}

/// What one list item of a section holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemValue {
    Mapping(Mapping),
    Account(String),
}

impl ItemValue {
    /// The identity EKS looks the entry up by: the ARN, or the account id.
    pub fn key(&self) -> &str {
        match self {
            ItemValue::Mapping(m) => &m.arn,
            ItemValue::Account(a) => a,
        }
    }
}

/// A key (ARN or account id) as EKS compares it: ASCII case folded; borrowed when it is
/// lowercase already, as nearly every key is.
pub fn folded_key(key: &str) -> Cow<'_, str> {
    if key.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(key.to_ascii_lowercase())
    } else {
        Cow::Borrowed(key)
    }
}

/// One entry of a section with the bytes it occupies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub value: ItemValue,
    /// The entry's own text: from the start of its line to the end of its last line, for block
    /// lists (the `- ` included); the node itself for flow lists.
    pub bytes: Range<usize>,
    /// Blank and comment lines between the previous entry and this one: they describe this
    /// entry, so they stay or go with it. Empty for the first entry (see [`Section::prefix`]).
    pub lead: Range<usize>,
}

/// How the section's list is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// No list at all: missing key, empty text, comments, `""`, `[]`, `null`.
    Empty,
    /// A block list whose `- ` indicators sit at this column.
    Block { indent: usize },
    /// A flow list `[ ... ]` (JSON included).
    Flow,
    /// A block list laid out so that entries cannot be cut apart line by line (e.g. two
    /// entries on one line); readable, but we will not rewrite it.
    Irregular,
}

/// A parsed section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub name: SectionName,
    pub text: String,
    pub layout: Layout,
    /// Bytes before the list (comments); kept when the section is rewritten.
    pub prefix: Range<usize>,
    /// Bytes after the last entry (trailing comments); kept, at the end, when rewritten.
    pub suffix: Range<usize>,
    pub items: Vec<Item>,
    /// Things EKS reads differently from how they look, worth telling the operator.
    pub warnings: Vec<String>,
}

/// A section EKS would drop whole (and so would we refuse to write over).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("data.{section} does not parse{}: {message}", line.map(|l| format!(" (line {l} of the section)")).unwrap_or_default())]
pub struct SectionError {
    pub section: SectionName,
    pub line: Option<usize>,
    pub message: String,
}

impl Section {
    /// Reads a section's text (`None` when the data key is absent).
    pub fn parse(name: SectionName, text: Option<&str>) -> Result<Section, SectionError> {
        let source = text.unwrap_or_default();
        let error = |line: Option<usize>, message: String| SectionError {
            section: name,
            line,
            message,
        };
        // The nodes borrow from `source`; the section keeps its own copy of the text.
        let root = parse_first_document(source).map_err(|e| error(Some(e.line), e.message))?;
        let mut section = Section {
            name,
            layout: Layout::Empty,
            prefix: 0..source.len(),
            suffix: source.len()..source.len(),
            items: Vec::new(),
            warnings: Vec::new(),
            text: source.to_owned(),
        };
        let Some(root) = root else { return Ok(section) };
        section.prefix = 0..root.span().start;
        let (nodes, flow) = match root {
            Node::Sequence { items, flow, .. } => (items, flow),
            Node::Scalar { ref value, .. } if root.is_null() || value.is_empty() => {
                return Ok(section);
            }
            other => {
                return Err(error(
                    Some(section.line_of(other.span().start)),
                    format!("expected a list, found {}", other.describe()),
                ));
            }
        };
        if nodes.is_empty() {
            return Ok(section);
        }
        let mut values = Vec::with_capacity(nodes.len());
        for (index, node) in nodes.iter().enumerate() {
            let value = read_item(name, node, &mut section.warnings, index)
                .map_err(|message| error(Some(section.line_of(node.span().start)), message))?;
            values.push(value);
        }
        let spans: Vec<Range<usize>> = nodes.iter().map(Node::span).collect();
        let (layout, ranges) = if flow {
            (Layout::Flow, flow_ranges(&spans))
        } else {
            match block_ranges(&section.text, &spans) {
                Some((indent, ranges)) => (Layout::Block { indent }, ranges),
                None => (Layout::Irregular, flow_ranges(&spans)),
            }
        };
        if let Layout::Block { .. } = layout {
            section.prefix = 0..ranges[0].1.start;
            section.suffix = ranges[ranges.len() - 1].1.end..section.text.len();
        }
        section.layout = layout;
        section.items = values
            .into_iter()
            .zip(ranges)
            .map(|(value, (lead, bytes))| Item { value, bytes, lead })
            .collect();
        Ok(section)
    }

    /// The section's effective entries, in order.
    pub fn values(&self) -> impl Iterator<Item = &ItemValue> {
        self.items.iter().map(|i| &i.value)
    }

    /// 1-based line number of a byte offset in the section text.
    pub fn line_of(&self, offset: usize) -> usize {
        self.text[..offset.min(self.text.len())]
            .bytes()
            .filter(|&b| b == b'\n')
            .count()
            + 1
    }

    /// Whether the text uses CRLF line breaks (generated lines then use them too).
    pub fn uses_crlf(&self) -> bool {
        self.text.contains("\r\n")
    }
}

/// Reads one list item by EKS's rules; `Err` is a message for a section-level failure.
fn read_item(
    name: SectionName,
    node: &Node,
    warnings: &mut Vec<String>,
    index: usize,
) -> Result<ItemValue, String> {
    let Some(arn_key) = name.arn_key() else {
        return match node {
            Node::Scalar { value, style, .. } => {
                if *style == ScalarStyle::Plain && looks_numeric_in_yaml11(value) {
                    warnings.push(format!(
                        "{name}[{index}]: account `{value}` is unquoted; EKS's YAML 1.1 reader may read it as a number (quote it)"
                    ));
                }
                Ok(ItemValue::Account(value.as_ref().to_owned()))
            }
            other => Err(format!(
                "entry {index}: expected an account id, found {}",
                other.describe()
            )),
        };
    };
    let Node::Mapping { pairs, .. } = node else {
        return Err(format!(
            "entry {index}: expected a mapping with {arn_key}, found {}",
            node.describe()
        ));
    };
    let mut mapping = Mapping::default();
    let field = |wanted: &str| -> Option<&Node> {
        // encoding/json matches keys case-insensitively and the last matching key wins; Go
        // marshals the YAML map with sorted keys first, hence the ordering by key text.
        pairs
            .iter()
            .filter_map(|(k, v)| match k {
                Node::Scalar { value, .. } if value.eq_ignore_ascii_case(wanted) => {
                    Some((value.as_ref(), v))
                }
                _ => None,
            })
            .max_by(|a, b| a.0.cmp(b.0))
            .map(|(_, v)| v)
    };
    let scalar = |wanted: &str| -> Result<Option<String>, String> {
        match field(wanted) {
            None => Ok(None),
            Some(n) if n.is_null() => Ok(None),
            Some(Node::Scalar { value, .. }) => Ok(Some(value.as_ref().to_owned())),
            Some(other) => Err(format!(
                "entry {index}: `{wanted}` must be a string, found {} (an unquoted `{{{{...}}}}` template is a mapping: quote it)",
                other.describe()
            )),
        }
    };
    mapping.arn = scalar(arn_key)?.unwrap_or_default();
    mapping.username = scalar("username")?;
    match field("groups") {
        None => {}
        Some(n) if n.is_null() => {}
        Some(Node::Sequence { items, .. }) => {
            for group in items {
                match group {
                    g if g.is_null() => {}
                    Node::Scalar { value, .. } => mapping.groups.push(value.as_ref().to_owned()),
                    other => return Err(format!("entry {index}: groups must be strings, found {}", other.describe())),
                }
            }
        }
        Some(Node::Scalar { value, .. }) => warnings.push(format!(
            "{name}[{index}] ({}): `groups: {value}` is a scalar, not a list; EKS grants no groups from it",
            mapping.arn
        )),
        Some(other) => return Err(format!("entry {index}: groups must be a list, found {}", other.describe())),
    }
    if mapping.arn.is_empty() {
        warnings.push(format!(
            "{name}[{index}]: entry has no {arn_key}; EKS matches nobody with it"
        ));
    }
    for (key, value) in pairs {
        if let (Node::Scalar { value: key, .. }, Node::Scalar { value, .. }) = (key, value)
            && !["username", "groups", arn_key]
                .iter()
                .any(|k| k.eq_ignore_ascii_case(key))
        {
            mapping
                .extra
                .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        }
    }
    Ok(ItemValue::Mapping(mapping))
}

/// Plain scalars that YAML 1.1 would not read as a string of digits.
fn looks_numeric_in_yaml11(value: &str) -> bool {
    let digits = value.trim_start_matches(['+', '-']);
    !digits.is_empty()
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'_' || b == b'.' || b == b':')
}

/// The blank/comment lines before an entry, and the entry's own bytes.
type ItemRanges = (Range<usize>, Range<usize>);

/// Block lists: each entry from the start of its `- ` line to the end of its last content line,
/// led by the blank/comment lines since the previous entry. `None` when the layout does not
/// allow cutting.
fn block_ranges(text: &str, spans: &[Range<usize>]) -> Option<(usize, Vec<ItemRanges>)> {
    let bytes = text.as_bytes();
    let mut starts = Vec::with_capacity(spans.len());
    let mut indent = None;
    for span in spans {
        // Walk back from the node over blanks to its `-` indicator, then to the line start.
        let mut dash = span.start;
        while dash > 0 && bytes[dash - 1] == b' ' {
            dash -= 1;
        }
        if dash == 0 || bytes[dash - 1] != b'-' {
            return None;
        }
        dash -= 1;
        let line_start = text[..dash].rfind('\n').map_or(0, |i| i + 1);
        if !text[line_start..dash].bytes().all(|b| b == b' ') {
            return None;
        }
        let column = dash - line_start;
        if *indent.get_or_insert(column) != column {
            return None;
        }
        starts.push(line_start);
    }
    let mut ranges = Vec::with_capacity(spans.len());
    let mut previous_end = None;
    for (i, span) in spans.iter().enumerate() {
        let end = text[span.end..]
            .find('\n')
            .map_or(text.len(), |j| span.end + j + 1);
        if starts.get(i + 1).is_some_and(|&next| end > next) {
            return None;
        }
        let lead = previous_end.unwrap_or(starts[i])..starts[i];
        ranges.push((lead, starts[i]..end));
        previous_end = Some(end);
    }
    Some((indent.unwrap_or(0), ranges))
}

/// Flow lists: each entry is exactly its node; separators are not kept.
fn flow_ranges(spans: &[Range<usize>]) -> Vec<ItemRanges> {
    spans
        .iter()
        .map(|s| (s.start..s.start, s.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles(text: &str) -> Section {
        Section::parse(SectionName::MapRoles, Some(text)).unwrap()
    }

    fn mappings(section: &Section) -> Vec<&Mapping> {
        section
            .values()
            .map(|v| match v {
                ItemValue::Mapping(m) => m,
                ItemValue::Account(_) => panic!("account in a mapping section"),
            })
            .collect()
    }

    #[test]
    fn every_empty_form_is_an_empty_list() {
        for text in [
            "",
            "   \n",
            "\"\"",
            "''",
            "[]",
            "null",
            "~",
            "# only a comment\n",
        ] {
            let s = roles(text);
            assert_eq!(s.layout, Layout::Empty, "{text:?}");
            assert!(s.items.is_empty(), "{text:?}");
        }
        assert_eq!(
            Section::parse(SectionName::MapUsers, None).unwrap().layout,
            Layout::Empty
        );
    }

    #[test]
    fn entry_keys_match_case_insensitively_and_unknown_keys_are_kept() {
        let s = roles(
            "- roleARN: arn:aws:iam::111122223333:role/a\n  UsErNaMe: a\n  GROUPS: [x]\n  team: blue\n",
        );
        let m = mappings(&s)[0];
        assert_eq!(m.arn, "arn:aws:iam::111122223333:role/a");
        assert_eq!(m.username.as_deref(), Some("a"));
        assert_eq!(m.groups, ["x"]);
        assert_eq!(m.extra, [("team".to_owned(), "blue".to_owned())]);
    }

    #[test]
    fn missing_or_null_groups_are_valid_and_scalar_groups_warn() {
        let s = roles(
            "- rolearn: a\n  username: a\n- rolearn: b\n  groups: null\n- rolearn: c\n  groups: system:masters\n",
        );
        assert!(mappings(&s).iter().all(|m| m.groups.is_empty()));
        assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
        assert!(s.warnings[0].contains("scalar"));
    }

    #[test]
    fn unquoted_template_fails_the_whole_section() {
        let err = Section::parse(
            SectionName::MapRoles,
            Some("- rolearn: a\n  username: {{SessionName}}\n"),
        )
        .unwrap_err();
        assert_eq!(err.section, SectionName::MapRoles);
        assert!(err.message.contains("template"), "{err}");
        assert_eq!(err.line, Some(1));
    }

    #[test]
    fn quoted_templates_read_as_strings() {
        let s = roles("- rolearn: a\n  username: \"{{SessionName}}\"\n");
        assert_eq!(mappings(&s)[0].username.as_deref(), Some("{{SessionName}}"));
    }

    #[test]
    fn broken_yaml_names_the_line() {
        let err = Section::parse(SectionName::MapUsers, Some("- userarn: a\n  groups: [x\n"))
            .unwrap_err();
        assert!(err.line.is_some());
        assert!(
            err.to_string().starts_with("data.mapUsers does not parse"),
            "{err}"
        );
    }

    #[test]
    fn non_list_sections_are_errors() {
        assert!(Section::parse(SectionName::MapRoles, Some("rolearn: a\n")).is_err());
        assert!(Section::parse(SectionName::MapRoles, Some("- just-a-string\n")).is_err());
        assert!(Section::parse(SectionName::MapAccounts, Some("- {a: b}\n")).is_err());
    }

    #[test]
    fn accounts_are_strings_and_unquoted_ones_warn() {
        let s = Section::parse(
            SectionName::MapAccounts,
            Some("- \"012345678901\"\n- 111122223333\n"),
        )
        .unwrap();
        let accounts: Vec<&str> = s.values().map(ItemValue::key).collect();
        assert_eq!(accounts, ["012345678901", "111122223333"]);
        assert_eq!(s.warnings.len(), 1);
    }

    #[test]
    fn comments_lead_the_entry_they_precede() {
        let text = "# head\n- rolearn: a # why\n  username: a\n\n# about b\n- rolearn: b\n  username: b\n# tail\n";
        let s = roles(text);
        assert_eq!(s.layout, Layout::Block { indent: 0 });
        assert_eq!(&s.text[s.prefix.clone()], "# head\n");
        assert_eq!(&s.text[s.items[0].lead.clone()], "");
        assert_eq!(
            &s.text[s.items[0].bytes.clone()],
            "- rolearn: a # why\n  username: a\n"
        );
        assert_eq!(&s.text[s.items[1].lead.clone()], "\n# about b\n");
        assert_eq!(
            &s.text[s.items[1].bytes.clone()],
            "- rolearn: b\n  username: b\n"
        );
        assert_eq!(&s.text[s.suffix.clone()], "# tail\n");
    }

    #[test]
    fn indented_block_lists_are_recognised() {
        let s = roles("  - rolearn: a\n    username: a\n  - rolearn: b\n");
        assert_eq!(s.layout, Layout::Block { indent: 2 });
    }

    #[test]
    fn flow_lists_are_read() {
        let s = roles("[{\"rolearn\": \"a\", \"groups\": [\"x\"]}, {rolearn: b}]");
        assert_eq!(s.layout, Layout::Flow);
        assert_eq!(&s.text[s.items[1].bytes.clone()], "{rolearn: b}");
    }

    #[test]
    fn duplicate_arns_are_all_kept_in_order() {
        let s = roles("- rolearn: a\n  username: first\n- rolearn: a\n  username: second\n");
        let names: Vec<_> = mappings(&s)
            .iter()
            .map(|m| m.username.clone().unwrap())
            .collect();
        assert_eq!(names, ["first", "second"]);
    }

    #[test]
    fn crlf_is_detected_and_ranges_hold() {
        let text = "- rolearn: a\r\n  username: a\r\n- rolearn: b\r\n";
        let s = roles(text);
        assert!(s.uses_crlf());
        assert_eq!(
            &s.text[s.items[0].bytes.clone()],
            "- rolearn: a\r\n  username: a\r\n"
        );
    }
}
