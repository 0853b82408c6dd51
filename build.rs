//! Rebuilds when a migration changes: they are embedded into the binary
//! with `embed_migrations!`, which cargo cannot see through.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
