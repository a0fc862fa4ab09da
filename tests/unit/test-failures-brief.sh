#!/bin/bash
# tools/failures-brief, which tools/test prints at the end of a failed run: a failed test's
# FAIL lines, a timed-out test's last lines, nothing for tests that passed or were skipped.
#   test-failures-brief.sh SRC_DIR
set -u
src=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - "$tmp/testlog.json" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for t in ({"name": "broke", "result": "FAIL", "duration": 12.3,
               "stdout": "booting\nFAIL:  readback(none)\nmore\n", "stderr": "error=\"torn\""},
              {"name": "fine", "result": "OK", "duration": 1, "stdout": "FAIL not", "stderr": ""},
              {"name": "skipped", "result": "SKIP", "duration": 0, "stdout": "", "stderr": ""},
              {"name": "slow", "result": "TIMEOUT", "duration": 480, "stdout": "a\nb\nlast line",
               "stderr": ""}):
        f.write(json.dumps(t) + "\n")
PY
out=$("$src/tools/failures-brief" "$tmp/testlog.json")
echo "$out"
want='broke: FAIL after 12 s
    FAIL:  readback(none)
    error="torn"
slow: TIMEOUT after 480 s
    a
    b
    last line'
[ "$out" = "$want" ] || { echo "FAIL: the brief is not the expected one"; exit 1; }
echo "ok"
