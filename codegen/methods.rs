//! Resources -> one module per resource, with a handle type and one request builder per method.

use std::collections::BTreeMap;

use proc_macro2::TokenStream;
use quote::quote;

use crate::codegen::discovery::{Document, Method, Parameter, Resource};
use crate::codegen::docs::{doc, escape, paragraphs};
use crate::codegen::names::{ident, pascal, snake};
use crate::codegen::types::Types;

/// Names a builder's own fields use; parameters with these names get a suffix.
const RESERVED: &[&str] = &["client", "options", "request"];

/// The prefix of the per-call option setters (`with_retry`, `with_fields`, ...); a parameter
/// whose name starts with it gets another, so the two namespaces never meet.
const OPTIONS_PREFIX: &str = "with_";

/// One generated module per resource, keyed by its file name, plus the root module that
/// declares them.
pub fn resources(doc: &Document, types: &Types) -> (TokenStream, Vec<(String, TokenStream)>) {
    let mut files = Vec::new();
    let mut accessors = Vec::new();
    let mut decls = Vec::new();
    let mut pages = BTreeMap::new();
    for (name, resource) in &doc.resources {
        let path = vec![name.as_str()];
        resource_module(doc, types, &path, resource, &mut files, &mut pages);
        decls.push(module_decl(&path));
        accessors.push(accessor(name, &path));
    }
    let root_url = format!("{}{}", doc.root_url, doc.service_path);
    let revision = &doc.revision;
    let batch_path = doc.batch_path.as_deref().unwrap_or("batch");
    let pages = pages.values();
    let root = quote! {
        /// The API's root URL, from the discovery document.
        pub const DEFAULT_ROOT_URL: &str = #root_url;

        /// The revision of the discovery document this SDK was generated from.
        pub const REVISION: &str = #revision;

        /// Where batch requests go, relative to the root URL.
        pub const BATCH_PATH: &str = #batch_path;

        #(#decls)*

        impl<S: crate::scope_check::ScopeSet> crate::Classroom<S> {
            #(#accessors)*
        }

        #(#pages)*
    };
    (root, files)
}

fn file_name(path: &[&str]) -> String {
    let parts: Vec<String> = path.iter().map(|p| snake(p)).collect();
    format!("resources/{}.rs", parts.join("."))
}

fn module_decl(path: &[&str]) -> TokenStream {
    let module = ident(&snake(path.last().unwrap()));
    let file = file_name(path);
    let dotted = path.join(".");
    let text = format!("The `{dotted}` resource: its request builders and nested resources.");
    let docs = doc(&text);
    quote! {
        #docs
        pub mod #module {
            include!(concat!(env!("OUT_DIR"), "/", #file));
        }
    }
}

/// The method that reaches a resource's handle: on `Classroom` (the root) or on the parent's handle.
fn accessor(name: &str, path: &[&str]) -> TokenStream {
    let module = ident(&snake(name));
    let handle = ident(&format!("{}Resource", pascal(name)));
    let dotted = path.join(".");
    let docs = doc(&format!("Calls on the `{dotted}` resource."));
    let client = if path.len() == 1 {
        quote!(self)
    } else {
        quote!(&self.client)
    };
    quote! {
        #docs
        pub fn #module(&self) -> #module::#handle<S> {
            #module::#handle { client: ::std::clone::Clone::clone(#client) }
        }
    }
}

fn resource_module(
    doc_: &Document,
    types: &Types,
    path: &[&str],
    resource: &Resource,
    files: &mut Vec<(String, TokenStream)>,
    pages: &mut BTreeMap<String, TokenStream>,
) {
    let name = path.last().unwrap();
    let handle = ident(&format!("{}Resource", pascal(name)));
    let dotted = path.join(".");
    let handle_doc = doc(&format!(
        "Calls on the `{dotted}` resource; reached from [`Classroom`](crate::Classroom) by the resource path.\n\n\
         `S` is the client's scope set: a method the set cannot authorize does not compile (see \
         [`scope_check`](crate::scope_check))."
    ));
    let mut handle_methods = Vec::new();
    let mut builders = Vec::new();
    for (method_name, method) in &resource.methods {
        let (h, b) = method_code(doc_, types, method_name, method, pages);
        handle_methods.push(h);
        builders.push(b);
    }
    let mut children = Vec::new();
    for (child, child_resource) in &resource.resources {
        let mut child_path = path.to_vec();
        child_path.push(child);
        resource_module(doc_, types, &child_path, child_resource, files, pages);
        children.push(module_decl(&child_path));
        handle_methods.push(accessor(child, &child_path));
    }
    let code = quote! {
        #handle_doc
        #[derive(Clone, Debug)]
        pub struct #handle<S = crate::scope_check::Dynamic> {
            pub(crate) client: crate::Classroom<S>,
        }

        impl<S: crate::scope_check::ScopeSet> #handle<S> {
            #(#handle_methods)*
        }

        #(#builders)*

        #(#children)*
    };
    files.push((file_name(path), code));
}

/// A parameter as the builder holds it.
struct Param<'a> {
    json: &'a str,
    field: proc_macro2::Ident,
    spec: &'a Parameter,
    ty: TokenStream,
    /// Whether arguments take `impl Into<ty>` (strings and field masks).
    takes_into: bool,
    positional: bool,
}

/// A parameter's Rust type, and whether its setter takes `impl Into` of it.
fn param_type(types: &Types, p: &Parameter) -> (TokenStream, bool) {
    if p.location == "path" {
        // Ids are strings whatever the document says: they may be aliases, `me` or emails.
        return (quote!(::std::string::String), true);
    }
    if !p.enum_.is_empty() {
        let name = ident(
            types
                .enum_name(&p.enum_)
                .expect("parameter enums are registered"),
        );
        return (quote!(crate::models::#name), false);
    }
    match (p.type_.as_deref().unwrap_or("string"), p.format.as_deref()) {
        ("string", Some("google-fieldmask")) => (quote!(crate::FieldMask), true),
        ("string", Some("google-datetime")) => (quote!(::chrono::DateTime<::chrono::Utc>), false),
        ("string", Some("int64")) | ("integer", Some("int64")) => (quote!(i64), false),
        ("string", Some("uint64")) => (quote!(u64), false),
        ("integer", Some("uint32")) => (quote!(u32), false),
        ("integer", _) => (quote!(i32), false),
        ("number", _) => (quote!(f64), false),
        ("boolean", _) => (quote!(bool), false),
        _ => (quote!(::std::string::String), true),
    }
}

fn method_code(
    doc_: &Document,
    types: &Types,
    method_name: &str,
    m: &Method,
    pages: &mut BTreeMap<String, TokenStream>,
) -> (TokenStream, TokenStream) {
    let builder = ident(&pascal(method_name));
    let fn_name = ident(&snake(method_name));
    let id = &m.id;
    let path = &m.path;
    let method_info = crate::codegen::table::method_info(doc_, m);

    // Positional parameters in the document's order, then the optional ones by name.
    let mut params: Vec<Param> = Vec::new();
    let mut order: Vec<&str> = m.parameter_order.iter().map(String::as_str).collect();
    for (name, p) in &m.parameters {
        if p.required && !order.contains(&name.as_str()) {
            order.push(name);
        }
    }
    for name in &order {
        if let Some((json, spec)) = m.parameters.get_key_value(*name) {
            let (ty, takes_into) = param_type(types, spec);
            params.push(Param {
                json,
                field: field_ident(json),
                spec,
                ty,
                takes_into,
                positional: true,
            });
        }
    }
    for (json, spec) in &m.parameters {
        if !order.contains(&json.as_str()) {
            let (ty, takes_into) = param_type(types, spec);
            params.push(Param {
                json,
                field: field_ident(json),
                spec,
                ty,
                takes_into,
                positional: false,
            });
        }
    }

    let request_schema = m.request.as_ref().map(|r| r.ref_.as_str());
    let request_empty = request_schema
        .and_then(|r| doc_.schemas.get(r))
        .is_some_and(|s| s.properties.is_empty());
    let request_ty = request_schema.map(|r| {
        let t = ident(&pascal(r));
        quote!(crate::models::#t)
    });
    let takes_body = request_ty.is_some() && !request_empty;
    let response_ty = match &m.response {
        Some(r) => {
            let t = ident(&pascal(&r.ref_));
            quote!(crate::models::#t)
        }
        None => quote!(()),
    };

    // The handle's constructor method.
    let positional: Vec<&Param> = params.iter().filter(|p| p.positional).collect();
    let args = positional.iter().map(|p| {
        let f = &p.field;
        let ty = &p.ty;
        if p.takes_into {
            quote!(#f: impl ::std::convert::Into<#ty>)
        } else {
            quote!(#f: #ty)
        }
    });
    let inits_positional = positional.iter().map(|p| {
        let f = &p.field;
        if p.takes_into {
            quote!(#f: #f.into())
        } else {
            quote!(#f)
        }
    });
    let inits_optional = params.iter().filter(|p| !p.positional).map(|p| {
        let f = &p.field;
        quote!(#f: ::std::default::Default::default())
    });
    let (body_arg, body_init, body_field) = match (&request_ty, takes_body) {
        (Some(t), true) => (quote!(request: #t,), quote!(request,), quote!(request: #t,)),
        (Some(t), false) => (
            quote!(),
            quote!(request: ::std::default::Default::default(),),
            quote!(request: #t,),
        ),
        _ => (quote!(), quote!(), quote!()),
    };
    let summary = escape(m.description.as_deref().unwrap_or(""));
    let first_sentence = summary_of(&summary);
    let handle_doc = doc(&paragraphs([
        first_sentence.as_str(),
        &format!(
            "Sends `{id}`; see [`{}`] for the options and the full description.",
            pascal(method_name)
        ),
    ]));
    let requirement = crate::codegen::scope_check::requirement(doc_, m, &quote!(crate));
    let leaf = crate::codegen::scope_check::leaf_trait(m);
    let handle_method = quote! {
        #handle_doc
        pub fn #fn_name(&self, #(#args,)* #body_arg) -> #builder
        where
            #requirement: crate::scope_check::requirements::#leaf,
        {
            #builder {
                client: self.client.untyped(),
                #(#inits_positional,)*
                #body_init
                #(#inits_optional,)*
                options: ::std::default::Default::default(),
            }
        }
    };

    // The builder.
    let fields = params.iter().map(|p| {
        let f = &p.field;
        let ty = &p.ty;
        if p.positional {
            quote!(#f: #ty,)
        } else if p.spec.repeated {
            quote!(#f: ::std::vec::Vec<#ty>,)
        } else {
            quote!(#f: ::std::option::Option<#ty>,)
        }
    });
    let setters = params.iter().filter(|p| !p.positional).map(|p| setter(p));
    let path_params = params
        .iter()
        .filter(|p| p.spec.location == "path")
        .map(|p| {
            let f = &p.field;
            let json = p.json;
            quote!((#json, self.#f.as_str()))
        });
    let query_params = params
        .iter()
        .filter(|p| p.spec.location == "query")
        .map(|p| {
            let f = &p.field;
            let json = p.json;
            quote!(crate::request::QueryValue::append(&self.#f, #json, &mut query);)
        });
    let body = if request_ty.is_some() {
        quote!(::std::option::Option::Some(crate::request::encode(
            &Self::METHOD,
            &self.request
        )?))
    } else {
        quote!(::std::option::Option::None)
    };
    let has_query = params.iter().any(|p| p.spec.location == "query");
    let query_decl = if has_query {
        quote!(let mut query = crate::request::Query::default();)
    } else {
        quote!(let query = crate::request::Query::default();)
    };
    let response_schema = m.response.as_ref().and_then(|r| doc_.schemas.get(&r.ref_));
    // Only a method whose response schema has no fields may answer with an empty body.
    let empty_response = response_schema.is_some_and(|s| s.properties.is_empty());
    // A page's list is sized for the page asked for, so that decoding never grows it.
    let page_size = params.iter().find(|p| {
        p.json == "pageSize" && !p.positional && p.spec.type_.as_deref() == Some("integer")
    });
    let is_page = response_schema.is_some_and(|s| s.page_items().is_some());
    let expected_items = match page_size {
        Some(p) if is_page => {
            let f = &p.field;
            quote!(self.#f.and_then(|n| ::std::primitive::usize::try_from(n).ok()).unwrap_or(0))
        }
        _ => quote!(0),
    };
    let execute = if m.response.is_some() {
        quote!(execute)
    } else {
        quote!(execute_empty)
    };
    let builder_doc = doc(&paragraphs([
        summary.as_str(),
        &format!("Method `{id}`: `{} {path}`.", m.http_method),
    ]));
    let scope_list = m
        .scopes
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let scope_doc = doc(&format!(
        "The method's description; any one of these scopes authorizes it: {scope_list}."
    ));
    let send_doc = doc(&paragraphs([
        "Sends the request and decodes the response.",
        "Nothing is sent, and an error is returned, when a required path parameter is empty or when the credentials hold no scope that authorizes the method.",
    ]));

    let paging = paging(doc_, m, &builder, &response_ty, pages);

    let builder_code = quote! {
        #builder_doc
        #[derive(Clone, Debug)]
        #[must_use = "a request does nothing until it is sent"]
        pub struct #builder {
            client: crate::Classroom,
            #(#fields)*
            #body_field
            options: crate::RequestOptions,
        }

        impl #builder {
            #scope_doc
            pub const METHOD: crate::MethodInfo = #method_info;

            #(#setters)*

            crate::request::request_options!();

            #send_doc
            pub async fn send(self) -> crate::Result<#response_ty> {
                let call = self.to_call()?;
                self.client.#execute(call).await
            }

            /// The call as the request path takes it.
            fn to_call(&self) -> crate::Result<crate::request::Call<'_>> {
                #query_decl
                #(#query_params)*
                ::std::result::Result::Ok(crate::request::Call {
                    method: &Self::METHOD,
                    path_params: ::std::vec![#(#path_params),*],
                    query,
                    body: #body,
                    options: &self.options,
                    empty_response: #empty_response,
                    expected_items: #expected_items,
                })
            }
        }

        impl crate::batch::BatchCall for #builder {
            type Response = #response_ty;

            fn prepare(&self) -> crate::Result<crate::batch::Prepared> {
                crate::batch::Prepared::new(&self.client, self.to_call()?)
            }
        }

        #paging
    };
    (handle_method, builder_code)
}

pub fn field_ident(json: &str) -> proc_macro2::Ident {
    let mut name = snake(json);
    if RESERVED.contains(&name.as_str()) {
        name.push_str("_param");
    }
    if name.starts_with(OPTIONS_PREFIX) {
        name.insert_str(0, "param_");
    }
    ident(&name)
}

fn setter(p: &Param) -> TokenStream {
    let f = &p.field;
    let ty = &p.ty;
    let mut notes = Vec::new();
    if p.spec.deprecated {
        notes.push("**Deprecated.**".to_string());
    }
    notes.push(format!("Sets the `{}` query parameter.", p.json));
    let note = notes.join(" ");
    let description = escape(p.spec.description.as_deref().unwrap_or(""));
    let docs = doc(&paragraphs([description.as_str(), note.as_str()]));
    if p.spec.repeated {
        quote! {
            #docs
            pub fn #f(mut self, values: impl ::std::iter::IntoIterator<Item = #ty>) -> Self {
                self.#f = values.into_iter().collect();
                self
            }
        }
    } else if p.takes_into {
        quote! {
            #docs
            pub fn #f(mut self, value: impl ::std::convert::Into<#ty>) -> Self {
                self.#f = ::std::option::Option::Some(value.into());
                self
            }
        }
    } else {
        quote! {
            #docs
            pub fn #f(mut self, value: #ty) -> Self {
                self.#f = ::std::option::Option::Some(value);
                self
            }
        }
    }
}

/// For list methods (a `pageToken` parameter, a response with `nextPageToken` and one array):
/// the paging glue and the `pages()` / `items()` streams.
fn paging(
    doc_: &Document,
    m: &Method,
    builder: &proc_macro2::Ident,
    response_ty: &TokenStream,
    pages: &mut BTreeMap<String, TokenStream>,
) -> TokenStream {
    let Some(response) = &m.response else {
        return quote!();
    };
    let Some(schema) = doc_.schemas.get(&response.ref_) else {
        return quote!();
    };
    if !m.parameters.contains_key("pageToken") {
        return quote!();
    }
    let Some((items_json, item_ref)) = schema.page_items() else {
        return quote!();
    };
    let item_ty = ident(&pascal(item_ref));
    let id = &m.id;
    let items_field = ident(&snake(items_json));
    let page_token = field_ident("pageToken");
    pages.entry(response.ref_.clone()).or_insert_with(|| {
        quote! {
            impl crate::paging::Page for #response_ty {
                type Item = crate::models::#item_ty;
                fn next_page_token(&self) -> ::std::option::Option<&str> {
                    self.next_page_token.as_deref()
                }
                fn is_empty(&self) -> bool {
                    self.#items_field.is_empty()
                }
                fn into_items(self) -> ::std::vec::Vec<Self::Item> {
                    self.#items_field
                }
            }
        }
    });
    quote! {

        impl crate::paging::Paginate for #builder {
            type Page = #response_ty;
            const METHOD_ID: &'static str = #id;
            fn set_page_token(&mut self, token: ::std::string::String) {
                self.#page_token = ::std::option::Option::Some(token);
            }
            async fn send_page(&self) -> crate::Result<Self::Page> {
                let call = self.to_call()?;
                self.client.execute(call).await
            }
            fn max_empty_pages(&self) -> u32 {
                self.client.settings().max_empty_pages
            }
        }

        impl #builder {
            /// Every page of results, fetched lazily as the stream is polled, following `nextPageToken`.
            pub fn pages(self) -> impl ::futures::Stream<Item = crate::Result<#response_ty>> + ::std::marker::Send {
                crate::paging::pages(self)
            }

            /// Every item across all pages, fetched lazily as the stream is polled.
            pub fn items(self) -> crate::paging::Items<Self> {
                crate::paging::items(self)
            }
        }
    }
}

/// The summary paragraph of an escaped description (see `docs::escape`).
fn summary_of(text: &str) -> String {
    text.split("\n\n").next().unwrap_or(text).to_string()
}
