"""What a SPARQL request asks for: a query (calling SERVICE or not), an update, or text that is neither."""

from __future__ import annotations

import re
import sys
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, cast

#: How deeply groups, sub-queries, bracketed expressions and property paths may nest in one query.
MAX_NESTING = 64
#: The Python frames the parser may use: MAX_NESTING levels of any construct and about 4,000 triple patterns in
#: one group fit; rdflib's grammar recurses on both, and a 10,000-deep query exhausts this in about a second.
PARSER_FRAMES = 50_000
#: The parse-tree nodes that open a nesting level (a group, a sub-select, an expression, a path).
NESTING = frozenset({"GroupGraphPatternSub", "SubSelect", "ConditionalOrExpression", "PathAlternative"})

READ_ONLY = "read-only: SPARQL Update (INSERT, DELETE, LOAD, CLEAR, DROP, ...) is refused"
NO_SERVICE = "SERVICE (federated query) is disabled on this endpoint; start it with --allow-federation to enable it"
TOO_DEEP = (f"the query nests deeper than {MAX_NESTING} levels (or holds more triple patterns in one group than "
            "the parser follows, about 4,000); flatten it or split it")

# SPARQL 1.1 section 19.2: \uXXXX and \UXXXXXXXX stand for their character anywhere in a query, before parsing.
_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")


@dataclass(frozen=True)
class Decision:
    """Whether a request text may run (status 200), or the status and one-line message that refuse it."""

    status: int
    message: str
    text: str  # the text the store runs: the very text the parser read
    federated: bool = False

    @property
    def runs(self) -> bool:
        return self.status == 200


class _BadEscape(ValueError):
    def __init__(self, at: int, escape: str) -> None:
        super().__init__(escape)
        self.at = at
        self.escape = escape


def expand_escapes(text: str) -> str:
    r"""The text with SPARQL's codepoint escapes replaced by their characters, as the spec says to do before parsing.

    Exactly four hex digits follow ``\u`` and exactly eight follow ``\U`` (rdflib's own pass also reads ``\u`` with
    eight digits, so the text it would parse is not the text the spec means).

    >>> expand_escapes(r"\u0053ERVICE \u000A0020")
    'SERVICE \n0020'
    """

    def character(match: re.Match[str]) -> str:
        code = int(match.group(1) or match.group(2), 16)
        if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
            raise _BadEscape(match.start(), match.group(0))
        return chr(code)

    return _ESCAPE.sub(character, text)


def _parsed(grammar: object, text: str) -> object:
    """``grammar`` (an rdflib pyparsing element) run over the whole of ``text``, with room for PARSER_FRAMES frames."""
    from pyparsing import ParserElement

    assert isinstance(grammar, ParserElement)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, PARSER_FRAMES))
    try:
        return grammar.parse_string(text, parse_all=True)
    finally:
        sys.setrecursionlimit(limit)


def _shape(tree: object) -> tuple[int, bool]:
    """The deepest nesting level of a parse tree and whether it holds a SERVICE pattern, walked without recursion."""
    from pyparsing import ParseResults
    from rdflib.plugins.sparql.parserutils import CompValue, ParamValue

    deepest, service = 0, False
    seen: set[int] = set()
    todo: list[tuple[object, int]] = [(tree, 0)]
    while todo:
        node, level = todo.pop()
        if id(node) in seen:
            continue
        if isinstance(node, CompValue):
            seen.add(id(node))
            service = service or node.name == "ServiceGraphPattern"
            if node.name in NESTING:
                level += 1
                deepest = max(deepest, level)
            todo.extend((child, level) for child in dict.values(node))
        elif isinstance(node, ParseResults):
            seen.add(id(node))
            todo.extend((child, level) for child in node)
            todo.extend((child, level) for child in cast(Any, node).values())  # named results (untyped in pyparsing)
        elif isinstance(node, ParamValue):
            todo.append((node.tokenList, level))
        elif isinstance(node, list | tuple):
            todo.extend((child, level) for child in node)
    return deepest, service


def _updates(text: str) -> bool:
    """Whether ``text`` parses as a SPARQL Update with at least one operation."""
    from pyparsing import ParseBaseException, ParseResults
    from rdflib.plugins.sparql.parser import UpdateUnit

    try:
        parsed = _parsed(UpdateUnit, text)
    except (ParseBaseException, RecursionError):
        return False
    assert isinstance(parsed, ParseResults)
    return bool(dict.get(parsed[0], "request"))  # CompValue.get answers a missing key with the key's name


def _without_format_characters(text: str) -> str:
    """The text without Unicode format characters (a byte-order mark, zero-width spaces, direction marks)."""
    return text if text.isascii() else "".join(c for c in text if unicodedata.category(c) != "Cf")


def _syntax(exc: object, text: str) -> Decision:
    """A 400 naming the line and column where the query parser stopped, and what it expected there."""
    from pyparsing import ParseBaseException

    assert isinstance(exc, ParseBaseException)
    what = str(exc).rpartition("  (at char")[0] or exc.msg
    if len(what) > 200:
        what = what[:200] + "..."
    return Decision(400, f"SPARQL syntax error: error at {exc.lineno}:{exc.col}: {what}", text)


def _not_a_query(text: str, exc: object) -> Decision:
    """A text the query grammar refused: 403 when it is an update (also one hidden as the issue lists), else 400."""
    from pyparsing import ParseBaseException

    assert isinstance(exc, ParseBaseException)
    if _updates(text):
        return Decision(403, READ_ONLY, text)
    # Neither a query nor an update: these only choose the refusal's status, they never let anything run.
    bare = _without_format_characters(text)
    if bare != text and _updates(bare):
        return Decision(403, READ_ONLY, text)
    if text[exc.loc:exc.loc + 1] == ";" and _updates(text[exc.loc + 1:]):
        return Decision(403, READ_ONLY, text)
    return _syntax(exc, text)


def decide(text: str, allow_federation: bool = False) -> Decision:
    r"""What ``text`` asks for, decided on rdflib's parse of it: run it (200), or refuse it (400, 403) with one line.

    The codepoint escapes are expanded first and every line end becomes ``\n`` (a carriage return ends a comment
    in SPARQL but not in rdflib's grammar); the store then runs exactly the text that was parsed.

    >>> decide("ASK { ?s smo:value 1 }").status, decide("CLEAR ALL").status
    (200, 403)
    >>> decide("SELECT * WHERE { #x\rSERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }").message[:7]
    'SERVICE'
    """
    from pyparsing import ParseBaseException
    from rdflib.plugins.sparql.parser import Query

    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return Decision(400, "the query is not UTF-8 text (it holds a lone surrogate)", text)
    try:
        source = expand_escapes(text)
    except _BadEscape as exc:
        line = text.count("\n", 0, exc.at) + 1
        column = exc.at - (text.rfind("\n", 0, exc.at) + 1) + 1
        return Decision(400, f"SPARQL syntax error: error at {line}:{column}: {exc.escape} is not a Unicode character", text)
    source = source.replace("\r\n", "\n").replace("\r", "\n")
    try:
        tree = _parsed(Query, source)
    except RecursionError:
        return Decision(400, TOO_DEEP, source)
    except ParseBaseException as exc:
        return _not_a_query(source, exc)
    deepest, service = _shape(tree)
    if service and not allow_federation:
        return Decision(403, NO_SERVICE, source, federated=True)
    if deepest > MAX_NESTING:
        return Decision(400, TOO_DEEP, source, federated=service)
    return Decision(200, "", source, federated=service)


class Decisions:
    """:func:`decide` with the most recent answers kept, so that the same query text is parsed once.

    >>> cache = Decisions(allow_federation=False)
    >>> cache.get("ASK {}") is cache.get("ASK {}")
    True
    """

    def __init__(self, allow_federation: bool, size: int = 256, max_chars: int = 32_768) -> None:
        self.allow_federation = allow_federation
        self.size = size
        self.max_chars = max_chars  # longer texts are decided every time (the cache stays small)
        self._kept: OrderedDict[str, Decision] = OrderedDict()

    def get(self, text: str) -> Decision:
        kept = self._kept.get(text)
        if kept is not None:
            self._kept.move_to_end(text)
            return kept
        decision = decide(text, self.allow_federation)
        if len(text) <= self.max_chars:
            self._kept[text] = decision
            if len(self._kept) > self.size:
                self._kept.popitem(last=False)
        return decision
