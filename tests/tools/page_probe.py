"""page_probe.py -- open a page in headless Chromium for a test, in real
time, over the DevTools protocol on a pipe (--remote-debugging-pipe: JSON
messages ending in NUL on fds 3 and 4, so no websocket library is needed),
and save what it shows.

    page_probe.py CHROMIUM URL --profile DIR [--wait-polls N] [--seconds S]
                  [--dom FILE] [--screenshot FILE] [--size W,H]

Waits until document.body.dataset.polls >= N (the status page counts its
polls of /metrics there) and S seconds have passed, then writes the DOM
(outerHTML) and/or a PNG screenshot. Exit 1 with the reason on stderr when
the page does not get there within 60 s.

Used by tests/integration/status_page.sh. The flags are those this
machine needs (no sandbox as root, no background networking: the
network is closed)."""
import argparse, base64, json, os, subprocess, sys, time

ap = argparse.ArgumentParser()
ap.add_argument("chromium"); ap.add_argument("url")
ap.add_argument("--profile", required=True)
ap.add_argument("--wait-polls", type=int, default=1)
ap.add_argument("--seconds", type=float, default=0)
ap.add_argument("--dom"); ap.add_argument("--screenshot")
ap.add_argument("--size", default="1280,1000")
a = ap.parse_args()

to_chrome_r, to_chrome_w = os.pipe()
from_chrome_r, from_chrome_w = os.pipe()
def child_fds():  # the pipe ends onto 3 and 4 (via copies: they may be 3 or 4 already)
    r, wr = os.dup(to_chrome_r), os.dup(from_chrome_w)
    os.dup2(r, 3); os.dup2(wr, 4)
w, h = (int(x) for x in a.size.split(","))
proc = subprocess.Popen(
    [a.chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
     "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-default-apps",
     f"--user-data-dir={a.profile}", f"--window-size={w},{h}", "--remote-debugging-pipe", "about:blank"],
    preexec_fn=child_fds, pass_fds=(3, 4, to_chrome_r, from_chrome_w),
    stdout=subprocess.DEVNULL, stderr=open(os.path.join(a.profile + ".log"), "ab"))
os.close(to_chrome_r); os.close(from_chrome_w)
out, inp = os.fdopen(to_chrome_w, "wb"), os.fdopen(from_chrome_r, "rb")
ids, pending = [0], b""

def call(method, params=None, session=None):
    global pending
    ids[0] += 1
    msg = {"id": ids[0], "method": method, "params": params or {}}
    if session: msg["sessionId"] = session
    out.write(json.dumps(msg).encode() + b"\0"); out.flush()
    while True:
        while b"\0" not in pending:
            chunk = os.read(inp.fileno(), 1 << 16)
            if not chunk: raise SystemExit(f"chromium closed the pipe during {method}")
            pending += chunk
        raw, pending = pending.split(b"\0", 1)
        m = json.loads(raw)
        if m.get("id") == ids[0]:
            if "error" in m: raise SystemExit(f"{method}: {m['error']}")
            return m["result"]

def evaluate(session, expr):
    r = call("Runtime.evaluate", {"expression": expr, "returnByValue": True}, session)
    return r.get("result", {}).get("value")

try:
    target = call("Target.createTarget", {"url": a.url})["targetId"]
    session = call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    start = time.monotonic()
    polls = 0
    while time.monotonic() - start < 60:
        polls = int(evaluate(session, "document.body ? Number(document.body.dataset.polls || 0) : 0") or 0)
        if polls >= a.wait_polls and time.monotonic() - start >= a.seconds: break
        time.sleep(0.2)
    else:
        raise SystemExit(f"the page polled {polls} times in 60 s, not {a.wait_polls}")
    if a.dom:
        with open(a.dom, "w", encoding="utf-8") as f: f.write(evaluate(session, "document.documentElement.outerHTML"))
    if a.screenshot:
        png = call("Page.captureScreenshot", {"format": "png"}, session)["data"]
        with open(a.screenshot, "wb") as f: f.write(base64.b64decode(png))
    try: call("Browser.close")
    except SystemExit: pass
finally:
    try: proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill(); proc.wait()
