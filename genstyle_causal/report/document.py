"""A self-contained Markdown + HTML report, rewritten atomically after every addition.

Because the files are replaced after each section, a run that stops half-way
still leaves a readable report of everything that finished. The report opens
with its findings (a box of summary tables and pass/fail reference checks,
filled in as results arrive) and a table of contents linking every section.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
from pathlib import Path
from typing import Any, Sequence

import matplotlib.pyplot as plt

from ..errors import RunFileError
from ..io import atomic_write_bytes, atomic_write_json, atomic_write_text

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}h1{border-bottom:2px solid #444}h2{margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:1em 0;font-size:.9em;display:block;overflow-x:auto;max-width:100%}th,td{border:1px solid #ccc;padding:.3em .6em;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}figure{margin:1em 0}img{max-width:100%}
figcaption{font-size:.85em;color:#555}code{background:#f3f3f3;padding:0 .2em}.note{color:#666;font-size:.9em}
.findings{border:2px solid #335577;border-radius:6px;background:#f7f9fc;padding:.2em 1em .8em;margin:1em 0}
.findings h2{margin-top:.6em;border:none}.findings table{background:#fff}.findings td{text-align:left}
.checks{list-style:none;padding-left:0}.checks li{margin:.25em 0}.pass b{color:#1a7f37}.fail b{color:#c62828}
nav.toc{font-size:.9em;margin:1em 0}nav.toc ol{columns:2;margin:.3em 0}
"""


class Report:
    """Collects sections of text, tables and figures; writes ``report.md``, ``report.html``, ``figures/``.

    Args:
      outdir: the run directory; created if needed.
      title: the report's heading.
    """

    def __init__(self, outdir: str | Path, title: str):
        self.outdir = Path(outdir)
        self.title = title
        self._blocks: list[tuple[str, Any]] = []
        self._findings: dict[str, Any] = {"tables": [], "checks": []}
        self.results: dict[str, Any] = {}

    # -- content -----------------------------------------------------------------
    def section(self, title: str) -> "Report":
        self._blocks.append(("section", title))
        return self._flush()

    def text(self, markdown: str) -> "Report":
        self._blocks.append(("text", markdown))
        return self._flush()

    def table(self, rows: Sequence[dict], *, caption: str = "") -> "Report":
        self._blocks.append(("table", (list(rows), caption)))
        return self._flush()

    def figure(self, fig, name: str, caption: str = "") -> "Report":
        """Save ``fig`` as ``figures/<name>.png`` (closing it) and add it to the report."""
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
        plt.close(fig)
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).lstrip(".") or "figure"
        atomic_write_bytes(self.outdir / "figures" / f"{slug}.png", buf.getvalue())
        self._blocks.append(("figure", (slug, caption, buf.getvalue())))
        return self._flush()

    def findings(self, *, tables: Sequence[tuple[str, Sequence[dict]]] = (),
                 checks: Sequence[dict] = ()) -> "Report":
        """Set the findings box shown first: ``tables`` as ``(caption, rows)`` and ``checks`` as dicts with
        ``name``, ``passed`` and a one-sentence ``detail`` (what failed, when it failed)."""
        self._findings = {"tables": [(caption, list(rows)) for caption, rows in tables],
                          "checks": [{"name": c["name"], "passed": bool(c["passed"]), "detail": c.get("detail", "")}
                                     for c in checks]}
        return self._flush()

    def add_results(self, **results) -> "Report":
        """Merge JSON-ready results into ``results.json``."""
        self.results.update(results)
        atomic_write_json(self.outdir / "results.json", self.results)
        return self

    # -- output ------------------------------------------------------------------
    @property
    def html_path(self) -> Path:
        return self.outdir / "report.html"

    @property
    def markdown_path(self) -> Path:
        return self.outdir / "report.md"

    @classmethod
    def load(cls, outdir: str | Path) -> "Report":
        """Re-open the report of a run directory (``report.json`` + ``figures/``) to re-render or extend it.

        Nothing is written (call :meth:`render`). ``report.json`` is not trusted: a malformed one raises
        :class:`RunFileError`, and a figure must be a plain file name inside ``figures/``.
        """
        outdir = Path(outdir)
        index = outdir / "report.json"
        if not index.is_file():
            raise FileNotFoundError(f"no report in {outdir} (expected {index})")
        try:
            saved = json.loads(index.read_text(encoding="utf-8"))
            rep = cls(outdir, _text(saved["title"]))
            rep._findings = _checked_findings(saved.get("findings", rep._findings))
            for kind, value in saved["blocks"]:
                rep._blocks.append((kind, _checked_block(outdir, kind, value)))
        except (ValueError, KeyError, TypeError, OSError) as e:
            raise RunFileError(f"{index} is not a valid report: {e}") from None
        results = outdir / "results.json"
        rep.results = json.loads(results.read_text()) if results.is_file() else {}
        return rep

    def render(self) -> "Report":
        """Write ``report.md`` and ``report.html`` from the blocks (``report.json`` is left as it is)."""
        atomic_write_text(self.markdown_path, self.to_markdown())
        atomic_write_text(self.html_path, self.to_html())
        return self

    def _flush(self) -> "Report":
        blocks = [(k, v[:2] if k == "figure" else v) for k, v in self._blocks]
        atomic_write_json(self.outdir / "report.json", {"title": self.title, "findings": self._findings,
                                                        "blocks": blocks})
        return self.render()

    def _sections(self) -> list[str]:
        return [value for kind, value in self._blocks if kind == "section"]

    def _has_findings(self) -> bool:
        return bool(self._findings["tables"] or self._findings["checks"])

    def to_markdown(self) -> str:
        """Markdown in which no value can inject HTML or break the layout: titles, tables and captions are
        escaped; text blocks keep their Markdown but raw HTML in them is escaped outside code spans."""
        out = [f"# {_md(self.title)}\n"]
        if self._has_findings():
            out.append("## Findings\n")
            out += [f"- **{'PASS' if c['passed'] else 'FAIL'}** {_md(c['name'])}"
                    + (f" — {_md(c['detail'])}" if c["detail"] else "") for c in self._findings["checks"]]
            out += [_markdown_table(rows, caption) for caption, rows in self._findings["tables"]]
        sections = (["Findings"] if self._has_findings() else []) + self._sections()
        if sections:
            out.append("\n**Contents:** " + " · ".join(f"[{_md(t)}](#{anchor(t)})" for t in sections) + "\n")
        for kind, value in self._blocks:
            if kind == "section":
                out.append(f"\n## {_md(value)}\n")
            elif kind == "text":
                out.append(_md_text(value) + "\n")
            elif kind == "table":
                rows, caption = value
                out.append(_markdown_table(rows, caption))
            else:
                slug, caption, _ = value
                out.append(f"![{_md(caption or slug)}](figures/{slug}.png)\n\n*{_md(caption)}*\n" if caption
                           else f"![{_md(slug)}](figures/{slug}.png)\n")
        return "\n".join(out)

    def to_html(self) -> str:
        body = [f"<h1>{html.escape(self.title)}</h1>"]
        sections = self._sections()
        if self._has_findings():
            body.append(self._findings_html())
            sections = ["Findings"] + sections
        if sections:
            items = "".join(f'<li><a href="#{anchor(t)}">{html.escape(t)}</a></li>' for t in sections)
            body.append(f'<nav class="toc"><b>Contents</b><ol>{items}</ol></nav>')
        for kind, value in self._blocks:
            if kind == "section":
                body.append(f'<h2 id="{anchor(value)}">{html.escape(value)}</h2>')
            elif kind == "text":
                body.append(_inline_markdown(value))
            elif kind == "table":
                rows, caption = value
                body.append(_html_table(rows, caption))
            else:
                slug, caption, png = value
                data = base64.b64encode(png).decode("ascii")
                body.append(f'<figure id="{html.escape(slug)}"><img alt="{html.escape(caption or slug)}" '
                            f'src="data:image/png;base64,{data}"/><figcaption>{html.escape(caption)}</figcaption></figure>')
        return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(self.title)}</title>"
                f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>\n")


    def _findings_html(self) -> str:
        parts = [f'<section class="findings" id="{anchor("Findings")}"><h2>Findings</h2>']
        if self._findings["checks"]:
            items = "".join(
                f'<li class="{"pass" if c["passed"] else "fail"}"><b>{"PASS" if c["passed"] else "FAIL"}</b> '
                f'{html.escape(c["name"])}{" — " + html.escape(c["detail"]) if c["detail"] else ""}</li>'
                for c in self._findings["checks"])
            parts.append(f'<ul class="checks">{items}</ul>')
        parts += [_html_table(rows, caption) for caption, rows in self._findings["tables"]]
        return "".join(parts) + "</section>"


def anchor(title: str) -> str:
    """The link target of a section title, as GitHub's Markdown renderer makes it (lower case, spaces to '-',
    punctuation dropped), so the same links work in ``report.md`` and ``report.html``."""
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


def _cell(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _markdown_table(rows: list[dict], caption: str) -> str:
    if not rows:
        return ""
    cols = list(rows[0])
    lines = ["| " + " | ".join(_md(c) for c in cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_md(_cell(r.get(c, ""))) for c in cols) + " |" for r in rows]
    return (f"*{_md(caption)}*\n\n" if caption else "") + "\n".join(lines) + "\n"


def _html_table(rows: list[dict], caption: str) -> str:
    if not rows:
        return ""
    cols = list(rows[0])
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(r.get(c, '')))}</td>" for c in cols) + "</tr>"
                   for r in rows)
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _inline_markdown(text: str) -> str:
    """Paragraphs with `code`, **bold** and *italic*; enough for the report's own prose."""
    out = []
    for para in re.split(r"\n\s*\n", text.strip()):
        p = html.escape(para)
        p = re.sub(r"`([^`]+)`", r"<code>\1</code>", p)
        p = re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", p)
        p = re.sub(r"\*([^*]+)\*", r"<i>\1</i>", p)
        if all(line.lstrip().startswith("- ") for line in p.splitlines()):
            items = "".join(f"<li>{line.lstrip()[2:]}</li>" for line in p.splitlines())
            out.append(f"<ul>{items}</ul>")
        else:
            out.append(f"<p>{p}</p>")
    return "".join(out)


_SLUG = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")


def _text(value) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _checked_findings(findings) -> dict:
    """The ``findings`` of ``report.json``: checks ``{name, detail, passed}`` and ``[caption, rows]`` tables."""
    checks = [{"name": _text(c["name"]), "detail": _text(c["detail"]), "passed": bool(c["passed"])}
              for c in findings["checks"]]
    tables = [(_text(caption), _checked_block(Path(), "table", [rows, caption])[0])
              for caption, rows in findings["tables"]]
    return {"tables": tables, "checks": checks}


def _checked_block(outdir: Path, kind: str, value):
    """A block of ``report.json`` as the report holds it; a figure is read from ``figures/`` and nowhere else."""
    if kind in ("section", "text"):
        return _text(value)
    if kind == "table":
        rows, caption = value
        if not all(isinstance(r, dict) for r in rows):
            raise TypeError("table rows must be objects")
        return list(rows), _text(caption)
    if kind == "figure":
        slug, caption = value
        if not _SLUG.fullmatch(_text(slug)):
            raise ValueError(f"figure name {slug!r} is not a plain file name in figures/")
        folder = (outdir / "figures").resolve()
        path = (folder / f"{slug}.png").resolve()
        if path.parent != folder:
            raise ValueError(f"figure {slug!r} lies outside {folder}")
        return slug, _text(caption), path.read_bytes()
    raise ValueError(f"unknown block kind {kind!r}")


_MD_SPECIAL = re.compile(r"([\\`*_\[\]|<>])")


def _md(text: str) -> str:
    """Text as literal Markdown: special characters backslash-escaped, ``&`` as an entity, one line."""
    return _MD_SPECIAL.sub(r"\\\1", str(text).replace("&", "&amp;")).replace("\n", " ")


def _md_text(text: str) -> str:
    """A Markdown text block with raw HTML disabled: ``<``, ``>`` and ``&`` outside code spans become entities."""
    parts = re.split(r"(`+[^`]*?`+)", text)
    return "".join(p if i % 2 else p.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                   for i, p in enumerate(parts))
