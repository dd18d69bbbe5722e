//! The cases the oracle test runs: the records every chain is applied to, and every
//! transformation's configs (Connect's documented examples, both `$Key`/`$Value` forms, the
//! chains with predicates and `negate`).

use super::*;

/// Records every case runs on: a map with nested fields and headers, a bare string, a
/// tombstone, and a map of strings and numbers on another topic.
pub fn records() -> Value {
    json!([
        {"topic": "orders", "partition": 2, "offset": 40, "key": "{\"id\":3}",
         "value": "{\"id\":3,\"a\":1,\"b\":{\"c\":2.5,\"d\":[1,2],\"e\":{\"f\":\"g\"}},\"s\":\"x\",\"t\":true,\"n\":null,\"ts\":1700000000123,\"day\":\"2023-11-14\",\"secret\":\"pw\"}",
         "timestamp": 1_700_000_000_123_i64, "headers": [["h", "v1"], ["drop", "x"]]},
        {"topic": "orders", "partition": 2, "offset": 41, "key": "\"k\"", "value": "\"str\"",
         "timestamp": 5, "headers": []},
        {"topic": "users", "partition": 0, "offset": 7, "key": null, "value": null,
         "timestamp": 86_400_000, "headers": [["h", "v2"]]},
        {"topic": "users-eu", "partition": 1, "offset": 0, "key": "7",
         "value": "{\"a\":\"12\",\"s\":\"true\",\"f\":1.5,\"l\":[1],\"m\":{\"x\":{\"y\":1}},\"ts\":1700000000}",
         "timestamp": 0, "headers": [["drop", "y"]]}
    ])
}

/// A one-transformation chain `transforms=t` of `type` with `keys`.
fn one(type_name: &str, keys: &[(&str, &str)]) -> Value {
    let mut config = json!({"transforms": "t", "transforms.t.type": type_name});
    for (k, v) in keys {
        config[format!("transforms.t.{k}")] = json!(v);
    }
    config
}

/// Every transformation's configs: the examples of Connect's documentation
/// (https://kafka.apache.org/documentation/#connect_included_transformation and each
/// transformation's page), both `$Key`/`$Value` forms, and the chains with predicates.
pub fn configs() -> Vec<Value> {
    let fq = "org.apache.kafka.connect.transforms.";
    vec![
        one(
            "Cast$Value",
            &[("spec", "a:string,t:int32,ts:float64,s:boolean")],
        ),
        one(
            "Cast$Value",
            &[("spec", "a:int64,f:int8,s:boolean,l:string")],
        ),
        one("Cast$Value", &[("spec", "string")]),
        one("Cast$Key", &[("spec", "int16")]),
        one("DropHeaders", &[("headers", "drop,nothere")]),
        one("ExtractField$Value", &[("field", "b")]),
        one(
            "ExtractField$Value",
            &[("field", "b.e.f"), ("field.syntax.version", "V2")],
        ),
        one("ExtractField$Key", &[("field", "id")]),
        one(&format!("{fq}ExtractField$Value"), &[("field", "missing")]),
        one("Filter", &[]),
        one("Flatten$Value", &[]),
        one("Flatten$Value", &[("delimiter", "_")]),
        one("Flatten$Key", &[]),
        one(
            "HeaderFrom$Value",
            &[
                ("fields", "id,b,s"),
                ("headers", "id,b,s"),
                ("operation", "copy"),
            ],
        ),
        one(
            "HeaderFrom$Value",
            &[
                ("fields", "s,missing"),
                ("headers", "hs,hm"),
                ("operation", "move"),
            ],
        ),
        one(
            "HeaderFrom$Key",
            &[
                ("fields", "id"),
                ("headers", "key-id"),
                ("operation", "copy"),
            ],
        ),
        one("HoistField$Value", &[("field", "line")]),
        one("HoistField$Key", &[("field", "k")]),
        one(
            "InsertField$Value",
            &[
                ("topic.field", "topic"),
                ("partition.field", "partition"),
                ("offset.field", "offset"),
                ("timestamp.field", "ts_ms!"),
                ("static.field", "src"),
                ("static.value", "weir"),
            ],
        ),
        one("InsertField$Key", &[("topic.field", "topic?")]),
        one(
            "InsertHeader",
            &[("header", "origin"), ("value.literal", "weir-connect")],
        ),
        one("MaskField$Value", &[("fields", "a,b,s,t,n,missing,f,l")]),
        one(
            "MaskField$Value",
            &[("fields", "secret,a,f"), ("replacement", "42")],
        ),
        one("MaskField$Value", &[("fields", "t"), ("replacement", "x")]),
        one(
            "RegexRouter",
            &[("regex", "(.*)-eu"), ("replacement", "$1-europe")],
        ),
        one(
            "RegexRouter",
            &[("regex", "orders|users"), ("replacement", "all")],
        ),
        one(
            "ReplaceField$Value",
            &[("exclude", "b,secret"), ("renames", "s:S,a:alpha")],
        ),
        one(
            "ReplaceField$Value",
            &[("include", "a,s,f"), ("renames", "f:float")],
        ),
        one("ReplaceField$Key", &[("renames", "id:ID")]),
        one(
            "SetSchemaMetadata$Value",
            &[
                ("schema.name", "com.example.Order"),
                ("schema.version", "2"),
            ],
        ),
        one(
            "TimestampConverter$Value",
            &[
                ("field", "ts"),
                ("target.type", "string"),
                ("format", "yyyy-MM-dd'T'HH:mm:ss.SSS"),
            ],
        ),
        one(
            "TimestampConverter$Value",
            &[
                ("field", "day"),
                ("target.type", "unix"),
                ("format", "yyyy-MM-dd"),
            ],
        ),
        one(
            "TimestampConverter$Value",
            &[
                ("field", "ts"),
                ("target.type", "unix"),
                ("unix.precision", "seconds"),
            ],
        ),
        one(
            "TimestampConverter$Value",
            &[
                ("field", "ts"),
                ("target.type", "string"),
                ("format", "EEE, d MMM yyyy HH:mm:ss Z"),
                ("unix.precision", "seconds"),
            ],
        ),
        one(
            "TimestampConverter$Key",
            &[("target.type", "string"), ("format", "yyyy")],
        ),
        one("TimestampRouter", &[]),
        one(
            "TimestampRouter",
            &[
                ("topic.format", "${topic}_at_${timestamp}"),
                ("timestamp.format", "yyyy-MM-dd-HH"),
            ],
        ),
        one("ValueToKey", &[("fields", "id,s,missing")]),
        one(&format!("{fq}ValueToKey"), &[("fields", "a")]),
        // Chains with predicates, as Connect's documentation shows them.
        json!({"transforms": "drop", "transforms.drop.type": "Filter",
               "transforms.drop.predicate": "isUsers", "predicates": "isUsers",
               "predicates.isUsers.type": "TopicNameMatches", "predicates.isUsers.pattern": "users.*"}),
        json!({"transforms": "keepTombstonesOnly", "transforms.keepTombstonesOnly.type": "Filter",
               "transforms.keepTombstonesOnly.predicate": "tomb",
               "transforms.keepTombstonesOnly.negate": "true", "predicates": "tomb",
               "predicates.tomb.type": format!("{fq}predicates.RecordIsTombstone")}),
        json!({"transforms": "ins,route,hoist",
               "transforms.ins.type": "InsertField$Value", "transforms.ins.topic.field": "from",
               "transforms.ins.predicate": "notTomb", "transforms.ins.negate": "true",
               "transforms.route.type": "RegexRouter", "transforms.route.regex": "users(.*)",
               "transforms.route.replacement": "people$1",
               "transforms.hoist.type": "HoistField$Value", "transforms.hoist.field": "wrapped",
               "transforms.hoist.predicate": "isPeople",
               "predicates": "notTomb,isPeople,hasH",
               "predicates.notTomb.type": "RecordIsTombstone",
               "predicates.isPeople.type": "TopicNameMatches", "predicates.isPeople.pattern": "people.*",
               "predicates.hasH.type": "HasHeaderKey", "predicates.hasH.name": "h"}),
        json!({"transforms": "drop,mark", "transforms.drop.type": "DropHeaders",
               "transforms.drop.headers": "h", "transforms.drop.predicate": "hasH",
               "transforms.mark.type": "InsertHeader", "transforms.mark.header": "had-drop",
               "transforms.mark.value.literal": "yes", "transforms.mark.predicate": "hasDrop",
               "predicates": "hasH,hasDrop", "predicates.hasH.type": "HasHeaderKey",
               "predicates.hasH.name": "h", "predicates.hasDrop.type": "HasHeaderKey",
               "predicates.hasDrop.name": "drop"}),
        json!({"transforms": "flat,key,extract,cast",
               "transforms.flat.type": "Flatten$Value", "transforms.flat.delimiter": "_",
               "transforms.key.type": "ValueToKey", "transforms.key.fields": "b_c",
               "transforms.extract.type": "ExtractField$Key", "transforms.extract.field": "b_c",
               "transforms.cast.type": "Cast$Key", "transforms.cast.spec": "string",
               "transforms.cast.predicate": "orders", "predicates": "orders",
               "predicates.orders.type": "TopicNameMatches", "predicates.orders.pattern": "orders"}),
    ]
}
