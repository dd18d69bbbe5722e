//! [`Decimal`]: the exact decimal numbers `sum` adds. Floating point would print
//! `0.30000000000000004` for `0.1 + 0.2`; a scaled integer adds exactly and prints what
//! a person expects.

use std::fmt;

/// Most digits after the point a summed value may carry.
pub const MAX_SCALE: u8 = 18;

/// `units / 10^scale`, exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Decimal {
    /// The number times `10^scale`.
    pub units: i128,
    /// Digits after the decimal point.
    pub scale: u8,
}

fn pow10(n: u8) -> i128 {
    10i128.pow(u32::from(n))
}

impl Decimal {
    /// A whole number.
    pub fn whole(n: i64) -> Decimal {
        Decimal {
            units: i128::from(n),
            scale: 0,
        }
    }

    /// Parses decimal text: an optional sign, digits, an optional point and digits,
    /// surrounding ASCII whitespace allowed (no exponents, no separators).
    pub fn parse(bytes: &[u8]) -> Result<Decimal, String> {
        let shown = || String::from_utf8_lossy(&bytes[..bytes.len().min(40)]).into_owned();
        let text = std::str::from_utf8(bytes)
            .map_err(|_| format!("value {:?} is not UTF-8 decimal text", shown()))?
            .trim_ascii();
        let (negative, digits) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if (int.is_empty() && frac.is_empty()) || !all_digits(int) || !all_digits(frac) {
            return Err(format!("value {:?} is not a decimal number", shown()));
        }
        let frac = frac.trim_end_matches('0');
        if frac.len() > usize::from(MAX_SCALE) {
            return Err(format!(
                "value {:?} has more than {MAX_SCALE} digits after the point",
                shown()
            ));
        }
        let mut units: i128 = 0;
        for b in int.bytes().chain(frac.bytes()) {
            units = units
                .checked_mul(10)
                .and_then(|u| u.checked_add(i128::from(b - b'0')))
                .ok_or_else(|| format!("value {:?} is too large to sum", shown()))?;
        }
        Ok(Decimal {
            units: if negative { -units } else { units },
            scale: frac.len() as u8,
        })
    }

    /// `self + other`, exactly, or `None` past the range.
    pub fn checked_add(self, other: Decimal) -> Option<Decimal> {
        let scale = self.scale.max(other.scale);
        let a = self.units.checked_mul(pow10(scale - self.scale))?;
        let b = other.units.checked_mul(pow10(scale - other.scale))?;
        Some(Decimal {
            units: a.checked_add(b)?,
            scale,
        })
    }

    /// `self - other`, exactly, or `None` past the range (a table aggregation's
    /// subtractor).
    pub fn checked_sub(self, other: Decimal) -> Option<Decimal> {
        self.checked_add(Decimal {
            units: other.units.checked_neg()?,
            scale: other.scale,
        })
    }

    /// The value as a whole `i64`, if it is one.
    pub fn to_i64(self) -> Option<i64> {
        let p = pow10(self.scale);
        if self.units % p != 0 {
            return None;
        }
        i64::try_from(self.units / p).ok()
    }

    /// Fixed encoding for state: 1 byte scale, 16 bytes units (big-endian).
    pub fn to_bytes(self) -> [u8; 17] {
        let mut b = [0u8; 17];
        b[0] = self.scale;
        b[1..].copy_from_slice(&self.units.to_be_bytes());
        b
    }

    /// Reads [`Decimal::to_bytes`].
    pub fn from_bytes(b: &[u8; 17]) -> Decimal {
        let mut units = [0u8; 16];
        units.copy_from_slice(&b[1..]);
        Decimal {
            scale: b[0].min(MAX_SCALE),
            units: i128::from_be_bytes(units),
        }
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.scale == 0 {
            return write!(f, "{}", self.units);
        }
        let p = pow10(self.scale).unsigned_abs();
        let abs = self.units.unsigned_abs();
        let sign = if self.units < 0 { "-" } else { "" };
        let (int, frac) = (abs / p, abs % p);
        let mut frac = format!("{frac:0width$}", width = usize::from(self.scale));
        while frac.ends_with('0') {
            frac.pop();
        }
        if frac.is_empty() {
            write!(f, "{sign}{int}")
        } else {
            write!(f, "{sign}{int}.{frac}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::parse(s.as_bytes()).unwrap()
    }

    #[test]
    fn adds_exactly_and_prints_plainly() {
        let sum = d("0.1").checked_add(d("0.2")).unwrap();
        assert_eq!(sum.to_string(), "0.3");
        assert_eq!(d("-1.50").checked_add(d("1")).unwrap().to_string(), "-0.5");
        assert_eq!(d(" 42 ").to_string(), "42");
        assert_eq!(d("3.000").to_i64(), Some(3));
        assert_eq!(d("3.5").to_i64(), None);
        assert_eq!(d(".5").to_string(), "0.5");
        assert_eq!(d("-0.05").to_string(), "-0.05");
        let x = d("-12.345");
        assert_eq!(Decimal::from_bytes(&x.to_bytes()), x);
    }

    #[test]
    fn refuses_what_is_not_a_decimal_number() {
        for bad in ["", "-", ".", "1e3", "1,5", "0x10", "abc", "1.2.3", "١"] {
            assert!(Decimal::parse(bad.as_bytes()).is_err(), "{bad:?}");
        }
        assert!(Decimal::parse(&[0xff]).is_err());
        let huge = "9".repeat(40);
        assert!(Decimal::parse(huge.as_bytes()).is_err());
        let big = Decimal {
            units: i128::MAX,
            scale: 0,
        };
        assert!(big.checked_add(Decimal::whole(1)).is_none());
        let small = Decimal {
            units: i128::MIN + 1,
            scale: 0,
        };
        assert!(small.checked_sub(Decimal::whole(2)).is_none());
        assert_eq!(
            d("1.5").checked_sub(d("2.25")).unwrap().to_string(),
            "-0.75"
        );
    }
}
