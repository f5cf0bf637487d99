#!/usr/bin/python3
"""Checks tests/SECURITY-COVERAGE.md, the map of SECURITY.md items CL-01..CL-100 to the tests
that demonstrate them (issue 7, item 4). Run with Debian's /usr/bin/python3 (standard library
only):

    /usr/bin/python3 tests/check-coverage.py [SOURCE_DIR]

SOURCE_DIR is the top of the source tree (default: the parent of this file's directory). The
map is a Markdown table with one row per item whose first cell is the item id ("CL-07"). A row
names tests as `path::name` in backquotes, path relative to SOURCE_DIR; a parametrized id after
the name (`name[case]`) is allowed and ignored. The check fails (exit status 1, one line per
problem on stderr) unless:
  - every item CL-01..CL-100 has exactly one row, and no other item has one;
  - every referenced file exists and defines the test: `def name(` in a Python file,
    `START_TEST(name)` in a C file, or, for a libFuzzer harness under tests/fuzz/, the entry
    point `LLVMFuzzerTestOneInput`;
  - every row names at least one test or gives a reason starting with "not applicable:", or,
    for a feature an open issue delivers, "not built yet:" and the issue.
"""
import os
import re
import sys

FIRST, LAST = 1, 100
ROW = re.compile(r"^\|\s*(CL-\d+)\s*\|")
REF = re.compile(r"`([A-Za-z0-9_./-]+)::([A-Za-z_][A-Za-z0-9_]*)(\[[^`]*\])?`")
NOT_APPLICABLE = re.compile(r"not applicable:\s*\S", re.I)
# an item of a feature an open issue delivers: no test yet, and the map says which issue
NOT_BUILT = re.compile(r"not built yet:\s*\S", re.I)


def defines(text, path, name):
    """Whether the file text defines the test name."""
    if path.endswith(".py"):
        return re.search(r"^\s*(?:async\s+)?def\s+%s\s*\(" % re.escape(name), text, re.M) is not None
    if path.endswith(".c"):
        if re.search(r"\bSTART_TEST\s*\(\s*%s\s*\)" % re.escape(name), text):
            return True
        return (name == "LLVMFuzzerTestOneInput" and path.startswith("tests/fuzz/")
                and re.search(r"\bint\s+LLVMFuzzerTestOneInput\s*\(", text) is not None)
    return False


def check(top, map_path):
    problems = []
    try:
        with open(map_path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        return ["cannot read %s: %s" % (map_path, e.strerror)], 0, 0, 0
    rows = {}
    order = []
    for lineno, line in enumerate(lines, 1):
        m = ROW.match(line)
        if not m:
            continue
        item = m.group(1)
        order.append(item)
        rows.setdefault(item, []).append((lineno, line))

    expected = ["CL-%02d" % i for i in range(FIRST, LAST + 1)]
    for item in expected:
        if item not in rows:
            problems.append("%s: no row for this item" % item)
        elif len(rows[item]) > 1:
            problems.append("%s: %d rows (lines %s), expected exactly one"
                            % (item, len(rows[item]), ", ".join(str(n) for n, _ in rows[item])))
    for item in sorted(set(rows) - set(expected)):
        problems.append("%s (line %d): not an item of SECURITY.md (CL-%02d..CL-%02d)"
                        % (item, rows[item][0][0], FIRST, LAST))
    listed = [i for i in order if i in expected]
    if not problems and listed != expected:
        problems.append("items are not in order CL-%02d..CL-%02d" % (FIRST, LAST))

    cache = {}
    mapped = not_applicable = not_built = refs_total = 0
    for item in expected:
        for lineno, line in rows.get(item, []):
            refs = REF.findall(line)
            na = NOT_APPLICABLE.search(line) is not None
            nb = NOT_BUILT.search(line) is not None
            if not refs and not na and not nb:
                problems.append("%s (line %d): names no test and gives no \"not applicable:\" or \"not built "
                                "yet:\" reason" % (item, lineno))
            if nb and not refs:
                not_built += 1
            elif na:
                not_applicable += 1   # tests it names, if any, pin the decision
            elif refs:
                mapped += 1
            for path, name, _param in refs:
                refs_total += 1
                full = os.path.join(top, path)
                if path not in cache:
                    try:
                        with open(full, encoding="utf-8", errors="replace") as f:
                            cache[path] = f.read()
                    except OSError:
                        cache[path] = None
                if cache[path] is None:
                    problems.append("%s (line %d): %s: no such file" % (item, lineno, path))
                elif not defines(cache[path], path, name):
                    problems.append("%s (line %d): %s defines no test %s" % (item, lineno, path, name))
    return problems, mapped, not_applicable, not_built, refs_total


def main(argv):
    if len(argv) > 2 or (len(argv) == 2 and argv[1] in ("-h", "--help")):
        sys.stderr.write(__doc__)
        return 2
    top = os.path.abspath(argv[1] if len(argv) == 2 else os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    map_path = os.path.join(top, "tests", "SECURITY-COVERAGE.md")
    problems, mapped, na, nb, refs = check(top, map_path)
    if problems:
        sys.stderr.write("check-coverage: %s is not a complete, valid map of CL-%02d..CL-%02d:\n"
                         % (os.path.relpath(map_path), FIRST, LAST))
        for p in problems:
            sys.stderr.write("  %s\n" % p)
        sys.stderr.write("check-coverage: FAILED (%d problem%s)\n" % (len(problems), "" if len(problems) == 1 else "s"))
        return 1
    print("check-coverage: OK: %d items, %d mapped to tests (%d test references, all found), %d not applicable, "
          "%d not built yet" % (LAST - FIRST + 1, mapped, refs, na, nb))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
