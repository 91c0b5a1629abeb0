//! Declaring the shape of a param's value as a tree ([`Shape`]), flattened into the
//! contract's `shape-node` list (WIT types cannot contain themselves) by
//! [`InfoBuilder::param_shaped`](crate::InfoBuilder::param_shaped).
//!
//! ```ignore
//! let code = Shape::integer().or(Shape::string().pattern("[1-5]xx", "a status class (\"2xx\")"));
//! let expect = Shape::table()
//!     .key("status", code.clone().or(Shape::list(code)), "200, \"2xx\" or a list of those")
//!     .key("json", Shape::table().other_keys(Shape::any()), "dotted path = expected value");
//! ```

use crate::{ShapeKey, ShapeNode, StringPattern, ValueKind};

/// What a value may be: one or more kinds, and for tables their keys, for lists their
/// items, for strings their allowed values or form. `picket validate` checks a check
/// file's value against it before anything runs.
#[derive(Clone, Debug, Default)]
pub struct Shape {
    kinds: Vec<ValueKind>,
    keys: Vec<(String, Shape, bool, String)>,
    other_keys: Option<Box<Shape>>,
    items: Option<Box<Shape>>,
    one_of: Vec<String>,
    pattern: Option<(String, String)>,
}

impl Shape {
    /// A value of `kind`.
    pub fn of(kind: ValueKind) -> Shape {
        Shape { kinds: vec![kind], ..Shape::default() }
    }
    pub fn string() -> Shape {
        Shape::of(ValueKind::String)
    }
    pub fn integer() -> Shape {
        Shape::of(ValueKind::Integer)
    }
    /// An integer or a float.
    pub fn number() -> Shape {
        Shape::of(ValueKind::Number)
    }
    pub fn boolean() -> Shape {
        Shape::of(ValueKind::Bool)
    }
    /// Arrives as whole milliseconds.
    pub fn duration() -> Shape {
        Shape::of(ValueKind::Duration)
    }
    /// Arrives as bytes.
    pub fn size() -> Shape {
        Shape::of(ValueKind::Size)
    }
    /// Anything, unchecked.
    pub fn any() -> Shape {
        Shape::of(ValueKind::Any)
    }
    /// A table with no keys yet: add them with [`Shape::key`], or allow any with
    /// [`Shape::other_keys`].
    pub fn table() -> Shape {
        Shape::of(ValueKind::Table)
    }
    /// A list whose items have the shape `items`.
    pub fn list(items: Shape) -> Shape {
        Shape { items: Some(Box::new(items)), ..Shape::of(ValueKind::List) }
    }

    /// An optional key of this table.
    pub fn key(mut self, name: &str, shape: Shape, description: &str) -> Shape {
        self.keys.push((name.into(), shape, false, description.into()));
        self
    }
    /// A key this table must have.
    pub fn required_key(mut self, name: &str, shape: Shape, description: &str) -> Shape {
        self.keys.push((name.into(), shape, true, description.into()));
        self
    }
    /// The shape of the value under any key not declared with [`Shape::key`].
    pub fn other_keys(mut self, shape: Shape) -> Shape {
        self.other_keys = Some(Box::new(shape));
        self
    }
    /// The string values this may take.
    pub fn one_of(mut self, values: &[&str]) -> Shape {
        self.one_of = values.iter().map(|v| v.to_string()).collect();
        self
    }
    /// The form a string must have: `regex` (Rust syntax) must match all of it;
    /// `description` names the form in the message when it does not.
    pub fn pattern(mut self, regex: &str, description: &str) -> Shape {
        self.pattern = Some((regex.into(), description.into()));
        self
    }
    /// This or `other`: the kinds of both, each with what was said about it.
    pub fn or(mut self, other: Shape) -> Shape {
        self.kinds.extend(other.kinds);
        self.keys.extend(other.keys);
        self.other_keys = self.other_keys.or(other.other_keys);
        self.items = self.items.or(other.items);
        self.one_of.extend(other.one_of);
        self.pattern = self.pattern.or(other.pattern);
        self
    }

    /// The flat form: this node first, every child after its parent.
    pub fn nodes(&self) -> Vec<ShapeNode> {
        let mut out = Vec::new();
        self.flatten(&mut out);
        out
    }

    fn flatten(&self, out: &mut Vec<ShapeNode>) -> u32 {
        let at = out.len();
        out.push(ShapeNode { kinds: Vec::new(), keys: Vec::new(), other_keys: None, items: None, one_of: Vec::new(), pattern: None });
        let keys = self
            .keys
            .iter()
            .map(|(name, shape, required, description)| ShapeKey {
                name: name.clone(),
                node: shape.flatten(out),
                required: *required,
                description: description.clone(),
            })
            .collect();
        let other_keys = self.other_keys.as_ref().map(|s| s.flatten(out));
        let items = self.items.as_ref().map(|s| s.flatten(out));
        out[at] = ShapeNode {
            kinds: self.kinds.clone(),
            keys,
            other_keys,
            items,
            one_of: self.one_of.clone(),
            pattern: self
                .pattern
                .as_ref()
                .map(|(regex, description)| StringPattern { regex: regex.clone(), description: description.clone() }),
        };
        at as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_come_after_their_parent() {
        let code = Shape::integer().or(Shape::string().pattern("[1-5]xx", "a class"));
        let expect = Shape::table().key("status", code.clone().or(Shape::list(code)), "status").required_key(
            "json",
            Shape::table().other_keys(Shape::any()),
            "json",
        );
        let nodes = expect.nodes();
        assert_eq!(nodes.len(), 5);
        assert_eq!(nodes[0].kinds, [ValueKind::Table]);
        let status = &nodes[nodes[0].keys[0].node as usize];
        assert_eq!(status.kinds, [ValueKind::Integer, ValueKind::String, ValueKind::List]);
        assert_eq!(status.pattern.as_ref().unwrap().regex, "[1-5]xx");
        let items = status.items.unwrap() as usize;
        assert!(items > nodes[0].keys[0].node as usize);
        assert_eq!(nodes[items].kinds, [ValueKind::Integer, ValueKind::String]);
        let json = &nodes[0].keys[1];
        assert!(json.required);
        assert_eq!(nodes[nodes[json.node as usize].other_keys.unwrap() as usize].kinds, [ValueKind::Any]);
        for (i, n) in nodes.iter().enumerate() {
            let children = n.keys.iter().map(|k| k.node).chain(n.other_keys).chain(n.items);
            assert!(children.into_iter().all(|c| c as usize > i), "node {i}");
        }
    }
}
