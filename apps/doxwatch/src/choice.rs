//! Arguments that take one of a fixed set of words. clap shows the words in `--help` (as
//! "possible values"), offers them to shell completion, and refuses anything else with the list.

use std::{ffi::OsStr, sync::Arc};

use clap::builder::{PossibleValue, TypedValueParser};

use crate::output::{Vocabulary, word, words};

/// A value parser for one of `values`, read by `parse` (which may accept more spellings than the
/// ones listed, such as `SOCIAL_NETWORK` beside `social-network`).
#[derive(Clone)]
pub struct Choice<T> {
    values: Arc<[String]>,
    parse: fn(&str) -> Result<T, String>,
}

impl<T> Choice<T> {
    pub fn new(values: impl IntoIterator<Item = impl Into<String>>, parse: fn(&str) -> Result<T, String>) -> Self {
        Choice { values: values.into_iter().map(Into::into).collect(), parse }
    }
}

/// Any value of the contract's enum `E` but its zero, written in lower case with dashes.
pub fn vocabulary<E: Vocabulary>() -> Choice<E> {
    Choice::new(words::<E>(), word::<E>)
}

impl<T: Clone + Send + Sync + 'static> TypedValueParser for Choice<T> {
    type Value = T;

    fn parse_ref(&self, cmd: &clap::Command, arg: Option<&clap::Arg>, value: &OsStr) -> Result<T, clap::Error> {
        self.parse.parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(self.values.iter().map(|value| PossibleValue::new(value.clone()))))
    }
}

/// "a, b or c", for help texts that describe a value made of several parts.
pub fn listed(values: &[String]) -> String {
    match values {
        [] => String::new(),
        [only] => only.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// The words of `E`, listed as [`listed`] does.
pub fn listed_words<E: Vocabulary>() -> String {
    listed(&words::<E>())
}
