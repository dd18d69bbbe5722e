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

/// Where this weir was built from: each scaffold depends on the guest SDK for its language
/// (`guest-sdk/`, `guest-sdk/python`, `guest-sdk/js`) by path, the way a path dependency does.
const SDK_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../guest-sdk");

/// The absolute path of `sub` inside the guest SDK directory.
fn sdk_path(sub: &str) -> String {
    let dir = Path::new(SDK_DIR).join(sub);
    dir.canonicalize().unwrap_or(dir).display().to_string()
}

fn rust_files(name: &str) -> Vec<(String, String)> {
    let sdk = sdk_path("");
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

/// The configuration, read once per instance (faster than a lookup in `&Config` for every
/// record, which also works): each field from the key of its name; `Option<_>` or
/// `#[config(default = ...)]` for an optional key, `#[config(rename = "key")]` for another key.
#[derive(FromConfig)]
struct Settings {
    pattern: Vec<u8>,
}

#[filter]
fn keep(record: &Record, cfg: &Settings) -> bool {
    record.value().is_some_and(|v| contains(v, &cfg.pattern))
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
    let sdk = sdk_path("python");
    let requirements = format!(
        "# The build toolchain. `import weir` is the weir-guest package ({sdk}):\n# build.sh hands componentize-py its source; `pip install {sdk}` installs it instead.\ncomponentize-py==0.25.1\n"
    );
    let build = format!(
        "#!/usr/bin/env bash\n# Builds {name}.wasm with componentize-py (requirements.txt) and the weir package from the\n# weir source this project was created from.\nset -euo pipefail\ncd \"$(dirname \"$0\")\"\ncomponentize-py -d wit -w transform componentize -p . -p \"{sdk}/src\" app -o {name}.wasm\n"
    );
    let readme = format!(
        "# {name}\n\nA weir filter in Python: `app.py` is the whole plugin; `import weir` is the weir-guest\npackage ({sdk}).\n\nBuild (componentize-py from `requirements.txt`: `pip install -r requirements.txt`):\n`./build.sh`\n\nTry: `weir plugin test {name}.wasm --input records.jsonl --config pattern=error`\n"
    );
    vec![
        ("app.py".into(), app.into()),
        ("requirements.txt".into(), requirements),
        ("build.sh".into(), build),
        ("README.md".into(), readme),
    ]
}

fn js_files(name: &str) -> Vec<(String, String)> {
    let app = r#"// A weir filter: keeps the records whose value contains the config key `pattern`.
import { filter, require, utf8, contains } from "weir-guest";

export const transformer = filter((record, config) => {
  const pattern = utf8(require(config, "pattern"));
  return record.value !== null && contains(record.value, pattern);
});
"#;
    let sdk = sdk_path("js");
    // npm copies the file: dependency (--install-links) so every import sits under --module-root.
    let package = format!(
        r#"{{
  "name": "{name}",
  "private": true,
  "type": "module",
  "dependencies": {{
    "weir-guest": "file:{sdk}"
  }},
  "devDependencies": {{
    "componentize-qjs": "0.4.5"
  }}
}}
"#
    );
    let build = format!(
        "#!/usr/bin/env bash\n# Builds {name}.wasm with componentize-qjs and weir-guest, both from package.json.\nset -euo pipefail\ncd \"$(dirname \"$0\")\"\n[ -x node_modules/.bin/componentize-qjs ] || npm install --install-links --no-audit --no-fund --loglevel=error\nnode_modules/.bin/componentize-qjs --wit wit --js app.js --module-root . -n transform --stub-wasi --sync -o {name}.wasm\n"
    );
    let readme = format!(
        "# {name}\n\nA weir filter in JavaScript: `app.js` is the whole plugin; it imports the weir-guest package\n({sdk}, a `file:` dependency in `package.json`).\n\nBuild (installs `package.json`'s dependencies on first use): `./build.sh`\n\nTry: `weir plugin test {name}.wasm --input records.jsonl --config pattern=error`\n"
    );
    vec![
        ("app.js".into(), app.into()),
        ("package.json".into(), package),
        ("build.sh".into(), build),
        ("README.md".into(), readme),
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
