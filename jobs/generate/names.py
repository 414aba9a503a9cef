"""Names as Indonesia's civil registry holds them, and the ways a survey enumerator writes them down.

Why: record linkage compares names, so a synthetic nation must have names that tell people apart about as
well as real ones do, and field errors like real ones. Indonesians do not share one naming system: many
Javanese carry a single name; Arabic-derived names (Muhammad, Siti, Nur) are common across the Muslim
majority and make a few names very frequent; Batak, Chinese-Indonesian and eastern (Minahasa, NTT,
Maluku, Papua) families pass a family name from father to children; Balinese names carry a birth-order
name (Wayan, Made, Nyoman, Ketut). Each household draws a naming tradition from its province's mix; lists
are ordered from common to rare and drawn with a skew, so the first names of a list are the frequent ones.

The lists are this project's own, compiled from common names of each tradition (no person is meant).
"""

from __future__ import annotations

from jobs.generate.draws import Draws, case, double, pick
from runtime.config import ReportingErrors

# Traditions, in the order of the province mix below.
JAVANESE, SUNDANESE, MALAY, BATAK, BALINESE, CHINESE, EASTERN = range(7)

_JAVANESE_L = (
    "Agus", "Budi", "Slamet", "Eko", "Joko", "Bambang", "Sugeng", "Teguh", "Wahyu", "Hadi", "Supriyadi", "Sutrisno",
    "Heru", "Dwi", "Tri", "Adi", "Bayu", "Yudi", "Purwanto", "Sumarno", "Suparman", "Sukirno", "Wawan", "Darmaji",
    "Gunadi", "Haryanto", "Sugiyono", "Paiman", "Suyono", "Tukiman", "Wagiman", "Mulyono", "Kusnadi", "Sarwono",
    "Triyono", "Widodo", "Sriyanto", "Waluyo", "Parjo", "Karno", "Yanto", "Ponimin", "Rahmat", "Aris", "Dimas",
    "Galih", "Anang", "Bagus", "Catur", "Darsono",
)
_JAVANESE_P = (
    "Sri", "Endang", "Tri", "Dwi", "Sumiati", "Suwarni", "Wartini", "Lestari", "Sulastri", "Sutini",
    "Kasmini", "Rahayu", "Ngatini", "Suparmi", "Tumini", "Yuliani", "Wahyuni", "Puji", "Ani", "Dewi", "Ratna",
    "Winarsih", "Sumarni", "Parmi", "Sukarti", "Setyowati", "Kartini", "Rini", "Indah", "Murni", "Painem",
    "Sarmi", "Wiwik", "Yanti", "Astuti", "Listyaningsih", "Handayani", "Retno", "Widya",
)
_JAVANESE_SECOND = ((
    "Santoso", "Susanto", "Wibowo", "Prasetyo", "Setiawan", "Nugroho", "Purnomo", "Hartono", "Utomo", "Suprapto",
    "Wahyudi", "Kurniawan", "Hidayat", "Saputro", "Budiarto", "Cahyono", "Raharjo", "Sudarsono", "Riyanto",
    "Wijayanto",
), (
    "Lestari", "Rahayu", "Wulandari", "Astuti", "Handayani", "Susilowati", "Purwaningsih", "Rahmawati",
    "Kusumawati", "Sulistyowati", "Ningsih", "Utami", "Wahyuningsih", "Setyaningsih", "Suryani",
))
_SUNDANESE_L = (
    "Asep", "Ujang", "Dadang", "Cecep", "Iwan", "Deden", "Dede", "Yayan", "Ade", "Agus", "Jajang", "Ayi",
    "Ahmad", "Dodi", "Engkos", "Endang", "Hendra", "Iman", "Kurnia", "Maman", "Nandang", "Rudi", "Tatang",
    "Ujang", "Wawan", "Yusuf", "Dadan", "Aep", "Ruhiyat", "Cahya",
)
_SUNDANESE_P = (
    "Euis", "Neng", "Imas", "Cucu", "Nining", "Lilis", "Yeni", "Elis", "Enok", "Tati", "Eneng",
    "Iis", "Nenden", "Popon", "Rina", "Yuyun", "Dedeh", "Entin", "Ai", "Titin", "Nia", "Wida",
)
_SUNDANESE_SECOND = ((
    "Saepudin", "Suherman", "Sudrajat", "Hidayat", "Supriatna", "Sopian", "Rohman", "Kusnadi", "Mulyana",
    "Permana", "Suryana", "Gunawan", "Setiawan", "Firmansyah", "Rusmana",
), (
    "Komalasari", "Nurhasanah", "Rosmiati", "Kurniasih", "Juariah", "Nurjanah", "Mulyani", "Herawati", "Sumiati",
    "Rahmawati", "Kartika", "Lestari",
))
_MALAY_L = (
    "Ahmad", "Rizki", "Abdul", "Hasan", "Syahrul", "Ridwan", "Fauzi", "Zulkifli", "Hendra", "Irwan", "Husin",
    "Ismail", "Arif", "Fadli", "Junaidi", "Khairul", "Mahmud", "Nasir", "Rahmat", "Syaiful", "Taufik", "Yusuf",
    "Zainal", "Bakri", "Amir", "Ilham", "Hamdan", "Rusli", "Sulaiman", "Firman", "Andi", "Anwar", "Herman",
    "Jamal", "Lukman", "Safrizal", "Iskandar", "Darwis", "Usman", "Hamzah",
)
_MALAY_P = (
    "Nurul", "Fatimah", "Aisyah", "Nurhayati", "Rahmawati", "Zainab", "Khadijah", "Nurjannah", "Rosmawati",
    "Maryam", "Halimah", "Asmah", "Dahlia", "Erna", "Fitri", "Hasnah", "Juliana", "Kamariah", "Lina", "Mardiana",
    "Nurlela", "Rohani", "Salmah", "Suryani", "Wahidah", "Yusnidar", "Zubaidah", "Ratna", "Rosnani", "Asni",
)
_MALAY_SECOND = ((
    "Saputra", "Syahputra", "Hidayat", "Rahman", "Hakim", "Ramadhan", "Fadillah", "Syahrial", "Putra", "Akbar",
    "Maulana", "Kurniawan", "Hasibuan", "Pohan", "Daulay", "Tanjung", "Effendi", "Yusuf", "Nasution", "Syam",
), (
    "Wati", "Sari", "Yanti", "Susanti", "Ningsih", "Rahmah", "Fitriani", "Hasanah", "Mulyani", "Safitri",
    "Daulay", "Tanjung", "Hasibuan", "Nasution", "Putri",
))
_BATAK_L = (
    "Togar", "Parulian", "Hotman", "Sahat", "Marulak", "Daniel", "Roy", "Jhon", "Martin", "Poltak", "Binsar",
    "Tigor", "Bonar", "Horas", "Saut", "Manahan", "Jonni", "Robert", "Henri", "Lamhot", "Marihot", "Sudung",
    "Rinaldi", "Ferdinand", "Benny",
)
_BATAK_P = (
    "Rosmawati", "Tiurma", "Lamtiur", "Romauli", "Maria", "Nurmala", "Dameria", "Rotua", "Sondang", "Tiominar",
    "Lasma", "Hotmauli", "Rugun", "Ruth", "Lenny", "Erni", "Juliana", "Nelly", "Rosita", "Masniari",
)
_BATAK_FAMILY = (
    "Siregar", "Nasution", "Harahap", "Lubis", "Simanjuntak", "Sinaga", "Manurung", "Hutapea", "Sitompul",
    "Panjaitan", "Simatupang", "Pardede", "Silalahi", "Tambunan", "Hutagalung", "Situmorang", "Sihombing",
    "Pasaribu", "Napitupulu", "Siahaan", "Sitorus", "Hutabarat", "Marpaung", "Damanik", "Purba", "Saragih",
    "Ginting", "Tarigan", "Sembiring", "Sitepu", "Barus", "Butarbutar", "Gultom", "Hutasoit", "Pakpahan",
)
_BALINESE_ORDER_L = ("Wayan", "Made", "Nyoman", "Ketut")
_BALINESE_ORDER_ALT = ("Putu", "Kadek", "Komang", "Ketut")
_BALINESE_L = (
    "Suardana", "Sudiarta", "Artawan", "Sukarta", "Mertayasa", "Adnyana", "Sujana", "Wirawan", "Darmawan",
    "Budiarta", "Suarjana", "Mudana", "Parwata", "Sudarma", "Widiana", "Astawa", "Sutama", "Agus", "Gede",
    "Suastika",
)
_BALINESE_P = (
    "Sukerti", "Astiti", "Suartini", "Ayu", "Sri", "Wartini", "Sariasih", "Suci", "Kartika", "Widiastuti",
    "Sudiani", "Suarni", "Rai", "Murniati", "Eka", "Purnami", "Yuliani", "Dewi", "Darmini", "Astuti",
)
_CHINESE_L = (
    "Hendra", "Budi", "Sugiarto", "Yohanes", "Andreas", "Steven", "Kevin", "Felix", "Rudy", "Eddy", "Tommy",
    "Hartono", "Sudono", "Wilson", "Jimmy", "Herman", "Albert", "Hengky", "Frans", "Sutanto",
)
_CHINESE_P = (
    "Lili", "Susan", "Meliana", "Yenny", "Lanny", "Fransiska", "Linda", "Mei", "Vivian", "Jessica", "Yuliana",
    "Shinta", "Veronika", "Stefani", "Melinda", "Irene", "Lidya", "Sherly", "Angela", "Elisabeth",
)
_CHINESE_FAMILY = (
    "Tan", "Lim", "Wijaya", "Halim", "Salim", "Gunawan", "Tanoto", "Kurniawan", "Santoso", "Tanjaya", "Hartono",
    "Setiadi", "Lie", "Ong", "Liem", "Goh", "Oei", "Kwee", "Sutanto", "Widjaja", "Tjahjadi", "Hidayat",
    "Chandra", "Tanuwijaya", "Wibisono",
)
_EASTERN_L = (
    "Yohanes", "Petrus", "Paulus", "Markus", "Yakobus", "Fransiskus", "Agustinus", "Yosef", "Stefanus", "Kornelis",
    "Daniel", "Simon", "Matius", "Yulius", "Marthen", "Hendrik", "Obed", "Melkianus", "Yunus", "Benyamin",
)
_EASTERN_P = (
    "Maria", "Magdalena", "Yuliana", "Elisabeth", "Agustina", "Veronika", "Theresia", "Marta", "Yosina",
    "Naomi", "Ester", "Debora", "Sara", "Ribka", "Lusia", "Anastasia", "Margaretha", "Dorkas", "Welmina",
    "Yohana",
)
_EASTERN_FAMILY = (
    "Lado", "Bria", "Tefa", "Manafe", "Nenobais", "Ndun", "Fanggidae", "Rumengan", "Pangemanan", "Sondakh",
    "Lumentut", "Wenas", "Tuhumury", "Pattikawa", "Wenda", "Yikwa", "Kogoya", "Tabuni", "Wonda", "Rumbiak",
    "Mandowen", "Kaunang", "Mamahit", "Tallo", "Seran", "Nahak", "Bere", "Lake", "Leki", "Kapitan",
)

# Arabic-derived prefixes of Muslim traditions: Muhammad for men, Siti or Nur for women.
_MUSLIM = (JAVANESE, SUNDANESE, MALAY)
_MUHAMMAD = {JAVANESE: 0.12, SUNDANESE: 0.15, MALAY: 0.30}
_SITI = {JAVANESE: 0.12, SUNDANESE: 0.12, MALAY: 0.15}
_NUR = {JAVANESE: 0.05, SUNDANESE: 0.06, MALAY: 0.10}
# Share of persons with a single name, where the tradition has no family name.
_SINGLE = {JAVANESE: 0.35, SUNDANESE: 0.15, MALAY: 0.15}

# Province -> shares of the seven traditions (JAVANESE, SUNDANESE, MALAY, BATAK, BALINESE, CHINESE, EASTERN);
# the rest of Indonesia takes _DEFAULT_MIX. Rough shares, for realism only.
_MIX = {
    "11": (0.05, 0, 0.94, 0.01, 0, 0, 0), "12": (0.30, 0, 0.20, 0.42, 0, 0.07, 0.01),
    "13": (0.05, 0, 0.92, 0.02, 0, 0.01, 0), "18": (0.62, 0.08, 0.27, 0, 0.02, 0.01, 0),
    "21": (0.20, 0, 0.55, 0.08, 0, 0.15, 0.02), "31": (0.35, 0.15, 0.30, 0.05, 0.01, 0.10, 0.04),
    "32": (0.10, 0.82, 0.06, 0, 0, 0.02, 0), "33": (0.97, 0, 0.02, 0, 0, 0.01, 0),
    "34": (0.96, 0, 0.02, 0, 0, 0.02, 0), "35": (0.93, 0, 0.05, 0, 0, 0.02, 0),
    "36": (0.15, 0.60, 0.20, 0.01, 0, 0.04, 0), "51": (0.10, 0, 0.03, 0, 0.85, 0.01, 0.01),
    "52": (0.03, 0, 0.94, 0, 0.03, 0, 0), "53": (0.01, 0, 0.08, 0, 0, 0.01, 0.90),
    "61": (0.10, 0, 0.55, 0.02, 0, 0.13, 0.20), "62": (0.25, 0, 0.50, 0.02, 0.01, 0.02, 0.20),
    "71": (0.05, 0, 0.25, 0, 0, 0.02, 0.68), "81": (0.03, 0, 0.50, 0, 0, 0.01, 0.46),
    "82": (0.02, 0, 0.80, 0, 0, 0.01, 0.17), "91": (0.12, 0, 0.18, 0.02, 0, 0.01, 0.67),
    "94": (0.05, 0, 0.07, 0, 0, 0, 0.88),
}
_DEFAULT_MIX = (0.10, 0, 0.84, 0.01, 0, 0.02, 0.03)
for _code in ("92", "95", "96"):
    _MIX[_code] = _MIX["94"]
_MIX["93"] = _MIX["91"]

NAME_SKEW = 2.2  # index = floor(n * u ** NAME_SKEW): the first tenth of a list draws about 35 % of names


def _skewed(r: Draws, salt: str, n: int, *key: str) -> str:
    return f"CAST(floor(pow({r.u(salt, *key)}, {double(NAME_SKEW)}) * {n}) AS INT)"


def _given(r: Draws, male: tuple[str, ...], female: tuple[str, ...], k: tuple[str, ...], salt: str = "given") -> str:
    return (f"CASE WHEN sex = 'L' THEN {pick(male, _skewed(r, salt, len(male), *k))}"
            f" ELSE {pick(female, _skewed(r, salt, len(female), *k))} END")


def tradition(r: Draws) -> str:
    """SQL: the household's naming tradition (0-6) from its province's mix (needs province_code, hh_idx)."""
    u = r.u("tradition", "hh_idx")
    by_province = []
    for code, shares in sorted(_MIX.items()):
        by_province.append((f"province_code = '{code}'", _from_shares(u, shares)))
    return case(by_province, _from_shares(u, _DEFAULT_MIX))


def _from_shares(u: str, shares: tuple[float, ...]) -> str:
    total, lo, pairs = sum(shares), 0.0, []
    for index, share in enumerate(shares[:-1]):
        if share > 0:
            lo += share / total
            pairs.append((f"{u} < {double(lo)}", str(index)))
    return case(pairs, str(len(shares) - 1)) if pairs else str(len(shares) - 1)


def full_name(r: Draws, k: tuple[str, ...]) -> str:
    """SQL: a person's registered name. Needs `name_tradition`, sex, role, member_no and hh_idx; a head's
    children ('kid' role) carry the head's family name where the tradition has one."""
    family_key = "CASE WHEN role IN ('head', 'kid') THEN 0 ELSE member_no END"
    def family(names: tuple[str, ...]) -> str:
        return pick(names, _skewed(r, "family", len(names), "hh_idx", family_key))

    def muslim(t: int, male: tuple[str, ...], female: tuple[str, ...],
               second: tuple[tuple[str, ...], tuple[str, ...]]) -> str:
        u_prefix, u_single = r.u("prefix", *k), r.u("single", *k)
        prefix = (f"CASE WHEN sex = 'L' AND {u_prefix} < {double(_MUHAMMAD[t])} THEN 'Muhammad'"
                  f" WHEN sex = 'P' AND {u_prefix} < {double(_SITI[t])} THEN 'Siti'"
                  f" WHEN sex = 'P' AND {u_prefix} < {double(_SITI[t] + _NUR[t])} THEN 'Nur' END")
        rest = f"CASE WHEN {u_single} < {double(_SINGLE[t])} THEN NULL ELSE {_given(r, *second, k, 'second')} END"
        return f"concat_ws(' ', {prefix}, {_given(r, male, female, k)}, {rest})"

    order = "((member_no - 1) % 4) + 1"
    balinese = (f"concat_ws(' ', CASE WHEN sex = 'L' THEN 'I' ELSE 'Ni' END, "
                f"CASE WHEN {r.u('bali_alt', *k)} < 0.4D THEN element_at(array("
                + ", ".join(f"'{v}'" for v in _BALINESE_ORDER_ALT) + f"), {order}) ELSE element_at(array("
                + ", ".join(f"'{v}'" for v in _BALINESE_ORDER_L) + f"), {order}) END, "
                f"{_given(r, _BALINESE_L, _BALINESE_P, k)})")
    return case([
        (f"name_tradition = {JAVANESE}", muslim(JAVANESE, _JAVANESE_L, _JAVANESE_P, _JAVANESE_SECOND)),
        (f"name_tradition = {SUNDANESE}", muslim(SUNDANESE, _SUNDANESE_L, _SUNDANESE_P, _SUNDANESE_SECOND)),
        (f"name_tradition = {MALAY}", muslim(MALAY, _MALAY_L, _MALAY_P, _MALAY_SECOND)),
        (f"name_tradition = {BATAK}", f"concat_ws(' ', {_given(r, _BATAK_L, _BATAK_P, k)}, {family(_BATAK_FAMILY)})"),
        (f"name_tradition = {BALINESE}", balinese),
        (f"name_tradition = {CHINESE}",
         f"concat_ws(' ', {_given(r, _CHINESE_L, _CHINESE_P, k)}, {family(_CHINESE_FAMILY)})"),
    ], f"concat_ws(' ', {_given(r, _EASTERN_L, _EASTERN_P, k)}, {family(_EASTERN_FAMILY)})")


def given_name(r: Draws, salt_key: str) -> str:
    """SQL: a newborn's given name in the mother's tradition-free form (a Javanese, Sundanese or Malay list by
    a draw keyed on `salt_key`); the update generator adds the mother's last name to it."""
    pairs = ((_JAVANESE_L, _JAVANESE_P), (_SUNDANESE_L, _SUNDANESE_P), (_MALAY_L, _MALAY_P))
    which = r.index("newborn_list", len(pairs), salt_key)
    return case([(f"{which} = {i}", _given(r, m, f, (salt_key,), "newborn")) for i, (m, f) in enumerate(pairs[:-1])],
                _given(r, *pairs[-1], (salt_key,), "newborn"))


# Spelling variants a clerk may write: (pattern, replacement), the first that applies is used.
VARIANTS = (
    (r"\\bNur\\b", "Noor"), (r"\\bSiti\\b", "Sitti"), (r"\\bMuhammad\\b", "Muhamad"), (r"\\bYusuf\\b", "Yusup"),
    (r"\\bAhmad\\b", "Achmad"), (r"\\bJoko\\b", "Djoko"), (r"\\bRahmat\\b", "Rachmat"), (r"\\bSu", "Soe"),
    (r"\\bYohanes\\b", "Johanes"), (r"\\bFitri\\b", "Fitry"), (r"\\bDewi\\b", "Dewie"), (r"\\bHendra\\b", "Hendrah"),
    (r"\\bYuli", "Juli"), (r"\\bSy", "S"), (r"\\bKh", "H"), (r"\\bTj", "C"), (r"dj", "j"), (r"y\\b", "i"),
)
_ABBREVIATIONS = ("M.", "Moh.", "Muh.")
_TYPED = "aeinorstkumlgdh"  # letters a slip of the hand puts in


def reported_name(r: Draws, k: tuple[str, ...], rates: ReportingErrors, name: str = "full_name") -> dict[str, str]:
    """SQL columns: the name as an enumerator writes it (`reported_name`), with the errors of `rates`
    (generate.reporting_errors) drawn independently, each where it applies: Muhammad abbreviated, a spelling
    variant, the last name dropped, one typing error (a letter replaced, dropped, added, or two swapped)."""
    abbrev = pick(_ABBREVIATIONS, r.index("abbrev_form", len(_ABBREVIATIONS), *k))
    n1 = (f"CASE WHEN {name} RLIKE '\\\\bMuhammad\\\\b' AND {r.u('abbrev', *k)} < {double(rates.muhammad_abbreviated)}"
          f" THEN regexp_replace({name}, '\\\\bMuhammad\\\\b', {abbrev}) ELSE {name} END")
    variant = case([(f"_n1 RLIKE '{p}'", f"regexp_replace(_n1, '{p}', '{v}')") for p, v in VARIANTS], "_n1")
    n2 = f"CASE WHEN {r.u('variant', *k)} < {double(rates.name_variant)} THEN {variant} ELSE _n1 END"
    n3 = (f"CASE WHEN {r.u('drop_last', *k)} < {double(rates.second_name_dropped)} AND _n2 RLIKE ' [^ ]+ ?$'"
          f" AND size(split(_n2, ' ')) >= 2 THEN regexp_replace(_n2, ' [^ ]+$', '') ELSE _n2 END")
    pos = f"(2 + {r.index('typo_pos', 'greatest(length(_n3) - 2, 1)', *k)})"  # the capital stays
    ch = f"substr('{_TYPED}', 1 + {r.index('typo_char', len(_TYPED), *k)}, 1)"
    kind = r.index("typo_kind", 4, *k)
    typo = case([
        (f"{kind} = 0", f"concat(substr(_n3, 1, {pos} - 1), {ch}, substr(_n3, {pos} + 1))"),
        (f"{kind} = 1", f"concat(substr(_n3, 1, {pos} - 1), substr(_n3, {pos} + 1))"),
        (f"{kind} = 2", f"concat(substr(_n3, 1, {pos}), {ch}, substr(_n3, {pos} + 1))"),
    ], f"concat(substr(_n3, 1, {pos} - 1), substr(_n3, {pos} + 1, 1), substr(_n3, {pos}, 1), substr(_n3, {pos} + 2))")
    n4 = f"CASE WHEN {r.u('typo', *k)} < {double(rates.name_typo)} AND length(_n3) >= 3 THEN {typo} ELSE _n3 END"
    return {"_n1": n1, "_n2": n2, "_n3": n3, "reported_name": n4}
