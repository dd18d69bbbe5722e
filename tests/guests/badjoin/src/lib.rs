//! A joiner that writes `L+R` (`-` for a missing side) and misbehaves on request: a left
//! value `trap` panics (a trap), `huge` answers a value larger than the host keeps, `bad`
//! fails its record, `config` refuses as if its configuration were unusable, `null`
//! answers a null value. With config `trap_all = true` every call traps (a broken update,
//! to be rolled back).
use weir_guest::prelude::*;

#[joiner]
fn join(_key: Option<&[u8]>, left: Option<&[u8]>, right: Option<&[u8]>) -> Result<Option<Vec<u8>>> {
    if Config::get_global().get("trap_all") == Some("true") {
        panic!("badjoin was deployed to trap");
    }
    match left {
        Some(b"trap") => panic!("badjoin was told to trap"),
        Some(b"huge") => return Ok(Some(vec![b'x'; 5 << 20])),
        Some(b"bad") => return Err(Error::new("badjoin refuses bad")),
        Some(b"config") => return Err(Error::invalid_config("badjoin has no usable config")),
        Some(b"null") => return Ok(None),
        _ => {}
    }
    let side = |v: Option<&[u8]>| v.unwrap_or(b"-").to_vec();
    Ok(Some([side(left), b"+".to_vec(), side(right)].concat()))
}
