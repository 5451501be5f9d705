"""The plan importer: formats, messy text, other cities' plans, and clear errors on anything it cannot read."""

from __future__ import annotations

import io
import random
import zipfile
from pathlib import Path
from typing import Any

import docx
import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from huanxin.plans import schema
from huanxin.plans.importer import ImportFailed, ImportResult, import_document
from huanxin.plans.importer.evaluate import iter_draft_indicators, iter_draft_measures, norm
from tests.conftest import PLAN_FILE, SOURCE_TEXT

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def counts(result: ImportResult) -> dict[str, int]:
    measures = list(iter_draft_measures(result.draft["sections"]))
    indicators = [i for _, i in iter_draft_indicators(result.draft["sections"])]
    return {
        "measures": len(measures),
        "responsibilities": sum(len(m["responsibilities"]) for _, m in measures),
        "numeric": sum(1 for i in indicators if i["kind"] != "qualitative"),
        "proposed": sum(1 for d in result.draft["departments"] if d.get("proposed")),
    }


def assert_valid(result: ImportResult) -> None:
    """The draft passes the loader's schema, its YAML reads back to the same, and every source points at text."""
    schema.PlanFile.model_validate(yaml.safe_load(result.yaml))
    assert yaml.safe_load(result.yaml) == result.draft
    for _, measure in iter_draft_measures(result.draft["sections"]):
        start, end = measure["source"]
        assert norm(measure["title"]) in norm(result.text[start:end])
        for resp in measure["responsibilities"]:
            start, end = resp["source"]
            if resp["confidence"] > 0.2:  # not the placeholder for a measure without a clause
                assert result.text[start:end] == resp["clause"]
    for _, indicator in iter_draft_indicators(result.draft["sections"]):
        start, end = indicator["source"]
        assert result.text[start:end] == indicator["statement"]


@pytest.fixture(scope="module")
def seed() -> ImportResult:
    return import_document(SOURCE_TEXT.read_bytes(), SOURCE_TEXT.name)


def test_seed_text_in_numbers(seed: ImportResult) -> None:
    assert counts(seed) == {"measures": 27, "responsibilities": 28, "numeric": 18, "proposed": 0}
    assert_valid(seed)
    plan = seed.draft["plan"]
    assert plan["document_number"] == "张政规〔2024〕4号"
    assert plan["issuer"] == "张家口市人民政府"
    assert str(plan["issued_on"]) == "2024-05-28" and str(plan["published_on"]) == "2024-05-29"
    assert (plan["baseline_year"], plan["target_year"]) == (2023, 2027)
    assert plan["task_force_department"] == "drc"
    assert plan["region"] == "130700"  # 张家口市人民政府, from the code database
    # the city and its county-level divisions: the hand-made file's GB/T 2260 entries (its three zones have
    # statistical codes only, which the reviewer adds)
    gold = yaml.safe_load(PLAN_FILE.read_text(encoding="utf-8"))["regions"]
    shape = ("code", "name", "kind", "parent")
    expected = [{k: r[k] for k in shape if k in r} for r in gold if r.get("code_source", "gb2260") == "gb2260"]
    assert [{k: r[k] for k in shape if k in r} for r in seed.draft["regions"]] == expected
    assert all(r["confidence"] >= 0.8 for r in seed.draft["regions"])


def test_seed_text_messy_bits(seed: ImportResult) -> None:
    assert "市供销合作总社" in seed.text and "市 供销合作总社" not in seed.text  # a space inside a name
    assert "分别超过90%、78%" in seed.text  # a page break inside a sentence
    assert "推进建筑和市政设施设备更新" in seed.text  # the typo 推讲
    assert any("推讲" in w for w in seed.warnings)
    goals = seed.draft["sections"][0]
    assert goals["title"] == "总体目标"
    values = [(i.get("target"), i.get("comparator")) for i in goals["indicators"] if i["kind"] != "qualitative"]
    assert values == [(25, "gte"), (90, "gt"), (78, "gt"), (100, "gte"), (45, "gte"), (30, "gte")]


def test_yaml_keeps_the_loaders_key_order(seed: ImportResult) -> None:
    assert list(seed.draft) == ["plan", "regions", "departments", "sections", "rules"]
    assert seed.yaml.index("code:") < seed.yaml.index("title:") < seed.yaml.index("document_number:")
    assert "departments: [miit, emergency, fire]" in seed.yaml


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("city-lead-clauses.txt", {"measures": 6, "responsibilities": 6, "numeric": 10, "proposed": 1}),
        ("province-markdown.md", {"measures": 8, "responsibilities": 8, "numeric": 11, "proposed": 2}),
        ("county-traditional.txt", {"measures": 5, "responsibilities": 5, "numeric": 7, "proposed": 0}),
    ],
)
def test_other_plans(name: str, expected: dict[str, int]) -> None:
    result = import_document((FIXTURES / name).read_bytes(), name)
    assert counts(result) == expected
    assert_valid(result)
    assert result.draft["plan"]["document_number"].endswith("号")


def by_code(result: ImportResult) -> dict[str, dict[str, Any]]:
    return dict(iter_draft_measures(result.draft["sections"]))


def test_lead_and_co_operating_wording() -> None:
    result = import_document((FIXTURES / "city-lead-clauses.txt").read_bytes(), "plan.txt")
    measures = by_code(result)
    first = measures["二（一）1"]["responsibilities"][0]
    # 责任单位：A牵头，B、C配合 — lead first; 承德's bureaux are bodies of their own, not Zhangjiakou's miit …
    assert first["departments"] == ["130800-miit", "130800-drc", "130800-finance"]
    names = {d["code"]: d for d in result.draft["departments"]}
    assert names["130800-miit"] == {
        "code": "130800-miit",
        "name": "承德市工业和信息化局",
        "short_name": "市工信局",
        "kind": "municipal",
    }
    assert result.draft["plan"]["region"] == "130800"
    assert measures["二（一）2"]["responsibilities"][0]["open_ended"] is True  # 等部门配合
    assert measures["二（一）2"]["text"].count("燃气管网200公里") == 1  # joined across "- 7 -"
    # a measure without a clause gets a placeholder the reviewer is told about
    assert "二（一）4 责任单位" in result.low_confidence
    # 不低于 is a floor; 三百台 and 十九个 are numbers; 提高5个百分点 is a change in points
    indicators = {i["statement"]: i for _, i in iter_draft_indicators(result.draft["sections"])}
    assert indicators["全市新增及更新公交车中新能源车比例不低于90%"]["comparator"] == "gte"
    assert indicators["更新老旧电梯三百台以上"]["target"] == 300
    assert indicators["全市新建报废机动车回收拆解企业十九个"]["target"] == 19
    points = indicators["再生资源回收利用率提高5个百分点以上"]
    assert (points["target"], points["unit"], points["kind"]) == (5, "个百分点", "growth_vs_baseline")
    assert indicators["报废汽车回收量较2023年翻一番"]["target"] == 100
    # the 2025 goal keeps its own year
    assert indicators["全市工业领域设备投资规模较2023年增长15%以上"]["target_year"] == 2025
    # sections without any clause are prose: 总体要求, 保障措施
    assert [s["number"] for s in result.draft["sections"] if "measures" not in s and "sections" not in s] == [
        "一",
        "三",
    ]


def test_province_departments_and_proposals() -> None:
    result = import_document((FIXTURES / "province-markdown.md").read_bytes(), "plan.md")
    departments = {d["name"]: d for d in result.draft["departments"]}
    # an invented province: no region code (000000, to be filled in), its bodies named and coded after it
    assert result.draft["plan"]["region"] == "000000" and "方案 地区代码" in result.low_confidence
    assert departments["某某省工业和信息化厅"]["code"] == "000000-miit"  # 厅 = 局 across levels
    assert departments["国家税务总局某某省税务局"]["code"] == "000000-tax"
    # matched only by the pattern 中国人民银行*分行, and 某某省 is no place: the reviewer checks it
    assert departments["中国人民银行某某省分行"]["code"] == "000000-pbc"
    assert "单位 中国人民银行某某省分行" in result.low_confidence
    proposed = departments["某某省国防科技工业局"]
    assert proposed["proposed"] is True and proposed["confidence"] < 0.8
    assert proposed["code"] == "000000-new-1"
    assert "单位 某某省国防科技工业局" in result.low_confidence
    lists = [i for _, i in iter_draft_indicators(result.draft["sections"]) if "分别达到" in i["statement"]]
    assert [(i["target"], i["kind"]) for i in lists] == [(95, "share"), (80, "share")]


def test_traditional_characters_read_as_simplified() -> None:
    result = import_document((FIXTURES / "county-traditional.txt").read_bytes(), "plan.txt")
    assert any("繁体" in w for w in result.warnings)
    assert "开展汽车以旧换新" in [m["title"] for m in by_code(result).values()]
    assert result.draft["plan"]["issuer"] == "怀远县人民政府"
    assert result.draft["plan"]["task_force_department"] == "340321-drc"  # 县发展和改革局
    # 怀远县 is in 安徽省蚌埠市: the county, and the city above it as its parent
    assert [(r["code"], r["name"], r["kind"], r.get("parent")) for r in result.draft["regions"]] == [
        ("340321", "怀远县", "county", "340300"),
        ("340300", "蚌埠市", "city", None),
    ]
    departments = {d["code"]: d for d in result.draft["departments"]}
    assert departments["340321-drc"]["name"] == "怀远县发展和改革局"
    assert "short_name" not in departments["340321-drc"]  # 县发展和改革局 is no 县发改委


@pytest.mark.parametrize(
    ("header", "context", "expected", "confident"),
    [
        ("石家庄市人民政府", "", "130100", True),
        ("张家口市人民政府办公室", "", "130700", True),
        ("康保县人民政府", "", "130723", True),
        ("河北省人民政府", "", "130000", True),
        ("河北省张家口市桥西区人民政府", "", "130703", True),  # the header names the city: no doubt
        ("桥西区人民政府", "张家口市各部门", "130703", False),  # told apart by the text only: to be checked
        ("桥西区人民政府", "", None, False),  # 石家庄 or 张家口: no code, the candidates listed
        ("某某市人民政府", "", None, False),
    ],
)
def test_the_issuing_place_from_the_code_database(header, context, expected, confident) -> None:
    from huanxin.plans.importer.regions import find_place

    match = find_place(header, context)
    assert (match.place.code if match.place else None) == expected
    assert (match.confidence >= 0.8) is confident
    if header.startswith("桥西区"):
        assert {p.code for p in match.candidates} == {"130104", "130703"}


def test_an_ambiguous_county_keeps_the_placeholder_and_lists_the_candidates() -> None:
    text = (
        "桥西区推动大规模设备更新和消费品以旧换新实施方案\n桥西区人民政府\n2024年6月1日\n"
        "一、总体目标\n到2027年，设备投资较2023年增长20%以上。\n"
    )
    result = import_document(text.encode(), "plan.txt")
    assert result.draft["plan"]["region"] == "000000"
    assert "方案 地区代码" in result.low_confidence
    warning = next(w for w in result.warnings if "多个同名地区" in w)
    assert "130104" in warning and "130703" in warning and "石家庄市" in warning and "张家口市" in warning


def test_a_body_matched_only_by_a_pattern_without_a_place_is_doubtful() -> None:
    text = (
        "石家庄市推动设备更新实施方案\n石家庄市人民政府\n2024年6月1日\n一、重点任务\n（一）加大金融支持\n"
        "1.强化信贷支持。到2027年，新增贷款100亿元以上。（市地方金融监管局、国家税务总局石家庄市税务局按职责分工负责）\n"
    )
    result = import_document(text.encode(), "plan.txt")
    departments = {d["name"]: d for d in result.draft["departments"]}
    assert departments["国家税务总局石家庄市税务局"]["code"] == "130100-tax"  # the pattern's * is the city
    assert "confidence" not in departments["国家税务总局石家庄市税务局"]
    guessed = departments["石家庄市地方金融监管局"]  # fits *金融监管局 (the NFRA's office), but 地方 is no place
    assert guessed["confidence"] < 0.8 and "单位 石家庄市地方金融监管局" in result.low_confidence
    assert by_code(result)["一（一）1"]["responsibilities"][0]["confidence"] < 0.8


def test_a_figure_written_as_a_target_inside_a_measure_without_a_deadline() -> None:
    """更新改造燃气老旧管网120公里以上 (no 到2027年 in its sentence): read at the plan's target year, flagged;
    a figure that is a condition (1万吨标准煤及以上的项目) or has no 以上 stays out."""
    from huanxin.demo.plan_import import SAMPLE

    result = import_document(SAMPLE.encode(), "plan.txt")
    indicators = {i["statement"]: (w, i) for w, i in iter_draft_indicators(result.draft["sections"])}
    where, pipes = indicators["更新改造燃气老旧管网120公里以上"]
    assert where == "二（一）2"
    assert (pipes["target"], pipes["unit"], pipes["comparator"], pipes["target_year"]) == (120, "公里", "gte", 2027)
    assert pipes["kind"] == "cumulative_total" and pipes["confidence"] < 0.8
    assert any("二（一）2 指标1" in item for item in result.low_confidence)
    from huanxin.plans.importer.targets import find_targets

    assert find_targets("对新建年耗能1万吨标准煤及以上的项目实施节能审查。", default_year=2027) == []
    assert find_targets("去年更新改造燃气管网80公里。", default_year=2027) == []


def test_gb18030_text_reads_like_utf8() -> None:
    text = (FIXTURES / "city-lead-clauses.txt").read_text(encoding="utf-8")
    utf8 = import_document(text.encode("utf-8"), "plan.txt")
    gbk = import_document(text.encode("gb18030"), "plan.txt")
    assert gbk.draft == utf8.draft
    assert any("GB18030" in w for w in gbk.warnings)


def test_docx() -> None:
    document = docx.Document()
    for line in (FIXTURES / "city-lead-clauses.txt").read_text(encoding="utf-8").splitlines():
        document.add_paragraph(line.strip())
    buffer = io.BytesIO()
    document.save(buffer)
    result = import_document(buffer.getvalue(), "方案.docx")
    assert counts(result) == {"measures": 6, "responsibilities": 6, "numeric": 10, "proposed": 1}
    assert_valid(result)


def text_pdf(lines: list[str], per_line: int = 30, per_page: int = 30) -> bytes:
    """A Chinese PDF with a text layer (reportlab's CID font, no font file): wrapped lines, page numbers."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    wrapped = [line[i : i + per_line] for line in lines if line.strip() for i in range(0, len(line), per_line)]
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    for page, start in enumerate(range(0, len(wrapped), per_page), start=1):
        pdf.setFont("STSong-Light", 12)
        for n, line in enumerate(wrapped[start : start + per_page]):
            pdf.drawString(60, 780 - n * 22, line)
        pdf.drawString(280, 40, f"- {page} -")
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def test_pdf_with_a_text_layer() -> None:
    lines = [line.strip() for line in (FIXTURES / "city-lead-clauses.txt").read_text(encoding="utf-8").splitlines()]
    result = import_document(text_pdf(lines), "方案.pdf")
    assert counts(result) == {"measures": 6, "responsibilities": 6, "numeric": 10, "proposed": 1}
    assert "- 2 -" not in result.text
    assert_valid(result)


def test_pdf_of_the_seed_keeps_the_figures() -> None:
    lines = [line.strip("-# *") for line in SOURCE_TEXT.read_text(encoding="utf-8").splitlines()]
    result = import_document(text_pdf(lines, per_line=34, per_page=32), "seed.pdf")
    assert counts(result) == {"measures": 27, "responsibilities": 28, "numeric": 18, "proposed": 0}


def image_pdf() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (300, 400), "white").save(buffer, "PDF")
    return buffer.getvalue()


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "filename", "code"),
    [
        (b"", "plan.txt", "empty_document"),
        (b"   \n\n ", "plan.md", "empty_document"),
        (random.Random(7).randbytes(4000), "plan.txt", "unsupported_format"),
        (random.Random(8).randbytes(4000), "plan.pdf", "unsupported_format"),
        (random.Random(9).randbytes(4000), "plan.docx", "unsupported_format"),
        (zip_of({"junk.bin": b"\x00\x01"}), "plan.docx", "unsupported_format"),  # a zip, not a Word document
        (zip_of({"word/document.xml": b"<not xml"}), "plan.docx", "unreadable"),
        (b"%PDF-1.4\n garbage garbage", "plan.pdf", "unreadable"),
        (image_pdf(), "scan.pdf", "no_text_layer"),
        ("实施方案".encode(), "plan.xlsx", "unsupported_format"),
        ("实施方案".encode(), "plan.doc", "unsupported_format"),
        (b"just some English text\n", "plan.txt", "unsupported_format"),
        (image_pdf(), "plan.txt", "unsupported_format"),  # a PDF under a text name
    ],
)
def test_clear_errors(data: bytes, filename: str, code: str) -> None:
    with pytest.raises(ImportFailed) as failed:
        import_document(data, filename)
    assert failed.value.code == code
    assert any("\u4e00" <= ch <= "\u9fff" for ch in str(failed.value))  # the message is Chinese


def test_a_pdf_without_extension_is_sniffed() -> None:
    lines = [line.strip() for line in (FIXTURES / "county-traditional.txt").read_text(encoding="utf-8").splitlines()]
    assert counts(import_document(text_pdf(lines), "upload"))["measures"] == 5


def test_text_without_numbering_still_gives_a_draft() -> None:
    result = import_document("关于做好设备更新工作的意见。各部门要抓好落实。".encode(), "note.txt")
    assert result.draft["sections"][0]["title"] == "正文"
    assert_valid(result)


FRAGMENTS = [
    "一、",
    "二、",
    "（一）",
    "(二)",
    "1.",
    "2、",
    "（1）",
    "①",
    "总体目标",
    "到2027年，",
    "较2023年增长25%以上",
    "分别超过90%、78%",
    "十九个",
    "增长一倍",
    "（市商务局、市财政局等按职责分工负责）",
    "（市发展改革委牵头，市工业和信息化局配合）",
    "责任单位：",
    "。",
    "，",
    "\n",
    "\n\n",
    "- 3 -",
    "市 供销合作总社",
    "（",
    "）",
    "等",
    "實施方案",
    "张政规〔2024〕4号",
    "2024年5月28日",
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=8)), max_size=80))
@example(["①", "到2027年，", "较2023年增长25%以上"])  # once made the code target-①-1 ('①'.isdigit() is true)
@example(["（٣）", "到2027年，", "较2023年增长25%以上"])  # a digit of another script
def test_never_crashes_on_plan_like_text(parts: list[str]) -> None:
    try:
        result = import_document("".join(parts).encode("utf-8", "surrogatepass"), "fuzz.txt")
    except ImportFailed:
        return
    schema.PlanFile.model_validate(yaml.safe_load(result.yaml))


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=2000), st.sampled_from(["a.txt", "a.md", "a.docx", "a.pdf", "a", "a.bin"]))
def test_never_crashes_on_bytes(data: bytes, filename: str) -> None:
    try:
        import_document(data, filename)
    except ImportFailed as failed:
        assert failed.code in ("unsupported_format", "no_text_layer", "empty_document", "unreadable")


def test_numbering_continued_across_sections_is_in_sequence() -> None:
    """一、（一）1. 2. （二）3. 4.: items numbered on across their sections, as many plans do, are neither flagged nor
    read as text (a long 3. under （二） once became part of （二）'s text); a real gap still is flagged."""
    text = (FIXTURES / "second-city-hengshui.txt").read_text(encoding="utf-8")
    continued = text.replace("1.提升居民居住品质", "3.提升居民居住品质").replace(
        "2.补齐市政设施短板", "4.补齐市政设施短板"
    )
    result = import_document(continued.encode(), "continued.txt")
    assert_valid(result)
    subsections = result.draft["sections"][1]["sections"]
    assert [[m["number"] for m in s.get("measures", [])] for s in subsections[:2]] == [["1", "2"], ["3", "4"]]
    assert all(m["confidence"] >= 0.8 for s in subsections[:2] for m in s["measures"])
    assert not any("编号不连续" in w for w in result.warnings)
    assert counts(result) == counts(import_document(text.encode(), "restarted.txt"))

    lines = ["一、重点任务", "（一）甲", "1.做甲。（市商务局负责）", "2.做乙。（市商务局负责）", "（二）乙"]
    flagged = import_document("\n".join([*lines, "5.做丙。（市商务局负责）"]).encode(), "gap.txt")
    assert any("编号不连续" in w and "应为第 1 项" in w for w in flagged.warnings)
    run_on = import_document("\n".join([*lines, "3.做丙。（市商务局负责）"]).encode(), "run-on.txt")
    assert not any("编号不连续" in w for w in run_on.warnings)
