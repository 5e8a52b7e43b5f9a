//! [`HubConfig`]: the hub's settings, from a TOML file, then `SWARMLAB_HUB_*` environment
//! variables, then whatever flags the CLI applies to the struct. Unknown keys are errors
//! here (a typo in a server's config should stop it, not be ignored).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::store::{Database, StoreError};

/// Prefix of the environment variables that override the file.
pub const ENV_PREFIX: &str = "SWARMLAB_HUB_";

/// Everything the hub needs to start.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HubConfig {
    /// Holds `hub.key`, a git repository per track and, unless `database_url` names
    /// another database, `hub.db`.
    pub data_dir: PathBuf,
    /// The database holding the hub's state: `sqlite://PATH` or
    /// `postgres://USER:PASSWORD@HOST:PORT/NAME`; unset, `hub.db` in `data_dir`.
    pub database_url: Option<String>,
    /// `host:port` to listen on; port 0 picks a free one.
    pub listen: String,
    /// `false` closes self-registration whatever `registration.mode` says (the older
    /// spelling of `registration.mode = "closed"`).
    pub open_registration: bool,
    /// Who may register as a worker (`POST /api/v1/register`), and how often from one
    /// address.
    pub registration: RegistrationConfig,
    /// Largest request body accepted, in bytes (413 above).
    pub max_request_bytes: usize,
    /// Largest git bundle of a submission, in bytes (decoded).
    pub max_bundle_bytes: usize,
    /// Largest run log of a submission, in bytes.
    pub max_log_bytes: usize,
    /// Largest file a submission may add or change, in bytes.
    pub max_file_bytes: u64,
    /// Most objects a submission's bundle may carry (read from its pack's header).
    pub max_bundle_objects: u32,
    /// Most bytes a submission's objects may inflate to, deltas applied (read from its
    /// pack before git sees it).
    pub max_bundle_inflated_bytes: u64,
    /// How long git may work on one submission (unpacking, checking, rebasing) before it
    /// is killed and the submission refused as `too_costly` ("20s").
    #[serde(deserialize_with = "humane")]
    pub git_timeout: Duration,
    /// How long an idea lease lasts without a heartbeat ("30m").
    #[serde(deserialize_with = "humane")]
    pub idea_lease: Duration,
    /// How long a verification job lease lasts without a heartbeat ("2h").
    #[serde(deserialize_with = "humane")]
    pub job_lease: Duration,
    /// How often expired leases are swept back to the queue ("10s").
    #[serde(deserialize_with = "humane")]
    pub sweep_interval: Duration,
    /// How many chain commits behind the head a submission's parent may be.
    pub stale_depth: u32,
    /// How many distinct verifiers' faults on a job end its submission as `rejected` for
    /// `unverifiable` (fewer when the hub has fewer verifiers: every one of them).
    pub unverifiable_after: u32,
    /// Jaccard similarity of word shingles at or above which an idea is flagged as a
    /// near-duplicate.
    pub idea_similarity: f64,
    /// Token bucket per identity (per address before authentication).
    pub rate_limit: RateLimitConfig,
    /// Whether anyone may read the hub's public record without an identity: its tracks,
    /// chains and charts, leaderboards, ideas, decided submissions and ledgers, in pages and
    /// in the API. `false` asks every reader for an identity (401 from the API, the sign-in
    /// page from the dashboard). Pending submissions and every write need an identity
    /// either way.
    pub public_read: bool,
    /// What readers without an identity get: how long their answers may be cached, and
    /// their rate limit per source address.
    pub anonymous: AnonymousConfig,
    /// How many submissions a worker may have waiting for verification.
    pub quota: QuotaConfig,
    /// How often verifiers get a canary, and what a suspension re-checks.
    pub canary: CanaryConfig,
}

/// Self-registration of workers. `mode`: `open` (anyone with a key), `invite` (a code an
/// admin made, `swarmlab hub invite`, used once), or `closed` (only admins create
/// identities). Whatever the mode, one source address (an IPv6 /64) may register
/// `per_address` workers at once and `per_address_per_hour` more each hour.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistrationConfig {
    pub mode: RegistrationMode,
    pub per_address: u32,
    pub per_address_per_hour: f64,
}

impl Default for RegistrationConfig {
    fn default() -> Self {
        RegistrationConfig {
            mode: RegistrationMode::Open,
            per_address: 5,
            per_address_per_hour: 20.0,
        }
    }
}

/// Who may register as a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RegistrationMode {
    /// Anyone with a key.
    Open,
    /// Whoever holds an unused invite code.
    Invite,
    /// Nobody: admins create identities.
    Closed,
}

impl RegistrationMode {
    /// `open`, `invite` or `closed`, as the config and `GET /api/v1/hub` spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            RegistrationMode::Open => "open",
            RegistrationMode::Invite => "invite",
            RegistrationMode::Closed => "closed",
        }
    }

    /// Why invite codes go unasked for under this mode, to say beside codes just made;
    /// `None` under `invite`.
    pub fn unasked_invites(self) -> Option<String> {
        (self != RegistrationMode::Invite).then(|| {
            format!(
                "this hub's registration is `{}`, not `invite`: set registration.mode = \"invite\" for codes to be asked for",
                self.as_str()
            )
        })
    }
}

/// Canaries (`POST /api/v1/canaries`): submissions whose right verdict is known, handed to
/// verifiers among their jobs. A verifier gets one before its first job and then after a
/// random number of real jobs, from 1 to `2 * every - 1` (`every` on average; 0 hands out
/// none). One that decides a canary wrong is suspended, and its verdicts of the last
/// `recheck_window` are verified again by others.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CanaryConfig {
    pub every: u32,
    #[serde(deserialize_with = "humane")]
    pub recheck_window: Duration,
}

impl Default for CanaryConfig {
    fn default() -> Self {
        CanaryConfig {
            every: 10,
            recheck_window: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// Verification quotas, BOINC's rule: a worker's submissions waiting for verification are
/// capped; the cap starts at `initial`, doubles with each accepted submission up to `max`,
/// and drops by one (never below one) with each false claim (a submission rejected as
/// `not_better`, `not_reproduced`, `crash`, `timeout` or `unverifiable`) and each idea
/// lease let expire. The stake: workers with no accepted submission yet wait together, at
/// most `unproven_pool` of their submissions at a time on the whole hub, however many
/// identities they are (0: no such cap).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuotaConfig {
    pub initial: u32,
    pub max: u32,
    pub unproven_pool: u32,
}

impl Default for QuotaConfig {
    fn default() -> Self {
        QuotaConfig {
            initial: 2,
            max: 32,
            unproven_pool: 16,
        }
    }
}

impl QuotaConfig {
    /// The cap of an identity nothing has happened to yet.
    pub fn start(&self) -> u32 {
        self.initial.clamp(1, self.max.max(1))
    }

    /// The cap after an accepted submission.
    pub fn grown(&self, cap: u32) -> u32 {
        cap.saturating_mul(2).clamp(1, self.max.max(1))
    }

    /// The cap after `times` false claims or expired leases.
    pub fn shrunk(&self, cap: u32, times: u32) -> u32 {
        cap.saturating_sub(times).max(1)
    }
}

/// Readers without an identity, on a hub whose reads are public: their answers may be
/// cached by browsers and proxies for `max_age` (`Cache-Control: public`; "0s" keeps them
/// fresh), and each source address (an IPv6 /64) may make `burst` requests at once,
/// refilled at `per_second` (429 with `Retry-After` beyond).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnonymousConfig {
    #[serde(deserialize_with = "humane")]
    pub max_age: Duration,
    pub burst: u32,
    pub per_second: f64,
}

impl Default for AnonymousConfig {
    fn default() -> Self {
        AnonymousConfig {
            max_age: Duration::from_secs(10),
            burst: 60,
            per_second: 5.0,
        }
    }
}

impl AnonymousConfig {
    /// The token bucket of one source address.
    pub fn rate_limit(&self) -> RateLimitConfig {
        RateLimitConfig {
            burst: self.burst,
            per_second: self.per_second,
        }
    }
}

/// A token bucket: `burst` requests at once, refilled at `per_second`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    pub burst: u32,
    pub per_second: f64,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            burst: 120,
            per_second: 20.0,
        }
    }
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            data_dir: PathBuf::from("swarmlab-hub"),
            database_url: None,
            listen: "127.0.0.1:7878".to_string(),
            open_registration: true,
            registration: RegistrationConfig::default(),
            max_request_bytes: 48 << 20,
            max_bundle_bytes: 32 << 20,
            max_log_bytes: 4 << 20,
            max_file_bytes: 1 << 20,
            max_bundle_objects: 2_000,
            max_bundle_inflated_bytes: 64 << 20,
            git_timeout: Duration::from_secs(20),
            idea_lease: Duration::from_secs(30 * 60),
            job_lease: Duration::from_secs(2 * 60 * 60),
            sweep_interval: Duration::from_secs(10),
            stale_depth: 8,
            unverifiable_after: 3,
            idea_similarity: swarmlab_core::likeness::DEFAULT_THRESHOLD,
            rate_limit: RateLimitConfig::default(),
            public_read: true,
            anonymous: AnonymousConfig::default(),
            quota: QuotaConfig::default(),
            canary: CanaryConfig::default(),
        }
    }
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("failed to read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("failed to parse {origin}: {message}")]
    Invalid { origin: String, message: String },
}

/// Environment variable (after the prefix) → key in the TOML document.
const ENV_KEYS: &[(&str, &[&str])] = &[
    ("DATA_DIR", &["data_dir"]),
    ("DATABASE_URL", &["database_url"]),
    ("LISTEN", &["listen"]),
    ("OPEN_REGISTRATION", &["open_registration"]),
    ("REGISTRATION_MODE", &["registration", "mode"]),
    ("REGISTRATION_PER_ADDRESS", &["registration", "per_address"]),
    (
        "REGISTRATION_PER_ADDRESS_PER_HOUR",
        &["registration", "per_address_per_hour"],
    ),
    ("MAX_REQUEST_BYTES", &["max_request_bytes"]),
    ("MAX_BUNDLE_BYTES", &["max_bundle_bytes"]),
    ("MAX_LOG_BYTES", &["max_log_bytes"]),
    ("MAX_FILE_BYTES", &["max_file_bytes"]),
    ("MAX_BUNDLE_OBJECTS", &["max_bundle_objects"]),
    ("MAX_BUNDLE_INFLATED_BYTES", &["max_bundle_inflated_bytes"]),
    ("GIT_TIMEOUT", &["git_timeout"]),
    ("IDEA_LEASE", &["idea_lease"]),
    ("JOB_LEASE", &["job_lease"]),
    ("SWEEP_INTERVAL", &["sweep_interval"]),
    ("STALE_DEPTH", &["stale_depth"]),
    ("UNVERIFIABLE_AFTER", &["unverifiable_after"]),
    ("IDEA_SIMILARITY", &["idea_similarity"]),
    ("RATE_LIMIT_BURST", &["rate_limit", "burst"]),
    ("RATE_LIMIT_PER_SECOND", &["rate_limit", "per_second"]),
    ("PUBLIC_READ", &["public_read"]),
    ("ANONYMOUS_MAX_AGE", &["anonymous", "max_age"]),
    ("ANONYMOUS_BURST", &["anonymous", "burst"]),
    ("ANONYMOUS_PER_SECOND", &["anonymous", "per_second"]),
    ("QUOTA_INITIAL", &["quota", "initial"]),
    ("QUOTA_MAX", &["quota", "max"]),
    ("QUOTA_UNPROVEN_POOL", &["quota", "unproven_pool"]),
    ("CANARY_EVERY", &["canary", "every"]),
    ("CANARY_RECHECK_WINDOW", &["canary", "recheck_window"]),
];

impl HubConfig {
    /// Who may register as a worker: `registration.mode`, unless `open_registration =
    /// false` closed it.
    pub fn registration_mode(&self) -> RegistrationMode {
        if self.open_registration {
            self.registration.mode
        } else {
            RegistrationMode::Closed
        }
    }

    /// Reads `path` (when given), then applies `SWARMLAB_HUB_*` variables from the process
    /// environment.
    pub fn from_file_and_env(path: Option<&Path>) -> Result<HubConfig, ConfigError> {
        let text = match path {
            Some(path) => {
                Some(
                    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                        path: path.to_path_buf(),
                        source,
                    })?,
                )
            }
            None => None,
        };
        let origin = path.map_or("hub config".to_string(), |p| p.display().to_string());
        Self::from_sources(text.as_deref(), &origin, |key| std::env::var(key).ok())
    }

    /// [`HubConfig::from_file_and_env`] with the file's text and the environment given.
    pub fn from_sources(
        text: Option<&str>,
        origin: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<HubConfig, ConfigError> {
        let invalid = |origin: &str, message: String| ConfigError::Invalid {
            origin: origin.to_string(),
            message,
        };
        let mut doc: toml::Table = match text {
            Some(text) => text
                .parse()
                .map_err(|e: toml::de::Error| invalid(origin, e.message().to_string()))?,
            None => toml::Table::new(),
        };
        for (suffix, key) in ENV_KEYS {
            let name = format!("{ENV_PREFIX}{suffix}");
            let Some(raw) = env(&name) else { continue };
            let value = format!("v = {raw}")
                .parse::<toml::Table>()
                .ok()
                .and_then(|mut t| t.remove("v"))
                .unwrap_or(toml::Value::String(raw));
            let mut table = &mut doc;
            for part in &key[..key.len() - 1] {
                let entry = table
                    .entry(part.to_string())
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()));
                table = entry
                    .as_table_mut()
                    .ok_or_else(|| invalid(&name, format!("`{part}` is not a table")))?;
            }
            table.insert(key[key.len() - 1].to_string(), value);
        }
        doc.try_into()
            .map_err(|e: toml::de::Error| invalid(origin, e.message().to_string()))
    }

    /// The database the hub keeps its state in; an error names a URL that cannot be one.
    pub fn database(&self) -> Result<Database, StoreError> {
        Database::resolve(self.database_url.as_deref(), &self.data_dir)
    }

    /// The hub's secret signing key.
    pub fn key_path(&self) -> PathBuf {
        self.data_dir.join("hub.key")
    }

    /// The git repository of a track.
    pub fn track_repo(&self, track: &str) -> PathBuf {
        self.data_dir.join("tracks").join(track)
    }

    /// Scratch space for bundles and quarantines in flight.
    pub fn scratch_dir(&self) -> PathBuf {
        self.data_dir.join("tmp")
    }

    /// How old a scratch entry must be for the periodic sweep to take it for a leftover:
    /// well past the longest any request keeps one.
    pub fn scratch_max_age(&self) -> Duration {
        self.git_timeout.saturating_mul(2) + Duration::from_secs(600)
    }
}

fn humane<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    swarmlab_core::spec::parse_duration(&text).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_overrides_the_file() {
        let text = "listen = \"0.0.0.0:9000\"\nidea_lease = \"5m\"\n[rate_limit]\nburst = 3\n";
        let config = HubConfig::from_sources(Some(text), "hub.toml", |key| match key {
            "SWARMLAB_HUB_OPEN_REGISTRATION" => Some("false".into()),
            "SWARMLAB_HUB_JOB_LEASE" => Some("90s".into()),
            "SWARMLAB_HUB_RATE_LIMIT_PER_SECOND" => Some("0.5".into()),
            "SWARMLAB_HUB_DATA_DIR" => Some("/var/lib/hub".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(config.listen, "0.0.0.0:9000");
        assert_eq!(config.idea_lease, Duration::from_secs(300));
        assert_eq!(config.job_lease, Duration::from_secs(90));
        assert!(!config.open_registration);
        assert_eq!(config.rate_limit.burst, 3);
        assert_eq!(config.rate_limit.per_second, 0.5);
        assert_eq!(config.data_dir, PathBuf::from("/var/lib/hub"));
    }

    #[test]
    fn the_database_is_hub_db_unless_the_file_or_the_environment_names_one() {
        let none = HubConfig::from_sources(Some("data_dir = \"/d\"\n"), "t", |_| None).unwrap();
        assert_eq!(none.database().unwrap().display_url(), "sqlite:///d/hub.db");
        let text = "database_url = \"postgres://hub:secret@db:5432/hub\"\n";
        let file = HubConfig::from_sources(Some(text), "t", |_| None).unwrap();
        assert_eq!(
            file.database().unwrap().display_url(),
            "postgres://hub:***@db:5432/hub"
        );
        let env = HubConfig::from_sources(Some(text), "t", |k| {
            (k == "SWARMLAB_HUB_DATABASE_URL").then(|| "sqlite:///srv/hub.db".into())
        })
        .unwrap();
        assert_eq!(
            env.database().unwrap().display_url(),
            "sqlite:///srv/hub.db"
        );
    }

    #[test]
    fn a_quota_doubles_to_its_max_and_drops_by_one_to_one() {
        let q = HubConfig::from_sources(Some("[quota]\ninitial = 3\nmax = 10\n"), "t", |k| {
            (k == "SWARMLAB_HUB_QUOTA_INITIAL").then(|| "2".into())
        })
        .unwrap()
        .quota;
        assert_eq!(q.start(), 2);
        assert_eq!([q.grown(2), q.grown(8), q.grown(10)], [4, 10, 10]);
        assert_eq!(
            [
                q.shrunk(4, 1),
                q.shrunk(2, 1),
                q.shrunk(1, 1),
                q.shrunk(9, 20)
            ],
            [3, 1, 1, 1]
        );
    }

    #[test]
    fn registration_is_open_unless_a_mode_or_the_older_switch_says_otherwise() {
        let mode = |text: &str| {
            HubConfig::from_sources(Some(text), "t", |_| None)
                .unwrap()
                .registration_mode()
        };
        assert_eq!(mode(""), RegistrationMode::Open);
        assert_eq!(
            mode("[registration]\nmode = \"invite\"\n"),
            RegistrationMode::Invite
        );
        assert_eq!(
            mode("open_registration = false\n"),
            RegistrationMode::Closed
        );
        let err = HubConfig::from_sources(Some("[registration]\nmode = \"ajar\"\n"), "t", |_| None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("ajar"), "{err}");
    }

    #[test]
    fn reads_are_public_unless_the_config_closes_them() {
        let config = |text: &str| HubConfig::from_sources(Some(text), "hub.toml", |_| None);
        let open = config("").unwrap();
        assert!(open.public_read);
        assert_eq!(open.anonymous.max_age, Duration::from_secs(10));
        let closed =
            config("public_read = false\n[anonymous]\nmax_age = \"0s\"\nburst = 3\n").unwrap();
        assert!(!closed.public_read);
        assert_eq!(closed.anonymous.max_age, Duration::ZERO);
        assert_eq!(closed.anonymous.rate_limit().burst, 3);
        let from_env = HubConfig::from_sources(None, "t", |k| {
            (k == "SWARMLAB_HUB_PUBLIC_READ").then(|| "false".into())
        })
        .unwrap();
        assert!(!from_env.public_read);
        let err = config("public_read = \"sometimes\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("hub.toml") && err.contains("bool"), "{err}");
        let err = config("[anonymous]\nmax_age = \"soon\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("soon"), "{err}");
    }

    #[test]
    fn an_unknown_key_is_an_error_that_names_it() {
        let err = HubConfig::from_sources(Some("lisen = \"x\""), "hub.toml", |_| None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("lisen"), "{err}");
    }
}
