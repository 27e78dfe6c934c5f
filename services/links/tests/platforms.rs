//! Platforms, their domains, and the default registry, through gRPC.

mod common;

use common::*;
use doxwatch_kit::testing::TestDatabase;
use doxwatch_proto::links as pb;
use tonic::Code;

backend_tests!(the_registry_is_loaded_once, officers_manage_platforms_and_domains, bad_platform_input_changes_nothing);

async fn the_registry_is_loaded_once(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let mut client = app.client.clone();
    let telegram = platform_named(&mut client, "Telegram").await;
    assert_eq!(telegram.kind, pb::PlatformKind::InstantMessaging as i32);
    assert_eq!(telegram.registry_key, "telegram");
    assert!(telegram.domains.contains(&"t.me".to_owned()));
    let count = client
        .list_platforms(pb::ListPlatformsRequest { page_size: 1000, ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .platforms
        .len();
    assert!(count >= 16, "{count}");

    // An officer's change survives a restart: the registry adds only what is missing.
    client
        .update_platform(pb::UpdatePlatformRequest {
            platform: Some(pb::Platform {
                name: telegram.name.clone(),
                display_name: "Telegram Messenger".into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask { paths: vec!["display_name".into()] }),
            request_id: String::new(),
        })
        .await
        .unwrap();
    app.stop().await;
    let app = spawn_app(&db).await;
    let mut client = app.client.clone();
    let again = client.get_platform(pb::GetPlatformRequest { name: telegram.name.clone() }).await.unwrap().into_inner();
    assert_eq!(again.display_name, "Telegram Messenger");
    let after = client
        .list_platforms(pb::ListPlatformsRequest { page_size: 1000, ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .platforms
        .len();
    assert_eq!(after, count);
    app.stop().await;
}

async fn officers_manage_platforms_and_domains(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let mut client = app.client.clone();
    let created = client
        .create_platform(pb::CreatePlatformRequest {
            platform: Some(pb::Platform {
                display_name: "Golden Forum Mirror".into(),
                kind: pb::PlatformKind::Forum as i32,
                domains: vec!["Mirror.Example.ORG.".into()],
                ..Default::default()
            }),
            request_id: "create-mirror".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.domains, vec!["mirror.example.org"]);

    let added = client
        .add_platform_domain(pb::AddPlatformDomainRequest {
            platform: created.name.clone(),
            domain: "mirror2.example.org".into(),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(added.domains, vec!["mirror.example.org", "mirror2.example.org"]);

    // Only host names: no addresses, wildcards, bad labels or control characters.
    let too_long = format!("{}.org", vec!["a".repeat(63); 4].join("."));
    for bad in ["127.0.0.1", "*.example.com", "exa_mple.com", "abc.com\r\nx", too_long.as_str(), "-x.example.org"] {
        let err = client
            .add_platform_domain(pb::AddPlatformDomainRequest {
                platform: created.name.clone(),
                domain: bad.into(),
                request_id: String::new(),
            })
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&err), vec!["domain".to_owned()], "{bad:?}");
    }
    let unchanged = client.get_platform(pb::GetPlatformRequest { name: created.name.clone() }).await.unwrap();
    assert_eq!(unchanged.into_inner().domains, vec!["mirror.example.org", "mirror2.example.org"]);

    // A domain belongs to one platform at most.
    let err = client
        .add_platform_domain(pb::AddPlatformDomainRequest {
            platform: created.name.clone(),
            domain: "t.me".into(),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    let err = client
        .create_platform(pb::CreatePlatformRequest {
            platform: Some(pb::Platform {
                display_name: "Impostor".into(),
                kind: pb::PlatformKind::Other as i32,
                domains: vec!["youtu.be".into()],
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);

    let removed = client
        .remove_platform_domain(pb::RemovePlatformDomainRequest {
            platform: created.name.clone(),
            domain: "mirror.example.org".into(),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(removed.domains, vec!["mirror2.example.org"]);
    let err = client
        .remove_platform_domain(pb::RemovePlatformDomainRequest {
            platform: created.name.clone(),
            domain: "mirror.example.org".into(),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);

    let classified = client
        .update_platform(pb::UpdatePlatformRequest {
            platform: Some(pb::Platform {
                name: created.name.clone(),
                kind: pb::PlatformKind::Website as i32,
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask { paths: vec!["kind".into()] }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(classified.kind, pb::PlatformKind::Website as i32);
    assert_eq!(classified.display_name, "Golden Forum Mirror");

    let forums = client
        .list_platforms(pb::ListPlatformsRequest { kind: pb::PlatformKind::Website as i32, ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .platforms;
    assert_eq!(forums.len(), 1);
    app.stop().await;
}

async fn bad_platform_input_changes_nothing(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let mut client = app.client.clone();
    let before = client
        .list_platforms(pb::ListPlatformsRequest { page_size: 1000, ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    let err = client
        .create_platform(pb::CreatePlatformRequest {
            platform: Some(pb::Platform {
                display_name: String::new(),
                kind: 0,
                domains: vec!["https://example.com/x".into(), "ok.example.com".into(), "ok.example.com".into()],
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&err),
        vec!["platform.display_name", "platform.kind", "platform.domains[0]", "platform.domains[2]"]
    );
    let err = client
        .update_platform(pb::UpdatePlatformRequest {
            platform: Some(pb::Platform { name: "platforms/x".into(), ..Default::default() }),
            update_mask: Some(prost_types::FieldMask { paths: vec!["domains".into()] }),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), vec!["platform.name", "update_mask.paths[0]"]);
    let after = client
        .list_platforms(pb::ListPlatformsRequest { page_size: 1000, ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(before, after);
    app.stop().await;
}
