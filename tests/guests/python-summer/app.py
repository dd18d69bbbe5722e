"""A Python aggregator: sums whole-number values per key (and window), the aggregate being
the sum as decimal text; a value `boom` fails its record. A value's number is the text after
its last comma (`g1,5` adds 5), so a table's value can name its group too; `subtract` takes a
table row's old value out again (a table aggregation)."""
import weir


def number(value):
    return int(value.rsplit(b",", 1)[-1])


def merge(key, left, right):
    return str(int(left) + int(right)).encode()


def subtract(item, aggregate):
    return str(number(aggregate) - number(item.value)).encode()


@weir.aggregator(initial=lambda: b"0", merge=merge, subtract=subtract)
def add(item, aggregate):
    if item.value == b"boom":
        raise ValueError("boom is not a number")
    return str(number(aggregate) + number(item.value)).encode()


# componentize-py instantiates the class named after the exported interface.
Aggregating = add
