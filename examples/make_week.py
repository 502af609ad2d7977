#!/usr/bin/env python3
"""Writes examples/week.ndjson: a week of Acme's inbound leads (Mon 2026-11-23 09:00 Berlin, the roster's `as_of`, to
the same time a week later),
for `switchboard simulate`. Deterministic (a fixed seed, only random.random()): re-running it
writes the same file. Arrivals follow the working day in Berlin, with an American afternoon
and a thin night and weekend; the mix of regions, intent, fit and sources is Acme's."""
import json, math, random
from datetime import datetime, timedelta, timezone

rng = random.Random(20261123)

def pick(weights):
    r = rng.random() * sum(w for _, w in weights)
    for value, w in weights:
        r -= w
        if r < 0:
            return value
    return weights[-1][0]

def rate(hour_utc, weekday):
    """Leads per hour at this UTC hour: Berlin's working day, New York's, Singapore's morning."""
    weekend = weekday >= 5
    base = 0.6 if weekend else 1.0
    emea = 9 if 8 <= hour_utc < 17 else 0
    amer = 5 if 14 <= hour_utc < 22 else 0
    apac = 3 if 1 <= hour_utc < 9 else 0
    if weekend:
        emea, amer, apac = emea // 4, amer // 4, apac // 4
    return base + emea + amer + apac

start = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)  # the roster's as_of: Mon 09:00 Berlin
leads = []
for hour in range(7 * 24):
    t0 = start + timedelta(hours=hour)
    n = rate(t0.hour, t0.weekday())
    count = int(n) + (1 if rng.random() < n - int(n) else 0)
    for _ in range(count):
        at = t0 + timedelta(seconds=int(rng.random() * 3600))
        region = pick([("emea", 0.6), ("amer", 0.25), ("apac", 0.15)] if 8 <= at.hour < 17 else
                      [("emea", 0.3), ("amer", 0.45), ("apac", 0.25)])
        intent = pick([("low", 0.4), ("medium", 0.35), ("high", 0.25)])
        fit = pick([("weak", 0.55), ("strong", 0.45)])
        employees = int(math.exp(2 + rng.random() * 7))
        deal = int(employees * (20 + rng.random() * 60) // 100 * 100)
        source = pick([("demo_request", 0.18), ("pricing_page", 0.14), ("contact_sales", 0.1),
                       ("webinar", 0.12), ("content_download", 0.16), ("newsletter", 0.12),
                       ("event", 0.08), ("referral", 0.1)])
        country = {"emea": pick([("DE", 4), ("FR", 2), ("GB", 2), ("NL", 1), ("SE", 1)]),
                   "amer": pick([("US", 5), ("CA", 1), ("BR", 1)]),
                   "apac": pick([("SG", 2), ("AU", 2), ("IN", 2), ("JP", 1)])}[region]
        lead = {"intent": intent, "fit": fit, "region": region, "country": country,
                "employees": employees, "deal_value": deal, "source": source}
        if rng.random() < 0.04:
            lead["contact_owner"] = pick([("anna", 1), ("chen", 1), ("dmitri", 1), ("olivia", 1)])
        if rng.random() < 0.03:
            lead["parent_account"] = pick([("The Walt Disney Company", 2), ("Globex", 1)])
        lead["created_at"] = at.astimezone(timezone(timedelta(hours=1))).isoformat()
        leads.append((at, lead))

leads.sort(key=lambda pair: pair[0])
with open("examples/week.ndjson", "w") as out:
    for number, (_, lead) in enumerate(leads, 1):
        out.write(json.dumps({"id": f"W-{number}", **lead}, separators=(",", ":")) + "\n")
print(f"wrote {len(leads)} leads to examples/week.ndjson")
