"""A Python key selector: the text of the value before its first `separator` (config, default
","), as examples/rust-key-selector; a value without it has no new key (dropped); a value
`boom` fails its record."""
import weir


@weir.key_selector
def select(record, config):
    value = record.value or b""
    if value == b"boom":
        raise ValueError("boom has no key")
    field, sep, _ = value.partition(config.get("separator", ",").encode())
    return field if sep else None


# componentize-py instantiates the class named after the exported interface.
KeySelecting = select
