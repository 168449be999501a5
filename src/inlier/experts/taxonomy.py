"""The default skill taxonomy every deployment starts with, and the codes profiles use.

The defaults live in code, not in rows, so every database has them from its first migration
and no deployment can lose them; owners and admins add their own skills as rows (``skills``).
"""

from __future__ import annotations

import re
import zoneinfo
from functools import lru_cache

from inlier.kit.web import humanize

SKILL_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}(\.[A-Za-z0-9][A-Za-z0-9_-]{0,63})*$")
LANGUAGE_TAG = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$")

DEGREES = ("BA/BS", "MA/MS", "PhD", "MD/DO/MBBS", "JD", "other")

_AREAS: dict[str, tuple[str, tuple[str, ...]]] = {
    "medicine": (
        "Medicine",
        (
            "anesthesiology",
            "cardiology",
            "critical_care",
            "dentistry",
            "dermatology",
            "emergency_medicine",
            "endocrinology",
            "family_medicine",
            "gastroenterology",
            "general_surgery",
            "geriatrics",
            "hematology",
            "infectious_disease",
            "internal_medicine",
            "nephrology",
            "neurology",
            "nursing",
            "obstetrics_gynecology",
            "oncology",
            "ophthalmology",
            "orthopedics",
            "otolaryngology",
            "pathology",
            "pediatrics",
            "pharmacology",
            "psychiatry",
            "public_health",
            "pulmonology",
            "radiology",
            "rheumatology",
            "urology",
            "veterinary",
        ),
    ),
    "math": (
        "Mathematics",
        (
            "algebra",
            "analysis",
            "combinatorics",
            "differential_equations",
            "geometry",
            "linear_algebra",
            "logic",
            "number_theory",
            "numerical_analysis",
            "olympiad",
            "probability",
            "statistics",
            "topology",
        ),
    ),
    "physics": (
        "Physics",
        (
            "astrophysics",
            "classical_mechanics",
            "condensed_matter",
            "electromagnetism",
            "nuclear",
            "optics",
            "particle",
            "quantum",
            "relativity",
            "statistical_mechanics",
            "thermodynamics",
        ),
    ),
    "chemistry": (
        "Chemistry",
        (
            "analytical",
            "biochemistry",
            "computational",
            "inorganic",
            "medicinal",
            "organic",
            "physical",
            "polymer",
        ),
    ),
    "biology": (
        "Biology",
        (
            "bioinformatics",
            "botany",
            "cell",
            "ecology",
            "evolution",
            "genetics",
            "genomics",
            "immunology",
            "microbiology",
            "molecular",
            "neuroscience",
            "physiology",
            "zoology",
        ),
    ),
    "law": (
        "Law",
        (
            "constitutional",
            "contracts",
            "corporate",
            "criminal",
            "employment",
            "eu",
            "immigration",
            "intellectual_property",
            "international",
            "litigation",
            "privacy",
            "tax",
            "uk",
            "us",
        ),
    ),
    "finance": (
        "Finance",
        (
            "accounting",
            "audit",
            "banking",
            "corporate_finance",
            "crypto",
            "derivatives",
            "econometrics",
            "insurance",
            "investment",
            "personal_finance",
            "risk",
            "tax",
        ),
    ),
    "code": (
        "Programming",
        (
            "bash",
            "c",
            "cpp",
            "csharp",
            "go",
            "haskell",
            "java",
            "javascript",
            "julia",
            "kotlin",
            "matlab",
            "php",
            "python",
            "r",
            "ruby",
            "rust",
            "scala",
            "sql",
            "swift",
            "typescript",
        ),
    ),
}

_NAMES = {
    "medicine.obstetrics_gynecology": "Obstetrics and gynecology",
    "code.c": "C",
    "code.cpp": "C++",
    "code.csharp": "C#",
    "code.php": "PHP",
    "code.r": "R",
    "code.sql": "SQL",
    "code.javascript": "JavaScript",
    "code.typescript": "TypeScript",
    "law.eu": "EU law",
    "law.uk": "UK law",
    "law.us": "US law",
}

LANGUAGES = {
    "am": "Amharic",
    "ar": "Arabic",
    "bn": "Bengali",
    "cs": "Czech",
    "da": "Danish",
    "de": "German",
    "el": "Greek",
    "en": "English",
    "en-GB": "English (UK)",
    "en-US": "English (US)",
    "es": "Spanish",
    "es-MX": "Spanish (Mexico)",
    "fa": "Persian",
    "fi": "Finnish",
    "fr": "French",
    "ha": "Hausa",
    "he": "Hebrew",
    "hi": "Hindi",
    "hu": "Hungarian",
    "id": "Indonesian",
    "it": "Italian",
    "ja": "Japanese",
    "ko": "Korean",
    "ms": "Malay",
    "nl": "Dutch",
    "no": "Norwegian",
    "pl": "Polish",
    "pt": "Portuguese",
    "pt-BR": "Portuguese (Brazil)",
    "pt-PT": "Portuguese (Portugal)",
    "ro": "Romanian",
    "ru": "Russian",
    "sv": "Swedish",
    "sw": "Swahili",
    "ta": "Tamil",
    "te": "Telugu",
    "th": "Thai",
    "tl": "Tagalog",
    "tr": "Turkish",
    "uk": "Ukrainian",
    "ur": "Urdu",
    "vi": "Vietnamese",
    "yo": "Yoruba",
    "zh": "Chinese",
    "zh-CN": "Chinese (simplified)",
    "zh-TW": "Chinese (traditional)",
}


def _default_taxonomy() -> list[dict[str, str | None]]:
    out: list[dict[str, str | None]] = []
    for area, (title, children) in _AREAS.items():
        out.append({"key": area, "name": title, "parent": None})
        for child in children:
            key = f"{area}.{child}"
            out.append({"key": key, "name": _NAMES.get(key, humanize(child)), "parent": area})
    out.append({"key": "lang", "name": "Languages", "parent": None})
    for tag, name in LANGUAGES.items():
        out.append({"key": f"lang.{tag}", "name": name, "parent": "lang"})
    return sorted(out, key=lambda s: str(s["key"]))


DEFAULT_SKILLS: list[dict[str, str | None]] = _default_taxonomy()
DEFAULT_KEYS = frozenset(str(s["key"]) for s in DEFAULT_SKILLS)

# ISO 3166-1 alpha-2, officially assigned codes.
_COUNTRY_CODES = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ
    BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO
    DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU
    GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW
    KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU
    MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW
    PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF
    TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA
    ZM ZW"""
COUNTRIES = frozenset(_COUNTRY_CODES.split())


@lru_cache(maxsize=1)
def timezones() -> frozenset[str]:
    """IANA time zone names this machine knows."""
    return frozenset(zoneinfo.available_timezones())
