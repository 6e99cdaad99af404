"""Seeded generator of realistic business mail of a Chinese exporter, mixed Chinese and English.

`generate(count, seed)` yields raw RFC 5322 messages (CRLF); `python bench/mailgen.py --count N
--out FILE.mbox` writes them to an mbox file. The same count and seed give the same bytes.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import html
import random
import re
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

if __name__ == "__main__" and not __package__:
    # Run as `python bench/mailgen.py` from anywhere: make the `bench` package importable.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.vocabulary import (
    ATTACHMENTS,
    BANKS,
    CARRIERS,
    CERTS,
    CLOSINGS,
    CUSTOMER_SHORT,
    CUSTOMERS,
    DAYS,
    DAYS_DE,
    DAYS_LONG,
    DAYS_ZH,
    DEFECTS,
    DESTS,
    EN,
    EN_LINE_START,
    FAIRS,
    FAIRS_TW,
    FIRST_EN,
    FORWARDERS,
    HOLIDAYS,
    INCOTERMS,
    INSPECTORS,
    MAILERS,
    MONTHS,
    MONTHS_DE,
    MONTHS_LONG,
    PAY,
    PORTS,
    PORTS_TW,
    PRODUCTS,
    STAFF,
    STAFF_SIGNATURE,
    SUBJECTS,
    SUPPLIER_SHORT,
    SUPPLIERS,
    SURNAMES,
    TAIWAN,
    TW,
    US,
    VESSELS,
    ZH,
    Mailer,
    Org,
)

Rng = random.Random
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Person:
    display: str
    addr: str
    org: Org
    mailer: str
    first: str  # how an English greeting addresses them
    signature: str
    native: str  # how a Chinese greeting addresses them


def _lines(block: str) -> list[list[str]]:
    """Templates split into literal text (even positions) and slot names (odd positions)."""
    return [re.split(r"\{(\w+)\}", line) for line in block.splitlines() if line.strip()]


_TEMPLATES = {"en": _lines(EN), "zh": _lines(ZH), "tw": _lines(TW)}
_EN_STARTERS = _lines(EN_LINE_START)
_SUBJECT_TEMPLATES = {kind: _lines(block) for kind, block in SUBJECTS.items()}

_START = 1672617600  # 2023-01-02 00:00 UTC, 08:00 in Shenzhen
_SPAN = 730 * 86400  # two years of mail
_MIN_SIZE, _MAX_SIZE = 2 * 1024, 50 * 1024
_HIGH = bytes(range(128))  # for counting 8-bit bytes: bytes.translate(None, _HIGH)


# ---------------------------------------------------------------------------------------------
# Encoding helpers.


def _codec(label: str) -> str:
    low = label.lower()
    return "gb18030" if low in ("gb2312", "gbk") else low


def _encoded_words(text: str, label: str, rng: Rng, q: bool = False) -> str:
    """RFC 2047 words for a non-ASCII header value, folded; sometimes split mid-character."""
    if text.isascii():
        return text
    codec = _codec(label)
    try:
        data = text.encode(codec)
    except UnicodeEncodeError:
        label, data = "utf-8", text.encode("utf-8")
    chunks: list[bytes] = []
    if rng.random() < 0.05:  # Outlook and Foxmail split characters across words (RFC 2047 §6.2)
        chunks = [data[i : i + 33] for i in range(0, len(data), 33)]
    else:
        piece = ""
        for char in text:
            if len((piece + char).encode(codec, "replace")) > 36:
                chunks.append(piece.encode(codec, "replace"))
                piece = ""
            piece += char
        chunks.append(piece.encode(codec, "replace"))
    if q:
        words = [f"=?{label}?Q?{_q(c)}?=" for c in chunks]
    else:
        words = [f"=?{label}?B?{base64.b64encode(c).decode()}?=" for c in chunks]
    return "\r\n ".join(words)


def _q(data: bytes) -> str:
    return "".join(
        chr(b) if (48 <= b <= 57 or 65 <= b <= 90 or 97 <= b <= 122) else "_" if b == 32 else f"={b:02X}"
        for b in data
    )


def _b64(data: bytes) -> bytes:
    """Base64 in 76-character lines (RFC 2045 §6.8), CRLF-terminated."""
    encoded = base64.b64encode(data)
    return b"".join([encoded[i : i + 76] + b"\r\n" for i in range(0, len(encoded), 76)])


def _qp(data: bytes) -> bytes:
    return binascii.b2a_qp(data, istext=True).replace(b"\n", b"\r\n")


def _wrap(text: str, width: int) -> str:
    """Hard-wrap long lines (for 8bit bodies, which must stay under 998 bytes a line)."""
    out: list[str] = []
    for line in text.split("\n"):
        while len(line) > width:
            cut = line.rfind(" ", 0, width)
            cut = cut if cut > width // 2 else width
            out.append(line[:cut].rstrip())
            line = line[cut:].lstrip()
        out.append(line)
    return "\n".join(out)


def _date(epoch: float, tz: int) -> str:
    t = time.gmtime(epoch + tz * 60)
    sign = "+" if tz >= 0 else "-"
    return (
        f"{DAYS[t.tm_wday]}, {t.tm_mday} {MONTHS[t.tm_mon - 1]} {t.tm_year} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} {sign}{abs(tz) // 60:02d}{abs(tz) % 60:02d}"
    )


def asctime(epoch: float) -> str:
    """UTC time in the form mbox `From ` lines use: `Mon Jan  1 00:00:00 2024`."""
    t = time.gmtime(epoch)
    return (
        f"{DAYS[t.tm_wday]} {MONTHS[t.tm_mon - 1]} {t.tm_mday:2d} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} {t.tm_year}"
    )


def _tz(org: Org, epoch: float) -> int:
    if org.dst and 4 <= time.gmtime(epoch).tm_mon <= 10:
        return org.tz + 60
    return org.tz


# ---------------------------------------------------------------------------------------------
# Attachments: bytes as compressible as the real thing (JPEG and Office zip: not at all).


def _attachment_bytes(ctype: str, size: int, rng: Rng, fill: Callable[[list[str]], str]) -> bytes:
    size = max(size, 600)
    if ctype == "image/jpeg":
        head = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00H\x00H\x00\x00\xff\xdb\x00C\x00"
        return head + rng.randbytes(size - len(head) - 2) + b"\xff\xd9"
    if ctype.startswith("application/vnd.openxml"):
        names = [
            b"[Content_Types].xml",
            b"_rels/.rels",
            b"docProps/app.xml",
            b"docProps/core.xml",
            b"xl/workbook.xml",
            b"xl/styles.xml",
            b"xl/sharedStrings.xml",
            b"xl/worksheets/sheet1.xml",
            b"xl/theme/theme1.xml",
        ]
        central = (
            b"".join(
                b"PK\x01\x02\x14\x00\x06\x00\x08\x00\x00\x00!\x00" + rng.randbytes(26) + n for n in names
            )
            + b"PK\x05\x06\x00\x00\x00\x00\t\x00\t\x00"
        )
        body = bytearray()
        per_file = max(64, (size - len(central)) // len(names))
        for name in names:
            body += b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00" + rng.randbytes(16) + name
            body += rng.randbytes(per_file)
        return bytes(body) + central
    # PDF: readable page content and an xref table (compressible) around Flate streams (not).
    lines = ["%PDF-1.7", "%\xe2\xe3\xcf\xd3", "1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj"]
    text = [
        f"BT /F1 9 Tf 56 {760 - 14 * i} Td ({fill(rng.choice(_TEMPLATES['en']))}) Tj ET"
        for i in range(rng.randint(8, 30))
    ]
    lines.append("4 0 obj\n<< /Length 5 0 R >>\nstream\n" + "\n".join(text) + "\nendstream\nendobj")
    head = "\n".join(lines).encode("latin-1", "replace")
    tail_lines = ["xref", "0 12", "0000000000 65535 f "]
    tail_lines += [f"{rng.randint(10, size):010d} 00000 n " for _ in range(11)]
    tail_lines += ["trailer", "<< /Size 12 /Root 1 0 R >>", "startxref", str(size), "%%EOF"]
    tail = "\n".join(tail_lines).encode()
    stream = max(0, size - len(head) - len(tail) - 120)
    image = (
        b"\n6 0 obj\n<< /Type /XObject /Subtype /Image /Filter /FlateDecode /Length "
        + str(stream).encode()
        + b" >>\nstream\n"
        + rng.randbytes(stream)
        + b"\nendstream\n"
    )
    return head + image + tail


def _filename_params(name: str, label: str, rfc2231: bool, rng: Rng) -> tuple[str, str]:
    """(Content-Type name parameter, Content-Disposition filename parameter), folded."""
    if name.isascii():
        return f'name="{name}"', f'filename="{name}"'
    encoded = _encoded_words(name, label, rng).replace("\r\n ", " ")
    if not rfc2231:
        return f'name="{encoded}"', f'filename="{encoded}"'
    quoted = urllib.parse.quote(name.encode("utf-8"), safe="")
    parts: list[str] = []
    while quoted:  # RFC 2231 §3 continuations; never split a %XX escape
        cut = min(len(quoted), 54)
        while "%" in quoted[max(0, cut - 2) : cut]:
            cut -= 1
        parts.append(quoted[:cut])
        quoted = quoted[cut:]
    if len(parts) == 1:
        return f'name="{encoded}"', f"filename*=UTF-8''{parts[0]}"
    continued = ";\r\n ".join(
        f"filename*{i}*=" + (f"UTF-8''{p}" if i == 0 else p) for i, p in enumerate(parts)
    )
    return f'name="{encoded}"', continued


# ---------------------------------------------------------------------------------------------
# HTML alternatives in the shapes the mailers above produce.

_OUTLOOK_HEAD = (
    '<html xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:'
    'office" xmlns:w="urn:schemas-microsoft-com:office:word" xmlns:m="http://schemas.microsoft.'
    'com/office/2004/12/omml" xmlns="http://www.w3.org/TR/REC-html40"><head><meta http-equiv='
    'Content-Type content="text/html; charset={charset}"><meta name=Generator content="Microsoft'
    ' Word 15 (filtered medium)"><style><!--\n/* Font Definitions */\n@font-face\n\t{{font-family:'
    '{font};\n\tpanose-1:2 1 6 0 3 1 1 1 1 1;}}\n@font-face\n\t{{font-family:"Cambria Math";\n\t'
    "panose-1:2 4 5 3 5 4 6 3 2 4;}}\n@font-face\n\t{{font-family:Calibri;\n\tpanose-1:2 15 5 2 2 "
    "2 4 3 2 4;}}\n/* Style Definitions */\np.MsoNormal, li.MsoNormal, div.MsoNormal\n\t{{margin:"
    "0cm;\n\ttext-align:justify;\n\ttext-justify:inter-ideograph;\n\tfont-size:10.5pt;\n\t"
    "font-family:{font};}}\na:link, span.MsoHyperlink\n\t{{mso-style-priority:99;\n\tcolor:#0563C1"
    ";\n\ttext-decoration:underline;}}\nspan.EmailStyle{style_no}\n\t{{mso-style-type:personal-"
    "reply;\n\tfont-family:{font};\n\tcolor:windowtext;}}\n.MsoChpDefault\n\t{{mso-style-type:"
    "export-only;\n\tfont-family:{font};}}\n@page WordSection1\n\t{{size:612.0pt 792.0pt;\n\t"
    "margin:72.0pt 90.0pt 72.0pt 90.0pt;}}\ndiv.WordSection1\n\t{{page:WordSection1;}}\n--></style>"
    '<!--[if gte mso 9]><xml>\n<o:shapedefaults v:ext="edit" spidmax="1026" />\n</xml><![endif]-->'
    '</head><body lang={lang} link="#0563C1" vlink="#954F72" style=\'text-justify-trim:'
    "punctuation'><div class=WordSection1>\n"
)


def _html(style: str, charset: str, own: list[str], head: list[str], quoted: str) -> str:
    esc = html.escape
    if style == "outlook":
        cjk = not all(p.isascii() for p in own)
        font = "等线" if cjk else "Calibri"
        out = [
            _OUTLOOK_HEAD.format(
                charset=charset,
                font=font,
                style_no=17 + len(head) % 5,
                lang="ZH-CN" if cjk else "EN-US",
            )
        ]
        span = "<span lang=EN-US style='font-size:10.5pt;font-family:\"Calibri\",sans-serif'>"
        for paragraph in own:
            for line in paragraph.split("\n"):
                out.append(f"<p class=MsoNormal>{span}{esc(line)}<o:p></o:p></span></p>\n")
            out.append(f"<p class=MsoNormal>{span}<o:p>&nbsp;</o:p></span></p>\n")
        if head:
            out.append(
                "<div><div style='border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm'>\n"
            )
            for line in head:
                label, _, value = line.partition(": ")
                out.append(
                    f"<p class=MsoNormal><b><span lang=EN-US>{esc(label)}:</span></b>"
                    f"<span lang=EN-US> {esc(value)}</span></p>\n"
                )
            out.append("</div></div>\n")
            for line in quoted.split("\n"):
                out.append(f"<p class=MsoNormal>{span}{esc(line) or '<o:p>&nbsp;</o:p>'}</span></p>\n")
        out.append("</div>\n</body>\n</html>\n")
        return "".join(out)
    if style == "foxmail":
        out = [
            f'<html><head><meta http-equiv="content-type" content="text/html; charset={charset}'
            '"><style>body { line-height: 1.5; }blockquote { margin-top: 0px; margin-bottom: '
            "0px; margin-left: 0.5em; }body { font-size: 14px; font-family: 'Microsoft YaHei "
            "UI'; color: rgb(0, 0, 0); line-height: 1.5; }</style></head><body>\n"
        ]
        for paragraph in own:
            out.extend(f"<div><span></span>{esc(line)}</div>\n" for line in paragraph.split("\n"))
            out.append("<div><br></div>\n")
        if head:
            out.append(
                '<blockquote style="margin-Top: 0px; margin-Bottom: 0px; margin-Left: 0.5em'
                '; margin-Right: inherit"><div>&nbsp;</div><div style="border:none;border-'
                'top:solid #B5C4DF 1.0pt;padding:3.0pt 0cm 0cm 0cm"><div style="PADDING-'
                "RIGHT: 8px; PADDING-LEFT: 8px; FONT-SIZE: 12px;FONT-FAMILY:tahoma;COLOR:"
                '#000000; BACKGROUND: #efefef; PADDING-BOTTOM: 8px; PADDING-TOP: 8px">'
            )
            for line in head:
                label, _, value = line.partition(" ")
                out.append(f"<div><b>{esc(label)}</b>&nbsp;{esc(value)}</div>")
            out.append(
                "</div></div><div>" + "<br>\n".join(map(esc, quoted.split("\n"))) + "</div></blockquote>\n"
            )
        out.append("</body></html>")
        return "".join(out)
    body = "".join("<div>" + "<br>".join(map(esc, p.split("\n"))) + "</div><div><br></div>\n" for p in own)
    quote_html = "<br>\n".join(map(esc, quoted.split("\n")))
    if style == "gmail":
        if head:
            body += (
                '<br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">'
                f'{esc(head[0])}<br></div><blockquote class="gmail_quote" style="margin:'
                '0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex">'
                f"{quote_html}</blockquote></div>"
            )
        return f'<div dir="ltr">{body}</div>\n'
    if head:
        body += f'<div>{"<br>".join(map(esc, head))}</div><blockquote type="cite">{quote_html}'
        body += "</blockquote>\n"
    return (
        f'<html><head><meta http-equiv="Content-Type" content="text/html; charset={charset}">'
        f'</head><body style="font-family: 微软雅黑, Arial;">\n{body}</body></html>\n'
    )


# ---------------------------------------------------------------------------------------------
# The generator.


@dataclass
class _Thread:
    kind: str
    ours: list[_Person]
    theirs: list[_Person]
    ctx: dict[str, str]
    subject: str = ""
    references: list[str] = field(default_factory=list)
    last_sender: _Person | None = None
    last_to: list[_Person] = field(default_factory=list)
    last_cc: list[_Person] = field(default_factory=list)
    last_text: str = ""
    last_epoch: float = 0.0


@dataclass(frozen=True, slots=True)
class Generated:
    raw: bytes
    sender: str  # envelope sender, for the mbox `From ` line
    epoch: float  # when it was sent (UTC seconds)


class _Generator:
    def __init__(self, count: int, seed: int) -> None:
        self.rng = Rng(seed)
        self.count = max(count, 1)
        self.clock = 0.0  # office seconds since _START: 13 a day, 08:00 to 21:00 in Shenzhen
        self.now = float(_START)
        self.threads: list[_Thread] = []
        self.message_ids: set[str] = set()
        self.staff = [self._staff(*entry) for entry in STAFF]
        self.groups: dict[str, list[list[_Person]]] = {
            kind: [[self._outsider(org, name, local) for name, local in people] for org, people in orgs]
            for kind, orgs in (
                ("customer", CUSTOMERS),
                ("supplier", SUPPLIERS),
                ("forwarder", FORWARDERS),
                ("taiwan", TAIWAN),
            )
        }
        self.ctx: dict[str, str] = {}
        rng = self.rng
        # Plain arithmetic on random(): several times faster than randint()/choice().
        rand = rng.random

        def between(low: int, high: int) -> int:
            return low + int(rand() * (high - low + 1))

        def pick(options: Sequence[T]) -> T:
            return options[int(rand() * len(options))]

        def uniform(low: float, high: float) -> float:
            return low + (high - low) * rand()

        self.pick = pick
        self.slots: dict[str, Callable[[], str]] = {
            "qty": lambda: str(pick((300, 500, 1000, 1200, 2000, 3000, 5000, 8000, 10000))),
            "qty_small": lambda: str(between(2, 120)),
            "qty_big": lambda: f"{between(2, 30) * 10000:,}",
            "moq": lambda: str(pick((500, 1000, 2000))),
            "price": lambda: f"{float(self.ctx.get('base_price', '3')) * uniform(0.9, 1.1):.2f}",
            "cur": lambda: pick(("USD", "USD", "USD", "EUR")),
            "inco": lambda: pick(INCOTERMS),
            "date": lambda: self._date_en(between(2, 40)),
            "date2": lambda: self._date_en(between(30, 60)),
            "date_zh": lambda: self._date_zh(between(1, 40)),
            "date_zh2": lambda: self._date_zh(between(41, 50)),
            "days": lambda: str(pick((15, 20, 25, 30, 35, 45, 60))),
            "pct": lambda: str(pick((20, 30, 50))),
            "pct_small": lambda: str(between(2, 12)),
            "amount": lambda: f"{between(1500, 180000):,}.{between(0, 99):02d}",
            "amount_rmb": lambda: f"{between(8000, 900000):,}.{between(0, 99):02d}",
            "pay": lambda: pick(PAY)[0],
            "pay_zh": lambda: pick(PAY)[1],
            "cert": lambda: pick(CERTS),
            "defect": lambda: f"{uniform(0.1, 3.5):.1f}",
            "defect_en": lambda: pick(DEFECTS)[0],
            "defect_zh": lambda: pick(DEFECTS)[1],
            "dhl": lambda: str(between(10**9, 10**10 - 1)),
            "sf": lambda: f"SF{between(10**12, 10**13 - 1)}",
            "per_ctn": lambda: str(pick((10, 20, 24, 40, 50, 100))),
            "ctn_dim": lambda: f"{between(30, 60)}x{between(25, 45)}x{between(20, 40)}",
            "kg": lambda: f"{uniform(6, 22):.1f}",
            "ctns": lambda: str(between(40, 900)),
            "cbm": lambda: f"{uniform(3, 68):.2f}",
            "ctype": lambda: pick(("20GP", "40GP", "40HQ")),
            "year": lambda: time.strftime("%Y", time.gmtime(self.now)),
            "month": lambda: str(time.gmtime(self.now).tm_mon),
            "holiday": lambda: pick(HOLIDAYS)[0],
            "holiday_zh": lambda: pick(HOLIDAYS)[1],
            "lc": lambda: f"LC{between(1000, 9999)}/{between(100000, 999999)}",
            "bank": lambda: pick(BANKS),
            "freight": lambda: str(between(12, 60) * 100),
            "freight2": lambda: str(between(8, 35) * 100),
            "freight_up": lambda: str(between(2, 15) * 50),
            "fair": lambda: pick(FAIRS),
            "fair_tw": lambda: pick(FAIRS_TW),
            "booth": lambda: f"{pick('ABCDE')}{between(1, 18)}-{between(1, 40):02d}",
            "ripple": lambda: str(between(50, 200)),
            "inspector": lambda: pick(INSPECTORS),
            "weekday_zh": lambda: pick(DAYS_ZH[:5]),
            "mobile": lambda: f"1{pick('3589')}{between(0, 9)}{between(10**7, 10**8 - 1)}",
            "colleague": lambda: pick(FIRST_EN),
            "colleague_zh": lambda: pick(STAFF)[0][1:],
            "n": lambda: str(between(1, 9)),
            "day": lambda: f"{time.gmtime(self.now).tm_mday:02d}",
            "hhmmss": lambda: f"{between(8, 19):02d}{between(0, 59):02d}{between(0, 59):02d}",
        }

    # -- people and thread context

    def _staff(self, name: str, pinyin: str, dept: str, title: str) -> _Person:
        rng = self.rng
        english = rng.choice(FIRST_EN)
        family = next(v for k, v in SURNAMES.items() if pinyin.startswith(k))
        display = rng.choice((name, f"{english} {family}", f"{english} {family} {name}", name))
        tel = f"+86-755-8321 {rng.randint(1000, 9999)}"
        mobile = f"+86 13{rng.randint(0, 9)} {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}"
        signature = STAFF_SIGNATURE.format(
            english=english,
            family=family,
            name=name,
            title=title,
            dept=dept,
            tel=tel,
            mobile=mobile,
            pinyin=pinyin,
        )
        mailer = rng.choice(("foxmail", "foxmail", "outlook_cn", "outlook_cn", "coremail"))
        return _Person(display, f"{pinyin}@{US.domain}", US, mailer, english, signature, name)

    def _outsider(self, org: Org, name: str, local: str) -> _Person:
        rng = self.rng
        if org.lang in ("en", "de"):
            mailer = rng.choice(("outlook_en", "outlook_en", "outlook_en", "thunderbird", "gmail", "apple"))
            closing = "Mit freundlichen Grüßen / Best regards" if org.lang == "de" else "Kind regards"
            phone = f"+{49 if org.lang == 'de' else 44} {rng.randint(100, 999)} {rng.randint(10**5, 10**6)}"
            signature = f"{closing}\n\n{name}\nPurchasing\n{org.name}\nPhone {phone}"
            first = name.split()[0]
        elif org.lang == "tw":
            mailer = "outlook_tw"
            signature = f"敬祝 商祺\n\n{name}\n採購部\n{org.name}"
            first = name[0] + "先生" if rng.random() < 0.5 else name[1:]
        else:
            mailer = {"qq.com": "qq", "163.com": "coremail"}.get(org.domain, "foxmail")
            role = "业务员" if org.kind == "supplier" else "操作部"
            signature = f"{name}\n{org.name or '个体户'} {role}\n手机：1{rng.randint(3, 9)}" + str(
                rng.randint(10**8, 10**9 - 1)
            )
            first = name.split()[0]
        return _Person(name, f"{local}@{org.domain}", org, mailer, first, signature, name.split()[0])

    def _new_context(self) -> dict[str, str]:
        rng = self.rng
        product = rng.choice(PRODUCTS)
        port, dest = rng.choice(PORTS), rng.choice(DESTS)
        year = time.gmtime(self.now).tm_year
        carrier = rng.choice(CARRIERS)
        return {
            "product": product[0],
            "product_short": product[1],
            "product_zh": product[2],
            "product_tw": product[3],
            "model": product[4],
            "hs": product[5],
            "base_price": str(product[6]),
            "pi": f"PI-{year}-{rng.randint(1, 480):03d}",
            "po": f"{rng.randint(4500000, 4599999)}",
            "po_cn": f"CG{year}{rng.randint(1000, 9999)}",
            "port": port[0],
            "port_zh": port[1],
            "dest": dest[0],
            "dest_zh": dest[1],
            "dest_tw": rng.choice(PORTS_TW),
            "container": f"{carrier[0]}{rng.randint(10**6, 10**7 - 1)}",
            "bl": f"{carrier[0][:3]}{rng.randint(10**8, 10**9 - 1)}",
            "vessel": f"{carrier[1]} {rng.choice(VESSELS)} V.{rng.randint(1, 99):03d}{rng.choice('EW')}",
            "customer": rng.choice(CUSTOMER_SHORT),
            "supplier": rng.choice(SUPPLIER_SHORT),
        }

    def _fill(self, template: list[str]) -> str:
        ctx, slots = self.ctx, self.slots
        return "".join(
            [part if i % 2 == 0 else ctx.get(part) or slots[part]() for i, part in enumerate(template)]
        )

    def _date_en(self, days_ahead: int) -> str:
        t = time.gmtime(self.now + days_ahead * 86400)
        return f"{MONTHS[t.tm_mon - 1]} {t.tm_mday}, {t.tm_year}"

    def _date_zh(self, days_ahead: int) -> str:
        t = time.gmtime(self.now + days_ahead * 86400)
        return f"{t.tm_year}年{t.tm_mon}月{t.tm_mday}日"

    # -- one message

    def next(self) -> Generated:
        rng = self.rng
        self.clock += rng.expovariate(self.count / _SPAN)
        day, second = divmod(self.clock, 86400)
        self.now = _START + day * 86400 + second * 13 / 24
        roll = rng.random()
        recent = [t for t in self.threads[-300:] if self.now - t.last_epoch < 45 * 86400]
        if recent and roll < 0.42:
            thread = recent[-1 - min(int(rng.expovariate(0.05)), len(recent) - 1)]
            forward = False
        elif recent and roll < 0.47:
            thread, forward = rng.choice(recent), True
        else:
            thread, forward = self._new_thread(), False
        self.ctx = thread.ctx
        sender, to, cc = self._participants(thread, forward)
        target = self._target_size()
        for _ in range(6):
            built = self._build(thread, sender, to, cc, forward, target)
            if len(built[0]) > _MAX_SIZE:
                target = int(target * 0.8)
            elif len(built[0]) < _MIN_SIZE:
                target = int(target * 1.4) + 500
            else:
                break
        raw, message_id, subject, text = built
        if forward:  # a forward starts its own conversation inside the company
            thread = _Thread("internal", thread.ours, [], thread.ctx)
            self.threads.append(thread)
        thread.references = [*thread.references, message_id][-12:]
        thread.last_sender, thread.last_to, thread.last_cc = sender, to, cc
        thread.subject, thread.last_text, thread.last_epoch = subject, text[-30000:], self.now
        return Generated(raw, sender.addr, self.now)

    def _new_thread(self) -> _Thread:
        rng = self.rng
        kind = rng.choices(("customer", "internal", "supplier", "forwarder", "taiwan"), (44, 25, 16, 9, 6))[0]
        ours = rng.sample(self.staff, rng.randint(1, 3))
        theirs = [] if kind == "internal" else rng.choice(self.groups[kind])
        if kind == "internal":
            ours = rng.sample(self.staff, rng.randint(2, 4))
        thread = _Thread(kind, ours, theirs, self._new_context())
        self.threads.append(thread)
        if len(self.threads) > 2000:
            del self.threads[:1000]
        return thread

    def _participants(self, thread: _Thread, forward: bool) -> tuple[_Person, list[_Person], list[_Person]]:
        rng = self.rng
        last = thread.last_sender
        if forward:
            sender = rng.choice(thread.ours)
            others = [p for p in self.staff if p is not sender]
            return sender, [rng.choice(others)], rng.sample(others, rng.randint(0, 1))
        if last is None:  # a new conversation
            if thread.theirs and (thread.kind == "taiwan" or rng.random() < 0.5):
                sender = rng.choice(thread.theirs)
                return sender, [thread.ours[0]], thread.ours[1:]
            sender = thread.ours[0]
            to = [rng.choice(thread.theirs)] if thread.theirs else thread.ours[1:2]
            return sender, to, [p for p in thread.ours[1:] if p not in to]
        side = thread.ours if last.org is not US or not thread.theirs else thread.theirs
        candidates = [p for p in side if p is not last] or [p for p in thread.ours if p is not last]
        sender = rng.choice(candidates or thread.ours)
        cc = [p for p in (*thread.last_to, *thread.last_cc) if p is not sender and p is not last]
        return sender, [last], cc[:4]

    def _target_size(self) -> int:
        rng = self.rng
        return int(2048 * (12 ** rng.random()))  # log-uniform, 2 KB to 24 KB before attachments

    def _build(
        self,
        thread: _Thread,
        sender: _Person,
        to: list[_Person],
        cc: list[_Person],
        forward: bool,
        target: int,
    ) -> tuple[bytes, str, str, str]:
        rng = self.rng
        mailer = MAILERS[sender.mailer]
        lang = sender.org.lang if sender.org is not US else "zh"
        if thread.kind in ("customer",) and sender.org is US and not forward:
            lang = "en"
        if lang == "de":
            lang = "en"
        label = rng.choice(mailer.zh_charsets if lang in ("zh", "tw") else mailer.en_charsets)
        alternative = rng.random() < mailer.html_p
        attachments = rng.random() < 0.2
        if attachments:
            target = int(target * 0.6 + 10_000 * (4 ** rng.random()))  # up to ~50 KB
        cte = (
            "8bit"
            if mailer.rfc2231 and mailer.html == "plain"
            else (
                "base64"
                if _codec(label) != "utf-8" or mailer.quote in ("foxmail", "qq")
                else "quoted-printable"
            )
        )
        epoch, tz = self.now, _tz(sender.org, self.now)

        # Subject
        if thread.last_sender is None:
            subject = self._fill(rng.choice(_SUBJECT_TEMPLATES[thread.kind]))
        else:
            prefixes = mailer.forward if forward else mailer.reply
            prefix = prefixes[1] if not thread.subject.isascii() else prefixes[0]
            subject = thread.subject
            if not subject.lower().startswith(prefix.strip().lower()) and subject.count(":") < 3:
                subject = prefix + subject

        # Headers other than MIME ones, to know what they cost.
        message_id = self._message_id(mailer.mid, sender, epoch)
        header_lines = self._headers(
            thread, sender, to, cc, subject, label, mailer, epoch, tz, message_id, attachments
        )
        header_size = sum(len(h) + 2 for h in header_lines) + 200
        budget = max(target - header_size, 300)
        attach_parts: list[bytes] = []
        if attachments:
            share = budget * rng.uniform(0.55, 0.85)
            count = rng.choice((1, 1, 1, 2, 2, 3))
            budget -= int(share)
            for _ in range(count):
                attach_parts.append(self._attachment(int(share / count), label, mailer))

        # Body text within the budget.
        codec = _codec(label)
        factor = (1.37 if cte == "base64" else 1.0) * (2.1 if alternative else 1.0)
        budget -= 2600 if alternative and mailer.html == "outlook" else 0

        def cost(text: str) -> float:
            data = text.encode(codec, "replace")
            high = len(data.translate(None, _HIGH)) if cte == "quoted-printable" else 0
            return (len(data) + 2 * high) * factor

        own = self._opening(thread, to, lang, forward)
        ending = [self._closing(lang), sender.signature]
        if sender.org.footer and rng.random() < 0.5:
            ending.append(sender.org.footer)
        remaining = budget - cost("\n\n".join(own + ending))
        head: list[str] = []
        quoted = ""
        if thread.last_sender is not None:
            own.append(self._paragraph(lang))
            remaining -= cost(own[-1])
            head = self._quote_head(mailer, thread, lang)
            quoted = thread.last_text
            full = cost(quoted)
            if full > max(remaining, 0):
                keep = int(len(quoted) * max(remaining, 200) / full)
                cut = quoted.rfind("\n", 0, keep)
                quoted = quoted[: cut if cut > 0 else keep]
            remaining -= cost(quoted) + 80
        # People write a few paragraphs; long mail is long for its quoted thread or attachments.
        limit = len(own) + (rng.randint(1, 3) if quoted else rng.randint(2, 7))
        while remaining > 0 and len(own) < limit:
            own.append(self._paragraph(lang))
            remaining -= cost(own[-1]) + 2
        own += ending

        text = self._plain(own, head, quoted, mailer.quote)
        try:
            text.encode(codec)
            (_html(mailer.html, label, own, head, quoted) if alternative else "").encode(codec)
        except UnicodeEncodeError:  # Latin-1 or Big5 cannot say it: mailers switch to UTF-8
            label, codec = "utf-8", "utf-8"
        plain = self._text_part("text/plain", text, label, cte, mailer)
        if alternative:
            page = _html(mailer.html, label, own, head, quoted)
            boundary = self._boundary(mailer)
            body_part = (
                f'Content-Type: multipart/alternative;\r\n\tboundary="{boundary}"\r\n\r\n'.encode()
                + self._multipart(
                    boundary,
                    [
                        plain,
                        self._text_part("text/html", page, label, cte, mailer),
                    ],
                )
            )
        else:
            body_part = plain
        if attach_parts:
            boundary = self._boundary(mailer)
            body_part = (
                f'Content-Type: multipart/mixed;\r\n\tboundary="{boundary}"\r\n\r\n'.encode()
                + self._multipart(boundary, [body_part, *attach_parts])
            )
        top = "\r\n".join(header_lines).encode("ascii") + b"\r\nMIME-Version: 1.0\r\n"
        return top + body_part, message_id, subject, text

    def _opening(self, thread: _Thread, to: list[_Person], lang: str, forward: bool) -> list[str]:
        rng = self.rng
        first = to[0].first if to else ""
        native = to[0].native if to else ""
        if forward:
            return [
                rng.choice(
                    (
                        f"{to[0].native}，请看一下下面的邮件，尽快处理。",
                        "FYI，客户的邮件请看下面。",
                        f"{first}，请跟进一下，谢谢！",
                    )
                )
            ]
        if lang == "en":
            greeting = rng.choice(
                (
                    f"Dear {first},",
                    f"Hi {first},",
                    f"Hello {first},",
                    "Dear Sir or Madam,",
                    f"Dear {first}",
                )
            )
            if rng.random() < 0.08:
                return [greeting, self._fill(rng.choice(_EN_STARTERS))]
            return [greeting]
        if lang == "tw":
            return [f"{first}您好："]
        return [
            rng.choice(
                (
                    f"{native}，你好！",
                    f"{native[:1]}总，您好！" if native and not native.isascii() else f"{first}，您好！",
                    "各位好：",
                    f"{native}:",
                    "Hi,",
                )
            )
        ]

    def _closing(self, lang: str) -> str:
        return self.rng.choice(CLOSINGS[lang])

    def _paragraph(self, lang: str) -> str:
        rng = self.rng
        if lang == "zh" and rng.random() < 0.15:  # an English passage inside Chinese mail
            lang = "en"
        templates, pick, fill = _TEMPLATES[lang], self.pick, self._fill
        sentences = [fill(pick(templates)) for _ in range(1 + int(rng.random() * 5))]
        return (" " if lang == "en" else "").join(sentences)

    def _quote_head(self, mailer: Mailer, thread: _Thread, lang: str) -> list[str]:
        last = thread.last_sender
        assert last is not None
        t = time.gmtime(thread.last_epoch + _tz(last.org, thread.last_epoch) * 60)
        names = "; ".join(p.display for p in thread.last_to)
        cc = "; ".join(p.display for p in thread.last_cc)
        if mailer.quote == "gt":
            when = f"{t.tm_hour:02d}:{t.tm_min:02d}"
            style = mailer.attribution
            if style == "coremail":
                return [
                    f"在 {t.tm_year}-{t.tm_mon:02d}-{t.tm_mday:02d} {when}:{t.tm_sec:02d}，"
                    f'"{last.display}" <{last.addr}> 写道：'
                ]
            if style == "gmail":
                return [
                    f"On {DAYS[t.tm_wday]}, {MONTHS[t.tm_mon - 1]} {t.tm_mday}, {t.tm_year} "
                    f"at {when} {last.display} <{last.addr}> wrote:"
                ]
            if style == "apple":
                return [
                    f"On {t.tm_mday} {MONTHS[t.tm_mon - 1]} {t.tm_year}, at {when}, "
                    f"{last.display} <{last.addr}> wrote:"
                ]
            return [f"On {t.tm_mday:02d}.{t.tm_mon:02d}.{t.tm_year} {when}, {last.display} wrote:"]
        if mailer.quote in ("foxmail", "qq"):
            return [
                f"发件人： {last.display} <{last.addr}>",
                f"发送时间： {t.tm_year}-{t.tm_mon:02d}-{t.tm_mday:02d} {t.tm_hour:02d}:{t.tm_min:02d}",
                f"收件人： {names}",
                *([f"抄送： {cc}"] if cc else []),
                f"主题： {thread.subject}",
            ]
        if lang == "zh" or (lang == "tw" and mailer.zh_charsets[0] != "big5"):
            lines = [
                f"发件人: {last.display} <{last.addr}>",
                f"发送时间: {t.tm_year}年{t.tm_mon}月{t.tm_mday}日 {t.tm_hour}:{t.tm_min:02d}",
                f"收件人: {names}",
                *([f"抄送: {cc}"] if cc else []),
            ]
            return [*lines, f"主题: {thread.subject}"]
        if lang == "tw":
            noon = "上午" if t.tm_hour < 12 else "下午"
            return [
                f"寄件者: {last.display} <{last.addr}>",
                f"寄件日期: {t.tm_year}年{t.tm_mon}月{t.tm_mday}日 {noon} {t.tm_hour % 12 or 12}:"
                f"{t.tm_min:02d}",
                f"收件者: {names}",
                f"主旨: {thread.subject}",
            ]
        if last.org.lang == "de" and self.rng.random() < 0.5:
            return [
                f"Von: {last.display} <{last.addr}>",
                f"Gesendet: {DAYS_DE[t.tm_wday]}, {t.tm_mday}. {MONTHS_DE[t.tm_mon - 1]} "
                f"{t.tm_year} {t.tm_hour:02d}:{t.tm_min:02d}",
                f"An: {names}",
                *([f"Cc: {cc}"] if cc else []),
                f"Betreff: {thread.subject}",
            ]
        hour = t.tm_hour % 12 or 12
        return [
            f"From: {last.display} <{last.addr}>",
            f"Sent: {DAYS_LONG[t.tm_wday]}, {MONTHS_LONG[t.tm_mon - 1]} {t.tm_mday}, "
            f"{t.tm_year} {hour}:{t.tm_min:02d} {'AM' if t.tm_hour < 12 else 'PM'}",
            f"To: {names}",
            *([f"Cc: {cc}"] if cc else []),
            f"Subject: {thread.subject}",
        ]

    def _plain(self, own: list[str], head: list[str], quoted: str, style: str) -> str:
        text = "\n\n".join(own)
        if not head:
            return text
        if style == "gt":
            lines = "\n".join(
                (">" + (" " + line if line and line[0] != ">" else line)) for line in quoted.split("\n")
            )
            return f"{text}\n\n{head[0]}\n{lines}\n"
        if style == "qq":
            block = "------------------ 原始邮件 ------------------\n" + "\n".join(head)
        elif style == "foxmail":
            block = "\n".join(head)
        else:
            block = (
                self.rng.choice(("-----Original Message-----", "-----邮件原件-----", "_" * 32))
                + "\n"
                + "\n".join(head)
            )
        return f"{text}\n\n{block}\n\n{quoted}\n"

    def _text_part(self, ctype: str, text: str, label: str, cte: str, mailer: Mailer) -> bytes:
        data = text.encode(_codec(label), "replace")
        if cte == "base64":
            body = _b64(data.replace(b"\n", b"\r\n"))
        elif cte == "quoted-printable":
            body = _qp(data)
            body += b"" if body.endswith(b"\n") else b"\r\n"
        else:
            body = _wrap(text, 76).encode(_codec(label), "replace").replace(b"\n", b"\r\n") + b"\r\n"
        flowed = "; format=flowed" if cte == "8bit" and ctype == "text/plain" else ""
        sep = ";\r\n\t" if mailer.quote == "foxmail" else "; "
        return (
            f'Content-Type: {ctype}{sep}charset="{label}"{flowed}\r\nContent-Transfer-Encoding: {cte}\r\n\r\n'
        ).encode() + body

    def _attachment(self, size: int, label: str, mailer: Mailer) -> bytes:
        rng = self.rng
        ctype, names = rng.choices(ATTACHMENTS, (40, 25, 10, 25))[0]
        name = self._fill(re.split(r"\{(\w+)\}", rng.choice(names)))
        raw_size = int(size / 1.37)
        content = _attachment_bytes(ctype, raw_size, rng, self._fill)
        rfc2231 = mailer.rfc2231 or rng.random() < 0.3  # some add-ins and webmails do
        name_param, file_param = _filename_params(name, label, rfc2231, rng)
        shown = ctype if rng.random() < 0.85 else "application/octet-stream"
        return (
            f"Content-Type: {shown};\r\n\t{name_param}\r\n"
            f"Content-Transfer-Encoding: base64\r\n"
            f"Content-Disposition: attachment;\r\n\t{file_param}\r\n\r\n"
        ).encode() + _b64(content)

    def _multipart(self, boundary: str, parts: list[bytes]) -> bytes:
        b = boundary.encode()
        preamble = b"This is a multi-part message in MIME format.\r\n\r\n"
        return (
            preamble
            + b"".join(b"--" + b + b"\r\n" + part + b"\r\n" for part in parts)
            + b"--"
            + b
            + b"--\r\n"
        )

    def _boundary(self, mailer: Mailer) -> str:
        rng = self.rng
        if mailer.quote == "foxmail":
            return f"----=_001_NextPart{rng.randint(10**11, 10**12)}_=----"
        if mailer.html == "outlook":
            part, low, high = rng.getrandbits(16), rng.getrandbits(32), rng.getrandbits(32)
            return f"----=_NextPart_000_{part:04X}_01DA{low:08X}.{high:08X}"
        return f"------------{base64.b64encode(rng.randbytes(18), b'Az').decode()}"

    def _message_id(self, style: str, sender: _Person, epoch: float) -> str:
        rng = self.rng
        domain = sender.org.domain
        while True:
            stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(epoch + 8 * 3600))
            if style == "foxmail":
                mid = f"{stamp}{rng.randint(10**6, 10**7)}@{domain}"
            elif style == "outlook":
                mid = (
                    f"{rng.getrandbits(48):012x}${rng.getrandbits(32):08x}$"
                    f"{rng.getrandbits(32):08x}$@{domain}"
                )
            elif style == "exchange":
                host = f"AM{rng.randint(0, 9)}PR0{rng.randint(1, 9)}MB{rng.randint(1000, 9999)}"
                mid = f"{host}{rng.getrandbits(128):032X}@{host}.eurprd0{rng.randint(1, 9)}.prod.outlook.com"
            elif style == "coremail":
                mid = (
                    f"{rng.getrandbits(32):x}.{rng.getrandbits(16):x}.{int(epoch * 1000):x}."
                    f"Coremail.{sender.addr}"
                )
            elif style == "qq":
                mid = f"tencent_{rng.getrandbits(128):032X}{rng.getrandbits(16):04X}@qq.com"
            elif style == "gmail":
                mid = f"CA{base64.b64encode(rng.randbytes(36), b'-_').decode()}@mail.gmail.com"
            else:
                u = f"{rng.getrandbits(128):032x}"
                mid = f"{u[:8]}-{u[8:12]}-{u[12:16]}-{u[16:20]}-{u[20:]}@{domain}"
            if mid not in self.message_ids:
                self.message_ids.add(mid)
                return f"<{mid}>"

    def _address(self, person: _Person, label: str, mailer: Mailer) -> str:
        if person.display.isascii():
            return f'"{person.display}" <{person.addr}>'
        q = person.display.isascii() is False and all(ord(c) < 0x250 for c in person.display)
        words = _encoded_words(person.display, label, self.rng, q=q).replace("\r\n ", " ")
        return f'"{words}" <{person.addr}>' if mailer.quote == "foxmail" else f"{words} <{person.addr}>"

    def _headers(
        self,
        thread: _Thread,
        sender: _Person,
        to: list[_Person],
        cc: list[_Person],
        subject: str,
        label: str,
        mailer: Mailer,
        epoch: float,
        tz: int,
        message_id: str,
        attachments: bool,
    ) -> list[str]:
        rng = self.rng
        lines = self._received(sender, to[0] if to else sender, epoch)
        lines.append(f"From: {self._address(sender, label, mailer)}")
        fold = ",\r\n\t"
        lines.append("To: " + fold.join(self._address(p, label, mailer) for p in to))
        if cc:
            lines.append("Cc: " + fold.join(self._address(p, label, mailer) for p in cc))
        encoded_subject = _encoded_words(subject, label, rng, q=subject.isascii())
        lines.append(f"Subject: {encoded_subject}")
        lines.append(f"Date: {_date(epoch, tz)}")
        lines.append(f"Message-ID: {message_id}")
        if thread.references:
            lines.append(f"In-Reply-To: {thread.references[-1]}")
            lines.append("References: " + "\r\n ".join(thread.references))
        values = {
            "has_attach": "yes" if attachments else "no",
            "thread_index": base64.b64encode(rng.randbytes(22 + 5 * len(thread.references))).decode(),
            "token": base64.b64encode(rng.randbytes(rng.randint(24, 60))).decode(),
            "subject": encoded_subject,
            "antispam": "\r\n\t".join(
                base64.b64encode(rng.randbytes(57)).decode() for _ in range(rng.randint(8, 24))
            ),
        }
        for line in mailer.headers:
            lines.append(line.format(**values) if "{" in line else line)
        return lines

    def _received(self, sender: _Person, rcpt: _Person, epoch: float) -> list[str]:
        rng = self.rng
        ip = ".".join(str(rng.randint(1, 254)) for _ in range(3))
        ip = f"{rng.choice((113, 119, 183, 14, 58))}.{ip}"
        queue = f"{rng.getrandbits(40):010X}"
        local = _date(epoch + rng.randint(1, 9), 480)
        lines: list[str] = []
        if rcpt.org is US and sender.org is not US:
            lines.append(f"Return-Path: <{sender.addr}>")
            relay = f"mail-{sender.org.domain.split('.')[0]}.example.net"
            if sender.mailer == "outlook_en":
                host = f"mail-am{rng.randint(5, 7)}eur0{rng.randint(1, 5)}on20{rng.randint(10, 99)}"
                relay = f"{host}.outbound.protection.outlook.com"
            lines.append(
                f"Received: from {relay} ({relay} [{ip}])\r\n\tby mx1.{US.domain} "
                f"(Postfix) with ESMTPS id 4T{queue}\r\n\tfor <{rcpt.addr}>; {local} (CST)"
            )
            if sender.mailer == "outlook_en":
                sig = base64.b64encode(rng.randbytes(256)).decode()
                lines.append(
                    "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d="
                    f"{sender.org.domain}; s=selector1;\r\n h=From:Date:Subject:Message-ID:"
                    "Content-Type:MIME-Version;\r\n bh="
                    f"{base64.b64encode(rng.randbytes(32)).decode()};\r\n b="
                    + "\r\n\t".join(sig[i : i + 72] for i in range(0, len(sig), 72))
                )
        lines.append(
            f"Received: from {rng.choice(('DESKTOP-', 'LAPTOP-', 'PC-'))}"
            f"{rng.getrandbits(28):07X} (unknown [{ip}])\r\n\tby smtp.{sender.org.domain} "
            f"with ESMTPA id {rng.getrandbits(48):012x};\r\n\t{_date(epoch, _tz(sender.org, epoch))}"
        )
        return lines


def generate_with_envelope(count: int, seed: int = 42) -> Iterator[Generated]:
    """Like `generate`, with the sender and send time an mbox `From ` line records."""
    generator = _Generator(count, seed)
    for _ in range(count):
        yield generator.next()


def generate(count: int, seed: int = 42) -> Iterator[bytes]:
    """`count` raw RFC 5322 messages (CRLF line ends), the same ones for the same seed."""
    for generated in generate_with_envelope(count, seed):
        yield generated.raw


_FROM_LINE = re.compile(rb"^From ", re.MULTILINE)


def write_mbox(path: Path, count: int, seed: int = 42) -> tuple[int, int]:
    """Write `count` messages as an mbox file; returns (messages, raw message bytes written).

    Body lines starting with `From ` get a `>` (mboxo quoting), so the bytes an importer
    reads back differ from the generated ones exactly there.
    """
    total = 0
    with path.open("wb") as out:
        for generated in generate_with_envelope(count, seed):
            raw = _FROM_LINE.sub(b">From ", generated.raw)
            out.write(f"From {generated.sender} {asctime(generated.epoch)}\n".encode())
            out.write(raw)
            out.write(b"\n")
            total += len(raw)
    return count, total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=1000, help="messages to write")
    parser.add_argument("--seed", type=int, default=42, help="random seed (same seed, same mail)")
    parser.add_argument("--out", type=Path, required=True, help="mbox file to write")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    count, total = write_mbox(args.out, args.count, args.seed)
    seconds = time.perf_counter() - started
    print(f"{count:,} messages, {total / 1e6:.1f} MB in {seconds:.1f}s -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
