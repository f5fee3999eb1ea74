"""Small tables as Markdown text: what a page shows before anything heavy is imported."""

from numbers import Number


def markdown_table(rows: list[dict], right: tuple[str, ...] = ()) -> str:
    """rows (dicts with the same keys, in column order) as a GitHub-flavoured Markdown table; columns of numbers
    are right-aligned, integers with thousands separators; so are the columns named in `right` (numbers already
    written as text, such as percentages).

    st.dataframe would import pandas (about a second on this 2-core machine) and make the browser fetch its grid's
    code, on the first page a visitor sees; a few rows of text need neither.
    """
    if not rows:
        return ""
    columns = list(rows[0])
    numeric = {c for c in columns if all(isinstance(r[c], Number) and not isinstance(r[c], bool) for r in rows)}
    numeric |= set(right)

    def cell(value) -> str:
        text = f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)
        return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(c) for c in columns) + " |",
             "|" + "".join("---:|" if c in numeric else "---|" for c in columns)]
    lines += ["| " + " | ".join(cell(r[c]) for c in columns) + " |" for r in rows]
    return "\n".join(lines)
