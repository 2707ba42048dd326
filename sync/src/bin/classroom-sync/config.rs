//! The tool's config file (TOML): where the roster is, how to reach Classroom, the policies.

use std::path::{Path, PathBuf};

use classroom::auth::ClientSecret;
use classroom_sync::{CourseField, CourseNaming, CreateAs, SyncOptions, Template};
use serde::Deserialize;

/// The config file, as read. Paths in it are relative to the file's directory.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The OneRoster CSV directory.
    pub roster: PathBuf,
    /// The Google Workspace domain: every teacher and student must have an email in it.
    pub domain: Option<String>,
    /// Courses are `d:PREFIX<class sourcedId>`.
    #[serde(default = "default_prefix")]
    pub alias_prefix: String,
    /// Classroom's root URL (default Google's); `--root-url` overrides it.
    pub root_url: Option<String>,
    /// What the sync last wrote (JSON); needed for `teacher_fields`.
    pub state_file: Option<PathBuf>,
    /// `"classroom"` (Classroom's quotas, the default), `"none"`, or calls a minute.
    #[serde(default)]
    pub rate_limit: RateLimitSetting,
    /// Batch requests in flight at once.
    pub concurrency: Option<usize>,
    /// How the tool signs in.
    pub credentials: CredentialsConfig,
    /// Templates for course names, sections and rooms.
    #[serde(default)]
    pub naming: NamingConfig,
    /// What the sync may do.
    #[serde(default)]
    pub policies: Policies,
    /// The `grades` subcommand's settings.
    #[serde(default)]
    pub grades: GradesConfig,
}

/// `[grades]`: how grades are exported.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GradesConfig {
    /// The watermarks (JSON); default `grades-state.json` beside `state_file`, and none
    /// (every run a full, bulk export) without one.
    pub state_file: Option<PathBuf>,
    /// `"1.1"` (the default) or `"1.2"`.
    pub oneroster_version: Option<String>,
    /// Export draft grades as `partially graded` (default off).
    #[serde(default)]
    pub draft_grades: bool,
    /// The start of every `sourcedId` the export makes (default `classroom-`).
    pub id_prefix: Option<String>,
}

fn default_prefix() -> String {
    "sis-".into()
}

/// How calls are paced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RateLimitSetting {
    /// Classroom's documented quotas.
    #[default]
    Classroom,
    /// No pacing (a local emulator).
    None,
    /// This many calls a minute.
    PerMinute(u32),
}

impl<'de> Deserialize<'de> for RateLimitSetting {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Name(String),
            Number(u32),
        }
        match Raw::deserialize(d)? {
            Raw::Name(name) if name == "classroom" => Ok(RateLimitSetting::Classroom),
            Raw::Name(name) if name == "none" => Ok(RateLimitSetting::None),
            Raw::Number(n) if n > 0 => Ok(RateLimitSetting::PerMinute(n)),
            _ => Err(serde::de::Error::custom(
                "rate_limit is \"classroom\", \"none\", or a number of calls a minute",
            )),
        }
    }
}

/// How the tool signs in; `kind` says which.
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum CredentialsConfig {
    /// A service account key acting as a domain administrator (domain-wide delegation).
    ServiceAccount {
        /// The key file.
        key_file: PathBuf,
        /// The administrator it acts as.
        subject: String,
    },
    /// An authorized-user file (`gcloud auth application-default login`).
    AuthorizedUser {
        /// The file.
        file: PathBuf,
    },
    /// The client credentials grant of any OAuth 2.0 server: the emulator's, or a provider's.
    ClientCredentials {
        /// The client id.
        client_id: String,
        /// The secret; or leave it out and set `CLASSROOM_SYNC_CLIENT_SECRET`.
        client_secret: Option<ClientSecret>,
        /// The token endpoint.
        token_url: String,
    },
    /// Application Default Credentials.
    ApplicationDefault,
}

/// Templates over the roster's columns; see `classroom_sync::CourseNaming`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamingConfig {
    pub name: Option<String>,
    pub section: Option<String>,
    pub room: Option<String>,
}

/// What the sync may do; each on or off.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policies {
    pub create_courses: bool,
    pub update_courses: bool,
    pub add_members: bool,
    pub remove_members: bool,
    pub archive_missing: bool,
    pub delete_archived: bool,
    /// `"ACTIVE"` or `"PROVISIONED"`.
    pub course_state: CreateAs,
    pub teacher_fields: Vec<CourseField>,
    pub transfer_ownership: bool,
    pub invite_guardians: bool,
    /// At most this many guardian invitations a run; the rest wait for the next.
    pub guardian_invitations_per_run: Option<usize>,
}

impl Default for Policies {
    fn default() -> Self {
        let options = SyncOptions::default();
        Policies {
            create_courses: options.create_courses,
            update_courses: options.update_courses,
            add_members: options.add_members,
            remove_members: options.remove_members,
            archive_missing: options.archive_missing,
            delete_archived: options.delete_archived,
            course_state: options.create_as,
            teacher_fields: Vec::new(),
            transfer_ownership: options.transfer_ownership,
            invite_guardians: options.invite_guardians,
            guardian_invitations_per_run: options.guardian_invitations_per_run,
        }
    }
}

impl Config {
    /// Reads and checks the file; the error says what to fix.
    pub fn load(path: &Path) -> Result<Config, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the config file {}: {e}", path.display()))?;
        let mut config: Config =
            toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        config.roster = base.join(&config.roster);
        config.state_file = config.state_file.map(|p| base.join(p));
        config.grades.state_file = match config.grades.state_file.take() {
            Some(p) => Some(base.join(p)),
            None => config
                .state_file
                .as_ref()
                .map(|s| s.with_file_name("grades-state.json")),
        };
        if let Some(v) = &config.grades.oneroster_version
            && v != "1.1"
            && v != "1.2"
        {
            return Err(format!(
                "{}: grades.oneroster_version is {v:?}; use \"1.1\" or \"1.2\"",
                path.display()
            ));
        }
        match &mut config.credentials {
            CredentialsConfig::ServiceAccount { key_file, .. } => *key_file = base.join(&*key_file),
            CredentialsConfig::AuthorizedUser { file } => *file = base.join(&*file),
            _ => {}
        }
        if !config.policies.teacher_fields.is_empty() && config.state_file.is_none() {
            return Err(format!(
                "{}: policies.teacher_fields needs state_file, where the sync keeps what it \
                 wrote, to tell a teacher's edit from a change in the roster",
                path.display()
            ));
        }
        config
            .options()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(config)
    }

    /// The sync's options.
    pub fn options(&self) -> Result<SyncOptions, String> {
        let p = &self.policies;
        let mut naming = CourseNaming::default();
        let template = |field: &str, text: &str| {
            text.parse::<Template>()
                .map_err(|e| format!("naming.{field}: {e}"))
        };
        if let Some(name) = &self.naming.name {
            naming = naming.name(template("name", name)?);
        }
        if let Some(section) = &self.naming.section {
            naming = naming.section(template("section", section)?);
        }
        if let Some(room) = &self.naming.room {
            naming = naming.room(template("room", room)?);
        }
        let mut options = SyncOptions::default()
            .alias_prefix(self.alias_prefix.clone())
            .create_courses(p.create_courses)
            .update_courses(p.update_courses)
            .add_members(p.add_members)
            .remove_members(p.remove_members)
            .archive_missing(p.archive_missing)
            .delete_archived(p.delete_archived)
            .create_as(p.course_state)
            .teacher_fields(p.teacher_fields.iter().copied())
            .transfer_ownership(p.transfer_ownership)
            .invite_guardians(p.invite_guardians)
            .guardian_invitations_per_run(p.guardian_invitations_per_run)
            .naming(naming)
            .domain(self.domain.clone());
        if let Some(n) = self.concurrency {
            options = options.concurrency(n);
        }
        Ok(options)
    }
}
