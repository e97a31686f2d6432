"""dashboard_metrics.py -- the metric names the provisioned Grafana
dashboard (deploy/grafana/dashboards/switchyard.json) queries, for
compose.sh (against the names the sources write) and status.sh (against
real /metrics pages). A histogram's _bucket/_sum/_count name its family."""
import json, re

def queried(path="deploy/grafana/dashboards/switchyard.json"):
    """{family name: [panel titles that query it]}; raises if a panel has no query."""
    dash = json.load(open(path))
    out = {}
    for p in dash["panels"]:
        exprs = [t["expr"] for t in p.get("targets", [])]
        assert exprs, f"panel {p.get('title')!r} queries nothing"
        for e in exprs:
            names = re.findall(r"\b(switchyard_[a-z_]+)\b", e)
            assert names, f"panel {p['title']!r}: no switchyard metric in {e!r}"
            for n in names:
                n = re.sub(r"_(bucket|sum|count)$", "", n)
                out.setdefault(n, []).append(p["title"])
    return out

def families(page_text):
    """The families a /metrics page declares (# TYPE lines)."""
    return {l.split()[2] for l in page_text.splitlines() if l.startswith("# TYPE ")}
