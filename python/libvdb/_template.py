"""Milvus 2.5's expression templates: filter="age > {a} and city in {cities}" with
filter_params={"a": 25, "cities": ["Paris", "Oslo"]}.

Milvus sends the values beside the expression and its parser fills them in; libvdb's filter
language has no template values, so the client writes each one into the expression as a
literal of the filter language: integers, floats (finite), true/false, strings (double-quoted,
with \\ " and control characters escaped, so a value can never end its literal and inject
filter text), and lists of those. A {name} inside a string literal of the expression is text,
not a template (as in Milvus). A template without a value is an error; values no template uses
are ignored, as Milvus does.
"""

import math
import numbers
import re

from .errors import InvalidArgumentError, Status

__all__ = ["fill"]

_NAME = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}")
_INT64 = (-(1 << 63), (1 << 63) - 1)


def _einval(msg):
    return InvalidArgumentError(Status.EINVAL, msg)


def _quote(s):
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif o < 0x20 or o == 0x7F:
            out.append("\\u%04x" % o)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def literal(v, name):
    """The filter-language literal of one template value."""
    if isinstance(v, bool) or type(v).__name__ == "bool_":  # numpy.bool_ too
        return "true" if v else "false"
    if isinstance(v, numbers.Integral):
        v = int(v)
        if not _INT64[0] <= v <= _INT64[1]:
            raise _einval("filter_params['%s']: %d is out of the int64 range" % (name, v))
        return str(v)
    if isinstance(v, numbers.Real):
        v = float(v)
        if not math.isfinite(v):
            raise _einval("filter_params['%s']: %r is not a finite number" % (name, v))
        return repr(v)
    if isinstance(v, str):
        return _quote(v)
    if hasattr(v, "tolist") and not isinstance(v, (bytes, bytearray)):  # numpy arrays, scalars
        return literal(v.tolist(), name)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(literal(x, name) for x in v) + "]"
    raise _einval("filter_params['%s']: a %s cannot be a template value (numbers, strings, bools "
                  "and lists of them)" % (name, type(v).__name__))


def fill(expr, params):
    """expr with every {name} outside string literals replaced by params[name]'s literal."""
    if params is None or params == {}:
        return expr
    if not isinstance(params, dict):
        raise _einval("filter_params must be a dict, not %s" % type(params).__name__)
    if not expr:
        return expr
    if not isinstance(expr, str):
        raise _einval("filter must be a string, not %s" % type(expr).__name__)
    out = []
    i, n = 0, len(expr)
    while i < n:
        c = expr[i]
        if c in "\"'":  # a string literal, copied as it is (its escapes skipped whole)
            j = i + 1
            while j < n and expr[j] != c:
                j += 2 if expr[j] == "\\" else 1
            out.append(expr[i:j + 1])
            i = j + 1
            continue
        if c == "{":
            m = _NAME.match(expr, i + 1)
            if m:
                name = m.group(1)
                if name not in params:
                    raise _einval("filter: the template {%s} has no value in filter_params"
                                  % name)
                out.append(literal(params[name], name))
                i = m.end()
                continue
        out.append(c)
        i += 1
    return "".join(out)
