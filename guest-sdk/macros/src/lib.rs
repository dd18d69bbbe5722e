//! The attribute macros of `weir-guest`: each turns a plain function into a plugin's exports;
//! and `#[derive(FromConfig)]` for settings (`from_config.rs`). Errors point at the user's code.

mod from_config;

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
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Filter => "filter",
            Kind::Map => "map",
            Kind::FlatMap => "flat_map",
            Kind::Processor => "processor",
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
/// also has the host call `fn f(now_ms: i64, ctx: &mut TimerContext) -> Result<()>` that often.
#[proc_macro_attribute]
pub fn processor(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Processor, attr, item)
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

/// A processor's timer: how often, and which function.
struct Timer {
    interval_ms: syn::LitInt,
    function: syn::Path,
}

fn parse_timer(attr: Tokens) -> syn::Result<Option<Timer>> {
    use syn::parse::Parser;
    if attr.is_empty() {
        return Ok(None);
    }
    let args = syn::punctuated::Punctuated::<syn::MetaNameValue, syn::Token![,]>::parse_terminated
        .parse2(attr.clone())?;
    let (mut interval_ms, mut function) = (None, None);
    for arg in &args {
        match (
            arg.path.get_ident().map(|i| i.to_string()).as_deref(),
            &arg.value,
        ) {
            (
                Some("timer_ms"),
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Int(n),
                    ..
                }),
            ) => {
                interval_ms = Some(n.clone());
            }
            (Some("on_timer"), syn::Expr::Path(p)) => function = Some(p.path.clone()),
            _ => {
                return Err(syn::Error::new_spanned(
                    arg,
                    "expected `timer_ms = <milliseconds>` or `on_timer = <function>`",
                ));
            }
        }
    }
    match (interval_ms, function) {
        (Some(interval_ms), Some(function)) => Ok(Some(Timer {
            interval_ms,
            function,
        })),
        _ => Err(syn::Error::new_spanned(
            attr,
            "a timer needs both `timer_ms = <milliseconds>` and `on_timer = <function>`",
        )),
    }
}

fn expand(kind: Kind, attr: TokenStream, item: TokenStream) -> TokenStream {
    let attr = Tokens::from(attr);
    let func = parse_macro_input!(item as ItemFn);
    let (attr, timer) = if kind == Kind::Processor {
        match parse_timer(attr) {
            Ok(timer) => (Tokens::new(), timer),
            Err(err) => {
                let err = err.to_compile_error();
                return quote!(#func #err).into();
            }
        }
    } else {
        (attr, None)
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

fn generate(kind: Kind, arity: usize, func: &ItemFn, timer: Option<Timer>) -> Tokens {
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
        Kind::Processor => {
            let (interval, on_timer) = match &timer {
                Some(Timer {
                    interval_ms,
                    function,
                }) => (
                    quote!(::core::option::Option::Some(#interval_ms)),
                    quote! {
                        #p::run_timer(now_ms, |now, ctx| {
                            ::weir_guest::ProcessAnswer::into_answer(#function(now, ctx))
                        })
                    },
                ),
                None => (
                    quote!(::core::option::Option::None),
                    quote! {
                        let _ = now_ms;
                        ::core::result::Result::Ok(#p::TimerOutput {
                            main: #p::empty_batch(),
                            routes: ::std::vec::Vec::new(),
                        })
                    },
                ),
            };
            return quote! {
                #func

                #[doc(hidden)]
                pub struct __WeirPlugin;

                impl #p::ProcessorGuest for __WeirPlugin {
                    fn init(
                        _config: ::std::vec::Vec<(::std::string::String, ::std::string::String)>,
                    ) -> ::core::result::Result<#p::Settings, #p::ProcessorError> {
                        ::core::result::Result::Ok(#p::Settings { timer_interval_ms: #interval })
                    }

                    fn process(
                        origin: #p::Origin,
                        batch: #p::Batch,
                    ) -> ::core::result::Result<#p::ProcessorOutput, #p::ProcessorError> {
                        #p::run_processor(origin, batch, |record, ctx| {
                            ::weir_guest::ProcessAnswer::into_answer(#name(record, ctx))
                        })
                    }

                    fn on_timer(
                        now_ms: i64,
                    ) -> ::core::result::Result<#p::TimerOutput, #p::ProcessorError> {
                        #on_timer
                    }
                }

                ::weir_guest::__private::bindings::__weir_export_processor!(__WeirPlugin);
            };
        }
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
