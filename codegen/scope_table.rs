//! The method and scope tables of the `resources` module's documentation, as Markdown: every
//! method with the scopes that authorize it, and every scope with the methods it authorizes.
//!
//! `src/resources.rs` includes the file (`#![doc = include_str!(...)]`), so the tables come
//! from the same document as the code and cannot drift from it.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::codegen::discovery::{Document, Resource};
use crate::codegen::methods::field_ident;
use crate::codegen::names::{pascal, snake};
use crate::codegen::scopes::{is_additional, scope_variant};

/// One method: its id, verb, rustdoc path of its builder (relative to `resources`), scopes.
struct Row<'a> {
    id: &'a str,
    http_method: &'a str,
    call: String,
    builder: String,
    scopes: &'a [String],
}

pub fn scope_table(doc: &Document) -> String {
    let mut rows = Vec::new();
    for (name, resource) in &doc.resources {
        collect(doc, &[name.as_str()], resource, &mut rows);
    }
    let mut out = String::new();
    out.push_str("\n\n# Methods and the scopes that authorize them\n\n");
    out.push_str(
        "Generated from the discovery document. Holding any one of a method's scopes authorizes \
         it, except the additional scopes (marked *additional*), which widen what a call returns \
         and never authorize it on their own. The check runs before sending \
         ([`Error::MissingScope`](crate::Error::MissingScope)) and, with the `scope-check` \
         feature, at compile time ([`scope_check`](crate::scope_check)).\n\n",
    );
    out.push_str("| Method | Call | Scopes (any one) |\n|---|---|---|\n");
    for row in &rows {
        let scopes: Vec<String> = row.scopes.iter().map(|u| scope_link(doc, u)).collect();
        let scopes = if scopes.is_empty() {
            "none listed".to_string()
        } else {
            scopes.join(", ")
        };
        let _ = writeln!(
            out,
            "| [`{}`]({}) | `{} {}` | {} |",
            row.id, row.builder, row.http_method, row.call, scopes
        );
    }

    out.push_str("\n# Scopes and the methods they authorize\n\n");
    out.push_str(
        "Request the narrowest scopes that cover your calls: a read-only job needs no write \
         scope, and a consent screen that asks for less is accepted more often.\n\n",
    );
    out.push_str("| Scope | Authorizes |\n|---|---|\n");
    let mut by_scope: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for url in doc.auth.oauth2.scopes.keys() {
        by_scope.entry(url).or_default();
    }
    for row in &rows {
        for url in row.scopes {
            by_scope.entry(url).or_default().push(row.id);
        }
    }
    for (url, ids) in by_scope {
        let methods = if is_additional(url) {
            format!(
                "no method on its own; widens the replies of {} methods",
                ids.len()
            )
        } else if ids.is_empty() {
            "no method of this API".to_string()
        } else {
            let ids: Vec<String> = ids.iter().map(|id| format!("`{id}`")).collect();
            format!("{} methods: {}", ids.len(), ids.join(", "))
        };
        let _ = writeln!(out, "| {} | {} |", scope_link(doc, url), methods);
    }
    out
}

fn collect<'a>(doc: &Document, path: &[&'a str], resource: &'a Resource, rows: &mut Vec<Row<'a>>) {
    let modules: Vec<String> = path.iter().map(|p| snake(p)).collect();
    let handles: Vec<String> = modules.iter().map(|m| format!("{m}()")).collect();
    for (name, method) in &resource.methods {
        // The handle method's arguments, as `methods` generates them: the document's parameter
        // order, then any other required parameter, then the body when it has fields.
        let mut params: Vec<&str> = method
            .parameter_order
            .iter()
            .map(String::as_str)
            .filter(|p| method.parameters.contains_key(*p))
            .collect();
        for (p, spec) in &method.parameters {
            if spec.required && !params.contains(&p.as_str()) {
                params.push(p);
            }
        }
        let mut params: Vec<String> = params.iter().map(|p| field_ident(p).to_string()).collect();
        let body = method
            .request
            .as_ref()
            .and_then(|r| doc.schemas.get(&r.ref_));
        if body.is_some_and(|s| !s.properties.is_empty()) {
            params.push("request".to_string());
        }
        rows.push(Row {
            id: &method.id,
            http_method: &method.http_method,
            call: format!(
                "{}.{}({})",
                handles.join("."),
                snake(name),
                params.join(", ")
            ),
            builder: format!("{}::{}", modules.join("::"), pascal(name)),
            scopes: &method.scopes,
        });
    }
    for (child, child_resource) in &resource.resources {
        let mut child_path = path.to_vec();
        child_path.push(child);
        collect(doc, &child_path, child_resource, rows);
    }
}

/// `[`CoursesReadonly`](crate::Scope::CoursesReadonly)`, marked when additional.
fn scope_link(doc: &Document, url: &str) -> String {
    let variant = scope_variant(doc, url);
    let link = format!("[`{variant}`](crate::Scope::{variant})");
    if is_additional(url) {
        format!("{link} (*additional*)")
    } else {
        link
    }
}
