//! The parts of a Google API discovery document (REST description, v1) that the generator reads.
//!
//! Unknown keys are ignored, so a newer document with more metadata still parses.

use std::collections::BTreeMap;

use serde::Deserialize;

/// A parsed discovery document.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Document {
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub revision: String,
    pub root_url: String,
    #[serde(default)]
    pub service_path: String,
    #[serde(default)]
    pub batch_path: Option<String>,
    #[serde(default)]
    pub auth: Auth,
    #[serde(default)]
    pub schemas: BTreeMap<String, Schema>,
    #[serde(default)]
    pub resources: BTreeMap<String, Resource>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Auth {
    #[serde(default)]
    pub oauth2: OAuth2,
}

#[derive(Debug, Default, Deserialize)]
pub struct OAuth2 {
    #[serde(default)]
    pub scopes: BTreeMap<String, ScopeInfo>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ScopeInfo {
    #[serde(default)]
    pub description: String,
}

/// A schema, a property of one, or an array's item type.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Schema {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(rename = "type", default)]
    pub type_: Option<String>,
    #[serde(rename = "$ref", default)]
    pub ref_: Option<String>,
    #[serde(default)]
    pub format: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub properties: BTreeMap<String, Schema>,
    #[serde(default)]
    pub items: Option<Box<Schema>>,
    #[serde(default)]
    pub additional_properties: Option<Box<Schema>>,
    #[serde(rename = "enum", default)]
    pub enum_: Vec<String>,
    #[serde(default)]
    pub enum_descriptions: Vec<String>,
    #[serde(default)]
    pub enum_deprecated: Vec<bool>,
    #[serde(default)]
    pub deprecated: bool,
    #[serde(default)]
    pub read_only: bool,
}

/// A resource: methods and nested resources.
#[derive(Debug, Default, Deserialize)]
pub struct Resource {
    #[serde(default)]
    pub methods: BTreeMap<String, Method>,
    #[serde(default)]
    pub resources: BTreeMap<String, Resource>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Method {
    pub id: String,
    pub path: String,
    pub http_method: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub parameters: BTreeMap<String, Parameter>,
    #[serde(default)]
    pub parameter_order: Vec<String>,
    #[serde(default)]
    pub request: Option<Reference>,
    #[serde(default)]
    pub response: Option<Reference>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub deprecated: bool,
}

#[derive(Debug, Deserialize)]
pub struct Reference {
    #[serde(rename = "$ref")]
    pub ref_: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Parameter {
    #[serde(rename = "type", default)]
    pub type_: Option<String>,
    #[serde(default)]
    pub format: Option<String>,
    pub location: String,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub repeated: bool,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(rename = "enum", default)]
    pub enum_: Vec<String>,
    #[serde(default)]
    pub enum_descriptions: Vec<String>,
    #[serde(default)]
    pub enum_deprecated: Vec<bool>,
    #[serde(default)]
    pub deprecated: bool,
}

impl Schema {
    /// For a page of a list (a schema with `nextPageToken` and exactly one array, of one of the
    /// document's schemas), the array's JSON name and the name of its items' schema.
    pub fn page_items(&self) -> Option<(&str, &str)> {
        if !self.properties.contains_key("nextPageToken") {
            return None;
        }
        let mut arrays = self
            .properties
            .iter()
            .filter(|(_, p)| p.type_.as_deref() == Some("array"));
        match (arrays.next(), arrays.next()) {
            (Some((name, array)), None) => Some((name, array.items.as_ref()?.ref_.as_deref()?)),
            _ => None,
        }
    }
}

impl Document {
    /// Parses a discovery document from its JSON text.
    pub fn parse(json: &str) -> Result<Self, String> {
        serde_json::from_str(json)
            .map_err(|e| format!("the discovery document does not parse: {e}"))
    }

    /// Every method with the path of resource names leading to it, depth first, sorted by name.
    pub fn methods(&self) -> Vec<(Vec<&str>, &str, &Method)> {
        fn walk<'a>(
            path: &mut Vec<&'a str>,
            resources: &'a BTreeMap<String, Resource>,
            out: &mut Vec<(Vec<&'a str>, &'a str, &'a Method)>,
        ) {
            for (name, resource) in resources {
                path.push(name);
                for (method_name, method) in &resource.methods {
                    out.push((path.clone(), method_name, method));
                }
                walk(path, &resource.resources, out);
                path.pop();
            }
        }
        let mut out = Vec::new();
        walk(&mut Vec::new(), &self.resources, &mut out);
        out
    }
}
