//! The console's files, built into the binary: each with its Content-Type and an ETag
//! (a digest of its bytes), computed once.

use std::sync::LazyLock;

use sha2::{Digest, Sha256};

/// One file of the console, as served.
#[derive(Debug)]
pub struct Asset {
    /// Its path under `/console/` (`index.html` is also served at `/`).
    pub path: &'static str,
    /// Its bytes.
    pub bytes: &'static [u8],
    /// Its `Content-Type`, from the extension.
    pub content_type: &'static str,
    /// Its strong ETag, quoted.
    pub etag: String,
}

/// `(path, bytes)` of a file under `host/console/`.
macro_rules! asset {
    ($path:literal) => {
        (
            $path,
            include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/console/", $path)) as &[u8],
        )
    };
}

/// Every file of the console: a new file under `host/console/` gets one line here (a
/// unit test checks that none is missing).
const FILES: &[(&str, &[u8])] = &[
    asset!("index.html"),
    asset!("style.css"),
    asset!("app.js"),
    asset!("views.js"),
    asset!("lib/api.js"),
    asset!("lib/chart.js"),
    asset!("lib/dom.js"),
    asset!("lib/route.js"),
    asset!("lib/signin.js"),
    asset!("lib/graph.js"),
    asset!("lib/form.js"),
    asset!("views/overview.js"),
    asset!("views/topics.js"),
    asset!("views/records.js"),
    asset!("views/groups.js"),
    asset!("views/modules.js"),
    asset!("views/pipelines.js"),
    asset!("views/connectors.js"),
];

static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|&(path, bytes)| Asset {
            path,
            bytes,
            content_type: content_type(path),
            etag: etag(bytes),
        })
        .collect()
});

/// The asset at `path` (relative to `/console/`), if there is one.
pub fn get(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

/// Every asset (for tests and listings).
pub fn all() -> &'static [Asset] {
    &ASSETS
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map_or("", |(_, ext)| ext) {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "json" => "application/json",
        _ => "application/octet-stream",
    }
}

/// A strong ETag: the first 16 bytes of the SHA-256 of the file, hex, quoted.
fn etag(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file under `host/console/` is listed in [`FILES`], so none is forgotten
    /// (and served as a 404 only in the browser).
    #[test]
    fn every_console_file_is_embedded() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("console");
        let mut found = Vec::new();
        let mut dirs = vec![root.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    let rel = path.strip_prefix(&root).unwrap();
                    found.push(rel.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        for file in &found {
            assert!(get(file).is_some(), "host/console/{file} is not in FILES");
        }
        assert_eq!(found.len(), all().len(), "FILES lists a file twice");
    }

    #[test]
    fn types_and_etags() {
        let index = get("index.html").unwrap();
        assert_eq!(index.content_type, "text/html; charset=utf-8");
        assert_eq!(
            get("app.js").unwrap().content_type,
            "text/javascript; charset=utf-8"
        );
        assert_eq!(index.etag.len(), 34);
        assert_ne!(index.etag, get("app.js").unwrap().etag);
    }
}
