#!/usr/bin/python3
"""Draws the httpd glue of mod_claims (mod_claims*.c, mod_claims*.h) as files and the calls
between them, and fails when they form a circle: no glue file may call into one that calls it
back (issue 13, ARCHITECTURE.md section 1). Standard library only:

    /usr/bin/python3 tests/check-glue-deps.py [SOURCE_DIR] [--dot]

An edge A -> B means: A uses a function or a variable that B defines (an `mc_*` symbol with
external linkage defined in B.c, or a `static inline` one defined in B.h), or A includes B's
header. Symbols of mod_claims_private.h belong to no file (every file may use them). The
output lists each file with its lines and the files it uses; --dot prints Graphviz instead.
Exit status 1 (one line per problem on stderr) on a circle.
"""
import os
import re
import sys

DEF = re.compile(r"^(?!static\b)[A-Za-z_][\w \*]*?\b(mc_\w+)\s*\([^;]*$", re.M)
VAR = re.compile(r"^(?!static\b)(?:const\s+)?[A-Za-z_][\w \*]*?\b(mc_\w+)\s*(?:\[\])?\s*=", re.M)
INLINE = re.compile(r"^static\s+inline\s+[\w \*]+?\b(mc_\w+)\s*\(", re.M)
INCLUDE = re.compile(r'^#include\s+"(mod_claims\w*)\.h"', re.M)
COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
STRING = re.compile(r'"(?:\\.|[^"\\])*"')


def strip(text):
    return STRING.sub('""', COMMENT.sub(" ", text))


def unit_of(name):
    return name[:-2] if name.endswith((".c", ".h")) else name


def read_glue(top):
    files = {}
    for fn in sorted(os.listdir(top)):
        if fn.startswith("mod_claims") and fn.endswith((".c", ".h")):
            with open(os.path.join(top, fn), encoding="utf-8") as f:
                files[fn] = f.read()
    return files


def graph(files):
    owner = {}
    for fn, text in files.items():
        code = strip(text)
        unit = unit_of(fn)
        if unit == "mod_claims_private":
            continue
        found = DEF.findall(code) + VAR.findall(code) if fn.endswith(".c") else INLINE.findall(code)
        for sym in found:
            owner.setdefault(sym, unit)
    edges = {unit_of(fn): set() for fn in files}
    for fn, text in files.items():
        unit = unit_of(fn)
        code = strip(text)
        for inc in INCLUDE.findall(text):
            if inc != unit and inc != "mod_claims_private":
                edges[unit].add(inc)
        for sym in set(re.findall(r"\b(mc_\w+)\b", code)):
            dest = owner.get(sym)
            if dest is not None and dest != unit:
                edges[unit].add(dest)
    edges.pop("mod_claims_private", None)
    for e in edges.values():
        e.discard("mod_claims_private")
    return edges


def cycles(edges):
    found, state, stack = [], {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(edges.get(n, ())):
            if state.get(m) == 1:
                found.append(stack[stack.index(m):] + [m])
            elif m not in state:
                visit(m)
        stack.pop()
        state[n] = 2

    for n in sorted(edges):
        if n not in state:
            visit(n)
    return found


def lines(top, unit):
    total = []
    for ext in (".c", ".h"):
        path = os.path.join(top, unit + ext)
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                total.append("%s%s %d" % (unit, ext, sum(1 for _ in f)))
    return ", ".join(total)


def self_test():
    """The check must be able to fail: two files that call each other are a circle."""
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        for name, own, other in (("a", "mc_a", "mc_b"), ("b", "mc_b", "mc_a")):
            with open(os.path.join(d, "mod_claims_%s.c" % name), "w") as f:
                f.write("int %s(void)\n{\n    return %s();\n}\n" % (own, other))
        found = cycles(graph(read_glue(d)))
    if not found:
        sys.stderr.write("check-glue-deps: self-test failed: a circle of two files was not found\n")
        return 1
    return 0


def main(argv):
    if self_test() != 0:
        return 1
    args = [a for a in argv[1:] if not a.startswith("--")]
    top = os.path.abspath(args[0] if args else os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    edges = graph(read_glue(top))
    if "--dot" in argv:
        print("digraph glue {")
        for n in sorted(edges):
            for m in sorted(edges[n]):
                print('  "%s" -> "%s";' % (n, m))
        print("}")
    else:
        for n in sorted(edges):
            print("%-28s uses %s   (%s)" % (n, ", ".join(sorted(edges[n])) or "-", lines(top, n)))
    found = cycles(edges)
    for c in found:
        sys.stderr.write("check-glue-deps: circle: %s\n" % " -> ".join(c))
    if found:
        return 1
    print("check-glue-deps: OK: %d glue units, no circle" % len(edges))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
