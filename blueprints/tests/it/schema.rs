//! The JSON Schema of the file format.

#[test]
fn the_schema_is_draft_2020_12_with_the_top_level_sections() {
    let schema = slipway_blueprints::schema();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    let properties = schema["properties"].as_object().unwrap();
    let keys: Vec<&str> = properties.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "apiVersion",
            "kind",
            "metadata",
            "defaults",
            "profiles",
            "clusters",
            "rings",
            "policies"
        ]
    );
    // Round-trips as JSON text.
    let text = serde_json::to_string(&schema).unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&text).unwrap(),
        schema
    );
    insta::assert_json_snapshot!(schema);
}
