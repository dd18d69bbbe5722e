//! Civil dates and Java's `SimpleDateFormat` patterns in UTC, as Connect's
//! TimestampConverter and TimestampRouter use them: `y M d H h k K m s S a E D` with
//! `Z`/`X`/`z` zones (always UTC here) and `'quoted'` literals.

/// Milliseconds in a day.
pub const MS_PER_DAY: i64 = 86_400_000;

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date (year, month 1–12, day 1–31) of a day count since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Field(char, usize),
    Literal(String),
}

/// A compiled `SimpleDateFormat` pattern.
#[derive(Debug, Clone)]
pub struct DateFormat {
    pattern: String,
    tokens: Vec<Token>,
}

/// The broken-down fields of an instant.
struct Parts {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    milli: u32,
    weekday: usize,
    day_of_year: i64,
}

fn parts(ms: i64) -> Parts {
    let days = ms.div_euclid(MS_PER_DAY);
    let in_day = ms.rem_euclid(MS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    Parts {
        year,
        month,
        day,
        hour: (in_day / 3_600_000) as u32,
        minute: (in_day / 60_000 % 60) as u32,
        second: (in_day / 1000 % 60) as u32,
        milli: (in_day % 1000) as u32,
        weekday: days.rem_euclid(7) as usize,
        day_of_year: days - days_from_civil(year, 1, 1) + 1,
    }
}

impl DateFormat {
    /// Compiles `pattern`; an unknown letter is an error, as in Java.
    pub fn parse(pattern: &str) -> Result<DateFormat, String> {
        let mut tokens = Vec::new();
        let chars: Vec<char> = pattern.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == '\'' {
                let mut lit = String::new();
                i += 1;
                if chars.get(i) == Some(&'\'') {
                    tokens.push(Token::Literal("'".into()));
                    i += 1;
                    continue;
                }
                loop {
                    match chars.get(i) {
                        None => return Err(format!("{pattern:?} has an unterminated quote")),
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            lit.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(&ch) => {
                            lit.push(ch);
                            i += 1;
                        }
                    }
                }
                tokens.push(Token::Literal(lit));
            } else if c.is_ascii_alphabetic() {
                if !"yMdHhkKmsSaEDZXz".contains(c) {
                    return Err(format!(
                        "{pattern:?} uses the letter {c:?}, which is not supported"
                    ));
                }
                let mut n = 1;
                while chars.get(i + n) == Some(&c) {
                    n += 1;
                }
                tokens.push(Token::Field(c, n));
                i += n;
            } else {
                tokens.push(Token::Literal(c.to_string()));
                i += 1;
            }
        }
        Ok(DateFormat {
            pattern: pattern.to_owned(),
            tokens,
        })
    }

    /// The pattern as written.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// `ms` since the epoch, written in the pattern (UTC).
    pub fn format(&self, ms: i64) -> String {
        let p = parts(ms);
        let mut out = String::new();
        let pad = |out: &mut String, v: i64, n: usize| out.push_str(&format!("{v:0n$}"));
        for t in &self.tokens {
            match t {
                Token::Literal(s) => out.push_str(s),
                Token::Field(c, n) => match c {
                    'y' if *n == 2 => pad(&mut out, p.year.rem_euclid(100), 2),
                    'y' => pad(&mut out, p.year, *n),
                    'M' if *n >= 4 => out.push_str(MONTHS[p.month as usize - 1]),
                    'M' if *n == 3 => out.push_str(&MONTHS[p.month as usize - 1][..3]),
                    'M' => pad(&mut out, i64::from(p.month), *n),
                    'd' => pad(&mut out, i64::from(p.day), *n),
                    'D' => pad(&mut out, p.day_of_year, *n),
                    'H' => pad(&mut out, i64::from(p.hour), *n),
                    'k' => pad(
                        &mut out,
                        i64::from(if p.hour == 0 { 24 } else { p.hour }),
                        *n,
                    ),
                    'K' => pad(&mut out, i64::from(p.hour % 12), *n),
                    'h' => pad(
                        &mut out,
                        i64::from(if p.hour.is_multiple_of(12) { 12 } else { p.hour % 12 }),
                        *n,
                    ),
                    'm' => pad(&mut out, i64::from(p.minute), *n),
                    's' => pad(&mut out, i64::from(p.second), *n),
                    'S' => pad(&mut out, i64::from(p.milli), *n),
                    'a' => out.push_str(if p.hour < 12 { "AM" } else { "PM" }),
                    'E' if *n >= 4 => out.push_str(DAYS[p.weekday]),
                    'E' => out.push_str(&DAYS[p.weekday][..3]),
                    'Z' => out.push_str("+0000"),
                    'X' => out.push('Z'),
                    _ => out.push_str("UTC"),
                },
            }
        }
        out
    }

    /// The instant `text` writes in the pattern, ms since the epoch (what follows the
    /// pattern is ignored, as `SimpleDateFormat.parse` does).
    pub fn parse_ms(&self, text: &str) -> Result<i64, String> {
        let (mut year, mut month, mut day) = (1970i64, 1u32, 1u32);
        let (mut hour, mut minute, mut second, mut milli) = (0i64, 0i64, 0i64, 0i64);
        let mut pm = None;
        let mut twelve = false;
        let mut offset_ms = 0i64;
        let mut rest = text;
        for (i, t) in self.tokens.iter().enumerate() {
            let next_numeric = matches!(
                self.tokens.get(i + 1),
                Some(Token::Field(c, _)) if "yMdDHhkKmsS".contains(*c)
            );
            match t {
                Token::Literal(s) => {
                    rest = rest
                        .strip_prefix(s.as_str())
                        .ok_or_else(|| format!("expected {s:?} at {rest:?}"))?;
                }
                Token::Field('M', n) if *n >= 3 => {
                    let found = MONTHS.iter().enumerate().find_map(|(m, name)| {
                        [name.len(), 3].into_iter().find_map(|len| {
                            let cand = rest.get(..len)?;
                            cand.eq_ignore_ascii_case(&name[..len]).then_some((m, len))
                        })
                    });
                    let (m, len) = found.ok_or_else(|| format!("no month name at {rest:?}"))?;
                    month = m as u32 + 1;
                    rest = &rest[len..];
                }
                Token::Field('E', _) => {
                    let len = DAYS
                        .iter()
                        .find_map(|d| {
                            [d.len(), 3].into_iter().find(|&len| {
                                rest.get(..len)
                                    .is_some_and(|c| c.eq_ignore_ascii_case(&d[..len]))
                            })
                        })
                        .ok_or_else(|| format!("no day name at {rest:?}"))?;
                    rest = &rest[len..];
                }
                Token::Field('a', _) => {
                    let head = rest.get(..2).unwrap_or_default();
                    pm = Some(match head.to_ascii_uppercase().as_str() {
                        "AM" => false,
                        "PM" => true,
                        _ => return Err(format!("expected AM or PM at {rest:?}")),
                    });
                    rest = &rest[2..];
                }
                Token::Field('Z' | 'X' | 'z', _) => {
                    let (off, len) = zone(rest)?;
                    offset_ms = off;
                    rest = &rest[len..];
                }
                Token::Field(c, n) => {
                    let sign = if *c == 'y' && rest.starts_with('-') {
                        -1
                    } else {
                        1
                    };
                    let body = if sign < 0 { &rest[1..] } else { rest };
                    let max = if next_numeric { *n } else { 10 };
                    let digits = body
                        .bytes()
                        .take(max)
                        .take_while(u8::is_ascii_digit)
                        .count();
                    if digits == 0 {
                        return Err(format!("expected a number at {rest:?}"));
                    }
                    let v: i64 = body[..digits].parse().map_err(|e| format!("{e}"))?;
                    let v = v * sign;
                    rest = &body[digits..];
                    match c {
                        'y' if *n == 2 && digits == 2 => {
                            year = 2000 + v - if v > 79 { 100 } else { 0 }
                        }
                        'y' => year = v,
                        'M' => month = v as u32,
                        'd' => day = v as u32,
                        'D' => {
                            month = 1;
                            day = 1;
                            second += (v - 1) * 86_400;
                        }
                        'H' | 'k' => hour = v % 24,
                        'h' | 'K' => {
                            hour = v % 12;
                            twelve = true;
                        }
                        'm' => minute = v,
                        's' => second += v,
                        _ => milli = v,
                    }
                }
            }
        }
        if twelve && pm == Some(true) {
            hour += 12;
        }
        if !(1..=12).contains(&month) {
            return Err(format!("month {month} is out of range"));
        }
        let days = days_from_civil(year, month, 1) + i64::from(day) - 1;
        Ok(days * MS_PER_DAY + ((hour * 60 + minute) * 60 + second) * 1000 + milli - offset_ms)
    }
}

/// A zone at the start of `s`: `Z`, `UTC`/`GMT`, or ±hh[:]mm; its offset in ms and length.
fn zone(s: &str) -> Result<(i64, usize), String> {
    if s.starts_with('Z') {
        return Ok((0, 1));
    }
    for name in ["UTC", "GMT"] {
        if s.starts_with(name) {
            return Ok((0, 3));
        }
    }
    let sign = match s.as_bytes().first() {
        Some(b'+') => 1,
        Some(b'-') => -1,
        _ => return Err(format!("expected a zone at {s:?}")),
    };
    let b = s.as_bytes();
    let digit = |i: usize| {
        b.get(i)
            .filter(|c| c.is_ascii_digit())
            .map(|c| i64::from(c - b'0'))
    };
    let (h1, h2) = (digit(1), digit(2));
    let (Some(h1), Some(h2)) = (h1, h2) else {
        return Err(format!("expected a zone at {s:?}"));
    };
    let mut len = 3;
    if b.get(3) == Some(&b':') {
        len = 4;
    }
    let minutes = match (digit(len), digit(len + 1)) {
        (Some(m1), Some(m2)) => {
            len += 2;
            m1 * 10 + m2
        }
        _ => {
            len = 3;
            0
        }
    };
    Ok((sign * ((h1 * 10 + h2) * 60 + minutes) * 60_000, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_round_trip() {
        for days in [-800_000, -1, 0, 1, 59, 365, 11_016, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }

    #[test]
    fn formats_and_parses_like_simple_date_format() {
        let f = DateFormat::parse("yyyy-MM-dd'T'HH:mm:ss.SSS").unwrap();
        assert_eq!(f.format(1_700_000_000_123), "2023-11-14T22:13:20.123");
        assert_eq!(f.parse_ms("2023-11-14T22:13:20.123"), Ok(1_700_000_000_123));
        let f = DateFormat::parse("yyyyMMdd").unwrap();
        assert_eq!(f.format(5), "19700101");
        assert_eq!(f.parse_ms("20231114"), Ok(1_699_920_000_000));
        let f = DateFormat::parse("EEE, d MMM yyyy hh:mm a Z").unwrap();
        assert_eq!(
            f.format(1_700_000_000_000),
            "Tue, 14 Nov 2023 10:13 PM +0000"
        );
        assert_eq!(
            f.parse_ms("Tue, 14 Nov 2023 10:13 PM +0000"),
            Ok(1_699_999_980_000)
        );
        assert!(DateFormat::parse("yyyy-qq").is_err());
    }
}
