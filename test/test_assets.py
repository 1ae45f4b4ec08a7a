"""The assets manifest: every shipped artefact listed, its sha256 current, its builder deterministic, the CLI."""

import json
import shutil
import subprocess
import sys

import pytest
from conftest import ROOT

from gdexgrasp_ros import assets
from gdexgrasp_ros.assets.cli import main
from gdexgrasp_ros.retarget import robot_hands
from gdexgrasp_ros.stage1.localization import fit

MANIFEST = assets.manifest_path(ROOT)
URDF_ASSETS = ["allegro_hand_urdf", "leap_hand_urdf"]


def _manifest_copy(tmp_path, **sha256):
    """The manifest copied into tmp_path with some entries' sha256 replaced."""
    data = json.loads(MANIFEST.read_text())
    for entry in data["assets"]:
        entry["sha256"] = sha256.get(entry["name"], entry["sha256"])
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(data))
    return path


def test_every_manifest_file_exists_and_matches_its_sha256():
    bad = assets.check(root=ROOT)
    assert not bad, "\n".join(
        f"{s.asset.path} is {s.state}: rebuild it with `{s.asset.command}` then `gdexgrasp-build record "
        f"{s.asset.name}` (or `gdexgrasp-build {s.asset.name}`), and commit the manifest"
        for s in bad
    )


def test_manifest_is_sorted_and_in_canonical_form():
    entries = assets.load_manifest(MANIFEST)
    assert MANIFEST.read_text() == assets.render_manifest(entries), "rewrite it with assets.write_manifest"
    assert [e["name"] for e in json.loads(MANIFEST.read_text())["assets"]] == sorted(a.name for a in entries)
    for a in entries:
        assert len(a.sha256) == 64 and a.command.startswith("python -m gdexgrasp_ros.") and a.description, a.name
        assert not a.path.startswith("/") and ".." not in a.path, a.path


def test_registry_and_manifest_name_the_same_assets_and_every_shipped_artefact():
    entries = {a.name: a for a in assets.load_manifest(MANIFEST)}
    assert set(assets.BUILDERS) == set(entries)
    paths = {a.path for a in entries.values()}
    shipped = {p.relative_to(ROOT).as_posix() for p in (ROOT / "urdf").glob("*.urdf")}
    shipped |= {f"urdf/{f}" for f in robot_hands.URDF_FILES.values()}
    shipped.add(fit.MODEL_FILE.relative_to(ROOT).as_posix())
    shipped |= {p.relative_to(ROOT).as_posix() for p in (ROOT / "gdexgrasp_ros" / "assets").glob("*.*")
                if p.suffix in (".npz", ".safetensors")}  # fmt: skip
    assert len(shipped) == 6
    assert shipped <= paths, f"shipped but not in the manifest: {sorted(shipped - paths)}"


def test_rebuilding_the_urdfs_reproduces_the_manifest_sha256(tmp_path):
    results = assets.build(URDF_ASSETS, manifest=MANIFEST, root=tmp_path, update=False)
    assert [r.asset.name for r in results] == URDF_ASSETS
    for r in results:
        assert r.before is None and (tmp_path / r.asset.path).is_file()
        assert not r.manifest_differs, f"{r.asset.name}: a fresh build has sha256 {r.asset.sha256}, not {r.recorded}"
    assert not (tmp_path / assets.MANIFEST_RELPATH).exists()


def test_build_updates_only_the_rebuilt_entry(tmp_path, capsys):
    manifest = _manifest_copy(tmp_path, allegro_hand_urdf="0" * 64, part_models="1" * 64)
    assert main(["--manifest", str(manifest), "--root", str(tmp_path), "allegro_hand_urdf"]) == 0
    out = capsys.readouterr().out
    assert "allegro_hand_urdf: urdf/allegro_hand_right.urdf written" in out and "manifest updated" in out
    after = {a.name: a.sha256 for a in assets.load_manifest(manifest)}
    truth = {a.name: a.sha256 for a in assets.load_manifest(MANIFEST)}
    assert after["allegro_hand_urdf"] == truth["allegro_hand_urdf"]
    assert after["part_models"] == "1" * 64 and after["leap_hand_urdf"] == truth["leap_hand_urdf"]
    assert manifest.read_text() == assets.render_manifest(assets.load_manifest(manifest))

    manifest = _manifest_copy(tmp_path, leap_hand_urdf="2" * 64)
    assert main(["--manifest", str(manifest), "--root", str(tmp_path), "--no-update", "leap_hand_urdf"]) == 0
    assert "left alone (--no-update)" in capsys.readouterr().out
    assert {a.name: a.sha256 for a in assets.load_manifest(manifest)}["leap_hand_urdf"] == "2" * 64


def test_cli_check_passes_on_the_repository(capsys):
    count = len(assets.load_manifest(MANIFEST))
    assert count == 6, "URDFs x2, part models, prior database, two CVAEs"
    assert main(["--root", str(ROOT), "check"]) == 0
    assert f"all {count} assets match" in capsys.readouterr().out
    assert main(["--root", str(ROOT), "list"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert len(rows) == count and all(r.split()[-1] == "ok" for r in rows), rows


def test_cli_check_fails_naming_the_file_with_a_wrong_hash(tmp_path, capsys):
    manifest = _manifest_copy(tmp_path, leap_hand_urdf="f" * 64)
    assert main(["--manifest", str(manifest), "--root", str(ROOT), "check"]) == 1
    out = capsys.readouterr().out
    assert "stale: urdf/leap_hand_right.urdf (leap_hand_urdf)" in out
    assert "allegro" not in out and "part_models" not in out


def test_cli_check_fails_on_an_edited_or_missing_file(tmp_path, capsys):
    shutil.copytree(ROOT / "urdf", tmp_path / "urdf")
    path = tmp_path / "urdf" / "allegro_hand_right.urdf"
    path.write_text(path.read_text().replace("</robot>", "<!-- edited --></robot>"))
    assert main(["--manifest", str(MANIFEST), "--root", str(tmp_path), "check"]) == 1
    out = capsys.readouterr().out
    assert "stale: urdf/allegro_hand_right.urdf" in out and "missing: gdexgrasp_ros/stage1/localization" in out
    assert "leap_hand" not in out


@pytest.mark.parametrize("argv", [["shadow_hand_urdf"], ["record", "nope"], ["leap_hand_urdf", "nope"]])
def test_cli_unknown_asset_exits_2_listing_the_known_ones(argv, tmp_path, capsys):
    assert main(["--root", str(tmp_path), "--manifest", str(MANIFEST)] + argv) == 2
    err = capsys.readouterr().err
    assert "unknown asset" in err and ", ".join(sorted(assets.BUILDERS)) in err
    assert not (tmp_path / "urdf").exists(), "nothing is built when a name is unknown"


def test_module_entry_point_runs_check():
    proc = subprocess.run([sys.executable, "-m", "gdexgrasp_ros.assets", "check"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
