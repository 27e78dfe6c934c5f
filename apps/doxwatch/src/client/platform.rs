//! `doxwatch platform …`: the platforms links are found on, and the domains that tell a link's
//! platform (the link-tracking service).

use doxwatch_proto::links as pb;
use serde_json::json;

use super::{PageArgs, every_page, links, pages, resource_name};
use crate::{
    ClientArgs,
    output::{CliError, label, print_fields, print_json, print_more_hint, print_table, time_text},
};

#[derive(clap::Subcommand)]
pub enum PlatformCommand {
    /// Register a platform with its domains.
    Create(CreateArgs),
    /// Show one platform.
    Get(NameArgs),
    /// List platforms.
    List(ListArgs),
    /// Rename or classify a platform.
    Update(UpdateArgs),
    /// Add a domain to a platform (a domain belongs to one platform at most).
    AddDomain(DomainArgs),
    /// Remove a domain from a platform; links already seen on it keep their platform.
    RemoveDomain(DomainArgs),
    /// Who to write to at a platform, and how (the liaison service).
    #[command(subcommand)]
    Contact(super::contact::ContactCommand),
}

#[derive(clap::Args)]
pub struct CreateArgs {
    /// The platform's name, e.g. "LIHKG".
    #[arg(long)]
    name: String,
    /// What kind of platform it is.
    #[arg(long, value_parser = crate::choice::vocabulary::<pb::PlatformKind>())]
    kind: pb::PlatformKind,
    /// A host that belongs to the platform, e.g. lihkg.com (repeatable).
    #[arg(long = "domain")]
    domains: Vec<String>,
    /// An idempotency key: re-running with the same key registers the platform once.
    #[arg(long)]
    request_id: Option<String>,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(clap::Args)]
pub struct NameArgs {
    /// The platform: platforms/{id} or just the id.
    name: String,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(clap::Args)]
pub struct ListArgs {
    /// Only platforms of this kind.
    #[arg(long, value_parser = crate::choice::vocabulary::<pb::PlatformKind>())]
    kind: Option<pb::PlatformKind>,
    #[command(flatten)]
    page: PageArgs,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("change").args(["name", "kind"]).required(true).multiple(true)))]
pub struct UpdateArgs {
    /// The platform: platforms/{id} or just the id.
    platform: String,
    /// A new name.
    #[arg(long)]
    name: Option<String>,
    /// Its new kind.
    #[arg(long, value_parser = crate::choice::vocabulary::<pb::PlatformKind>())]
    kind: Option<pb::PlatformKind>,
    #[arg(long)]
    request_id: Option<String>,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(clap::Args)]
pub struct DomainArgs {
    /// The platform: platforms/{id} or just the id.
    platform: String,
    /// A host name, e.g. telegram.dog.
    domain: String,
    #[arg(long)]
    request_id: Option<String>,
    #[command(flatten)]
    client: ClientArgs,
}

/// Every platform link-tracking knows (a few dozen: the registry and those met since).
pub async fn every_platform(args: &ClientArgs) -> Result<Vec<pb::Platform>, CliError> {
    let client = links(args).await?;
    let request = pb::ListPlatformsRequest { page_size: 500, ..Default::default() };
    every_page(|page_token| {
        let (mut client, request) = (client.clone(), pb::ListPlatformsRequest { page_token, ..request.clone() });
        async move { client.list_platforms(request).await.map(|r| r.into_inner()).map(|p| (p.platforms, p.next_page_token)) }
    })
    .await
}

/// A platform as an officer names it: `platforms/{id}` or its id, or else its registry key
/// (`telegram`), its display name or one of its domains, in any case.
pub async fn platform_named(args: &ClientArgs, text: &str) -> Result<String, CliError> {
    let text = text.trim();
    let id = text.strip_prefix("platforms/").unwrap_or(text);
    if id.len() == 36 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        return Ok(resource_name("platforms", id));
    }
    let platforms = every_platform(args).await?;
    let named: Vec<&pb::Platform> = platforms
        .iter()
        .filter(|p| {
            p.registry_key.eq_ignore_ascii_case(id)
                || p.display_name.eq_ignore_ascii_case(id)
                || p.domains.iter().any(|d| d.eq_ignore_ascii_case(id))
        })
        .collect();
    match named.as_slice() {
        [one] => Ok(one.name.clone()),
        [] => {
            Err(CliError::Usage(format!("no platform is called {text:?}: `doxwatch platform list --all` shows them")))
        }
        many => Err(CliError::Usage(format!(
            "{text:?} could be any of {}: name one by its id",
            many.iter().map(|p| format!("{} ({})", p.name, p.display_name)).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// Platforms' display names by resource name, for tables that would otherwise show ids.
pub async fn display_names(args: &ClientArgs) -> Result<std::collections::HashMap<String, String>, CliError> {
    Ok(every_platform(args).await?.into_iter().map(|p| (p.name, p.display_name)).collect())
}

pub async fn run(command: PlatformCommand) -> Result<(), CliError> {
    match command {
        PlatformCommand::Create(args) => {
            let platform = pb::Platform {
                display_name: args.name,
                kind: args.kind as i32,
                domains: args.domains,
                ..Default::default()
            };
            let request =
                pb::CreatePlatformRequest { platform: Some(platform), request_id: args.request_id.unwrap_or_default() };
            let created = links(&args.client).await?.create_platform(request).await?.into_inner();
            show_platform(&created, args.client.json);
            Ok(())
        }
        PlatformCommand::Get(args) => {
            let request = pb::GetPlatformRequest { name: platform_named(&args.client, &args.name).await? };
            let platform = links(&args.client).await?.get_platform(request).await?.into_inner();
            show_platform(&platform, args.client.json);
            Ok(())
        }
        PlatformCommand::List(args) => list(args).await,
        PlatformCommand::Contact(command) => super::contact::run(command).await,
        PlatformCommand::Update(args) => update(args).await,
        PlatformCommand::AddDomain(args) => {
            let request = pb::AddPlatformDomainRequest {
                platform: platform_named(&args.client, &args.platform).await?,
                domain: args.domain,
                request_id: args.request_id.unwrap_or_default(),
            };
            let platform = links(&args.client).await?.add_platform_domain(request).await?.into_inner();
            show_platform(&platform, args.client.json);
            Ok(())
        }
        PlatformCommand::RemoveDomain(args) => {
            let request = pb::RemovePlatformDomainRequest {
                platform: platform_named(&args.client, &args.platform).await?,
                domain: args.domain,
                request_id: args.request_id.unwrap_or_default(),
            };
            let platform = links(&args.client).await?.remove_platform_domain(request).await?.into_inner();
            show_platform(&platform, args.client.json);
            Ok(())
        }
    }
}

async fn list(args: ListArgs) -> Result<(), CliError> {
    let request = pb::ListPlatformsRequest {
        page_size: args.page.page_size,
        page_token: String::new(),
        kind: args.kind.map_or(0, i32::from),
    };
    let client = links(&args.client).await?;
    let (platforms, next) =
        pages(&args.page, |page_token| {
            let (mut client, request) = (client.clone(), pb::ListPlatformsRequest { page_token, ..request.clone() });
            async move {
                client.list_platforms(request).await.map(|r| r.into_inner()).map(|p| (p.platforms, p.next_page_token))
            }
        })
        .await?;
    if args.client.json {
        print_json(
            &json!({ "platforms": platforms.iter().map(platform_json).collect::<Vec<_>>(), "next_page_token": next }),
        );
        return Ok(());
    }
    let rows: Vec<Vec<String>> = platforms
        .iter()
        .map(|p| vec![p.name.clone(), p.display_name.clone(), label::<pb::PlatformKind>(p.kind), p.domains.join(",")])
        .collect();
    print_table(&["NAME", "PLATFORM", "KIND", "DOMAINS"], &rows);
    print_more_hint(&next, "platforms");
    Ok(())
}

async fn update(args: UpdateArgs) -> Result<(), CliError> {
    // Only the fields given change; clap has made sure there is at least one.
    let mut paths = Vec::new();
    if args.name.is_some() {
        paths.push("display_name".to_owned());
    }
    if args.kind.is_some() {
        paths.push("kind".to_owned());
    }
    let platform = pb::Platform {
        name: platform_named(&args.client, &args.platform).await?,
        display_name: args.name.unwrap_or_default(),
        kind: args.kind.map_or(0, i32::from),
        ..Default::default()
    };
    let request = pb::UpdatePlatformRequest {
        platform: Some(platform),
        update_mask: Some(prost_types::FieldMask { paths }),
        request_id: args.request_id.unwrap_or_default(),
    };
    let updated = links(&args.client).await?.update_platform(request).await?.into_inner();
    show_platform(&updated, args.client.json);
    Ok(())
}

fn platform_json(p: &pb::Platform) -> serde_json::Value {
    json!({
        "name": p.name,
        "display_name": p.display_name,
        "kind": label::<pb::PlatformKind>(p.kind),
        "domains": p.domains,
        "registry_key": p.registry_key,
        "create_time": time_text(p.create_time.as_ref()),
        "update_time": time_text(p.update_time.as_ref()),
    })
}

fn show_platform(p: &pb::Platform, as_json: bool) {
    if as_json {
        print_json(&platform_json(p));
        return;
    }
    let mut fields = vec![
        ("name", p.name.clone()),
        ("display_name", p.display_name.clone()),
        ("kind", label::<pb::PlatformKind>(p.kind)),
    ];
    fields.extend(p.domains.iter().map(|d| ("domain", d.clone())));
    if !p.registry_key.is_empty() {
        fields.push(("registry_key", p.registry_key.clone()));
    }
    fields.push(("update_time", time_text(p.update_time.as_ref())));
    print_fields(fields);
}
