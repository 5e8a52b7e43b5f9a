//! The dependency rule of the workspace (crates/README.md), checked on the graph cargo
//! resolves: what each crate may never reach through its normal and build dependencies, however
//! indirectly. Dev-dependencies (test doubles, fixtures) are not part of what a crate ships and
//! are not followed. The graph is the host platform's: offline, cargo has no other platform's
//! crates to resolve. The size rules (the binary's line cap, the longest function) are
//! [`size`]'s.

mod size;

use std::collections::{BTreeMap, VecDeque};
use std::process::Command;

use serde_json::Value;

/// A name ending in `*` stands for every package whose name starts with what comes before it,
/// the crate itself excepted. `swarmlab-testkit` is for tests and benches only: no crate
/// reaches it but through a dev-dependency.
const RULES: &[(&str, &[&str])] = &[
    ("swarmlab", &["swarmlab-testkit"]),
    ("swarmlab-core", &["swarmlab*"]),
    ("swarmlab-proto", &["swarmlab-testkit"]),
    ("swarmlab-runner", &["swarmlab*"]),
    (
        "swarmlab-eval",
        &[
            "swarmlab-core",
            "swarmlab-agent",
            "swarmlab-proto",
            "swarmlab-loop",
            "swarmlab-client",
            "swarmlab-hub",
            "swarmlab-testkit",
        ],
    ),
    ("swarmlab-agent", &["swarmlab-testkit"]),
    (
        "swarmlab-tracks",
        &[
            "swarmlab-hub",
            "swarmlab-client",
            "swarmlab-eval",
            "swarmlab-testkit",
        ],
    ),
    (
        "swarmlab-loop",
        &["swarmlab-hub", "swarmlab-client", "swarmlab-testkit"],
    ),
    (
        "swarmlab-client",
        &["swarmlab-hub", "axum", "sqlx", "swarmlab-testkit"],
    ),
    (
        "swarmlab-hub",
        &[
            "swarmlab-runner",
            "swarmlab-agent",
            "swarmlab-eval",
            "swarmlab-loop",
            "swarmlab-client",
            "swarmlab-testkit",
        ],
    ),
];

/// The resolved graph: each package's name and the packages it depends on (not for tests).
struct Graph {
    names: BTreeMap<String, String>,
    deps: BTreeMap<String, Vec<String>>,
}

impl Graph {
    fn load() -> Graph {
        let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["metadata", "--format-version", "1", "--offline"])
            .args(["--filter-platform", &host()])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("cargo runs");
        assert!(
            out.status.success(),
            "cargo metadata failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let metadata: Value = serde_json::from_slice(&out.stdout).unwrap();
        let names = metadata["packages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (text(&p["id"]), text(&p["name"])))
            .collect();
        let deps = metadata["resolve"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|node| {
                let shipped = node["deps"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|dep| {
                        dep["dep_kinds"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|k| k["kind"].as_str() != Some("dev"))
                    })
                    .map(|dep| text(&dep["pkg"]))
                    .collect();
                (text(&node["id"]), shipped)
            })
            .collect();
        Graph { names, deps }
    }

    fn id(&self, name: &str) -> &str {
        self.names
            .iter()
            .find(|(_, n)| n.as_str() == name)
            .map(|(id, _)| id.as_str())
            .unwrap_or_else(|| panic!("no package {name} in the workspace"))
    }

    /// Every package `from` reaches, with the path it is reached by (breadth first: shortest).
    fn reached(&self, from: &str) -> Vec<Vec<&str>> {
        let mut paths: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        let start = self.id(from);
        paths.insert(start, vec![self.names[start].as_str()]);
        let mut queue = VecDeque::from([start]);
        while let Some(id) = queue.pop_front() {
            for dep in self.deps.get(id).into_iter().flatten() {
                if !paths.contains_key(dep.as_str()) {
                    let mut path = paths[id].clone();
                    path.push(self.names[dep].as_str());
                    paths.insert(dep, path);
                    queue.push_back(dep);
                }
            }
        }
        paths.remove(start);
        paths.into_values().collect()
    }
}

/// The host's target triple, as rustc names it.
fn host() -> String {
    let out = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .arg("-vV")
        .output()
        .expect("rustc runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("rustc -vV names the host")
        .to_string()
}

fn text(value: &Value) -> String {
    value.as_str().unwrap().to_string()
}

fn forbidden(rule: &str, from: &str, name: &str) -> bool {
    match rule.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix) && name != from,
        None => name == rule,
    }
}

#[test]
fn no_crate_reaches_what_the_dependency_rule_forbids_it() {
    let graph = Graph::load();
    let mut broken = Vec::new();
    for (from, rules) in RULES {
        for path in graph.reached(from) {
            let name = path.last().expect("a path ends in a package");
            if rules.iter().any(|rule| forbidden(rule, from, name)) {
                broken.push(path.join(" -> "));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "the dependency rule is broken:\n  {}",
        broken.join("\n  ")
    );
}

#[test]
fn the_rule_sees_real_edges() {
    // A graph read wrong would pass the rule vacuously.
    let graph = Graph::load();
    let reached = |from: &str| -> Vec<String> {
        graph
            .reached(from)
            .iter()
            .map(|path| path.last().expect("a path ends in a package").to_string())
            .collect()
    };
    let client = reached("swarmlab-client");
    for name in ["swarmlab-loop", "swarmlab-eval", "swarmlab-runner", "ureq"] {
        assert!(client.iter().any(|n| n == name), "client reaches {name}");
    }
    let hub = reached("swarmlab-hub");
    for name in ["swarmlab-core", "swarmlab-proto", "axum", "sqlx"] {
        assert!(hub.iter().any(|n| n == name), "hub reaches {name}");
    }
    let testkit = reached("swarmlab-testkit");
    assert!(
        testkit.iter().any(|n| n == "swarmlab-hub"),
        "testkit reaches the hub it seeds"
    );
    let runner = reached("swarmlab-runner");
    assert!(
        !runner.iter().any(|n| n == "tempfile"),
        "dev-deps are not followed"
    );
}
