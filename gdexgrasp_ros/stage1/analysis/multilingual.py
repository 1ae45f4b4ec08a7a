"""Small keyword lexicons that gloss German, French, Spanish and Chinese instructions into
English keywords.

The offline sentence model (all-MiniLM-L6-v2) is English-only, so a non-English instruction
is first reduced to the English words the analyzer understands ("Öffne bitte die Flasche" ->
"open bottle"). The lexicons cover general grasping vocabulary (verbs of using and moving
things, part names, household objects and tools), not particular sentences. European
entries are word stems matched at the start of a word, so inflections match ("öffne",
"öffnen"); the longest matching stem wins ("schraubenzieher" before "schraub"). Chinese has
no spaces: its entries are matched as substrings, longest first.
"""

from __future__ import annotations

import re
import unicodedata

GERMAN = {
    # verbs
    "öffn": "open", "oeffn": "open", "aufmach": "open", "schließ": "close", "schliess": "close", "zumach": "close",
    "schraub": "twist screw", "abschraub": "unscrew", "aufschraub": "unscrew", "zuschraub": "screw tight",
    "dreh": "turn twist", "zieh": "pull", "fest": "tight", "lös": "loosen", "löse": "loosen", "loes": "loosen",
    "gieß": "pour", "giess": "pour", "schenk": "pour", "einschenk": "pour", "ausschenk": "pour",
    "trag": "carry", "hebe": "lift", "heb": "lift", "hebt": "lift", "nimm": "take", "nehm": "take", "gib": "give", "reich": "hand me",
    "bring": "bring", "halt": "hold", "festhalt": "hold firmly", "greif": "grab", "pack": "grab", "fass": "grab",
    "umfass": "wrap around", "umgreif": "wrap around", "umschließ": "wrap around", "stütz": "support",
    "stuetz": "support", "balancier": "balance", "schüttel": "shake", "schuettel": "shake",
    "sprüh": "spray", "sprueh": "spray", "drück": "press", "drueck": "press", "pump": "pump",
    "bohr": "drill", "schneid": "cut", "schnipp": "snip", "kehr": "sweep", "fege": "sweep", "feg": "sweep",
    "schlag": "hammer strike", "häng": "hang", "haeng": "hang", "leucht": "shine light", "richt": "point",
    "stell": "put", "lege": "put", "leg": "put", "beweg": "move", "hol": "fetch", "servier": "serve", "wende": "flip",
    "gieße": "pour", "benutz": "use", "verwend": "use",
    # parts and places on an object
    "griff": "handle", "henkel": "handle", "stiel": "handle", "bügel": "headband", "buegel": "headband",
    "kopfbügel": "headband", "deckel": "lid", "kappe": "cap", "verschluss": "cap", "körper": "body",
    "koerper": "body", "bauch": "body", "seite": "side", "hals": "neck", "abzug": "trigger",
    "auslöser": "trigger", "hebel": "lever", "pumpe": "pump", "tülle": "spout", "ausguss": "spout",
    "auslauf": "spout", "klinge": "blade", "schneide": "blade", "kopf": "head", "ohrmuschel": "earcup",
    "schaft": "shaft", "stange": "pole", "boden": "bottom", "unten": "below", "unterseite": "underside",
    "handfläche": "palm", "handflaeche": "palm", "flach": "flat",
    # objects
    "flasche": "bottle", "schüssel": "bowl", "schuessel": "bowl", "schale": "bowl", "spender": "dispenser",
    "seifenspender": "soap dispenser", "kopfhörer": "headphones", "kopfhoerer": "headphones",
    "wasserhahn": "faucet", "hahn": "tap", "glas": "jar", "einmachglas": "jar", "wasserkocher": "kettle",
    "messer": "knife", "tasse": "mug", "becher": "mug", "topf": "pot", "kochtopf": "pot",
    "stieltopf": "saucepan", "schere": "scissors", "sprühflasche": "spray bottle", "spruehflasche": "spray bottle",
    "pfanne": "frying pan", "bratpfanne": "frying pan", "besen": "broom", "schirm": "umbrella",
    "regenschirm": "umbrella", "koffer": "suitcase", "hammer": "hammer", "schraubenzieher": "screwdriver",
    "schraubendreher": "screwdriver", "bohrmaschine": "drill", "bohrer": "drill", "gießkanne": "watering can",
    "giesskanne": "watering can", "teekanne": "teapot", "kanne": "jug", "krug": "jug",
    "taschenlampe": "flashlight", "schraube": "screw", "nagel": "nail", "loch": "hole", "wand": "wall",
    # context
    "heiß": "hot", "heiss": "hot", "wasser": "water", "tee": "tea", "kaffee": "coffee", "blumen": "flowers",
    "pflanzen": "plants", "brot": "bread",
}  # fmt: skip

FRENCH = {
    # verbs
    "ouvr": "open", "ferm": "close", "dévis": "unscrew", "devis": "unscrew", "viss": "screw tight",
    "revis": "screw tight", "tourn": "turn twist", "retourn": "flip", "vers": "pour", "sers": "serve pour",
    "servir": "serve pour", "port": "carry", "soulèv": "lift", "soulev": "lift", "lève": "lift", "prend": "take",
    "tiens": "hold", "tenir": "hold", "tient": "hold", "attrap": "grab", "saisi": "grab", "empoign": "grab",
    "donne": "give", "passe": "pass", "apporte": "bring", "coup": "cut", "tranch": "slice", "vaporis": "spray",
    "pulvéris": "spray", "pulveris": "spray", "asperg": "spray", "appui": "press", "press": "press",
    "appuie": "press", "arros": "water the plants", "balay": "sweep", "frapp": "strike hammer", "cloue": "hammer nail",
    "perce": "drill", "percer": "drill", "éclair": "shine light", "eclair": "shine light", "secou": "shake",
    "entour": "wrap around", "soutien": "support", "souten": "support", "accroch": "hang", "pose": "put", "posez": "put",
    "déplac": "move", "deplac": "move", "utilis": "use", "serr": "tighten", "desserr": "loosen",
    # parts and places
    "poignée": "handle", "poignee": "handle", "manche": "handle", "anse": "handle", "arceau": "headband",
    "couvercle": "lid", "bouchon": "cap", "capuchon": "cap", "corps": "body", "gâchette": "trigger",
    "gachette": "trigger", "détente": "trigger", "pompe": "pump", "bec": "spout", "lame": "blade",
    "tête": "head", "tete": "head", "tige": "shaft", "toile": "canopy", "goulot": "neck", "col": "neck",
    "oreillette": "earcup", "écouteur": "earcup", "dessous": "underneath", "fond": "bottom", "paume": "palm",
    "côté": "side", "cote": "side",
    # objects
    "bouteille": "bottle", "bol": "bowl", "saladier": "bowl", "distributeur": "dispenser", "casque": "headphones",
    "robinet": "faucet", "bocal": "jar", "bouilloire": "kettle", "couteau": "knife", "tasse": "mug",
    "marmite": "pot", "faitout": "pot", "casserole": "saucepan", "ciseaux": "scissors",
    "vaporisateur": "spray bottle", "pulvérisateur": "spray bottle", "poêle": "frying pan", "poele": "frying pan",
    "balai": "broom", "parapluie": "umbrella", "valise": "suitcase", "marteau": "hammer", "tournevis": "screwdriver",
    "perceuse": "drill", "arrosoir": "watering can", "théière": "teapot", "theiere": "teapot",
    "torche": "flashlight", "carafe": "jug", "cruche": "jug", "pichet": "jug",
    # context
    "chaud": "hot", "eau": "water", "thé": "tea", "café": "coffee", "fleurs": "flowers", "plantes": "plants",
    "pain": "bread", "clou": "nail", "vis": "screw", "trou": "hole", "mur": "wall", "jus": "juice",
    "crêpe": "pancake", "omelette": "omelette",
}  # fmt: skip

SPANISH = {
    # verbs
    "abre": "open", "abri": "open", "abra": "open", "ábr": "open", "cierr": "close", "cerr": "close", "desenrosc": "unscrew", "enrosc": "screw tight",
    "gira": "turn twist", "gire": "turn twist", "vierte": "pour", "vert": "pour", "sirv": "pour serve", "servir": "pour serve",
    "echa": "pour", "llev": "carry", "levant": "lift", "agarr": "grab", "sujet": "hold", "sosten": "hold",
    "sostén": "hold", "toma": "take", "coge": "take", "pasa": "pass", "pása": "pass", "dame": "give me",
    "trae": "bring", "presion": "press", "apriet": "squeeze", "aprieta": "squeeze", "roci": "spray",
    "rocía": "spray", "pulveriz": "spray", "cort": "cut", "barr": "sweep", "clav": "hammer nail",
    "martill": "hammer", "taladr": "drill", "perfor": "drill", "rieg": "water the plants", "ilumin": "shine light",
    "alumbr": "shine light", "quit": "remove take off", "sacud": "shake", "agit": "shake", "rodea": "wrap around",
    "envuelv": "wrap around", "apoy": "support", "sost": "hold", "cuelg": "hang", "mueve": "move",
    "usa": "use", "usar": "use", "aprietes": "squeeze", "apret": "tighten", "afloj": "loosen", "enfoc": "focus",
    # parts and places
    "asa": "handle", "mango": "handle", "manija": "handle", "empuñadura": "handle", "tapa": "lid", "tapón": "cap",
    "tapon": "cap", "cuerpo": "body", "gatillo": "trigger", "bomba": "pump", "pico": "spout",
    "boquilla": "nozzle", "hoja": "blade", "cabeza": "head", "cuello": "neck", "diadema": "headband",
    "auricular": "earcup", "varilla": "shaft", "eje": "shaft", "tela": "canopy", "debajo": "underneath",
    "abajo": "below", "fondo": "bottom", "base": "base", "palma": "palm", "lado": "side",
    # objects
    "botella": "bottle", "cuenco": "bowl", "tazón": "bowl", "bol": "bowl", "dispensador": "dispenser",
    "dosificador": "dispenser", "auriculares": "headphones", "cascos": "headphones", "grifo": "faucet",
    "frasco": "jar", "tarro": "jar", "hervidor": "kettle", "tetera": "teapot", "cuchillo": "knife", "taza": "mug",
    "olla": "pot", "tijeras": "scissors", "pulverizador": "spray bottle", "atomizador": "spray bottle",
    "rociador": "spray bottle", "sartén": "frying pan", "sarten": "frying pan", "cazo": "saucepan",
    "cacerola": "saucepan", "escoba": "broom", "paraguas": "umbrella", "maleta": "suitcase",
    "martillo": "hammer", "destornillador": "screwdriver", "taladro": "drill", "regadera": "watering can",
    "linterna": "flashlight", "jarra": "jug", "garrafa": "gallon",
    # context
    "caliente": "hot", "agua": "water", "té": "tea", "café": "coffee", "plantas": "plants", "flores": "flowers",
    "suelo": "floor", "papel": "paper", "clavo": "nail", "tornillo": "screw", "agujero": "hole",
    "pared": "wall", "pan": "bread", "jabón": "soap", "jabon": "soap",
}  # fmt: skip

# Multi-word expressions, matched before single words.
PHRASES = {
    "de": {"von unten": "from below", "von der seite": "around the side"},
    "fr": {"par le dessous": "from below", "par en dessous": "from below", "lampe torche": "flashlight",
           "lampe de poche": "flashlight", "en dessous": "underneath"},
    "es": {"por debajo": "from below", "tetera eléctrica": "kettle", "tetera electrica": "kettle",
           "desde abajo": "from below"},
}  # fmt: skip

CHINESE = {
    # verbs
    "拧开": "unscrew open", "拧紧": "tighten screw", "拧": "twist", "旋开": "unscrew open", "旋": "turn twist",
    "转动": "turn rotate", "打开": "open", "开": "open", "关上": "close", "关掉": "turn off", "关": "close",
    "盖上": "close lid", "掀开": "lift off lid open", "倒": "pour", "浇": "water the plants", "提": "carry lift",
    "拿起": "pick up", "拿": "take", "端": "carry level", "托": "support from below palm",
    "捧": "cradle in open hands", "握住": "hold tightly", "握": "hold", "抓住": "grab", "抓": "grab",
    "喷": "spray", "按": "press", "挤": "squeeze", "扣动": "pull the trigger", "切": "cut", "剪": "cut",
    "扫": "sweep", "钉": "hammer nail", "敲": "strike hammer", "钻": "drill", "照": "shine light", "挂": "hang",
    "递给": "hand me", "给我": "give me", "搬": "carry move", "移": "move", "摇": "shake", "撑": "hold up",
    "放": "put", "用": "use", "松开": "loosen", "调": "adjust",
    # parts and places
    "把手": "handle", "手柄": "handle", "提手": "handle", "柄": "handle", "盖子": "lid", "盖": "lid",
    "瓶盖": "cap", "锅盖": "lid", "壶盖": "lid", "杯身": "body", "瓶身": "body", "壶身": "body", "身": "body",
    "底部": "bottom", "底": "bottom", "下面": "underneath", "扳机": "trigger", "按压泵": "pump", "泵": "pump",
    "壶嘴": "spout", "嘴": "spout", "刀刃": "blade", "刀片": "blade", "头梁": "headband", "头带": "headband",
    "耳罩": "earcup", "伞柄": "handle", "伞面": "canopy", "伞杆": "shaft", "瓶颈": "neck", "瓶口": "neck",
    "手掌": "palm", "头": "head",
    # objects
    "瓶子": "bottle", "瓶": "bottle", "碗": "bowl", "洗手液": "soap dispenser", "皂液器": "dispenser",
    "耳机": "headphones", "水龙头": "faucet", "水壶": "kettle", "电水壶": "kettle", "罐子": "jar", "罐": "jar",
    "刀": "knife", "杯子": "mug", "杯": "mug", "锅": "pot", "汤锅": "pot", "剪刀": "scissors",
    "喷壶": "spray bottle", "喷雾瓶": "spray bottle", "平底锅": "frying pan", "煎锅": "frying pan",
    "奶锅": "saucepan", "扫帚": "broom", "伞": "umbrella", "雨伞": "umbrella", "行李箱": "suitcase",
    "箱子": "suitcase", "锤子": "hammer", "螺丝刀": "screwdriver", "电钻": "drill", "洒水壶": "watering can",
    "浇水壶": "watering can", "茶壶": "teapot", "手电筒": "flashlight", "水罐": "jug", "壶": "jug",
    # context
    "热": "hot", "烫": "hot", "水": "water", "茶": "tea", "花": "flowers", "纸": "paper", "地": "floor",
    "螺丝": "screw", "孔": "hole", "洞": "hole", "钉子": "nail", "菜": "vegetables", "桌子": "table",
}  # fmt: skip

LEXICONS = {"de": GERMAN, "fr": FRENCH, "es": SPANISH}

# Function words that identify a language (the closed-class words every sentence has).
FUNCTION_WORDS = {
    "en": set("the a an to of with by and please it this that my me you your for from on in is its".split()),
    "de": set("der die das den dem des ein eine einen einem mit bitte und vom zum zur aus von auf ab zu ist mir am".split()),
    "fr": set("le la les l du des de un une avec par sur dans jusqu au aux et moi s'il plaît".split()),
    "es": set("el la los las del un una con por para sobre al y favor me lo".split()),
}  # fmt: skip
# Chinese characters every sentence has (grammar, pronouns, measure words): recognised as
# Chinese, never glossed.
CHINESE_FUNCTION_CHARS = frozenset(
    "把将到上下里中一个只些这那哪的地得了着过给我你您他她它们请帮在和与跟吗呢吧啊就再从向往被让要想能可以是有不没很"
)
ACCENT_HINTS = {"de": "äöüß", "fr": "èêàùçœâîôû", "es": "ñáíóú¿¡"}

_CJK = re.compile(r"[\u3400-\u9fff]")
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?", re.UNICODE)


def _fold(text: str) -> str:
    return unicodedata.normalize("NFC", text).lower().replace("’", "'")


def detect_language(text: str) -> str:
    """'zh', 'de', 'fr', 'es' or 'en' (the default), from script, function words and accents."""
    if _CJK.search(text):
        return "zh"
    folded = _fold(text)
    words = [w.split("'")[-1] for w in _WORD.findall(folded)]
    scores = {lang: sum(w in fw for w in words) for lang, fw in FUNCTION_WORDS.items()}
    for lang, chars in ACCENT_HINTS.items():
        scores[lang] += 1.5 * sum(folded.count(c) for c in chars)
    hits = {lang: sum(_lookup(w, lexicon) is not None for w in words) for lang, lexicon in LEXICONS.items()}
    for lang, n in hits.items():
        scores[lang] += 0.5 * n
    best = max(scores, key=lambda k: (scores[k], k == "en"))
    # English wins ties, and a foreign language needs at least one word its lexicon knows
    # (else there is nothing to gloss): "pour tea" is English.
    return best if best != "en" and scores[best] > scores["en"] and hits[best] else "en"


_FOREIGN_FUNCTION_WORDS = frozenset().union(*(w for lang, w in FUNCTION_WORDS.items() if lang != "en"))


def known_word(word: str) -> bool:
    """Whether a lower-case word is a German, French or Spanish function word or lexicon entry."""
    return word in _FOREIGN_FUNCTION_WORDS or any(_lookup(word, lex) is not None for lex in LEXICONS.values())


def _lookup(word: str, lexicon: dict[str, str]) -> str | None:
    """The gloss of the longest stem that starts the word (stems of <= 3 letters match exactly)."""
    for end in range(len(word), 1, -1):
        stem = word[:end]
        if stem in lexicon and (end == len(word) or end > 3):
            return lexicon[stem]
    return None


def _gloss_chinese(text: str) -> list[str]:
    keys = sorted(CHINESE, key=len, reverse=True)
    glosses, i = [], 0
    while i < len(text):
        for key in keys:
            if text.startswith(key, i):
                glosses.append(CHINESE[key])
                i += len(key)
                break
        else:
            i += 1
    return glosses


def gloss(text: str, language: str) -> str:
    """English keywords for an instruction in `language` ("" when nothing is recognised)."""
    if language == "zh":
        return " ".join(_gloss_chinese(text))
    lexicon = LEXICONS.get(language)
    if lexicon is None:
        return text
    folded = _fold(text)
    found: list[tuple[int, str]] = []
    for phrase, english in PHRASES.get(language, {}).items():
        for m in re.finditer(r"\b" + re.escape(phrase) + r"\b", folded):
            found.append((m.start(), english))
            folded = folded[: m.start()] + " " * (m.end() - m.start()) + folded[m.end() :]
    for m in _WORD.finditer(folded):
        word = m.group().split("'")[-1]  # l'arceau -> arceau
        english = _lookup(word, lexicon)
        if english is not None:
            found.append((m.start(), english))
    return " ".join(english for _, english in sorted(found))
