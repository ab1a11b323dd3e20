//! Exact decimals, currencies and rounding (docs/contract.md §1).
//!
//! Money and quantities are `rust_decimal::Decimal` from the moment they
//! are read until the moment they are printed. Each invoice or quote line
//! is rounded once, to its currency's minor unit, with the price book's
//! rounding mode.

use rust_decimal::{Decimal, RoundingStrategy};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How a line's exact amount becomes a payable amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    /// Half away from zero (0.005 → 0.01). The default.
    #[default]
    HalfUp,
    /// Banker's rounding: half to the nearest even digit (0.005 → 0.00, 0.015 → 0.02).
    HalfEven,
    /// Toward zero (truncate).
    Down,
    /// Away from zero (any remainder rounds up).
    Up,
}

impl Rounding {
    /// Parses the price-book spelling.
    pub fn parse(s: &str) -> Option<Rounding> {
        Some(match s {
            "half_up" => Rounding::HalfUp,
            "half_even" => Rounding::HalfEven,
            "down" => Rounding::Down,
            "up" => Rounding::Up,
            _ => return None,
        })
    }

    /// Rounds `value` to `scale` decimal places with this mode.
    pub fn round(self, value: Decimal, scale: u32) -> Decimal {
        let strategy = match self {
            Rounding::HalfUp => RoundingStrategy::MidpointAwayFromZero,
            Rounding::HalfEven => RoundingStrategy::MidpointNearestEven,
            Rounding::Down => RoundingStrategy::ToZero,
            Rounding::Up => RoundingStrategy::AwayFromZero,
        };
        let mut r = value.round_dp_with_strategy(scale, strategy);
        r.rescale(scale);
        r
    }
}

/// Decimal arithmetic, checked, out of line: `rust_decimal` inlines its
/// whole addition, multiplication and division into every caller, which
/// the WebAssembly bundles pay for at every call site (docs/architecture.md,
/// "Bundle size"). One copy each, called from the pricing code.
#[inline(never)]
pub fn checked_add(a: Decimal, b: Decimal) -> Option<Decimal> {
    a.checked_add(b)
}

/// `a - b`, checked, out of line (see [`checked_add`]).
#[inline(never)]
pub fn checked_sub(a: Decimal, b: Decimal) -> Option<Decimal> {
    a.checked_sub(b)
}

/// `a × b`, checked, out of line (see [`checked_add`]).
#[inline(never)]
pub fn checked_mul(a: Decimal, b: Decimal) -> Option<Decimal> {
    a.checked_mul(b)
}

/// `a ÷ b`, checked, out of line (see [`checked_add`]).
#[inline(never)]
pub fn checked_div(a: Decimal, b: Decimal) -> Option<Decimal> {
    a.checked_div(b)
}

/// A custom unit of account declared by a price book (e.g. `credits`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomUnit {
    /// The unit's code, used wherever a currency code may stand (`"credits"`).
    pub code: String,
    /// Decimal places amounts in this unit are rounded to (0-12).
    #[schemars(range(max = 12))]
    pub scale: u32,
    /// A display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The minor-unit scale of an ISO 4217 currency (`USD` → 2, `JPY` → 0,
/// `KWD` → 3), or `None` for an unknown code or one without minor units
/// defined (such as `XAU`).
pub fn iso_scale(code: &str) -> Option<u32> {
    let code = code.as_bytes();
    if code.len() != 3 {
        return None;
    }
    let records = ISO_SCALES.as_bytes();
    let n = records.len() / 4;
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = (lo + hi) / 2;
        let rec = &records[mid * 4..mid * 4 + 4];
        match rec[..3].cmp(code) {
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
            std::cmp::Ordering::Equal => return Some(u32::from(rec[3] - b'0')),
        }
    }
    None
}

/// Every ISO 4217 code with minor units defined (the data of the
/// `iso_currency` crate, 0.7), sorted, each followed by its minor-unit
/// digit: four bytes a currency. A table instead of the crate's
/// per-currency `match`es keeps the WebAssembly bundles small
/// (docs/architecture.md, "Bundle size"); a test checks it against the
/// crate for every three-letter code.
const ISO_SCALES: &str = concat!(
    "AED2AFN2ALL2AMD2AOA2ARS2AUD2AWG2AZN2BAM2BBD2BDT2BGN2BHD3BIF0BMD2BND2BOB2BOV2BRL2BSD2BTN2BWP2BYN2",
    "BZD2CAD2CDF2CHE2CHF2CHW2CLF4CLP0CNY2COP2COU2CRC2CUC2CUP2CVE2CZK2DJF0DKK2DOP2DZD2EGP2ERN2ETB2EUR2",
    "FJD2FKP2GBP2GEL2GHS2GIP2GMD2GNF0GTQ2GYD2HKD2HNL2HRK2HTG2HUF2IDR2ILS2INR2IQD3IRR2ISK0JMD2JOD3JPY0",
    "KES2KGS2KHR2KMF0KPW2KRW0KWD3KYD2KZT2LAK2LBP2LKR2LRD2LSL2LYD3MAD2MDL2MGA2MKD2MMK2MNT2MOP2MRU2MUR2",
    "MVR2MWK2MXN2MXV2MYR2MZN2NAD2NGN2NIO2NOK2NPR2NZD2OMR3PAB2PEN2PGK2PHP2PKR2PLN2PYG0QAR2RON2RSD2RUB2",
    "RWF0SAR2SBD2SCR2SDG2SEK2SGD2SHP2SLE2SLL2SOS2SRD2SSP2STN2SVC2SYP2SZL2THB2TJS2TMT2TND3TOP2TRY2TTD2",
    "TWD2TZS2UAH2UGX0USD2USN2UYI0UYU2UYW4UZS2VED2VES2VND0VUV0WST2XAD2XAF0XCD2XCG2XOF0XPF0YER2ZAR2ZMW2",
    "ZWG2ZWL2",
);

/// The largest number of significant digits an input may carry.
pub const MAX_SIGNIFICANT_DIGITS: usize = 28;

/// Why a decimal input was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecimalError {
    /// Not a decimal number at all (`"abc"`, `"NaN"`, `true`).
    NotANumber,
    /// More significant digits than an exact decimal holds, or too large.
    OutOfRange,
}

/// Reads a decimal from its literal text: `"12.5"`, `"-3"`, `"1e3"`.
/// Never rounds: text that cannot be held exactly is `OutOfRange`.
pub fn parse_decimal_text(text: &str) -> Result<Decimal, DecimalError> {
    match parse_plain(text) {
        Some(d) => Ok(d),
        None => parse_general(text),
    }
}

/// The common case of [`parse_decimal_text`]: `-?digits(.digits)?`, at
/// most 18 digits, not a negative zero. `None`: take the general path.
fn parse_plain(text: &str) -> Option<Decimal> {
    let (negative, body) = match text.as_bytes() {
        [b'-', rest @ ..] => (true, rest),
        b => (false, b),
    };
    if body.is_empty() || body.len() > 19 {
        return None;
    }
    let mut m: u64 = 0;
    let mut scale: Option<u32> = None;
    let mut digits = 0u32;
    for (i, &c) in body.iter().enumerate() {
        match c {
            b'0'..=b'9' => {
                // At most 18 digits: m < 10^18 fits.
                m = m * 10 + u64::from(c - b'0');
                digits += 1;
                if let Some(s) = scale.as_mut() {
                    *s += 1;
                }
            }
            // A point with digits on both sides.
            b'.' if scale.is_none() && i > 0 && i + 1 < body.len() => scale = Some(0),
            _ => return None,
        }
        if digits > 18 {
            return None;
        }
    }
    if negative && m == 0 {
        return None;
    }
    let m = i64::try_from(m).ok()?;
    Decimal::try_from_i128_with_scale(
        if negative { -i128::from(m) } else { i128::from(m) },
        scale.unwrap_or(0),
    )
    .ok()
}

fn parse_general(text: &str) -> Result<Decimal, DecimalError> {
    let t = text;
    if t.is_empty() || t.len() > 200 {
        return Err(if t.is_empty() {
            DecimalError::NotANumber
        } else {
            DecimalError::OutOfRange
        });
    }
    let (mantissa, exponent) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let digits_part = mantissa.strip_prefix(['-', '+']).unwrap_or(mantissa);
    let mut seen_dot = false;
    let mut digits = 0usize;
    for ch in digits_part.chars() {
        match ch {
            '0'..='9' => digits += 1,
            '.' if !seen_dot => seen_dot = true,
            _ => return Err(DecimalError::NotANumber),
        }
    }
    if digits == 0 {
        return Err(DecimalError::NotANumber);
    }
    let significant = digits_part
        .chars()
        .filter(|c| *c != '.')
        .skip_while(|c| *c == '0')
        .count();
    // Trailing zeros after the point are not significant for range.
    let trailing_fraction_zeros = if seen_dot {
        digits_part.chars().rev().take_while(|c| *c == '0').count()
    } else {
        0
    };
    if significant.saturating_sub(trailing_fraction_zeros) > MAX_SIGNIFICANT_DIGITS {
        return Err(DecimalError::OutOfRange);
    }
    let exp: i64 = match exponent {
        None => 0,
        Some(e) => {
            let body = e.strip_prefix(['-', '+']).unwrap_or(e);
            if body.is_empty() || !body.chars().all(|c| c.is_ascii_digit()) || body.len() > 4 {
                return Err(if body.chars().all(|c| c.is_ascii_digit()) && !body.is_empty() {
                    DecimalError::OutOfRange
                } else {
                    DecimalError::NotANumber
                });
            }
            e.parse::<i64>().map_err(|_| DecimalError::OutOfRange)?
        }
    };
    let mut value = Decimal::from_str_exact(mantissa.strip_prefix('+').unwrap_or(mantissa))
        .map_err(|_| DecimalError::OutOfRange)?;
    if exp != 0 {
        if exp > 0 {
            for _ in 0..exp {
                value = value.checked_mul(Decimal::TEN).ok_or(DecimalError::OutOfRange)?;
            }
        } else {
            let new_scale = i64::from(value.scale()) - exp;
            if new_scale > 28 {
                return Err(DecimalError::OutOfRange);
            }
            value
                .set_scale(new_scale as u32)
                .map_err(|_| DecimalError::OutOfRange)?;
        }
    }
    // 28 significant digits at most: values from 10^28 up would print
    // with 29 digits and could not be read back.
    if value.abs() >= Decimal::from_i128_with_scale(10i128.pow(28), 0) {
        return Err(DecimalError::OutOfRange);
    }
    Ok(value)
}

/// Prints `v` with at least `scale` decimals, padding with zeros in text
/// where the decimal type cannot hold more digits (amounts near its limit).
fn pad_to_scale(v: Decimal, scale: u32) -> String {
    let mut s = v.to_string();
    let have = v.scale();
    if have < scale {
        if have == 0 {
            s.push('.');
        }
        for _ in have..scale {
            s.push('0');
        }
    }
    s
}

/// Prints an amount that has already been rounded to `scale` with exactly
/// `scale` decimals (`"74.00"`, `"101"`, `"0.003"`).
pub fn fmt_money(value: Decimal, scale: u32) -> String {
    let mut v = value;
    if v.is_zero() {
        v = Decimal::ZERO;
    }
    if v.scale() > scale {
        v.rescale(scale);
    }
    let pad = 10u128.checked_pow(scale - v.scale());
    match pad.and_then(|p| v.mantissa().unsigned_abs().checked_mul(p)) {
        Some(m) => write_fixed(v.is_sign_negative() && !v.is_zero(), m, scale),
        None => pad_to_scale(v, scale),
    }
}

/// Where decimal text is written: a `String`, or a stack buffer for text
/// that becomes a [`crate::text::Text`] (receipts: no allocation).
trait Out {
    fn reserve(&mut self, n: usize);
    fn put(&mut self, b: u8);
}

impl Out for String {
    fn reserve(&mut self, n: usize) {
        String::reserve(self, n);
    }
    fn put(&mut self, b: u8) {
        self.push(char::from(b));
    }
}

/// Room for any amount: 29 digits, a sign, a point and 28 decimals, padded.
struct Digits {
    buf: [u8; 96],
    len: usize,
}

impl Out for Digits {
    fn reserve(&mut self, _: usize) {}
    fn put(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }
}

/// Writes `mantissa × 10^-scale` as decimal text (the hot path of
/// receipts: no formatting machinery).
fn write_fixed(negative: bool, mantissa: u128, scale: u32) -> String {
    let mut out = String::new();
    write_fixed_to(&mut out, negative, mantissa, scale);
    out
}

fn write_fixed_to(out: &mut impl Out, negative: bool, mantissa: u128, scale: u32) {
    let mut digits = [0u8; 40];
    let mut n = 0;
    // u128 division is a library call: take digits in u128 only until the
    // rest fits in u64 (nearly every amount does from the start).
    let mut wide = mantissa;
    let mut m = loop {
        match u64::try_from(wide) {
            Ok(m) => break m,
            Err(_) => {
                digits[n] = b'0' + (wide % 10) as u8;
                wide /= 10;
                n += 1;
            }
        }
    };
    loop {
        digits[n] = b'0' + (m % 10) as u8;
        m /= 10;
        n += 1;
        if m == 0 {
            break;
        }
    }
    let scale = scale as usize;
    let int_len = n.saturating_sub(scale);
    out.reserve(n + scale + 3);
    if negative {
        out.put(b'-');
    }
    if int_len == 0 {
        out.put(b'0');
    } else {
        for i in (n - int_len..n).rev() {
            out.put(digits[i]);
        }
    }
    if scale > 0 {
        out.put(b'.');
        for _ in n..scale {
            out.put(b'0');
        }
        for i in (0..n.min(scale)).rev() {
            out.put(digits[i]);
        }
    }
}

/// Prints an exact (unrounded) amount: trailing zeros dropped, but never
/// fewer than `min_scale` decimals (`25` → `"25.00"`, `0.005` → `"0.005"`).
pub fn fmt_exact(value: Decimal, min_scale: u32) -> String {
    let mut out = String::new();
    exact_to(&mut out, value, min_scale);
    out
}

/// [`fmt_exact`] as a [`crate::text::Text`], without allocating when short.
pub fn exact_text(value: Decimal, min_scale: u32) -> crate::text::Text {
    if let Some(t) = exact_text_short(value, min_scale) {
        return t;
    }
    let mut d = Digits { buf: [0; 96], len: 0 };
    exact_to(&mut d, value, min_scale);
    crate::text::Text::from_ascii(&d.buf[..d.len])
}

/// [`exact_text`] of an amount whose mantissa fits a `u64` and whose text
/// fits 23 bytes (a receipt's, nearly always): written right to left into
/// one small buffer. `None`: take the general path.
fn exact_text_short(value: Decimal, min_scale: u32) -> Option<crate::text::Text> {
    let mut m = u64::try_from(value.mantissa().unsigned_abs()).ok()?;
    let mut scale = value.scale();
    while scale > min_scale && m.is_multiple_of(10) {
        m /= 10;
        scale -= 1;
    }
    let negative = value.is_sign_negative() && m != 0;
    let mut buf = [0u8; 23];
    let mut i = buf.len();
    let mut put = |b: u8| -> Option<()> {
        i = i.checked_sub(1)?;
        *buf.get_mut(i)? = b;
        Some(())
    };
    // Decimals: padding zeros up to `min_scale`, then the mantissa's.
    for _ in scale..min_scale {
        put(b'0')?;
    }
    for _ in 0..scale {
        put(b'0' + (m % 10) as u8)?;
        m /= 10;
    }
    if scale.max(min_scale) > 0 {
        put(b'.')?;
    }
    loop {
        put(b'0' + (m % 10) as u8)?;
        m /= 10;
        if m == 0 {
            break;
        }
    }
    if negative {
        put(b'-')?;
    }
    let text = std::str::from_utf8(buf.get(i..)?).ok()?;
    Some(crate::text::Text::from(text))
}

fn exact_to(out: &mut impl Out, value: Decimal, min_scale: u32) {
    let negative = value.is_sign_negative() && !value.is_zero();
    let mut m = value.mantissa().unsigned_abs();
    let mut scale = value.scale();
    if let Ok(mut small) = u64::try_from(m) {
        while scale > min_scale && small.is_multiple_of(10) {
            small /= 10;
            scale -= 1;
        }
        m = u128::from(small);
    }
    while scale > min_scale && m.is_multiple_of(10) {
        m /= 10;
        scale -= 1;
    }
    if m == 0 {
        return write_fixed_to(out, false, 0, min_scale);
    }
    if scale < min_scale {
        // Padding zeros: same text as pad_to_scale below.
        write_fixed_to(out, negative, m, scale);
        if scale == 0 {
            out.put(b'.');
        }
        for _ in scale..min_scale {
            out.put(b'0');
        }
        return;
    }
    write_fixed_to(out, negative, m, scale)
}

#[allow(dead_code)]
fn fmt_exact_slow(value: Decimal, min_scale: u32) -> String {
    let mut v = value.normalize();
    if v.is_zero() {
        v = Decimal::ZERO;
    }
    pad_to_scale(v, min_scale)
}

/// Prints a quantity: exact, trailing zeros dropped (`"15000"`, `"12.5"`).
pub fn fmt_qty(value: Decimal) -> String {
    let v = value.normalize();
    if v.is_zero() {
        return "0".to_string();
    }
    write_fixed(v.is_sign_negative(), v.mantissa().unsigned_abs(), v.scale())
}

/// Parses a decimal from text known to be valid (used for constants).
#[cfg(test)]
pub(crate) fn dec(s: &str) -> Decimal {
    <Decimal as std::str::FromStr>::from_str(s).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_literal_text_exactly() {
        assert_eq!(parse_decimal_text("0.005").unwrap().to_string(), "0.005");
        assert_eq!(parse_decimal_text("1e3").unwrap(), dec("1000"));
        assert_eq!(parse_decimal_text("1.5E-2").unwrap(), dec("0.015"));
        assert_eq!(parse_decimal_text("NaN"), Err(DecimalError::NotANumber));
        assert_eq!(parse_decimal_text("1e30"), Err(DecimalError::OutOfRange));
        assert_eq!(
            parse_decimal_text("1234567890123456789012345678901234567890"),
            Err(DecimalError::OutOfRange)
        );
        assert_eq!(parse_decimal_text("12.500").unwrap().to_string(), "12.500");
    }

    #[test]
    fn fast_formatting_matches_the_decimal_type() {
        for v in [
            "0",
            "-0",
            "25",
            "0.005",
            "11.5",
            "-3.20",
            "1000000.000001",
            "0.0000000000000000000000000001",
            "79228162514264337593543950335",
            "-12.345000",
            "7",
            "0.1",
        ] {
            for scale in [0, 2, 3, 6] {
                assert_eq!(
                    fmt_exact(dec(v), scale),
                    fmt_exact_slow(dec(v), scale),
                    "{v} at {scale}"
                );
                assert_eq!(exact_text(dec(v), scale).as_str(), fmt_exact(dec(v), scale));
                assert!(exact_text_short(dec(v), scale).is_none_or(|t| t.as_str() == fmt_exact(dec(v), scale)));
            }
            assert_eq!(fmt_qty(dec(v)), {
                let n = dec(v).normalize();
                if n.is_zero() {
                    "0".to_string()
                } else {
                    n.to_string()
                }
            });
        }
    }

    #[test]
    fn rounding_modes_on_a_half_cent() {
        let v = dec("0.125");
        assert_eq!(fmt_money(Rounding::HalfUp.round(v, 2), 2), "0.13");
        assert_eq!(fmt_money(Rounding::HalfEven.round(v, 2), 2), "0.12");
        assert_eq!(fmt_money(Rounding::Down.round(v, 2), 2), "0.12");
        assert_eq!(fmt_money(Rounding::Up.round(dec("0.121"), 2), 2), "0.13");
    }
}

#[cfg(test)]
mod short_text {
    use super::{exact_text, exact_text_short, fmt_exact_slow};
    use proptest::prelude::*;
    use rust_decimal::Decimal;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        #[test]
        fn short_path_prints_what_the_general_one_does(
            m in prop_oneof![-100_000i128..100_000, any::<i64>().prop_map(i128::from), -(1i128 << 95)..(1i128 << 95)],
            scale in 0u32..=28,
            min_scale in 0u32..=8,
        ) {
            let v = Decimal::from_i128_with_scale(m, scale);
            let want = fmt_exact_slow(v, min_scale);
            let got = exact_text(v, min_scale);
            prop_assert_eq!(got.as_str(), want.as_str());
            if let Some(t) = exact_text_short(v, min_scale) {
                prop_assert_eq!(t.as_str(), want.as_str());
            }
        }
    }
}

#[cfg(test)]
mod plain_parse {
    use super::{iso_scale, parse_general, parse_plain, ISO_SCALES};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        #[test]
        fn plain_path_reads_what_the_general_one_does(text in "[-+]?[0-9]{0,21}(\\.[0-9]{0,21})?|[-0-9.e]{0,8}") {
            if let Some(d) = parse_plain(&text) {
                let g = parse_general(&text);
                prop_assert!(g.is_ok(), "{text:?}: plain {d}, general {g:?}");
                if let Ok(g) = g {
                    prop_assert_eq!(d.serialize(), g.serialize(), "{}", text);
                }
            }
        }
    }

    #[test]
    fn common_quantities() {
        for t in [
            "0",
            "9",
            "12.34",
            "1.50",
            "007",
            "0.000001",
            "-3.2",
            "999999999999999999",
            "123456789.123456789",
        ] {
            let d = parse_plain(t).unwrap_or_else(|| panic!("{t} takes the plain path"));
            assert_eq!(d.serialize(), parse_general(t).unwrap().serialize(), "{t}");
        }
        for t in [
            "",
            "-",
            "-0",
            "-0.0",
            "1.",
            ".5",
            "+1",
            "1e3",
            "1.2.3",
            "1234567890123456789",
            " 1",
        ] {
            assert!(parse_plain(t).is_none(), "{t:?} is left to the general path");
        }
    }

    #[test]
    fn iso_scale_table_matches_iso_currency() {
        let mut known = 0;
        for a in b'A'..=b'Z' {
            for b in b'A'..=b'Z' {
                for c in b'A'..=b'Z' {
                    let code = String::from_utf8(vec![a, b, c]).unwrap();
                    let want = iso_currency::Currency::from_code(&code)
                        .and_then(|c| c.exponent())
                        .map(u32::from);
                    assert_eq!(iso_scale(&code), want, "{code}");
                    known += usize::from(want.is_some());
                }
            }
        }
        assert_eq!(known, ISO_SCALES.len() / 4);
        for code in ["usd", "US", "USDD", "", "Usd", "U\u{e9}"] {
            assert_eq!(iso_scale(code), None, "{code}");
        }
    }
}
