//! Scopes as types: the `ScopeSet` trait, one marker type per scope, and one requirement trait
//! per method, so that a client typed with a static scope set cannot compile a call the set
//! cannot authorize.

use proc_macro2::{Ident, TokenStream};
use quote::quote;

use crate::codegen::discovery::{Document, Method};
use crate::codegen::names::{ident, pascal};
use crate::codegen::scopes::{is_additional, scope_variant};

/// `classroom.courses.create` -> `AuthorizesCoursesCreate`.
pub fn leaf_trait(m: &Method) -> Ident {
    let rest = m.id.split_once('.').map_or(m.id.as_str(), |(_, rest)| rest);
    ident(&format!("Authorizes{}", pascal(rest)))
}

/// The type-level boolean that is `True` when scope set `S` authorizes the method: the set is
/// unrestricted, or holds any one of the method's authorizing scopes.
/// `krate` is the path the generated code reaches the crate by (`crate` or `classroom`).
pub fn requirement(doc: &Document, m: &Method, krate: &TokenStream) -> TokenStream {
    let mut expr = quote!(<S as #krate::scope_check::ScopeSet>::Unrestricted);
    for url in m.scopes.iter().filter(|u| !is_additional(u)) {
        let v = scope_variant(doc, url);
        expr = quote!(<#expr as #krate::scope_check::Bool>::Or<<S as #krate::scope_check::ScopeSet>::#v>);
    }
    expr
}

pub fn scope_check(doc: &Document) -> TokenStream {
    let urls: Vec<&String> = doc.auth.oauth2.scopes.keys().collect();
    let variants: Vec<Ident> = urls.iter().map(|u| scope_variant(doc, u)).collect();
    let scope_docs = urls.iter().map(|u| {
        let text = format!(" The scope `{u}`, as a type for [`Scopes!`](crate::Scopes).");
        quote!(#[doc = #text])
    });
    let set_impls = variants.iter().map(|own| {
        let assoc = variants.iter().map(|v| {
            if v == own {
                quote!(type #v = True;)
            } else {
                quote!(type #v = <T as ScopeSet>::#v;)
            }
        });
        quote! {
            impl<T: ScopeSet> ScopeSet for (scopes::#own, T) {
                type Unrestricted = False;
                #(#assoc)*
                fn scopes() -> ::std::vec::Vec<crate::Scope> {
                    let mut scopes = T::scopes();
                    if !scopes.contains(&crate::Scope::#own) {
                        scopes.insert(0, crate::Scope::#own);
                    }
                    scopes
                }
            }
        }
    });
    let requirements = doc.methods().into_iter().map(|(_, _, m)| {
        let leaf = leaf_trait(m);
        let id = &m.id;
        let accepted: Vec<String> = m
            .scopes
            .iter()
            .filter(|u| !is_additional(u))
            .map(|u| scope_variant(doc, u).to_string())
            .collect();
        let (label, note) = if accepted.is_empty() {
            (
                "no scope authorizes this method on its own".to_string(),
                String::new(),
            )
        } else {
            (
                format!("needs one of these scopes: {}", accepted.join(", ")),
                "add one of them to the client's `Scopes![...]`, and request it when authorizing"
                    .to_string(),
            )
        };
        let message = format!("this client's scope set does not authorize `{id}`");
        let doc_text = format!(" Holds for a scope set that authorizes `{id}`.");
        quote! {
            #[doc = #doc_text]
            #[diagnostic::on_unimplemented(message = #message, label = #label, note = #note)]
            pub trait #leaf {}
            impl #leaf for super::True {}
        }
    });
    quote! {
        /// What a scope set holds, one type-level boolean per scope.
        ///
        /// Implemented by [`Dynamic`] (everything: calls are checked at run time only) and, with
        /// the `scope-check` feature, by the sets the `Scopes!` macro names.
        pub trait ScopeSet: 'static {
            /// `True` for [`Dynamic`]: every method compiles.
            type Unrestricted: Bool;
            #(
                #[doc = concat!(" Whether the set holds `", stringify!(#variants), "`.")]
                type #variants: Bool;
            )*
            /// The scopes in the set, to request when authorizing (empty for [`Dynamic`]).
            fn scopes() -> ::std::vec::Vec<crate::Scope>;
        }

        impl ScopeSet for Dynamic {
            type Unrestricted = True;
            #( type #variants = True; )*
            fn scopes() -> ::std::vec::Vec<crate::Scope> {
                ::std::vec::Vec::new()
            }
        }

        /// One trait per method; only [`True`] implements them, so a bound on one fails to
        /// compile, naming the method, when a client's scope set cannot authorize it.
        pub mod requirements {
            #(#requirements)*
        }

        /// The scopes as types, to name in [`Scopes!`](crate::Scopes).
        #[cfg(feature = "scope-check")]
        #[cfg_attr(docsrs, doc(cfg(feature = "scope-check")))]
        pub mod scopes {
            #( #scope_docs pub struct #variants; )*
        }

        #[cfg(feature = "scope-check")]
        #[cfg_attr(docsrs, doc(cfg(feature = "scope-check")))]
        impl ScopeSet for () {
            type Unrestricted = False;
            #( type #variants = False; )*
            fn scopes() -> ::std::vec::Vec<crate::Scope> {
                ::std::vec::Vec::new()
            }
        }

        #(
            #[cfg(feature = "scope-check")]
            #[cfg_attr(docsrs, doc(cfg(feature = "scope-check")))]
            #set_impls
        )*
    }
}
