// `sqlx::migrate!` embeds the migration files; rebuild when one is added, not only when one
// already embedded changes.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
