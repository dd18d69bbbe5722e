"""Keeps the records whose value contains the configured `pattern`."""
import weir


@weir.filter
def keep(record, config):
    pattern = weir.require(config, "pattern").encode()
    return record.value is not None and pattern in record.value


# componentize-py instantiates the class named after the exported interface.
Transformer = keep
