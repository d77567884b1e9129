"""The synthetic data: a date written out in English -> its ISO form (YYYY-MM-DD).

Six sentence forms, chosen uniformly (day 21, month 3, year 2024 shown):

    twenty-first of march 2024          the twenty-first of march, 2024
    march 21st 2024                     march twenty-first, 2024
    21 march 2024                       21st of march 2024

Years run from 1900 to 2099 and are digits, except that a year from 2000 on is written in
words ("two thousand twenty-four", "two thousand five", "two thousand") a quarter of the time.
Days are valid for the month and year (leap years included).
"""

import datetime

MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december"]
ONES = ["", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
        "eighteen", "nineteen"]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
ORD_ONES = ["", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
            "ninth", "tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth",
            "sixteenth", "seventeenth", "eighteenth", "nineteenth"]
ORD_TENS = {2: "twentieth", 3: "thirtieth"}


def cardinal(n):  # 1..99
    if n < 20:
        return ONES[n]
    t, o = divmod(n, 10)
    return TENS[t] + ("-" + ONES[o] if o else "")


def ordinal_words(n):  # 1..31
    if n < 20:
        return ORD_ONES[n]
    t, o = divmod(n, 10)
    return ORD_TENS[t] if o == 0 else TENS[t] + "-" + ORD_ONES[o]


def ordinal_digits(n):
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return "%d%s" % (n, suffix)


def year_text(y, rng):
    if y >= 2000 and rng.random() < 0.25:
        return "two thousand" + (" " + cardinal(y - 2000) if y > 2000 else "")
    return str(y)


FORMS = [
    lambda d, m, y: "%s of %s %s" % (ordinal_words(d), m, y),
    lambda d, m, y: "the %s of %s, %s" % (ordinal_words(d), m, y),
    lambda d, m, y: "%s %s %s" % (m, ordinal_digits(d), y),
    lambda d, m, y: "%s %s, %s" % (m, ordinal_words(d), y),
    lambda d, m, y: "%d %s %s" % (d, m, y),
    lambda d, m, y: "%s of %s %s" % (ordinal_digits(d), m, y),
]


def sample(rng):
    """One (sentence, iso) pair drawn with `rng` (a random.Random)."""
    start = datetime.date(1900, 1, 1).toordinal()
    end = datetime.date(2099, 12, 31).toordinal()
    date = datetime.date.fromordinal(rng.randint(start, end))
    form = rng.choice(FORMS)
    text = form(date.day, MONTHS[date.month - 1], year_text(date.year, rng))
    return text, date.isoformat()


def heldout_set(rng, n, exclude=()):
    """n distinct pairs, none of whose sentences is in `exclude`."""
    seen, out = set(exclude), []
    while len(out) < n:
        s, iso = sample(rng)
        if s not in seen:
            seen.add(s)
            out.append((s, iso))
    return out
