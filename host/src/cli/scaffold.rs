//! The files `weir plugin new` writes, per language. Each project builds with one command.

use std::path::Path;

use anyhow::{Context, bail};

use super::plugin::Lang;

const WIT: &[(&str, &str)] = &[
    ("wit/types.wit", include_str!("../../../wit/types.wit")),
    (
        "wit/transform.wit",
        include_str!("../../../wit/transform.wit"),
    ),
    (
        "wit/processor.wit",
        include_str!("../../../wit/processor.wit"),
    ),
];

const PY_HELPER: &str = include_str!("../../../examples/python-filter/weir.py");
const JS_HELPER: &str = include_str!("../../../examples/js-filter/weir.js");

/// Where this weir was built from: the Rust scaffold depends on its guest SDK by path.
const SDK_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../guest-sdk");

fn rust_files(name: &str) -> Vec<(String, String)> {
    let sdk = Path::new(SDK_DIR)
        .canonicalize()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| SDK_DIR.to_owned());
    let cargo = format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
weir-guest = {{ path = "{sdk}" }}

[profile.release]
opt-level = 3
lto = true
codegen-units = 1
strip = true
panic = "abort"

[workspace]
"#
    );
    let lib = r#"//! A weir filter: keeps the records whose value contains the config key `pattern`.
use weir_guest::prelude::*;

/// The pattern, read from the configuration once per instance (faster than a lookup in
/// `&Config` for every record, which also works).
struct Pattern(Vec<u8>);

impl FromConfig for Pattern {
    fn from_config(config: &Config) -> Result<Self> {
        Ok(Pattern(config.require("pattern")?.into()))
    }
}

#[filter]
fn keep(record: &Record, pattern: &Pattern) -> bool {
    record.value().is_some_and(|v| contains(v, &pattern.0))
}
"#;
    let readme = format!(
        "# {name}\n\nBuild: `cargo build --release --target wasm32-wasip2`\n\nTry: `weir plugin test target/wasm32-wasip2/release/{file}.wasm --input records.jsonl --config pattern=error`\n",
        file = name.replace('-', "_")
    );
    vec![
        ("Cargo.toml".into(), cargo),
        ("src/lib.rs".into(), lib.into()),
        ("README.md".into(), readme),
    ]
}

fn python_files(name: &str) -> Vec<(String, String)> {
    let app = r#""""A weir filter: keeps the records whose value contains the config key `pattern`."""
import weir


@weir.filter
def keep(record, config):
    pattern = weir.require(config, "pattern").encode()
    return record.value is not None and pattern in record.value


Transformer = keep
"#;
    let build = format!(
        "#!/usr/bin/env bash\n# Builds {name}.wasm (needs componentize-py 0.25.1 on PATH: pip install componentize-py==0.25.1)\nset -euo pipefail\ncd \"$(dirname \"$0\")\"\ncomponentize-py -d wit -w transform componentize app -o {name}.wasm\n"
    );
    vec![
        ("app.py".into(), app.into()),
        ("weir.py".into(), PY_HELPER.into()),
        ("build.sh".into(), build),
        (
            "README.md".into(),
            format!(
                "# {name}\n\nBuild: `./build.sh`\n\nTry: `weir plugin test {name}.wasm --input records.jsonl --config pattern=error`\n"
            ),
        ),
    ]
}

fn js_files(name: &str) -> Vec<(String, String)> {
    let app = r#"// A weir filter: keeps the records whose value contains the config key `pattern`.
import { filter, require, utf8, contains } from "./weir.js";

export const transformer = filter((record, config) => {
  const pattern = utf8(require(config, "pattern"));
  return record.value !== null && contains(record.value, pattern);
});
"#;
    let build = format!(
        "#!/usr/bin/env bash\n# Builds {name}.wasm with componentize-qjs 0.4.5 (npm).\nset -euo pipefail\ncd \"$(dirname \"$0\")\"\nnpx --yes componentize-qjs@0.4.5 --wit wit --js app.js -n transform --stub-wasi --sync -o {name}.wasm\n"
    );
    vec![
        ("app.js".into(), app.into()),
        ("weir.js".into(), JS_HELPER.into()),
        ("build.sh".into(), build),
        (
            "README.md".into(),
            format!(
                "# {name}\n\nBuild: `./build.sh`\n\nTry: `weir plugin test {name}.wasm --input records.jsonl --config pattern=error`\n"
            ),
        ),
    ]
}

/// Writes a new project `name` for `lang` under `dir`; refuses to overwrite an existing one.
pub fn write(name: &str, lang: Lang, dir: &Path) -> anyhow::Result<()> {
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && name.starts_with(|c: char| c.is_ascii_alphabetic());
    if !valid {
        bail!(
            "plugin name `{name}` must start with a letter and hold only letters, digits, - and _"
        );
    }
    let root = dir.join(name);
    if root.exists() {
        bail!("{} already exists", root.display());
    }
    let mut files = match lang {
        Lang::Rust => rust_files(name),
        Lang::Python => python_files(name),
        Lang::Js => js_files(name),
    };
    if lang != Lang::Rust {
        files.extend(WIT.iter().map(|(p, t)| ((*p).to_owned(), (*t).to_owned())));
    }
    for (path, text) in files {
        let path = root.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        #[cfg(unix)]
        if path.extension().is_some_and(|e| e == "sh") {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
        }
    }
    println!(
        "created {} ({lang:?}); see its README.md to build it",
        root.display()
    );
    Ok(())
}
