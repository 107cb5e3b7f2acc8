//! The text a citizen is shown before signing (GovStack `dataToBeDisplayed`): what they read is
//! what the eService sent, and nothing hides in it. Control characters other than the newline
//! (Cc) and format characters (Cf: bidi overrides and isolates, zero-width joiners and spaces,
//! soft hyphens, byte order marks, tags) are refused, since they can reorder or hide what is
//! shown — `U+202E` turns "invoice_txt.exe" around. CRLF becomes LF, and the text is normalised
//! to NFC, so that the same words are the same characters whatever the sender's keyboard.

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// The most characters shown.
pub const MAX_CHARS: usize = 1000;

/// Why a text to be displayed was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DisplayTextError {
    /// Longer than [`MAX_CHARS`].
    #[error("dataToBeDisplayed is longer than {MAX_CHARS} characters")]
    TooLong,
    /// A control or format character.
    #[error(
        "dataToBeDisplayed contains U+{code:04X} ({what}), which could hide or reorder what the citizen reads; \
         send plain text (newlines are allowed)"
    )]
    Hidden {
        /// The character's code point.
        code: u32,
        /// "a control character" or "a format character".
        what: &'static str,
    },
}

/// Check and normalise a text to be displayed.
///
/// # Errors
/// [`DisplayTextError`].
pub fn display_text(raw: &str) -> Result<String, DisplayTextError> {
    let text: String = raw.replace("\r\n", "\n").nfc().collect();
    for c in text.chars() {
        let what = match c.general_category() {
            GeneralCategory::Control if c != '\n' => "a control character",
            GeneralCategory::Format => "a format character",
            _ => continue,
        };
        return Err(DisplayTextError::Hidden { code: u32::from(c), what });
    }
    if text.chars().count() > MAX_CHARS {
        return Err(DisplayTextError::TooLong);
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_could_disguise_the_text_is_refused() {
        let hidden = [
            ("invoice_\u{202E}exe.txt", 0x202E),     // right-to-left override
            ("pay \u{2066}100\u{2069} EUR", 0x2066), // left-to-right isolate
            ("1\u{200B}000 EUR", 0x200B),            // zero-width space
            ("co\u{00AD}sign", 0x00AD),              // soft hyphen
            ("\u{FEFF}Lease", 0xFEFF),               // byte order mark
            ("flag\u{E0041}", 0xE0041),              // tag character
            ("bell\u{7}", 0x7),
            ("tab\there", 0x9),
            ("line\rfeed", 0xD),
            ("next\u{85}line", 0x85),
        ];
        for (text, code) in hidden {
            match display_text(text) {
                Err(DisplayTextError::Hidden { code: found, .. }) => assert_eq!(found, code, "{text:?}"),
                other => panic!("{text:?} was not refused: {other:?}"),
            }
        }
        let message = display_text("a\u{202E}b").unwrap_err().to_string();
        assert!(message.contains("U+202E (a format character)"), "{message}");
    }

    #[test]
    fn plain_text_passes_normalised_to_nfc() {
        assert_eq!(display_text("Lease agreement\nflat 4B").unwrap(), "Lease agreement\nflat 4B");
        assert_eq!(display_text("two\r\nlines").unwrap(), "two\nlines");
        // "é" as e + combining acute becomes the one character U+00E9.
        assert_eq!(display_text("Caf\u{0065}\u{0301}").unwrap(), "Caf\u{00E9}");
        assert_eq!(display_text("Ελληνικά, العربية, 日本語").unwrap(), "Ελληνικά, العربية, 日本語");
        assert_eq!(display_text(&"x".repeat(MAX_CHARS)).unwrap().len(), MAX_CHARS);
        assert_eq!(display_text(&"x".repeat(MAX_CHARS + 1)), Err(DisplayTextError::TooLong));
    }
}
