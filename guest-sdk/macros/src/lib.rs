//! The attribute macros of `weir-guest`: each turns a plain function into a plugin's exports;
//! and `#[derive(FromConfig)]` for settings (`from_config.rs`). Errors point at the user's code.

mod from_config;
mod processor;

use processor::ProcessorArgs;

use proc_macro::TokenStream;
use proc_macro2::TokenStream as Tokens;
use quote::quote;
use syn::{DeriveInput, FnArg, ItemFn, parse_macro_input};

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Filter,
    Map,
    FlatMap,
    Processor,
    KeySelector,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Filter => "filter",
            Kind::Map => "map",
            Kind::FlatMap => "flat_map",
            Kind::Processor => "processor",
            Kind::KeySelector => "key_selector",
        }
    }
}

/// Turns `fn(&Record) -> bool` (or `fn(&Record, &Config) -> Result<bool>`) into a filter plugin.
/// In place of `&Config`, a filter, map or flat-map may take `&T` for a `T: FromConfig`,
/// built from the configuration once per instance.
#[proc_macro_attribute]
pub fn filter(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Filter, attr, item)
}

/// Turns `fn(&Record[, &Config]) -> OwnedRecord` (or `Option`/`Result` of it) into a map plugin;
/// `&T` for a `T: FromConfig` may stand in place of `&Config`.
#[proc_macro_attribute]
pub fn map(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Map, attr, item)
}

/// Turns `fn(&Record[, &Config]) -> Vec<OwnedRecord>` (or a `Result` of it) into a flat-map
/// plugin; `&T` for a `T: FromConfig` may stand in place of `&Config`.
#[proc_macro_attribute]
pub fn flat_map(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::FlatMap, attr, item)
}

/// Turns `fn(&Record, &mut Context) -> Result<()>` into a stateful processor plugin
/// (needs the `processor` feature of `weir-guest`). `#[processor(timer_ms = 1000, on_timer = f)]`
/// also has the host call `fn f(now_ms: i64, ctx: &mut TimerContext) -> Result<()>` that often;
/// `stream_time_ms = 60000, on_stream_time = g` calls `g(stream_time_ms, ctx)` each time the
/// task's stream time crosses a multiple of the interval (Kafka's `STREAM_TIME` punctuator);
/// `retention_ms = N` has the window and session stores expire entries at or before their
/// observed stream time (latest window start / session end put) minus N, as Kafka's do.
#[proc_macro_attribute]
pub fn processor(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Processor, attr, item)
}

/// Turns `fn(&Record[, &Config]) -> Vec<u8>` (or `Option`/`Result` of it; `None` drops the
/// record) into a key-selector plugin for a `group_by` step (needs the `key-selector`
/// feature of `weir-guest`); `&T` for a `T: FromConfig` may stand in place of `&Config`.
#[proc_macro_attribute]
pub fn key_selector(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::KeySelector, attr, item)
}

/// Turns `fn add(item: &Item, aggregate: &[u8]) -> Vec<u8>` (or a `Result` of it) into an
/// aggregator plugin for `reduce` and `aggregate` steps (needs the `aggregator` feature of
/// `weir-guest`). `#[aggregator(initial = f, merge = g, subtract = h)]` names the other
/// functions: `fn f() -> Vec<u8>` (default: an empty aggregate), `fn g(key: &[u8], left:
/// &[u8], right: &[u8]) -> Vec<u8>` and `fn h(item: &Item, aggregate: &[u8]) -> Vec<u8>`
/// (each may return a `Result`; without them those calls fail, naming the function).
#[proc_macro_attribute]
pub fn aggregator(attr: TokenStream, item: TokenStream) -> TokenStream {
    let attr = Tokens::from(attr);
    let func = parse_macro_input!(item as ItemFn);
    match aggregator_expand(attr, &func) {
        Ok(tokens) => tokens.into(),
        Err(err) => {
            let err = err.to_compile_error();
            quote!(#func #err).into()
        }
    }
}

/// The functions `#[aggregator(...)]` names besides the one it is on.
#[derive(Default)]
struct AggregatorFns {
    initial: Option<syn::Path>,
    merge: Option<syn::Path>,
    subtract: Option<syn::Path>,
}

fn parse_aggregator_fns(attr: Tokens) -> syn::Result<AggregatorFns> {
    use syn::parse::Parser;
    let mut fns = AggregatorFns::default();
    if attr.is_empty() {
        return Ok(fns);
    }
    let args = syn::punctuated::Punctuated::<syn::MetaNameValue, syn::Token![,]>::parse_terminated
        .parse2(attr)?;
    for arg in &args {
        let slot = match arg.path.get_ident().map(|i| i.to_string()).as_deref() {
            Some("initial") => &mut fns.initial,
            Some("merge") => &mut fns.merge,
            Some("subtract") => &mut fns.subtract,
            _ => {
                return Err(syn::Error::new_spanned(
                    arg,
                    "expected `initial = <function>`, `merge = <function>` or `subtract = <function>`",
                ));
            }
        };
        let syn::Expr::Path(p) = &arg.value else {
            return Err(syn::Error::new_spanned(
                &arg.value,
                "expected the name of a function",
            ));
        };
        if slot.is_some() {
            return Err(syn::Error::new_spanned(arg, "named twice"));
        }
        *slot = Some(p.path.clone());
    }
    Ok(fns)
}

fn aggregator_expand(attr: Tokens, func: &ItemFn) -> syn::Result<Tokens> {
    let fns = parse_aggregator_fns(attr)?;
    check(Kind::Processor, &Tokens::new(), func).map_err(|_| {
        syn::Error::new_spanned(
            &func.sig,
            "#[aggregator] expects `fn(item: &Item, aggregate: &[u8]) -> Vec<u8>` (or a Result of it), not async, generic or a method",
        )
    })?;
    let name = &func.sig.ident;
    let p = quote!(::weir_guest::__private);
    let answer = quote!(::weir_guest::AggregateAnswer::into_answer);
    let initial = match &fns.initial {
        Some(f) => quote!(#p::run_initial(|| #answer(#f()))),
        None => quote!(::core::result::Result::Ok(::std::vec::Vec::new())),
    };
    let merge = match &fns.merge {
        Some(f) => quote!(#p::run_merge(key, left, right, |k, l, r| #answer(#f(k, l, r)))),
        None => quote! {{
            let _ = (key, left, right);
            ::core::result::Result::Err(#p::AggregatorError::MergeFailed(
                "this aggregator has no merge: name one with #[aggregator(merge = ...)] to use it in session or sliding windows".into(),
            ))
        }},
    };
    let subtract = match &fns.subtract {
        Some(f) => quote!(#p::run_subtract(item, aggregate, |i, a| #answer(#f(i, a)))),
        None => quote! {{
            let _ = (item, aggregate);
            ::core::result::Result::Err(#p::AggregatorError::SubtractFailed(
                "this aggregator has no subtract: name one with #[aggregator(subtract = ...)]".into(),
            ))
        }},
    };
    Ok(quote! {
        #func

        #[doc(hidden)]
        pub struct __WeirPlugin;

        impl #p::AggregatingGuest for __WeirPlugin {
            fn initial() -> ::core::result::Result<::std::vec::Vec<u8>, #p::AggregatorError> {
                #initial
            }

            fn add(
                item: #p::WitItem,
                aggregate: ::std::vec::Vec<u8>,
            ) -> ::core::result::Result<::std::vec::Vec<u8>, #p::AggregatorError> {
                #p::run_add(item, aggregate, |i, a| #answer(#name(i, a)))
            }

            fn merge(
                key: ::std::vec::Vec<u8>,
                left: ::std::vec::Vec<u8>,
                right: ::std::vec::Vec<u8>,
            ) -> ::core::result::Result<::std::vec::Vec<u8>, #p::AggregatorError> {
                #merge
            }

            fn subtract(
                item: #p::WitItem,
                aggregate: ::std::vec::Vec<u8>,
            ) -> ::core::result::Result<::std::vec::Vec<u8>, #p::AggregatorError> {
                #subtract
            }
        }

        ::weir_guest::__private::bindings::__weir_export_aggregator!(__WeirPlugin);
    })
}

/// Turns `fn(key: Option<&[u8]>, left: Option<&[u8]>, right: Option<&[u8]>) -> Vec<u8>` (or
/// `Option<Vec<u8>>` for a null value, or a `Result` of either) into the value joiner of a
/// `join` step (needs the `joiner` feature of `weir-guest`). `left` or `right` is `None` for
/// a left or outer join's unmatched side; an error fails the record that made the pair.
#[proc_macro_attribute]
pub fn joiner(attr: TokenStream, item: TokenStream) -> TokenStream {
    let attr = Tokens::from(attr);
    let func = parse_macro_input!(item as ItemFn);
    match joiner_expand(attr, &func) {
        Ok(tokens) => tokens.into(),
        Err(err) => {
            let err = err.to_compile_error();
            quote!(#func #err).into()
        }
    }
}

fn joiner_expand(attr: Tokens, func: &ItemFn) -> syn::Result<Tokens> {
    if !attr.is_empty() {
        return Err(syn::Error::new_spanned(
            attr,
            "#[joiner] takes no arguments",
        ));
    }
    let sig = &func.sig;
    let typed = sig.inputs.iter().all(|a| matches!(a, FnArg::Typed(_)));
    if sig.asyncness.is_some() || !sig.generics.params.is_empty() || !typed || sig.inputs.len() != 3
    {
        return Err(syn::Error::new_spanned(
            sig,
            "#[joiner] expects `fn(key: Option<&[u8]>, left: Option<&[u8]>, right: Option<&[u8]>) -> Vec<u8>` (or Option<Vec<u8>>, or a Result of either), not async, generic or a method",
        ));
    }
    let name = &sig.ident;
    let p = quote!(::weir_guest::__private);
    Ok(quote! {
        #func

        #[doc(hidden)]
        pub struct __WeirPlugin;

        impl #p::JoiningGuest for __WeirPlugin {
            fn join(
                key: ::core::option::Option<::std::vec::Vec<u8>>,
                left: ::core::option::Option<::std::vec::Vec<u8>>,
                right: ::core::option::Option<::std::vec::Vec<u8>>,
            ) -> ::core::result::Result<::core::option::Option<::std::vec::Vec<u8>>, #p::JoinerError> {
                #p::run_join(key, left, right, |k, l, r| {
                    ::weir_guest::JoinAnswer::into_answer(#name(k, l, r))
                })
            }
        }

        ::weir_guest::__private::bindings::__weir_export_joiner!(__WeirPlugin);
    })
}

/// Implements `FromConfig` for a struct with named fields, each read from the config key of its
/// name (`#[config(rename = "key")]` for another) and parsed as a `ConfigValue`; an `Option<_>`
/// field or `#[config(default = value)]` / `#[config(default)]` makes its key optional.
#[proc_macro_derive(FromConfig, attributes(config))]
pub fn derive_from_config(item: TokenStream) -> TokenStream {
    let input = parse_macro_input!(item as DeriveInput);
    from_config::derive(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

fn expand(kind: Kind, attr: TokenStream, item: TokenStream) -> TokenStream {
    let attr = Tokens::from(attr);
    let func = parse_macro_input!(item as ItemFn);
    let (attr, timer) = if kind == Kind::Processor {
        match processor::parse_args(attr) {
            Ok(args) => (Tokens::new(), args),
            Err(err) => {
                let err = err.to_compile_error();
                return quote!(#func #err).into();
            }
        }
    } else {
        (attr, ProcessorArgs::default())
    };
    match check(kind, &attr, &func) {
        Ok(arity) => generate(kind, arity, &func, timer).into(),
        Err(err) => {
            let err = err.to_compile_error();
            quote!(#func #err).into()
        }
    }
}

fn check(kind: Kind, attr: &Tokens, func: &ItemFn) -> syn::Result<usize> {
    if !attr.is_empty() {
        return Err(syn::Error::new_spanned(
            attr,
            format!("#[{}] takes no arguments", kind.name()),
        ));
    }
    let sig = &func.sig;
    if let Some(asyncness) = &sig.asyncness {
        return Err(syn::Error::new_spanned(
            asyncness,
            "a plugin function cannot be async",
        ));
    }
    if !sig.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &sig.generics,
            "a plugin function cannot be generic",
        ));
    }
    if let Some(FnArg::Receiver(r)) = sig.inputs.first() {
        return Err(syn::Error::new_spanned(
            r,
            "a plugin function cannot take self",
        ));
    }
    let arity = sig.inputs.len();
    let ok = match kind {
        Kind::Processor => arity == 2,
        _ => arity == 1 || arity == 2,
    };
    if !ok {
        let expected = match kind {
            Kind::Filter => {
                "`fn(record: &Record) -> bool` or `fn(record: &Record, config: &Config) -> Result<bool>` (or `&T` for `T: FromConfig` in place of `&Config`)"
            }
            Kind::Map => {
                "`fn(record: &Record[, config: &Config]) -> OwnedRecord` (or Option/Result of it; `&T` for `T: FromConfig` in place of `&Config`)"
            }
            Kind::FlatMap => {
                "`fn(record: &Record[, config: &Config]) -> Vec<OwnedRecord>` (or Result of it; `&T` for `T: FromConfig` in place of `&Config`)"
            }
            Kind::Processor => "`fn(record: &Record, ctx: &mut Context) -> Result<()>`",
            Kind::KeySelector => {
                "`fn(record: &Record[, config: &Config]) -> Vec<u8>` (or Option/Result of it; `&T` for `T: FromConfig` in place of `&Config`)"
            }
        };
        return Err(syn::Error::new_spanned(
            &sig.inputs,
            format!("#[{}] expects {expected}", kind.name()),
        ));
    }
    Ok(arity)
}

/// The `T` of a transform's second parameter `&T`: `Config` itself or settings built from it,
/// once per instance (`T: FromConfig`). Anything but a shared reference to a named type without
/// lifetimes is refused here, with a message, rather than deep inside the expansion.
fn settings_type(func: &ItemFn) -> syn::Result<Option<syn::Type>> {
    let Some(FnArg::Typed(param)) = func.sig.inputs.iter().nth(1) else {
        return Ok(None);
    };
    let refuse = |what: &dyn quote::ToTokens| {
        syn::Error::new_spanned(
            what,
            "the second parameter must be `&Config` or `&T` for a type `T: FromConfig` (a named type without lifetimes), built once per instance",
        )
    };
    let syn::Type::Reference(reference) = &*param.ty else {
        return Err(refuse(&param.ty));
    };
    if reference.mutability.is_some() || reference.lifetime.is_some() {
        return Err(refuse(&param.ty));
    }
    let syn::Type::Path(path) = &*reference.elem else {
        return Err(refuse(&reference.elem));
    };
    if path.qself.is_some() || quote!(#path).to_string().contains('\'') {
        return Err(refuse(&reference.elem));
    }
    Ok(Some((*reference.elem).clone()))
}

fn generate(kind: Kind, arity: usize, func: &ItemFn, args: ProcessorArgs) -> Tokens {
    let name = &func.sig.ident;
    let p = quote!(::weir_guest::__private);
    let settings = if kind == Kind::Processor {
        None
    } else {
        match settings_type(func) {
            Ok(settings) => settings,
            Err(err) => return err.to_compile_error(),
        }
    };
    let call = match (arity, &settings) {
        (1, _) | (_, None) => quote!(#name(record)),
        (_, Some(_)) => quote!(#name(record, __settings)),
    };
    // Settings (or a copy of `Config` itself, which implements `FromConfig`) are built once per
    // instance and fetched once per batch, outside the per-record loop.
    let prelude = match &settings {
        Some(ty) => quote! {
            static __WEIR_SETTINGS: ::std::sync::OnceLock<#ty> = ::std::sync::OnceLock::new();
            let __settings: &'static #ty = match #p::settings(&__WEIR_SETTINGS) {
                ::core::result::Result::Ok(s) => s,
                ::core::result::Result::Err(e) => {
                    return #p::transform_result(::core::result::Result::Err(e));
                }
            };
        },
        None => Tokens::new(),
    };
    if kind == Kind::KeySelector {
        let result = quote! {
            // Settings that cannot be built from the configuration refuse the batch.
            ::core::result::Result::Err(e) => {
                return ::core::result::Result::Err(#p::KeySelectorError::InvalidConfig(
                    e.message().to_string(),
                ));
            }
        };
        let prelude = match &settings {
            Some(ty) => quote! {
                static __WEIR_SETTINGS: ::std::sync::OnceLock<#ty> = ::std::sync::OnceLock::new();
                let __settings: &'static #ty = match #p::settings(&__WEIR_SETTINGS) {
                    ::core::result::Result::Ok(s) => s,
                    #result
                };
            },
            None => Tokens::new(),
        };
        return quote! {
            #func

            #[doc(hidden)]
            pub struct __WeirPlugin;

            impl #p::KeySelectingGuest for __WeirPlugin {
                fn select(
                    origin: #p::Origin,
                    batch: #p::Batch,
                ) -> ::core::result::Result<#p::SelectedKeys, #p::KeySelectorError> {
                    #prelude
                    #p::run_select(origin, batch, |record, _config| {
                        ::weir_guest::KeyAnswer::into_answer(#call)
                    })
                }
            }

            ::weir_guest::__private::bindings::__weir_export_key_selector!(__WeirPlugin);
        };
    }
    let body = match kind {
        Kind::Filter => quote! {
            #p::transform_result(#p::run_filter(origin, batch, |record, _config| {
                ::weir_guest::FilterAnswer::into_answer(#call)
            }))
        },
        Kind::Map => quote! {
            #p::transform_result(#p::run_map(origin, batch, |record, _config| {
                ::weir_guest::MapAnswer::into_answer(#call)
            }))
        },
        Kind::FlatMap => quote! {
            #p::transform_result(#p::run_flat_map(origin, batch, |record, _config| {
                ::weir_guest::FlatMapAnswer::into_answer(#call)
            }))
        },
        Kind::KeySelector => Tokens::new(),
        Kind::Processor => return processor::generate(func, &args),
    };
    quote! {
        #func

        #[doc(hidden)]
        pub struct __WeirPlugin;

        impl #p::TransformGuest for __WeirPlugin {
            fn process(
                origin: #p::Origin,
                batch: #p::Batch,
            ) -> ::core::result::Result<#p::TransformOutput, #p::TransformError> {
                #prelude
                #body
            }
        }

        ::weir_guest::__private::bindings::__weir_export_transform!(__WeirPlugin);
    }
}
