//! A small YAML node tree that remembers where every node sits in its source text.
//!
//! aws-auth sections must be read by meaning (to know which entries exist) *and* by bytes
//! (to write unmanaged entries back exactly as they were). granit-parser (the parser under
//! serde-saphyr) gives an event stream with byte spans; this module folds it into nodes
//! carrying those spans. Only the first document is read, as go-yaml's Unmarshal does.
//! Plain block lists (what eks-iam-sync writes) are read by [`super::simple_list`] instead,
//! into the same nodes, several times faster.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;

use granit_parser::{Event, Parser, ScalarStyle, StructureStyle};

/// A YAML node with the byte range it covers in the source. Scalars borrow from the source
/// where the parser could (plain and quoted scalars without escapes or folding), so reading a
/// large section allocates only for the values that are kept.
#[derive(Debug, Clone, PartialEq)]
pub enum Node<'a> {
    Scalar {
        value: Cow<'a, str>,
        style: ScalarStyle,
        span: Range<usize>,
    },
    Sequence {
        items: Vec<Node<'a>>,
        flow: bool,
        span: Range<usize>,
    },
    Mapping {
        pairs: Vec<(Node<'a>, Node<'a>)>,
        flow: bool,
        span: Range<usize>,
    },
}

impl Node<'_> {
    /// Bytes from the node's first to its last character (comments after it excluded).
    pub fn span(&self) -> Range<usize> {
        match self {
            Node::Scalar { span, .. }
            | Node::Sequence { span, .. }
            | Node::Mapping { span, .. } => span.clone(),
        }
    }

    /// A short description for error messages ("a mapping", "the scalar `x`").
    pub fn describe(&self) -> String {
        match self {
            Node::Scalar { value, .. } => format!("the scalar `{value}`"),
            Node::Sequence { .. } => "a list".to_owned(),
            Node::Mapping { .. } => "a mapping".to_owned(),
        }
    }

    /// True for the scalars YAML reads as null: empty plain, `~`, `null` (any case form).
    pub fn is_null(&self) -> bool {
        matches!(self, Node::Scalar { value, style: ScalarStyle::Plain, .. }
            if matches!(value.as_ref(), "" | "~" | "null" | "Null" | "NULL"))
    }
}

/// A YAML syntax error with the 1-based line and column where it was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct SyntaxError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Parses the first YAML document of `text`. `Ok(None)` when there is no document at all
/// (empty text, only comments). Plain block lists take the fast reader
/// ([`super::simple_list`], same nodes); everything else the full parser.
pub fn parse_first_document(text: &str) -> Result<Option<Node<'_>>, SyntaxError> {
    match super::simple_list::read(text) {
        Some(node) => Ok(Some(node)),
        None => parse_with_yaml_parser(text),
    }
}

/// [`parse_first_document`] with granit-parser, whatever the text.
pub(super) fn parse_with_yaml_parser(text: &str) -> Result<Option<Node<'_>>, SyntaxError> {
    let mut builder = Builder::default();
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| SyntaxError {
            line: e.marker().line(),
            column: e.marker().col() + 1,
            message: e.info().to_owned(),
        })?;
        let range = span.byte_range().unwrap_or(0..0);
        if builder.push(event, range) {
            break;
        }
    }
    Ok(builder.root)
}

#[derive(Default)]
struct Builder<'a> {
    stack: Vec<Open<'a>>,
    anchors: HashMap<usize, Node<'a>>,
    root: Option<Node<'a>>,
    in_document: bool,
}

enum Open<'a> {
    Sequence {
        items: Vec<Node<'a>>,
        flow: bool,
        start: usize,
        anchor: usize,
    },
    Mapping {
        pairs: Vec<(Node<'a>, Node<'a>)>,
        pending_key: Option<Node<'a>>,
        flow: bool,
        start: usize,
        anchor: usize,
    },
}

impl<'a> Builder<'a> {
    /// Feeds one event; returns true once the first document is complete.
    fn push(&mut self, event: Event<'a>, span: Range<usize>) -> bool {
        match event {
            Event::DocumentStart(..) => self.in_document = true,
            Event::DocumentEnd => return self.in_document,
            Event::Scalar(value, style, anchor, _) => {
                self.complete(Node::Scalar { value, style, span }, anchor);
            }
            Event::Alias(id) => {
                // An unknown anchor is a parse error upstream; a known one is a copy.
                if let Some(node) = self.anchors.get(&id).cloned() {
                    self.complete(node, 0);
                }
            }
            Event::SequenceStart(style, anchor, _) => self.stack.push(Open::Sequence {
                items: Vec::new(),
                flow: style == StructureStyle::Flow,
                start: span.start,
                anchor,
            }),
            Event::MappingStart(style, anchor, _) => self.stack.push(Open::Mapping {
                pairs: Vec::new(),
                pending_key: None,
                flow: style == StructureStyle::Flow,
                start: span.start,
                anchor,
            }),
            Event::SequenceEnd | Event::MappingEnd => {
                let node = match self.stack.pop() {
                    Some(Open::Sequence {
                        items,
                        flow,
                        start,
                        anchor,
                    }) => {
                        let end = if flow {
                            span.end
                        } else {
                            items.last().map_or(start, |n| n.span().end)
                        };
                        (
                            Node::Sequence {
                                items,
                                flow,
                                span: start..end,
                            },
                            anchor,
                        )
                    }
                    Some(Open::Mapping {
                        pairs,
                        flow,
                        start,
                        anchor,
                        ..
                    }) => {
                        let end = if flow {
                            span.end
                        } else {
                            pairs.last().map_or(start, |(_, v)| v.span().end)
                        };
                        (
                            Node::Mapping {
                                pairs,
                                flow,
                                span: start..end,
                            },
                            anchor,
                        )
                    }
                    None => return false,
                };
                self.complete(node.0, node.1);
            }
            _ => {}
        }
        false
    }

    fn complete(&mut self, node: Node<'a>, anchor: usize) {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            Some(Open::Sequence { items, .. }) => items.push(node),
            Some(Open::Mapping {
                pairs, pending_key, ..
            }) => match pending_key.take() {
                Some(key) => pairs.push((key, node)),
                None => *pending_key = Some(node),
            },
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_items_span_their_content_only() {
        let text = "- a: 1 # c\n  b: [x]\n# gap\n- c: 2\n";
        let Some(Node::Sequence {
            items, flow: false, ..
        }) = parse_first_document(text).unwrap()
        else {
            panic!("expected a block sequence")
        };
        assert_eq!(&text[items[0].span()], "a: 1 # c\n  b: [x]");
        assert_eq!(&text[items[1].span()], "c: 2");
    }

    #[test]
    fn flow_items_span_their_braces() {
        let text = "[{a: 1}, {b: 2}]";
        let Some(Node::Sequence {
            items,
            flow: true,
            span,
        }) = parse_first_document(text).unwrap()
        else {
            panic!("expected a flow sequence")
        };
        assert_eq!(&text[items[1].span()], "{b: 2}");
        assert_eq!(&text[span], text);
    }

    #[test]
    fn aliases_are_resolved() {
        let text = "- &g [x, y]\n- *g\n";
        let Some(Node::Sequence { items, .. }) = parse_first_document(text).unwrap() else {
            panic!()
        };
        assert!(matches!(&items[1], Node::Sequence { items, .. } if items.len() == 2));
    }

    #[test]
    fn only_comments_is_no_document() {
        assert_eq!(parse_first_document("# nothing\n").unwrap(), None);
        assert_eq!(parse_first_document("").unwrap(), None);
    }

    #[test]
    fn syntax_errors_carry_a_line() {
        let err = parse_first_document("- a: 1\n- b: [\n").unwrap_err();
        assert!(err.line >= 2, "{err}");
    }
}
