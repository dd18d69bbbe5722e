//! Hostile: a filter that also imports an interface weir does not grant (`evil:net/raw`): it
//! must be refused at upload, naming the import, before anything is stored.
use weir_guest::prelude::*;

wit_bindgen::generate!({
    inline: "
        package evil:net@0.1.0;
        interface raw {
            send: func(bytes: list<u8>);
        }
        world importer {
            import raw;
        }
    ",
    world: "importer",
});

#[filter]
fn importer(record: &Record) -> bool {
    evil::net::raw::send(record.value().unwrap_or_default());
    true
}
