//! A parsed check file with spans: positions for errors, and conversions of TOML values.

use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::error::{ConfigError, ConfigWarning};

pub type Value<'i> = Spanned<DeValue<'i>>;

/// One file's text plus the errors found in it so far.
pub struct Doc<'a> {
    pub path: &'a Path,
    src: &'a str,
    /// Byte offset where each line starts: positions are a binary search, not a scan
    /// from the top (a file of 10,000 checks asks for 10,000 of them).
    line_starts: Vec<usize>,
    pub errors: Vec<ConfigError>,
    pub warnings: Vec<ConfigWarning>,
}

impl<'a> Doc<'a> {
    pub fn new(path: &'a Path, src: &'a str) -> Doc<'a> {
        let line_starts = std::iter::once(0).chain(src.match_indices('\n').map(|(i, _)| i + 1)).collect();
        Doc { path, src, line_starts, errors: Vec::new(), warnings: Vec::new() }
    }

    pub fn parse(&mut self) -> Option<Spanned<DeTable<'a>>> {
        match DeTable::parse(self.src) {
            Ok(t) => Some(t),
            Err(e) => {
                let span = e.span().unwrap_or(0..0);
                let msg = e.message().trim().to_string();
                self.error(span, format!("invalid TOML: {msg}"));
                None
            }
        }
    }

    pub fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.src.len());
        let line = self.line_starts.partition_point(|&start| start <= offset);
        let start = self.line_starts[line - 1];
        let col = self.src.get(start..offset).map_or(offset - start, |s| s.chars().count()) + 1;
        (line, col)
    }

    pub fn error(&mut self, span: Range<usize>, message: String) {
        let (line, column) = self.position(span.start);
        self.errors.push(ConfigError { file: self.path.to_path_buf(), line, column, message });
    }

    /// Records a problem that does not stop the file from loading.
    pub fn warn(&mut self, span: Range<usize>, message: String) {
        let (line, column) = self.position(span.start);
        self.warnings.push(ConfigWarning(ConfigError { file: self.path.to_path_buf(), line, column, message }));
    }

    pub fn line_of(&self, span: &Range<usize>) -> usize {
        self.position(span.start).0
    }

    /// Resolves a path written in this file relative to the file's directory.
    pub fn relative(&self, written: &str) -> PathBuf {
        let p = Path::new(written);
        if p.is_absolute() { p.to_path_buf() } else { self.path.parent().unwrap_or(Path::new(".")).join(p) }
    }
}

/// A table's keys with their spans, and values, in file order.
pub fn entries<'t, 'i>(t: &'t DeTable<'i>) -> impl Iterator<Item = (&'t str, Range<usize>, &'t Value<'i>)> {
    t.iter().map(|(k, v)| (k.get_ref().as_ref(), k.span(), v))
}

/// A duration param as the plugin receives it: whole milliseconds.
pub fn duration_ms(text: &str) -> Result<u64, String> {
    let d = picket_core::units::parse_duration(text)?;
    if d.subsec_nanos() % 1_000_000 != 0 {
        return Err(format!("{text:?} is not a whole number of milliseconds"));
    }
    u64::try_from(d.as_millis()).map_err(|_| format!("{text:?} is too long"))
}

/// A size param (a size string or an integer of bytes) as the plugin receives it: bytes.
/// `None`: the value is neither a string nor an integer.
pub fn size_bytes(v: &DeValue<'_>) -> Option<Result<u64, String>> {
    match v {
        DeValue::String(s) => Some(picket_core::units::parse_size(s)),
        DeValue::Integer(_) => Some(as_i64(v).and_then(|n| u64::try_from(n).ok()).ok_or("must not be negative".into())),
        _ => None,
    }
}

pub fn type_name(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a number",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

pub fn as_i64(v: &DeValue<'_>) -> Option<i64> {
    let i = v.as_integer()?;
    let digits = i.as_str().replace('_', "");
    let (neg, digits) = match digits.strip_prefix('-') {
        Some(d) => (true, d.to_string()),
        None => (false, digits.trim_start_matches('+').to_string()),
    };
    let digits = digits.trim_start_matches("0x").trim_start_matches("0o").trim_start_matches("0b");
    let n = i64::from_str_radix(digits, i.radix()).ok()?;
    Some(if neg { -n } else { n })
}

pub fn as_f64(v: &DeValue<'_>) -> Option<f64> {
    match v {
        DeValue::Float(f) => match f.as_str().replace('_', "").as_str() {
            "inf" | "+inf" => Some(f64::INFINITY),
            "-inf" => Some(f64::NEG_INFINITY),
            "nan" | "+nan" | "-nan" => Some(f64::NAN),
            s => s.parse().ok(),
        },
        DeValue::Integer(_) => as_i64(v).map(|i| i as f64),
        _ => None,
    }
}

/// Converts a TOML value to JSON for a plugin's params.
pub fn to_json(v: &DeValue<'_>) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        DeValue::String(s) => J::String(s.to_string()),
        DeValue::Integer(_) => as_i64(v).map(J::from).unwrap_or(J::Null),
        DeValue::Float(_) => as_f64(v).and_then(serde_json::Number::from_f64).map(J::Number).unwrap_or(J::Null),
        DeValue::Boolean(b) => J::Bool(*b),
        DeValue::Datetime(d) => J::String(d.to_string()),
        DeValue::Array(a) => J::Array(a.iter().map(|x| to_json(x.get_ref())).collect()),
        DeValue::Table(t) => J::Object(t.iter().map(|(k, x)| (k.get_ref().to_string(), to_json(x.get_ref()))).collect()),
    }
}

/// A scalar written as a threshold or quantity: a string, or a number taken as text.
pub fn scalar_text(v: &DeValue<'_>) -> Option<String> {
    match v {
        DeValue::String(s) => Some(s.to_string()),
        DeValue::Integer(_) => as_i64(v).map(|i| i.to_string()),
        DeValue::Float(_) => as_f64(v).map(|f| f.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        let d = Doc::new(Path::new("x.toml"), "a = 1\nbb = 2\n");
        assert_eq!(d.position(0), (1, 1));
        assert_eq!(d.position(6), (2, 1));
        assert_eq!(d.position(9), (2, 4));
    }

    #[test]
    fn integers_in_every_radix() {
        let t = DeTable::parse("a = 0x1F\nb = -1_000\nc = 1.5e3").unwrap();
        let get = |k: &str| t.get_ref().iter().find(|(key, _)| key.get_ref() == k).unwrap().1.get_ref().clone();
        assert_eq!(as_i64(&get("a")), Some(31));
        assert_eq!(as_i64(&get("b")), Some(-1000));
        assert_eq!(as_f64(&get("c")), Some(1500.0));
    }
}
