"""English vocabulary of the offline analyzer: affordance descriptions, cue words, part and
object names with their synonyms.

Everything here is general knowledge about grasping household objects and tools, written
once for all categories; the instruction set under stage1/data is not consulted.
"""

from __future__ import annotations

# Several sentences per affordance: the instruction's sentence embedding is compared with
# each, so one affordance is recognised from many ways of asking for it.
AFFORDANCE_DESCRIPTIONS: dict[str, tuple[str, ...]] = {
    "handle-grip": (
        "hold it by the handle to carry or pour",
        "grab the handle and lift it up",
        "pour water or tea out of it, holding the handle",
        "carry it by its handle",
        "grip the handle of the tool to cut, sweep or hammer",
        "hold the tool's handle and swing it",
        "pick it up by the handle",
        "hang it up by its handle",
        "hold the grip with the fingers curled around it",
    ),
    "twist": (
        "unscrew the cap or lid",
        "open or close the lid by twisting it",
        "turn the knob or the tap to switch the water on or off",
        "rotate it to tighten or loosen a screw",
        "twist the top off the container",
        "screw the cap back on",
        "turn it to adjust the setting",
        "take the lid off",
    ),
    "wrap-around-grip": (
        "grab around the body",
        "wrap the whole hand around it",
        "hold the bottle firmly around its middle",
        "grasp the cylinder with all fingers around it",
        "shake it while holding it around the body",
        "hold it in the fist and point it",
        "clasp the side of it",
        "close your hand around the pole",
    ),
    "base-support": (
        "support it from below on the open palm",
        "carry it flat on the hand from underneath",
        "hold it from the bottom so it does not spill",
        "balance it on the palm",
        "it is hot, so hold it from underneath",
        "serve the food in it keeping it level",
        "cradle it in the open hand",
        "put your hand under it and lift it",
    ),
    "trigger-squeeze": (
        "press or squeeze the trigger to spray or drill",
        "spray water or cleaner",
        "pull the trigger",
        "press the pump to dispense soap",
        "drill a hole",
        "squirt some liquid out",
        "press the button with the index finger to start it",
    ),
}

# Cue patterns (regular expressions on normalised English text, word-bounded by the caller)
# and their weights. Tool-use verbs imply a power grip on the tool's handle; opening and
# closing imply twisting a closure; spraying and dispensing imply a trigger or pump.
AFFORDANCE_CUES: dict[str, tuple[tuple[str, float], ...]] = {
    "handle-grip": (
        (r"pour(s|ing|ed)?|pour out|drizzl(e|es|ing)|top (\w+ )?up", 1.0),
        (r"carr(y|ies|ying)", 0.6),
        (r"hang(s|ing)?|lean(s|ing)?", 0.6),
        (r"cut(s|ting)?|slic(e|es|ing)|chop(s|ping)?|saw(ing)?|snip(s|ping)?|trim(s|ming)?", 1.0),
        (r"spread(s|ing)?|scrap(e|ing)|stir(s|ring)?|whisk(ing)?|pry(ing)?|prise|scoop(s|ing)?|ladl(e|ing)", 0.6),
        (r"sweep(s|ing)?|mop(s|ping)?|scrub(s|bing)?|brush(es|ing)?", 1.0),
        (r"hammer(s|ing)?|nail(s)?|strike|hit|knock(s|ing)?", 1.0),
        (r"dig(s|ging)?|shovel(s|ling|ing)?", 1.0),
        (r"flip(s|ping)?|toss(es|ing)?|saute|fry(ing)?|turn(s|ing)? (\w+ ){0,3}over", 0.8),
        (r"drain(s|ing)?", 0.8),
        (r"water(ing)? the|plants?|flowers?|garden|roses|lawn", 0.8),
        (r"drink(s|ing)?|sip|coffee|tea|milk", 0.4),
        (r"swing(s|ing)?", 0.6),
        # A hot vessel is held where it stays cool: its handle (one without gets base-support).
        (r"hot|boiling|scalding", 0.4),
        (r"handles?|grip", 0.3),
    ),
    "twist": (
        (r"unscrew(s|ing)?|screw(s|ing)? (it |the \w+ )?(on|back|shut|tight)|uncap|decap", 1.2),
        (r"twist(s|ing)?|rotat(e|es|ing)|turn(s|ing)?(?! (\w+ ){0,3}over)|spin(s|ning)? (the|it)", 1.0),
        # "it's already open" is a state, not a request
        (r"(?<!already )(?<!is )(?<!'s )open(s|ing)?|clos(e|es|ing)|shut(s|ting)?|seal(s|ing|ed)?", 1.0),
        (r"wind(s|ing)? (\w+ ){0,4}(up|down)", 0.8),
        (r"loosen(s|ing)?|tighten(s|ing)?|snug|clockwise|counterclockwise|anticlockwise", 1.0),
        (r"(close|shut|seal|screw|do) (it |them |the \w+ )?(up |back )?tight(ly)?\b", 0.5),
        (r"(lid|cap|top|cover) off|off the (lid|cap|top|cover)|remove the (lid|cap|top|cover)", 1.0),
        # Water is turned on with a twist; a device is switched on with a press (trigger-squeeze).
        (r"(switch|turn) (the water |the tap )(on|off)|(switch|turn) (on|off) the (water|tap)", 0.8),
        (r"adjust(s|ing)?|focus(es|ing)?|zoom(s|ing)?|dial|temperature|grind(s|ing)?", 0.8),
        # Setting a control to a value: "set it for ten minutes", "set the dial to 3".
        (
            r"set (it|the (?!table)\w+) (for|to) (a |an |the )?(\d|one(?! side)|two|three|four|five|six|seven|eight|nine|ten|"
            r"eleven|twelve|fifteen|twenty|thirty|forty|fifty|sixty|half|low|high|medium|max|min)",
            0.8,
        ),
        (r"screws?|bolts?|crack (it |the \w+ )?open", 0.5),
    ),
    "wrap-around-grip": (
        (r"wrap(s|ping)?|around|round (the|its|it)|encircl(e|ing)|clasp(s|ing)?|fist", 1.0),
        (r"shak(e|es|ing)", 1.0),
        (r"whole hand|all (your |the )?fingers|firmly|tight(ly)? around", 0.6),
        (r"point(s|ing)?|aim(s|ing)?|shin(e|es|ing)|beam|illuminat(e|ing)", 0.6),
        (r"steady|steadies|sides?|middle", 0.4),
    ),
    "base-support": (
        (r"from (below|beneath|underneath|under|the bottom)|underneath|beneath|under (it|them)\b", 1.0),
        (r"palm|flat (hand|on)|open hand|on (your|my|a|the) hand", 1.0),
        (r"cradl(e|ing)|balanc(e|ing)|support(s|ing)?|prop(s|ping)?( it)? up|level", 0.8),
        (r"spill(ing)?", 0.5),
        (r"hot|boiling|scalding", 0.3),
        (r"bottom|base|foot", 0.4),
        (r"serv(e|es|ing)", 0.3),
    ),
    "trigger-squeeze": (
        (r"spray(s|ing|ed)?|spritz|mist(s|ing)?|squirt(s|ing)?|atomi[sz]e", 1.2),
        (r"trigger|pull the (trigger|lever|switch)", 1.2),
        (r"drill(s|ing)?|bore|(make|punch|put) (a |some )?holes?", 1.0),
        (r"holes?", 0.5),  # "dig a hole" is a trowel's
        (r"pump(s|ing)?|dispens(e|es|ing)|plunger|discharg(e|es|ing)", 1.0),
        (r"glu(e|es|ing)|caulk(s|ing)?|shoot(s|ing)?|stapl(e|es|ed|ing)", 0.8),
        (r"press(es|ing)?|squeez(e|es|ing)|push (the|down)|click", 0.6),
        (r"soap|lotion|sanitizer|sanitiser|cleaner|detergent spray", 0.4),
        # Switching a device on is a press where it has a button (a tap's is a twist).
        (r"(switch|turn|power) (it |\w+ )?(on|off)|start (it|the \w+)", 0.6),
    ),
}

# Phrases that say how to hold the object, in so many words: they decide over the object's habits
# (a mug is usually held by its handle, but "wrap your hand around the mug" is not). Weighted
# on top of the cue words above, uncapped; a negated one ("without wrapping") does not count.
EXPLICIT_GRASP: dict[str, tuple[str, ...]] = {
    "wrap-around-grip": (
        r"wrap(s|ping|ped)? (\w+ ){0,3}around",
        r"(hand|hands|fingers|fist|palm) ((?!it\b|them\b|this\b|that\b)\w+ )?around",
        r"around (its|the|it's) (\w+ )?(body|middle|waist|barrel|neck|sides?|belly|outside|can|tube|bottle|glass)",
        r"encircl(e|ing)|clasp(s|ing)?|in (your|a|the) fist",
    ),
    "base-support": (
        r"from (below|beneath|underneath|under|the bottom|the base)",
        r"(hand|hands|palm|palms) (\w+ ){0,2}(under|beneath|underneath)",
        r"underneath|(on|in|with) (your|an|the|one) (open |flat )?(palm|flat hand|open hand)",
        r"palm[- ]up|cradl(e|es|ing)|support (it|them|the \w+|its \w+) (from|on)",
    ),
    "twist": (
        r"twist(s|ing)?|unscrew(s|ing)?|screw(s|ing)? (it |the \w+ )?(on|off|back|shut|tight)",
        r"(turn|rotate|crank|twist|tighten|loosen)(s|ing|ed)? (the|its) (\w+ )?(cap|lid|top|knob|dial|head|cover|nozzle|chuck|valve|wheel|crank|collar|ring|bezel)",
    ),
    "trigger-squeeze": (
        r"(squeeze|pull|press|push|click|pump) (down )?(on )?(the|its) (\w+ )?(trigger|pump|button|lever|nozzle|plunger|switch)",
        r"pull the trigger|squeeze the trigger",
    ),
    "handle-grip": (
        r"by (the|its|their) (\w+ )?(handle|handles|grip|arm|arms|bail|loop)",
        r"(grab|grip|hold|take|grasp|use) (\w+ ){0,2}(the|its) (\w+ )?(handle|handles)\b",
    ),
}

# Verbs that ask to move the object somewhere rather than to use it: the grasp is then one
# for holding it (a handle, else around or under the body), not a functional one.
TRANSPORT_CUES = (
    r"pick (it |them |this |that )?up|pick up|hand (it |them )?(me|over|to)|pass|bring|fetch|deliver",
    r"give (me|it)|move|carry|lift|put (it |them )?(away|down|in|on|into|back)|put|place|set (it )?down",
    r"take (it|this|that|the \w+) (to|upstairs|downstairs|away|off the (stove|burner|heat|fire|hob))",
    r"hang|lean|store|stow|return",
)
USE_CUES = (r"use|operate|work with",)
FUNCTIONAL_AFFORDANCES = ("twist", "trigger-squeeze")

# Part words -> part names they may mean, most likely first; the object's own part names
# decide which one applies (a "lever" is a faucet's handle but a spray bottle's trigger).
PART_WORDS: dict[str, tuple[str, ...]] = {
    "handle": ("handle",),
    "handles": ("handle",),
    "grip": ("handle",),
    "grips": ("handle",),
    "pistol grip": ("handle",),
    "haft": ("handle",),
    "hilt": ("handle",),
    "loop": ("handle",),
    "finger holes": ("handle",),
    "finger loops": ("handle",),
    "rings": ("handle",),
    "strap": ("handle", "headband"),
    "knob": ("handle", "lid"),
    "lever": ("handle", "trigger"),
    "hook": ("handle",),
    "crook": ("handle",),
    "stick": ("handle", "shaft"),
    "broomstick": ("handle",),
    "pole": ("shaft", "handle"),
    "rod": ("shaft", "handle"),
    "stem": ("shaft", "handle"),
    "shaft": ("shaft", "handle"),
    "lid": ("lid", "cap"),
    "cap": ("cap", "lid", "head"),
    "top": ("lid", "cap", "head"),
    "cover": ("lid", "cap"),
    "stopper": ("cap", "lid"),
    "closure": ("cap", "lid"),
    "collar": ("cap", "lid"),
    "screw top": ("cap", "lid"),
    "body": ("body",),
    "side": ("body",),
    "sides": ("body",),
    "middle": ("body",),
    "container": ("body",),
    "barrel": ("body",),
    "belly": ("body",),
    "casing": ("body",),
    "cylinder": ("body",),
    "base": ("base", "body"),
    "bottom": ("base", "body"),
    "foot": ("base", "body"),
    "underside": ("base", "body"),
    "neck": ("neck", "spout"),
    "spout": ("spout",),
    "snout": ("spout",),
    "nozzle": ("nozzle", "spout"),
    "head": ("head",),
    "sprayer": ("head", "trigger"),
    "sprayer head": ("head",),
    "spray head": ("head",),
    "front": ("head",),
    "lens": ("head",),
    "bezel": ("head",),
    "trigger": ("trigger",),
    "switch": ("trigger",),
    "button": ("trigger", "pump"),
    "pump": ("pump",),
    "plunger": ("pump",),
    "pump head": ("pump",),
    "blade": ("blade",),
    "blades": ("blade",),
    "edge": ("blade",),
    "sharp edge": ("blade",),
    "tip": ("blade", "head"),
    "headband": ("headband",),
    "band": ("headband",),
    "arch": ("headband", "handle"),
    "bridge": ("headband",),
    "ear cup": ("earcup",),
    "ear cups": ("earcup",),
    "earcup": ("earcup",),
    "earcups": ("earcup",),
    "ear pad": ("earcup",),
    "earpiece": ("earcup",),
    "speaker": ("earcup",),
    "canopy": ("canopy",),
    "fabric": ("canopy",),
    "cloth": ("canopy",),
    "chuck": ("chuck",),
    "dial": ("dial", "knob", "lid"),
}

# Part words that name a component an object either has or lacks ("its trigger", "the blade"),
# as opposed to places on any object ("the side", "the bottom", "the tip") and words that are
# often something else ("grip" the verb, "the hook" on the wall, "the button" of the light,
# "the head" or "the neck" of a person). Only these, named as the object's own (text.py,
# _OWN_PART), make the analyzer answer PART_NOT_FOUND when the object has no such part.
COMPONENT_WORDS = frozenset(
    "handle handles haft hilt knob lever lid cap stopper spout nozzle pump plunger trigger blade blades "
    "headband earcup earcups shaft canopy chuck".split()
) | frozenset({"pistol grip", "pump head", "spray head", "sprayer head", "screw top", "ear cup", "ear cups", "ear pad"})

# Parts that objects of a table category have although no affordance of the table touches them
# (the procedural generator's part names): they are on the object, so naming one is not an
# error, but no grasp is planned on them.
UNGRASPED_PARTS: dict[str, tuple[str, ...]] = {
    "dispenser": ("nozzle",),
    "faucet": ("base",),
    "kettle": ("spout",),
    "knife": ("blade",),
    "scissors": ("blade",),
    "spray bottle": ("nozzle",),
    "broom": ("head",),
    "hammer": ("head",),
    "screwdriver": ("shaft",),
    "drill": ("chuck",),
    "watering can": ("spout",),
    "teapot": ("spout",),
}

# Which affordances a part of this kind usually affords, for objects outside the table.
GENERIC_PART_AFFORDANCES: dict[str, tuple[str, ...]] = {
    "handle": ("handle-grip", "twist", "wrap-around-grip"),
    "lid": ("twist",),
    "cap": ("twist",),
    "knob": ("twist",),
    "dial": ("twist",),
    "head": ("twist",),
    "body": ("wrap-around-grip", "base-support"),
    "base": ("base-support",),
    "neck": ("wrap-around-grip",),
    "shaft": ("wrap-around-grip",),
    "spout": ("wrap-around-grip",),
    "canopy": ("wrap-around-grip",),
    "earcup": ("wrap-around-grip",),
    "headband": ("handle-grip",),
    "trigger": ("trigger-squeeze",),
    "pump": ("trigger-squeeze",),
    "plunger": ("trigger-squeeze",),
    "chuck": ("twist",),
}

# The part an affordance usually touches when nothing else is known.
DEFAULT_PART = {
    "handle-grip": "handle",
    "twist": "lid",
    "wrap-around-grip": "body",
    "base-support": "body",
    "trigger-squeeze": "trigger",
}

# Object names as people say them -> category of the affordance table.
CATEGORY_WORDS: dict[str, tuple[str, ...]] = {
    "bottle": ("bottle", "water bottle", "wine bottle", "flask"),
    "bowl": ("bowl", "soup bowl", "cereal bowl", "mixing bowl", "basin bowl"),
    "dispenser": ("dispenser", "soap dispenser", "soap pump", "pump bottle", "lotion pump"),
    "headphones": ("headphones", "headphone", "headset", "earphones", "cans"),
    "faucet": ("faucet", "tap", "mixer tap", "spigot"),
    "handle bottle": ("handle bottle", "gallon", "jerrycan", "detergent bottle", "milk bottle"),
    "jar": ("jar", "jam jar", "mason jar", "glass container"),
    "kettle": ("kettle", "electric kettle"),
    "knife": ("knife", "kitchen knife"),
    "mug": ("mug", "cup", "coffee cup", "teacup", "tea cup"),
    "pot": ("pot", "cooking pot", "stockpot", "stock pot"),
    "scissors": ("scissors", "shears"),
    "spray bottle": ("spray bottle", "sprayer", "spray", "mister", "atomizer"),
    "frying pan": ("frying pan", "skillet", "pan", "wok"),
    "saucepan": ("saucepan", "sauce pan", "little pot"),
    "broom": ("broom", "broomstick"),
    "umbrella": ("umbrella", "brolly", "parasol"),
    "suitcase": ("suitcase", "luggage", "case", "trolley case"),
    "hammer": ("hammer", "mallet"),
    "screwdriver": ("screwdriver", "screw driver"),
    "drill": ("drill", "power drill", "cordless drill"),
    "watering can": ("watering can", "can", "watering pot"),
    "teapot": ("teapot", "tea pot"),
    "flashlight": ("flashlight", "torch"),
    "jug": ("jug", "pitcher", "carafe"),
}

# Everyday words the typo corrector must never rewrite even though they are one edit away
# from a vocabulary word ("cold" is not a misspelt "hold").
PROTECTED_WORDS = frozenset(
    "a an the it its this that these those my your our me you i we he she they them to of in on at by "
    "for from with into onto off up out over under and or but not no so if as be is are was do does can "
    "could would should will please cold hold hot told gold bold sold old pan pen pin pot put pat pet tip "
    "top tap tea ten sea see set sit cap cup cut can car bar jar war far for fur our your hour four "
    "hand hands land sand band bend send mind find kind wind bowl bowls howl owl both bath path mug bug "
    "jug rug hug plug hang sang ring wing sing king long song lid kid lip slip trip grip drip "
    "water later wait waiter wash wish fish dish plate place glass grass class brass floor door table "
    "some come home here there where when what which while white whole hole holes pole poles role".split()
)

# Object words that are also everyday words ("can you...", "in case"): they name the object
# only after a determiner ("the can").
AMBIGUOUS_OBJECT_WORDS = frozenset({"can", "case", "tap", "pan", "spray", "cans", "mister", "lamp"})

# Plain words of the cues above and of everyday grasping talk: the typo corrector's targets.
CUE_WORDS = frozenset(
    "pour carry hang lean cut slice chop saw snip trim spread scrape stir whisk pry sweep mop scrub brush hammer "
    "drizzle glue caulk shoot staple scoop grind nail strike hit knock flip toss fry drain serve refill water watering plants flowers garden roses lawn drink "
    "sip coffee tea chai milk juice swing unscrew screw twist rotate turn spin open close shut seal loosen tighten "
    "clockwise adjust focus zoom warmer colder temperature wrap around encircle clasp fist shake firmly point aim "
    "shine light beam steady below beneath underneath under palm flat cradle balance support prop tray waiter "
    "level hot soup spill bottom spray spritz mist squirt trigger drill hole press squeeze push click soap lotion "
    "cleaner pick hand pass bring fetch give move lift put place take store use operate hold grab grasp grip "
    "please mirror window table floor bread paper cheese ribbon string plate glass sink stove burner".split()
)
