"""A domain's quality report as one self-contained HTML page: tables and inline SVG charts, no scripts or fonts."""

import datetime as dt
from html import escape

from hc_pipeline.quality.figures import RULES, DomainQuality, FileQuality

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:24px;color:#1f2933}
h1{font-size:22px}h2{font-size:17px;margin-top:28px}h3{font-size:14px;font-weight:500}table{border-collapse:collapse;font-size:13px}
th,td{border:1px solid #d9dee3;padding:4px 8px;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
th{background:#f3f5f7}.passed{color:#1a7f37}.failed{color:#b42318;font-weight:600}.muted{color:#66727f}
.totals span{display:inline-block;margin-right:24px}.totals b{font-size:20px;display:block}
"""
BAR = {"quarantined": "#d92d20", "warnings": "#f79009"}


def _pct(share: float) -> str:
    return f"{share:.1%}"


def _num(column: str, value: int) -> str:
    return f'<td class="n" data-col="{column}">{value}</td>'


def _check_cell(quality: FileQuality, name: str) -> str:
    result = quality.checks[name]
    status = "passed" if result.passed else "failed"
    return (
        f'<td class="{status}" data-check="{escape(name)}" data-status="{status}">'
        f"{'passed' if result.passed else 'WARN'} ({result.failing_rows}, {_pct(result.share)})</td>"
    )


def files_table(quality: DomainQuality) -> str:
    groups = [g.name for g in quality.groups]
    head = "".join(
        f"<th>{h}</th>"
        for h in ("file", "rows landed", "curated", "quarantined", "curated with warnings", "conservation", *groups)
    )
    rows = []
    for f in quality.files:
        conserved = "passed" if f.conserved else "failed"
        rows.append(
            f'<tr data-file="{escape(f.source_file)}"><td>{escape(f.source_file)}</td>'
            + _num("landed", f.landed)
            + _num("curated", f.curated)
            + _num("quarantined", f.quarantined)
            + _num("warnings", f.rows_with_warnings)
            + f'<td class="{conserved}" data-check="row_conservation" data-status="{conserved}">{conserved}</td>'
            + "".join(_check_cell(f, g) for g in groups)
            + "</tr>"
        )
    return f'<table id="files"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def rules_table(quality: DomainQuality) -> str:
    rules = RULES[quality.domain]
    rows = [
        f'<tr data-rule="{escape(rule.id)}"><td>{escape(rule.id)}</td><td>{escape(rule.group)}</td>'
        f"<td>{escape(rule.severity)}</td><td>{escape(rule.description)}</td>"
        + _num("rows", quality.rule_rows.get(rule.id, 0))
        + "</tr>"
        for rule in rules.values()
    ]
    head = "<tr><th>rule</th><th>check</th><th>severity</th><th>what it means</th><th>rows</th></tr>"
    return f'<table id="rules"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'


def exceptions_table(quality: DomainQuality) -> str:
    if not quality.open_by_reason:
        return '<p id="exceptions">No open exceptions.</p>'
    ordered = sorted(quality.open_by_reason.items(), key=lambda item: (-item[1], item[0]))
    rows = [f'<tr data-reason="{escape(r)}"><td>{escape(r)}</td>{_num("rows", n)}</tr>' for r, n in ordered]
    head = "<tr><th>reason</th><th>open (quarantined rows)</th></tr>"
    return f'<table id="exceptions"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'


def bar_chart(chart_id: str, title: str, shares: list[tuple[str, float]], colour: str) -> str:
    """Shares in [0, 1] per file as vertical bars, with a 0-100 % axis and a tooltip per bar."""
    width_per, height, left, bottom = 28, 160, 40, 20
    width = left + max(len(shares), 1) * width_per + 10
    parts = [
        f'<svg id="{chart_id}" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + bottom + 10}" '
        f'role="img" aria-label="{escape(title)}">',
        f'<line x1="{left}" y1="{height}" x2="{width}" y2="{height}" stroke="#99a3ad"/>',
    ]
    for tick in (0, 0.5, 1):
        y = height - tick * (height - 10)
        parts.append(f'<text x="{left - 4}" y="{y + 4:.0f}" font-size="10" text-anchor="end">{tick:.0%}</text>')
    for index, (name, share) in enumerate(shares):
        bar = max(share, 0.0) * (height - 10)
        x = left + index * width_per + 4
        parts.append(
            f'<rect x="{x}" y="{height - bar:.1f}" width="{width_per - 8}" height="{bar:.1f}" fill="{colour}" '
            f'data-file="{escape(name)}" data-share="{share:.4f}"><title>{escape(name)}: {_pct(share)}</title></rect>'
        )
        parts.append(
            f'<text x="{x + (width_per - 8) / 2}" y="{height + 14}" font-size="9" text-anchor="middle">'
            f"{index + 1}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def trend_charts(quality: DomainQuality) -> str:
    files = quality.files
    quarantined = [(f.source_file, f.quarantined / f.landed if f.landed else 0.0) for f in files]
    warned = [(f.source_file, f.rows_with_warnings / f.landed if f.landed else 0.0) for f in files]
    legend = "".join(f"<li>{escape(f.source_file)}</li>" for f in files)
    return (
        "<h3>Quarantined rows, share of rows landed</h3>"
        + bar_chart("trend-quarantined", "Quarantined share per file", quarantined, BAR["quarantined"])
        + "<h3>Curated rows with warnings, share of rows landed</h3>"
        + bar_chart("trend-warnings", "Warning share per file", warned, BAR["warnings"])
        + f'<ol class="muted" id="file-legend">{legend}</ol>'
    )


def render(quality: DomainQuality, generated_at: dt.datetime | None = None) -> str:
    """The whole page for one domain."""
    stamp = (generated_at or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M UTC")
    files = quality.files
    totals = {
        "files": len(files),
        "rows landed": sum(f.landed for f in files),
        "curated": sum(f.curated for f in files),
        "quarantined": sum(f.quarantined for f in files),
        "files with a failing check": sum(
            1 for f in files if not f.conserved or not all(r.passed for r in f.checks.values())
        ),
    }
    totals_html = "".join(f'<span data-total="{escape(k)}"><b>{v}</b>{escape(k)}</span>' for k, v in totals.items())
    body = (
        "<p>No files processed yet.</p>"
        if not files
        else (
            "<h2>Files</h2>"
            + files_table(quality)
            + '<p class="muted">Check results per file: the share of its rows breaking any rule of the check, against '
            "the check's threshold (as in Dagster). Files in name order.</p>"
            + "<h2>Trends over files</h2>"
            + trend_charts(quality)
            + "<h2>Rows per rule</h2>"
            + rules_table(quality)
            + "<h2>Open exceptions by reason</h2>"
            + exceptions_table(quality)
        )
    )
    title = f"hc_pipeline data quality: {escape(quality.domain)}"
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{STYLE}</style></head><body><h1>{title}</h1>"
        f'<p class="muted">Generated {stamp} from the lake tables. Counts only: no identifiers or values.</p>'
        f'<div class="totals">{totals_html}</div>{body}</body></html>'
    )
