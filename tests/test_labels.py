"""Any labels survive the projector frontend's metadata parser (property-based)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from projector_export import escape_label, unescape_label
from projector_export.format.metadata import JS_WHITESPACE, metadata_table, parse_metadata

# Bias the alphabet towards what breaks the parser: separators, JS whitespace, escapes.
awkward = st.sampled_from(list(JS_WHITESPACE) + ["\\", "t", "n", "s", "u", "0", "(", ")", "\x85", "\x1c"])
label = st.one_of(st.just("(empty)"), st.text(st.one_of(awkward, st.characters(codec="utf-8")), max_size=12))
labels = st.lists(label, min_size=1, max_size=30)


@settings(max_examples=300, deadline=None)
@given(labels)
def test_one_column_keeps_every_row_and_label(values):
    text = metadata_table(values, len(values)).to_tsv()
    header, rows = parse_metadata(text)
    assert header == ["label"]
    assert [unescape_label(cell) for (cell,) in rows] == values


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=6), st.text(max_size=6)), min_size=1, max_size=20), st.text(min_size=1, max_size=5))
def test_several_columns_keep_every_row_and_cell(pairs, name):
    firsts, seconds = [a for a, _ in pairs], [b for _, b in pairs]
    table = metadata_table({name: firsts, "second": seconds}, len(pairs))
    header, rows = parse_metadata(table.to_tsv())
    assert [unescape_label(h) for h in header] == [name, "second"]
    assert [[unescape_label(c) for c in row] for row in rows] == [list(p) for p in pairs]


@given(st.text())
def test_escaped_cells_hold_no_separator_and_are_never_blank(label):
    cell = escape_label(label)
    assert "\t" not in cell and "\n" not in cell and "\r" not in cell
    assert cell.strip(JS_WHITESPACE) != ""
    assert unescape_label(cell) == label
