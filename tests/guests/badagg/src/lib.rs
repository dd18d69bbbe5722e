//! An aggregator that misbehaves on request: a value `trap` panics (a trap), `huge`
//! answers an aggregate larger than the host stores, `config` refuses as if its
//! configuration were unusable; any other value is appended to the aggregate. With
//! config `trap_all = true` every `add` traps (a broken update, to be rolled back).
use weir_guest::prelude::*;

#[aggregator]
fn add(item: &Item, aggregate: &[u8]) -> Result<Vec<u8>> {
    if Config::get_global().get("trap_all") == Some("true") {
        panic!("badagg was deployed to trap");
    }
    match item.value() {
        b"trap" => panic!("badagg was told to trap"),
        b"huge" => Ok(vec![b'x'; 5 << 20]),
        b"config" => Err(Error::invalid_config("badagg has no usable config")),
        value => Ok([aggregate, value].concat()),
    }
}
