# SPDX-License-Identifier: MIT
"""What the `expect` checks of the hostile-server tests (send_hostile.sh,
imap_hostile.sh) share, imported by the Python they run through hostile_py
(lib/hostile.sh).  Not a test itself.

A CHECK is WHAT OP VALUE, OP one of = != <= >= ~ (a Python regex,
searched) !~ (not found).  Case(tmp, case, rc).lookup(WHAT) knows rc, time
(s), rss (KB) and server (the server's log of the client's bytes); every
other WHAT goes to its more(WHAT), which the caller replaces.
"""

import re

MISSING = object()


def text(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


class Case:
    """One case's outputs, in TMP/CASE.*, and its exit code RC."""

    def __init__(self, tmp, case, rc):
        self.tmp, self.case, self.rc = tmp, case, rc
        self.tm = self.text("time1").split()

    def path(self, suffix):
        return "%s/%s.%s" % (self.tmp, self.case, suffix)

    def text(self, suffix):
        return text(self.path(suffix))

    def lookup(self, what):
        if what == "rc":
            return self.rc
        if what == "time":
            return self.tm[0] if self.tm else MISSING
        if what == "rss":
            return self.tm[1] if len(self.tm) > 1 else MISSING
        if what == "server":
            return self.text("server.log")
        return self.more(what)

    def more(self, what):
        return MISSING

    def failures(self, checks, width):
        """What each CHECK that fails says (what was got cut at width)."""
        failed = []
        for check in checks:
            m = re.match(r"^(.*?)(<=|>=|!=|!~|=|~)(.*)$", check, re.S)
            what, op, want = m.groups()
            got = self.lookup(what)
            if got is MISSING:
                good = op in ("!=", "!~")
            elif op == "=":
                good = got == want
            elif op == "!=":
                good = got != want
            elif op == "~":
                good = re.search(want, got) is not None
            elif op == "!~":
                good = re.search(want, got) is None
            else:
                try:
                    g, w = float(got), float(want)
                    good = g <= w if op == "<=" else g >= w
                except ValueError:
                    good = False
            if not good:
                shown = "(missing)" if got is MISSING else got
                if op == "!~":
                    hit = re.search(want, got)
                    shown = "..." + got[max(0, hit.start() - 40):
                                        hit.end() + 40]
                if len(shown) > width:
                    shown = shown[:width] + "..."
                failed.append("%s %s %s, got %s" % (what, op, want, shown))
        return failed

    def say_failed(self, failed):
        print("FAIL: %s: %s" % (self.case, "; ".join(failed)))
        print("    rc %s%s, time/rss %s" % (
            self.rc, " (hung: killed by timeout)" if self.rc == "124" else "",
            " ".join(self.tm) or "?"))
