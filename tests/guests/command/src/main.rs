//! A WASI command, not a weir plugin: loading it must be refused as the wrong world.
fn main() {
    println!("hello from a command");
}
