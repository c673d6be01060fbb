#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The SPF conformance suites through the command line: every test of the
# converted RFC 7208 and RFC 4408 suites runs as `probe spf --dns-fixture
# ... --json` (scripts/spf-suite run), checking result, explanation, exit
# code and JSON.  test/analyze/test_spf_suite.c runs the same cases through
# the library.
#
# Usage: bash spf_suite_cli.sh PATH/TO/probe GENDIR
set -u

probe=${1:?usage: spf_suite_cli.sh PATH/TO/probe GENDIR}
gen=${2:?usage: spf_suite_cli.sh PATH/TO/probe GENDIR}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
data=$top/test/data/spf

if [[ ! -f $probe || ! -x $probe ]]; then
    echo "spf_suite_cli: $probe is not an executable" >&2
    exit 1
fi
status=0
for suite in rfc7208 rfc4408; do
    json=$gen/spf/$suite.json
    if [[ ! -s $json ]]; then
        echo "spf_suite_cli: $json is missing (target spf_suite_data)" >&2
        status=1
        continue
    fi
    echo "== $suite"
    python3 "$top/scripts/spf-suite" run "$probe" "$json" \
        --skip "$data/skip-$suite.txt" || status=1
done
exit $status
