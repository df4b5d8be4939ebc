"""The one kind of statement people may run through `hc-pipeline query`: a single SELECT."""

import re

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

_FIRST_WORD = re.compile(r"^[\s(]*([A-Za-z]+)")
_QUERY_WORDS = {"SELECT", "WITH", "VALUES", "TABLE"}


class NotAQuery(ValueError):
    """The SQL is not exactly one SELECT (WITH ... SELECT and UNION included)."""


def single_select(sql: str) -> exp.Query:
    """The parsed statement, if `sql` is exactly one read-only query in Athena dialect; else NotAQuery."""
    try:
        statements = [tree for tree in sqlglot.parse(sql, read="athena") if tree is not None]
    except ParseError as error:
        first_word = (_FIRST_WORD.findall(sql) or [""])[0].upper()
        if first_word not in _QUERY_WORDS:
            raise NotAQuery(
                f"only SELECT is allowed (this is {first_word or 'empty'}): the lake is read-only here"
            ) from None
        detail = error.errors[0] if error.errors else {}
        where = f" (line {detail['line']}, column {detail['col']})" if "line" in detail else ""
        raise NotAQuery(f"not valid SQL: {detail.get('description', 'cannot parse')}{where}") from None
    if len(statements) != 1:
        raise NotAQuery(f"expected one SELECT statement, got {len(statements)} statements")
    tree = statements[0]
    if not isinstance(tree, exp.Query):
        kind = str(tree.this if isinstance(tree, exp.Command) else tree.key).upper()
        raise NotAQuery(f"only SELECT is allowed (this is {kind}): the lake is read-only here")
    # A SELECT ... INTO or a data-changing CTE is still a write.
    writes = (exp.Into, exp.Insert, exp.Update, exp.Delete, exp.Create, exp.Drop, exp.Merge, exp.Copy, exp.Command)
    found = next(tree.find_all(*writes), None)
    if found is not None:
        raise NotAQuery(f"only SELECT is allowed (it contains {found.key.upper()}): the lake is read-only here")
    return tree
