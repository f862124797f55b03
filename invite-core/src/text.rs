//! Free text that people type and others see, such as an account's display name:
//! trimmed, bounded and free of control characters (rule X4).

/// Most characters (Unicode scalar values) a display name may hold once trimmed.
pub const MAX_DISPLAY_NAME_CHARS: usize = 200;

/// Why a piece of text was refused. Hosts answer it as `invalid_request` (rule X4).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TextError {
    /// Nothing but whitespace was given.
    #[error("the name is empty")]
    Empty,
    /// Longer than [`MAX_DISPLAY_NAME_CHARS`] characters once trimmed.
    #[error("the name is longer than {MAX_DISPLAY_NAME_CHARS} characters")]
    TooLong,
    /// A control character (general category Cc, NUL among them) or a line or paragraph
    /// separator (U+2028, U+2029). Databases refuse NUL in text, and the others break
    /// the lines of logs and pages.
    #[error("the name holds a control character")]
    ControlCharacter,
}

/// Checks a display name and gives it back trimmed of surrounding whitespace.
///
/// # Errors
/// [`TextError::Empty`] for an empty or whitespace-only name, [`TextError::TooLong`] past
/// [`MAX_DISPLAY_NAME_CHARS`] characters, [`TextError::ControlCharacter`] for any control
/// character left once trimmed.
pub fn check_display_name(name: &str) -> Result<&str, TextError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(TextError::Empty);
    }
    if name
        .chars()
        .any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'))
    {
        return Err(TextError::ControlCharacter);
    }
    if name.chars().count() > MAX_DISPLAY_NAME_CHARS {
        return Err(TextError::TooLong);
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_kept_as_typed() {
        // rule X4
        assert_eq!(check_display_name("  Erin Example "), Ok("Erin Example"));
        assert_eq!(check_display_name("Zoë 李 👩‍💻"), Ok("Zoë 李 👩‍💻"));
        assert_eq!(check_display_name("\tErin\n"), Ok("Erin"));
    }

    #[test]
    fn empty_and_whitespace_only_names_are_refused() {
        // rule X4
        for empty in ["", " ", "\t\n", "\u{3000}\u{2028}"] {
            assert_eq!(check_display_name(empty), Err(TextError::Empty), "{empty:?}");
        }
    }

    #[test]
    fn names_over_200_characters_are_refused() {
        // rule X4: characters, not bytes
        let longest = "é".repeat(MAX_DISPLAY_NAME_CHARS);
        assert_eq!(check_display_name(&longest), Ok(longest.as_str()));
        assert_eq!(
            check_display_name(&format!("{longest}e")),
            Err(TextError::TooLong)
        );
    }

    #[test]
    fn control_characters_are_refused() {
        // rule X4: NUL makes PostgreSQL refuse the row (a 500); the others break lines.
        for c in [
            '\u{0}', '\u{1}', '\t', '\n', '\r', '\u{1B}', '\u{7F}', '\u{85}', '\u{9F}', '\u{2028}',
            '\u{2029}',
        ] {
            assert_eq!(
                check_display_name(&format!("a{c}b")),
                Err(TextError::ControlCharacter),
                "{c:?}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn what_is_accepted_is_trimmed_bounded_and_free_of_control_characters(name in proptest::prelude::any::<String>()) {
            // rule X4
            if let Ok(kept) = check_display_name(&name) {
                proptest::prop_assert_eq!(kept, name.trim());
                proptest::prop_assert!(!kept.is_empty());
                proptest::prop_assert!(kept.chars().count() <= MAX_DISPLAY_NAME_CHARS);
                let control = |c: char| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}');
                proptest::prop_assert!(!kept.chars().any(control));
            }
        }
    }
}
