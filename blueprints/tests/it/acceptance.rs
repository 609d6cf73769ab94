//! The acceptance test: one file full of different mistakes, each reported exactly once at the
//! right place, plus a syntax error in a second file (a syntax error ends parsing of its file).

use slipway_blueprints::{Source, load_sources};

use crate::support::{check_sources, fixture, options};

fn read(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap()
}

fn sources() -> Vec<(&'static str, String)> {
    vec![
        ("many-mistakes.yaml", read("many-mistakes.yaml")),
        ("syntax-error.yaml", read("syntax-error.yaml")),
    ]
}

#[test]
fn every_mistake_is_reported_once_at_its_line() {
    let sources: Vec<Source> = sources()
        .into_iter()
        .map(|(n, text)| Source {
            name: n.into(),
            text,
        })
        .collect();
    let failure = load_sources(sources, &options()).unwrap_err();
    let got: Vec<(&str, &str, usize)> = failure
        .diagnostics
        .iter()
        .map(|d| {
            let loc = d.location.as_ref().expect("every mistake has a location");
            (loc.file.to_str().unwrap(), d.code, loc.line)
        })
        .collect();
    let m = "many-mistakes.yaml";
    let expected = [
        (m, "prod-system-pool-min", 13), // inherited from the profile by `public-prod`
        (m, "wrong-type", 26),           // zones: "3"
        (m, "unknown-field", 32),        // lables
        (m, "unknown-profile", 35),      // smal
        (m, "cidr-overlap", 43),         // 10.10.128.0/17 inside 10.10.0.0/16
        (m, "invalid-cidr", 48),         // host bits
        (m, "cidr-too-small", 53),       // /24 for 2 zones
        (m, "wrong-type", 58),           // unquoted 1.30
        (m, "invalid-version", 64),      // 1.35.2
        (m, "version-supported", 70),    // 1.29 ended
        (m, "unknown-ring", 77),         // dve
        (m, "duplicate-name", 78),       // second `base`
        (m, "pool-bounds", 89),          // min 5 > max 2
        (m, "unknown-addon", 95),        // kube-proxi
        (m, "unknown-region", 99),       // us-east-7
        (m, "invalid-zones", 105),       // 7 zones in us-east-2
        (m, "workload-identity-not-static-credentials", 118),
        (m, "invalid-value", 121),               // provider gcp
        (m, "invalid-name", 131),                // AKS pool name
        (m, "invalid-value", 136),               // subscription id
        (m, "missing-field", 138),               // no region
        (m, "dr-same-region", 149),              // standby in the primary region
        (m, "duplicate-key", 155),               // region twice
        (m, "cidr-overlap", 163),                // standby overlaps a network
        (m, "invalid-arn", 170),                 // policy name instead of ARN
        (m, "prod-private-endpoint", 174),       // prod with a public endpoint
        (m, "missing-cloud-choice", 186),        // no azure instance type
        (m, "unknown-private-endpoint", 192),    // ecr.apii
        (m, "invalid-value", 197),               // soak: 3 days
        (m, "exception-expired", 203),           // 2026-01-31
        (m, "unknown-rule", 204),                // prod-min-zone
        ("syntax-error.yaml", "yaml-syntax", 6), // unclosed flow mapping
    ];
    assert_eq!(got, expected);
}

#[test]
fn the_rendering_of_every_mistake_is_stable() {
    let sources = sources();
    let refs: Vec<(&str, &str)> = sources.iter().map(|(n, t)| (*n, t.as_str())).collect();
    insta::assert_snapshot!(check_sources(&refs));
}
