//! Every error condition Classroom documents, walked against the emulator.
//!
//! The table comes from the method descriptions of spec/discovery/classroom.v1.json at test time
//! ([`conditions::table`]), so a newer document brings its new conditions. For each condition
//! the API can set up, the walker starts from the method's valid call in a small school of its
//! own, changes it as the condition says (recipes in [`conditions::recipes`]) and checks the
//! answer over HTTP: the status, the canonical status, and, where the documentation names a
//! request error, a message starting with `@Name`. What it cannot set up is listed, by method,
//! with the reason, in emulator/CONDITIONS.md, which this test writes when run with
//! `BLESS=1` and otherwise fails when the file is out of date; so with the counts in
//! emulator/README.md.

mod conditions;
mod http;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use classroom_spec::METHODS;
use conditions::recipes::{Plan, plan};
use conditions::table::{self, Condition};
use conditions::world::{Call, World};

/// Conditions the emulator answers otherwise than documented, while the fix is under way:
/// (method, condition key, why). They are reported, not failed; an entry that matches fails
/// the test, so the list only shrinks.
const KNOWN_MISMATCHES: &[(&str, &str, &str)] = &[];

fn document() -> serde_json::Value {
    serde_json::from_str(classroom_spec::DISCOVERY_DOCUMENT)
        .expect("the discovery document is JSON")
}

/// What the walker made of one condition.
#[derive(Debug)]
enum Outcome {
    Matched,
    Mismatch(String),
    NotSetUp(String),
}

/// Whether an answer is the documented one; if not, what differs.
fn check(c: &Condition, call: &Call, answer: &http::Answer) -> Result<(), String> {
    let message = answer.error_message();
    let named = c
        .name
        .as_ref()
        .is_none_or(|n| message.starts_with(&format!("@{n}")));
    if answer.status == c.http && answer.error_status() == c.status && named {
        return Ok(());
    }
    Err(format!(
        "{} {} as {}: {} {} {:?}",
        call.verb(),
        call.path(),
        call.user,
        answer.status,
        answer.error_status(),
        message
    ))
}

/// Walks the conditions of one method, each case in a school of its own.
fn walk_method(
    method: &'static classroom_spec::MethodInfo,
    conditions: &[Condition],
) -> Vec<Outcome> {
    let world = World::new();
    let valid = world.valid_call(method);
    world.prepare(&valid);
    let answer = world.send(&valid);
    if answer.status != 200 {
        let why = format!(
            "the emulator does not serve the method's valid call ({} {})",
            answer.status,
            answer.error_status()
        );
        return conditions
            .iter()
            .map(|_| Outcome::NotSetUp(why.clone()))
            .collect();
    }
    drop(world);
    conditions
        .iter()
        .map(|c| match plan(c, &valid) {
            Plan::NotModeled(why) => Outcome::NotSetUp(why.to_string()),
            Plan::Cases(cases) => {
                let mut failures = Vec::new();
                for case in cases {
                    let world = World::new();
                    let mut call = world.valid_call(method);
                    world.prepare(&call);
                    case(&world, &mut call);
                    let answer = world.send(&call);
                    if let Err(e) = check(c, &call, &answer) {
                        failures.push(e);
                    }
                }
                if failures.is_empty() {
                    Outcome::Matched
                } else {
                    Outcome::Mismatch(failures.join("; "))
                }
            }
        })
        .collect()
}

/// Every condition with its outcome, in the document's order.
fn walk(conditions: &[Condition]) -> Vec<(Condition, Outcome)> {
    let mut by_method: Vec<(&'static classroom_spec::MethodInfo, Vec<Condition>)> = Vec::new();
    for c in conditions {
        let method = METHODS
            .iter()
            .copied()
            .find(|m| m.id.strip_prefix("classroom.") == Some(c.method.as_str()))
            .unwrap_or_else(|| panic!("the SDK has no method {}", c.method));
        match by_method.iter_mut().find(|(m, _)| m.id == method.id) {
            Some((_, list)) => list.push(c.clone()),
            None => by_method.push((method, vec![c.clone()])),
        }
    }
    // Two threads: the machines this runs on have two cores.
    let (even, odd): (Vec<_>, Vec<_>) = by_method.iter().enumerate().partition(|(i, _)| i % 2 == 0);
    let run = |part: Vec<(
        usize,
        &(&'static classroom_spec::MethodInfo, Vec<Condition>),
    )>| {
        part.into_iter()
            .map(|(i, (m, list))| (i, walk_method(m, list)))
            .collect::<Vec<_>>()
    };
    let mut done = std::thread::scope(|s| {
        let other = s.spawn(|| run(odd));
        let mut mine = run(even);
        mine.extend(other.join().expect("the walker's thread"));
        mine
    });
    done.sort_by_key(|(i, _)| *i);
    done.into_iter()
        .flat_map(|(i, outcomes)| by_method[i].1.clone().into_iter().zip(outcomes))
        .collect()
}

/// The counts as emulator/README.md states them, in its "Documented error conditions"
/// section: three lines, from `- documented:` to `- not set up:`.
fn readme_counts(results: &[(Condition, Outcome)]) -> String {
    let total = results.len();
    let methods: std::collections::BTreeSet<&str> =
        results.iter().map(|(c, _)| c.method.as_str()).collect();
    let matched = results
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Matched))
        .count();
    let known = results
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Mismatch(_)))
        .count();
    format!(
        "- documented: {total} conditions in {} methods;\n- set up and checked: {} ({matched} \
         answered as documented, {known} known mismatches being fixed);\n- not set up: {}, \
         listed by method with the reason in [CONDITIONS.md](CONDITIONS.md).",
        methods.len(),
        matched + known,
        total - matched - known
    )
}

/// The README with its counts lines replaced by `counts`; `None` if it has no such lines.
fn readme_with(readme: &str, counts: &str) -> Option<String> {
    let lines: Vec<&str> = readme.lines().collect();
    let start = lines.iter().position(|l| l.starts_with("- documented: "))?;
    let end = start
        + lines[start..]
            .iter()
            .position(|l| l.starts_with("- not set up: "))?;
    let mut out: Vec<&str> = lines[..start].to_vec();
    out.extend(counts.lines());
    out.extend(&lines[end + 1..]);
    Some(out.join("\n") + "\n")
}

/// The generated list of what the emulator leaves out.
fn render(results: &[(Condition, Outcome)]) -> String {
    let total = results.len();
    let matched = results
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Matched))
        .count();
    let known = results
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Mismatch(_)))
        .count();
    let not_set_up = total - matched - known;
    let mut out = String::new();
    let _ = writeln!(out, "# Documented error conditions\n");
    let _ = writeln!(
        out,
        "Generated by `cargo test -p classroom-emulator --test documented_conditions` from the \
         method descriptions of `spec/discovery/classroom.v1.json`; `BLESS=1` rewrites it. Do not \
         edit.\n"
    );
    let _ = writeln!(
        out,
        "- Conditions documented: {total}\n- Set up and checked: {} ({matched} answered as \
         documented, {known} known mismatches being fixed)\n- Not set up: {not_set_up}\n",
        matched + known
    );
    let _ = writeln!(
        out,
        "## Not set up\n\nWhat the emulator cannot be brought into, by method, and why. This \
         list only shrinks.\n"
    );
    let mut by_method: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (c, o) in results {
        if let Outcome::NotSetUp(why) = o {
            by_method
                .entry(&c.method)
                .or_default()
                .push(format!("- {}: {why}", c.key()));
        }
    }
    for (method, lines) in &by_method {
        let _ = writeln!(out, "### `{method}`\n\n{}\n", lines.join("\n"));
    }
    if known > 0 {
        let _ = writeln!(out, "## Known mismatches\n");
        for (c, o) in results {
            if let Outcome::Mismatch(_) = o {
                let why = KNOWN_MISMATCHES
                    .iter()
                    .find(|(m, k, _)| *m == c.method && *k == c.key())
                    .map_or("", |(_, _, w)| w);
                let _ = writeln!(out, "- `{}` {}: {why}", c.method, c.key());
            }
        }
        out.push('\n');
    }
    out.trim_end().to_string() + "\n"
}

#[test]
fn every_documented_condition_the_api_can_set_up_is_answered_as_documented() {
    let conditions = table::table(&document());
    assert!(
        conditions.len() > 400,
        "the document lists about 450 conditions; the parser found {}",
        conditions.len()
    );
    let results = walk(&conditions);
    let mut failures = Vec::new();
    for (c, outcome) in &results {
        let known = KNOWN_MISMATCHES
            .iter()
            .any(|(m, k, _)| *m == c.method && *k == c.key());
        match outcome {
            Outcome::Mismatch(e) if !known => {
                failures.push(format!("{} {}: {e}", c.method, c.key()))
            }
            Outcome::Matched if known => failures.push(format!(
                "{} {}: now answered as documented; remove it from KNOWN_MISMATCHES",
                c.method,
                c.key()
            )),
            Outcome::NotSetUp(_) if known => failures.push(format!(
                "{} {}: in KNOWN_MISMATCHES but not set up",
                c.method,
                c.key()
            )),
            _ => {}
        }
    }
    for (m, k, _) in KNOWN_MISMATCHES {
        if !results.iter().any(|(c, _)| c.method == *m && c.key() == *k) {
            failures.push(format!("{m} {k}: in KNOWN_MISMATCHES but not documented"));
        }
    }
    let rendered = render(&results);
    // The report: how many documented conditions are covered.
    let counts: Vec<&str> = rendered
        .lines()
        .filter(|l| {
            ["- Conditions", "- Set up", "- Not set up"]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .collect();
    eprintln!("{}", counts.join("\n"));
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = dir.join("CONDITIONS.md");
    // The README states the counts too: BLESS rewrites its lines, else they must match.
    let readme_path = dir.join("README.md");
    let readme = std::fs::read_to_string(&readme_path).expect("emulator/README.md is read");
    let counts = readme_counts(&results);
    let blessed_readme = readme_with(&readme, &counts)
        .expect("emulator/README.md states the counts in lines `- documented:` to `- not set up:`");
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&path, &rendered).expect("CONDITIONS.md is written");
        std::fs::write(&readme_path, &blessed_readme).expect("README.md is written");
    } else {
        if std::fs::read_to_string(&path).ok().as_deref() != Some(rendered.as_str()) {
            failures.push(
                "emulator/CONDITIONS.md is out of date: run the test with BLESS=1 and commit it"
                    .to_string(),
            );
        }
        if !readme.contains(&counts) {
            failures.push(format!(
                "emulator/README.md's counts are out of date: run the test with BLESS=1 and \
                 commit it; they are\n{counts}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} documented conditions answered otherwise than documented:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
