"""Analysis: bigrams for Chinese, stemmed words for the rest, one folded form for both scripts."""

from __future__ import annotations

from mailvault.index.analysis import analyze, fold, phrase_terms, query_parts


def texts(text: str) -> list[tuple[str, int]]:
    return [(t.text, t.position) for t in analyze(text)]


def test_chinese_runs_become_bigrams_with_the_last_character_alone() -> None:
    assert texts("华强电子") == [("华强", 0), ("强电", 1), ("电子", 2), ("子", 2)]
    assert texts("王") == [("王", 0)]


def test_codes_mixed_with_chinese_keep_their_order() -> None:
    assert texts("HS编码8471") == [("hs", 0), ("编码", 1), ("码", 1), ("8471", 2)]
    assert [t for t, _ in texts("PI-2024-031")] == ["pi", "2024", "031"]


def test_english_is_case_folded_and_stemmed() -> None:
    assert [t for t, _ in texts("Shipped SHIPPING shipments")] == ["ship", "ship", "shipment"]


def test_traditional_and_full_width_forms_fold_to_one() -> None:
    assert fold("華強電子有限公司") == "华强电子有限公司"
    assert fold("ＰＩ－２０２４") == "pi-2024"
    assert texts("華強") == texts("华强")


def test_noise_words_are_not_indexed() -> None:
    assert texts("x" * 41 + " ok") == [("ok", 0)]


def test_query_parts_search_a_typed_string_as_a_phrase() -> None:
    assert phrase_terms(query_parts("华强电子")) == ["华强", "强电", "电子"]
    assert phrase_terms(query_parts("HS编码8471")) == ["hs", "编码", "8471"]
    assert phrase_terms(query_parts("payment terms")) == ["payment", "term"]
    single = query_parts("王")
    assert single[0].prefix
    assert phrase_terms(single) == ["王"]
    assert phrase_terms(query_parts("A型")) is None  # a one-character part cannot be in a phrase
