#!/usr/bin/env python3
"""Renders a man page written in docs/man/*.md (a small Markdown subset, see
docs/man/README.md) to roff, so that the page and the documentation are one
file and cannot drift apart.

Usage: render_man.py SOURCE.md OUTPUT --version VERSION

The page date is SOURCE_DATE_EPOCH's day when that is set (reproducible
builds, as dpkg-buildpackage sets it), else left out.
"""

import argparse
import datetime
import os
import re
import sys

MANUALS = {"1": "User Commands", "5": "File Formats", "8": "System Administration"}


class SourceError(Exception):
    pass


def escape(text):
    """Roff-escapes plain text: backslashes, and a line-leading dot or quote."""
    return text.replace("\\", "\\e")


def inline(text):
    """Markdown inline markup to roff font changes."""
    out = []
    pos = 0
    pattern = re.compile(r"`([^`]+)`|\*\*([^*]+)\*\*|\*([^*]+)\*")
    for m in pattern.finditer(text):
        out.append(escape(text[pos:m.start()]))
        if m.group(1) is not None:
            # Literal text: bold, with real minus signs (options, negative numbers).
            out.append("\\fB" + escape(m.group(1)).replace("-", "\\-") + "\\fR")
        elif m.group(2) is not None:
            out.append("\\fB" + escape(m.group(2)) + "\\fR")
        else:
            out.append("\\fI" + escape(m.group(3)) + "\\fR")
        pos = m.end()
    out.append(escape(text[pos:]))
    return "".join(out)


def roff_line(text):
    """One output line; a leading dot or quote would be read as a request."""
    return "\\&" + text if text[:1] in (".", "'") else text


def strip_comments(source):
    return re.sub(r"<!--.*?-->\n?", "", source, flags=re.S)


def render(source, version, date):
    lines = strip_comments(source).split("\n")
    title = re.fullmatch(r"([\w.-]+)\((\d)\) -- (.+)", lines[0].strip()) if lines else None
    if not title or len(lines) < 2 or not re.fullmatch(r"=+", lines[1].strip()):
        raise SourceError("the first line must be 'name(section) -- description', underlined with '='")
    name, section, description = title.groups()
    out = [
        '.TH "%s" "%s" "%s" "keywarden %s" "%s"' % (name.upper(), section, date, version, MANUALS.get(section, "")),
        ".SH NAME",
        roff_line("%s \\- %s" % (escape(name), escape(description))),
    ]

    i = 2
    paragraph = []

    def flush_paragraph():
        if paragraph:
            out.append(".PP")
            out.extend(roff_line(inline(p)) for p in paragraph)
            paragraph.clear()

    while i < len(lines):
        line = lines[i]
        if not line.strip():
            flush_paragraph()
            i += 1
            continue
        if line.startswith("## "):
            flush_paragraph()
            out.append('.SH "%s"' % escape(line[3:].strip()).upper())
            i += 1
            continue
        if line.startswith("### "):
            flush_paragraph()
            out.append('.SS "%s"' % escape(line[4:].strip()).replace('"', '\\(dq'))
            i += 1
            continue
        if line.startswith("    ") and not paragraph:
            # A code block: every following line indented by four spaces (or blank).
            block = []
            while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
                block.append(lines[i][4:])
                i += 1
            while block and not block[-1].strip():
                block.pop()
            out.extend([".PP", ".RS 4", ".nf"])
            out.extend(roff_line(escape(b)) for b in block)
            out.extend([".fi", ".RE"])
            continue
        if line.startswith("* "):
            flush_paragraph()
            head = line[2:].rstrip()
            body = []
            i += 1
            while i < len(lines) and lines[i].startswith("  ") and lines[i].strip():
                body.append(lines[i].strip())
                i += 1
            if head.endswith(":") and body:
                # A definition: the head is the term, the indented lines its text.
                out.append(".TP")
                out.append(roff_line(inline(head[:-1])))
                out.extend(roff_line(inline(b)) for b in body)
            else:
                out.append('.IP "\\(bu" 2')
                out.extend(roff_line(inline(t)) for t in [head] + body)
            continue
        if line.startswith("#"):
            raise SourceError("line %d: only '## ' and '### ' headings are understood" % (i + 1))
        paragraph.append(line.strip())
        i += 1
    flush_paragraph()
    return "\n".join(out) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source")
    parser.add_argument("output")
    parser.add_argument("--version", required=True)
    args = parser.parse_args()
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    date = datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc).strftime("%Y-%m-%d") if epoch else ""
    with open(args.source, encoding="utf-8") as f:
        source = f.read()
    try:
        page = render(source, args.version, date)
    except SourceError as e:
        print("%s: %s" % (args.source, e), file=sys.stderr)
        return 1
    tmp = args.output + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(page)
    os.replace(tmp, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
