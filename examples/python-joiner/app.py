"""Orders enriched with customers: the value joiner of a stream–table join, in Python.

Each order (the left side, keyed by customer id) meets the customer's row of the table (the
right side; None when the customer is unknown, in a left join). The result is the JSON
{"order": ORDER, "customer": CUSTOMER} of both values as text, the customer null when there
is none. A value that is not UTF-8 fails its record (the pipeline's on_error applies).
"""
import json

import weir


@weir.joiner
def enrich(key, order, customer):
    text = lambda v: None if v is None else v.decode("utf-8")
    return json.dumps({"order": text(order), "customer": text(customer)},
                      separators=(",", ":")).encode()


# componentize-py instantiates the class named after the exported interface.
Joining = enrich
