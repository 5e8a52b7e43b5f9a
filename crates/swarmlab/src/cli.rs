//! The command line.

use std::path::PathBuf;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueEnum};
use swarmlab_agent::choice::Kind;
use swarmlab_core::spec::Budget;
use swarmlab_proto::Role;
use swarmlab_tracks::Embedded;

const EXIT_CODES: &str = "\
Exit codes:
  0    success
  1    failure (the error message says which)
  2    wrong usage of the command line (a bad flag or value, a bad --tag, no such track folder,
       a missing or same-named program file of a contest)
  3    the track spec (swarmlab.toml) is missing or invalid (or names no program for a contest)
  4    the repository is not in a state swarmlab may work in (dirty tree, not a repository)
  5    the proposer cannot work: the agent is missing or its flags disagree with its --help,
       the model API refuses, or proposals in a row failed
  130  stopped by Ctrl-C or SIGTERM after cleaning up";

/// Autoresearch, made real: a harness that owns the experiment loop.
#[derive(Debug, Parser)]
#[command(name = "swarmlab", version, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a track: write an embedded track into a new git repository, or put a clone of
    /// karpathy/autoresearch on a hub (--track autoresearch)
    Init(InitArgs),
    /// Run the experiment loop on a track: baseline first, then propose, run, keep or discard
    Run(Box<RunArgs>),
    /// Write progress.svg and summary.md from a track's results
    Report(ReportArgs),
    /// Run program files against each other: for each, R runs of N experiments from the same
    /// baseline on branches of their own, then a ranking with confidence intervals
    Contest(Box<ContestArgs>),
    /// Inspect tracks
    Track {
        #[command(subcommand)]
        command: TrackCommand,
    },
    /// The hub of a swarm: tracks, submissions, verification, the verified chain
    Hub {
        #[command(subcommand)]
        command: HubCommand,
    },
    /// Work for a hub: run the loop against a track's verified head and submit what beats it
    Work(Box<WorkArgs>),
    /// Submit one commit to a hub as a signed candidate (its parent must be on the chain)
    Submit(SubmitArgs),
    /// Verify for a hub: re-run submitted candidates in the sandbox and report signed results
    Verify(VerifyArgs),
    /// A hub, two workers and a verifier on loopback, showing the chain grow (Ctrl-C stops)
    Demo(DemoArgs),
    /// Propose ideas for a hub's queue from documents (text, markdown, PDF, a repository's
    /// docs) and the track's history, each posted with the passage it cites
    Ideas(Box<IdeasArgs>),
    /// Check a hub's exported ledger offline: hashes, signatures, and every head move
    Audit(AuditArgs),
    /// The sandbox that verifiers run untrusted code in
    Sandbox {
        #[command(subcommand)]
        command: SandboxCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum HubCommand {
    /// Serve the hub's JSON API until Ctrl-C
    Serve(HubArgs),
    /// Create an admin identity and print its bearer token (shown once)
    AdminToken {
        #[command(flatten)]
        hub: HubArgs,
        /// A name for the admin
        #[arg(long, default_value = "admin")]
        name: String,
    },
    /// Add a track from a git repository on this machine, pinned at a baseline revision
    AddTrack {
        #[command(flatten)]
        hub: HubArgs,
        /// The track's repository (swarmlab.toml at its root)
        repo: PathBuf,
        /// The baseline revision; the head starts there
        #[arg(long, default_value = "HEAD")]
        baseline: String,
    },
    /// Create a verifier (or worker, or admin) identity for a key and print its token
    AddIdentity {
        #[command(flatten)]
        hub: HubArgs,
        /// What the identity may do
        #[arg(long, value_parser = PossibleValuesParser::new(["worker", "verifier", "admin"])
            .map(|role| Role::parse(&role).expect("clap allows only the roles listed")))]
        role: Role,
        /// A name shown on the leaderboard
        #[arg(long)]
        name: String,
        /// The identity's ed25519 public key, 64 hex digits (`swarmlab verify` prints it)
        #[arg(long)]
        public_key: Option<String>,
    },
    /// Make a verified submission a canary: a known answer that verifiers get among their
    /// jobs; one that decides it wrong is suspended and its recent verdicts re-checked
    AddCanary {
        #[command(flatten)]
        hub: HubArgs,
        /// The submission's id
        submission: i64,
        /// The right verdict: `accept` (a known improvement) or `reject` (a known cheat)
        #[arg(long, value_parser = ["accept", "reject"])]
        expect: String,
        /// What the canary is, for maintainers
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Make invite codes for workers to register with (`registration.mode = "invite"`); each
    /// is printed once and used once
    Invite {
        #[command(flatten)]
        hub: HubArgs,
        /// How many codes
        #[arg(long, default_value_t = 1)]
        count: u32,
        /// How long each stays usable, e.g. `7d` (default: until used)
        #[arg(long, value_parser = parse_duration)]
        expires: Option<std::time::Duration>,
    },
    /// Let a verifier that a canary suspended take jobs again
    Reinstate {
        #[command(flatten)]
        hub: HubArgs,
        /// The verifier's identity id
        verifier: String,
    },
}

#[derive(Debug, Args)]
pub struct WorkArgs {
    /// The hub's address, e.g. http://127.0.0.1:7878
    #[arg(long, env = "SWARMLAB_HUB")]
    pub hub: String,
    /// The track to work on
    #[arg(long)]
    pub track: String,
    /// Where the worker keeps its identity and its copy of the track
    #[arg(long, default_value = "swarmlab-work")]
    pub dir: PathBuf,
    /// The name the worker registers under
    #[arg(long, default_value = "worker")]
    pub name: String,
    /// An invite code from the hub's admin, where the hub registers workers by invite; with
    /// --devices, one code per worker not yet registered, separated by commas
    #[arg(long, env = "SWARMLAB_INVITE")]
    pub invite: Option<String>,
    /// Seed of the proposer
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Stop after this many experiments (baselines not counted); default: never
    #[arg(long, short = 'n', allow_negative_numbers = true, value_parser = parse_count)]
    pub experiments: Option<u64>,
    /// Override the track's budget for local runs: a duration ("20s"), "400steps" or
    /// "1000000tokens"
    #[arg(long, value_parser = parse_budget)]
    pub budget: Option<Budget>,
    /// A trusted build of the track's baseline (a verifier's, DIR/trees/baseline/<tree id>/target)
    /// to copy into the track's build folder before the first build, so that it starts warm
    #[arg(long, value_name = "DIR")]
    pub build_from: Option<PathBuf>,
    /// The NVIDIA GPU the runs use, by device minor (/dev/nvidia0 is 0): CUDA_VISIBLE_DEVICES
    /// names it in every run's environment
    #[arg(long, value_name = "N")]
    pub gpu: Option<u32>,
    /// One worker per device from this process, each named NAME-DEVICE with a folder of its
    /// own under --dir: GPU ids (`0,1`, `cuda:0-3`, each handed over as --gpu would) or CPU
    /// cores (`cpu:0-7/2`, each worker pinned to its cores)
    #[arg(long, value_name = "LIST", value_parser = parse_devices, conflicts_with = "gpu")]
    pub devices: Option<String>,
    #[command(flatten)]
    pub proposer: ProposerArgs,
}

#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// The hub's address, e.g. http://127.0.0.1:7878
    #[arg(long, env = "SWARMLAB_HUB")]
    pub hub: String,
    /// The track to submit to
    #[arg(long)]
    pub track: String,
    /// The commit to submit; its parent must be the track's head or a recent chain commit
    #[arg(default_value = "HEAD")]
    pub rev: String,
    /// The repository holding the commit
    #[arg(long, default_value = ".")]
    pub repo: PathBuf,
    /// Where the worker identity lives (registered on first use)
    #[arg(long, default_value = "swarmlab-work")]
    pub dir: PathBuf,
    /// The name the identity registers under
    #[arg(long, default_value = "worker")]
    pub name: String,
    /// An invite code from the hub's admin, where the hub registers workers by invite
    #[arg(long, env = "SWARMLAB_INVITE")]
    pub invite: Option<String>,
    /// The metric you measured (a hint for scheduling; verifiers measure for themselves)
    #[arg(long)]
    pub claim: Option<f64>,
    /// The idea from the queue this commit tries
    #[arg(long)]
    pub idea: Option<i64>,
    /// A run log to attach
    #[arg(long)]
    pub log: Option<PathBuf>,
    /// Follow the submission until its verdict
    #[arg(long)]
    pub wait: bool,
}

#[derive(Debug, Args)]
pub struct IdeasArgs {
    /// The hub's address, e.g. http://127.0.0.1:7878
    #[arg(long, env = "SWARMLAB_HUB")]
    pub hub: String,
    /// The track whose queue the ideas go to
    #[arg(long)]
    pub track: String,
    /// A bearer token of any identity of the hub (not needed with --dry-run)
    #[arg(long, env = "SWARMLAB_TOKEN", required_unless_present = "dry_run")]
    pub token: Option<String>,
    /// Files (.txt, .md, .pdf) or folders of them, e.g. a folder of papers or a repository
    #[arg(long, num_args = 1.., required = true)]
    pub sources: Vec<PathBuf>,
    /// The chat model that proposes the ideas
    #[arg(long)]
    pub model: String,
    /// Base URL of an OpenAI-compatible API (a local llama.cpp, vLLM or Ollama server works)
    #[arg(long, default_value = swarmlab_agent::openai::DEFAULT_BASE_URL)]
    pub base_url: String,
    /// The environment variable holding the API key
    #[arg(long, default_value = swarmlab_agent::openai::DEFAULT_KEY_ENV)]
    pub api_key_env: String,
    /// The most ideas to post
    #[arg(long, default_value_t = 10)]
    pub max_ideas: usize,
    /// Print the ideas without posting them
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The hub's address, e.g. http://127.0.0.1:7878
    #[arg(long, env = "SWARMLAB_HUB")]
    pub hub: String,
    /// Where the verifier keeps its identity, its copy of the code and its runs
    #[arg(long, default_value = "swarmlab-verifier")]
    pub dir: PathBuf,
    /// The token `swarmlab hub add-identity` printed for this verifier's key (first start)
    #[arg(long, env = "SWARMLAB_VERIFIER_TOKEN")]
    pub token: Option<String>,
    /// The hardware class reported with every measurement (default: the model of the --gpu,
    /// else the CPU model and count)
    #[arg(long)]
    pub hardware_class: Option<String>,
    /// Run candidates in the sandbox: on (refuse to start unless its self-test passes in
    /// --dir; `auto` is the same), off (trusted code only: every report says so)
    #[arg(long, value_enum, default_value_t = SandboxMode::On)]
    pub sandbox: SandboxMode,
    /// The bubblewrap binary
    #[arg(long, default_value = "/usr/bin/bwrap")]
    pub bwrap: PathBuf,
    /// The unprivileged host uid (and gid) sandboxed programs run as
    #[arg(long, default_value_t = 65534)]
    pub uid: u32,
    /// The NVIDIA GPU this verifier's runs use, by device minor (/dev/nvidia0 is 0): the
    /// sandbox binds its node and the driver's shared ones (/dev/nvidiactl, /dev/nvidia-uvm,
    /// /dev/nvidia-uvm-tools, as present), and CUDA_VISIBLE_DEVICES names it
    #[arg(long, value_name = "N")]
    pub gpu: Option<u32>,
    /// A further device node the sandbox binds as it is, e.g. another accelerator's (repeat
    /// for several); --gpu is the way for an NVIDIA GPU
    #[arg(long = "device", value_name = "PATH")]
    pub devices: Vec<PathBuf>,
    /// One verifier per device from this process, one job each, sharing this verifier's
    /// identity, each with a folder of its own under --dir: GPU ids (`0,1`, `cuda:0-3`, each
    /// bound as --gpu would) or CPU cores (`cpu:0-7/2`, each verifier pinned to its cores)
    #[arg(long = "devices", id = "device_list", value_name = "LIST", value_parser = parse_devices, conflicts_with = "gpu")]
    pub device_list: Option<String>,
    /// Memory cap of each sandboxed run, in MiB
    #[arg(long, default_value_t = 8192)]
    pub memory_mb: u64,
    /// The largest file a sandboxed run may write, in MiB
    #[arg(long, default_value_t = 4096)]
    pub file_mb: u64,
    /// Stop after this many jobs; default: never
    #[arg(long)]
    pub jobs: Option<u64>,
    /// Override the track's budget for both head and candidate: a duration ("20s"),
    /// "400steps" or "1000000tokens" (test hubs, demos)
    #[arg(long, value_parser = parse_budget)]
    pub budget: Option<Budget>,
    /// Build this track's baseline before leasing the first job (repeat for more tracks), so
    /// that jobs start warm
    #[arg(long, value_name = "TRACK")]
    pub warm: Vec<String>,
    /// The Python interpreter the environments of Python tracks (run.toolchain = "python")
    /// are made from; sandboxed runs see it, so it must be installed under /usr
    #[arg(long, env = "SWARMLAB_PYTHON", default_value = "/usr/bin/python3")]
    pub python: PathBuf,
}

/// Whether a verifier runs candidates in the sandbox. There is no fallback: without a
/// working sandbox a verifier refuses to start unless told `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SandboxMode {
    /// The sandbox, or no start (`auto`, which once fell back to unsandboxed runs, means on)
    #[value(alias = "auto")]
    On,
    /// No sandbox: trusted code only
    Off,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Which embedded track the swarm works on: toy (fast and synthetic: the chain grows
    /// within a minute) or tinygpt (the byte-level GPT: builds first, each run takes its budget)
    #[arg(long, default_value = "toy", value_parser = PossibleValuesParser::new(["toy", "tinygpt"])
        .map(|name| Embedded::from_str(&name, true).expect("clap allows only the tracks listed")))]
    pub track: Embedded,
    /// Where the hub, workers and verifier keep their state (default: a new temporary folder)
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// The hub's address
    #[arg(long, default_value = "127.0.0.1:7878")]
    pub listen: String,
    /// The hub's database (default: a SQLite file in the demo's folder), as `hub serve`
    #[arg(long, env = "SWARMLAB_DATABASE_URL")]
    pub database_url: Option<String>,
    /// How many workers to start
    #[arg(long, default_value_t = 2)]
    pub workers: u32,
    /// Stop after this long, e.g. "2m"; default: at Ctrl-C
    #[arg(long = "for", value_parser = parse_duration)]
    pub for_: Option<std::time::Duration>,
    /// Stop once the chain has this many verified commits after the baseline
    #[arg(long)]
    pub commits: Option<u32>,
    /// The verifier's sandbox: on (refuse to start without it; `auto` is the same), off (the
    /// demo's own candidates run unsandboxed, and every report says so)
    #[arg(long, value_enum, default_value_t = SandboxMode::On)]
    pub sandbox: SandboxMode,
    /// The bubblewrap binary of the verifier's sandbox
    #[arg(long, default_value = "/usr/bin/bwrap")]
    pub bwrap: PathBuf,
    /// Override the track's budget for workers and verifier alike: a duration ("20s"),
    /// "400steps" or "1000000tokens" (default for tinygpt: 300steps)
    #[arg(long, value_parser = parse_budget)]
    pub budget: Option<Budget>,
    /// Pairs of reruns the verifier starts each job with (the track's `[verify] reruns`, at
    /// least 2): fewer is cheaper verification
    #[arg(long, value_parser = clap::value_parser!(u32).range(2..))]
    pub reruns: Option<u32>,
    /// The most pairs of reruns a promising candidate may get (the track's
    /// `[verify] max_reruns`)
    #[arg(long, value_parser = clap::value_parser!(u32).range(2..))]
    pub max_reruns: Option<u32>,
}

#[derive(Debug, Args)]
pub struct HubArgs {
    /// A TOML configuration file (SWARMLAB_HUB_* variables override it)
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Where the hub keeps its database, key and track repositories
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// The hub's database: sqlite://PATH (default: hub.db in the data folder) or
    /// postgres://USER:PASSWORD@HOST:PORT/NAME
    #[arg(long, env = "SWARMLAB_DATABASE_URL")]
    pub database_url: Option<String>,
    /// The address to listen on, e.g. 127.0.0.1:7878
    #[arg(long)]
    pub listen: Option<String>,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// The ledger, as exported by GET /api/v1/tracks/{track}/ledger
    pub ledger: PathBuf,
    /// The hub's public key (hex), as GET /api/v1/hub shows it
    #[arg(long)]
    pub key: String,
}

#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Try every layer of the sandbox on this machine and name the first that fails
    Check(SandboxCheckArgs),
}

#[derive(Debug, Args)]
pub struct SandboxCheckArgs {
    /// Run the test in this folder (a verifier's --dir), so that it also checks that the
    /// sandbox's user can reach it; default: the temporary folder
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// The bubblewrap binary
    #[arg(long, default_value = "/usr/bin/bwrap")]
    pub bwrap: PathBuf,
    /// The unprivileged host uid (and gid) sandboxed programs run as
    #[arg(long, default_value_t = 65534)]
    pub uid: u32,
}

#[derive(Debug, Subcommand)]
pub enum TrackCommand {
    /// Validate DIR/swarmlab.toml and print what was understood
    Check {
        /// The track's folder
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to create the track (created if missing; must be empty). For autoresearch: the
    /// existing clone to put on a hub (one commit; its setup must have trained the tokenizer)
    #[arg(default_value = "tinygpt")]
    pub dir: PathBuf,
    /// Which embedded track to write
    #[arg(long, value_enum, default_value_t = Embedded::Tinygpt)]
    pub track: Embedded,
    /// Only write a fully commented swarmlab.toml into DIR (an existing repository)
    #[arg(long, conflicts_with = "track")]
    pub spec_only: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The track's folder (a git repository with swarmlab.toml at its root)
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Work on branch swarmlab/<TAG>
    #[arg(long, default_value = "main")]
    pub tag: String,
    /// Stop after this many experiments (the baseline not counted); default: never
    #[arg(long, short = 'n', allow_negative_numbers = true, value_parser = parse_count)]
    pub experiments: Option<u64>,
    /// Stop starting experiments after this long, e.g. "8h" or "30m"
    #[arg(long = "for", value_parser = parse_duration)]
    pub for_: Option<std::time::Duration>,
    #[command(flatten)]
    pub proposer: ProposerArgs,
    /// Draft the next change in a side worktree while an experiment runs (auto: on for the
    /// command and openai proposers, whose proposals take time)
    #[arg(long, value_enum, default_value_t = Pipeline::Auto)]
    pub pipeline: Pipeline,
    /// An idea every proposal is asked to try
    #[arg(long)]
    pub idea: Option<String>,
    /// Seed of the proposer (and of experiments when the track fixes none)
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Override the track's budget: a duration ("20s"; the timeout grows to keep its
    /// margin), "400steps" or "1000000tokens"
    #[arg(long, value_parser = parse_budget)]
    pub budget: Option<Budget>,
    /// Successive halving: run every change first at this fraction of the budget (0.25) and
    /// in full only when that screen is among the best third so far (docs/agents.md)
    #[arg(long, value_name = "FRACTION", value_parser = parse_fraction, conflicts_with_all = ["parallel", "devices"])]
    pub screen: Option<f64>,
    /// Skip the track's setup step
    #[arg(long)]
    pub no_setup: bool,
    /// Keep N experiments in flight at once, one per slot, each drafted in a worktree of its
    /// own from the best known then (default: one per device of --devices, else 1)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub parallel: Option<u32>,
    /// The devices the slots run on, in turn: GPU ids (`0,1,2,3`, `cuda:0-7`), or CPU cores
    /// (`cpu:0-7` one slot per core, `cpu:0-7/2` one per two, `cpu` this machine's cores
    /// split into --parallel slots). The track's [devices] section says how a run gets its
    /// device (default CUDA_VISIBLE_DEVICES; on CPU the run is pinned to its cores)
    #[arg(long, value_name = "LIST", value_parser = parse_devices)]
    pub devices: Option<String>,
}

#[derive(Debug, Args)]
pub struct ContestArgs {
    /// The track's folder (a git repository with swarmlab.toml at its root and a
    /// `[track] program` file)
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// The program files that compete, two or more; each is copied over the track's program
    /// on its runs' branches and named by its file name without `.md`
    #[arg(long, num_args = 2.., required_unless_present = "evolve", value_name = "FILE")]
    pub programs: Vec<PathBuf>,
    /// Independent runs of each program; run r of every program uses the same seed
    #[arg(long, value_name = "R", value_parser = parse_positive)]
    pub runs: u32,
    /// Experiments in each run (the baseline not counted)
    #[arg(long, short = 'n', value_name = "N", value_parser = parse_positive)]
    pub experiments: u32,
    /// Seed of run 1 (run r uses SEED + r - 1)
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Override the track's budget: a duration ("20s"), "400steps" or "1000000tokens"
    #[arg(long, value_parser = parse_budget)]
    pub budget: Option<Budget>,
    /// Skip the track's setup step
    #[arg(long)]
    pub no_setup: bool,
    #[command(flatten)]
    pub proposer: ProposerArgs,
    /// Instead of --programs: ROUNDS rounds of the track's program against variants of it
    /// that the writer drafts; a variant that wins clearly is committed (docs/contest.md)
    #[arg(long, value_name = "ROUNDS", value_parser = parse_positive, conflicts_with = "programs")]
    pub evolve: Option<u32>,
    /// Variants the writer drafts each round [default: 2]
    #[arg(long, value_name = "K", value_parser = parse_positive, conflicts_with = "programs")]
    pub variants: Option<u32>,
    /// Who drafts the variants: script, command or openai, with that proposer's flags
    /// (default: the --proposer)
    #[arg(long, value_enum, conflicts_with = "programs")]
    pub writer: Option<Kind>,
    /// The shell command of a script writer, run in a folder with the program and WRITER.md
    #[arg(long, required_if_eq("writer", "script"), conflicts_with = "programs")]
    pub writer_script: Option<String>,
}

/// Which proposer makes each change, and its settings (`run`, `work` and `contest`).
#[derive(Debug, Clone, Args)]
pub struct ProposerArgs {
    /// Which proposer makes the next change
    #[arg(long = "proposer", id = "proposer", value_enum, default_value_t = Kind::Sweep)]
    pub name: Kind,
    /// The shell command of the script proposer
    #[arg(long, required_if_eq("proposer", "script"))]
    pub script: Option<String>,
    /// The coding agent of the command proposer: a preset (claude, codex, aider, gemini) or a
    /// command line with {prompt}, {prompt_file} or {files} placeholders
    #[arg(long, required_if_eq("proposer", "command"))]
    pub agent: Option<String>,
    /// How long the agent may work on one proposal
    #[arg(long, value_parser = parse_duration, default_value = "30m")]
    pub agent_timeout: std::time::Duration,
    /// The model of the openai proposer
    #[arg(long, required_if_eq("proposer", "openai"))]
    pub model: Option<String>,
    /// Base URL of an OpenAI-compatible API (a local llama.cpp, vLLM or Ollama server works)
    #[arg(long, default_value = swarmlab_agent::openai::DEFAULT_BASE_URL)]
    pub base_url: String,
    /// The environment variable holding the API key
    #[arg(long, default_value = swarmlab_agent::openai::DEFAULT_KEY_ENV)]
    pub api_key_env: String,
    /// How often a request is retried after a 429 or 5xx answer (with backoff)
    #[arg(long, default_value_t = 4)]
    pub api_retries: u32,
    /// Price of a million prompt tokens in US dollars, to log each proposal's cost
    #[arg(long, requires = "price_out")]
    pub price_in: Option<f64>,
    /// Price of a million completion tokens in US dollars
    #[arg(long, requires = "price_in")]
    pub price_out: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Pipeline {
    Auto,
    On,
    Off,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The track's folder
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// The results of branch swarmlab/<TAG>
    #[arg(long, default_value = "main")]
    pub tag: String,
    /// Where to write progress.svg and summary.md (default: the track's folder)
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Then serve the run's dashboard at ADDR (e.g. 127.0.0.1:7879), live, until Ctrl-C
    #[arg(long, value_name = "ADDR")]
    pub serve: Option<String>,
    /// Compare two runs of the track side by side instead: their best, keep rates and running
    /// best in one chart (compare-TAG1-TAG2.svg) and one table (printed, and in
    /// compare-TAG1-TAG2.md)
    #[arg(long, num_args = 2, value_names = ["TAG1", "TAG2"], conflicts_with_all = ["tag", "serve"])]
    pub compare: Vec<String>,
}

/// A count of runs or experiments for a contest: a whole number, 1 or more.
fn parse_positive(text: &str) -> Result<u32, String> {
    match text.trim().parse::<u32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!(
            "`{text}` is not a count: give a whole number, 1 or more"
        )),
    }
}

fn parse_fraction(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(f) if f > 0.0 && f < 1.0 => Ok(f),
        _ => Err(format!(
            "`{text}` is not a fraction of the budget: give a number between 0 and 1, e.g. 0.25"
        )),
    }
}

/// A device list that reads (`cpu` is split by --parallel later).
fn parse_devices(text: &str) -> Result<String, String> {
    swarmlab_loop::Device::parse_list(text, None).map(|_| text.to_string())
}

fn parse_budget(text: &str) -> Result<Budget, String> {
    text.parse()
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    swarmlab_core::spec::parse_duration(text)
}

/// A count of experiments: a whole number, 0 or more. A negative one is read as a value (not
/// as a flag, which would earn clap's `-- -1` tip) and refused here.
fn parse_count(text: &str) -> Result<u64, String> {
    text.trim().parse().map_err(|_| {
        format!("`{text}` is not a number of experiments: give a whole number, 0 or more (0 runs only the baseline)")
    })
}
