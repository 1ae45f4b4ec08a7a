"""Instruction analysis that generalizes (issue 17): the instruction's own cues before the
category's habits, objects outside the affordance table, part families, and the frozen blind set.

The blind set's figures are printed by benchmarks/analysis_accuracy.py --blind; it is never tuned
on, so the tests only check that it is the frozen file. The helper-written dev set (tuned on) and
the project's own set are regression checks.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # every model is local

from gdexgrasp_ros.objects.affordances import AFFORDANCE_TABLE, AFFORDANCES  # noqa: E402
from gdexgrasp_ros.stage1.analysis.base import normalize_part  # noqa: E402
from gdexgrasp_ros.stage1.analysis.evaluation import (  # noqa: E402
    INSTRUCTION_SET,
    evaluate,
    load_instruction_set,
    same_part_family,
    score,
    without_parts,
)
from gdexgrasp_ros.stage1.analysis.object_knowledge import OBJECT_KINDS, KindFinder  # noqa: E402
from gdexgrasp_ros.stage1.analysis.offline import OfflineAnalyzer  # noqa: E402
from gdexgrasp_ros.stage1.analysis.text import drop_speaker_clauses, find_part_mentions  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BLIND_SET = ROOT / "benchmarks" / "data" / "blind_instructions.jsonl"
BLIND_SHA256 = "a3447f1f677f72211f8c747bef5edffb0e5964d001811584a7162ab2ef0c8370"
BLIND_SET_2 = ROOT / "benchmarks" / "data" / "blind_instructions_2.jsonl"
BLIND_SHA256_2 = "f77fb9e74ef42a89765977149656439bff5c1b492d2358bf472dd2f7c50cf680"
BLIND_SET_3 = ROOT / "benchmarks" / "data" / "blind_instructions_3.jsonl"
BLIND_SHA256_3 = "432e01d4890b2305225c7d8d2cd56effc895500219a3d4a25fd20229a8e13d7b"
BLIND_SET_4 = ROOT / "benchmarks" / "data" / "blind_instructions_4.jsonl"
BLIND_SHA256_4 = "114760ea579f95f5effc493de9e8d9f3c7567c2e4e4de330461b5da989e34475"


@pytest.fixture(scope="module")
def offline():
    analyzer = OfflineAnalyzer()
    analyzer.analyze("pick it up", "mug", ["body", "handle"])
    return analyzer


@pytest.fixture(scope="module")
def unseen():
    """Reads every category outside the table as one no object-knowledge example names."""
    return OfflineAnalyzer(unseen_categories=True)


# -- each cue family decides over the object's habit ---------------------------------------------
@pytest.mark.parametrize(
    "instruction, category, parts, want",
    [
        # explicit grasp words
        ("Wrap your fingers around the mug and bring it here.", "mug", ["handle", "body"], ("wrap-around-grip", "body")),
        ("Hold the mug from underneath and pass it over.", "mug", ["handle", "body"], ("base-support", "body")),
        ("Pick up the drill by its handle.", "drill", ["handle", "trigger", "body"], ("handle-grip", "handle")),
        ("Unscrew the kettle's lid.", "kettle", ["handle", "body", "lid"], ("twist", "lid")),
        ("Press the pump of the dispenser twice.", "dispenser", ["body", "pump"], ("trigger-squeeze", "pump")),
        # a negated cue and a part that must be avoided
        ("Hold the spray bottle by its body without spraying.", "spray bottle", ["body", "trigger", "head"],
         ("wrap-around-grip", "body")),
        ("The mug's handle is cracked, so carry it from below.", "mug", ["handle", "body"], ("base-support", "body")),
        ("Move the glue gun, keep your finger off the trigger.", "glue gun", ["handle", "trigger", "body"],
         ("handle-grip", "handle")),
        # a clause about what the person will do
        ("Hold the bottle steady while I unscrew the cap.", "bottle", ["body", "neck", "cap"],
         ("wrap-around-grip", "body")),
        # the action verb and its object
        ("Flip the pancake.", "frying pan", ["handle", "body"], ("handle-grip", "handle")),
        ("Turn the sausages over on the grill.", "tongs", ["handle", "tips"], ("handle-grip", "handle")),
        ("Scoop some rice onto the plate.", "ladle", ["handle", "bowl"], ("handle-grip", "handle")),
        ("Grind a little pepper over the salad.", "pepper mill", ["top", "body"], ("twist", "top")),
        ("Seal it tight before it goes in the bag.", "thermos", ["body", "cap"], ("twist", "cap")),
        ("Pour me a cup of tea.", "teapot", ["handle", "body", "lid", "spout"], ("handle-grip", "handle")),
        ("Cut the bread into slices.", "knife", ["handle", "blade"], ("handle-grip", "handle")),
        ("Spray the plants on the windowsill.", "spray bottle", ["body", "trigger", "head"],
         ("trigger-squeeze", "trigger")),
        ("Open the jar of pickles.", "jar", ["body", "lid"], ("twist", "lid")),
        ("Serve the soup to the guests.", "bowl", ["body"], ("base-support", "body")),
        ("Squeeze the trigger to fire a bead of glue.", "glue gun", ["handle", "trigger", "body"],
         ("trigger-squeeze", "trigger")),
        # a negation does not reach past "and"; "not hot" is no reason to avoid a part
        ("Avoid the handle and hold it from underneath.", "mug", ["handle", "body"], ("base-support", "body")),
        ("The handle is not hot, so carry the pot by the handle.", "pot", ["handle", "body", "lid"],
         ("handle-grip", "handle")),
        # "hand it around" passes it round: no wrap
        ("Hand it around the table by the handle.", "mug", ["handle", "body"], ("handle-grip", "handle")),
        # a part said to be gone is no way to move the object
        ("The handle snapped off my mug, but bring it to me anyway.", "mug", ["handle", "body"],
         ("wrap-around-grip", "body")),
        # a label named as itself, though the word usually means another part ("knob": a lid's)
        ("Turn the faucet knob to the left.", "faucet", ["spout", "knob", "base"], ("twist", "knob")),
        ("Squeeze the fire extinguisher's lever.", "fire extinguisher", ["lever", "handle", "body", "nozzle"],
         ("trigger-squeeze", "lever")),
        # tightening a named part and setting a control are twists
        ("Tighten the chuck on the drill by hand.", "drill", ["chuck", "trigger", "handle", "body"], ("twist", "chuck")),
        ("Set the kitchen timer for ten minutes.", "kitchen timer", ["dial", "body"], ("twist", "dial")),
        # a device is switched on by a press; a grasp asked for on a component the table lacks
        ("Switch the flashlight on, it's dark in here.", "flashlight", ["head", "barrel", "button", "tail cap"],
         ("trigger-squeeze", "button")),
        ("Press the button on the handle to pop the umbrella open.", "umbrella", None, ("trigger-squeeze", "trigger")),
        # a label no part word explains is the body when no label is
        ("The carry handle is cracked; wrap your hand around the tank.", "garden sprayer",
         ["tank", "handle", "wand", "trigger"], ("wrap-around-grip", "tank")),
    ],
)  # fmt: skip
def test_cues_decide_over_habits(offline, instruction, category, parts, want):
    arr = offline.analyze(instruction, category, parts)
    assert (arr.affordance, arr.contact_part) == want, arr.rationale


def test_an_explicit_cue_is_named_in_the_rationale(offline):
    arr = offline.analyze("Wrap your hand around the kettle.", "kettle", ["handle", "body", "lid"])
    assert arr.affordance == "wrap-around-grip" and "says how: 'wrap your hand around'" in arr.rationale


def test_text_helpers_negation_disabled_parts_and_speaker_clauses():
    (handle,) = find_part_mentions("the handle is cracked, so hold it from below")
    assert handle.negated
    (handle,) = find_part_mentions("the handle is cool, hold it there")
    assert not handle.negated
    assert drop_speaker_clauses("hold it steady while i unscrew the cap.") == "hold it steady."
    assert drop_speaker_clauses("when i say go, twist the lid") == "when i say go, twist the lid"


# -- objects outside the affordance table --------------------------------------------------------
def test_object_kinds_are_found_by_name_head_noun_and_similarity(offline):
    finder = KindFinder(offline.embed)
    assert finder.find("glue gun").how == "named"
    # Its own name left out, a glue gun is still a trigger tool by its head noun.
    match = finder.find("glue gun", unseen=True)
    assert match.kind.name == "trigger tool" and "head noun 'gun'" in match.how
    # "can" is shared by drink cans, paint cans and spray cans: the closest decides.
    assert finder.find("drink can", unseen=True).kind.name == "closed container"
    assert finder.find("aerosol can", unseen=True).kind.name == "spray can"
    assert finder.find("pliers", unseen=True).kind.name == "handled tool"  # by similarity only
    assert finder.find("qwzx blorf") is None
    assert finder.find("") is None


def test_plural_and_multiword_names_find_their_kind(offline):
    finder = KindFinder(offline.embed)
    for name in ("kitchen tongs", "salad tongs", "needle nose pliers", "wine glasses", "glue guns"):
        assert finder.find(name, unseen=True) is not None, name
    assert finder.find("wine glasses", unseen=True).kind.name == "open vessel"


def test_parts_answered_without_labels_are_ones_the_localizer_can_find():
    """Item 1: with no labels, the part goes to the localizer, which must know its family."""
    from gdexgrasp_ros.stage1.analysis.vocabulary import DEFAULT_PART
    from gdexgrasp_ros.stage1.localization.names import part_family

    for kind in OBJECT_KINDS:
        for part in kind.parts:
            assert part_family(part) is not None, (kind.name, part)
    for part in DEFAULT_PART.values():
        assert part_family(part) is not None, part


def test_example_names_are_each_of_one_kind():
    seen = {}
    for kind in OBJECT_KINDS:
        for name in kind.examples:
            key = name.replace(" ", "")
            assert seen.setdefault(key, kind.name) == kind.name, (name, seen[key], kind.name)


def test_kind_tables_use_the_five_affordances():
    for kind in OBJECT_KINDS:
        assert kind.parts and kind.examples
        for affs in kind.parts.values():
            assert affs and set(affs) <= set(AFFORDANCES), kind.name
        assert not set(kind.examples) & set(AFFORDANCE_TABLE) or kind.name in ("handled vessel", "open vessel")


UNKNOWN_OBJECTS = [
    # category, its part labels, instructions
    ("drink can", ["body", "top", "bottom"], ["Hand me the soda.", "Put the cold can in the fridge.", "Open it."]),
    ("glue gun", ["handle", "trigger", "nozzle", "body"], ["Glue the label on.", "Carry it to the bench."]),
    ("spatula", ["handle", "blade"], ["Flip the burger.", "Put it in the drawer.", "Open it."]),
    ("plate", ["rim", "base"], ["Serve the cake.", "Bring me the plate of cookies."]),
    ("toothpaste tube", ["body", "cap"], ["Take the cap off.", "Pass me the toothpaste."]),
]


@pytest.mark.parametrize("category, parts, instructions", UNKNOWN_OBJECTS)
def test_unknown_category_answers_a_part_the_object_has(unseen, category, parts, instructions):
    """With labels, the answer is one of them; without, one of the parts its kind has, never a
    handle for a can or a lid for a spatula; the rationale says how the category was read."""
    for text in instructions:
        labelled = unseen.analyze(text, category, parts)
        assert labelled.contact_part in parts, (text, labelled.rationale)
        bare = unseen.analyze(text, category)
        assert f"'{category}' read as a" in bare.rationale or "not a known kind" in bare.rationale
        if "read as a" in bare.rationale:
            kind = next(k for k in OBJECT_KINDS if f"read as a {k.name} " in bare.rationale)
            assert bare.contact_part in kind.parts, (text, bare.rationale)


def test_parts_an_unknown_object_may_lack_are_not_guessed(offline, unseen):
    """The CEO's held-out failures: a drink can's "handle", a spatula's "lid"."""
    assert unseen.analyze("Hand me the soda.", "drink can").contact_part == "body"
    assert offline.analyze("Open the drawer with it.", "spatula").contact_part == "handle"


@pytest.mark.parametrize(
    "instruction, category, want",
    [
        # nothing places a "frobnicator": used as an instrument, it is a hand tool
        ("Scrape the eggs off the bottom of the pan with the frobnicator.", "frobnicator", ("handle-grip", "handle")),
        ("Use the frobnicator to flatten the dough.", "frobnicator", ("handle-grip", "handle")),
        ("Frobnicate the soup into the bowls.", "frobnicate", ("handle-grip", "handle")),
        # a kind's use is its first grasp, even after a verb of moving ("put out the fire")
        ("Put out the fire on the stove with the extinguisher!", "fire extinguisher", ("trigger-squeeze", "trigger")),
    ],
)
def test_an_object_used_as_an_instrument_is_held_for_its_use(unseen, instruction, category, want):
    arr = unseen.analyze(instruction, category)
    assert (arr.affordance, arr.contact_part) == want, arr.rationale


@pytest.mark.parametrize(
    "instruction, category, parts, want",
    [
        # company, not an instrument; the object itself moved
        ("Careful with the hairspray, put it on the shelf.", "hairspray", None, ("wrap-around-grip", "body")),
        ("Go to the garage with the fire extinguisher and hang it on the wall.", "fire extinguisher", None,
         ("handle-grip", "handle")),
        # a grasp spelled out on what the tool works on is not on the tool
        ("Loosen the valve with the wrench.", "wrench", None, ("handle-grip", "handle")),
        ("Tighten the wheel nuts with the wrench.", "wrench", ["handle", "jaw"], ("handle-grip", "handle")),
        # a kettle may be "the pot" itself
        ("Lift the lid of the pot.", "kettle", ["handle", "body", "lid"], ("twist", "lid")),
        # a small component is never the body
        ("Wrap your hand around the scissors and hand them to me.", "scissors", ["blade", "handle", "screw"],
         ("handle-grip", "handle")),
    ],
)  # fmt: skip
def test_rules_that_must_not_misfire(unseen, instruction, category, parts, want):
    arr = unseen.analyze(instruction, category, parts)
    assert (arr.affordance, arr.contact_part) == want, arr.rationale


@pytest.mark.parametrize(
    "instruction, category, parts, want",
    [
        # a part word that is itself a generic kind stays itself on an object nothing is known of
        ("Turn the little knob on the side to raise the wick.", "camping lantern", None, ("twist", "knob")),
        ("Press the plunger down slowly.", "oral syringe", None, ("trigger-squeeze", "plunger")),
        # "ignore the X", "the X's off", "the X on this Y is chipped": not a reason to hold the X
        ("Ignore the wobbly lid - just carry the kettle over to the stove.", "kettle", ["handle", "body", "lid"],
         ("handle-grip", "handle")),
        ("The lid's already off the coffee jar; keep the jar steady while I spoon some out.", "jar", ["body", "lid"],
         ("wrap-around-grip", "body")),
        ("The handle on this mug is chipped, so hold it round the body instead.", "mug", ["handle", "body"],
         ("wrap-around-grip", "body")),
        # a place word before another noun is no part: "the top shelf"
        ("Put the jar of marbles up on the top shelf.", "jar", ["body", "lid"], ("wrap-around-grip", "body")),
        # digging is a tool's use, not a drill's; closing tight, discharging, a collar
        ("Dig a small hole for the tulip bulb with the trowel.", "trowel", None, ("handle-grip", "handle")),
        ("Close it tight so the tea stays hot.", "thermos", None, ("twist", "lid")),
        ("Discharge it at the base of the flames.", "fire extinguisher", ["handle", "lever", "body"],
         ("trigger-squeeze", "lever")),
        ("Screw the collar onto the baby bottle.", "baby bottle", ["body", "collar", "nipple"], ("twist", "collar")),
        ("Twist the chuck on the drill to clamp down on the bit.", "drill", None, ("twist", "chuck")),
    ],
)  # fmt: skip
def test_session_13_rules(unseen, instruction, category, parts, want):
    arr = unseen.analyze(instruction, category, parts)
    assert (arr.affordance, arr.contact_part) == want, arr.rationale


def test_a_state_is_no_request():
    from gdexgrasp_ros.stage1.analysis.offline import _cued_affordances

    assert "twist" not in _cued_affordances("it is already open - pour me some coffee")
    assert "twist" not in _cued_affordances("the thermos's open, pour it")
    assert "twist" in _cued_affordances("open it for me")
    assert "twist" in _cued_affordances("wind some more of it up")


def test_instrument_and_other_objects_parts_in_text():
    from gdexgrasp_ros.stage1.analysis.text import used_as_instrument

    assert used_as_instrument("stir it with the wooden ladle", "ladle")
    assert used_as_instrument("ladle the soup out", "ladle") and used_as_instrument("please mop up the juice", "mop")
    assert not used_as_instrument("mop is dirty, put it away", "mop")
    assert not used_as_instrument("bring me the ladle", "ladle")
    assert not used_as_instrument("lantern goes on the porch", "lantern")
    assert not used_as_instrument("don't use the glue gun, put it back", "glue gun")
    assert not used_as_instrument("come with the mop", "mop")
    assert used_as_instrument("put it out using the fire extinguisher", "fire extinguisher")
    (bottom,) = find_part_mentions("scrape it off the bottom of the pan")
    assert bottom.elsewhere
    (bottom,) = find_part_mentions("hold its bottom")
    assert not bottom.elsewhere


def test_an_unknown_kind_falls_back_to_the_body_and_says_it_guessed(unseen):
    arr = unseen.analyze("Put it on the shelf.", "qwzx blorf")
    assert "not a known kind of object" in arr.rationale
    assert arr.contact_part == "body" and arr.low_confidence
    # Only a cue word makes a lid or a trigger a candidate on an object nothing is known of.
    assert unseen.analyze("Unscrew it.", "qwzx blorf").affordance == "twist"


# -- part families ------------------------------------------------------------------------------
def test_part_families_in_scoring_and_in_model_answers():
    assert same_part_family("cap", "lid") and same_part_family("Top", "head") and same_part_family("base", "body")
    assert same_part_family("grip", "handle") and not same_part_family("handle", "body")
    rows = [{"affordance": "twist", "part": "cap", "kind": "direct", "category": "thermos"}]
    res = score(rows, [("twist", "lid")])
    assert (res["part"], res["part_family"], res["per_vocabulary"]["outside"]["n"]) == (0.0, 1.0, 1)
    # A model that says "lid" for an object whose label is "cap" gets the object's label.
    assert normalize_part("lid", ["body", "cap"]) == "cap"
    assert normalize_part("grip", ["handle", "blade"]) == "handle"
    assert normalize_part("head", ["body", "cap"]) == "cap" and normalize_part("arm", ["handle", "blade"]) == "handle"


# -- the sets -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path, sha256",
    [(BLIND_SET, BLIND_SHA256), (BLIND_SET_2, BLIND_SHA256_2), (BLIND_SET_3, BLIND_SHA256_3),
     (BLIND_SET_4, BLIND_SHA256_4)],
)  # fmt: skip
def test_blind_sets_are_the_frozen_files(path, sha256):
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == sha256, "a blind set is frozen: never edit it"
    rows = load_instruction_set(path)
    categories = {r["category"] for r in rows}
    assert len(rows) >= 200 and len(categories) >= 30
    assert len(categories - set(AFFORDANCE_TABLE)) >= 10
    assert all(r["part"] in r["parts"] for r in rows)


def test_own_set_does_not_fall_below_95_percent(offline):
    """ACCEPTANCE (issue 17): the project's own set stays >= 95 %."""
    res = evaluate(offline, load_instruction_set())
    assert res["affordance"] >= 0.95 and res["part"] >= 0.95, res["mistakes"]


@pytest.mark.parametrize(
    "name, floors",
    [
        # set, (affordance, part family) floors with part names given, then hidden. When written:
        # dev 95.0 / 96.9 and 94.4 / 91.9 %; dev2 89.6 / 86.8 and 88.2 / 78.5 %; dev3 (written
        # with the second blind set, measured untouched first: 93.5 / 94.4 and 91.6 / 89.3 %).
        ("instructions_dev.jsonl", (0.92, 0.93, 0.91, 0.88)),
        ("instructions_dev2.jsonl", (0.86, 0.83, 0.85, 0.75)),
        ("instructions_dev3.jsonl", (0.94, 0.94, 0.93, 0.90)),
        # dev4 (a developer's tricky phrasings, written with the fourth blind set; untouched:
        # 88.9 / 91.8 and 86.0 / 82.3 %)
        ("instructions_dev4.jsonl", (0.90, 0.93, 0.86, 0.84)),
    ],
)
def test_dev_sets_regression(unseen, name, floors):
    """The helper-written dev sets (tuned on, so not evidence of generalization): both part
    modes stay near where the issue-17 rework brought them."""
    rows = load_instruction_set(INSTRUCTION_SET.with_name(name))
    given = evaluate(unseen, rows)
    hidden = evaluate(unseen, without_parts(rows))
    assert given["affordance"] >= floors[0] and given["part_family"] >= floors[1], given["mistakes"]
    assert hidden["affordance"] >= floors[2] and hidden["part_family"] >= floors[3], hidden["mistakes"]


def test_model_loads_once_per_process(offline, unseen):
    model = offline._model
    for text in ("open it", "pour some", "carry it"):
        offline.analyze(text, "kettle")
        unseen.analyze(text, "kettle")
    assert offline._model is model and unseen._model is model  # another analyzer shares it


def test_cli_reads_an_unknown_category(tmp_path):
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "gdexgrasp_ros.stage1.analysis.cli", "-i", "glue the felt pad on", "-c", "glue gun",
         "--json"],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert (answer["affordance"], answer["part"]) == ("trigger-squeeze", "trigger")
    assert "read as a trigger tool" in answer["rationale"]
