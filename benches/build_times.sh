#!/usr/bin/env bash
# Clean build times of this crate and of google-classroom1 (the google-apis-rs generation of the
# same API), in the same run on the same machine, with per-unit times from `cargo --timings`.
#
#   benches/build_times.sh [release|debug]...
#
# Builds, each from an empty target directory, one after the other:
# - a user's program on this crate that lists courses with a token (default features);
# - the same-shaped program on google-classroom1 (default features);
# - `examples/list_courses` here, which also builds the crate's dev-dependencies (syn for the
#   generator's tests, google-classroom1 for the list bench, the sync and emulator crates) and
#   every feature the tests use (`scope-check`, `test-support`, `redis`, `sqlite`, `postgres`).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/gc1/src"
cat > "$work/gc1/Cargo.toml" <<'TOML'
[package]
name = "gc1-list-courses"
version = "0.1.0"
edition = "2021"

[dependencies]
google-classroom1 = "7"
tokio = { version = "1", features = ["rt-multi-thread", "macros"] }
TOML
cat > "$work/gc1/src/main.rs" <<'RS'
use google_classroom1::{hyper_rustls, hyper_util, Classroom};

#[tokio::main]
async fn main() {
    let token = std::env::var("CLASSROOM_TOKEN").unwrap_or_default();
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .unwrap()
        .https_or_http()
        .enable_http2()
        .build();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build(connector);
    let hub = Classroom::new(client, token);
    let mut page_token: Option<String> = None;
    loop {
        let mut call = hub.courses().list().page_size(100);
        if let Some(t) = &page_token {
            call = call.page_token(t);
        }
        match call.doit().await {
            Ok((_, list)) => {
                for c in list.courses.unwrap_or_default() {
                    println!("{}  {}", c.id.unwrap_or_default(), c.name.unwrap_or_default());
                }
                page_token = list.next_page_token;
                if page_token.is_none() {
                    break;
                }
            }
            Err(e) => {
                eprintln!("{e}");
                break;
            }
        }
    }
}
RS

mkdir -p "$work/ours/src"
cat > "$work/ours/Cargo.toml" <<TOML
[package]
name = "classroom-list-courses"
version = "0.1.0"
edition = "2021"

[dependencies]
classroom = { path = "$repo" }
futures = "0.3"
tokio = { version = "1", features = ["rt-multi-thread", "macros"] }
TOML
cat > "$work/ours/src/main.rs" <<'RS'
use futures::TryStreamExt;

#[tokio::main]
async fn main() -> Result<(), classroom::Error> {
    let token = std::env::var("CLASSROOM_TOKEN").unwrap_or_default();
    let classroom = classroom::Classroom::new(classroom::BearerToken::new(token))?;
    let mut courses = std::pin::pin!(classroom.courses().list().page_size(100).items());
    while let Some(c) = courses.try_next().await? {
        println!("{}  {}", c.id.unwrap_or_default(), c.name.unwrap_or_default());
    }
    Ok(())
}
RS

units() { # per-unit seconds from the newest cargo timings report
  python3 - "$1" "$2" <<'PY'
import glob, json, os, re, sys
report = max(glob.glob(sys.argv[1] + "/cargo-timings/cargo-timing-*.html"), key=os.path.getmtime)
data = json.loads(re.search(r"const UNIT_DATA = (\[.*?\]);\n", open(report).read(), re.S).group(1))
for u in data:
    if u["name"] in sys.argv[2].split(","):
        print(f'    {u["name"]} {u["target"].strip() or "lib"}: {u["duration"]:.2f}s')
PY
}

for profile in ${@:-release debug}; do
  flag=$([ "$profile" = release ] && echo --release || true)
  start=$SECONDS
  (cd "$work/ours" && CARGO_TARGET_DIR="$work/ours-$profile" cargo build -q $flag --timings 2>/dev/null)
  ours=$((SECONDS - start))
  start=$SECONDS
  (cd "$work/gc1" && CARGO_TARGET_DIR="$work/gc1-$profile" cargo build -q $flag --timings 2>/dev/null)
  theirs=$((SECONDS - start))
  start=$SECONDS
  (cd "$repo" && CARGO_TARGET_DIR="$work/example-$profile" cargo build -q $flag --example list_courses --timings 2>/dev/null)
  example=$((SECONDS - start))
  echo "$profile (clean, whole graph): program on classroom ${ours}s, same program on google-classroom1 ${theirs}s, examples/list_courses ${example}s"
  units "$work/ours-$profile" classroom,classroom-spec
  units "$work/gc1-$profile" google-classroom1
  units "$work/example-$profile" classroom,classroom-spec
done
# The SDK's generated code (classroom-spec's out directories match the glob too, without
# resources/).
out=$(ls -d "$work"/ours-*/*/build/classroom-*/out/resources 2>/dev/null | head -1)
out=${out%/resources}
[ -n "$out" ] && echo "generated code: $(cat "$out"/*.rs "$out"/resources/*.rs | wc -c) bytes, $(cat "$out"/*.rs "$out"/resources/*.rs | wc -l) lines (test glue included: $(wc -c < "$out/test_cases.rs") bytes)"
