"""The monitoring kit under contrib/ names only metrics keywarden exports: the
metric names in the Prometheus alert rules and the Grafana dashboard are
checked against /metrics scraped from the real daemon (against palette-sim)."""

import json
import os
import re
import unittest

from harness import API_KEY, ROOT, DaemonProcess, Workspace
from palette_sim import PaletteSim
from tenant import Tenant, identity

RULES = os.path.join(ROOT, "contrib", "prometheus", "keywarden.rules.yml")
DASHBOARD = os.path.join(ROOT, "contrib", "grafana", "keywarden.json")

# Metrics of other exporters the kit relies on, and why.
OTHER_EXPORTERS = {
    "up": "Prometheus's own scrape health of job=\"keywarden\"",
    "probe_success": "the blackbox exporter probing /readyz (a not-ready or dead daemon cannot report it)",
}

# A metric selector: a name followed by `{`, or any keywarden_ name.
SELECTOR = re.compile(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{|\b(keywarden_[a-zA-Z0-9_]+)")


def names_in(expression):
    expression = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expression)  # label values are not names
    return {a or b for a, b in SELECTOR.findall(expression)}


def rule_expressions():
    """The `expr:` of every rule; a folded `>-` expression continues on the indented lines."""
    exprs = []
    with open(RULES) as f:
        lines = f.read().split("\n")
    for i, line in enumerate(lines):
        m = re.match(r"^(\s*)expr:\s*(.*)$", line)
        if not m:
            continue
        indent, text = len(m.group(1)), m.group(2)
        if text in (">-", ">", "|", "|-"):
            text = ""
            for follow in lines[i + 1:]:
                if follow.strip() and len(follow) - len(follow.lstrip()) <= indent:
                    break
                text += " " + follow.strip()
        exprs.append(text.strip())
    return exprs


def dashboard_expressions():
    with open(DASHBOARD) as f:
        dashboard = json.load(f)
    exprs = []

    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k in ("expr", "definition") and isinstance(v, str):
                    exprs.append(v)
                else:
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(dashboard)
    return exprs


def exported_names(exposition):
    """Every series name /metrics can carry: each family, and a histogram's
    _bucket, _sum and _count."""
    names = set()
    for m in re.finditer(r"^# TYPE (\S+) (\S+)$", exposition, re.M):
        name, kind = m.groups()
        names.add(name)
        if kind == "histogram":
            names.update({name + "_bucket", name + "_sum", name + "_count"})
    for m in re.finditer(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)[ {]", exposition, re.M):
        names.add(m.group(1))
    return names


class ContribMetricsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        t = Tenant(4, 6, api_key=API_KEY, seed=5)
        cls.sim = PaletteSim(t.seed(), rate=100, burst=100)
        cls.ws = Workspace(cls.sim.url)
        cls.ws.write_identities([identity(p) for p in t.people])
        daemon = DaemonProcess(cls.ws)
        try:
            if not daemon.wait_ready():
                raise AssertionError("keywarden never became ready:\n" + daemon.output())
            status, _, body = daemon.request("GET", "/metrics")
            if status != 200:
                raise AssertionError("/metrics answered %d" % status)
            cls.exported = exported_names(body.decode())
        finally:
            daemon.stop()

    @classmethod
    def tearDownClass(cls):
        cls.ws.cleanup()
        cls.sim.stop()

    def check(self, what, expressions):
        self.assertTrue(expressions, "no expression found in " + what)
        for expr in expressions:
            for name in names_in(expr):
                if name in OTHER_EXPORTERS:
                    continue
                self.assertIn(name, self.exported, "%s names %s, which keywarden does not export (in: %s)"
                              % (what, name, expr))

    def test_alert_rules_name_only_exported_metrics(self):
        exprs = rule_expressions()
        self.assertGreaterEqual(len(exprs), 6)
        self.check("contrib/prometheus/keywarden.rules.yml", exprs)

    def test_dashboard_names_only_exported_metrics(self):
        self.check("contrib/grafana/keywarden.json", dashboard_expressions())

    def test_the_name_check_would_catch_a_wrong_name(self):
        self.assertEqual(names_in('sum by (le) (rate(keywarden_push_to_action_seconds_bucket{job=~"$job"}[5m]))'),
                         {"keywarden_push_to_action_seconds_bucket"})
        self.assertEqual(names_in('probe_success{job="keywarden-readyz"} == 0'), {"probe_success"})
        self.assertNotIn("keywarden_actions_failed_total", self.exported)


if __name__ == "__main__":
    unittest.main()
