"""The query library: reading .rq files, their header comments and the manifest of expected results."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from smnpc_kg.errors import QueryError


def read_query(arg: str) -> str:
    """The query text: ``arg`` itself when it holds a query, else the content of the file it names.

    >>> read_query("ASK { ?s ?p ?o }")
    'ASK { ?s ?p ?o }'
    """
    if "{" in arg or "\n" in arg:
        return arg  # query text, not a file name
    path = Path(arg)
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        if arg.endswith(".rq") or path.suffix:
            raise QueryError(f"cannot read query file: {exc.strerror}", where=arg,
                             hint="give a path to a .rq file or the SPARQL text itself") from exc
        return arg
    except UnicodeDecodeError as exc:
        raise QueryError("the query file is not UTF-8 text", where=arg, hint="save it as UTF-8") from exc


@dataclass
class QueryHeader:
    """The header comment of a library query: '# title:', '# description:', '# keywords:'."""

    title: str
    description: str
    keywords: list[str]


def parse_header(text: str, where: str = "query") -> QueryHeader:
    """Read the '# key: value' lines at the top of a query file.

    >>> parse_header("# title: T\\n# description: D\\n# keywords: a, b\\nSELECT * {}").keywords
    ['a', 'b']
    """
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        key, sep, value = line[1:].partition(":")
        if sep:
            fields[key.strip().lower()] = value.strip()
    missing = [k for k in ("title", "description", "keywords") if not fields.get(k)]
    if missing:
        raise QueryError(f"header comment lacks {', '.join(missing)}", where=where,
                         hint="start the file with '# title: ...', '# description: ...', '# keywords: ...'")
    return QueryHeader(fields["title"], fields["description"],
                       [k.strip() for k in fields["keywords"].split(",") if k.strip()])
