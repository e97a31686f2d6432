"""promtext.py -- sums over a scraped /metrics page, for the integration
tests' Python checks (status.sh, status_page.sh): a test reading its own
scrape, independent of the C reader (base/promparse.c) it checks."""
import re

def total(path, name, **want):
    """Sum of the samples named name in the file path whose labels include want."""
    s = 0.0
    for line in open(path, encoding="utf-8"):
        m = re.match(r'^(\w+)(\{.*\})? (\S+)$', line.strip())
        if not m or m.group(1) != name: continue
        labels = {k: re.sub(r'\\(.)', lambda e: "\n" if e.group(1) == "n" else e.group(1), v)
                  for k, v in re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or "")}
        if all(labels.get(k) == v for k, v in want.items()): s += float(m.group(3))
    return s
