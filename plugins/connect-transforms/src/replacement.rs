//! Java's regex replacement strings, as `Matcher.replaceFirst` reads them: `$n` (the
//! longest group number that exists), `${name}`, and `\` quoting the next character.

use regex_lite::{Captures, Regex};

#[derive(Debug, Clone)]
enum Piece {
    Text(String),
    Group(usize),
    Named(String),
}

/// A compiled replacement.
#[derive(Debug, Clone)]
pub struct Replacement {
    pieces: Vec<Piece>,
}

impl Replacement {
    /// Compiles `text` for `regex`; a group that does not exist is an error, as in Java.
    pub fn parse(text: &str, regex: &Regex) -> Result<Replacement, String> {
        // The whole-match wrapper adds no capturing group, so Java's numbers hold.
        let groups = regex.captures_len() - 1;
        let mut pieces = Vec::new();
        let mut lit = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some(n) => lit.push(n),
                    None => return Err("ends with a lone backslash".into()),
                },
                '$' => {
                    if !lit.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut lit)));
                    }
                    if chars.peek() == Some(&'{') {
                        chars.next();
                        let name: String = chars.by_ref().take_while(|&c| c != '}').collect();
                        if !regex.capture_names().flatten().any(|n| n == name) {
                            return Err(format!("names group {name:?}, which the regex lacks"));
                        }
                        pieces.push(Piece::Named(name));
                        continue;
                    }
                    let Some(first) = chars.next().and_then(|c| c.to_digit(10)) else {
                        return Err("has a `$` not followed by a group number".into());
                    };
                    let mut n = first as usize;
                    if n > groups {
                        return Err(format!("refers to group {n}; the regex has {groups}"));
                    }
                    while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                        let longer = n * 10 + d as usize;
                        if longer > groups {
                            break;
                        }
                        n = longer;
                        chars.next();
                    }
                    pieces.push(Piece::Group(n));
                }
                c => lit.push(c),
            }
        }
        if !lit.is_empty() {
            pieces.push(Piece::Text(lit));
        }
        Ok(Replacement { pieces })
    }

    /// The replacement for one match.
    pub fn expand(&self, caps: &Captures<'_>) -> String {
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Group(n) => out.push_str(caps.get(*n).map_or("", |m| m.as_str())),
                Piece::Named(n) => out.push_str(caps.name(n).map_or("", |m| m.as_str())),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::predicates::whole_match;

    #[test]
    fn groups_expand_as_in_java() {
        let re = whole_match("(.*)-(?<rest>\\d+)").unwrap();
        let caps = re.captures("orders-42").unwrap();
        let r = Replacement::parse("$1_x$2${rest}\\$", &re).unwrap();
        assert_eq!(r.expand(&caps), "orders_x4242$");
        // `$10` with two groups is group 1 then "0".
        assert_eq!(
            Replacement::parse("$10", &re).unwrap().expand(&caps),
            "orders0"
        );
        assert!(Replacement::parse("$3", &re).is_err());
    }
}
