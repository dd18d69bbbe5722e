"""A Python aggregator: sums whole-number values per key (and window), the aggregate being
the sum as decimal text; a value `boom` fails its record."""
import weir


def merge(key, left, right):
    return str(int(left) + int(right)).encode()


@weir.aggregator(initial=lambda: b"0", merge=merge)
def add(item, aggregate):
    if item.value == b"boom":
        raise ValueError("boom is not a number")
    return str(int(aggregate) + int(item.value)).encode()


# componentize-py instantiates the class named after the exported interface.
Aggregating = add
