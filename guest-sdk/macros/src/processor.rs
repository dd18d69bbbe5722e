//! `#[processor]`: its arguments (the wall-clock and stream-time timers, the stores'
//! retention) and the guest glue it expands to (the `processing` and `stream-time` exports).

use proc_macro2::TokenStream as Tokens;
use quote::quote;
use syn::ItemFn;

/// A processor's timer: how often, and which function.
struct Timer {
    interval_ms: syn::LitInt,
    function: syn::Path,
}

/// A processor's arguments: its wall-clock and stream-time timers and store retention.
#[derive(Default)]
pub(crate) struct ProcessorArgs {
    timer: Option<Timer>,
    stream: Option<Timer>,
    retention_ms: Option<syn::LitInt>,
}

pub(crate) fn parse_args(attr: Tokens) -> syn::Result<ProcessorArgs> {
    use syn::parse::Parser;
    if attr.is_empty() {
        return Ok(ProcessorArgs::default());
    }
    let args = syn::punctuated::Punctuated::<syn::MetaNameValue, syn::Token![,]>::parse_terminated
        .parse2(attr.clone())?;
    let (mut interval_ms, mut function) = (None, None);
    let (mut stream_ms, mut stream_fn, mut retention_ms) = (None, None, None);
    for arg in &args {
        let name = arg.path.get_ident().map(|i| i.to_string());
        match (name.as_deref(), &arg.value) {
            (
                Some(key @ ("timer_ms" | "stream_time_ms" | "retention_ms")),
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Int(n),
                    ..
                }),
            ) => {
                let slot = match key {
                    "timer_ms" => &mut interval_ms,
                    "stream_time_ms" => &mut stream_ms,
                    _ => &mut retention_ms,
                };
                *slot = Some(n.clone());
            }
            (Some("on_timer"), syn::Expr::Path(p)) => function = Some(p.path.clone()),
            (Some("on_stream_time"), syn::Expr::Path(p)) => stream_fn = Some(p.path.clone()),
            _ => {
                return Err(syn::Error::new_spanned(
                    arg,
                    "expected `timer_ms = <milliseconds>`, `on_timer = <function>`, `stream_time_ms = <milliseconds>`, `on_stream_time = <function>` or `retention_ms = <milliseconds>`",
                ));
            }
        }
    }
    let pair = |ms: Option<syn::LitInt>, f: Option<syn::Path>, what: &str| match (ms, f) {
        (Some(interval_ms), Some(function)) => Ok(Some(Timer {
            interval_ms,
            function,
        })),
        (None, None) => Ok(None),
        _ => Err(syn::Error::new_spanned(&attr, what)),
    };
    Ok(ProcessorArgs {
        timer: pair(
            interval_ms,
            function,
            "a timer needs both `timer_ms = <milliseconds>` and `on_timer = <function>`",
        )?,
        stream: pair(
            stream_ms,
            stream_fn,
            "a stream-time timer needs both `stream_time_ms = <milliseconds>` and `on_stream_time = <function>`",
        )?,
        retention_ms,
    })
}

/// The processor plugin around `func`: its `processing` and `stream-time` exports.
pub(crate) fn generate(func: &ItemFn, args: &ProcessorArgs) -> Tokens {
    let name = &func.sig.ident;
    let p = quote!(::weir_guest::__private);
    let (stream_interval, on_stream_time) = match &args.stream {
        Some(Timer {
            interval_ms,
            function,
        }) => (
            quote!(::core::option::Option::Some(#interval_ms)),
            quote! {
                #p::run_stream_time(stream_time_ms, |t, ctx| {
                    ::weir_guest::ProcessAnswer::into_answer(#function(t, ctx))
                })
            },
        ),
        None => (
            quote!(::core::option::Option::None),
            quote! {
                let _ = stream_time_ms;
                ::core::result::Result::Ok(#p::PunctuationOutput {
                    main: #p::empty_batch(),
                    routes: ::std::vec::Vec::new(),
                })
            },
        ),
    };
    let retention = match &args.retention_ms {
        Some(ms) => quote!(::core::option::Option::Some(#ms)),
        None => quote!(::core::option::Option::None),
    };
    let (interval, on_timer) = match &args.timer {
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
    quote! {
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

        impl #p::StreamTimeGuest for __WeirPlugin {
            fn settings() -> #p::StreamSettings {
                #p::StreamSettings {
                    interval_ms: #stream_interval,
                    retention_ms: #retention,
                }
            }

            fn on_stream_time(
                stream_time_ms: i64,
            ) -> ::core::result::Result<#p::PunctuationOutput, #p::PunctuationError> {
                #on_stream_time
            }
        }

        ::weir_guest::__private::bindings::__weir_export_processor!(__WeirPlugin);
    }
}
