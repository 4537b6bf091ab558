//! The OpenAPI document is valid: checked structurally here (every path
//! parameter is in its path and every `{name}` of a path is a parameter, the
//! mistake that made query parameters read as path parameters), and by
//! `openapi-spec-validator` (`pip install openapi-spec-validator`) when it is
//! installed. Without it the second check prints that it was skipped, unless
//! `BYTERANK_REQUIRE_TOOLS` is set (CI sets it), when it fails.

use std::collections::BTreeSet;
use std::process::Command;

use byterank_http::server::ApiDoc;
use serde_json::Value;
use utoipa::OpenApi;

fn document() -> Value {
    serde_json::to_value(ApiDoc::openapi()).unwrap()
}

/// The `{name}`s of a templated path.
fn templated(path: &str) -> BTreeSet<String> {
    path.split('{').skip(1).filter_map(|s| s.split_once('}')).map(|(name, _)| name.to_string()).collect()
}

#[test]
fn path_parameters_are_exactly_the_templated_names() {
    let doc = document();
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() > 20, "the document lists the routes");
    for (path, ops) in paths {
        for (method, op) in ops.as_object().unwrap() {
            let mut in_path = BTreeSet::new();
            for p in op["parameters"].as_array().into_iter().flatten() {
                let (name, place) = (p["name"].as_str().unwrap(), p["in"].as_str().unwrap());
                assert!(["path", "query", "header"].contains(&place), "{method} {path}: `{name}` in {place}");
                if place == "path" {
                    assert_eq!(p["required"], true, "{method} {path}: path parameter `{name}` must be required");
                    in_path.insert(name.to_string());
                }
            }
            assert_eq!(in_path, templated(path), "{method} {path}: path parameters differ from the path's names");
        }
    }
}

#[test]
fn query_parameters_of_listings_are_in_the_query() {
    let doc = document();
    for (path, method, name) in [
        ("/v1/jobs", "get", "limit"),
        ("/v1/jobs", "get", "after"),
        ("/v1/jobs/{job}", "get", "tasks"),
        ("/v1/jobs/{job}", "get", "from"),
        ("/v1/grid", "get", "top"),
        ("/v1/billing", "get", "limit"),
        ("/v1/usage", "get", "days"),
    ] {
        let params = doc["paths"][path][method]["parameters"].as_array().unwrap_or_else(|| panic!("{path}"));
        let p = params.iter().find(|p| p["name"] == name).unwrap_or_else(|| panic!("{method} {path}: no `{name}`"));
        assert_eq!(p["in"], "query", "{method} {path}: `{name}`");
    }
}

#[test]
fn openapi_spec_validator_accepts_the_document() {
    let dir = std::env::temp_dir().join(format!("byterank-openapi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("openapi.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&document()).unwrap()).unwrap();
    let out = match Command::new("openapi-spec-validator").arg(&file).output() {
        Ok(out) => out,
        Err(e) if std::env::var_os("BYTERANK_REQUIRE_TOOLS").is_none() => {
            eprintln!("skipped: openapi-spec-validator does not run ({e}); pip install openapi-spec-validator");
            return;
        }
        Err(e) => panic!("openapi-spec-validator does not run ({e}) and BYTERANK_REQUIRE_TOOLS is set"),
    };
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "the validator refuses the document:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn quotes_and_jobs_say_what_became_of_their_replicas() {
    let doc = document();
    let schemas = &doc["components"]["schemas"];
    for answer in ["QuoteView", "JobView"] {
        assert!(schemas[answer]["properties"]["replicas"].is_object(), "{answer}: {}", schemas[answer]);
    }
    let replicas = &schemas["ReplicasView"]["properties"];
    for field in ["asked", "placed", "unplaced", "per_task", "devices", "short_tasks", "status"] {
        assert!(replicas[field].is_object(), "ReplicasView.{field}: {replicas}");
    }
    assert!(schemas["LedgerView"]["properties"]["earned_unverified"].is_object());
}
