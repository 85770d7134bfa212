"""Build an addon's README.rst from its readme/ fragments, the OCA way (README.rst is never edited
by hand). OCA's own generator is not on PyPI, so this one covers the Markdown the fragments use:
paragraphs, lists, ``code``, **bold**, *emphasis* and [links](url).

    python -m tools.addon_readme odoo_addons/im_livechat_webhook            # write README.rst
    python -m tools.addon_readme --check odoo_addons/im_livechat_webhook    # exit 1 if out of date
"""
from __future__ import annotations

import argparse
import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# (fragment, section title); DESCRIPTION has no title of its own
SECTIONS = (("DESCRIPTION.md", None), ("INSTALL.md", "Installation"), ("CONFIGURE.md", "Configuration"),
            ("USAGE.md", "Usage"), ("DEVELOP.md", "Development"))


def inline(text: str) -> str:
    """Markdown inline markup to reStructuredText: `code` → ``code``, [text](url) → `text <url>`__."""
    parts = re.split(r"(`[^`]+`)", text)
    out = []
    for part in parts:
        if part.startswith("`") and part.endswith("`") and len(part) > 1:
            out.append("``" + part[1:-1] + "``")
        else:
            out.append(re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", r"`\1 <\2>`__", part))
    return "".join(out)


def fragment(md: str) -> str:
    if re.search(r"^(#|```)", md, re.M):
        raise ValueError("fragments hold no headings and no code blocks (the section titles are added here)")
    return "\n".join(inline(line).rstrip() for line in md.strip().splitlines())


def title(text: str, char: str, over: bool = False) -> str:
    rule = char * len(text)
    return f"{rule}\n{text}\n{rule}" if over else f"{text}\n{rule}"


def build(addon: Path) -> str:
    manifest = ast.literal_eval((addon / "__manifest__.py").read_text())
    readme = addon / "readme"
    blocks = [
        title(manifest["name"], "=", over=True),
        "..\n   This file is generated from the fragments in readme/ by tools/addon_readme.py:\n"
        "   edit those, then run ``python -m tools.addon_readme " + addon.resolve().relative_to(ROOT).as_posix() + "``.",
        manifest["summary"].strip() + ".",
    ]
    for name, heading in SECTIONS:
        path = readme / name
        if not path.exists():
            continue
        if heading:
            blocks.append(title(heading, "="))
        blocks.append(fragment(path.read_text()))
    blocks.append(title("Credits", "="))
    blocks.append(title("Authors", "-"))
    blocks.append("\n".join("* " + a.strip() for a in manifest["author"].split(",")))
    return "\n\n".join(blocks) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Build an addon's README.rst from its readme/ fragments.")
    p.add_argument("--check", action="store_true", help="only say whether README.rst is up to date")
    p.add_argument("addon", type=Path)
    args = p.parse_args(argv)
    target = args.addon / "README.rst"
    text = build(args.addon)
    if args.check:
        if not target.exists() or target.read_text() != text:
            print(f"{target} is out of date: run python -m tools.addon_readme {args.addon}", file=sys.stderr)
            return 1
        return 0
    target.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
