"""Write the generated files of the held-out corpus (docx, pdf, GB18030 txt) into eval/heldout/corpus/.

The html, md and UTF-8 txt documents are kept as plain files in that folder; this script only
produces the three whose bytes cannot be edited by hand. Output is deterministic in content
(not byte-identical: docx/pdf carry timestamps), so re-running it keeps every evidence quote valid.

    .venv/bin/python eval/heldout/make_corpus.py
"""

from __future__ import annotations

import sys
from pathlib import Path

CORPUS = Path(__file__).resolve().parent / "corpus"
SAMPLE_NOTE = "（示例材料，仅供评测使用，文中地名、单位、人员、电话均为虚构）"

NOTICE_DOCX = "关于开展2025年度全县农村党员冬训工作的通知.docx"
RULES_PDF = "云岭县农村党员冬训考勤与学分管理细则.pdf"
SUMMARY_TXT = "云岭县2024年度农村党员冬训工作总结.txt"
SUMMARY_ENCODING = "gb18030"

# PDF layout: body size and the article after which page 2 starts (the file must have exactly 2 pages).
PDF_FONT = "STSong-Light"
PDF_BODY_SIZE = 11
PDF_TITLE_SIZE = 16
PDF_CHAPTER_SIZE = 13
PDF_LEADING = 19

# --------------------------------------------------------------------------- 1. notice (docx)
# (style, text): "Title", "Heading 1", "Heading 2" or "" for a normal paragraph.
NOTICE = [
    ("Title", "关于开展2025年度全县农村党员冬训工作的通知"),
    ("", SAMPLE_NOTE),
    ("", "云组通〔2025〕41号"),
    ("", "各乡镇党委，县委各部委，县直各单位党组（党委）："),
    (
        "",
        "为深入学习贯彻党的二十届四中全会精神，引导广大农村党员在推进乡村全面振兴中当先锋、作表率，"
        "经县委同意，现就做好2025年度全县农村党员冬训工作通知如下。",
    ),
    ("Heading 1", "一、总体要求"),
    (
        "",
        "以习近平新时代中国特色社会主义思想为指导，坚持集中学习与分散自学相衔接、线下课堂与线上平台相补充、"
        "理论武装与为民服务相促进，着力解决部分农村党员理论学习不深、带富本领不强、服务意识不足等问题，"
        "推动冬训成果转化为抓产业、促增收、办实事的实际成效。",
    ),
    ("Heading 1", "二、时间安排和参训对象"),
    ("Heading 2", "（一）冬训时间"),
    (
        "",
        "2025年度冬训自2025年11月20日开始，至2026年2月28日结束。各村集中学习时间累计不少于4天，"
        "原则上安排在12月至次年1月的农闲时段，可以分段进行。",
    ),
    ("Heading 2", "（二）参训对象"),
    (
        "",
        "全县11个乡镇87个行政村的全体农村党员，包括外出务工经商的流动党员。年老体弱、行动不便的党员，"
        "由村党组织安排党员骨干上门送学。",
    ),
    ("Heading 1", "三、主要内容"),
    ("Heading 2", "（一）学习内容"),
    ("", "1．深入学习党的二十届四中全会精神，重点学习关于制定国民经济和社会发展第十五个五年规划的建议。"),
    ("", "2．学习习近平总书记关于“三农”工作的重要论述，了解乡村全面振兴有关政策。"),
    ("", "3．学习《中国共产党农村基层组织工作条例》，巩固深化党纪学习教育成果。"),
    ("", "4．学习种植养殖、农村电商、防灾减灾等实用技能，提升带头致富、带领致富本领。"),
    ("Heading 2", "（二）重点活动"),
    ("", "1．“书记讲第一课”。乡镇党委书记、村党组织书记要在2025年12月10日前为本单位党员讲好冬训第一课。"),
    ("", "2．“县领导进村宣讲”。县级领导干部带头到联系村开展宣讲，每人至少宣讲2场。"),
    (
        "",
        "3．“乡音宣讲进村入户”。依托县乡音宣讲团，用群众听得懂的方言土语、身边事例讲清党的政策，"
        "具体按县委宣传部印发的实施方案执行。",
    ),
    ("", "4．“冬训+服务”。每名有劳动能力的农村党员至少认领1个服务岗位，冬训期间参加志愿服务不少于2次。"),
    ("Heading 1", "四、工作要求"),
    ("Heading 2", "（一）强化统筹协调"),
    (
        "",
        "县委设立冬训工作领导小组，县委副书记担任组长，县委组织部、县委宣传部主要负责同志担任副组长，"
        "下设办公室于县委组织部，具体承担日常协调和督促检查。",
    ),
    ("Heading 2", "（二）创新方式方法"),
    (
        "",
        "针对流动党员，通过“云岭先锋”微信群和线上课堂开展送学，流动党员线上学习不少于12学时。"
        "鼓励各村采取院坝会、田间课堂等形式，让党员听得进、记得住、用得上。",
    ),
    ("Heading 2", "（三）严格考勤管理"),
    ("", "冬训考勤和学分认定按照《云岭县农村党员冬训考勤与学分管理细则》执行，考核结果作为民主评议党员的重要依据。"),
    ("Heading 2", "（四）按时报送材料"),
    ("", "1．各乡镇党委于2025年11月28日前将冬训实施方案报县委组织部组织科。"),
    ("", "2．冬训期间，各乡镇党委于每月5日前报送上月冬训进展情况。"),
    ("", "3．各乡镇党委于2026年3月6日前报送冬训工作总结和典型案例1至2篇。"),
    ("", "联系人：县委组织部组织科 段某某，电话：0000-8801357（示例号码）。"),
    ("", "中共云岭县委组织部　中共云岭县委宣传部"),
    ("", "2025年11月12日"),
]

# --------------------------------------------------------------------------- 4. rules (pdf)
# ("title"|"note"|"chapter"|"article"|"page", text); "page" starts page 2.
RULES = [
    ("title", "云岭县农村党员冬训考勤与学分管理细则"),
    ("note", SAMPLE_NOTE),
    ("chapter", "第一章　总则"),
    (
        "article",
        "第一条　为加强农村党员冬训管理，提高参训质量，根据《关于开展2025年度全县农村党员冬训工作的通知》"
        "（云组通〔2025〕41号）等规定，制定本细则。",
    ),
    ("article", "第二条　本细则适用于全县各村党组织组织开展的农村党员冬训。"),
    (
        "article",
        "第三条　冬训考勤与学分管理坚持严格要求、实事求是、分类管理的原则，由乡镇党委负责指导，村党组织具体实施。",
    ),
    ("chapter", "第二章　考勤管理"),
    ("article", "第四条　集中学习实行签到制度，每半天为一个考勤单元，由村党组织指定专人负责签到登记。"),
    ("article", "第五条　参训党员迟到或者早退超过20分钟的，该考勤单元按缺勤计。"),
    (
        "article",
        "第六条　党员因病、因事不能参加集中学习的，应当事先请假。请假1天以内的，由村党组织书记批准；"
        "请假超过1天的，报乡镇党委组织委员批准。",
    ),
    (
        "article",
        "第七条　外出务工经商的流动党员，经村党组织同意，可以通过线上方式参加学习，以“云岭先锋”线上课堂的学习记录作为考勤依据。",
    ),
    (
        "article",
        "第八条　年满75周岁、行动不便或者长期患病的党员，本人申请并经村党组织同意，可以免予参加集中学习，"
        "由村党组织安排送学上门。",
    ),
    ("chapter", "第三章　学分认定"),
    ("article", "第九条　冬训期间，每名参训党员应当取得不少于16学分。"),
    ("article", "第十条　参加集中学习，每个考勤单元计1学分。"),
    ("article", "第十一条　参加线上学习，每满3学时计1学分，线上学分累计不超过6学分；流动党员不受此限制。"),
    ("article", "第十二条　参加“冬训+服务”志愿服务活动，每次计1学分，累计不超过4学分。"),
    ("article", "第十三条　在乡镇以上组织的冬训宣讲、党课比赛中获奖的，一次性加计2学分。"),
    ("page", ""),
    ("chapter", "第四章　结果运用"),
    (
        "article",
        "第十四条　冬训结束后，村党组织应当于2026年3月1日前在党员大会上通报每名党员的考勤和学分情况，并报乡镇党委备案。",
    ),
    (
        "article",
        "第十五条　学分达到要求的，冬训考核为合格。学分不足16学分但不少于10学分的，应当在2026年3月31日前完成补学；"
        "学分不足10学分或者无正当理由缺勤累计超过3个考勤单元的，冬训考核为不合格。",
    ),
    (
        "article",
        "第十六条　冬训考核结果作为民主评议党员的重要依据。冬训考核不合格的党员，当年民主评议不得评为优秀等次，"
        "由村党组织书记进行谈心谈话。",
    ),
    ("article", "第十七条　冬训考勤和学分情况记入党员积分管理档案，与“星级党员”“先锋户”评选挂钩。"),
    ("chapter", "第五章　附则"),
    ("article", "第十八条　各乡镇党委可以根据本细则，结合实际制定具体办法，报县委组织部备案。"),
    ("article", "第十九条　本细则由县委组织部负责解释。"),
    ("article", "第二十条　本细则自2025年11月20日起施行。"),
]

# --------------------------------------------------------------------------- 5. summary (GB18030 txt)
SUMMARY = f"""云岭县2024年度农村党员冬训工作总结
{SAMPLE_NOTE}

2024年度全县农村党员冬训自2024年11月25日开始，至2025年2月25日结束，历时3个月。在县委的坚强领导下，各乡镇党委认真落实冬训部署，把冬训作为农村党员教育的重要抓手，取得了较好成效。现将有关情况总结如下。

一、主要做法和成效

（一）参训面持续扩大。全县11个乡镇87个行政村共有6387名农村党员参加冬训，参训率95.7%，比2023年度提高2.4个百分点。全县528名流动党员中，有471名通过“云岭先锋”线上课堂参加学习，流动党员参训覆盖率89.2%。对年老体弱党员，各村安排党员骨干送学上门312人次。

（二）集中学习扎实有序。各村共组织集中学习1046场，乡镇党委书记、村党组织书记讲第一课98场，县级领导干部到联系村宣讲46场。县委党校举办冬训示范班3期，培训村党组织书记和党员骨干268名。

（三）乡音宣讲深入人心。县乡音宣讲团由2023年度的18名成员扩充到29名，采取院坝会、火塘夜话等形式进村入户宣讲219场，受众2.3万人次。白河乡“老支书讲政策”、石门镇“返乡青年说变化”等宣讲品牌受到群众欢迎。

（四）线上学习便捷高效。“云岭先锋”线上课堂推出冬训微课52期，累计学习8.6万人次；县融媒体中心制作方言宣讲短视频24条，播放量超过40万次。党员通过手机答题参加冬训知识测试1.5万人次，平均得分86.4分。

（五）“冬训+服务”成效明显。全县组织“冬训+服务”志愿服务活动638场，参与党员1.2万人次，帮助群众办成实事314件，其中修缮村组道路17公里、调解矛盾纠纷126起。

（六）典型示范带动有力。评选表彰“十佳乡音宣讲员”10名、优秀冬训党课15堂，松林镇茶叶专业合作社党支部被推荐为全市冬训工作示范点。

（七）督导检查常态长效。县委组成3个督导组，对11个乡镇开展督导检查2轮，实地抽查村43个，发现并督促整改问题61个，对冬训工作推进缓慢的2个乡镇进行了通报。

二、存在的问题

一是部分村集中学习形式仍较单一，以读文件、念报纸为主，党员参与互动不够；二是流动党员线上学习存在“挂机”现象，学习实效难以掌握；三是“冬训+服务”与村级产业发展结合还不够紧密，服务项目零散。

三、下一步打算

2025年度冬训，一是扩大示范培训覆盖面，冬训示范班由3期增加到4期；二是壮大乡音宣讲队伍，吸收返乡大学生、致富带头人加入宣讲团；三是完善考勤和学分管理办法，把线上学习时长、志愿服务次数纳入学分认定，切实解决“挂机”学习问题。

中共云岭县委组织部
2025年3月18日
"""


def write_docx(path: Path) -> None:
    """The notice with real Word heading styles (Title / Heading 1 / Heading 2) and a core title."""
    import docx

    document = docx.Document()
    document.core_properties.title = NOTICE[0][1]
    for style, text in NOTICE:
        if style:
            document.add_paragraph(text, style=style)
        else:
            document.add_paragraph(text)
    document.save(str(path))


def write_pdf(path: Path) -> None:
    """The rules as a 2-page PDF in STSong-Light (text layer extractable by pypdf)."""
    from reportlab.lib.enums import TA_CENTER
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer

    pdfmetrics.registerFont(UnicodeCIDFont(PDF_FONT))
    body = ParagraphStyle(
        "body",
        fontName=PDF_FONT,
        fontSize=PDF_BODY_SIZE,
        leading=PDF_LEADING,
        firstLineIndent=2 * PDF_BODY_SIZE,
        wordWrap="CJK",
    )
    styles = {
        "title": ParagraphStyle(
            "title",
            parent=body,
            fontSize=PDF_TITLE_SIZE,
            leading=PDF_TITLE_SIZE * 2,
            alignment=TA_CENTER,
            firstLineIndent=0,
        ),
        "note": ParagraphStyle("note", parent=body, alignment=TA_CENTER, firstLineIndent=0),
        "chapter": ParagraphStyle(
            "chapter",
            parent=body,
            fontSize=PDF_CHAPTER_SIZE,
            leading=PDF_CHAPTER_SIZE * 2,
            alignment=TA_CENTER,
            firstLineIndent=0,
        ),
        "article": body,
    }
    story = []
    for kind, text in RULES:
        if kind == "page":
            story.append(PageBreak())
            continue
        story.append(Paragraph(text, styles[kind]))
        if kind == "title":
            story.append(Spacer(1, PDF_LEADING / 2))
    doc = SimpleDocTemplate(str(path), pagesize=A4, title=RULES[0][1], author="示例")
    doc.build(story)


def write_summary(path: Path) -> None:
    """The year-end summary encoded as GB18030 (a GBK superset), with Windows line ends like a real upload."""
    path.write_bytes(SUMMARY.replace("\n", "\r\n").encode(SUMMARY_ENCODING))


def main(out: Path = CORPUS) -> int:
    """Write the three generated documents into out."""
    out.mkdir(parents=True, exist_ok=True)
    write_docx(out / NOTICE_DOCX)
    write_pdf(out / RULES_PDF)
    write_summary(out / SUMMARY_TXT)
    for name in (NOTICE_DOCX, RULES_PDF, SUMMARY_TXT):
        print(f"wrote {out / name} ({(out / name).stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else CORPUS))
