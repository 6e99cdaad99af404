"""`mailvault search`, `thread`, `index status|update` and `reindex` as an operator runs them."""

from __future__ import annotations

import json
from pathlib import Path

from tests.mailfactory import make_message
from tests.test_cli import mailvault


def test_search_thread_status_and_reindex(tmp_path: Path) -> None:
    folder = tmp_path / "mail"
    folder.mkdir()
    (folder / "1.eml").write_bytes(
        make_message(subject="询价 RFQ HS编码8471", message_id="<q@kunde.de>", sender="Hans <hans@kunde.de>")
    )
    (folder / "2.eml").write_bytes(
        make_message(
            subject="回复：询价 RFQ HS编码8471",
            message_id="<a@huaqiang-elec.com.cn>",
            extra_headers={"In-Reply-To": "<q@kunde.de>"},
            body="深圳市华强电子有限公司 quotation attached.\n",
        )
    )
    assert mailvault(tmp_path, "import", "eml", str(folder)).returncode == 0

    status = json.loads(mailvault(tmp_path, "index", "status", "--json").stdout)
    assert (status["archived"], status["indexed"], status["waiting"]) == (2, 0, 2)

    found = mailvault(tmp_path, "search", "--json", "华强电子")  # brings the index up to date first
    assert found.returncode == 0, found.stderr
    result = json.loads(found.stdout)
    assert result["total"] == 1
    [hit] = result["results"]
    assert hit["subject"] == "回复：询价 RFQ HS编码8471"
    assert [hit["snippet"][s:e] for s, e in hit["highlights"]] == ["华强电子"]

    negated = json.loads(mailvault(tmp_path, "search", "--json", "-华强", "8471").stdout)
    assert negated["total"] == 1, "a leading -word is a negation, not an option"

    human = mailvault(tmp_path, "search", "HS编码8471", "--sort", "relevance").stdout.decode()
    assert "2 message(s) match" in human

    thread = json.loads(mailvault(tmp_path, "thread", "<a@huaqiang-elec.com.cn>", "--json").stdout)
    [root] = thread["thread"]
    assert root["subject"] == "询价 RFQ HS编码8471"
    assert [c["subject"] for c in root["children"]] == ["回复：询价 RFQ HS编码8471"]

    assert mailvault(tmp_path, "reindex").returncode == 0
    status = json.loads(mailvault(tmp_path, "index", "status", "--json").stdout)
    assert (status["indexed"], status["waiting"]) == (2, 0)


def test_a_bad_query_is_one_line_without_traceback(tmp_path: Path) -> None:
    done = mailvault(tmp_path, "search", "after:someday")
    assert done.returncode == 1
    assert done.stderr.decode().strip().splitlines() == [
        "mailvault: error: after:someday at character 1: write a date as YYYY-MM-DD, YYYY-MM or YYYY"
    ]
