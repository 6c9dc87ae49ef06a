//! Looking up one `key=value` word in the kernel command line (`/chosen/bootargs`).
//!
//! The command line is space-separated words such as `log=debug hz=250 ktest=fault quiet`. A
//! word with `=` sets a key to the text after the first `=`; a bare word sets its key to the
//! empty string; a later word for the same key overrides an earlier one, as on Linux, so that
//! a boot loader can append to a default command line.

/// The value of `key` in the command line `bootargs`.
///
/// Return values: `Some(value)` for the last `key=value` word, `Some("")` if the last word
/// for `key` is the bare word `key`, `None` if no word names `key`. An empty key, or one
/// containing `=` or whitespace, never matches.
pub fn boot_argument<'a>(bootargs: &'a str, key: &str) -> Option<&'a str> {
    if key.is_empty() || key.contains('=') || key.contains(char::is_whitespace) {
        return None;
    }
    bootargs
        .split_whitespace()
        .rev()
        .find_map(|word| match word.split_once('=') {
            Some((word_key, value)) if word_key == key => Some(value),
            None if word == key => Some(""),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMAND_LINE: &str = "log=debug hz=250 ktest=fault quiet";

    #[test]
    fn a_key_with_a_value_gives_the_value() {
        assert_eq!(boot_argument(COMMAND_LINE, "log"), Some("debug"));
        assert_eq!(boot_argument(COMMAND_LINE, "hz"), Some("250"));
        assert_eq!(boot_argument(COMMAND_LINE, "ktest"), Some("fault"));
    }

    #[test]
    fn a_bare_word_gives_the_empty_string() {
        assert_eq!(boot_argument(COMMAND_LINE, "quiet"), Some(""));
    }

    #[test]
    fn an_absent_key_gives_none() {
        assert_eq!(boot_argument(COMMAND_LINE, "smp"), None);
        assert_eq!(boot_argument("", "log"), None);
    }

    #[test]
    fn the_last_occurrence_wins() {
        assert_eq!(
            boot_argument("log=info hz=100 log=trace", "log"),
            Some("trace")
        );
        assert_eq!(boot_argument("quiet quiet=no", "quiet"), Some("no"));
        assert_eq!(boot_argument("quiet=no quiet", "quiet"), Some(""));
    }

    #[test]
    fn a_key_is_not_matched_by_a_prefix_or_a_suffix() {
        assert_eq!(boot_argument("loglevel=7 catalog=x", "log"), None);
        assert_eq!(boot_argument("log=1", "lo"), None);
    }

    #[test]
    fn only_the_first_equals_sign_separates_key_and_value() {
        assert_eq!(boot_argument("root=LABEL=boot", "root"), Some("LABEL=boot"));
        assert_eq!(boot_argument("empty=", "empty"), Some(""));
    }

    #[test]
    fn runs_of_spaces_tabs_and_newlines_separate_words() {
        assert_eq!(boot_argument("  log=debug \t hz=250\n", "hz"), Some("250"));
    }

    #[test]
    fn keys_that_cannot_be_words_never_match() {
        assert_eq!(boot_argument("=x a=b", ""), None);
        assert_eq!(boot_argument("a=b", "a=b"), None);
        assert_eq!(boot_argument("a b", "a b"), None);
    }
}
