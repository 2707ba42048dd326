//! Lists courses as a table.
//!
//! ```text
//! CLASSROOM_TOKEN=ya29... cargo run --example list_courses
//! CLASSROOM_ROOT_URL=http://127.0.0.1:8080/ CLASSROOM_TOKEN=t cargo run --example list_courses
//! ```

use classroom::models::Course;
use classroom::{BearerToken, Classroom};
use futures::TryStreamExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Ok(token) = std::env::var("CLASSROOM_TOKEN") else {
        eprintln!(
            "set CLASSROOM_TOKEN to an access token (and CLASSROOM_ROOT_URL for another server)"
        );
        std::process::exit(2);
    };
    let mut builder = Classroom::builder().credentials(BearerToken::new(token));
    if let Ok(root) = std::env::var("CLASSROOM_ROOT_URL") {
        builder = builder.root_url(root);
    }
    let classroom = builder.build()?;
    let courses: Vec<Course> = classroom
        .courses()
        .list()
        .page_size(100)
        .items()
        .try_collect()
        .await?;
    print_table(&courses);
    Ok(())
}

fn print_table(courses: &[Course]) {
    let rows: Vec<[String; 4]> = courses
        .iter()
        .map(|c| {
            let text = |v: &Option<String>| v.clone().unwrap_or_default();
            let state = c
                .course_state
                .as_ref()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default();
            [text(&c.id), text(&c.name), text(&c.section), state]
        })
        .collect();
    let header = ["ID", "NAME", "SECTION", "STATE"].map(String::from);
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        println!("{}", cells.join("  ").trim_end());
    }
    println!("{} course(s)", courses.len());
}
