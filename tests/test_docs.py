"""The docs say only true things the code can check: every RELAY_* setting the code reads is in
the README's table and every one named anywhere exists; every relay route, metric and document
they point to exists; the addon's README.rst is the one its readme/ fragments make."""
import re
from pathlib import Path

import docutils.core
import pytest

from proxy.app import make_app
from proxy.config import SETTINGS, Settings
from proxy.metrics import Metrics
from tools import addon_readme

ROOT = Path(__file__).resolve().parents[1]
SETTING = re.compile(r"\bRELAY_[A-Z_]+[A-Z]\b")
DOCS = sorted((ROOT / "docs").glob("*.md"))
# what a new user reads or copies: the README, docs/, and the deployment files
TEXTS = [ROOT / "README.md", *DOCS, ROOT / "docker-compose.yml", ROOT / ".env.example", ROOT / "Dockerfile",
         *sorted((ROOT / "docker").iterdir())]


def test_every_setting_is_documented_and_every_documented_one_exists():
    readme = (ROOT / "README.md").read_text()
    documented = set(SETTING.findall(readme))
    in_code = {s.env for s in SETTINGS}
    assert in_code - documented == set(), "settings missing from the README"
    assert documented - in_code == set(), "the README documents settings that do not exist"
    for s in SETTINGS:   # each has its row with its flag
        assert re.search(rf"\| `{s.env}` \| `{s.flag}` \|", readme), s.env


@pytest.mark.parametrize("path", TEXTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_setting_named_in_the_docs_exists(path):
    in_code = {s.env for s in SETTINGS}
    assert set(SETTING.findall(path.read_text())) - in_code == set()


def _relay_routes() -> list[str]:
    """The relay's routes, path parameters written ``x``: ``/v1/conversations/x/events``."""
    app = make_app(Settings())   # demo mode: every route, the console's included
    return [re.sub(r"\{[^}]*\}", "x", resource.canonical) for resource in app.router.resources()]


def test_every_relay_route_in_the_docs_exists():
    routes = _relay_routes()
    for path in TEXTS:
        for found in re.findall(r"(?<![\w.-])(/v1/[A-Za-z0-9_{}/.…-]*)", path.read_text()):
            # `{id}` and an elided id (`3f2a…`) are path parameters; a last segment `…` is a family
            segments = ["x" if "{" in seg or (seg != "…" and "…" in seg) else seg
                        for seg in found.rstrip(".").split("/")]
            found = "/".join(segments)
            if segments[-1] == "…":
                prefix = found[:-1]
                assert any(r.startswith(prefix) for r in routes), f"{path.name}: no relay route starts with {prefix}"
            else:
                assert found in routes, f"{path.name}: {found} is not a relay route"
    for fixed in ("/healthz", "/metrics", "/widget.js"):
        assert fixed in routes


def test_every_metric_in_the_docs_exists():
    names = set()
    for family in Metrics().registry.collect():
        names.add(family.name)
        names |= {family.name + suffix for suffix in {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}
                  .get(family.type, ())}
    assert "relay_events_in_total" in names
    for path in TEXTS:
        for metric in set(re.findall(r"(?<![\w])relay_[a-z][a-z_]*[a-z]\b", path.read_text())):
            assert metric in names, f"{path.name}: {metric} is not a metric of the relay"


def test_every_local_link_in_the_docs_resolves():
    for path in [ROOT / "README.md", *DOCS]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", path.read_text()):
            if "://" in target or target.startswith("mailto:"):
                continue
            assert (path.parent / target).exists(), f"{path.name}: link to {target} does not resolve"


def test_every_anchor_in_the_docs_resolves():
    def anchors(md: Path) -> set[str]:
        out = set()
        for title in re.findall(r"^#+ (.+)$", md.read_text(), re.M):
            slug = re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")
            out.add(slug)
        return out
    for path in [ROOT / "README.md", *DOCS]:
        for target, anchor in re.findall(r"\]\(([^)#\s]*)#([^)\s]+)\)", path.read_text()):
            md = (path.parent / target) if target else path
            assert anchor in anchors(md), f"{path.name}: no heading for #{anchor} in {md.name}"


def test_the_addon_readme_is_built_from_its_fragments():
    addon = ROOT / "odoo_addons" / "im_livechat_webhook"
    assert (addon / "README.rst").read_text() == addon_readme.build(addon), \
        "README.rst is out of date: python -m tools.addon_readme odoo_addons/im_livechat_webhook"
    # valid reStructuredText: any warning (an unknown target, a broken list) is an error
    docutils.core.publish_doctree((addon / "README.rst").read_text(),
                                  settings_overrides={"halt_level": 2, "report_level": 2})


# a document named in the code's comments and docstrings: a path from the repository's root
# (docs/protocol.md, tests/fixtures/odoo/README.md) or from the file's folder; tools/addon_readme.py
# names the addon's readme fragments, which may be absent (an optional section)
MD_REFERENCE = re.compile(r"(?<![\w./-])((?:[\w.-]+/)*[\w-]+\.md)\b")


def test_documents_named_in_the_code_exist():
    fragments = {name for name, _ in addon_readme.SECTIONS}
    missing = []
    for path in sorted([*(ROOT / "proxy").rglob("*.py"), *(ROOT / "tools").rglob("*.py")]):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for name in MD_REFERENCE.findall(line):
                if not ((ROOT / name).is_file() or (path.parent / name).is_file()
                        or (path.name == "addon_readme.py" and name in fragments)):
                    missing.append(f"{path.relative_to(ROOT)}:{number}: {name}")
    assert missing == [], "comments naming documents the repository does not have"
