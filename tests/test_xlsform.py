import pytest
from openpyxl import Workbook

from cmlkit.errors import InstrumentError
from cmlkit.instrument import load_instrument
from cmlkit.xlsform import read_xlsform, write_xlsform


@pytest.mark.parametrize("name", ["cml_library", "cml_volunteer"])
def test_xlsform_round_trip_is_exact(name, root, tmp_path):
    inst = load_instrument(name, "2025w1", root=root)
    path = write_xlsform(inst, tmp_path / f"{name}.xlsx")
    back = read_xlsform(path)
    assert back.to_dict() == inst.to_dict()


def _kobo_form(path, constraint=". >= 0 and . <= 84"):
    wb = Workbook()
    ws = wb.active
    ws.title = "survey"
    ws.append(["type", "name", "label::English (en)", "relevance", "constraint", "required"])
    ws.append(["start", "start", None, None, None, None])
    ws.append(["begin group", "about", "About", None, None, None])
    ws.append(["select one yes_no", "grant", "Council grant?", None, None, "TRUE"])
    ws.append(["decimal", "grant_amount", "Amount", "${grant} = 'yes'", constraint, None])
    ws.append(["note", "thanks", "Thanks", None, None, None])
    ws.append(["select all that apply svc", "services", "Services", None, None, None])
    ws.append(["end group", None, None, None, None, None])
    ch = wb.create_sheet("choices")
    ch.append(["list name", "name", "label::English (en)"])
    for row in (["yes_no", "yes", "Yes"], ["yes_no", "no", "No"], ["svc", "books", "Books"], ["svc", "wifi", "Wifi"]):
        ch.append(row)
    st = wb.create_sheet("settings")
    st.append(["form_title", "id_string", "version"])
    st.append(["Kobo form", "kobo_test", "2025063001"])
    wb.save(path)
    return path


def test_xlsform_import_accepts_common_aliases(tmp_path):
    inst = read_xlsform(_kobo_form(tmp_path / "kobo.xlsx"), version="2025w1")
    assert inst.instrument == "kobo_test"
    assert inst.question_ids == ["grant", "grant_amount", "services"]
    assert inst.question("grant")["required"] is True
    assert inst.question("grant_amount")["constraint"] == {"min": 0, "max": 84}
    assert inst.question("grant_amount")["relevant"] == "${grant} = 'yes'"
    assert inst.question("services")["type"] == "select_multiple"
    assert inst.choice_names("services") == ["books", "wifi"]


def test_xlsform_unsupported_constraint_names_row(tmp_path):
    path = _kobo_form(tmp_path / "kobo.xlsx", constraint="regex(., '^[0-9]+$')")
    with pytest.raises(InstrumentError, match=r"row 5.*grant_amount.*not supported"):
        read_xlsform(path, version="2025w1")
