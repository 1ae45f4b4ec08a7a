"""Stage 1 prior database: records on disk, K-means per affordance (Eq. 1-2), retrieval by part shape."""

import numpy as np
import pytest

from gdexgrasp_ros.errors import ErrorCode, GraspError
from gdexgrasp_ros.hand import OpenHand
from gdexgrasp_ros.stage1.clustering import ClusterScaling, choose_k, cluster_records, features, kmeans
from gdexgrasp_ros.stage1.grasp_dataset import GraspRecord, load_records, save_records
from gdexgrasp_ros.stage1.prior_database import PriorDatabase
from gdexgrasp_ros.stage1.retrieval import make_retriever

V, D = 50, 16


def _record(rng, affordance: str, extents, joints, part="handle") -> GraspRecord:
    contact = np.clip(rng.normal(0.5, 0.2, V), 0, 1)
    return GraspRecord(affordance, "mug", "procedural:mug:seed=0", 0, part, np.sort(extents)[::-1], joints,
                       np.eye(3), rng.normal(0, 0.05, 3), np.eye(3), np.zeros(3), contact,
                       {"penetration_m": 0.001, "volume_m3": 1e-6, "simulation_m": 0.01, "part_ratio": 0.9})  # fmt: skip


def _dataset(seed: int = 0) -> list[GraspRecord]:
    """Two handle-grip families (thin short handles vs long thick ones, different postures) and one twist family."""
    rng = np.random.default_rng(seed)
    small, large = np.array([0.08, 0.02, 0.012]), np.array([0.25, 0.035, 0.03])
    q_grip, q_open, q_twist = np.full(D, 1.0), np.full(D, 0.2), np.full(D, 0.5)
    out = [
        _record(rng, "handle-grip", small + rng.normal(0, 0.002, 3), q_grip + rng.normal(0, 0.05, D)) for _ in range(12)
    ]
    out += [
        _record(rng, "handle-grip", large + rng.normal(0, 0.002, 3), q_open + rng.normal(0, 0.05, D)) for _ in range(10)
    ]
    out += [_record(rng, "twist", small + rng.normal(0, 0.002, 3), q_twist + rng.normal(0, 0.05, D), "cap")
            for _ in range(9)]  # fmt: skip
    return out


def _box_points(size, n=400, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-0.5, 0.5, (n, 3)) * np.asarray(size)


def test_kmeans_finds_separated_groups_and_is_deterministic():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(c, 0.1, (20, 2)) for c in ((0, 0), (5, 0), (0, 5))])
    labels, _ = kmeans(x, 3, seed=1)
    assert len(np.unique(labels)) == 3
    for block in range(3):  # each generated group lands in one cluster
        assert len(np.unique(labels[block * 20 : (block + 1) * 20])) == 1
    again, _ = kmeans(x, 3, seed=1)
    assert (labels == again).all()
    k, _, scores = choose_k(x, ClusterScaling())
    assert k == 3 and scores[3] > 0.8
    k_one, _, _ = choose_k(rng.normal(0, 1, (40, 2)), ClusterScaling(min_silhouette=0.6))
    assert k_one == 1, "no structure: one cluster"


def test_clusters_never_mix_affordances_and_summarise_their_members():
    records = _dataset()
    clusters, report = cluster_records(records)
    assert {c.affordance for c in clusters} == {"handle-grip", "twist"}
    assert sum(c.affordance == "handle-grip" for c in clusters) == 2 and report["handle-grip"]
    assert sum(c.count for c in clusters) == len(records)
    for c in clusters:
        assert {records[i].affordance for i in c.members} == {c.affordance}, "no cluster mixes affordances"
        assert c.representative in c.members, "the representative is a real member"
        np.testing.assert_array_equal(c.joints, records[c.representative].joints)
        assert (c.contact_std >= 0).all() and c.contact_mean.shape == (V,)
        x = features([records[i] for i in c.members], ClusterScaling())
        nearest = c.members[np.argmin(((x - x.mean(0)) ** 2).sum(1))]
        assert c.representative == nearest, "the member nearest the cluster mean"


def test_retrieval_picks_the_cluster_whose_parts_are_the_same_size(tmp_path):
    db = PriorDatabase(cluster_records(_dataset())[0])
    small_part = _box_points([0.08, 0.02, 0.012])
    large_part = _box_points([0.25, 0.035, 0.03])
    near_small, near_large = db.ranked("handle-grip", small_part), db.ranked("handle-grip", large_part)
    assert near_small[0][0].cluster_id != near_large[0][0].cluster_id
    assert near_small[0][0].extents_mean[0] < 0.1 < near_large[0][0].extents_mean[0]
    assert near_small[0][1] < near_small[1][1], "ranked by D_P"
    prior = db.prior("handle-grip", "handle", large_part)
    assert prior.cluster_id == near_large[0][0].cluster_id and "cluster" in prior.source
    np.testing.assert_allclose(prior.joints.mean(), 0.2, atol=0.05)  # the open-handed family of large handles
    with pytest.raises(GraspError, match="no 'base-support' cluster") as err:
        db.prior("base-support", "body", small_part)
    assert err.value.code == ErrorCode.INTERNAL_ERROR


def test_files_round_trip_without_pickle_and_the_same_records_give_the_same_bytes(tmp_path):
    records = _dataset()
    save_records(tmp_path / "a.npz", records)
    save_records(tmp_path / "b.npz", _dataset())
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    back, hand = load_records(tmp_path / "a.npz")
    assert hand == "open_hand" and len(back) == len(records)
    np.testing.assert_allclose(back[5].joints, records[5].joints)
    assert back[5].metrics["part_ratio"] == pytest.approx(0.9) and back[-1].part == "cap"
    db = PriorDatabase(cluster_records(back)[0])
    db.save(tmp_path / "db1.npz")
    PriorDatabase(cluster_records(load_records(tmp_path / "b.npz")[0])[0]).save(tmp_path / "db2.npz")
    assert (tmp_path / "db1.npz").read_bytes() == (tmp_path / "db2.npz").read_bytes()
    loaded = PriorDatabase.load(tmp_path / "db1.npz")
    assert [c.cluster_id for c in loaded.clusters] == [c.cluster_id for c in db.clusters]
    for a, b in zip(loaded.clusters, db.clusters, strict=True):
        np.testing.assert_array_equal(a.members, b.members)
        np.testing.assert_allclose(a.contact_mean, b.contact_mean, atol=1e-6)


def test_the_database_retriever_reads_a_file_and_says_clearly_when_there_is_none(tmp_path, monkeypatch):
    hand = OpenHand()
    rng = np.random.default_rng(0)
    records = [GraspRecord("handle-grip", "mug", "m", 0, "handle", [0.08, 0.02, 0.012], rng.normal(0.8, 0.05, 16),
                           np.eye(3), np.zeros(3), np.eye(3), np.zeros(3), rng.uniform(0, 1, hand.num_vertices))
               for _ in range(6)]  # fmt: skip
    PriorDatabase(cluster_records(records)[0]).save(tmp_path / "db.npz")
    prior = make_retriever("database", path=str(tmp_path / "db.npz")).retrieve(
        hand, "handle-grip", "handle", _box_points([0.08, 0.02, 0.012])
    )
    assert prior.cluster_id == 0 and prior.contact_mean.shape == (hand.num_vertices,)
    save_records(tmp_path / "grasps.npz", records)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    for options, says in (({"path": str(tmp_path / "missing.npz")}, "build_priors"),
                          ({"path": str(tmp_path / "grasps.npz")}, "not a prior database"),
                          ({"path": str(tmp_path / "junk.npz")}, "prior database")):  # fmt: skip
        with pytest.raises(GraspError, match=says):
            make_retriever("database", **options)
    from gdexgrasp_ros.stage1 import retrieval

    monkeypatch.setattr(retrieval, "SHIPPED_DATABASE", tmp_path / "assets" / "prior_database.npz")
    with pytest.raises(GraspError, match="gdexgrasp-build priors"):
        make_retriever("database")  # no path: the shipped file, here missing
    with pytest.raises(ValueError, match="affordance"):
        GraspRecord("grab", "mug", "m", 0, "handle", [1, 1, 1], np.zeros(16), np.eye(3), np.zeros(3), np.eye(3),
                    np.zeros(3), np.zeros(5))  # fmt: skip


def test_a_tiny_synthesis_of_one_training_object_is_filtered_and_deterministic(tmp_path):
    from gdexgrasp_ros.stage1.dataset_synthesis import SynthesisFilters, SynthesisSettings, synthesize_object

    hand = OpenHand()
    lenient = SynthesisFilters(max_penetration=0.05, max_volume=1e-3, min_part_ratio=0.0, min_contacts=0)
    settings = SynthesisSettings(candidates=3, iterations=(10, 10), filters=lenient)
    records, report = synthesize_object(hand, "knife", 2, settings)  # the knife: one pair, handle / handle-grip
    assert report.tried == {"handle/handle-grip": 3} and sum(report.kept.values()) == len(records) >= 1
    for r in records:
        assert (r.affordance, r.part, r.category) == ("handle-grip", "handle", "knife")
        assert r.part_extents[0] >= r.part_extents[1] >= r.part_extents[2] > 0
        assert r.contact.shape == (hand.num_vertices,) and r.contact.max() > 0.9, "the hand touches the knife"
        np.testing.assert_allclose(r.rotation @ r.rotation.T, np.eye(3), atol=1e-5)
        assert r.metrics["penetration_m"] <= 0.05 and r.metrics["volume_m3"] <= 1e-3, "kept: passed the filters"
        assert "simulation_m" not in r.metrics, "the simulation was skipped (max_displacement inf)"
    save_records(tmp_path / "a.npz", records)
    save_records(tmp_path / "b.npz", synthesize_object(hand, "knife", 2, settings)[0])
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes(), "same seed, same bytes"
    strict = SynthesisSettings(candidates=3, iterations=(10, 10), filters=SynthesisFilters(max_penetration=0.0))
    kept, strict_report = synthesize_object(hand, "knife", 2, strict)
    assert len(kept) <= len(records) and sum(sum(f.values()) for f in strict_report.failed.values()) >= 1
    with pytest.raises(ValueError, match="training categories only"):
        synthesize_object(hand, "hammer", 0, settings)


def test_the_build_gives_the_same_files_with_one_or_two_workers(tmp_path):
    from gdexgrasp_ros.stage1.build_priors import build, jobs
    from gdexgrasp_ros.stage1.dataset_synthesis import SynthesisFilters, SynthesisSettings

    lenient = SynthesisFilters(max_penetration=0.05, max_volume=1e-3, min_part_ratio=0.0, min_contacts=0)
    settings = SynthesisSettings(candidates=2, iterations=(5, 5), filters=lenient)
    job_list = jobs(["knife", "scissors"], seeds=1, base_seed=3)
    assert job_list == [("knife", 3), ("scissors", 3)]
    one = build(tmp_path / "one", job_list, settings, workers=1, figure=False)
    two = build(tmp_path / "two", job_list, settings, workers=2, figure=False)
    for name in ("grasps.npz", "priors.npz"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name
    assert one["grasps_per_affordance"] == two["grasps_per_affordance"] == {"handle-grip": 4}
    loaded = PriorDatabase.load(tmp_path / "two" / "priors.npz")
    assert loaded.affordances == ["handle-grip"] and sum(c.count for c in loaded.clusters) == 4


def test_ray_runs_the_same_jobs_to_the_same_bytes(tmp_path):
    pytest.importorskip("ray", reason="Ray is an optional extra (pip install 'ray>=2.9')")
    from gdexgrasp_ros.stage1.build_priors import build, jobs
    from gdexgrasp_ros.stage1.dataset_synthesis import SynthesisFilters, SynthesisSettings

    lenient = SynthesisFilters(max_penetration=0.05, max_volume=1e-3, min_part_ratio=0.0, min_contacts=0)
    settings = SynthesisSettings(candidates=2, iterations=(5, 5), filters=lenient)
    job_list = jobs(["knife", "scissors"], seeds=1, base_seed=3)
    build(tmp_path / "local", job_list, settings, workers=1, figure=False)
    report = build(tmp_path / "ray", job_list, settings, ray_address="local", figure=False)
    assert report["executor"] == "ray:local"
    for name in ("grasps.npz", "priors.npz"):
        assert (tmp_path / "local" / name).read_bytes() == (tmp_path / "ray" / name).read_bytes(), name


def test_the_shipped_database_covers_every_affordance_and_is_what_the_retriever_reads():
    from gdexgrasp_ros.affordance_types import AFFORDANCES
    from gdexgrasp_ros.stage1.retrieval import SHIPPED_DATABASE

    db = PriorDatabase.load(SHIPPED_DATABASE)
    assert db.hand_model == "open_hand" and set(db.affordances) == set(AFFORDANCES)
    assert sum(c.count for c in db.clusters) >= 1000, "the shipped database holds >= 1000 filtered grasps"
    for c in db.clusters:
        assert (c.contact_std >= 0).all() and c.representative in c.members
    hand = OpenHand()
    prior = make_retriever("database").retrieve(hand, "twist", "cap", _box_points([0.03, 0.03, 0.015]))
    assert prior.cluster_id >= 0 and prior.affordance == "twist" and len(prior.joints) == len(hand.joint_names)
