"""spec_check.py -- the requests switchyard's provider modules build,
checked against the providers' published API descriptions (OpenAPI files
in ../shared/specs/): tests/integration/specs.sh feeds it the lines of
request-dump (tests/tools/request_dump.c).

    spec_check.py SPECS_DIR < requests.jsonl      exit 1 on any violation
    spec_check.py --self-test SPECS_DIR           bad bodies must be caught

Per kind: the operation (path and method) of the spec, the request body
validated against its schema with a JSON Schema subset (the keywords these
specs use for request bodies: $ref, allOf, oneOf, anyOf, type with
OpenAPI 3.0's nullable, enum, const, required, properties,
additionalProperties, items, min/maxItems, min/maxLength, minimum, maximum,
exclusive bounds, pattern), plus: every top-level member must be one the
schema names (a member the provider does not know is a mistake even where
the schema leaves additionalProperties open), the key's header is the one
the spec's security scheme or header parameters name, and Azure's URL has
its deployment path and the required api-version query parameter.
A schema that requires a member it does not define (Azure 2024-10-21's
json_schema requires `type`, which it has no property for, and which
OpenAI's API does not take) is an error of the spec: it is printed as an
erratum, not held against the request.
Discriminators, formats and readOnly are not checked."""
import json
import os
import re
import sys

import yaml

SAFE = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# kind -> spec file, operation path, how the URL must end (regex)
KINDS = {
    "openai": ("openai-openapi.yaml", "/chat/completions", r"/chat/completions$"),
    "openai-compatible": ("openai-openapi.yaml", "/chat/completions", r"/chat/completions$"),
    "anthropic": ("anthropic-openapi-hosted-2024-11.json", "/v1/messages", r"/messages$"),
    "azure-openai": ("azure-openai-inference-2024-10-21.yaml", "/deployments/{deployment-id}/chat/completions",
                     r"/openai/deployments/[A-Za-z0-9._~%-]+/chat/completions\?api-version=\d{4}-\d{2}-\d{2}(-preview)?$"),
}

# the same for the embeddings operation (a request dumped with "op": "embeddings")
EMBED_KINDS = {
    "openai": ("openai-openapi.yaml", "/embeddings", r"/embeddings$"),
    "openai-compatible": ("openai-openapi.yaml", "/embeddings", r"/embeddings$"),
    "azure-openai": ("azure-openai-inference-2024-10-21.yaml", "/deployments/{deployment-id}/embeddings",
                     r"/openai/deployments/[A-Za-z0-9._~%-]+/embeddings\?api-version=\d{4}-\d{2}-\d{2}(-preview)?$"),
}


def load(specs, name, cache={}):
    if name not in cache:
        with open(os.path.join(specs, name)) as f:
            cache[name] = json.load(f) if name.endswith(".json") else yaml.load(f, Loader=SAFE)
    return cache[name]


def resolve(root, s):
    seen = 0
    while isinstance(s, dict) and "$ref" in s:
        ref = s["$ref"]
        assert ref.startswith("#/"), ref
        node = root
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        s, seen = node, seen + 1
        assert seen < 64, "ref loop"
    return s


TYPES = {
    "object": lambda v: isinstance(v, dict), "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str), "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "null": lambda v: v is None,
}


ERRATA = set()


def errors(root, s, v, at):
    """The violations of value v against schema s (a list of strings)."""
    s = resolve(root, s)
    if s is True or s == {} or s is None:
        return []
    if s is False:
        return [f"{at}: not allowed"]
    out = []
    for sub in s.get("allOf", []):
        out += errors(root, sub, v, at)
    for key in ("oneOf", "anyOf"):
        if key in s:
            ok = [i for i, sub in enumerate(s[key]) if not errors(root, sub, v, at)]
            if not ok or (key == "oneOf" and len(ok) > 1 and v is not None):
                why = "matches none" if not ok else f"matches {len(ok)} alternatives"
                out.append(f"{at}: {key} {why}")
    if v is None and (s.get("nullable") or s.get("type") == "null" or "null" in (s.get("type") or [])):
        return out
    t = s.get("type")
    if t is not None:
        ts = t if isinstance(t, list) else [t]
        if not any(TYPES[x](v) for x in ts):
            return out + [f"{at}: {json.dumps(v)[:60]} is not {'/'.join(ts)}"]
    if "enum" in s and v not in s["enum"]:
        out.append(f"{at}: {json.dumps(v)[:60]} not in {s['enum'][:10]}")
    if "const" in s and v != s["const"]:
        out.append(f"{at}: {json.dumps(v)[:60]} is not {s['const']!r}")
    if TYPES["number"](v):
        lo, hi = s.get("minimum"), s.get("maximum")
        xlo, xhi = s.get("exclusiveMinimum"), s.get("exclusiveMaximum")
        if lo is not None and (v <= lo if xlo is True else v < lo):
            out.append(f"{at}: {v} below {lo}")
        if hi is not None and (v >= hi if xhi is True else v > hi):
            out.append(f"{at}: {v} above {hi}")
        if TYPES["number"](xlo) and v <= xlo:
            out.append(f"{at}: {v} not above {xlo}")
        if TYPES["number"](xhi) and v >= xhi:
            out.append(f"{at}: {v} not below {xhi}")
    if isinstance(v, str):
        if len(v) < s.get("minLength", 0) or len(v) > s.get("maxLength", len(v)):
            out.append(f"{at}: length {len(v)} out of bounds")
        if "pattern" in s and not re.search(s["pattern"], v):
            out.append(f"{at}: {v!r} does not match {s['pattern']}")
    if isinstance(v, list):
        if len(v) < s.get("minItems", 0) or len(v) > s.get("maxItems", len(v)):
            out.append(f"{at}: {len(v)} items out of bounds")
        if "items" in s:
            for i, x in enumerate(v):
                out += errors(root, s["items"], x, f"{at}[{i}]")
    if isinstance(v, dict):
        props = s.get("properties", {})
        for k in s.get("required", []):
            if k in v:
                continue
            if k in props or "properties" not in s:
                out.append(f"{at}: required member {k!r} missing")
            else:  # the schema requires a member it does not define: the spec's error
                ERRATA.add(f"{at}: requires {k!r}, which it does not define")
        extra = s.get("additionalProperties", True)
        for k, x in v.items():
            if k in props:
                out += errors(root, props[k], x, f"{at}.{k}")
            elif extra is False:
                out.append(f"{at}: member {k!r} not allowed")
            elif isinstance(extra, dict):
                out += errors(root, extra, x, f"{at}.{k}")
    return out


def named_members(root, s, depth=0):
    """Every property a schema names at its top level (through $ref, allOf, oneOf, anyOf)."""
    s = resolve(root, s)
    names = set(s.get("properties", {})) if isinstance(s, dict) else set()
    for key in ("allOf", "oneOf", "anyOf"):
        for sub in s.get(key, []) if depth < 8 else []:
            names |= named_members(root, sub, depth + 1)
    return names


def auth_headers(root, op):
    """Header names the spec gives for authentication: apiKey security
    schemes and header parameters of the operation; Bearer schemes mean
    Authorization."""
    names = set()
    for scheme in root.get("components", {}).get("securitySchemes", {}).values():
        if scheme.get("type") == "apiKey" and scheme.get("in") == "header":
            names.add(scheme["name"].lower())
        if scheme.get("type") == "http" and scheme.get("scheme", "").lower() == "bearer":
            names.add("authorization")
    for p in op.get("parameters", []):
        p = resolve(root, p)
        if p.get("in") == "header":
            names.add(p["name"].lower())
    return names


def check_request(specs, req):
    """The violations of one dumped request."""
    kind = req["kind"]
    table = EMBED_KINDS if req.get("op") == "embeddings" else KINDS
    if kind not in table:
        return [f"kind {kind}: no spec to check its {req.get('op', 'chat')} request against (add it to KINDS)"]
    spec_file, path, url_re = table[kind]
    root = load(specs, spec_file)
    op = root["paths"][path]["post"]
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    body = req["body"]
    out = errors(root, schema, body, "body")
    known = named_members(root, schema)
    out += [f"body: member {k!r} is not in the spec's request schema" for k in body if k not in known]
    if not re.search(url_re, req["url"]):
        out.append(f"url {req['url']} is not the spec's {path}")
    sent = {h.lower() for h in req["headers"]}
    auth = auth_headers(root, op)
    key_headers = sent & ({"authorization", "x-api-key", "api-key"})
    if kind != "openai-compatible" and not key_headers:
        out.append("no key header")
    for h in key_headers:
        if h not in auth:
            out.append(f"key header {h} is not one the spec names ({sorted(auth)})")
    if kind == "azure-openai":
        for p in op.get("parameters", []):
            p = resolve(root, p)
            if p.get("in") == "query" and p.get("required") and f"{p['name']}=" not in req["url"]:
                out.append(f"required query parameter {p['name']} missing")
    if kind == "anthropic" and "anthropic-version" not in sent:
        out.append("no anthropic-version header")
    return [f"{req['task']} on {req['model']} ({kind}): {e}" for e in out]


# Bodies that must fail, each for the reason named: the checker is not blind.
BAD = [
    ("openai", {"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": 3},
     "body.temperature"),
    ("openai", {"model": "m", "messages": [{"role": "user", "content": "x"}], "stop": ["a", "b", "c", "d", "e"]},
     "stop"),
    ("openai", {"model": "m", "messages": [{"role": "user", "content": "x"}], "max_new_tokens": 5},
     "'max_new_tokens' is not in the spec"),
    ("openai", {"model": "m", "messages": [{"role": "robot", "content": "x"}]}, "messages[0]"),
    ("openai", {"model": "m", "messages": [{"role": "user", "content": "x"}],
                "response_format": {"type": "json_schema"}}, "response_format"),
    ("openai", {"messages": [{"role": "user", "content": "x"}]}, "'model' missing"),
    ("anthropic", {"model": "m", "messages": [{"role": "user", "content": "x"}]}, "'max_tokens' missing"),
    ("anthropic", {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}], "seed": 1},
     "'seed' not allowed"),
    ("anthropic", {"model": "m", "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]},
     "messages[0]"),
    ("azure-openai", {"messages": [{"role": "user", "content": "x"}], "random_seed": 5},
     "'random_seed' is not in the spec"),
    ("azure-openai", {"messages": [{"role": "user", "content": "x"}], "top_p": 1.5}, "body.top_p"),
]
# embeddings bodies that must fail
BAD_EMBED = [
    ("openai", {"model": "m", "input": []}, "body.input"),
    ("openai", {"model": "m", "input": ["x"], "encoding_format": "int8"}, "encoding_format"),
    ("openai", {"input": ["x"]}, "'model' missing"),
    ("openai", {"model": "m", "input": ["x"], "max_tokens": 5}, "'max_tokens' is not in the spec"),
    ("azure-openai", {"input": ["x"], "dimensions": "256"}, "dimensions"),
]
HEADERS = {"openai": ["Authorization"], "anthropic": ["x-api-key", "anthropic-version"],
           "azure-openai": ["api-key"]}
EMBED_URLS = {"openai": "https://h/v1/embeddings",
              "azure-openai": "https://r.openai.azure.com/openai/deployments/d/embeddings?api-version=2024-10-21"}
URLS = {"openai": "https://h/v1/chat/completions", "anthropic": "https://h/v1/messages",
        "azure-openai": "https://r.openai.azure.com/openai/deployments/d/chat/completions?api-version=2024-10-21"}


def self_test(specs):
    bad = 0
    for kind, body, want in BAD:
        req = {"task": "self-test", "model": "m", "kind": kind, "url": URLS[kind], "headers": HEADERS[kind],
               "body": body}
        errs = check_request(specs, req)
        if not any(want in e for e in errs):
            print(f"NOT CAUGHT ({want}): {kind} {json.dumps(body)} -> {errs}", file=sys.stderr)
            bad += 1
    for kind, body, want in BAD_EMBED:
        req = {"task": "self-test", "model": "m", "kind": kind, "op": "embeddings", "url": EMBED_URLS[kind],
               "headers": HEADERS[kind], "body": body}
        errs = check_request(specs, req)
        if not any(want in e for e in errs):
            print(f"NOT CAUGHT ({want}): {kind} embeddings {json.dumps(body)} -> {errs}", file=sys.stderr)
            bad += 1
    wrong = {"task": "self-test", "model": "m", "kind": "azure-openai", "headers": ["Authorization"],
             "url": "https://r.openai.azure.com/openai/deployments/d/chat/completions",
             "body": {"messages": [{"role": "user", "content": "x"}]}}
    errs = check_request(specs, wrong)
    for want in ("authorization is not one the spec names", "api-version", "is not the spec's"):
        if not any(want in e for e in errs):
            print(f"NOT CAUGHT ({want}): {errs}", file=sys.stderr)
            bad += 1
    total = len(BAD) + len(BAD_EMBED) + 3
    print(f"self-test: {total - bad} of {total} bad requests caught")
    return 1 if bad else 0


def main():
    if sys.argv[1] == "--self-test":
        return self_test(sys.argv[2])
    specs = sys.argv[1]
    n, bad, kinds = 0, [], set()
    for line in sys.stdin:
        req = json.loads(line)
        n += 1
        kinds.add(req["kind"])
        bad += check_request(specs, req)
    for e in bad:
        print(e, file=sys.stderr)
    for e in sorted(ERRATA):
        print(f"spec erratum (not held against the request): {e}")
    print(f"{n} requests of kinds {', '.join(sorted(kinds))}: {len(bad)} violations")
    return 1 if bad or not n else 0


sys.exit(main())
