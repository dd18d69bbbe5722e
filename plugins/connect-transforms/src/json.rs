//! How Connect (Java) names and prints values, where its behaviour shows it: the class in
//! an error, a number cast to a string, a value written into a header.

use serde_json::Value;

/// The Java class Connect's JsonConverter gives a schemaless JSON value (`null` for null).
pub fn java_class(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "java.lang.Boolean",
        Value::Number(n) if n.is_f64() => "java.lang.Double",
        Value::Number(_) => "java.lang.Long",
        Value::String(_) => "java.lang.String",
        Value::Array(_) => "java.util.ArrayList",
        Value::Object(_) => "java.util.HashMap",
    }
}

/// Java's `Double.toString`: shortest digits, `1.0` for whole numbers, and `1.0E10` /
/// `1.0E-5` outside [10⁻³, 10⁷).
pub fn java_double(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    let abs = x.abs();
    if (1e-3..1e7).contains(&abs) {
        let s = format!("{x}");
        return if s.contains('.') { s } else { s + ".0" };
    }
    // `{:e}` gives the shortest digits as d.ddde±n.
    let s = format!("{x:e}");
    let (mantissa, exponent) = s.split_once('e').unwrap_or((&s, "0"));
    let mantissa = if mantissa.contains('.') {
        mantissa.to_string()
    } else {
        format!("{mantissa}.0")
    };
    format!("{mantissa}E{exponent}")
}

/// Java's `Float.toString` of a float32 value.
pub fn java_float(x: f32) -> String {
    java_double(format!("{x}").parse::<f64>().unwrap_or(f64::from(x)))
}

/// A value as Connect's `Values.convertToString` writes it, which SimpleHeaderConverter uses
/// for header bytes: strings bare at the top level, numbers and booleans as Java prints
/// them, maps and lists as compact JSON.
pub fn header_text(value: &Value) -> Option<Vec<u8>> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone().into_bytes()),
        Value::Number(n) => Some(number_text(n).into_bytes()),
        other => Some(serde_json::to_vec(other).unwrap_or_default()),
    }
}

/// A JSON number as Java prints the Long or Double JsonConverter reads it as.
pub fn number_text(n: &serde_json::Number) -> String {
    match (n.as_i64(), n.as_u64(), n.as_f64()) {
        (Some(i), _, _) => i.to_string(),
        (None, Some(u), _) => u.to_string(),
        (None, None, Some(f)) => java_double(f),
        _ => n.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_print_as_java_does() {
        assert_eq!(java_double(2.5), "2.5");
        assert_eq!(java_double(1.0), "1.0");
        assert_eq!(java_double(1e10), "1.0E10");
        assert_eq!(java_double(1.5e-5), "1.5E-5");
        assert_eq!(java_double(-123456.75), "-123456.75");
        assert_eq!(java_float(0.1), "0.1");
    }
}
