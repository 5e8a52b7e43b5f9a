//! `tinygpt`: train or evaluate a small byte-level GPT and print the autoresearch summary.
//!
//! Trusted entry point. Usage:
//!   tinygpt train [--data FILE] [--checkpoint PATH]
//!   tinygpt eval --checkpoint PATH [--data FILE] [--holdout-seed N]
//!   tinygpt serve-logits [--checkpoint PATH]   (swarmlab's logits protocol on stdin/stdout)
//!   tinygpt tokens [--holdout-seed N]          (the validation text on stdout)
//! Environment: SWARMLAB_BUDGET_SECONDS | SWARMLAB_BUDGET_STEPS | SWARMLAB_BUDGET_TOKENS,
//! SWARMLAB_SEED (default 1337), SWARMLAB_RUN_DIR (checkpoint directory), SWARMLAB_EVAL_SEED
//! (the holdout seed of `tokens` when no flag gives one), RAYON_NUM_THREADS, TINYGPT_KNOBS_FROM
//! (a copy of `src/train.rs` whose constants replace the compiled ones: swarmlab's efficacy
//! bench alone sets it, see `train.rs`).
//! Exit codes: 0 success (also when training diverged: the summary then says `val_bpb: nan`),
//! 1 runtime failure, 2 usage error.
mod budget;
mod data;
mod eval;
mod model;
mod ops;
mod rng;
mod serve;
mod train;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use budget::Budget;
use data::Corpus;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const DEFAULT_SEED: u64 = 1337;

const USAGE: &str = "usage:
  tinygpt train [--data FILE] [--checkpoint PATH]
  tinygpt eval --checkpoint PATH [--data FILE] [--holdout-seed N]
  tinygpt serve-logits [--checkpoint PATH]
  tinygpt tokens [--holdout-seed N]";

const COMMANDS: [&str; 4] = ["train", "eval", "serve-logits", "tokens"];

#[derive(Debug, Default)]
struct Args {
    command: String,
    data: Option<PathBuf>,
    checkpoint: Option<PathBuf>,
    holdout_seed: Option<u64>,
}

fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut args = Args {
        command: it.next().ok_or("missing command")?,
        ..Args::default()
    };
    if !COMMANDS.contains(&args.command.as_str()) {
        return Err(format!("unknown command `{}`", args.command));
    }
    let takes = |flag: &str| match args.command.as_str() {
        "train" => ["--data", "--checkpoint"].contains(&flag),
        "eval" => ["--data", "--checkpoint", "--holdout-seed"].contains(&flag),
        "serve-logits" => flag == "--checkpoint",
        _ => flag == "--holdout-seed",
    };
    while let Some(flag) = it.next() {
        if !takes(&flag) {
            return Err(format!("unexpected argument `{flag}`"));
        }
        let mut value = || it.next().ok_or(format!("`{flag}` needs a value"));
        match flag.as_str() {
            "--data" => args.data = Some(PathBuf::from(value()?)),
            "--checkpoint" => args.checkpoint = Some(PathBuf::from(value()?)),
            "--holdout-seed" => {
                let v = value()?;
                args.holdout_seed = Some(
                    v.parse()
                        .map_err(|_| format!("invalid --holdout-seed `{v}`"))?,
                );
            }
            _ => return Err(format!("unexpected argument `{flag}`")),
        }
    }
    if args.command == "eval" && args.checkpoint.is_none() {
        return Err("`eval` needs --checkpoint PATH".into());
    }
    if args.data.is_some() && args.holdout_seed.is_some() {
        return Err("--data and --holdout-seed exclude each other".into());
    }
    Ok(args)
}

fn seed_from_env() -> Result<u64, String> {
    match std::env::var("SWARMLAB_SEED") {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse()
            .map_err(|_| format!("invalid SWARMLAB_SEED={v:?}: expected an integer")),
        _ => Ok(DEFAULT_SEED),
    }
}

fn default_checkpoint() -> PathBuf {
    match std::env::var_os("SWARMLAB_RUN_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir).join("checkpoint.safetensors"),
        _ => PathBuf::from("target/checkpoint.safetensors"),
    }
}

/// Peak resident memory of this process in MB.
fn peak_memory_mb() -> f64 {
    // SAFETY: getrusage only writes into the zero-initialised struct we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return 0.0;
    }
    let max_rss = usage.ru_maxrss as f64;
    if cfg!(target_os = "macos") {
        max_rss / 1e6 // bytes
    } else {
        max_rss / 1024.0 // kilobytes
    }
}

fn load_corpus(args: &Args) -> Result<Corpus, String> {
    if let Some(path) = &args.data {
        let bytes = std::fs::read(path)
            .map_err(|e| format!("failed to read --data {}: {e}", path.display()))?;
        if bytes.len() < 1024 {
            return Err(format!(
                "--data {} is too small ({} bytes)",
                path.display(),
                bytes.len()
            ));
        }
        Ok(Corpus::from_text(bytes))
    } else if let Some(seed) = args.holdout_seed {
        Ok(Corpus::synthetic_holdout(seed))
    } else {
        Ok(Corpus::synthetic())
    }
}

fn fmt_floor(corpus: &Corpus) -> String {
    corpus
        .entropy_floor_bpb
        .map_or(String::new(), |f| format!("entropy_floor_bpb: {f:.6}\n"))
}

/// The holdout seed of `tokens`: the flag, else `SWARMLAB_EVAL_SEED`, else none (the public
/// validation text).
fn eval_seed(args: &Args) -> Result<Option<u64>, String> {
    if args.holdout_seed.is_some() {
        return Ok(args.holdout_seed);
    }
    match std::env::var("SWARMLAB_EVAL_SEED") {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| format!("invalid SWARMLAB_EVAL_SEED={v:?}: expected an integer")),
        _ => Ok(None),
    }
}

fn run(args: Args, started: Instant) -> Result<(), String> {
    train::use_knobs_from_env()?;
    let checkpoint = args.checkpoint.clone().unwrap_or_else(default_checkpoint);
    if args.command == "tokens" {
        let text = data::validation_text(&data::Language::new(), eval_seed(&args)?);
        let mut out = std::io::stdout().lock();
        return out
            .write_all(&text)
            .and_then(|()| out.flush())
            .map_err(|e| format!("failed to write the tokens: {e}"));
    }
    if args.command == "serve-logits" {
        let model = train::load(&checkpoint)
            .map_err(|e| format!("failed to load checkpoint {}: {e}", checkpoint.display()))?;
        eprintln!(
            "serving {} ({:.3}M parameters)",
            checkpoint.display(),
            model.num_params() as f64 / 1e6
        );
        return serve::serve(&model, std::io::stdin().lock(), std::io::stdout().lock());
    }
    let corpus = load_corpus(&args)?;
    if args.command == "eval" {
        let model = train::load(&checkpoint)
            .map_err(|e| format!("failed to load checkpoint {}: {e}", checkpoint.display()))?;
        let bpb = eval::bits_per_byte(&model, &corpus.val)
            .map_err(|e| format!("evaluation failed: {e}"))?;
        print!(
            "---\nval_bpb: {bpb:.6}\n{}total_seconds: {:.1}\npeak_memory_mb: {:.1}\n",
            fmt_floor(&corpus),
            started.elapsed().as_secs_f64(),
            peak_memory_mb()
        );
        return Ok(());
    }

    let budget = Budget::from_env()?;
    let seed = seed_from_env()?;
    println!(
        "data: {} training bytes, {} validation bytes, unigram entropy {:.3} bpb{}",
        corpus.train.len(),
        corpus.val.len(),
        data::unigram_entropy_bits(&corpus.val),
        corpus
            .entropy_floor_bpb
            .map_or(String::new(), |f| format!(", entropy floor {f:.3} bpb"))
    );
    println!(
        "budget: {:?}, seed {seed}, threads {}",
        budget.limit(),
        rayon::current_num_threads()
    );
    let trained =
        train::train(&corpus.train, &budget, seed).map_err(|e| format!("training failed: {e}"))?;
    let training_seconds = budget.elapsed();
    let bpb = if trained.diverged {
        f64::NAN
    } else {
        if let Some(dir) = checkpoint.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("failed to create {}: {e}", dir.display()))?;
        }
        trained
            .model
            .save(&checkpoint)
            .map_err(|e| format!("failed to write checkpoint {}: {e}", checkpoint.display()))?;
        eval::bits_per_byte(&trained.model, &corpus.val)
            .map_err(|e| format!("evaluation failed: {e}"))?
    };
    let bpb_text = if bpb.is_finite() {
        format!("{bpb:.6}")
    } else {
        "nan".to_string()
    };
    print!(
        "---\nval_bpb: {bpb_text}\n{}training_seconds: {training_seconds:.1}\ntotal_seconds: {:.1}\n\
         peak_memory_mb: {:.1}\nnum_steps: {}\nnum_params_M: {:.2}\ntokens_per_second: {:.0}\n",
        fmt_floor(&corpus),
        started.elapsed().as_secs_f64(),
        peak_memory_mb(),
        trained.steps,
        trained.model.num_params() as f64 / 1e6,
        trained.tokens as f64 / training_seconds.max(1e-9),
    );
    Ok(())
}

/// One pool of worker threads for everything: the fused ops, gemm (which parallelises over the
/// current rayon pool) and evaluation. candle's own spinning barrier pool for element-wise ops
/// is switched off (CANDLE_NUM_THREADS=1 unless the user set it): on a small machine its
/// spinning workers fight the rayon workers for the same cores.
fn thread_pool() -> Result<rayon::ThreadPool, String> {
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        // SAFETY: called at start-up before any other thread exists.
        unsafe { std::env::set_var("CANDLE_NUM_THREADS", "1") };
    }
    let threads = candle_core::utils::get_num_threads(); // RAYON_NUM_THREADS or physical cores
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| format!("failed to start {threads} worker threads: {e}"))
}

fn main() -> ExitCode {
    let started = Instant::now();
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = thread_pool().and_then(|pool| pool.install(|| run(args, started)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
