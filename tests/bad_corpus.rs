//! The bad-input corpus (`tests/bad/`, described by `tests/bad/cases.toml`):
//! every file is given to the command that reads it, which must fail with
//! one `error:` line naming the file and saying what is wrong, a non-zero
//! exit, no panic, and no output file (nor temporary file) left behind.

mod common;

use common::bad_gen;
use common::prelude::*;
use serde::Deserialize;
use std::collections::BTreeMap;

/// `tests/bad/cases.toml`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    /// Command templates by name.
    commands: BTreeMap<String, Vec<String>>,
    /// The cases.
    case: Vec<Case>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct Case {
    /// Path under `tests/bad/`.
    file: String,
    /// A command name, or `serve` (an HTTP body POSTed to `chiffre serve`).
    run: String,
    /// For data files: the MNIST file it replaces in `{data}`.
    part: Option<String>,
    /// Fragments the error message must contain (`{file}`: the file's path).
    expect: Vec<String>,
    /// For `serve`: the request's Content-Type (none when empty).
    content_type: Option<String>,
    /// For `serve`: the HTTP status of the answer.
    status: Option<u16>,
}

fn bad_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad")
}

fn manifest() -> Manifest {
    let path = bad_dir().join("cases.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every file under `dir`, as paths relative to it with `/`.
fn files_under(dir: &Path, prefix: &str, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
        if entry.file_type().unwrap().is_dir() {
            files_under(&entry.path(), &format!("{name}/"), out);
        } else {
            out.push(name);
        }
    }
}

/// What a case runs against, made once.
struct Fixture {
    tmp: tempfile::TempDir,
    data: PathBuf,
    model: PathBuf,
    picture: PathBuf,
}

impl Fixture {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let data = small_data(tmp.path());
        let model = tmp.path().join("good.safetensors");
        let network = chiffre::model::Sequential::new(&chiffre::model::preset("perceptron", 10).unwrap(), 1).unwrap();
        chiffre::model::save(&network, &serde_json::json!({}), &model).unwrap();
        let picture = tmp.path().join("good.png");
        let pixels = read_mnist_prefix(Part::TestImages, 1);
        common::render::mnist_picture(&pixels).save(&picture).unwrap();
        Fixture { tmp, data, model, picture }
    }

    /// The data directory of a case: the good one, or a copy with `part` replaced by `bad`.
    /// Returns (data dir, the bad file's path in it).
    fn data_for(&self, index: usize, part: &str, bad: &Path) -> (PathBuf, PathBuf) {
        let parts = Part::ALL.into_iter().find(|p| p.base() == part).unwrap_or_else(|| panic!("unknown part {part}"));
        let dir = DataDir::mnist(100, 100).omit(parts).write(&self.tmp.path().join(format!("case-{index}")));
        let gz = if bad.extension().is_some_and(|e| e == "gz") { ".gz" } else { "" };
        let placed = dir.join(format!("{part}{gz}"));
        std::fs::copy(bad, &placed).unwrap();
        (dir, placed)
    }
}

fn fill(template: &str, vars: &[(&str, &Path)]) -> String {
    vars.iter().fold(template.to_owned(), |s, (k, v)| s.replace(&format!("{{{k}}}"), arg(v)))
}

/// What is wrong with the answer of `chiffre serve` to `case`'s body, if anything.
fn serve_problem(server: &common::serve::Server, case: &Case, body: &[u8]) -> Option<String> {
    let answer = common::serve::post(&server.at("/api/predict"), case.content_type.as_deref().unwrap_or(""), body);
    let message = serde_json::from_str::<Value>(&answer.text).ok().and_then(|j| j["error"].as_str().map(String::from));
    match message {
        _ if Some(answer.status) != case.status => {
            Some(format!("status {} instead of {:?}", answer.status, case.status))
        }
        None => Some(format!("no JSON error in the answer: {answer:?}")),
        Some(m) => case.expect.iter().find(|p| !m.contains(p.as_str())).map(|p| format!("{m:?} lacks {p:?}")),
    }
}

#[test]
fn every_bad_file_fails_cleanly_with_its_message() {
    let manifest = manifest();
    let fixture = Fixture::new();
    let mut server = None;
    let mut failures = Vec::new();
    for (index, case) in manifest.case.iter().enumerate() {
        let file = bad_dir().join(&case.file);
        assert!(file.is_file(), "{} is listed in cases.toml but missing", file.display());
        if case.run == "serve" {
            let server = server.get_or_insert_with(|| common::serve::Server::start(&fixture.model, &[]));
            if let Some(problem) = serve_problem(server, case, &std::fs::read(&file).unwrap()) {
                failures.push(format!("{} (serve): {problem}", case.file));
            }
            continue;
        }
        let out_dir = fixture.tmp.path().join(format!("out-{index}"));
        std::fs::create_dir(&out_dir).unwrap();
        let out = out_dir.join("model.out");
        let (data, file) = match &case.part {
            Some(part) => fixture.data_for(index, part, &file),
            None => (fixture.data.clone(), file),
        };
        let vars = [("file", &*file), ("data", &*data), ("model", &*fixture.model), ("picture", &*fixture.picture)];
        let vars = [&vars[..], &[("out", &*out)]].concat();
        let template =
            manifest.commands.get(&case.run).unwrap_or_else(|| panic!("{}: no command {}", case.file, case.run));
        let args: Vec<String> = template.iter().map(|a| fill(a, &vars)).collect();
        let run = chiffre(&args);
        let problem = if run.stdout.contains("panicked") || run.stderr.contains("panicked") {
            Some("the binary panicked".to_owned())
        } else if run.status.success() {
            Some("it succeeded".to_owned())
        } else if !run.stderr.starts_with("error: ") {
            Some("stderr does not start with `error: `".to_owned())
        } else if let Some(part) = case.expect.iter().map(|p| fill(p, &vars)).find(|p| !run.stderr.contains(p)) {
            Some(format!("the message lacks {part:?}"))
        } else if std::fs::read_dir(&out_dir).unwrap().next().is_some() {
            Some("it left a file in the output folder".to_owned())
        } else {
            None
        };
        if let Some(problem) = problem {
            failures.push(format!(
                "{} ({}): {problem}\n  chiffre {}\n{}",
                case.file,
                case.run,
                args.join(" "),
                run.describe()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        manifest.case.len(),
        failures.join("\n\n")
    );
}

#[test]
fn the_manifest_and_the_folder_list_the_same_files() {
    let manifest = manifest();
    let mut listed: Vec<String> = manifest.case.iter().map(|c| c.file.clone()).collect();
    listed.sort();
    let mut on_disk = Vec::new();
    files_under(&bad_dir(), "", &mut on_disk);
    on_disk.retain(|f| f != "cases.toml");
    on_disk.sort();
    assert_eq!(listed, on_disk, "tests/bad/cases.toml and the files of tests/bad/ differ");
    let kinds = ["idx/", "model/", "spec/", "image/", "http/"];
    for kind in kinds {
        assert!(listed.iter().filter(|f| f.starts_with(kind)).count() >= 4, "fewer than 4 {kind} cases");
    }
    assert!(listed.len() >= 30, "only {} cases", listed.len());
    for case in &manifest.case {
        assert!(!case.expect.is_empty(), "{}: no expected message", case.file);
        let serve = case.run == "serve";
        assert_eq!(serve, case.status.is_some(), "{}: a status goes with run = \"serve\" only", case.file);
        let known = manifest.commands.contains_key(&case.run) || case.run == "serve";
        assert!(known, "{}: unknown run {}", case.file, case.run);
    }
}

#[test]
fn the_generator_makes_every_listed_file() {
    let made: Vec<&str> = bad_gen::corpus().iter().map(|(name, _)| *name).collect();
    for case in manifest().case {
        assert!(made.contains(&case.file.as_str()), "{} is not made by tests/common/bad_gen.rs", case.file);
    }
}

/// Re-makes the files of `tests/bad/` (the manifest is written by hand).
#[test]
#[ignore = "writes into tests/bad/; run by hand after changing the generator"]
fn regenerate() {
    for (name, bytes) in bad_gen::corpus() {
        let path = bad_dir().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
    }
}
