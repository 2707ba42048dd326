//! Schemas -> Rust types: one struct per schema, one enum per distinct set of enum values.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use proc_macro2::TokenStream;
use quote::quote;

use crate::codegen::discovery::{Document, Parameter, Schema};
use crate::codegen::docs::{doc, escape, paragraphs};
use crate::codegen::names::{ident, pascal, serde_camel, snake};

/// A Rust enum generated from a discovery `enum`.
pub struct EnumDef {
    pub name: String,
    /// Where it was first seen, for its doc: `Course.courseState`.
    pub origin: String,
    pub description: String,
    pub values: Vec<String>,
    pub value_docs: Vec<String>,
    pub deprecated: Vec<bool>,
}

/// The model of every type the document defines: schemas, enums, and inline objects.
pub struct Types<'a> {
    pub schemas: BTreeMap<String, &'a Schema>,
    enums: Vec<EnumDef>,
    enum_by_values: HashMap<Vec<String>, usize>,
    taken: BTreeSet<String>,
}

/// The Rust type of a property, and how it sits in its struct.
pub struct FieldType {
    pub ty: TokenStream,
    pub kind: Kind,
    /// `format: int64` and friends travel as JSON strings.
    pub string_encoded: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `Option<T>`: absent and default differ.
    Optional,
    /// `Vec<T>` or a map, empty when absent.
    Collection,
}

impl<'a> Types<'a> {
    pub fn new(doc: &'a Document) -> Self {
        let mut schemas = BTreeMap::new();
        for (name, schema) in &doc.schemas {
            schemas.insert(pascal(name), schema);
        }
        let mut types = Types {
            taken: schemas.keys().cloned().collect(),
            schemas,
            enums: Vec::new(),
            enum_by_values: HashMap::new(),
        };
        // Inline object properties become schemas of their own, named after owner and field.
        let mut pending: Vec<(String, &'a Schema)> =
            types.schemas.iter().map(|(n, s)| (n.clone(), *s)).collect();
        while let Some((owner, schema)) = pending.pop() {
            for (field, prop) in &schema.properties {
                let target = innermost(prop);
                if target.type_.as_deref() == Some("object") && !target.properties.is_empty() {
                    let name = types.unique(format!("{owner}{}", pascal(field)));
                    types.schemas.insert(name.clone(), target);
                    pending.push((name, target));
                }
            }
        }
        // Enums are named in a fixed order so the same document always gives the same names.
        let owners: Vec<(String, &'a Schema)> =
            types.schemas.iter().map(|(n, s)| (n.clone(), *s)).collect();
        for (owner, schema) in owners {
            for (field, prop) in &schema.properties {
                let target = innermost(prop);
                if !target.enum_.is_empty() {
                    let description = prop.description.clone().unwrap_or_default();
                    types.register_enum(&owner, field, &description, target);
                }
            }
        }
        for (_, _, method) in doc.methods() {
            for (name, param) in &method.parameters {
                if !param.enum_.is_empty() {
                    types.register_param_enum(&method.id, name, param);
                }
            }
        }
        types
    }

    fn unique(&mut self, mut name: String) -> String {
        let base = name.clone();
        let mut n = 2;
        while self.taken.contains(&name) {
            name = format!("{base}{n}");
            n += 1;
        }
        self.taken.insert(name.clone());
        name
    }

    fn register_enum(
        &mut self,
        owner: &str,
        field: &str,
        description: &str,
        schema: &Schema,
    ) -> String {
        self.register(
            owner,
            field,
            description,
            &schema.enum_,
            &schema.enum_descriptions,
            &schema.enum_deprecated,
        )
    }

    fn register_param_enum(&mut self, method_id: &str, name: &str, param: &Parameter) -> String {
        let owner = pascal(method_id.rsplit('.').next().unwrap_or(method_id));
        let description = param.description.clone().unwrap_or_default();
        self.register(
            &owner,
            name,
            &description,
            &param.enum_,
            &param.enum_descriptions,
            &param.enum_deprecated,
        )
    }

    fn register(
        &mut self,
        owner: &str,
        field: &str,
        description: &str,
        values: &[String],
        docs: &[String],
        deprecated: &[bool],
    ) -> String {
        if let Some(&i) = self.enum_by_values.get(values) {
            return self.enums[i].name.clone();
        }
        let fallback = format!("{owner}{}", pascal(field));
        let derived = values.first().and_then(|first| {
            let prefix = first
                .strip_suffix("_UNSPECIFIED")
                .or_else(|| first.strip_prefix("UNKNOWN_"))?;
            let mut name = pascal(prefix);
            // Spelled as the schema it belongs to: `COURSEWORK_MATERIAL_STATE` on
            // `CourseWorkMaterial` is `CourseWorkMaterialState`, not `CourseworkMaterialState`.
            if name.len() > owner.len()
                && name.is_char_boundary(owner.len())
                && name[..owner.len()].eq_ignore_ascii_case(owner)
            {
                name.replace_range(..owner.len(), owner);
            }
            // `LATE_VALUES` lists what a query may filter by: `LateFilter`.
            if let Some(stem) = name.strip_suffix("Values") {
                name = format!("{stem}Filter");
            }
            // One word (`State`) says too little on its own; keep it only where the owner ends with it.
            let one_word = crate::codegen::names::words(prefix).len() == 1;
            (!one_word || owner.ends_with(&name)).then_some(name)
        });
        let name = match derived {
            Some(name) if !self.taken.contains(&name) => name,
            _ => fallback,
        };
        let name = self.unique(name);
        self.enum_by_values
            .insert(values.to_vec(), self.enums.len());
        self.enums.push(EnumDef {
            name: name.clone(),
            origin: format!("{owner}.{field}"),
            description: description.to_string(),
            values: values.to_vec(),
            value_docs: docs.to_vec(),
            deprecated: deprecated.to_vec(),
        });
        name
    }

    pub fn enum_name(&self, values: &[String]) -> Option<&str> {
        self.enum_by_values
            .get(values)
            .map(|&i| self.enums[i].name.as_str())
    }

    /// The Rust type for a property.
    pub fn field_type(&self, owner: &str, field: &str, prop: &Schema) -> FieldType {
        if prop.type_.as_deref() == Some("array") {
            let item = prop
                .items
                .as_deref()
                .map(|i| self.scalar(owner, field, i))
                .unwrap_or_else(|| (quote!(::serde_json::Value), false));
            let (item, encoded) = item;
            let item = if encoded {
                quote!(::std::string::String)
            } else {
                item
            };
            return FieldType {
                ty: quote!(::std::vec::Vec<#item>),
                kind: Kind::Collection,
                string_encoded: false,
            };
        }
        if prop.type_.as_deref() == Some("object") && prop.properties.is_empty() {
            let value = match &prop.additional_properties {
                Some(v) => self.scalar(owner, field, v).0,
                None => quote!(::serde_json::Value),
            };
            return FieldType {
                ty: quote!(::std::collections::BTreeMap<::std::string::String, #value>),
                kind: Kind::Collection,
                string_encoded: false,
            };
        }
        let (ty, string_encoded) = self.scalar(owner, field, prop);
        let ty = match &prop.ref_ {
            Some(target) if self.reaches(&pascal(target), owner) => quote!(::std::boxed::Box<#ty>),
            _ => ty,
        };
        FieldType {
            ty,
            kind: Kind::Optional,
            string_encoded,
        }
    }

    /// The type of a single value; `true` where the JSON carries it as a string.
    fn scalar(&self, owner: &str, field: &str, s: &Schema) -> (TokenStream, bool) {
        if let Some(target) = &s.ref_ {
            let name = ident(&pascal(target));
            return (quote!(crate::models::#name), false);
        }
        if !s.enum_.is_empty() {
            let name = ident(self.enum_name(&s.enum_).expect("every enum was registered"));
            return (quote!(crate::models::#name), false);
        }
        match (s.type_.as_deref().unwrap_or("any"), s.format.as_deref()) {
            ("string", Some("google-datetime")) => {
                (quote!(::chrono::DateTime<::chrono::Utc>), false)
            }
            ("string", Some("date")) => (quote!(::chrono::NaiveDate), false),
            ("string", Some("google-fieldmask")) => (quote!(crate::FieldMask), false),
            ("string", Some("int64")) => (quote!(i64), true),
            ("string", Some("uint64")) => (quote!(u64), true),
            ("string", _) => (quote!(::std::string::String), false),
            ("integer", Some("uint32")) => (quote!(u32), false),
            ("integer", Some("int64")) => (quote!(i64), false),
            ("integer", _) => (quote!(i32), false),
            ("number", Some("float")) => (quote!(f32), false),
            ("number", _) => (quote!(f64), false),
            ("boolean", _) => (quote!(bool), false),
            ("object", _) if !s.properties.is_empty() => {
                let name = ident(&self.inline_name(owner, field, s));
                (quote!(crate::models::#name), false)
            }
            ("array", _) => {
                let item = s
                    .items
                    .as_deref()
                    .map(|i| self.scalar(owner, field, i).0)
                    .unwrap_or_else(|| quote!(::serde_json::Value));
                (quote!(::std::vec::Vec<#item>), false)
            }
            ("object", _) => {
                let value = match &s.additional_properties {
                    Some(v) => self.scalar(owner, field, v).0,
                    None => quote!(::serde_json::Value),
                };
                (
                    quote!(::std::collections::BTreeMap<::std::string::String, #value>),
                    false,
                )
            }
            _ => (quote!(::serde_json::Value), false),
        }
    }

    fn inline_name(&self, owner: &str, field: &str, s: &Schema) -> String {
        self.schemas
            .iter()
            .find(|(_, v)| std::ptr::eq(**v, s))
            .map(|(n, _)| n.clone())
            .unwrap_or_else(|| format!("{owner}{}", pascal(field)))
    }

    /// Whether `from` holds `to` by value (not through a `Vec` or a map), directly or not.
    fn reaches(&self, from: &str, to: &str) -> bool {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.to_string()];
        while let Some(name) = stack.pop() {
            if name == to {
                return true;
            }
            if !seen.insert(name.clone()) {
                continue;
            }
            if let Some(schema) = self.schemas.get(&name) {
                for prop in schema.properties.values() {
                    if let Some(target) = &prop.ref_ {
                        stack.push(pascal(target));
                    }
                }
            }
        }
        false
    }

    /// All model code: structs, then enums.
    pub fn models(&self) -> TokenStream {
        let structs = self
            .schemas
            .iter()
            .map(|(name, schema)| self.model(name, schema));
        let enums = self.enums.iter().map(render_enum);
        quote! { #(#structs)* #(#enums)* }
    }

    fn model(&self, name: &str, schema: &Schema) -> TokenStream {
        let type_name = ident(name);
        let docs = doc(&escape(schema.description.as_deref().unwrap_or("")));
        let mut used = BTreeSet::new();
        // A page's items, generated structs, are decoded in place.
        let page_items = schema.page_items().map(|(json, _)| json);
        let mut decoders = Vec::new();
        let fields: Vec<TokenStream> = schema
            .properties
            .iter()
            .map(|(json, prop)| {
                let mut field = snake(json);
                while !used.insert(field.clone()) {
                    field.push('_');
                }
                let field_ident = ident(&field);
                let FieldType {
                    ty,
                    kind,
                    string_encoded,
                } = self.field_type(name, json, prop);
                let mut notes = Vec::new();
                if prop.deprecated {
                    notes.push("**Deprecated.**");
                }
                if prop.read_only {
                    notes.push("Read-only: set by the server and ignored in requests.");
                }
                let note = notes.join(" ");
                let description = escape(prop.description.as_deref().unwrap_or(""));
                let field_docs = doc(&paragraphs([description.as_str(), note.as_str()]));
                let rename =
                    (serde_camel(&field) != *json).then(|| quote!(#[serde(rename = #json)]));
                // How the field is written (serde's derive) and read (`wire::decode_struct`).
                let (ty, serde, decoder) = match kind {
                    Kind::Collection if page_items == Some(json.as_str()) => (
                        ty,
                        quote!(#[serde(skip_serializing_if = "crate::wire::is_empty")]),
                        Some(quote!(crate::wire::PageItems)),
                    ),
                    Kind::Collection => (
                        ty,
                        quote!(#[serde(skip_serializing_if = "crate::wire::is_empty")]),
                        Some(quote!(crate::wire::Nullable)),
                    ),
                    Kind::Optional if string_encoded => (
                        quote!(::std::option::Option<#ty>),
                        quote!(#[serde(skip_serializing_if = "::std::option::Option::is_none", serialize_with = "crate::wire::int_string::serialize")]),
                        Some(quote!(crate::wire::IntString)),
                    ),
                    Kind::Optional if is_timestamp(prop) => (
                        quote!(::std::option::Option<#ty>),
                        quote!(#[serde(skip_serializing_if = "::std::option::Option::is_none")]),
                        Some(quote!(crate::wire::Timestamp)),
                    ),
                    Kind::Optional => (
                        quote!(::std::option::Option<#ty>),
                        quote!(#[serde(skip_serializing_if = "::std::option::Option::is_none")]),
                        None,
                    ),
                };
                let number = proc_macro2::Literal::usize_unsuffixed(decoders.len());
                decoders.push(match decoder {
                    Some(with) => quote! {
                        #number => crate::wire::field_with(map, &mut self.#field_ident, #with)
                    },
                    None => quote!(#number => crate::wire::field(map, &mut self.#field_ident)),
                });
                quote! {
                    #field_docs
                    #rename
                    #serde
                    pub #field_ident: #ty,
                }
            })
            .collect();
        let json_names: Vec<&str> = schema.properties.keys().map(String::as_str).collect();
        let numbers = (0..json_names.len()).map(proc_macro2::Literal::usize_unsuffixed);
        // A schema without properties (`Empty`) has nothing to match.
        let (field_number, decode_field) = if json_names.is_empty() {
            (
                quote! {
                    fn field_number(_: &str) -> ::std::option::Option<usize> {
                        ::std::option::Option::None
                    }
                },
                quote! {
                    fn decode_field<'de, A: ::serde::de::MapAccess<'de>>(
                        &mut self,
                        _: usize,
                        _: &mut A,
                    ) -> ::std::result::Result<(), A::Error> {
                        ::std::result::Result::Ok(())
                    }
                },
            )
        } else {
            (
                quote! {
                    fn field_number(name: &str) -> ::std::option::Option<usize> {
                        match name {
                            #(#json_names => ::std::option::Option::Some(#numbers),)*
                            _ => ::std::option::Option::None,
                        }
                    }
                },
                quote! {
                    fn decode_field<'de, A: ::serde::de::MapAccess<'de>>(
                        &mut self,
                        number: usize,
                        map: &mut A,
                    ) -> ::std::result::Result<(), A::Error> {
                        match number {
                            #(#decoders,)*
                            _ => ::std::result::Result::Ok(()),
                        }
                    }
                },
            )
        };
        quote! {
            #docs
            #[derive(Clone, Debug, Default, PartialEq, ::serde::Serialize)]
            #[serde(rename_all = "camelCase")]
            pub struct #type_name {
                #(#fields)*
            }

            impl<'de> ::serde::Deserialize<'de> for #type_name {
                fn deserialize<D: ::serde::Deserializer<'de>>(
                    deserializer: D,
                ) -> ::std::result::Result<Self, D::Error> {
                    crate::wire::decode_struct(deserializer)
                }
            }

            impl crate::wire::Fields for #type_name {
                const NAME: &'static str = #name;
                const FIELDS: &'static [&'static str] = &[#(#json_names),*];

                #field_number

                #decode_field
            }
        }
    }
}

/// Follows arrays to the schema that describes one value.
fn innermost(s: &Schema) -> &Schema {
    match (&s.items, &s.additional_properties) {
        (Some(items), _) => innermost(items),
        (None, Some(value)) => innermost(value),
        _ => s,
    }
}

fn render_enum(e: &EnumDef) -> TokenStream {
    let name = ident(&e.name);
    let prefix = e
        .values
        .first()
        .and_then(|f| f.strip_suffix("_UNSPECIFIED"))
        .map(str::to_string);
    let mut used = BTreeSet::from(["Unknown".to_string()]);
    let variants: Vec<_> = e
        .values
        .iter()
        .map(|value| {
            let mut v = if prefix
                .as_deref()
                .map(|p| format!("{p}_UNSPECIFIED"))
                .as_deref()
                == Some(value)
            {
                "Unspecified".to_string()
            } else {
                pascal(value)
            };
            while !used.insert(v.clone()) {
                v.push_str("Value");
            }
            ident(&v)
        })
        .collect();
    let docs = e.values.iter().enumerate().map(|(i, _)| {
        let text = escape(e.value_docs.get(i).map(String::as_str).unwrap_or(""));
        let note = if e.deprecated.get(i).copied().unwrap_or(false) {
            "**Deprecated.**"
        } else {
            ""
        };
        doc(&paragraphs([text.as_str(), note]))
    });
    let values = &e.values;
    let enum_doc = doc(&paragraphs([
        escape(&e.description).as_str(),
        &format!(
            "Values of `{}`. A value this version does not know decodes to `Unknown` and is sent back unchanged.",
            e.origin
        ),
    ]));
    let variants2 = &variants;
    quote! {
        #enum_doc
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum #name {
            #( #docs #variants2, )*
            /// A value the discovery document this SDK was built from does not list.
            Unknown(::std::string::String),
        }

        impl #name {
            /// The value as it travels on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    #( Self::#variants2 => #values, )*
                    Self::Unknown(value) => value,
                }
            }
        }

        impl ::std::convert::From<&str> for #name {
            fn from(value: &str) -> Self {
                match value {
                    #( #values => Self::#variants2, )*
                    other => Self::Unknown(::std::borrow::ToOwned::to_owned(other)),
                }
            }
        }

        impl ::std::convert::From<::std::string::String> for #name {
            fn from(value: ::std::string::String) -> Self {
                match Self::from(value.as_str()) {
                    Self::Unknown(_) => Self::Unknown(value),
                    known => known,
                }
            }
        }

        impl ::std::fmt::Display for #name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for #name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> ::std::result::Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for #name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {
                crate::wire::string_value(deserializer)
            }
        }

        impl crate::request::QueryValue for #name {
            fn append(&self, name: &'static str, query: &mut crate::request::Query) {
                query.push_str(name, self.as_str());
            }
        }
    }
}

/// Whether a property is a `google-datetime` timestamp (decoded by `crate::wire::timestamp`).
fn is_timestamp(prop: &Schema) -> bool {
    prop.ref_.is_none()
        && prop.enum_.is_empty()
        && prop.type_.as_deref() == Some("string")
        && prop.format.as_deref() == Some("google-datetime")
}
