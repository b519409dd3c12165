#!/usr/bin/env python3
"""Prints the fediverse-pasture-inputs corpus (funfedi.dev) as JSON: a list of
{"input": NAME, "index": N, "example": {...}}, each example being the properties that input adds to
a Note. Usage: pasture_dump.py DIR, where DIR holds the unpacked wheel (tests/run puts it there).

The package's support-table helpers import fediverse_pasture (the whole test harness, with its
servers); only the examples are needed here, so that one import is stubbed."""
import json
import sys
import types

sys.path.insert(0, sys.argv[1])
for name in ["fediverse_pasture", "fediverse_pasture.runner", "fediverse_pasture.runner.entry"]:
    sys.modules.setdefault(name, types.ModuleType(name))
sys.modules["fediverse_pasture.runner.entry"].Entry = type("Entry", (), {})

from fediverse_pasture_inputs import available  # noqa: E402

out = []
for name, data in sorted(available.items()):
    for i, example in enumerate(data.examples):
        out.append({"input": name, "index": i, "example": example})
json.dump(out, sys.stdout)
