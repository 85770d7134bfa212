"""Build the Odoo addon as OCA-style wheels, one per Odoo series, from the one source tree.

    python -m tools.build_addon [--series 17.0 18.0 19.0] [--outdir dist]

odoo_addons/im_livechat_webhook/__manifest__.py says the project version x.y.z (the same as the
relay's proxy.__version__, CHANGELOG.md) and no series, because one tree serves 17.0, 18.0 and
19.0. For each series this copies the addon to a temporary directory, writes ``<series>.x.y.z``
into the copy's manifest and builds it with whool (the addon's pyproject.toml), which names the
wheel odoo_addon_im_livechat_webhook-<series>.x.y.z and makes it require that Odoo series.
Install with ``pip install --no-deps`` into the venv of an Odoo run from a source checkout (no
``odoo`` distribution there to satisfy the requirement); with a pip-installed Odoo, plain ``pip
install``. Prints the wheels' paths.
"""
from __future__ import annotations

import argparse
import ast
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ADDON = ROOT / "odoo_addons" / "im_livechat_webhook"
SERIES = ("17.0", "18.0", "19.0")
VERSION_LINE = re.compile(r'^(\s*"version":\s*)"([^"]+)"', re.M)


def manifest_version(addon: Path = ADDON) -> str:
    """The manifest's x.y.z (the project version)."""
    version = ast.literal_eval((addon / "__manifest__.py").read_text())["version"]
    if not re.fullmatch(r"\d+\.\d+\.\d+", version):
        raise SystemExit(f"{addon}/__manifest__.py: version {version!r} must be x.y.z (the series is added per build)")
    return version


def series_version(series: str, addon: Path = ADDON) -> str:
    return f"{series}.{manifest_version(addon)}"


def prepare(series: str, workdir: Path, addon: Path = ADDON) -> Path:
    """A copy of the addon whose manifest says ``<series>.x.y.z``; its directory keeps the addon's name."""
    copy = workdir / series / addon.name
    shutil.copytree(addon, copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "build", "*.egg-info"))
    manifest = copy / "__manifest__.py"
    text, count = VERSION_LINE.subn(lambda m: f'{m.group(1)}"{series_version(series, addon)}"', manifest.read_text(), 1)
    if count != 1:
        raise SystemExit(f"{manifest}: no \"version\" line to set")
    manifest.write_text(text)
    return copy


def build(series_list=SERIES, outdir: Path = ROOT / "dist", python: str = sys.executable) -> list[Path]:
    outdir = Path(outdir).resolve()
    outdir.mkdir(parents=True, exist_ok=True)
    wheels = []
    with tempfile.TemporaryDirectory(prefix="addon-wheel-") as tmp:
        for series in series_list:
            copy = prepare(series, Path(tmp))
            done = subprocess.run([python, "-m", "build", "--wheel", "--outdir", str(outdir), str(copy)],
                                  capture_output=True, text=True)
            if done.returncode != 0:   # whool's own "not a git repository" noise is left out otherwise
                raise SystemExit(f"building the {series} wheel failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
            name = f"odoo_addon_im_livechat_webhook-{series_version(series)}-py3-none-any.whl"
            wheel = outdir / name
            if not wheel.is_file():
                raise SystemExit(f"whool did not write {wheel}")
            wheels.append(wheel)
    return wheels


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--series", nargs="+", default=list(SERIES), choices=SERIES)
    p.add_argument("--outdir", default=str(ROOT / "dist"))
    args = p.parse_args(argv)
    for wheel in build(args.series, Path(args.outdir)):
        print(wheel)
    return 0


if __name__ == "__main__":
    sys.exit(main())
