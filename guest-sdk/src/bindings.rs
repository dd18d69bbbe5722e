//! The one `generate!` of the SDK: the world this crate is built for (see the features).
#![allow(missing_docs)] // generated code; documented by the WIT it comes from

#[cfg(not(any(
    feature = "processor",
    feature = "aggregator",
    feature = "key-selector",
    feature = "joiner",
    feature = "source-connector",
    feature = "sink-connector"
)))]
wit_bindgen::generate!({
    path: "../wit",
    world: "transform",
    pub_export_macro: true,
    export_macro_name: "__weir_export_transform",
    default_bindings_module: "::weir_guest::__private::bindings",
});

// A processor is built for `stream-processor`: world `processor` plus the `stream-time`
// export (punctuation on stream time, store retention), which the macro always implements.
#[cfg(feature = "processor")]
wit_bindgen::generate!({
    path: "../wit",
    world: "stream-processor",
    pub_export_macro: true,
    export_macro_name: "__weir_export_processor",
    default_bindings_module: "::weir_guest::__private::bindings",
});

#[cfg(feature = "aggregator")]
wit_bindgen::generate!({
    path: "../wit",
    world: "aggregator",
    pub_export_macro: true,
    export_macro_name: "__weir_export_aggregator",
    default_bindings_module: "::weir_guest::__private::bindings",
});

#[cfg(feature = "key-selector")]
wit_bindgen::generate!({
    path: "../wit",
    world: "key-selector",
    pub_export_macro: true,
    export_macro_name: "__weir_export_key_selector",
    default_bindings_module: "::weir_guest::__private::bindings",
});

#[cfg(feature = "joiner")]
wit_bindgen::generate!({
    path: "../wit",
    world: "joiner",
    pub_export_macro: true,
    export_macro_name: "__weir_export_joiner",
    default_bindings_module: "::weir_guest::__private::bindings",
});

#[cfg(feature = "source-connector")]
wit_bindgen::generate!({
    path: "../wit",
    world: "source-connector",
    pub_export_macro: true,
    export_macro_name: "__weir_export_source_connector",
    default_bindings_module: "::weir_guest::__private::bindings",
});

#[cfg(feature = "sink-connector")]
wit_bindgen::generate!({
    path: "../wit",
    world: "sink-connector",
    pub_export_macro: true,
    export_macro_name: "__weir_export_sink_connector",
    default_bindings_module: "::weir_guest::__private::bindings",
});

#[cfg(any(
    all(feature = "processor", feature = "aggregator"),
    all(feature = "processor", feature = "key-selector"),
    all(feature = "processor", feature = "source-connector"),
    all(feature = "processor", feature = "sink-connector"),
    all(feature = "aggregator", feature = "key-selector"),
    all(feature = "aggregator", feature = "source-connector"),
    all(feature = "aggregator", feature = "sink-connector"),
    all(feature = "key-selector", feature = "source-connector"),
    all(feature = "key-selector", feature = "sink-connector"),
    all(feature = "source-connector", feature = "sink-connector"),
    all(feature = "joiner", feature = "processor"),
    all(feature = "joiner", feature = "aggregator"),
    all(feature = "joiner", feature = "key-selector"),
    all(feature = "joiner", feature = "source-connector"),
    all(feature = "joiner", feature = "sink-connector"),
))]
compile_error!(
    "weir-guest builds one world per crate: enable at most one of the features `processor`, `aggregator`, `key-selector`, `joiner`, `source-connector` and `sink-connector`"
);
