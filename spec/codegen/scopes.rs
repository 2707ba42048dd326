//! OAuth scopes -> the `Scope` enum.

use proc_macro2::{Ident, TokenStream};
use quote::quote;

use crate::codegen::discovery::Document;
use crate::codegen::docs::{doc, escape};
use crate::codegen::names::{ident, pascal};

/// Scopes that widen responses but never authorize a call (Classroom's authorization guide),
/// even where the discovery document lists them for a method.
const ADDITIONAL: [&str; 2] = ["classroom.profile.emails", "classroom.profile.photos"];

pub fn is_additional(url: &str) -> bool {
    ADDITIONAL.iter().any(|a| url.ends_with(&format!("/{a}")))
}

/// `https://www.googleapis.com/auth/classroom.courses.readonly` -> `CoursesReadonly`.
pub fn scope_variant(doc_: &Document, url: &str) -> Ident {
    let short = url.rsplit('/').next().unwrap_or(url);
    let short = short
        .strip_prefix(&format!("{}.", doc_.name))
        .unwrap_or(short);
    ident(&pascal(short))
}

pub fn scopes(doc_: &Document) -> TokenStream {
    let entries: Vec<_> = doc_.auth.oauth2.scopes.iter().collect();
    let variants: Vec<_> = entries
        .iter()
        .map(|(url, _)| scope_variant(doc_, url))
        .collect();
    let urls: Vec<_> = entries.iter().map(|(url, _)| url.as_str()).collect();
    let descriptions: Vec<_> = entries
        .iter()
        .map(|(_, info)| info.description.as_str())
        .collect();
    let docs = entries
        .iter()
        .map(|(url, info)| doc(&format!("{}\n\n`{url}`", escape(&info.description))));
    let count = proc_macro2::Literal::usize_unsuffixed(entries.len());
    let additional: Vec<_> = entries
        .iter()
        .filter(|(url, _)| is_additional(url))
        .map(|(url, _)| scope_variant(doc_, url))
        .collect();
    let is_additional = if additional.is_empty() {
        quote!(false)
    } else {
        quote!(::std::matches!(self, #(Scope::#additional)|*))
    };
    quote! {
        /// An OAuth 2.0 scope of the API, as listed by the discovery document.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Scope {
            #( #docs #variants, )*
        }

        impl Scope {
            /// Every scope the API defines.
            pub const ALL: [Scope; #count] = [#(Scope::#variants),*];

            /// The scope's URL, as requested from and granted by the authorization server.
            pub const fn url(self) -> &'static str {
                match self {
                    #( Scope::#variants => #urls, )*
                }
            }

            /// What the scope allows, as shown on Google's consent screen.
            pub const fn description(self) -> &'static str {
                match self {
                    #( Scope::#variants => #descriptions, )*
                }
            }

            /// Whether this is an additional scope (`classroom.profile.emails`,
            /// `classroom.profile.photos`): one that adds data to responses but, per Classroom's
            /// authorization guide, never authorizes a call on its own, even where the discovery
            /// document lists it for a method.
            pub const fn is_additional(self) -> bool {
                #is_additional
            }

            /// The scope with this URL, if the API defines one.
            pub fn from_url(url: &str) -> ::std::option::Option<Scope> {
                match url {
                    #( #urls => ::std::option::Option::Some(Scope::#variants), )*
                    _ => ::std::option::Option::None,
                }
            }
        }
    }
}
