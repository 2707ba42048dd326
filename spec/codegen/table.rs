//! Methods -> `METHODS`: every method's id, HTTP verb, path template and scopes.

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use crate::codegen::discovery::{Document, Method};
use crate::codegen::names::{ident, pascal};
use crate::codegen::scopes::scope_variant;

/// A method's `MethodInfo` as a constant expression. `crate::MethodInfo`, `crate::HttpMethod`
/// and `crate::Scope` name the types: in `classroom-spec` they are its own, in the SDK its
/// re-exports of them.
pub fn method_info(doc: &Document, m: &Method) -> TokenStream {
    let id = &m.id;
    let http = ident(&pascal(&m.http_method.to_ascii_lowercase()));
    let path = &m.path;
    let scopes = m.scopes.iter().map(|s| scope_variant(doc, s));
    quote! {
        crate::MethodInfo {
            id: #id,
            http_method: crate::HttpMethod::#http,
            path: #path,
            scopes: &[#(crate::Scope::#scopes),*],
        }
    }
}

/// `METHODS`, in the order of [`Document::methods`].
pub fn table(doc: &Document) -> TokenStream {
    let methods = doc.methods();
    let count = Literal::usize_unsuffixed(methods.len());
    let entries = methods.iter().map(|(_, _, m)| method_info(doc, m));
    quote! {
        /// Every method of the API, in resource order.
        pub const METHODS: &[&crate::MethodInfo; #count] = &[ #(&#entries),* ];
    }
}
