//! `doxwatch platform contact …`: who to write to at a platform, and how (the liaison service).

use doxwatch_proto::liaison as pb;
use serde_json::json;

use super::{PageArgs, liaison, pages, resource_name};
use crate::{
    ClientArgs,
    output::{CliError, label, print_fields, print_json, print_more_hint, print_table, time_text, word},
};

#[derive(clap::Subcommand)]
pub enum ContactCommand {
    /// Set (create or replace) a platform's contact details; at least one address for service.
    Set(SetArgs),
    /// Show a platform's contact details.
    Get(GetArgs),
    /// List the platforms' contact details.
    List(ListArgs),
}

#[derive(clap::Args)]
pub struct SetArgs {
    /// The platform: platforms/{id} or just the id (a platform of link-tracking).
    platform: String,
    /// The company or person operating the platform.
    #[arg(long)]
    legal_entity: String,
    /// HK, or the ISO 3166-1 alpha-2 code of the country outside Hong Kong where it is, e.g. SG.
    #[arg(long)]
    jurisdiction: String,
    /// An email address for service.
    #[arg(long)]
    email: Option<String>,
    /// A postal address for service.
    #[arg(long)]
    postal_address: Option<String>,
    /// A web form for reports, e.g. https://example.com/report.
    #[arg(long)]
    web_form_url: Option<String>,
    /// How to reach it inside its app, e.g. "@support bot".
    #[arg(long)]
    in_app: Option<String>,
    /// The language letters to it are written in: en or zh-hant.
    #[arg(long, default_value = "en", value_parser = languages())]
    language: pb::Language,
    /// It has accepted service before.
    #[arg(long)]
    accepted_service_before: bool,
    #[arg(long)]
    notes: Option<String>,
    /// An idempotency key: re-running with the same key sets the contact once.
    #[arg(long)]
    request_id: Option<String>,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(clap::Args)]
pub struct GetArgs {
    /// The platform: platforms/{id} or just the id.
    platform: String,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    page: PageArgs,
    #[command(flatten)]
    client: ClientArgs,
}

/// A letter's language as officers write it: `en` or `zh-hant` (also `english` and
/// `traditional-chinese`, the contract's words); a clap value parser.
/// `--language`: the tags, listed in `--help` (the enum's words are accepted too).
pub fn languages() -> crate::choice::Choice<pb::Language> {
    crate::choice::Choice::new(["en", "zh-hant"], language)
}

pub fn language(text: &str) -> Result<pb::Language, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "en" => Ok(pb::Language::English),
        "zh-hant" | "zh-hk" | "zh-tw" => Ok(pb::Language::TraditionalChinese),
        _ => word::<pb::Language>(text).map_err(|_| format!("{text:?} is not one of en, zh-hant")),
    }
}

/// A platform's contact: `platforms/{id}/contact`, written as the platform or as the contact.
fn contact_name(text: &str) -> String {
    let platform = text.trim().strip_suffix("/contact").unwrap_or(text);
    format!("{}/contact", resource_name("platforms", platform))
}

pub async fn run(command: ContactCommand) -> Result<(), CliError> {
    match command {
        ContactCommand::Set(args) => {
            let contact = pb::PlatformContact {
                platform: super::platform::platform_named(&args.client, &args.platform).await?,
                legal_entity: args.legal_entity,
                jurisdiction: args.jurisdiction,
                email: args.email.unwrap_or_default(),
                postal_address: args.postal_address.unwrap_or_default(),
                web_form_url: args.web_form_url.unwrap_or_default(),
                in_app: args.in_app.unwrap_or_default(),
                language: args.language as i32,
                accepted_service_before: args.accepted_service_before,
                notes: args.notes.unwrap_or_default(),
                ..Default::default()
            };
            let request = pb::SetPlatformContactRequest {
                contact: Some(contact),
                request_id: args.request_id.unwrap_or_default(),
            };
            let contact = liaison(&args.client).await?.set_platform_contact(request).await?.into_inner();
            show_contact(&contact, args.client.json);
            Ok(())
        }
        ContactCommand::Get(args) => {
            let platform = args.platform.trim().strip_suffix("/contact").unwrap_or(&args.platform);
            let platform = super::platform::platform_named(&args.client, platform).await?;
            let request = pb::GetPlatformContactRequest { name: contact_name(&platform) };
            let contact = liaison(&args.client).await?.get_platform_contact(request).await?.into_inner();
            show_contact(&contact, args.client.json);
            Ok(())
        }
        ContactCommand::List(args) => list(args).await,
    }
}

async fn list(args: ListArgs) -> Result<(), CliError> {
    let request = pb::ListPlatformContactsRequest { page_size: args.page.page_size, page_token: String::new() };
    let client = liaison(&args.client).await?;
    let (contacts, next) = pages(&args.page, |page_token| {
        let (mut client, request) = (client.clone(), pb::ListPlatformContactsRequest { page_token, ..request.clone() });
        async move {
            client
                .list_platform_contacts(request)
                .await
                .map(|r| r.into_inner())
                .map(|p| (p.contacts, p.next_page_token))
        }
    })
    .await?;
    if args.client.json {
        print_json(
            &json!({ "contacts": contacts.iter().map(contact_json).collect::<Vec<_>>(), "next_page_token": next }),
        );
        return Ok(());
    }
    let rows: Vec<Vec<String>> = contacts
        .iter()
        .map(|c| {
            vec![
                c.platform.clone(),
                c.legal_entity.clone(),
                c.jurisdiction.clone(),
                label::<pb::Language>(c.language),
                yes_no(c.accepted_service_before),
                addresses(c).join("; "),
            ]
        })
        .collect();
    print_table(&["PLATFORM", "LEGAL ENTITY", "JURISDICTION", "LANGUAGE", "ACCEPTED SERVICE", "ADDRESSES"], &rows);
    print_more_hint(&next, "contacts");
    Ok(())
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

/// The addresses for service a contact has, each with how it is used.
fn addresses(c: &pb::PlatformContact) -> Vec<String> {
    [("email", &c.email), ("post", &c.postal_address), ("web form", &c.web_form_url), ("in app", &c.in_app)]
        .into_iter()
        .filter(|(_, address)| !address.is_empty())
        .map(|(how, address)| format!("{how}: {address}"))
        .collect()
}

fn contact_json(c: &pb::PlatformContact) -> serde_json::Value {
    json!({
        "name": c.name,
        "platform": c.platform,
        "legal_entity": c.legal_entity,
        "jurisdiction": c.jurisdiction,
        "email": c.email,
        "postal_address": c.postal_address,
        "web_form_url": c.web_form_url,
        "in_app": c.in_app,
        "language": label::<pb::Language>(c.language),
        "accepted_service_before": c.accepted_service_before,
        "notes": c.notes,
        "update_time": time_text(c.update_time.as_ref()),
        "updated_by": c.updated_by,
    })
}

fn show_contact(c: &pb::PlatformContact, as_json: bool) {
    if as_json {
        print_json(&contact_json(c));
        return;
    }
    let mut fields = vec![
        ("name", c.name.clone()),
        ("platform", c.platform.clone()),
        ("legal_entity", c.legal_entity.clone()),
        ("jurisdiction", c.jurisdiction.clone()),
    ];
    for (field, value) in [
        ("email", &c.email),
        ("postal_address", &c.postal_address),
        ("web_form_url", &c.web_form_url),
        ("in_app", &c.in_app),
    ] {
        if !value.is_empty() {
            fields.push((field, value.clone()));
        }
    }
    fields.push(("language", label::<pb::Language>(c.language)));
    fields.push(("accepted_service_before", yes_no(c.accepted_service_before)));
    if !c.notes.is_empty() {
        fields.push(("notes", c.notes.clone()));
    }
    fields.push(("update_time", time_text(c.update_time.as_ref())));
    fields.push(("updated_by", c.updated_by.clone()));
    print_fields(fields);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::Vocabulary;

    #[test]
    fn a_contact_is_named_by_its_platform() {
        assert_eq!(contact_name("0190"), "platforms/0190/contact");
        assert_eq!(contact_name("platforms/0190"), "platforms/0190/contact");
        assert_eq!(contact_name("platforms/0190/contact"), "platforms/0190/contact");
    }

    #[test]
    fn languages_are_written_as_tags_or_words() {
        assert_eq!(language("en"), Ok(pb::Language::English));
        assert_eq!(language("zh-Hant"), Ok(pb::Language::TraditionalChinese));
        assert_eq!(language("traditional-chinese"), Ok(pb::Language::TraditionalChinese));
        assert_eq!(language("fr"), Err("\"fr\" is not one of en, zh-hant".to_owned()));
        assert_eq!(<pb::Language as Vocabulary>::prefix(), "LANGUAGE_");
    }
}
