//! A fast reader for the plain block lists aws-auth sections are usually written in — every
//! list eks-iam-sync writes, and most hand-written ones — giving exactly the nodes the full
//! YAML parser gives, at a fraction of its cost.
//!
//! It takes only a narrow, line-based subset of YAML and answers `None` for anything else,
//! which then goes to the full parser ([`super::node`]): printable ASCII and `\n` only; blank
//! and comment lines anywhere; entries `- key: value` at one column, their further keys two
//! columns right; values that are one-line plain scalars of a safe alphabet, one-line quoted
//! scalars without escapes, one-line flow lists of such scalars, or (after `key:`) a block
//! list of such scalars on the following lines, further right. No multi-line scalars, no
//! empty values, no anchors, tags, documents markers, directives or nested mappings. It
//! deliberately does not read anything that needs YAML's harder rules; it has no opinion on
//! what such text means.
//!
//! The tests compare it with the full parser on many generated near-miss texts.

use std::borrow::Cow;
use std::ops::Range;

use granit_parser::ScalarStyle;

use super::node::Node;

/// Keys longer than this go to the full parser (YAML limits how far a simple key may reach).
const MAX_KEY_LEN: usize = 128;
/// granit-parser buffers the comments it meets while it decides what follows (e.g. between
/// `groups:` and its first item) and refuses more than 96 in a row; texts with a long run of
/// comments go to it, so that both readers refuse the same texts.
const MAX_COMMENT_RUN: usize = 64;

/// The nodes of `text`, when it is a block list of the subset this reader takes.
pub fn read(text: &str) -> Option<Node<'_>> {
    if !text
        .bytes()
        .all(|b| b == b'\n' || (b' '..=b'~').contains(&b))
    {
        return None;
    }
    let lines = lines(text);
    if has_long_comment_run(&lines) {
        return None;
    }
    let mut items = Vec::new();
    let mut column = None;
    let mut first_dash = None;
    let mut i = 0;
    while i < lines.len() {
        let (start, line) = lines[i];
        let indent = indent_of(line);
        if is_blank_or_comment(&line[indent..]) {
            i += 1;
            continue;
        }
        if !line[indent..].starts_with("- ") || *column.get_or_insert(indent) != indent {
            return None;
        }
        first_dash.get_or_insert(start + indent);
        let (entry, next) = entry(&lines, i, indent)?;
        items.push(entry);
        i = next;
    }
    let end = items.last()?.span().end;
    Some(Node::Sequence {
        items,
        flow: false,
        span: first_dash?..end,
    })
}

/// The lines of `text` with their start offsets, without their `\n`.
fn lines(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = 0;
    for line in text.split('\n') {
        out.push((start, line));
        start += line.len() + 1;
    }
    out
}

/// Whether more than [`MAX_COMMENT_RUN`] comments follow each other (blank lines between
/// them, or a comment after a value before them, do not break the run).
fn has_long_comment_run(lines: &[(usize, &str)]) -> bool {
    let mut run = 0;
    for (_, line) in lines {
        let rest = line.trim_start_matches(' ');
        if rest.starts_with('#') {
            run += 1;
        } else if !rest.is_empty() {
            run = usize::from(line.contains(" #"));
        }
        if run > MAX_COMMENT_RUN {
            return true;
        }
    }
    false
}

fn indent_of(line: &str) -> usize {
    line.bytes().take_while(|&b| b == b' ').count()
}

fn is_blank_or_comment(rest: &str) -> bool {
    rest.is_empty() || rest.starts_with('#')
}

/// One entry: the mapping that starts after the `- ` on line `i` at `column`, and the index
/// of the first line after it.
fn entry<'a>(lines: &[(usize, &'a str)], i: usize, column: usize) -> Option<(Node<'a>, usize)> {
    let key_column = column + 2;
    let (start, line) = lines[i];
    let mut pairs = Vec::new();
    // The key whose value is a block list still being read, with that list's column and items.
    let mut open: Option<(Node<'a>, Option<usize>, Vec<Node<'a>>)> = None;
    match pair(&line[key_column..], start + key_column)? {
        (key, Some(value)) => pairs.push((key, value)),
        (key, None) => open = Some((key, None, Vec::new())),
    }
    let mut next = i + 1;
    while next < lines.len() {
        let (start, line) = lines[next];
        let indent = indent_of(line);
        let rest = &line[indent..];
        if is_blank_or_comment(rest) {
            next += 1;
            continue;
        }
        if indent > key_column && rest.starts_with("- ") {
            // An item of the open key's block list, all items at one column.
            let (_, list_column, items) = open.as_mut()?;
            if *list_column.get_or_insert(indent) != indent {
                return None;
            }
            let (item, tail) = scalar(&rest[2..], start + indent + 2, false)?;
            trailing(tail)?;
            items.push(item);
        } else if indent == key_column {
            close(&mut open, &mut pairs)?;
            match pair(rest, start + indent)? {
                (key, Some(value)) => pairs.push((key, value)),
                (key, None) => open = Some((key, None, Vec::new())),
            }
        } else if indent == column {
            break;
        } else {
            return None;
        }
        next += 1;
    }
    close(&mut open, &mut pairs)?;
    let span = pairs.first()?.0.span().start..pairs.last()?.1.span().end;
    Some((
        Node::Mapping {
            pairs,
            flow: false,
            span,
        },
        next,
    ))
}

/// Ends the open key's block list: `None` (not this reader's business) when it has no item,
/// since the key's value would then be an empty scalar.
fn close<'a>(
    open: &mut Option<(Node<'a>, Option<usize>, Vec<Node<'a>>)>,
    pairs: &mut Vec<(Node<'a>, Node<'a>)>,
) -> Option<()> {
    if let Some((key, _, items)) = open.take() {
        let span = items.first()?.span().start - 2..items.last()?.span().end;
        pairs.push((
            key,
            Node::Sequence {
                items,
                flow: false,
                span,
            },
        ));
    }
    Some(())
}

/// `key: value` (value `Some`) or `key:` with nothing but a comment after it (value `None`:
/// a block list must follow). `at` is the offset of `text` in the section.
fn pair(text: &str, at: usize) -> Option<(Node<'_>, Option<Node<'_>>)> {
    let key_len = text
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-')
        .count();
    if key_len == 0 || key_len > MAX_KEY_LEN || !text.as_bytes()[0].is_ascii_alphabetic() {
        return None;
    }
    let key = plain(&text[..key_len], at);
    let after = text[key_len..].strip_prefix(':')?;
    let value_text = after.trim_start_matches(' ');
    if is_blank_or_comment(value_text) {
        // `key:#x` is not a comment; `key: #x` and `key:` are.
        return (after.is_empty() || after.starts_with(' ')).then_some((key, None));
    }
    if !after.starts_with(' ') {
        return None;
    }
    let value_at = at + text.len() - value_text.len();
    let (value, tail) = if value_text.starts_with('[') {
        flow_list(value_text, value_at)?
    } else {
        scalar(value_text, value_at, false)?
    };
    trailing(tail)?;
    Some((key, Some(value)))
}

/// What may follow a value on its line: spaces, then nothing or a comment.
fn trailing(tail: &str) -> Option<()> {
    let rest = tail.trim_start_matches(' ');
    (rest.is_empty() || (rest.starts_with('#') && rest.len() < tail.len())).then_some(())
}

fn plain(text: &str, at: usize) -> Node<'_> {
    Node::Scalar {
        value: Cow::Borrowed(text),
        style: ScalarStyle::Plain,
        span: at..at + text.len(),
    }
}

/// A one-line scalar at the start of `text`, and the text after it. Plain scalars: a letter
/// or digit, then letters, digits and `._/@=+-` (and `:` outside flow lists, not last).
/// Quoted scalars: no escapes, the closing quote on the same line.
fn scalar(text: &str, at: usize, in_flow: bool) -> Option<(Node<'_>, &str)> {
    let first = *text.as_bytes().first()?;
    if first == b'"' || first == b'\'' {
        let close = text[1..].find(first as char)? + 1;
        let content = &text[1..close];
        if first == b'"' && content.contains('\\') {
            return None;
        }
        let style = if first == b'"' {
            ScalarStyle::DoubleQuoted
        } else {
            ScalarStyle::SingleQuoted
        };
        let node = Node::Scalar {
            value: Cow::Borrowed(content),
            style,
            span: at..at + close + 1,
        };
        return Some((node, &text[close + 1..]));
    }
    if !first.is_ascii_alphanumeric() {
        return None;
    }
    let len = text
        .bytes()
        .take_while(|&b| {
            b.is_ascii_alphanumeric() || b"._/@=+-".contains(&b) || (b == b':' && !in_flow)
        })
        .count();
    let value = &text[..len];
    if value.ends_with(':') {
        return None;
    }
    Some((plain(value, at), &text[len..]))
}

/// A one-line flow list of scalars, `[a, "b"]` or `[]`, and the text after it.
fn flow_list(text: &str, at: usize) -> Option<(Node<'_>, &str)> {
    let mut items = Vec::new();
    let mut rest = text[1..].trim_start_matches(' ');
    if let Some(after) = rest.strip_prefix(']') {
        rest = after;
    } else {
        loop {
            let (item, tail) = scalar(rest, at + text.len() - rest.len(), true)?;
            items.push(item);
            let tail = tail.trim_start_matches(' ');
            if let Some(after) = tail.strip_prefix(']') {
                rest = after;
                break;
            }
            rest = tail.strip_prefix(',')?.trim_start_matches(' ');
        }
    }
    let span: Range<usize> = at..at + text.len() - rest.len();
    Some((
        Node::Sequence {
            items,
            flow: true,
            span,
        },
        rest,
    ))
}

#[cfg(test)]
mod tests {
    use super::super::node::parse_with_yaml_parser;
    use super::*;

    /// The fast reader either declines or agrees with the full parser, node for node.
    fn agrees(text: &str) -> bool {
        let Some(fast) = read(text) else {
            return false;
        };
        let full = parse_with_yaml_parser(text);
        assert_eq!(full, Ok(Some(fast)), "{text:?}");
        true
    }

    #[test]
    fn what_eks_iam_sync_writes_is_read_fast_and_alike() {
        for text in [
            "- rolearn: arn:aws:iam::111122223333:role/a\n  username: a\n  groups:\n    - x\n    - \"y\"\n  managedBy: eks-iam-sync\n",
            "- userarn: arn:aws:iam::111122223333:user/people/u-1\n  username: \"system:node:{{EC2PrivateDNSName}}\"\n  groups: []\n  managedBy: eks-iam-sync\n",
            "# head\n- rolearn: arn:aws:iam::1:role/keep   # odd spacing\n  username: 'k'\n\n- rolearn: drop\n# tail\n",
            "  - rolearn: a\n    username: a\n  - rolearn: b\n    groups:\n      - g # c\n",
            "# team 1\n- rolearn: arn:aws:iam::111122223333:role/hand-0001\n  username: hand-1\n  groups: [\"viewers\"]\n",
            "- rolearn: a\n  groups: [ x , 'y',\"z\" ]\n  # inside\n  username: null",
            "- rolearn: a\n  groups:   # the groups\n\n    - a\n    # between\n    - b\n",
        ] {
            assert!(agrees(text), "not read fast: {text:?}");
        }
    }

    #[test]
    fn anything_outside_the_subset_goes_to_the_full_parser() {
        for text in [
            "",
            "# only a comment\n",
            "[]",
            "- \"111122223333\"\n",
            "- rolearn: a\n  groups:\n",
            "- rolearn: a\n  groups:\n  - x\n",
            "- rolearn: a\n  username: two words\n",
            "- rolearn: a\n  username: \"esc\\\"aped\"\n",
            "- rolearn: a\n  username: {{SessionName}}\n",
            "- rolearn: a\n  username: b\n    continued\n",
            "- rolearn: a\r\n",
            "- rolearn: a\n\tusername: b\n",
            "---\n- rolearn: a\n",
            "- rolearn: &x a\n",
            "- rolearn: a\n - rolearn: b\n",
            "- rolearn: a\n  groups: [a, ]\n",
            "- rolearn: a\n  groups: [a:b]\n",
            "- rolearn: a:\n",
            "- rolearn: a#b\n",
            "- rolearn:a\n",
            "-   rolearn: a\n",
            "- rolearn: é\n",
        ] {
            assert!(read(text).is_none(), "read fast: {text:?}");
        }
    }

    #[test]
    fn long_runs_of_comments_go_to_the_full_parser() {
        // granit-parser refuses 97 comments between `groups:` and its first item.
        let refused = format!("- rolearn: a\n  groups:\n{}    - x\n", "# c\n".repeat(97));
        assert!(parse_with_yaml_parser(&refused).is_err());
        assert!(read(&refused).is_none());
        let kept = format!("- rolearn: a\n  groups:\n{}    - x\n", "# c\n\n".repeat(64));
        assert!(agrees(&kept));
    }

    /// Texts stitched from fragments of the subset and of its near misses: whatever the fast
    /// reader takes, the full parser reads the same way.
    #[test]
    fn generated_near_misses_never_disagree() {
        const FRAGMENTS: &[&str] = &[
            "- ",
            "  ",
            "    ",
            "- ",
            "rolearn",
            "username",
            "groups",
            "managedBy",
            ": ",
            ":",
            "\n",
            "\n",
            "\n",
            "a",
            "arn:aws:iam::1:role/x",
            "\"q r\"",
            "'s'",
            "[a, \"b\"]",
            "[]",
            " # c",
            "#c",
            "null",
            "~",
            "x:",
            "-x",
            "{{t}}",
            "\"\"",
            "''",
            "\t",
            "  - g",
            "---",
            "&a ",
            "*a",
            "[",
            "]",
            ",",
            "\"",
            "'",
            "0",
            " ",
            "1.5",
            "y",
        ];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let mut fast = 0;
        for _ in 0..40_000 {
            let mut text = String::new();
            // Mostly well-formed entries, with a fragment spliced in somewhere.
            for _ in 0..1 + next(3) {
                text.push_str("- rolearn: arn:aws:iam::1:role/r\n  groups:\n    - g\n");
                for _ in 0..next(4) {
                    text.push_str(FRAGMENTS[next(FRAGMENTS.len())]);
                }
                text.push_str("  username: u\n");
            }
            if agrees(&text) {
                fast += 1;
            }
        }
        assert!(fast > 1_000, "only {fast} texts were read fast");
    }
}
