"""Shipped artefacts: a manifest of the files programs wrote, and one builder per file.

    gdexgrasp-build list | check | record NAME... | NAME... | all     (or python -m gdexgrasp_ros.assets)

manifest.json (next to this file) has one entry per shipped artefact: its path from the
repository root, the sha256 of its bytes, the shell command that rebuilds it and a one-line
description. `check()` compares the files with it (a test does, so a file edited or refitted
without its manifest entry fails). BUILDERS maps each asset name to a function that writes the
file at a given path; `build()` runs them and records the new sha256.

A new asset (the stage-1 prior database, the stage-2 CVAE weights: files under this folder)
registers itself with a builder below (`@builder("name")`) and a manifest entry (any sha256;
`gdexgrasp-build name` writes the file and the real one). ROS-free; builders import lazily.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]
MANIFEST_RELPATH = "gdexgrasp_ros/assets/manifest.json"  # from the repository root
PART_MODEL_SEEDS = 8  # objects per training category: fit.py's --seeds default

Builder = Callable[[Path], None]
BUILDERS: dict[str, Builder] = {}


@dataclass(frozen=True)
class Asset:
    """One manifest entry."""

    name: str
    path: str  # relative to the repository root
    sha256: str
    command: str  # shell command, run from the repository root, that rebuilds the file
    description: str


@dataclass(frozen=True)
class Status:
    """An asset's file compared with its manifest entry: state is "ok", "stale" or "missing"."""

    asset: Asset
    state: str
    sha256: str | None  # of the file as it is, None when missing


@dataclass(frozen=True)
class BuildResult:
    asset: Asset  # the entry after the build (its sha256 is the new file's)
    before: str | None  # the file's sha256 before the build (None: there was none)
    recorded: str  # what the manifest said before the build

    @property
    def changed(self) -> bool:
        """The build wrote different bytes from the ones that were there."""
        return self.before != self.asset.sha256

    @property
    def manifest_differs(self) -> bool:
        return self.recorded != self.asset.sha256


def builder(name: str) -> Callable[[Builder], Builder]:
    """Register `fn(path)`, which writes asset `name` at `path`, under that name."""

    def register(fn: Builder) -> Builder:
        if name in BUILDERS:
            raise ValueError(f"asset '{name}' already has a builder")
        BUILDERS[name] = fn
        return fn

    return register


# -- builders --------------------------------------------------------------------------------
@builder("part_models")
def _part_models(path: Path) -> None:
    from ..stage1.localization import fit

    models = fit.fit_model_sets(fit.training_samples(range(PART_MODEL_SEEDS), progress=True))
    path.write_text(fit.render_module(models))


@builder("priors")
def _prior_database(path: Path) -> None:
    """The shipped prior database; the dataset, build.json and clusters.png land in out/prior_database/."""
    from ..stage1 import build_priors

    work = (
        path.parents[2] / "out" / "prior_database" if path.parent.name == "assets" else path.parent / "prior_database"
    )
    build_priors.main(["--out", str(work), "--database", str(path), *build_priors.SHIPPED_ARGS])


def _cvae_builder(object_based: bool) -> Builder:
    def build(path: Path) -> None:
        """Trains on out/prior_database/grasps.npz, rebuilding the prior database first when that file is missing
        (the build is deterministic, so the shipped database comes back the same)."""
        from ..stage2 import cvae_training

        root = path.parents[2] if path.parent.name == "assets" else path.parent
        dataset = root / "out" / "prior_database" / "grasps.npz"
        database = PACKAGE_DIR / "assets" / "prior_database.npz"
        if not dataset.is_file():
            _prior_database(database)
        name = "object_cvae" if object_based else "cvae"
        args = ["--dataset", str(dataset), "--database", str(database), "--out", str(root / "out" / name),
                "--weights", str(path), *cvae_training.SHIPPED_ARGS]  # fmt: skip
        if cvae_training.main(args + (["--object"] if object_based else [])) != 0:
            raise RuntimeError(f"training the {name} failed")

    return build


builder("cvae")(_cvae_builder(False))
builder("object_cvae")(_cvae_builder(True))


def _urdf_builder(robot_hand: str) -> Builder:
    def build(path: Path) -> None:
        from ..retarget.robot_hands import generate_urdf

        path.write_text(generate_urdf(robot_hand))

    return build


for _hand in ("allegro_hand", "leap_hand"):
    builder(f"{_hand}_urdf")(_urdf_builder(_hand))


# -- manifest --------------------------------------------------------------------------------
def default_root() -> Path:
    """The source checkout this package runs from, else the current directory (an installed copy)."""
    source = PACKAGE_DIR.parent
    return source if (source / "package.xml").is_file() and (source / MANIFEST_RELPATH).is_file() else Path.cwd()


def manifest_path(root: Path | None = None) -> Path:
    return (root or default_root()) / MANIFEST_RELPATH


def load_manifest(path: Path | None = None) -> list[Asset]:
    """The manifest's entries, sorted by name."""
    data = json.loads(Path(path or manifest_path()).read_text())
    assets = sorted((Asset(**entry) for entry in data["assets"]), key=lambda a: a.name)
    names = [a.name for a in assets]
    if len(set(names)) != len(names):
        raise ValueError(f"{path}: an asset name is listed twice: {names}")
    return assets


def render_manifest(assets: Iterable[Asset]) -> str:
    """The manifest's text: entries sorted by name, fields in declaration order (stable diffs)."""
    entries = [asdict(a) for a in sorted(assets, key=lambda a: a.name)]
    return json.dumps({"assets": entries}, indent=2, ensure_ascii=False) + "\n"


def write_manifest(assets: Iterable[Asset], path: Path | None = None) -> None:
    Path(path or manifest_path()).write_text(render_manifest(assets))


def file_sha256(path: Path) -> str | None:
    """Hex sha256 of a file's bytes; None when there is no such file."""
    path = Path(path)
    if not path.is_file():
        return None
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def status(manifest: Path | None = None, root: Path | None = None) -> list[Status]:
    """Every entry's file under `root` compared with the manifest."""
    root = Path(root or default_root())
    out = []
    for asset in load_manifest(manifest or manifest_path(root)):
        digest = file_sha256(root / asset.path)
        state = "missing" if digest is None else "ok" if digest == asset.sha256 else "stale"
        out.append(Status(asset, state, digest))
    return out


def check(manifest: Path | None = None, root: Path | None = None) -> list[Status]:
    """The entries whose file is missing or differs from the manifest's sha256 (empty: all match)."""
    return [s for s in status(manifest, root) if s.state != "ok"]


def select(names: Iterable[str], manifest: Path | None = None, root: Path | None = None) -> list[Asset]:
    """The manifest entries named ("all": every one); KeyError naming the known ones otherwise."""
    assets = {a.name: a for a in load_manifest(manifest or manifest_path(root))}
    names = list(names)
    if "all" in names:
        return list(assets.values())
    unknown = [n for n in names if n not in assets]
    if unknown:
        raise KeyError(f"unknown asset {', '.join(unknown)}; known assets: {', '.join(assets)} (or all)")
    return [assets[n] for n in dict.fromkeys(names)]


def build(
    names: Iterable[str],
    manifest: Path | None = None,
    root: Path | None = None,
    update: bool = True,
    run_builders: bool = True,
) -> list[BuildResult]:
    """Rebuild the named assets under `root` and (update) store their new sha256 in the manifest.

    run_builders=False only records the sha256 of the files as they are (after an asset's own
    command rebuilt it).
    """
    root = Path(root or default_root())
    manifest = Path(manifest or manifest_path(root))
    assets = select(names, manifest, root)
    missing = [a.name for a in assets if a.name not in BUILDERS]
    if run_builders and missing:
        raise KeyError(f"no builder registered for {', '.join(missing)} (see gdexgrasp_ros/assets/__init__.py)")
    results = []
    for asset in assets:
        target = root / asset.path
        before = file_sha256(target)
        if run_builders:
            target.parent.mkdir(parents=True, exist_ok=True)
            BUILDERS[asset.name](target)
        after = file_sha256(target)
        if after is None:
            raise FileNotFoundError(f"{asset.name}: {target} does not exist")
        results.append(BuildResult(replace(asset, sha256=after), before, asset.sha256))
    if update and any(r.manifest_differs for r in results):
        new = {r.asset.name: r.asset for r in results}
        write_manifest([new.get(a.name, a) for a in load_manifest(manifest)], manifest)
    return results
