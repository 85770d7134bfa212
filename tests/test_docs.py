"""The README documents every RELAY_* setting the code reads, and only those."""
import re
from pathlib import Path

from proxy.config import SETTINGS

ROOT = Path(__file__).resolve().parents[1]


def test_every_setting_is_documented_and_every_documented_one_exists():
    readme = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"\bRELAY_[A-Z_]+[A-Z]\b", readme))
    in_code = {s.env for s in SETTINGS}
    assert in_code - documented == set(), "settings missing from the README"
    assert documented - in_code == set(), "the README documents settings that do not exist"
    for s in SETTINGS:   # each has its row with its flag
        assert re.search(rf"\| `{s.env}` \| `{s.flag}` \|", readme), s.env
