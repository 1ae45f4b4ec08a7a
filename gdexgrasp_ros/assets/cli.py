"""`gdexgrasp-build`: the shipped artefacts against their manifest, and one command to rebuild any of them.

gdexgrasp-build list                 name, path and ok / stale / missing for every asset
gdexgrasp-build check                exit 1 naming every file whose sha256 differs from the manifest
gdexgrasp-build NAME [NAME ...]      rebuild those assets and store their new sha256 in the manifest
gdexgrasp-build all                  rebuild every asset (the part-model fit takes ~12 min)
gdexgrasp-build record NAME|all      store the sha256 of the files as they are (after running an
                                     asset's own command), without rebuilding

--no-update leaves the manifest alone; --root / --manifest point at another checkout or copy.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import MANIFEST_RELPATH, build, check, load_manifest, manifest_path, status


def _short(digest: str | None) -> str:
    return digest[:12] if digest else "none"


def _list(manifest: Path, root: Path | None) -> int:
    rows = [(s.asset.name, s.asset.path, s.state) for s in status(manifest, root)]
    width = [max(len(r[i]) for r in rows) for i in range(2)] if rows else [0, 0]
    for name, path, state in rows:
        print(f"{name:<{width[0]}}  {path:<{width[1]}}  {state}")
    return 0


def _check(manifest: Path, root: Path | None) -> int:
    bad = check(manifest, root)
    for s in bad:
        found = "no such file" if s.sha256 is None else f"sha256 {s.sha256}"
        print(f"{s.state}: {s.asset.path} ({s.asset.name}): {found}, manifest {s.asset.sha256}")
        print(f"  rebuild: {s.asset.command}  (then: gdexgrasp-build record {s.asset.name})")
        print(f"       or: gdexgrasp-build {s.asset.name}")
    if not bad:
        print(f"all {len(load_manifest(manifest))} assets match {manifest}")
    return 1 if bad else 0


def _build(names: list[str], manifest: Path, root: Path | None, update: bool, run_builders: bool) -> int:
    for r in build(names, manifest, root, update=update, run_builders=run_builders):
        if not run_builders:
            what = f"sha256 {_short(r.asset.sha256)}"
        elif r.before is None:
            what = f"written, sha256 {_short(r.asset.sha256)}"
        else:
            what = f"rewritten, sha256 {_short(r.before)} -> {_short(r.asset.sha256)}" if r.changed else "unchanged"
        if not r.manifest_differs:
            entry = "matches the manifest"
        elif update:
            entry = f"manifest updated (was {_short(r.recorded)})"
        else:
            entry = f"manifest says {_short(r.recorded)}, left alone (--no-update)"
        print(f"{r.asset.name}: {r.asset.path} {what}; {entry}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gdexgrasp-build", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("targets", nargs="+", metavar="list|check|record|all|NAME", help="what to do")
    parser.add_argument("--no-update", action="store_true", help="rebuild without storing the new sha256")
    parser.add_argument("--root", type=Path, help="repository root the manifest's paths start from")
    parser.add_argument("--manifest", type=Path, help=f"manifest file (default: ROOT/{MANIFEST_RELPATH})")
    args = parser.parse_args(argv)
    manifest = args.manifest or manifest_path(args.root)
    first, rest = args.targets[0], args.targets[1:]
    if first in ("list", "check") and rest:
        parser.error(f"'{first}' takes no asset names")
    if first == "record" and not rest:
        parser.error("'record' needs asset names (or all)")
    try:
        if first == "list":
            return _list(manifest, args.root)
        if first == "check":
            return _check(manifest, args.root)
        record = first == "record"
        return _build(rest if record else args.targets, manifest, args.root, not args.no_update, not record)
    except (KeyError, FileNotFoundError) as e:
        print(f"gdexgrasp-build: {e.args[0] if isinstance(e, KeyError) else e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
