"""Why Chinese is indexed as bigrams searched as phrases: recall and precision on known answers,
against the two analyses an index gets without thinking about Chinese.

- whole runs: a run of Han characters is one token (what a word tokenizer such as `\\w+` does);
  only a query equal to a whole run between punctuation or Latin text can match;
- single characters: every Han character a token, a query matches when all its characters occur
  anywhere (AND of unigrams);
- bigrams as phrases (mailvault.index.analysis): the query's bigrams in order, at consecutive
  positions: an exact substring.

Dictionary segmentation (jieba) is not compared here: it needs a dictionary that knows the
company's customers and staff, and it segments the same name differently depending on its
neighbours; bigrams need no dictionary at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from mailvault.index.analysis import analyze, phrase_terms, query_parts

DOCS = {
    "d1": "深圳市华强电子有限公司向贵司报价，请查收。",
    "d2": "华强电子已发货，运单号见附件。",
    "d3": "我们在华强北买的元件质量不错。",
    "d4": "欧阳娜娜确认了样品，下周付款。",
    "d5": "娜娜说货明天到，请安排收货。",
    "d6": "张伟和李娜今天下午开会讨论价格。",
    "d7": "伟大的产品需要好的包装设计。",
    "d8": "电子元件的报价单已更新。",
    "d9": "华为技术有限公司的采购部来电。",
    "d10": "强电子设备不在本次报关范围。",
    "d11": "李娜：张经理说伟业公司的订单取消了。",
    "d12": "请联系王芳确认华强的付款方式。",
    "d13": "华为和强生的电子秤都到了。",
    "d14": "报告里的价格有误。",
    "d15": "有人限制了公司的出口。",
    "d16": "付出的款项已退回。",
    "d17": "王经理的芳香剂样品。",
}

# A person's judgement of which messages each query is after.
RELEVANT = {
    "华强电子": {"d1", "d2"},
    "深圳市华强电子有限公司": {"d1"},
    "欧阳娜娜": {"d4"},
    "娜娜": {"d4", "d5"},
    "张伟": {"d6"},
    "李娜": {"d6", "d11"},
    "王芳": {"d12"},
    "报价": {"d1", "d8"},
    "华为": {"d9", "d13"},
    "有限公司": {"d1", "d9"},
    "付款": {"d4", "d12"},
}

_HAN_RUN = re.compile(r"[\u4e00-\u9fff]+")


def whole_runs(query: str, doc: str) -> bool:
    return query in _HAN_RUN.findall(doc)


def single_characters(query: str, doc: str) -> bool:
    return all(char in doc for char in query)


def bigram_phrases(query: str, doc: str) -> bool:
    wanted = phrase_terms(query_parts(query))
    assert wanted is not None
    tokens = [(t.text, t.position) for t in analyze(doc)]
    positions: dict[str, set[int]] = {}
    for text, position in tokens:
        positions.setdefault(text, set()).add(position)
    starts = positions.get(wanted[0], set())
    return any(
        all(start + i in positions.get(term, set()) for i, term in enumerate(wanted)) for start in starts
    )


def scores(matcher: Callable[[str, str], bool]) -> tuple[float, float]:
    """Micro-averaged recall and precision over every known-answer query."""
    true_positive = found = relevant = 0
    for query, wanted in RELEVANT.items():
        hits = {name for name, doc in DOCS.items() if matcher(query, doc)}
        true_positive += len(hits & wanted)
        found += len(hits)
        relevant += len(wanted)
    return true_positive / relevant, (true_positive / found if found else 1.0)


def test_bigram_phrases_find_every_answer_with_few_false_hits() -> None:
    recall, precision = scores(bigram_phrases)
    assert recall == 1.0
    assert precision >= 0.85  # "华强" inside "华强北" style false hits are the price of no dictionary


def test_the_alternatives_lose_recall_or_precision() -> None:
    bigram = scores(bigram_phrases)
    runs = scores(whole_runs)
    characters = scores(single_characters)
    assert runs[0] < 0.3, "whole runs only match a query that is a whole sentence fragment"
    assert characters[0] == 1.0
    assert characters[1] < bigram[1] - 0.2, "single characters match names scattered over a sentence"
