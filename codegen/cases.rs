//! Test glue: for every method, a call through the public builder API with every optional
//! parameter set by a fixed rule; for every schema, a JSON round trip through its Rust type.
//!
//! Only the tests include this file (`tests/methods.rs`, `tests/models.rs`). They derive what the
//! server must receive from the discovery document itself, by the same value rule, so a
//! generator that drops, renames or misencodes anything fails them.

use proc_macro2::TokenStream;
use quote::quote;

use crate::codegen::discovery::{Document, Parameter};
use crate::codegen::methods::field_ident;
use crate::codegen::names::{ident, pascal, snake};

/// The sample value the rule gives an optional query parameter, as Rust expressions (one per
/// value; repeated parameters get two).
fn sample_values(name: &str, p: &Parameter) -> Vec<TokenStream> {
    if !p.enum_.is_empty() {
        let picks: Vec<&String> = p
            .enum_
            .iter()
            .skip(1)
            .take(if p.repeated { 2 } else { 1 })
            .collect();
        return picks
            .into_iter()
            .map(|v| quote!(::std::convert::From::from(#v)))
            .collect();
    }
    let one = match (p.type_.as_deref().unwrap_or("string"), p.format.as_deref()) {
        ("string", Some("google-fieldmask")) => quote!(classroom::FieldMask::from("a,b.c")),
        ("integer", _) => quote!(7),
        ("number", _) => quote!(2.5),
        ("boolean", _) => quote!(true),
        _ => {
            let v = format!("v {name}&=/é");
            quote!(#v)
        }
    };
    if p.repeated {
        vec![one.clone(), one]
    } else {
        vec![one]
    }
}

pub fn cases(doc: &Document) -> TokenStream {
    let methods = doc.methods().into_iter().map(|(path, name, m)| {
        let accessors = path.iter().map(|r| ident(&snake(r)));
        let call = ident(&snake(name));
        let positional = m.parameter_order.iter().map(|p| {
            let v = format!("{p} /?#%é");
            quote!(#v)
        });
        let takes_body = m
            .request
            .as_ref()
            .and_then(|r| doc.schemas.get(&r.ref_))
            .is_some_and(|s| !s.properties.is_empty());
        let body = takes_body
            .then(|| quote!(serde_json::from_value(body).expect("the sample body decodes")));
        let setters = m
            .parameters
            .iter()
            .filter(|(n, p)| p.location == "query" && !m.parameter_order.contains(n))
            .map(|(n, p)| {
                let setter = field_ident(n);
                let values = sample_values(n, p);
                if p.repeated {
                    quote!(.#setter([#(#values),*]))
                } else {
                    quote!(.#setter(#(#values)*))
                }
            });
        let id = &m.id;
        quote! {
            MethodCase {
                id: #id,
                call: |client, body| {
                    let _ = &body;
                    Box::pin(async move {
                        let response = client
                            #(.#accessors())*
                            .#call(#(#positional,)* #body)
                            #(#setters)*
                            .with_fields("*")
                            .with_quota_user("quota user")
                            .send()
                            .await?;
                        Ok(serde_json::to_value(response).expect("responses serialize"))
                    })
                },
            }
        }
    });
    let schemas = doc.schemas.keys().map(|name| {
        let ty = ident(&pascal(name));
        quote! {
            SchemaCase {
                name: #name,
                round_trip: |value| {
                    let typed: classroom::models::#ty = serde_json::from_value(value).map_err(|e| e.to_string())?;
                    serde_json::to_value(&typed).map_err(|e| e.to_string())
                },
            }
        }
    });
    let scope_types: Vec<_> = doc
        .auth
        .oauth2
        .scopes
        .keys()
        .map(|u| crate::codegen::scopes::scope_variant(doc, u))
        .collect();
    let scope_cases = doc.methods().into_iter().map(|(path, name, m)| {
        let modules = path.iter().map(|r| ident(&snake(r)));
        let builder = ident(&pascal(name));
        let requirement = crate::codegen::scope_check::requirement(doc, m, &quote!(classroom));
        quote! {
            {
                fn authorized<S: classroom::scope_check::ScopeSet>() -> bool {
                    <#requirement as classroom::scope_check::Bool>::VALUE
                }
                ScopeCase {
                    method: &classroom::resources::#(#modules)::*::#builder::METHOD,
                    dynamic: authorized::<classroom::scope_check::Dynamic>(),
                    empty: authorized::<()>(),
                    single: vec![#(
                        (classroom::Scope::#scope_types, authorized::<classroom::Scopes![#scope_types]>())
                    ),*],
                }
            }
        }
    });
    quote! {
        /// For every method, whether its compile-time requirement holds for the dynamic set,
        /// the empty set, and each one-scope set.
        pub fn scope_cases() -> Vec<ScopeCase> {
            vec![#(#scope_cases),*]
        }

        /// One call per method of the document.
        pub fn method_cases() -> Vec<MethodCase> {
            vec![#(#methods),*]
        }

        /// One round trip per schema of the document.
        pub fn schema_cases() -> Vec<SchemaCase> {
            vec![#(#schemas),*]
        }
    }
}
