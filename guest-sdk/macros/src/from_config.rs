//! `#[derive(FromConfig)]`: settings read from the configuration, one key per named field.

use proc_macro2::TokenStream as Tokens;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Expr, Fields, Lit, LitStr, Type};

/// How a field gets its value when its key is unset.
enum WhenUnset {
    /// An error naming the key.
    Refuse,
    /// `None` (an `Option<T>` field, parsed as `T` when set).
    None(Type),
    /// This expression (`Default::default()` for a bare `default`).
    Default(Tokens),
}

/// One field: the Rust name, the key it is read from, and what an unset key means.
struct Field {
    ident: syn::Ident,
    key: LitStr,
    ty: Type,
    unset: WhenUnset,
}

/// The `impl FromConfig` for `input`, or an error pointing at what cannot be derived.
pub fn derive(input: &DeriveInput) -> syn::Result<Tokens> {
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &input.generics,
            "#[derive(FromConfig)] needs a struct without generics or lifetimes (settings live as long as the instance)",
        ));
    }
    let named = match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(named) => named,
            other => {
                return Err(syn::Error::new_spanned(
                    other,
                    "#[derive(FromConfig)] needs named fields: each is read from the config key of its name",
                ));
            }
        },
        _ => {
            return Err(syn::Error::new_spanned(
                &input.ident,
                "#[derive(FromConfig)] works on a struct with named fields",
            ));
        }
    };
    let fields = named
        .named
        .iter()
        .map(field)
        .collect::<syn::Result<Vec<_>>>()?;
    let p = quote!(::weir_guest::__private);
    let inits = fields.iter().map(|f| {
        let Field {
            ident,
            key,
            ty,
            unset,
        } = f;
        // Spanned at the field, so a type that is no `ConfigValue` is reported there.
        let value = match unset {
            WhenUnset::Refuse => quote_spanned!(ty.span()=> #p::required::<#ty>(__config, #key)?),
            WhenUnset::None(inner) => {
                quote_spanned!(ty.span()=> #p::optional::<#inner>(__config, #key)?)
            }
            WhenUnset::Default(default) => quote_spanned! {ty.span()=>
                match #p::optional::<#ty>(__config, #key)? {
                    ::core::option::Option::Some(value) => value,
                    ::core::option::Option::None => #default,
                }
            },
        };
        quote!(#ident: #value)
    });
    let name = &input.ident;
    Ok(quote! {
        impl ::weir_guest::FromConfig for #name {
            fn from_config(
                __config: &::weir_guest::Config,
            ) -> ::core::result::Result<Self, ::weir_guest::Error> {
                ::core::result::Result::Ok(#name { #(#inits,)* })
            }
        }
    })
}

/// A field with its `#[config(...)]` options read and checked.
fn field(field: &syn::Field) -> syn::Result<Field> {
    let ident = field
        .ident
        .clone()
        .ok_or_else(|| syn::Error::new_spanned(field, "a settings field needs a name"))?;
    let mut key = None;
    let mut default = None;
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("config")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                if key.is_some() {
                    return Err(meta.error("`rename` given twice"));
                }
                key = Some(meta.value()?.parse::<LitStr>()?);
            } else if meta.path.is_ident("default") {
                if default.is_some() {
                    return Err(meta.error("`default` given twice"));
                }
                default = Some(if meta.input.peek(syn::Token![=]) {
                    default_expr(&meta.value()?.parse::<Expr>()?)
                } else {
                    quote_spanned!(meta.path.span()=> ::core::default::Default::default())
                });
            } else {
                return Err(
                    meta.error("expected `rename = \"key\"`, `default = <value>` or `default`")
                );
            }
            Ok(())
        })?;
    }
    let key = key.unwrap_or_else(|| {
        let name = ident.to_string();
        LitStr::new(name.strip_prefix("r#").unwrap_or(&name), ident.span())
    });
    if key.value().is_empty() {
        return Err(syn::Error::new_spanned(
            &key,
            "a config key cannot be empty",
        ));
    }
    let unset = match (option_inner(&field.ty), default) {
        (Some(_), Some(_)) => {
            return Err(syn::Error::new_spanned(
                &field.ty,
                "an `Option` field is already optional (None when the key is unset): drop `default`, or drop the `Option`",
            ));
        }
        (Some(inner), None) => WhenUnset::None(inner.clone()),
        (None, Some(default)) => WhenUnset::Default(default),
        (None, None) => WhenUnset::Refuse,
    };
    Ok(Field {
        ident,
        key,
        ty: field.ty.clone(),
        unset,
    })
}

/// A default is an expression of the field's type; a string literal also stands for a `String`
/// or `Vec<u8>` (through `From<&str>`), as the same text in the configuration would, and a byte
/// string for a `Vec<u8>`.
fn default_expr(expr: &Expr) -> Tokens {
    match expr {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Str(s), ..
        }) => quote_spanned!(s.span()=> ::core::convert::From::from(#s)),
        Expr::Lit(syn::ExprLit {
            lit: Lit::ByteStr(b),
            ..
        }) => quote_spanned!(b.span()=> ::core::convert::From::from(&#b[..])),
        other => quote!(#other),
    }
}

/// `T` when `ty` is written `Option<T>` (or `std::option::Option<T>`, `core::option::Option<T>`).
fn option_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ty else { return None };
    if path.qself.is_some() {
        return None;
    }
    let segments: Vec<_> = path.path.segments.iter().collect();
    let last = segments.last()?;
    let prefix_ok = match segments.len() {
        1 => true,
        3 => {
            (segments[0].ident == "std" || segments[0].ident == "core")
                && segments[1].ident == "option"
        }
        _ => false,
    };
    if !prefix_ok || last.ident != "Option" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first() {
        Some(syn::GenericArgument::Type(inner)) if args.args.len() == 1 => Some(inner),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::derive;
    use syn::parse_quote;

    fn error(input: syn::DeriveInput) -> String {
        match derive(&input) {
            Ok(tokens) => panic!("expected an error, got {tokens}"),
            Err(e) => e.to_string(),
        }
    }

    fn expansion(input: syn::DeriveInput) -> String {
        derive(&input).unwrap().to_string()
    }

    #[test]
    fn keys_are_field_names_unless_renamed_and_options_or_defaults_make_them_optional() {
        let out = expansion(parse_quote! {
            struct S {
                pattern: Vec<u8>,
                #[config(rename = "max-len")]
                max_len: usize,
                label: Option<String>,
                #[config(default = 3)]
                retries: u32,
                #[config(default)]
                strict: bool,
                r#type: String,
            }
        });
        assert!(
            out.contains("required :: < Vec < u8 > > (__config , \"pattern\")"),
            "{out}"
        );
        assert!(
            out.contains("required :: < usize > (__config , \"max-len\")"),
            "{out}"
        );
        assert!(
            out.contains("optional :: < String > (__config , \"label\")"),
            "{out}"
        );
        assert!(
            out.contains("optional :: < u32 > (__config , \"retries\")"),
            "{out}"
        );
        assert!(out.contains("None => 3"), "{out}");
        assert!(out.contains("Default :: default ()"), "{out}");
        assert!(out.contains("\"type\""), "{out}");
    }

    #[test]
    fn what_cannot_be_derived_is_refused_with_a_reason() {
        let cases: Vec<(syn::DeriveInput, &str)> = vec![
            (
                parse_quote!(
                    struct S(u32);
                ),
                "needs named fields",
            ),
            (
                parse_quote!(
                    enum E {
                        A,
                    }
                ),
                "struct with named fields",
            ),
            (
                parse_quote!(
                    struct S<T> {
                        t: T,
                    }
                ),
                "without generics",
            ),
            (
                parse_quote!(
                    struct S {
                        #[config(default = 1)]
                        n: Option<u32>,
                    }
                ),
                "already optional",
            ),
            (
                parse_quote!(
                    struct S {
                        #[config(name = "x")]
                        n: u32,
                    }
                ),
                "expected `rename",
            ),
            (
                parse_quote!(
                    struct S {
                        #[config(rename = "a", rename = "b")]
                        n: u32,
                    }
                ),
                "given twice",
            ),
            (
                parse_quote!(
                    struct S {
                        #[config(rename = 1)]
                        n: u32,
                    }
                ),
                "string literal",
            ),
            (
                parse_quote!(
                    struct S {
                        #[config(rename = "")]
                        n: u32,
                    }
                ),
                "cannot be empty",
            ),
        ];
        for (input, want) in cases {
            let got = error(input);
            assert!(got.contains(want), "{got:?} should contain {want:?}");
        }
    }
}
