"""ui/tables.py: the Markdown tables pages show instead of st.dataframe where pandas is not worth importing."""

from ui.tables import markdown_table


def test_a_table_of_rows_in_column_order_with_numbers_right_aligned():
    rows = [{"layer": "hidden 1", "parameters": 803840}, {"layer": "output", "parameters": 650}]
    assert markdown_table(rows).splitlines() == [
        "| layer | parameters |",
        "|---|---:|",
        "| hidden 1 | 803,840 |",
        "| output | 650 |",
    ]


def test_cells_cannot_break_the_table():
    rows = [{"a": "x|y", "b": "two\nlines", "c": True}]
    assert markdown_table(rows).splitlines()[2] == "| x\\|y | two lines | True |"
    assert markdown_table(rows).splitlines()[1] == "|---|---|---|"  # a bool is not a number column


def test_no_rows_no_table():
    assert markdown_table([]) == ""
