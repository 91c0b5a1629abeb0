//! The shape of a param's value: what `picket validate` checks the inside of a table or
//! list param against (its keys, each key's kind, nested tables, list items, string forms).
//!
//! A plugin declares a shape per param (`param-info.shape` in `wit/plugin.wit`). WIT types
//! cannot contain themselves, so the contract carries a shape as a flat list of
//! [`ShapeNode`]s that refer to their children by index; [`Shape::from_nodes`] turns that
//! into the tree here, refusing indices that point backwards (so a shape is always a finite
//! tree) and patterns that do not compile. Checking a TOML value against a shape is
//! config's job (it has the spans); this module only says what a shape allows.

use std::fmt;

use serde::Serialize;

/// What a value inside a shape may be (`value-kind` in `wit/plugin.wit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ValueKind {
    String,
    Integer,
    /// An integer or a float.
    Number,
    Bool,
    /// A duration string; handed over as whole milliseconds.
    Duration,
    /// A size string or a number of bytes; handed over as bytes.
    Size,
    Table,
    List,
    Any,
}

impl ValueKind {
    pub const ALL: [ValueKind; 9] = [
        ValueKind::String,
        ValueKind::Integer,
        ValueKind::Number,
        ValueKind::Bool,
        ValueKind::Duration,
        ValueKind::Size,
        ValueKind::Table,
        ValueKind::List,
        ValueKind::Any,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ValueKind::String => "string",
            ValueKind::Integer => "integer",
            ValueKind::Number => "number",
            ValueKind::Bool => "bool",
            ValueKind::Duration => "duration",
            ValueKind::Size => "size",
            ValueKind::Table => "table",
            ValueKind::List => "list",
            ValueKind::Any => "any",
        }
    }

    /// How an error message names a value of this kind ("expected an integer").
    pub fn described(self) -> &'static str {
        match self {
            ValueKind::String => "a string",
            ValueKind::Integer => "an integer",
            ValueKind::Number => "a number",
            ValueKind::Bool => "a boolean",
            ValueKind::Duration => "a duration such as \"5s\"",
            ValueKind::Size => "a size such as \"64MiB\"",
            ValueKind::Table => "a table",
            ValueKind::List => "an array",
            ValueKind::Any => "any value",
        }
    }
}

impl fmt::Display for ValueKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// The form a string must have, as a regular expression matched against the whole string.
#[derive(Debug, Clone)]
pub struct Pattern {
    regex: regex::Regex,
    /// As the plugin wrote it (without the anchoring added here).
    source: String,
    /// What a matching string is, for messages: "a status class (\"2xx\") or range (\"200-399\")".
    pub description: String,
}

/// Bounds what a plugin's pattern may cost to compile (the `regex` crate's own limit is 10 MiB).
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

impl Pattern {
    pub fn new(regex: &str, description: &str) -> Result<Pattern, String> {
        let compiled = regex::RegexBuilder::new(&format!("^(?:{regex})$"))
            .size_limit(PATTERN_SIZE_LIMIT)
            .build()
            .map_err(|e| format!("pattern {regex:?} does not compile: {e}"))?;
        Ok(Pattern { regex: compiled, source: regex.to_string(), description: description.to_string() })
    }

    pub fn matches(&self, text: &str) -> bool {
        self.regex.is_match(text)
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Pattern) -> bool {
        self.source == other.source && self.description == other.description
    }
}

impl Serialize for Pattern {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Pattern", 2)?;
        st.serialize_field("regex", &self.source)?;
        st.serialize_field("description", &self.description)?;
        st.end()
    }
}

/// A key a table may have.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShapeKey {
    pub name: String,
    pub required: bool,
    pub description: String,
    pub shape: Shape,
}

/// What a value may be. Several kinds: any one of them (`expect.status` is an integer, a
/// status-class string or a list of those); the other fields apply to the kind they name.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Shape {
    /// Empty: any value.
    pub kinds: Vec<ValueKind>,
    /// For a table: its keys.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<ShapeKey>,
    /// For a table: the shape of the value under a key not in `keys` (header names, JSON
    /// paths). `None`: such a key is an error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_keys: Option<Box<Shape>>,
    /// For a list: the shape of every item. `None`: items are not checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<Box<Shape>>,
    /// For a string: the values it may take. Empty: any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub one_of: Vec<String>,
    /// For a string: the form it must have.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pattern: Option<Pattern>,
}

impl Shape {
    /// A value of one of `kinds` (none: anything), with nothing more said about it.
    pub fn of(kinds: &[ValueKind]) -> Shape {
        Shape { kinds: kinds.to_vec(), ..Shape::default() }
    }

    /// A table whose keys are `keys` and no others.
    pub fn table(keys: Vec<ShapeKey>) -> Shape {
        Shape { kinds: vec![ValueKind::Table], keys, ..Shape::default() }
    }

    /// A list whose items have the shape `items`.
    pub fn list(items: Shape) -> Shape {
        Shape { kinds: vec![ValueKind::List], items: Some(Box::new(items)), ..Shape::default() }
    }

    /// Whether a value of `kind` may appear here.
    pub fn allows(&self, kind: ValueKind) -> bool {
        self.kinds.is_empty() || self.kinds.contains(&ValueKind::Any) || self.kinds.contains(&kind)
    }

    pub fn key(&self, name: &str) -> Option<&ShapeKey> {
        self.keys.iter().find(|k| k.name == name)
    }

    /// "an integer, a string or an array": what the kinds allow, for messages.
    pub fn expected(&self) -> String {
        if self.kinds.is_empty() || self.kinds.contains(&ValueKind::Any) {
            return ValueKind::Any.described().into();
        }
        let names: Vec<&str> = self.kinds.iter().map(|k| k.described()).collect();
        match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
            _ => names.concat(),
        }
    }

    /// What is wrong with the declaration at `path` ("expect", "expect.status"): fields
    /// given for a kind the node does not allow, keys declared twice.
    pub fn problems(&self, path: &str) -> Vec<String> {
        let mut out = Vec::new();
        // Keys, items and string forms are checked only where the kind is named: a node
        // that allows anything takes any table as it is.
        let names = |kind: ValueKind| self.kinds.contains(&kind);
        if (!self.keys.is_empty() || self.other_keys.is_some()) && !names(ValueKind::Table) {
            out.push(format!("`{path}` declares keys but does not allow a table"));
        }
        if self.items.is_some() && !names(ValueKind::List) {
            out.push(format!("`{path}` declares list items but does not allow a list"));
        }
        if (!self.one_of.is_empty() || self.pattern.is_some()) && !names(ValueKind::String) {
            out.push(format!("`{path}` declares string values but does not allow a string"));
        }
        let mut seen = std::collections::HashSet::new();
        for k in &self.keys {
            if !seen.insert(k.name.as_str()) {
                out.push(format!("`{path}.{}` is declared twice", k.name));
            }
            out.extend(k.shape.problems(&format!("{path}.{}", k.name)));
        }
        if let Some(o) = &self.other_keys {
            out.extend(o.problems(&format!("{path}.*")));
        }
        if let Some(i) = &self.items {
            out.extend(i.problems(&format!("{path}[]")));
        }
        out
    }

    /// The tree of a flat shape, node 0 its root; `None` for an empty list (no shape).
    /// Children must come after their parent, so the tree is finite whatever the plugin sent.
    pub fn from_nodes(nodes: &[ShapeNode]) -> Result<Option<Shape>, String> {
        if nodes.is_empty() {
            return Ok(None);
        }
        fn build(nodes: &[ShapeNode], at: usize) -> Result<Shape, String> {
            let node = &nodes[at];
            let child = |index: u32| -> Result<Shape, String> {
                let i = index as usize;
                if i <= at || i >= nodes.len() {
                    return Err(format!("shape node {at} refers to node {index}; a child must come after its parent and exist"));
                }
                build(nodes, i)
            };
            let keys = node
                .keys
                .iter()
                .map(|k| {
                    Ok(ShapeKey { name: k.name.clone(), required: k.required, description: k.description.clone(), shape: child(k.node)? })
                })
                .collect::<Result<_, String>>()?;
            Ok(Shape {
                kinds: node.kinds.clone(),
                keys,
                other_keys: node.other_keys.map(child).transpose()?.map(Box::new),
                items: node.items.map(child).transpose()?.map(Box::new),
                one_of: node.one_of.clone(),
                pattern: node.pattern.as_ref().map(|(regex, description)| Pattern::new(regex, description)).transpose()?,
            })
        }
        build(nodes, 0).map(Some)
    }
}

/// A key of a [`ShapeNode`]: its child by index.
#[derive(Debug, Clone, PartialEq)]
pub struct FlatKey {
    pub name: String,
    pub node: u32,
    pub required: bool,
    pub description: String,
}

/// One node of a shape as the contract carries it (`shape-node`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ShapeNode {
    pub kinds: Vec<ValueKind>,
    pub keys: Vec<FlatKey>,
    pub other_keys: Option<u32>,
    pub items: Option<u32>,
    pub one_of: Vec<String>,
    /// The regular expression and what it means.
    pub pattern: Option<(String, String)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str, node: u32) -> FlatKey {
        FlatKey { name: name.into(), node, required: false, description: String::new() }
    }

    #[test]
    fn flat_nodes_become_a_tree() {
        let nodes = vec![
            ShapeNode { kinds: vec![ValueKind::Table], keys: vec![key("status", 1), key("json", 3)], ..Default::default() },
            ShapeNode { kinds: vec![ValueKind::Integer, ValueKind::List], items: Some(2), ..Default::default() },
            ShapeNode { kinds: vec![ValueKind::Integer], ..Default::default() },
            ShapeNode { kinds: vec![ValueKind::Table], other_keys: Some(4), ..Default::default() },
            ShapeNode::default(),
        ];
        let s = Shape::from_nodes(&nodes).unwrap().unwrap();
        assert_eq!(s.key("status").unwrap().shape.items.as_deref(), Some(&Shape::of(&[ValueKind::Integer])));
        assert_eq!(s.key("json").unwrap().shape.other_keys.as_deref(), Some(&Shape::default()));
        assert!(s.problems("expect").is_empty(), "{:?}", s.problems("expect"));
        assert_eq!(Shape::from_nodes(&[]).unwrap(), None);
    }

    #[test]
    fn a_node_pointing_back_or_nowhere_is_refused() {
        let back = vec![ShapeNode { kinds: vec![ValueKind::Table], other_keys: Some(0), ..Default::default() }];
        assert!(Shape::from_nodes(&back).unwrap_err().contains("must come after its parent"));
        let nowhere = vec![ShapeNode { kinds: vec![ValueKind::List], items: Some(7), ..Default::default() }];
        assert!(Shape::from_nodes(&nowhere).is_err());
        let bad = vec![ShapeNode { kinds: vec![ValueKind::String], pattern: Some(("(".into(), "x".into())), ..Default::default() }];
        assert!(Shape::from_nodes(&bad).unwrap_err().contains("does not compile"));
    }

    #[test]
    fn patterns_match_the_whole_string() {
        let p = Pattern::new("[1-5]xx|[0-9]{3}-[0-9]{3}", "a class").unwrap();
        assert!(p.matches("2xx") && p.matches("200-399"));
        assert!(!p.matches("200") && !p.matches("x2xx") && !p.matches("2xx "));
    }

    #[test]
    fn expected_kinds_read_as_a_list() {
        assert_eq!(Shape::of(&[ValueKind::Integer]).expected(), "an integer");
        assert_eq!(Shape::of(&[ValueKind::Integer, ValueKind::String, ValueKind::List]).expected(), "an integer, a string or an array");
        assert_eq!(Shape::of(&[]).expected(), "any value");
    }

    #[test]
    fn fields_for_a_kind_the_node_does_not_allow_are_problems() {
        let mut s = Shape::of(&[ValueKind::String]);
        s.items = Some(Box::new(Shape::default()));
        s.keys.push(ShapeKey { name: "a".into(), required: false, description: String::new(), shape: Shape::default() });
        s.keys.push(ShapeKey { name: "a".into(), required: false, description: String::new(), shape: Shape::default() });
        let p = s.problems("x").join("; ");
        assert!(p.contains("`x` declares keys but does not allow a table"), "{p}");
        assert!(p.contains("`x` declares list items"), "{p}");
        assert!(p.contains("`x.a` is declared twice"), "{p}");
        assert_eq!(ValueKind::ALL.iter().map(|k| k.name()).collect::<Vec<_>>().len(), 9);
    }
}
