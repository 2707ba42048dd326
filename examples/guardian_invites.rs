//! Invites guardians from a CSV of (student email, guardian email), one outcome per row,
//! stopping when the daily invitation quota is spent.
//!
//! ```text
//! cargo run --example guardian_invites
//! cargo run --example guardian_invites -- guardians.csv --service-account key.json --subject admin@school.edu
//! ```

mod common;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use classroom::models::GuardianInvitation;
use classroom::{ClassroomReason, RateLimit, Scope};
use classroom_emulator::Quotas;
use common::{Auth, BoxError, text};

/// Invites guardians (parents) to receive email summaries of their students' work.
///
/// Reads a CSV with a student's email (or user id) and a guardian's email on each row; a
/// header row is allowed. Writes one CSV row per input row to stdout: row (its line in the
/// file), student, guardian, outcome, detail. The outcomes:
///
///   invited          an invitation email was sent
///   already invited  a pending invitation exists, or the guardian is linked already
///   failed           the detail says why (no such student, guardians off for the domain, ...)
///   not sent         the inviting user's daily invitation quota is spent
///                    (@UserInvitationQuotaExhausted): run the same file again tomorrow;
///                    rows done today will then say "already invited"
///
/// The exit status is 0 when every row was invited or already invited, 3 when some failed or
/// were not sent (their rows say why), 1 when the run itself failed.
///
/// With no credentials it invites a built-in list on a local emulator whose daily
/// invitation quota is 3 per user, to show every outcome. For a real domain, act as a
/// domain admin (or a teacher of the students, where the domain allows). Scope used:
/// classroom.guardianlinks.students.
#[derive(Parser, Debug)]
#[command(name = "guardian_invites", version, verbatim_doc_comment)]
struct Args {
    /// The CSV file (student_email,guardian_email); `-` reads stdin. Required with credentials
    #[arg(value_name = "CSV")]
    csv: Option<PathBuf>,

    #[command(flatten)]
    auth: Auth,
}

/// The built-in list for the emulator's demo school.
const DEMO_CSV: &str = "\
student_email,guardian_email
grace.hopper@school.example,pat.hopper@family.example
katherine.johnson@school.example,sam.johnson@family.example
edsger.dijkstra@school.example,ria.dijkstra@family.example
nobody@school.example,someone@family.example
barbara.liskov@school.example,jo.liskov@family.example
donald.knuth@school.example,jill.knuth@family.example
margaret.hamilton@school.example,lou.hamilton@family.example
margaret.hamilton@school.example,kim.hamilton@family.example
";

fn main() -> ExitCode {
    common::run(run(Args::parse()))
}

/// The exit status when some rows failed or were not sent.
const SOME_ROWS_NOT_INVITED: u8 = 3;

async fn run(args: Args) -> Result<ExitCode, BoxError> {
    let target = args.auth.target(&[Scope::GuardianlinksStudents], |e| {
        e.quotas(Quotas::none().daily_invitations_per_user(3))
    })?;
    let input: Box<dyn std::io::Read> = match &args.csv {
        Some(path) if path.as_os_str() == "-" => Box::new(std::io::stdin().lock()),
        Some(path) => Box::new(
            std::fs::File::open(path)
                .map_err(|e| format!("cannot open {}: {e}", path.display()))?,
        ),
        None if target.is_emulator(&args.auth) => Box::new(DEMO_CSV.as_bytes()),
        None => return Err("give the CSV file to read (student_email,guardian_email)".into()),
    };
    // Read whole (a list of invitations is small), so that each row's line can be counted.
    let mut input = input;
    let mut file = Vec::new();
    std::io::Read::read_to_end(&mut input, &mut file)?;
    // Classroom's per-minute quotas, so a long file is paced instead of refused.
    let classroom = target.builder.rate_limit(RateLimit::classroom()).build()?;

    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .from_reader(file.as_slice());
    let mut out = csv::Writer::from_writer(std::io::stdout().lock());
    out.write_record(["row", "student", "guardian", "outcome", "detail"])?;
    let mut quota_spent: Option<String> = None;
    let mut counts = [0usize; 4]; // invited, already invited, failed, not sent
    for (index, record) in reader.records().enumerate() {
        let record = record?;
        // The row's line in the file, as an editor numbers it: comments and blank lines count.
        let row = line_of(&file, record.position().map_or(0, |p| p.byte() as usize));
        let student = record.get(0).unwrap_or_default();
        let guardian = record.get(1).unwrap_or_default();
        if index == 0 && record.len() >= 2 && !student.contains('@') && !guardian.contains('@') {
            continue; // a header
        }
        let (outcome, detail) = if record.len() < 2 {
            // Every row gets an outcome: one that is not two comma-separated columns fails
            // and says so, rather than being taken for a header or skipped.
            let separator = [(';', "a semicolon"), ('\t', "a tab"), ('|', "a bar")]
                .into_iter()
                .find(|&(c, _)| student.contains(c))
                .map(|(_, name)| format!(" (is {name} the separator? use commas)"))
                .unwrap_or_default();
            (
                2,
                format!(
                    "expected two columns separated by a comma, student and guardian; this row \
                     has one{separator}"
                ),
            )
        } else if student.is_empty() || guardian.is_empty() {
            (
                2,
                "the row needs a student email (or id) and a guardian email".to_string(),
            )
        } else if let Some(reason) = &quota_spent {
            (3, reason.clone())
        } else {
            let invitation = GuardianInvitation {
                student_id: Some(student.to_string()),
                invited_email_address: Some(guardian.to_string()),
                ..Default::default()
            };
            let sent = classroom
                .user_profiles()
                .guardian_invitations()
                .create(student, invitation)
                .send()
                .await;
            match sent {
                Ok(invitation) => (0, format!("invitation {}", text(&invitation.invitation_id))),
                Err(e) if e.is_already_exists() => {
                    (1, e.api().map(|a| a.message.clone()).unwrap_or_default())
                }
                Err(e)
                    if e.api().and_then(|a| a.classroom_reason.as_ref())
                        == Some(&ClassroomReason::UserInvitationQuotaExhausted) =>
                {
                    let reason = "the daily invitation quota is spent; run the file again tomorrow"
                        .to_string();
                    quota_spent = Some(reason.clone());
                    (3, reason)
                }
                Err(e) => (2, e.to_string()),
            }
        };
        counts[outcome] += 1;
        let outcome = ["invited", "already invited", "failed", "not sent"][outcome];
        out.write_record([&row.to_string(), student, guardian, outcome, &detail])?;
        out.flush()?;
    }
    let [invited, already, failed, not_sent] = counts;
    eprintln!("{invited} invited, {already} already invited, {failed} failed, {not_sent} not sent");
    Ok(if failed + not_sent > 0 {
        ExitCode::from(SOME_ROWS_NOT_INVITED)
    } else {
        ExitCode::SUCCESS
    })
}

/// The line (from 1) of the record the CSV reader places at byte `start`: the reader places a
/// record where it began reading it, before the blank lines and comments that precede it.
fn line_of(file: &[u8], start: usize) -> usize {
    let mut at = start.min(file.len());
    let mut line = 1 + file[..at].iter().filter(|&&b| b == b'\n').count();
    while let Some(end) = file[at..].iter().position(|&b| b == b'\n').map(|n| at + n) {
        let text = file[at..end].trim_ascii();
        if !text.is_empty() && !text.starts_with(b"#") {
            break;
        }
        at = end + 1;
        line += 1;
    }
    line
}
