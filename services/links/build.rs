//! `sqlx::migrate!` embeds the migrations at compile time; a migration added or edited must
//! rebuild the crate, which cargo only knows to do when told.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
