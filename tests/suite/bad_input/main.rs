//! Every bad input refused, everywhere: the table of `docs/bad-input.md` walked against every
//! mutating RPC of the four services (and the List and statistics RPCs for page tokens, page
//! sizes, filters and moments), each call checked for its code, its `ErrorInfo.reason` and the
//! field its `BadRequest` names, and every store compared row by row before and after. The
//! document's table is the one the walk makes, so the two cannot drift apart.

mod fixture;
mod intake;
mod liaison;
mod links;
mod lists;
mod referral;
mod rows;
mod statistics;
mod store;
mod walk;

use doxwatch_kit::backend_tests;
use doxwatch_suite_tests::{Suite, SuiteStores};

backend_tests!(every_bad_input_is_refused_and_changes_nothing);

async fn every_bad_input_is_refused_and_changes_nothing(stores: SuiteStores) {
    let suite = Suite::start(&stores).await;
    let clients = fixture::Clients::new(&suite);
    let mut walk = walk::Walk::new(store::Stores::open(&stores).await);
    let fixture = fixture::Fixture::make(&clients, &mut walk).await;
    fixture::quiet(&suite).await;
    walk.settle().await;

    intake::walk(&mut walk, &clients, &fixture).await;
    links::walk(&mut walk, &clients, &fixture).await;
    liaison::walk(&mut walk, &clients, &fixture).await;
    referral::walk(&mut walk, &clients, &fixture).await;
    lists::walk(&mut walk, &clients, &fixture).await;
    statistics::walk(&mut walk, &clients, &fixture).await;

    // An effect a refused call had put in an outbox would reach its peer later: wait for every
    // outbox to be empty and compare once more.
    fixture::quiet(&suite).await;
    walk.unchanged("the walk, once every outbox had drained").await;
    eprintln!("{} bad inputs walked on {}", walk.calls(), stores.intake.backend());

    // The control: one good call, which the comparison must see.
    let note = doxwatch_proto::intake::AddCaseNoteRequest {
        name: fixture.case.clone(),
        note: "the control".into(),
        ..Default::default()
    };
    clients.intake.clone().add_case_note(note).await.expect("a good note");
    assert!(walk.store_changed().await, "the comparison of the stores sees a good call's note");
    let document = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/bad-input.md"))
        .expect("docs/bad-input.md");
    suite.stop().await;
    walk.finish(&document);
}
