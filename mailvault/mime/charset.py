"""Charset repair: decode bytes the way the sender meant, whatever label the mailer put on them.

Real mail labels GBK text `gb2312`, Big5 text `us-ascii`, UTF-8 text `iso-8859-1`, and invents
labels (`x-gbk`, `DEFAULT`, `iso-2202-jp`). Labels are mapped to the superset codec real mailers
use; when the label is missing, wrong or unknown, the bytes decide (charset-normalizer).
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

import charset_normalizer

# Labels that name a subset of what senders actually write, or a name Python does not know.
_SUPERSETS: dict[str, str] = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "ms936": "gb18030",
    "euc-cn": "gb18030",
    "x-euc-cn": "gb18030",
    "gb_2312-80": "gb18030",
    "csgb2312": "gb18030",
    "chinese": "gb18030",
    "big5": "big5hkscs",
    "x-big5": "big5hkscs",
    "cn-big5": "big5hkscs",
    "csbig5": "big5hkscs",
    "big5-hkscs": "big5hkscs",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "ks_c_5601": "cp949",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "x-sjis": "cp932",
    "sjis": "cp932",
    "iso-2202-jp": "iso2022_jp",  # a common typo in spam and old mailers
    "iso-2022-jp": "iso2022_jp_ext",
    "iso-8859-1": "cp1252",  # as browsers do: the C1 range is always Windows-1252 in practice
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "ascii",
    "windows-874": "cp874",
    "unicode-1-1-utf-7": "utf-7",
    "x-unicode-1-1-utf-7": "utf-7",
    "utf8": "utf-8",
}

# Encodings that are 7-bit on the wire: bytes that look like ASCII still need this codec.
_SEVEN_BIT = {"utf_7", "iso2022_jp", "iso2022_jp_ext", "iso2022_jp_2", "iso2022_kr", "hz"}

# Single-byte labels under which mislabelled multi-byte text (GBK, UTF-8) most often hides.
_SINGLE_BYTE = {"ascii", "cp1252", "latin_1", "iso8859_15", "iso8859_2", "cp1250"}


@dataclass(frozen=True, slots=True)
class Decoded:
    text: str
    charset: str  # the Python codec that produced text
    repaired: bool  # True when the declared label was missing, unknown or wrong


def codec_for(label: str | None) -> str | None:
    """The Python codec to use for a MIME charset label, or None when no codec fits it."""
    if not label:
        return None
    cleaned = label.strip().strip("\"'").lower()
    cleaned = _SUPERSETS.get(cleaned, cleaned)
    try:
        return codecs.lookup(cleaned).name
    except LookupError:
        return None


def decode_bytes(data: bytes, label: str | None = None) -> Decoded:
    """Decode text bytes, repairing a missing or wrong charset label; never raises."""
    codec = codec_for(label)
    if codec in _SEVEN_BIT:
        try:
            return Decoded(data.decode(codec), codec, False)
        except (UnicodeDecodeError, LookupError):
            pass
    if data.isascii():
        return Decoded(data.decode("ascii"), codec or "ascii", False)
    utf8 = _utf8_or_none(data)
    multibyte_label = codec is not None and codec not in _SINGLE_BYTE
    # Valid UTF-8 with a few non-ASCII bytes is almost never anything else, whatever the label;
    # GB18030 in particular accepts most UTF-8 byte pairs and would turn them into nonsense.
    if (
        utf8 is not None
        and "\ufffd" not in utf8
        and (not multibyte_label or _non_ascii(data) >= 6 or codec == "utf-8")
    ):
        return Decoded(utf8, "utf-8", codec not in (None, "utf-8", "ascii"))
    if codec is not None and codec not in _SINGLE_BYTE:
        try:
            return Decoded(data.decode(codec), codec, False)
        except UnicodeDecodeError:
            pass
    if codec is not None and codec != "ascii" and not multibyte_label:
        # A Latin label is believed unless the bytes read as common Chinese characters, every
        # 8-bit byte inside one (Big5's second byte may be a letter: "105°C" is B0 43, 蚓).
        cjk = _chinese_guess(data, strict=True)
        if cjk is not None:
            return Decoded(data.decode(cjk), cjk, True)
        return Decoded(data.decode(codec, errors="replace"), codec, False)
    cjk = _chinese_guess(data)
    if cjk is not None:
        return Decoded(data.decode(cjk), cjk, True)
    guessed = _detect(data) if _non_ascii(data) >= _DETECTION_MIN_BYTES else None
    if guessed is not None and _decodes(data, guessed):
        return Decoded(data.decode(guessed), guessed, True)
    fallback = codec if codec is not None and codec != "ascii" else "cp1252"
    return Decoded(data.decode(fallback, errors="replace"), fallback, True)


# Below this many 8-bit bytes statistical detection is a coin toss; the priors decide instead.
_DETECTION_MIN_BYTES = 12


def _chinese_guess(data: bytes, *, strict: bool = False) -> str | None:
    """GB18030 or Big5 when the bytes decode to mostly common Chinese characters, else None.

    Both encodings accept most byte pairs of the other, so decodability proves nothing; but the
    most frequent characters sit in a known block of each (GB2312 level 1, Big5's common block),
    and text in the wrong encoding lands mostly outside it.
    """
    best: tuple[float, str] | None = None
    for codec, common in (("gb18030", _gb_common), ("big5hkscs", _big5_common)):
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        hanzi = [ch for ch in text if "\u4e00" <= ch <= "\u9fff"]
        if not hanzi or len(hanzi) * 2 < _non_ascii(data) * 0.6:
            continue
        if strict:
            wide = sum(1 for ch in text if not ch.isascii())
            if len(hanzi) < 4 or wide * 2 != _non_ascii(data):
                continue
        score = sum(1 for ch in hanzi if common(ch)) / len(hanzi)
        if score >= 0.75 and (best is None or score > best[0]):
            best = (score, codec)
    return best[1] if best else None


def _gb_common(ch: str) -> bool:
    try:
        lead = ch.encode("gb2312")[0]
    except UnicodeEncodeError:
        return False
    return 0xB0 <= lead <= 0xD7  # GB2312 level 1: the 3,755 most used simplified characters


def _big5_common(ch: str) -> bool:
    try:
        lead = ch.encode("big5")[0]
    except UnicodeEncodeError:
        return False
    return 0xA4 <= lead <= 0xC6  # Big5's frequently used characters (5,401)


def _utf8_or_none(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _non_ascii(data: bytes) -> int:
    return len(data.translate(None, bytes(range(128))))


def _decodes(data: bytes, codec: str) -> bool:
    try:
        data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def _is_cjk_codec(codec: str) -> bool:
    return codec.startswith(("gb", "big5", "cp93", "cp94", "cp95", "euc", "shift", "iso2022", "hz"))


def _detect(data: bytes) -> str | None:
    """Best codec by charset-normalizer, mapped to our superset codecs."""
    # Short samples are ambiguous; detection on the first 64 KiB is as good as on the whole.
    match = charset_normalizer.from_bytes(data[:65536]).best()
    if match is None:
        return None
    return codec_for(match.encoding)
