"""The synthetic world's fixed facts: dates of the survey round, how villages, enumerators and families are
sized, province welfare.

Why: the numbers several parts of the generator (the village plan, households, persons, appeals, the update)
draw from, in one place; each part's own calibration lives with it.
"""

from __future__ import annotations

import datetime as dt
import math

REFERENCE_DATE = dt.date(2025, 6, 30)  # ages are drawn as of this date; every birth is on or before it
SURVEY_START = dt.datetime(2025, 7, 1)  # interviews start here (UTC) and run for about three months
SURVEY_DAYS = 92
QUESTIONNAIRE_VERSIONS = ("VV2025.1", "VV2025.2")  # .2 from SURVEY_SWITCH_DAY on
SURVEY_SWITCH_DAY = 46
HOUSEHOLDS_PER_VILLAGE = 100
VILLAGES_PER_DISTRICT = 10
ENUMERATORS_PER_SUPERVISOR = 5
INTERVIEWS_PER_DAY = 6
KELURAHAN_WEIGHT = 3.0  # a kelurahan (urban village) holds about three times the people of a desa
CURBSTONER_MIN_HOUSEHOLDS = 20  # a curbstoner's village has at least this many households, where there are such
MIGRANT_SHARE = 0.05  # persons whose NIK was first issued in another province
MISSING_KK_SHARE = 0.02  # survey households that do not report their KK number (allowed, not a defect)
TRAINING_RATE = 0.04  # default mean inclusion probability of the consumption-module sample


# Province welfare effects on log consumption: synthetic, loosely following published provincial
# poverty rates (richer Jakarta, Bali, Kalimantan; poorer NTT, Maluku, Papua).
_POVERTY_PCT = {
    "11": 14.2, "12": 8.0, "13": 5.9, "14": 6.4, "15": 7.3, "16": 11.0, "17": 13.6, "18": 10.6, "19": 4.5,
    "21": 5.4, "31": 4.3, "32": 7.5, "33": 10.5, "34": 10.8, "35": 9.8, "36": 5.8, "51": 4.0, "52": 12.9,
    "53": 19.0, "61": 6.3, "62": 5.1, "63": 4.0, "64": 5.8, "65": 6.2, "71": 7.3, "72": 11.8, "73": 8.1,
    "74": 11.0, "75": 14.6, "76": 11.2, "81": 16.0, "82": 6.3, "91": 19.0, "92": 20.0, "93": 18.0,
    "94": 28.0, "95": 32.0, "96": 18.0,
}
PROVINCE_EFFECT = {code: round(-0.25 * math.log(pct / 9.0), 3) for code, pct in _POVERTY_PCT.items()}

# Households (drawn in `households`; the plan allocates by the expected size, `expected_household_size`):
# latent wealth = WEALTH_PROVINCE * province effect + WEALTH_URBAN * urban + district effect + N(0, 1);
# head, spouse (SPOUSE_SHARE), kids round(KIDS_MEAN + KIDS_WEALTH * wealth + KIDS_SD * N(0, 1), less
# KIDS_NO_SPOUSE without a spouse) in [0, KIDS_MAX], one other (OTHER_SHARE), two elderly parents
# (ELDERLY_TWO) or one (ELDERLY_ONE - ELDERLY_TWO).
WEALTH_PROVINCE, WEALTH_URBAN = 1.5, 0.35
SPOUSE_SHARE, OTHER_SHARE = 0.83, 0.08
KIDS_MEAN, KIDS_WEALTH, KIDS_SD, KIDS_NO_SPOUSE, KIDS_MAX = 1.7, -0.35, 1.1, 0.8, 6
ELDERLY_TWO, ELDERLY_ONE = 0.05, 0.22
