#!/usr/bin/env python3
"""Writes the configuration the Debian package installs as
/etc/keywarden/keywarden.toml: config/keywarden.example.toml with every
[[source]] table commented out.

With no source, `keywarden run` refuses to start (exit 2, "no [[source]]"), and
the unit does not restart it (RestartPreventExitStatus=2): a fresh install
cannot act, nor crash-loop, before the admin has chosen the sources.

Usage: disable_sources.py EXAMPLE OUTPUT
"""

import os
import sys

HEADER = """\
# Installed by the keywarden package. Every [[source]] below is commented out:
# keywarden does not start until you enable at least one (remove the "#! "
# in front of its lines), set [palette] and [policy] for your site, and store
# the Palette API key as /etc/credstore/keywarden.palette-api-key.
# Then: keywarden check-config, keywarden plan, and systemctl start keywarden.
# man keywarden.toml documents every key.
#
"""

# Lines commented out here start with this, so that they stand apart from the
# example's own comments (and can be enabled with one substitution).
DISABLED = "#! "


def disable_sources(example):
    out = []
    in_sources = False
    for line in example.splitlines():
        if line.strip() == "[[source]]" or line.startswith("# Sources."):
            in_sources = True
        if in_sources and line.strip() and not line.startswith("#"):
            line = DISABLED + line
        out.append(line)
    if not in_sources:
        raise ValueError("no [[source]] table found in the example")
    return HEADER + "\n".join(out) + "\n"


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        text = disable_sources(f.read())
    tmp = sys.argv[2] + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, sys.argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main())
