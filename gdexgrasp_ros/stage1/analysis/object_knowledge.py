"""What objects outside the affordance table physically have (issue 17: unknown categories).

The affordance table (objects/affordances.py) knows 28 categories in detail. Any other object is
read as one of a few kinds, each with the parts such objects have and what those parts afford:
a "drink can" is a closed container (a body to wrap, a top to twist), a "glue gun" a trigger
tool, a "ladle" a handled utensil. The kind comes from, in order:

1. the category's name among the kind's example objects ("named");
2. the category's head noun among them ("caulking gun" -> the trigger tools, whose examples
   include "glue gun"; "named by its head noun");
3. the nearest example object by sentence embedding, when close enough ("similar to ...");
4. else none: the analyzer then answers from the generic part list and says so.

Examples are general knowledge about household objects and tools, not taken from any instruction
set. `unseen=True` removes the category's own name from the examples before the lookup: the
benchmark uses it to measure how an object nobody listed is read (steps 2-4 only).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

# Step 3 (all-MiniLM-L6-v2 cosine similarity of "a <name>" to "a <example>"): a kind's score is
# the mean of its three closest examples; it must reach the floor and lead the next kind by the
# margin. Close relatives score 0.6-0.8 ("pliers" / wrenches 0.65), unrelated objects 0.4-0.5;
# single nearest names mislead ("thermos" is nearest to "thermostat"), averages less so.
SIMILARITY_FLOOR = 0.5
SIMILARITY_MARGIN = 0.03
MEMO_SIZE = 4096  # categories remembered per finder


@dataclass(frozen=True, eq=False)
class ObjectKind:
    """A kind of object: its parts (part -> affordances, the most typical first; the first part's
    first affordance is what using the object means) and example objects."""

    name: str
    parts: dict[str, tuple[str, ...]]
    examples: tuple[str, ...]
    ungrasped: tuple[str, ...] = ()


def _names(text: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in text.split(",") if n.strip())


OBJECT_KINDS: tuple[ObjectKind, ...] = (
    ObjectKind(
        "handled tool",
        {"handle": ("handle-grip", "wrap-around-grip")},
        _names(
            "ladle, spatula, turner, egg flipper, whisk, spoon, wooden spoon, serving spoon, "
            "slotted spoon, fork, carving fork, tongs, wrench, spanner, pipe wrench, adjustable "
            "wrench, socket wrench, pliers, rolling pin, paint roller, paintbrush, paint brush, "
            "pastry brush, brush, scrub brush, toothbrush, hairbrush, comb, razor, pizza "
            "cutter, peeler, potato masher, grater, saw, hacksaw, axe, hatchet, shovel, spade, "
            "rake, hoe, pitchfork, mop, squeegee, trowel, chisel, file, crowbar, pry bar, "
            "mallet, sledgehammer, pickaxe, racket, tennis racket, badminton racket, bat, "
            "baseball bat, cricket bat, golf club, hockey stick, fishing rod, scraper, ice "
            "scraper, ice cream scoop, scoop, skimmer, strainer, sieve, fly swatter, back "
            "scratcher, plunger, toilet brush, dustpan, feather duster, magnifying glass, hand "
            "mirror, sword, dagger, cleaver, machete, can opener, bottle opener, soldering "
            "iron, walking stick, cane, ice pick, pizza peel, butter knife, bread knife, "
            "tweezers, nutcracker, garlic press, pruning shears, secateurs, bolt cutter, hedge "
            "shears, wire cutter, crimper, clamp"
        ),
        ungrasped=("head", "blade"),
    ),
    ObjectKind(
        "handheld appliance",
        {"handle": ("handle-grip", "wrap-around-grip"), "switch": ("trigger-squeeze",), "body": ("wrap-around-grip",)},
        _names(
            "hair dryer, blow dryer, curling iron, hair straightener, flat iron, electric "
            "toothbrush, electric shaver, shaver, clothes iron, iron, steam iron, hand mixer, "
            "electric mixer, immersion blender, stick blender, handheld vacuum, hand vacuum, "
            "vacuum cleaner, leaf blower, electric whisk, milk frother, sander, multimeter, "
            "label maker"
        ),
    ),
    ObjectKind(
        "trigger tool",
        {"trigger": ("trigger-squeeze",), "handle": ("handle-grip",), "body": ("wrap-around-grip",)},
        _names(
            "glue gun, hot glue gun, water pistol, water gun, squirt gun, nail gun, staple gun, "
            "caulk gun, caulking gun, heat gun, spray gun, paint sprayer, soldering gun, nerf "
            "gun, toy gun, grease gun, impact driver, power saw, circular saw, jigsaw, "
            "chainsaw, hedge trimmer, hose nozzle, garden hose nozzle, spray nozzle, barcode "
            "scanner, pressure washer, blowtorch, trigger sprayer, pistol, gun"
        ),
    ),
    ObjectKind(
        "closed container",
        {"body": ("wrap-around-grip", "base-support"), "cap": ("twist",)},
        _names(
            "drink can, soda can, beer can, can, tin, tin can, thermos, vacuum flask, flask, "
            "water bottle, tube, toothpaste, toothpaste tube, lotion tube, sunscreen, glue "
            "stick, glue bottle, marker, highlighter, pen, canister, salt shaker, pepper "
            "shaker, shaker, spice jar, pill bottle, medicine bottle, vitamin bottle, "
            "deodorant, perfume bottle, perfume, cologne, nail polish, ketchup bottle, mustard "
            "bottle, squeeze bottle, honey bottle, shampoo bottle, shampoo, conditioner, wine "
            "bottle, beer bottle, milk carton, carton, juice box, chip tube, coffee tin, tea "
            "tin, cocktail shaker, protein shaker, baby bottle, sippy cup, travel mug, tumbler "
            "with lid, lip balm, lipstick, test tube, vial, oil bottle, vinegar bottle, sauce "
            "bottle, syrup bottle, candle jar, container, food container, tupperware, "
            "cookie jar"
        ),
    ),
    ObjectKind(
        "spray can",
        {"nozzle": ("trigger-squeeze",), "body": ("wrap-around-grip", "base-support"), "cap": ("twist",)},
        _names(
            "aerosol can, spray can, spray paint, hairspray, air freshener, whipped cream can, "
            "cooking spray, deodorant spray, insect spray, bug spray, compressed air, fire "
            "extinguisher, inhaler, perfume atomizer, mister bottle"
        ),
    ),
    ObjectKind(
        "press tool",
        {"top": ("trigger-squeeze",), "base": ("base-support",), "body": ("wrap-around-grip",)},
        _names(
            "stapler, hole punch, paper punch, tape dispenser, lemon squeezer, citrus press, "
            "rubber stamp, stamp, syringe, pipette, dropper, remote control, remote, game "
            "controller, controller, computer mouse, mouse, calculator, clicker, doorbell, "
            "stopwatch, camera, timer button, push button"
        ),
    ),
    ObjectKind(
        "twist control",
        {"top": ("twist",), "body": ("wrap-around-grip", "base-support")},
        _names(
            "pepper grinder, pepper mill, salt grinder, salt mill, spice grinder, spice mill, "
            "coffee grinder, kitchen timer, egg timer, door knob, doorknob, knob, valve, gas "
            "valve, dial, volume knob, thermostat, light bulb, lightbulb, bulb, combination "
            "lock, lens, camera lens, pencil sharpener, crank"
        ),
    ),
    ObjectKind(
        "open vessel",
        {"body": ("wrap-around-grip", "base-support"), "base": ("base-support",)},
        _names(
            "glass, drinking glass, wine glass, tumbler, beaker, shot glass, champagne flute, "
            "flute, goblet, chalice, vase, planter, flower pot, plant pot, basin, trash can, "
            "bin, wastebasket, waste bin, box, tin box, cardboard box, bowl, salad bowl, mixing "
            "bowl, ramekin, egg cup, candle, candle holder, ice bucket, pencil cup, "
            "cereal box, ball, fruit, apple, orange, egg, mug without handle"
        ),
    ),
    ObjectKind(
        "flat dish",
        {"base": ("base-support",), "body": ("base-support", "wrap-around-grip")},
        _names(
            "plate, dinner plate, side plate, saucer, dish, platter, serving platter, tray, "
            "serving tray, baking tray, baking sheet, cookie sheet, cutting board, chopping "
            "board, cake stand, pie dish, pie plate, baking dish, casserole dish, lasagna pan, "
            "roasting pan, sheet pan, muffin tin, cake pan, pizza pan, book, notebook, laptop, "
            "tablet, clipboard, picture frame, frame, board, plank, tile, cake, pizza box, "
            "shoebox"
        ),
    ),
    ObjectKind(
        "handled vessel",
        {"handle": ("handle-grip",), "body": ("wrap-around-grip", "base-support"), "lid": ("twist",)},
        _names(
            "pitcher, measuring jug, measuring cup, gravy boat, creamer, milk jug, coffee pot, "
            "coffee carafe, carafe, french press, coffee press, moka pot, percolator, stein, "
            "beer mug, tankard, teacup, casserole, dutch oven, stockpot, basket, picnic basket, "
            "shopping basket, bag, handbag, purse, tote bag, shopping bag, backpack, toolbox, "
            "tool box, lunch box, lunchbox, cooler, paint can, paint bucket, lantern, kettlebell, "
            "dumbbell, gas can, fuel can, oil can, briefcase, laundry basket, pet carrier, "
            "carrier, kettle, teapot, jug, mug, cup, bucket, pail, watering can, sauce pan, "
            "wok, frying pan, skillet, griddle pan, grill pan, crepe pan, steamer, fondue pot"
        ),
    ),
)

_KIND = {k.name: k for k in OBJECT_KINDS}
_BY_NAME: dict[str, ObjectKind] = {}
for _kind in OBJECT_KINDS:
    for _name in _kind.examples:
        _BY_NAME.setdefault(_name, _kind)


@dataclass(frozen=True)
class KindMatch:
    kind: ObjectKind
    how: str  # "named", "named by its head noun", "similar to '<example>' (0.62)"


def _singular_phrase(name: str) -> str:
    """Every word singular: 'kitchen tongs' -> 'kitchen tong', 'wine glasses' -> 'wine glass'."""
    from ..localization.names import singular  # lazily: the localization package is heavy to import

    return " ".join(singular(w) for w in name.split())


def _head(name: str) -> str:
    words = name.split()
    return words[-1] if words else ""


class KindFinder:
    """Finds an object's kind (see the module's docstring); one per embedding model, which embeds
    the examples once and remembers every category it has read."""

    def __init__(self, embed: Callable[[Sequence[str]], np.ndarray] | None = None):
        self._embed = embed
        self._names = tuple(sorted(_BY_NAME))
        self._vectors: np.ndarray | None = None
        self._memo: dict[tuple[str, bool], KindMatch | None] = {}

    def find(self, category: str, unseen: bool = False) -> KindMatch | None:
        """The kind of an object outside the affordance table, or None when nothing is close;
        unseen: leave the category's own name out of the examples (measuring generalisation)."""
        name = " ".join(category.lower().replace("_", " ").replace("-", " ").split())
        key = (name, unseen)
        if key not in self._memo:
            if len(self._memo) >= MEMO_SIZE:  # a long-running server meets unboundedly many names
                self._memo.pop(next(iter(self._memo)))
            self._memo[key] = self._find(name, unseen) if name else None
        return self._memo[key]

    def _find(self, name: str, unseen: bool) -> KindMatch | None:
        plain = _singular_phrase(name)
        names = {n: k for n, k in _BY_NAME.items() if not (unseen and _singular_phrase(n) == plain)}
        by_plain = {_singular_phrase(n): k for n, k in names.items()}
        if plain in by_plain:
            return KindMatch(by_plain[plain], "named")
        head = _head(plain)
        same_head = {n: k for n, k in names.items() if _head(_singular_phrase(n)) == head}
        if same_head:
            # "can" is a drink can, a paint can or a spray can: the closest of them decides.
            if self._embed is None or len({k.name for k in same_head.values()}) == 1:
                votes = Counter(k.name for k in same_head.values())
                return KindMatch(_KIND[votes.most_common(1)[0][0]], f"named by its head noun '{head}'")
            sims = self._similarities(name, same_head)
            best = max(sims, key=sims.get)
            return KindMatch(same_head[best], f"named by its head noun '{head}', closest to '{best}'")
        if self._embed is None:
            return None
        return self._nearest_kind(name, names)

    def _nearest_kind(self, name: str, names: dict[str, ObjectKind]) -> KindMatch | None:
        """The kind whose three closest examples are closest on average, when clearly ahead."""
        by_kind: dict[str, list[float]] = {}
        for n, s in self._similarities(name, names).items():
            by_kind.setdefault(names[n].name, []).append(s)
        scores = sorted(((float(np.mean(sorted(v)[-3:])), k) for k, v in by_kind.items()), reverse=True)
        (best, kind), runner_up = scores[0], scores[1][0] if len(scores) > 1 else -1.0
        if best < SIMILARITY_FLOOR or best - runner_up < SIMILARITY_MARGIN:
            return None
        return KindMatch(_KIND[kind], f"close to the examples of a {kind} ({best:.2f})")

    def _similarities(self, name: str, names: dict[str, ObjectKind]) -> dict[str, float]:
        if self._vectors is None:
            self._vectors = np.asarray(self._embed([f"a {n}" for n in self._names]))
        q = np.asarray(self._embed([f"a {name}"]))[0]
        sims = self._vectors @ q
        return {n: float(sims[i]) for i, n in enumerate(self._names) if n in names}
