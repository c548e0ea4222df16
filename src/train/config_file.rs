//! Strict reading of a user's `--config FILE.toml`: every key must be one the configuration
//! has, with a value of the right type, or the run does not start. serde alone would either
//! ignore a typo (`max_ress = 64` trains at the default resolution) or report it without the
//! line, so the file is first walked against the shape of the configuration itself.

use std::path::Path;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::config::TrainConfig;
use super::error::TrainError;

/// The keys a configuration may hold and their TOML types: the full configuration with every
/// optional field filled, serialised.
fn schema() -> toml::Value {
    let mut c = TrainConfig::full();
    c.data.path = Some(String::new());
    c.data.limit = Some(1);
    c.data.fingerprint = Some(String::new());
    c.phase_images = vec![1];
    toml::Value::try_from(&c).expect("the configuration serialises")
}

/// Line and column (1-based) of byte `at` in `text`.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, col)
}

fn type_name(v: &toml::Value) -> &'static str {
    match v {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a number",
        toml::Value::Boolean(_) => "true or false",
        toml::Value::Datetime(_) => "a date",
        toml::Value::Array(_) => "an array",
        toml::Value::Table(_) => "a table",
    }
}

fn de_type_name(v: &DeValue) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a number",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// Does a user's value fit where the schema has `want`? Integers are fine for numbers.
fn fits(want: &toml::Value, got: &DeValue) -> bool {
    matches!(
        (want, got),
        (toml::Value::String(_), DeValue::String(_))
            | (toml::Value::Integer(_), DeValue::Integer(_))
            | (
                toml::Value::Float(_),
                DeValue::Float(_) | DeValue::Integer(_)
            )
            | (toml::Value::Boolean(_), DeValue::Boolean(_))
            | (toml::Value::Table(_), DeValue::Table(_))
            | (toml::Value::Array(_), DeValue::Array(_))
    )
}

/// Edit distance, for "did you mean".
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// Tables keyed by resolution ("4", "8", ...), such as `[batch]` and `[lr]`.
fn is_resolution_table(path: &str) -> bool {
    matches!(path, "batch" | "lr")
}

struct Walker<'a> {
    text: &'a str,
    file: &'a Path,
}

impl Walker<'_> {
    /// The error at `span` of the file.
    fn error(&self, span: std::ops::Range<usize>, message: String) -> TrainError {
        TrainError::Config {
            path: self.file.to_path_buf(),
            at: Some(line_col(self.text, span.start)),
            message,
        }
    }

    fn table(&self, path: &str, want: &toml::Table, got: &DeTable) -> Result<(), TrainError> {
        for (key, value) in got {
            let name = key.get_ref().as_ref();
            let full = if path.is_empty() {
                name.to_string()
            } else {
                format!("{path}.{name}")
            };
            let expected = if is_resolution_table(path) {
                self.resolution_entry(want, key, &full)?
            } else {
                want.get(name)
                    .ok_or_else(|| self.unknown(path, want, key))?
            };
            self.value(&full, expected, value)?;
        }
        Ok(())
    }

    fn value(
        &self,
        path: &str,
        want: &toml::Value,
        got: &Spanned<DeValue>,
    ) -> Result<(), TrainError> {
        if !fits(want, got.get_ref()) {
            return Err(self.error(
                got.span(),
                format!(
                    "`{path}` must be {}, not {}",
                    type_name(want),
                    de_type_name(got.get_ref())
                ),
            ));
        }
        if let (toml::Value::Table(w), DeValue::Table(g)) = (want, got.get_ref()) {
            self.table(path, w, g)?;
        }
        Ok(())
    }

    fn unknown(
        &self,
        path: &str,
        want: &toml::Table,
        key: &Spanned<toml::de::DeString>,
    ) -> TrainError {
        let name = key.get_ref().as_ref();
        let mut valid: Vec<&str> = want.keys().map(String::as_str).collect();
        valid.sort_by_key(|k| (distance(name, k), *k));
        let hint = match valid.first() {
            Some(best) if distance(name, best) <= 2.max(name.len() / 3) => {
                format!(" (did you mean `{best}`?)")
            }
            _ => String::new(),
        };
        let table = if path.is_empty() {
            "at the top level".to_string()
        } else {
            format!("in [{path}]")
        };
        valid.truncate(8);
        self.error(
            key.span(),
            format!(
                "unknown key `{name}` {table}{hint}; valid keys here include: {}",
                valid.join(", ")
            ),
        )
    }

    /// The schema's value type for a resolution key of `[batch]`/`[lr]` (`full`: its path).
    fn resolution_entry<'a>(
        &self,
        want: &'a toml::Table,
        key: &Spanned<toml::de::DeString>,
        full: &str,
    ) -> Result<&'a toml::Value, TrainError> {
        let name = key.get_ref().as_ref();
        let bad = |why: String| self.error(key.span(), format!("`{full}`: {why}"));
        let r: usize = name.parse().map_err(|_| {
            bad(format!(
                "resolution keys are numbers such as \"8\", not {name:?}"
            ))
        })?;
        if r < 4 || !r.is_power_of_two() {
            return Err(bad(format!(
                "resolution {r} is not a power of two of at least 4"
            )));
        }
        Ok(want
            .values()
            .next()
            .expect("the resolution tables are not empty"))
    }
}

/// Check a `--config` file's text: TOML syntax, known keys and value types. Errors name the
/// file, line and column.
pub fn check(text: &str, file: &Path) -> Result<toml::Value, TrainError> {
    let doc = DeTable::parse(text).map_err(|e| TrainError::Config {
        path: file.to_path_buf(),
        at: e.span().map(|s| line_col(text, s.start)),
        message: format!("not valid TOML: {}", e.message()),
    })?;
    let schema = schema();
    let w = Walker { text, file };
    w.table(
        "",
        schema.as_table().expect("the configuration is a table"),
        doc.get_ref(),
    )?;
    toml::from_str(text).map_err(|source| TrainError::Toml {
        context: file.display().to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        check(text, Path::new("c.toml")).unwrap_err().to_string()
    }

    #[test]
    fn a_typo_is_named_with_its_line_and_a_suggestion() {
        let e = err("seed = 3\n[model]\nmax_ress = 64\n");
        assert!(
            e.starts_with("c.toml:3:1: unknown key `max_ress` in [model]"),
            "{e}"
        );
        assert!(e.contains("did you mean `max_res`?"), "{e}");
        let e = err("kimg_per_phse = 1\n");
        assert!(
            e.contains("at the top level") && e.contains("`kimg_per_phase`"),
            "{e}"
        );
    }

    #[test]
    fn a_wrong_type_names_the_expected_one() {
        let e = err("[model]\nmax_res = \"sixteen\"\n");
        assert!(e.starts_with("c.toml:2:11:"), "{e}");
        assert!(
            e.contains("`model.max_res` must be an integer, not a string"),
            "{e}"
        );
        let e = err("model = 3\n");
        assert!(e.contains("`model` must be a table"), "{e}");
        // An integer is a fine number.
        check("gp_lambda = 5\n[lr]\n8 = 1\n", Path::new("c.toml")).unwrap();
    }

    #[test]
    fn resolution_tables_take_resolutions_only() {
        let e = err("[batch]\n4 = 8\nsixteen = 8\n");
        assert!(
            e.contains("c.toml:3:1") && e.contains("not \"sixteen\""),
            "{e}"
        );
        let e = err("[batch]\n12 = 8\n");
        assert!(e.contains("power of two"), "{e}");
        let e = err("[batch]\n8 = 0.5\n");
        assert!(e.contains("`batch.8` must be an integer"), "{e}");
    }

    #[test]
    fn bad_syntax_points_at_the_line() {
        let e = err("seed = 1\n[model\n");
        assert!(e.starts_with("c.toml:2:"), "{e}");
    }

    #[test]
    fn every_key_the_configuration_writes_is_accepted() {
        let mut c = TrainConfig::full();
        c.data.path = Some("x".into());
        c.data.limit = Some(3);
        c.data.fingerprint = Some("f".into());
        c.phase_images = vec![16, 16];
        check(&c.to_toml(), Path::new("c.toml")).unwrap();
    }
}
