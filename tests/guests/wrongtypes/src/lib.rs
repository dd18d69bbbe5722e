//! Hostile: exports weir's transformer interface with the wrong function type, as a plugin
//! built against a different WIT would. Loading it must name the mismatch.
wit_bindgen::generate!({
    inline: r#"
        package weir:plugin@0.1.0;

        interface transformer {
            process: func(input: string) -> string;
        }

        world wrong {
            export transformer;
        }
    "#,
});

struct Wrong;

impl exports::weir::plugin::transformer::Guest for Wrong {
    fn process(input: String) -> String {
        input
    }
}

export!(Wrong);
