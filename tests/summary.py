#!/usr/bin/env python3
"""One plain closing line over every test case of a meson test run: cmocka's own counts (and
pytest's), read from each program's log in meson-logs/testlog.json.
    tests/summary.py BUILD/meson-logs/testlog.json"""
import json, re, sys
passed = failed = skipped = 0
for line in open(sys.argv[1]):
    t = json.loads(line)
    out = t.get("stdout", "") + t.get("stderr", "")
    p = re.findall(r"\[  PASSED  \] (\d+) test", out)
    f = re.findall(r"\[  FAILED  \] (\d+) test", out)
    s = re.findall(r"\[  SKIPPED \] (\d+) test", out)
    # pytest's closing line: "54 passed, 1 failed, 2 skipped in 3.1s"
    py = re.findall(r"^=*\s*(\d+ (?:passed|failed|skipped|error).*) in [\d.]+s", out, re.M)
    if py and not (p or f):
        for n, word in re.findall(r"(\d+) (passed|failed|skipped|error)", py[-1]):
            if word == "passed": passed += int(n)
            elif word == "skipped": skipped += int(n)
            else: failed += int(n)
    elif p or f:
        passed += sum(map(int, p)); failed += sum(map(int, f)); skipped += sum(map(int, s))
    elif t.get("result") == "OK":
        passed += 1
    elif t.get("result") == "SKIP":
        skipped += 1
    else:
        failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
