//! The one `generate!` of the SDK: the world this crate is built for (see the features).
#![allow(missing_docs)] // generated code; documented by the WIT it comes from

#[cfg(not(any(
    feature = "processor",
    feature = "aggregator",
    feature = "key-selector"
)))]
wit_bindgen::generate!({
    path: "../wit",
    world: "transform",
    pub_export_macro: true,
    export_macro_name: "__weir_export_transform",
    default_bindings_module: "::weir_guest::__private::bindings",
});

#[cfg(feature = "processor")]
wit_bindgen::generate!({
    path: "../wit",
    world: "processor",
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

#[cfg(any(
    all(feature = "processor", feature = "aggregator"),
    all(feature = "processor", feature = "key-selector"),
    all(feature = "aggregator", feature = "key-selector"),
))]
compile_error!(
    "weir-guest builds one world per crate: enable at most one of the features `processor`, `aggregator` and `key-selector`"
);
