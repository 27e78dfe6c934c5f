//! Every argument that takes one of a fixed set of words names every one of them in its help.
//!
//! The arguments are found by trying them: each option and positional of every command is given
//! values that no vocabulary holds, alone and inside the compound forms officers write
//! (`LINK=ACTION`, `CATEGORY:NEXUS:NAME`, …). Where the refusal lists the accepted words, the help
//! of that argument must show each of them, in its text or as its possible values.

use std::collections::BTreeSet;

use clap::{Arg, Command, CommandFactory, error::ErrorKind};

const PROBES: [&str; 5] = ["zz-bogus", "x=zz-bogus", "zz-bogus:x", "x=zz-bogus:y", "zz-bogus:zz-bogus:x"];

/// Every command that runs (has no subcommands), with the words that reach it.
fn leaves(command: &Command, path: Vec<String>, found: &mut Vec<(Vec<String>, Command)>) {
    if command.get_subcommands().next().is_none() {
        found.push((path, command.clone()));
        return;
    }
    for sub in command.get_subcommands() {
        let mut deeper = path.clone();
        deeper.push(sub.get_name().to_owned());
        leaves(sub, deeper, found);
    }
}

/// The command line that gives `arg` of the command at `path` the value `probe`: other
/// positionals before it are filled with a plain word.
fn command_line(path: &[String], leaf: &Command, arg: &Arg, probe: &str) -> Vec<String> {
    let mut line = vec!["doxwatch".to_owned()];
    line.extend(path.iter().cloned());
    match (arg.get_long(), arg.get_index()) {
        (Some(long), _) => line.extend([format!("--{long}"), probe.to_owned()]),
        (None, Some(index)) => {
            let before = leaf.get_positionals().filter(|p| p.get_index().is_some_and(|i| i < index)).count();
            line.extend(std::iter::repeat_n("x".to_owned(), before));
            line.push(probe.to_owned());
        }
        (None, None) => {}
    }
    line
}

/// The words a refusal lists: ours ("… is not one of a, b, c") or clap's ("[possible values:
/// a, b]").
fn listed_in(message: &str) -> Option<Vec<String>> {
    let list = if let Some((_, rest)) = message.split_once("is not one of ") {
        rest.lines().next().unwrap_or_default()
    } else {
        message.split_once("[possible values: ")?.1.split(']').next().unwrap_or_default()
    };
    Some(list.split(", ").map(|w| w.trim().trim_end_matches('.').to_owned()).filter(|w| !w.is_empty()).collect())
}

/// The words of an argument's help: its texts and the possible values it shows.
fn help_words(arg: &Arg) -> BTreeSet<String> {
    let mut text = String::new();
    for help in [arg.get_help(), arg.get_long_help()].into_iter().flatten() {
        text.push_str(&help.to_string());
        text.push(' ');
    }
    let mut words: BTreeSet<String> = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    if !arg.is_hide_possible_values_set() {
        words.extend(arg.get_possible_values().iter().filter(|v| !v.is_hide_set()).map(|v| v.get_name().to_owned()));
    }
    words
}

#[test]
fn every_help_names_every_value_its_argument_accepts() {
    let mut root = crate::Cli::command();
    root.build(); // gives positionals their indices
    let mut found = Vec::new();
    leaves(&root, Vec::new(), &mut found);
    let mut checked = BTreeSet::new();
    let mut missing = BTreeSet::new();
    for (path, leaf) in &found {
        for arg in leaf.get_arguments().filter(|a| a.get_action().takes_values()) {
            for probe in PROBES {
                let line = command_line(path, leaf, arg, probe);
                let Err(refused) = root.clone().try_get_matches_from(&line) else { continue };
                if !matches!(refused.kind(), ErrorKind::InvalidValue | ErrorKind::ValueValidation) {
                    continue;
                }
                let Some(accepted) = listed_in(&refused.to_string()) else { continue };
                let shown = help_words(arg);
                let place = format!("doxwatch {} {}", path.join(" "), arg.get_id());
                for word in accepted.iter().filter(|w| !shown.contains(*w)) {
                    missing.insert(format!("{place}: {word}"));
                }
                checked.insert(place);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "help texts that do not name a value their argument accepts:\n{}",
        missing.into_iter().collect::<Vec<_>>().join("\n")
    );
    // The walk must have found the enum arguments it exists for, among them the compound forms.
    for place in [
        "doxwatch case create kind",
        "doxwatch case create subjects",
        "doxwatch case create complainant",
        "doxwatch notice create items",
        "doxwatch notice reply items",
        "doxwatch notice escalate to",
        "doxwatch platform contact set language",
        "doxwatch completions shell",
    ] {
        assert!(checked.contains(place), "{place} was not checked; checked: {checked:#?}");
    }
    assert!(checked.len() >= 40, "only {} arguments with fixed values were found: {checked:#?}", checked.len());
}
