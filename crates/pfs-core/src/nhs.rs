//! NHS numbers: ten digits, the last a modulus-11 check digit.

/// Whether `s` is a valid NHS number (ten digits, correct check digit; spaces allowed).
pub fn is_valid(s: &str) -> bool {
    let digits: Vec<u32> = s
        .chars()
        .filter(|c| *c != ' ')
        .map(|c| c.to_digit(10).unwrap_or(99))
        .collect();
    if digits.len() != 10 || digits.iter().any(|d| *d > 9) {
        return false;
    }
    match digits.split_last() {
        Some((last, nine)) => check_digit(nine) == Some(*last),
        None => false,
    }
}

/// The NHS number in its stored form: the ten digits without spaces.
pub fn normalise(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// The check digit for nine digits, or `None` when no valid check digit exists.
pub fn check_digit(nine: &[u32]) -> Option<u32> {
    let sum: u32 = nine.iter().zip((2..=10).rev()).map(|(d, w)| d * w).sum();
    match 11 - sum % 11 {
        11 => Some(0),
        10 => None,
        d => Some(d),
    }
}

/// Completes nine digits into a valid NHS number, if possible.
pub fn complete(nine: &str) -> Option<String> {
    let digits: Vec<u32> = nine
        .chars()
        .map(|c| c.to_digit(10))
        .collect::<Option<_>>()?;
    if digits.len() != 9 {
        return None;
    }
    check_digit(&digits).map(|c| format!("{nine}{c}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_numbers() {
        assert!(is_valid("9434765919"));
        assert!(is_valid("943 476 5919"));
        assert!(!is_valid("9434765918"));
        assert!(!is_valid("943476591"));
        assert!(!is_valid("94347659a9"));
        assert_eq!(complete("943476591").as_deref(), Some("9434765919"));
    }
}
