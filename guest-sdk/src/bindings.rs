//! The one `generate!` of the SDK: the world this crate is built for (see the `processor`, `source-connector` and
//! `sink-connector` features).
#![allow(missing_docs)] // generated code; documented by the WIT it comes from

#[cfg(not(any(
    feature = "processor",
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

#[cfg(feature = "processor")]
wit_bindgen::generate!({
    path: "../wit",
    world: "processor",
    pub_export_macro: true,
    export_macro_name: "__weir_export_processor",
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
