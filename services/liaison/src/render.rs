//! The letter itself: a notice rendered from the templates kept as data in `templates/` (one
//! file per language: a MiniJinja Markdown template and the words for each kind and action), as
//! Markdown, or as HTML made from that Markdown.

use std::collections::BTreeMap;

use doxwatch_kit::markdown as escape;
use time::OffsetDateTime;

use crate::domain::*;

#[cfg(test)]
mod structure_tests;

const ENGLISH: &str = include_str!("../templates/en.toml");
const TRADITIONAL_CHINESE: &str = include_str!("../templates/zh-Hant.toml");

#[derive(serde::Deserialize)]
struct Letterhead {
    template: String,
    kinds: BTreeMap<String, String>,
    actions: BTreeMap<String, String>,
    words: BTreeMap<String, String>,
}

/// What the letter needs beyond the notice: the addressee, and each link's URL.
pub struct LetterContext<'a> {
    pub contact: Option<&'a PlatformContact>,
    pub platform_name: &'a str,
    pub urls: &'a BTreeMap<String, String>,
    pub channel_url: Option<&'a str>,
    /// The reference of the notice this one follows, if any.
    pub follows: Option<&'a str>,
    /// The office's time zone, in which letters are dated.
    pub zone: &'a jiff::tz::TimeZone,
}

/// The date `t` falls on in `zone`, as a letter writes it.
fn date(t: OffsetDateTime, zone: &jiff::tz::TimeZone, language: Language) -> String {
    let day = jiff::Timestamp::from_second(t.unix_timestamp())
        .map(|s| s.to_zoned(zone.clone()).date())
        .unwrap_or_else(|_| jiff::civil::date(t.year() as i16, u8::from(t.month()) as i8, t.day() as i8));
    match language {
        Language::English => day.strftime("%-d %B %Y").to_string(),
        Language::TraditionalChinese => format!("{}年{}月{}日", day.year(), day.month(), day.day()),
    }
}

pub fn markdown(notice: &Notice, language: Language, ctx: &LetterContext<'_>) -> Result<String, String> {
    let source = match language {
        Language::English => ENGLISH,
        Language::TraditionalChinese => TRADITIONAL_CHINESE,
    };
    let head: Letterhead = toml::from_str(source).map_err(|e| format!("template file: {e}"))?;
    let word = |table: &BTreeMap<String, String>, key: &str| table.get(key).cloned().unwrap_or_else(|| key.to_owned());
    let items: Vec<minijinja::Value> = notice
        .items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            minijinja::context! {
                number => i + 1,
                url => escape::url(&ctx.urls.get(&item.link.name()).cloned().unwrap_or_else(|| item.link.name())),
                action => word(&head.actions, item.action.key()),
            }
        })
        .collect();
    let addressee = ctx.contact.map_or_else(|| ctx.platform_name.to_owned(), |c| c.legal_entity.clone());
    let served = notice.service.map(|s| s.served_at);
    let deadline = notice.service.map(|s| s.deadline).or(notice.deadline_override);
    let mut env = minijinja::Environment::new();
    env.add_template("letter", &head.template).map_err(|e| format!("template: {e}"))?;
    let template = env.get_template("letter").map_err(|e| format!("template: {e}"))?;
    template
        .render(minijinja::context! {
            kind => notice.kind.key(),
            title => word(&head.kinds, notice.kind.key()),
            reference => if notice.reference.is_empty() { notice.id.name() } else { notice.reference.clone() },
            follows => ctx.follows.map(str::to_owned).or_else(|| notice.follows.map(|f| f.name())),
            date => served.map_or_else(|| word(&head.words, "not_served"), |t| date(t, ctx.zone, language)),
            deadline => deadline.map_or_else(|| word(&head.words, "not_served"), |t| date(t, ctx.zone, language)),
            // Every free text goes through `escape`: nothing a user wrote can change the letter's
            // structure (the template's own markup is the only markup).
            addressee => escape::text(&addressee),
            email => ctx.contact.map(|c| escape::text(&c.email)).filter(|e| !e.is_empty()),
            postal_address => ctx.contact.map(|c| escape::lines(&c.postal_address)).filter(|a| !a.is_empty()),
            legal_basis => escape::text(&notice.legal_basis),
            items => items,
            channel => ctx.channel_url.map(escape::url),
        })
        .map(|s| s.trim().to_owned() + "\n")
        .map_err(|e| format!("rendering: {e}"))
}

pub fn html(markdown: &str, language: Language, title: &str) -> String {
    let parser = pulldown_cmark::Parser::new_ext(markdown, pulldown_cmark::Options::ENABLE_TABLES);
    let mut body = String::new();
    pulldown_cmark::html::push_html(&mut body, parser);
    let lang = match language {
        Language::English => "en",
        Language::TraditionalChinese => "zh-Hant",
    };
    let title: String = title.chars().filter(|c| !"<>&\"".contains(*c)).collect();
    format!(
        "<!doctype html>\n<html lang=\"{lang}\">\n<head><meta charset=\"utf-8\"><title>{title}</title></head>\n<body>\n{body}</body>\n</html>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_template_files_parse() {
        for source in [ENGLISH, TRADITIONAL_CHINESE] {
            let head: Letterhead = toml::from_str(source).unwrap();
            for kind in NoticeKind::ALL {
                assert!(head.kinds.contains_key(kind.key()), "{}", kind.key());
            }
            for action in NoticeAction::ALL {
                assert!(head.actions.contains_key(action.key()), "{}", action.key());
            }
        }
    }
}
