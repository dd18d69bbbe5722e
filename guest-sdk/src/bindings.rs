//! The one `generate!` of the SDK: the world this crate is built for (see the `processor` feature).
#![allow(missing_docs)] // generated code; documented by the WIT it comes from

#[cfg(not(feature = "processor"))]
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
