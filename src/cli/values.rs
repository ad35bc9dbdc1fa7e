//! Parsers of the numeric flags. Each says what range it takes; clap puts
//! the flag's name in front (`invalid value '-1' for '--epochs <EPOCHS>':
//! expected a whole number from 1 up`), and the flags that use them accept a
//! leading minus, so that a negative number reaches the parser instead of
//! being taken for an unknown flag.

/// A whole number from `min` up.
pub fn whole_from(min: usize) -> impl Fn(&str) -> Result<usize, String> + Clone + Send + Sync + 'static {
    move |text| match text.trim().parse::<usize>() {
        Ok(n) if n >= min => Ok(n),
        _ => Err(format!("expected a whole number from {min} up")),
    }
}

/// Any whole number from 0 up to 2⁶⁴ - 1 (a seed).
pub fn seed(text: &str) -> Result<u64, String> {
    text.trim().parse::<u64>().map_err(|_| "expected a whole number from 0 to 18446744073709551615".to_string())
}

/// A number with `low < value` (or `low <= value` when `low_closed`), and
/// `value < high` (or `<=` when `high_closed`); `describe` says the range in words.
fn real_in(text: &str, low: (f64, bool), high: (f64, bool), describe: &str) -> Result<f64, String> {
    let value: f64 = text.trim().parse().map_err(|_| format!("expected {describe}"))?;
    let above = if low.1 { value >= low.0 } else { value > low.0 };
    let below = if high.1 { value <= high.0 } else { value < high.0 };
    if value.is_finite() && above && below {
        Ok(value)
    } else {
        Err(format!("expected {describe}"))
    }
}

/// A number greater than 0 (a learning rate, a factor, a time).
pub fn positive(text: &str) -> Result<f32, String> {
    real_in(text, (0.0, false), (f64::from(f32::MAX), true), "a number greater than 0").map(|v| v as f32)
}

/// [`positive`], as an `f64`.
pub fn positive_f64(text: &str) -> Result<f64, String> {
    real_in(text, (0.0, false), (f64::MAX, true), "a number greater than 0")
}

/// A number from 0 up (a weight decay, epochs of warm-up).
pub fn non_negative(text: &str) -> Result<f32, String> {
    real_in(text, (0.0, true), (f64::from(f32::MAX), true), "a number from 0 up").map(|v| v as f32)
}

/// A number from 0 up to but not including 1 (a momentum, label smoothing).
pub fn below_one(text: &str) -> Result<f32, String> {
    real_in(text, (0.0, true), (1.0, false), "a number from 0 up to (not including) 1").map(|v| v as f32)
}

/// [`below_one`], as an `f64` (a share held out).
pub fn below_one_f64(text: &str) -> Result<f64, String> {
    real_in(text, (0.0, true), (1.0, false), "a number from 0 up to (not including) 1")
}

/// Two numbers from 0 up to (not including) 1, written `B1,B2` (Adam's β₁ and β₂).
pub fn betas(text: &str) -> Result<[f32; 2], String> {
    let describe = "two numbers from 0 up to (not including) 1, written B1,B2 (e.g. 0.9,0.999)";
    match text.split(',').map(below_one).collect::<Result<Vec<f32>, String>>() {
        Ok(pair) if pair.len() == 2 => Ok([pair[0], pair[1]]),
        _ => Err(format!("expected {describe}")),
    }
}

/// A probability: a number from 0 to 1.
pub fn probability(text: &str) -> Result<f32, String> {
    real_in(text, (0.0, true), (1.0, true), "a probability: a number from 0 to 1").map(|v| v as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_parser_takes_its_range_and_says_it() {
        assert_eq!(whole_from(1)("3"), Ok(3));
        assert_eq!(whole_from(1)("0").unwrap_err(), "expected a whole number from 1 up");
        assert!(whole_from(0)("-1").is_err() && whole_from(0)("0") == Ok(0));
        assert_eq!(positive("0.5"), Ok(0.5));
        for bad in ["0", "-1", "nan", "inf", "x"] {
            assert_eq!(positive(bad).unwrap_err(), "expected a number greater than 0", "{bad}");
        }
        assert_eq!(non_negative("0"), Ok(0.0));
        assert!(non_negative("-0.1").is_err());
        assert_eq!(below_one("0.9"), Ok(0.9));
        assert!(below_one("1").is_err() && below_one("-0.5").is_err());
        assert_eq!(probability("1"), Ok(1.0));
        assert!(probability("1.01").unwrap_err().contains("from 0 to 1"));
        assert_eq!(seed("7"), Ok(7));
        assert_eq!(betas("0.8,0.99"), Ok([0.8, 0.99]));
        for bad in ["0.8", "0.8,1", "0.8,0.9,0.7", "-0.1,0.9", "a,b"] {
            assert!(betas(bad).unwrap_err().contains("B1,B2"), "{bad}");
        }
        assert!(seed("-7").is_err());
    }
}
