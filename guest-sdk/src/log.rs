//! Logging to the host, tagged there with the plugin's name.

use crate::bindings::weir::plugin::log::{Level, write};

#[doc(hidden)]
pub fn __log(level: u8, message: &str) {
    let level = match level {
        0 => Level::Trace,
        1 => Level::Debug,
        2 => Level::Info,
        3 => Level::Warn,
        _ => Level::Error,
    };
    write(level, message);
}

/// Logs at info level, `format!` style.
#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::log::__log(2, &::std::format!($($arg)*)) };
}

/// Logs at debug level, `format!` style.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => { $crate::log::__log(1, &::std::format!($($arg)*)) };
}

/// Logs at warn level, `format!` style.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::log::__log(3, &::std::format!($($arg)*)) };
}

/// Logs at error level, `format!` style.
#[macro_export]
macro_rules! error {
    ($($arg:tt)*) => { $crate::log::__log(4, &::std::format!($($arg)*)) };
}
