#!/usr/bin/python3
"""What one op needs lives in its registry row: no switch over ops answers quietly for the rest.

Usage: op_switch_test.py SOURCE_DIR

Scans every C++ file under analyzer/, calibrate/ and cli/ (tests excluded) for `switch`
statements with `case Op::` labels. It fails when such a switch has a `default:` label (a
forgotten op would take it silently, where without one -Werror=switch makes it a compile
error), or when more than two files hold such a switch (the op registry and the libtorch
builder table are the places that may). Standard library only.
"""

import os
import re
import sys

ROOTS = ("analyzer", "calibrate", "cli")
MAX_FILES = 2


def switch_bodies(text):
    """Yields (line, body) for each switch statement, its braces matched."""
    for m in re.finditer(r"\bswitch\s*\(", text):
        start = text.find("{", m.end())
        if start < 0:
            continue
        depth, i = 0, start
        while i < len(text):
            if text[i] == "{":
                depth += 1
            elif text[i] == "}":
                depth -= 1
                if depth == 0:
                    break
            i += 1
        yield text.count("\n", 0, m.start()) + 1, text[start:i + 1]


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    src = sys.argv[1]
    problems, files = [], set()
    for root in ROOTS:
        for dirpath, _, names in os.walk(os.path.join(src, root)):
            for name in sorted(names):
                if not name.endswith((".cc", ".h")) or name.endswith("_test.cc"):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, src)
                with open(path, encoding="utf-8") as f:
                    text = f.read()
                for line, body in switch_bodies(text):
                    if "case Op::" not in body:
                        continue
                    files.add(rel)
                    if re.search(r"\bdefault\s*:", body):
                        problems.append(f"{rel}:{line}: a switch over ops has a default:")
    if len(files) > MAX_FILES:
        problems.append(f"{len(files)} files switch over ops ({', '.join(sorted(files))}); "
                        f"at most {MAX_FILES} may: put the op's behaviour in its registry row")
    for p in problems:
        print("FAIL: " + p, file=sys.stderr)
    if problems:
        return 1
    print(f"switches over ops: {len(files)} file(s) ({', '.join(sorted(files)) or 'none'}), "
          "none with a default:")
    return 0


if __name__ == "__main__":
    sys.exit(main())
