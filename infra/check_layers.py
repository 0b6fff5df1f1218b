#!/usr/bin/env python3
"""Checks the layers of `shared/src` and what the functions import.

Every .rs file of shared/src is a module (its path: `adapters/rest.rs` is `adapters::rest`,
`store/mod.rs` is `store`). The script reads the paths each file names through `crate::`,
`shared::`, `super::`, `self::` and through the names its `use` statements bind (`use
crate::store;` then `store::users::get(..)` names `store::users`), in `use` trees with nested
`{}` groups and in code (a `use` may start from a name an other `use` of the module bound, and a
`use` binding a module is an import of it), leaving out comments, string and char literals and
items under `#[cfg(test)]` or `#[cfg(any(test, feature = "test-support"))]` (files of a test-only
`mod x;` included, with everything under their folder), and checks:

1. each import is allowed between the two layers (`ALLOWED` below, with the reason of each rule);
2. no import cycle between files of shared (printed as a path of files);
3. `domain` files use no HTTP, AWS, runtime or clock (`DOMAIN_FORBIDDEN`, the clock types under
   any name they are imported as); `flows` files no HTTP transport or AWS SDK (`FLOWS_FORBIDDEN`);
4. `functions/*/src` import only `shared::adapters`, `shared::platform` and the crate root's
   re-exports `shared::AppState` and `shared::ApiError` (through any alias of `shared`), and
   `functions/*/Cargo.toml` enable `test-support` only for their tests.

It refuses (exit 1) a tree it cannot have read: a missing `shared/src/lib.rs` or
`shared/domain/src/lib.rs`, or fewer than MIN_FILES files there (a wrong root or a moved folder
would otherwise pass as "0 files, no cycle").

Prints every violation as `file:line: message` and exits 1, else prints what it checked.

Usage: python3 infra/check_layers.py [ROOT]     (default: the repository root)
       python3 infra/check_layers.py --min-files N ROOT  (a smaller tree than the real one)
       python3 infra/check_layers.py --self-test (checks the parser and the rules on made-up code)
"""

import os
import re
import sys
import tempfile
from pathlib import Path

# Which layers a layer may import (a layer is the first folder under shared/src; the crate root,
# lib.rs, is ""). A layer may always import itself.
ALLOWED = {
    # The rules, free of I/O and transport: nothing else of the crate, so every rule is
    # unit-testable on plain values.
    "domain": set(),
    # Keys, tokens and password hashing: rules (domain) plus their own config types; no storage,
    # so a credential never reads or writes anything itself.
    "credential": {"domain"},
    # The use cases: typed input -> typed output or ApiError, on rules, credentials, storage and
    # mail; never the transport, so REST, GraphQL and the pages share one flow.
    "flows": {"domain", "credential", "store", "email"},
    # DynamoDB: stores domain values (and credential types where a stored value is one); never
    # calls a use case or a transport.
    "store": {"domain", "credential"},
    # Mail: renders and sends domain values; never calls a use case or a transport.
    "email": {"domain", "credential"},
    # The transports: parse, call a flow, render. Never the store directly (a flow owns every
    # read and write); see ADAPTERS_SHARED for the rule between adapters.
    "adapters": {"flows", "domain", "credential", "platform"},
    # Configuration, state and runtime wire everything together.
    "platform": {"domain", "credential", "flows", "store", "email", "adapters"},
    # lib.rs declares the layers and re-exports AppState and ApiError.
    "": {"domain", "credential", "flows", "store", "email", "adapters", "platform"},
}

# Single modules a layer may import beyond ALLOWED. The flows take `AppState` (platform::state):
# the bundle of clients a function builds once at cold start (the store, the warm access cache,
# the signing keys, the mailer) and the configuration it was read with (platform::config).
# Neither module imports a flow or an adapter, so this adds no cycle (the cycle check would
# say); the session flows already take narrow store ports (flows::ports) instead, and the others
# can follow. platform::runtime and platform::testing stay out of reach.
ALLOWED_MODULES = {
    "flows": {"platform::state", "platform::config"},
}

# Between adapters (graphql, pages, rest, http): a transport shares helpers only through
# `adapters::http`, so no transport depends on another one's details.
ADAPTERS_SHARED = "adapters::http"

# What domain code must not name: the transport, AWS, the async runtime and the clock (a rule
# that needs the time takes `now` as an argument, so its tests choose it).
DOMAIN_FORBIDDEN = [
    (re.compile(r"\blambda_http\b"), "the HTTP transport (lambda_http)"),
    (re.compile(r"\blambda_runtime\b"), "the Lambda runtime"),
    (re.compile(r"\baws_\w+"), "an AWS SDK crate"),
    (re.compile(r"\btokio\b"), "the async runtime (tokio)"),
    (re.compile(r"\bSystemTime\s*::\s*now\b"), "the clock (SystemTime::now)"),
    (re.compile(r"\bInstant\s*::\s*now\b"), "the clock (Instant::now)"),
    (re.compile(r"\bUtc\s*::\s*now\b"), "the clock (Utc::now)"),
    (re.compile(r"\bLocal\s*::\s*now\b"), "the clock (Local::now)"),
    (re.compile(r"\bOffsetDateTime\s*::\s*now_utc\b"), "the clock (OffsetDateTime::now_utc)"),
    (re.compile(r"\bchrono\b"), "a clock crate (chrono)"),
    (re.compile(r"\.\s*elapsed\s*\("), "the clock (.elapsed() reads it)"),
]

# What flows code must not name: a flow is transport independent (no HTTP types) and reaches
# DynamoDB only through the store (AWS SDK types stay there).
FLOWS_FORBIDDEN = [
    (re.compile(r"\blambda_http\b"), "the HTTP transport (lambda_http)"),
    (re.compile(r"\baws_\w+(?:\s*::\s*\w+)*"), "an AWS SDK crate"),
]
# Known exceptions to FLOWS_FORBIDDEN, each (module, exact path). None: the store's page cursor
# is its own opaque type (store::PageCursor). An entry here is a debt, named.
FLOWS_FORBIDDEN_KNOWN = set()

# The clock types of std: imported under another name, `Alias::now()` reads the clock too.
CLOCK_TYPES = {"SystemTime", "Instant"}

# Fewer files than this under shared/src and shared/domain/src means the script read the wrong
# place (the real tree has over 80).
MIN_FILES = 50

# What a function (functions/*/src) may name of shared.
FUNCTION_ALLOWED_PREFIXES = ("adapters", "platform", "AppState", "ApiError")

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
PATH_IN_CODE = re.compile(rf"\b({IDENT}(?:\s*::\s*{IDENT})+)")
ROOTS = {"crate", "shared", "super", "self"}
KEYWORDS = {"as", "pub", "use", "mod", "fn", "let", "impl", "for", "in", "where", "dyn"}


# --- reading Rust ------------------------------------------------------------------------------


def strip_code(text):
    """The text with comments and string/char literals blanked (newlines kept, so lines hold)."""
    out = []
    i, n = 0, len(text)

    def blank(segment):
        return "".join(c if c == "\n" else " " for c in segment)

    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(blank(text[i:j]))
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(blank(text[i:j]))
            i = j
        elif re.match(r'b?r#*"', text[i:i + 260]) and (i == 0 or not re.match(r"\w", text[i - 1])):
            m = re.match(r'(b?r)(#*)"', text[i:])
            end = '"' + m.group(2)
            j = text.find(end, i + len(m.group(0)))
            j = n if j < 0 else j + len(end)
            out.append(" " + blank(text[i + 1:j]))
            i = j
        elif c == '"' or (c == "b" and text.startswith('b"', i) and (i == 0 or not re.match(r"\w", text[i - 1]))):
            j = i + (2 if c == "b" else 1)
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append('"' + blank(text[i + 1:j - 1]) + '"' if j - i >= 2 else blank(text[i:j]))
            i = j
        elif c == "'":
            # A char literal ('a', '\n', '\u{1F600}', '"') or a lifetime ('a, 'static).
            m = re.match(r"'(\\(?:u\{[0-9A-Fa-f]+\}|x[0-9A-Fa-f]{2}|.)|[^\\'\n])'", text[i:])
            if m:
                out.append(blank(m.group(0)))
                i += len(m.group(0))
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def matching_brace(text, open_at):
    depth = 0
    for j in range(open_at, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    return len(text) - 1


# Test-only: `cfg(test)`, and `cfg(any(test, feature = "test-support"))` (the crate's test helpers;
# the functions enable that feature only in [dev-dependencies], which `check` verifies). Any other
# condition, e.g. `any(test, unix)`, is compiled in production and is checked like any code.
TEST_CFG = re.compile(
    r'#\s*\[\s*cfg\s*\(\s*(?:test|any\s*\(\s*(?:test\s*,\s*feature\s*=\s*"test-support"'
    r'|feature\s*=\s*"test-support"\s*,\s*test)\s*,?\s*\))\s*\)\s*\]')
EXTERNAL_MOD = re.compile(rf"^\s*(?:#\s*\[[^\]]*\]\s*)*(?:pub(?:\s*\([^)]*\))?\s+)?mod\s+({IDENT})\s*;")


def strip_test_items(code, original):
    """Blanks every item under a test-only cfg; returns (code, names of test-only `mod x;`).

    `code` is `original` through strip_code (same offsets): the cfg is read from the original,
    whose feature name strip_code blanked, and counts only where it is code (not blanked)."""
    test_mods = set()
    for m in TEST_CFG.finditer(original):
        if code[m.start()] != "#":
            continue  # in a comment or a string, or inside an item already blanked
        start, j = m.start(), m.end()
        ext = EXTERNAL_MOD.match(code[j:])
        if ext:
            test_mods.add(ext.group(1))
        # The item runs to its first `;` or to the brace matching its first `{`, whichever first.
        semi, brace = code.find(";", j), code.find("{", j)
        if brace >= 0 and (semi < 0 or brace < semi):
            end = matching_brace(code, brace) + 1
        else:
            end = (semi + 1) if semi >= 0 else len(code)
        code = code[:start] + "".join(c if c == "\n" else " " for c in code[start:end]) + code[end:]
    return code, test_mods


def line_of(text, offset):
    return text.count("\n", 0, offset) + 1


def parse_use_tree(tree, base, offset, out):
    """Expands a use tree (`a::{b, c::{d as e, self}, f::*}`) into (path, binding, offset)."""
    i = 0
    n = len(tree)
    prefix = []
    while i < n:
        ch = tree[i]
        if ch.isspace() or ch == ",":
            i += 1
            continue
        m = re.match(rf"{IDENT}", tree[i:])
        if m:
            prefix.append(m.group(0))
            i += len(m.group(0))
            rest = re.match(r"\s*::\s*", tree[i:])
            if rest:
                i += len(rest.group(0))
                continue
            alias = re.match(rf"\s+as\s+({IDENT})", tree[i:])
            if alias:
                i += len(alias.group(0))
            path = base + prefix
            if path and path[-1] == "self":
                path = path[:-1]
            binding = alias.group(1) if alias else (path[-1] if path else None)
            out.append((path, binding, offset + i))
            prefix = []
            continue
        if ch == "*":
            out.append((base + prefix, "*", offset + i))
            prefix = []
            i += 1
            continue
        if ch == "{":
            close = i
            depth = 0
            for close in range(i, n):
                depth += {"{": 1, "}": -1}.get(tree[close], 0)
                if depth == 0:
                    break
            parse_use_tree(tree[i + 1:close], base + prefix, offset + i + 1, out)
            prefix = []
            i = close + 1
            continue
        i += 1
    return out


USE_STMT = re.compile(r"(?<![\w:])use\s+(::)?([^;]*);", re.S)


INLINE_MOD = re.compile(rf"(?<![\w:])mod\s+({IDENT})\s*\{{")


class LayoutError(Exception):
    """The tree is not the one this script knows how to read."""


class Module:
    def __init__(self, name, path, code, is_function=False):
        self.name = name  # ["adapters", "rest"], [] for lib.rs
        self.path = path
        self.code = code
        self.is_function = is_function
        # Where `crate::` points: [] in shared, ["domain"] in the domain crate (shared re-exports
        # it as `shared::domain`, so both name its modules alike).
        self.crate_prefix = []
        self.uses = []  # (absolute path or None, binding, offset, raw root, is pub)
        self.raw_uses = []  # (path as written, binding, offset)
        self.pub_uses = {}  # name -> absolute path (re-exports)
        self.bindings = {}  # name -> absolute path, for every name a `use` (or `mod x;`) binds
        # Inline `mod x { .. }` blocks: (start, end, name), for what `super::` means inside them.
        self.inline = [(m.start(), matching_brace(code, m.end() - 1), m.group(1))
                       for m in INLINE_MOD.finditer(code)]
        # `mod x;` declares a child module that code names as `x::..`.
        self.children = {m.group(1) for m in re.finditer(rf"(?<![\w:])mod\s+({IDENT})\s*;", code)}

    def name_at(self, offset):
        return list(self.name) + [n for a, b, n in self.inline if a <= offset <= b]


def module_name(rel):
    parts = list(Path(rel).with_suffix("").parts)
    if parts and parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return parts


def absolute(path, module, crate_root, offset=0):
    """Resolves a path's root (crate/super/self/shared) against the module; None if external."""
    if not path:
        return None
    head, rest = path[0], path[1:]
    if head == "crate" and crate_root == "crate":
        return list(module.crate_prefix) + rest
    if head == "shared":
        return rest
    if head == "domain" and crate_root == "crate" and not module.crate_prefix:
        return ["domain"] + rest  # the domain crate, which is `shared::domain`
    if module.is_function:
        return None  # `super::`, `self::` in a function are the function's own modules
    base = module.name_at(offset)
    if head in ("super", "self"):
        while path and path[0] in ("super", "self"):
            if path[0] == "super":
                base = base[:-1]
            path = path[1:]
        return base + path
    return None


def read_tree(root, min_files=MIN_FILES):
    """The modules of shared/src and of functions/*/src; test-only files are left out."""
    modules = {}
    shared = root / "shared" / "src"
    # The domain crate (shared/domain) is `shared::domain`: its files are the domain layer.
    domain = root / "shared" / "domain" / "src"
    for crate in (shared, domain):
        if not (crate / "lib.rs").is_file():
            raise LayoutError(f"{crate / 'lib.rs'} not found: is {root} the repository root?")
    files = sorted(shared.rglob("*.rs")) + sorted(domain.rglob("*.rs"))
    if len(files) < min_files:
        raise LayoutError(f"only {len(files)} files under {shared} and {domain}, expected at "
                          f"least {min_files}: files moved out of the folders this script reads?")
    texts = {}
    # A test-only `mod x;` is the file x.rs or x/mod.rs and everything under the folder x/ (its
    # own children, and theirs).
    test_files, test_dirs = set(), set()
    for f in files:
        text = f.read_text()
        code, test_mods = strip_test_items(strip_code(text), text)
        texts[f] = code
        directory = f.parent if f.name in ("mod.rs", "lib.rs") else f.parent / f.stem
        for name in test_mods:
            test_files.add(directory / f"{name}.rs")
            test_dirs.add(directory / name)
    for f in files:
        if f in test_files or any(d in f.parents for d in test_dirs):
            continue
        if f.is_relative_to(domain):
            name = ["domain"] + module_name(f.relative_to(domain))
            module = Module(name, f, texts[f])
            module.crate_prefix = ["domain"]
        else:
            name = module_name(f.relative_to(shared))
            module = Module(name, f, texts[f])
        modules["::".join(name)] = module
    functions = []
    for f in sorted((root / "functions").glob("*/src/**/*.rs")):
        text = f.read_text()
        code, _ = strip_test_items(strip_code(text), text)
        functions.append(Module(["<function>"], f, code, is_function=True))
    if not functions:
        raise LayoutError(f"no file under {root / 'functions'}/*/src: is {root} the repository root?")
    return modules, functions


EXTERN_CRATE = re.compile(rf"(?<![\w:])extern\s+crate\s+({IDENT})(?:\s+as\s+({IDENT}))?\s*;")


def collect_uses(module, crate_root):
    """Reads the module's `use` items, resolving each path's head: a root (crate, super, self,
    shared), a child `mod x;`, or a name another `use` of the module binds (`use crate::adapters;
    use adapters::http::json;`: Rust 2018 resolves `use` paths through the names in scope, in any
    order). An `extern crate shared as s;` binds `s` to the crate root of shared."""
    code = module.code
    bindings = {child: list(module.name) + [child] for child in module.children}
    for m in EXTERN_CRATE.finditer(code):
        if m.group(1) == "shared":
            bindings[m.group(2) or "shared"] = []
    if module.is_function:
        bindings.setdefault("shared", [])
    found = []  # (path, binding, offset, is pub, starts with `::`)
    for m in USE_STMT.finditer(code):
        stmt_start = m.start()
        items = parse_use_tree(m.group(2), [], m.start(2), [])
        is_pub = re.search(r"\bpub(\s*\([^)]*\))?\s*$", code[max(0, stmt_start - 20):stmt_start])
        for path, binding, offset in items:
            found.append((path, binding, offset, bool(is_pub), bool(m.group(1))))
            module.raw_uses.append((path, binding, offset))
    resolved = [None] * len(found)
    changed = True
    while changed:  # until no head resolves any more (a binding may come from a later `use`)
        changed = False
        for k, (path, binding, offset, _pub, global_path) in enumerate(found):
            if resolved[k] is not None or not path:
                continue
            if global_path:  # `use ::x::..`: an external crate (shared itself in a function)
                abs_path = path[1:] if module.is_function and path[0] == "shared" else None
            else:
                abs_path = absolute(path, module, crate_root, offset)
                if abs_path is None and path[0] in bindings and (len(path) > 1 or binding != path[0]):
                    abs_path = bindings[path[0]] + path[1:]
            if abs_path is not None:
                resolved[k] = abs_path
                changed = True
                if binding and binding != "*":
                    bindings.setdefault(binding, abs_path)
    for (path, binding, offset, is_pub, _global), abs_path in zip(found, resolved):
        module.uses.append((abs_path, binding, offset, path[0] if path else "", is_pub))
        if is_pub and abs_path is not None and binding and binding != "*":
            module.pub_uses[binding] = abs_path
    module.bindings = bindings


def resolve(path, modules, depth=0):
    """The module (file) that defines what `path` names: its longest prefix that is a module,
    following the re-exports (`pub use`) of a module for the name after it."""
    for k in range(len(path), -1, -1):
        name = "::".join(path[:k])
        if name in modules:
            mod = modules[name]
            if k < len(path) and path[k] in mod.pub_uses and depth < 8:
                target = mod.pub_uses[path[k]] + path[k + 1:]
                return resolve(target, modules, depth + 1)
            return name
    return None


def references(module, modules, crate_root):
    """(target module, line, path text) for each path of the crate the module names."""
    refs = []
    code = module.code
    use_spans = [(m.start(), m.end()) for m in USE_STMT.finditer(code)]
    bindings = module.bindings
    for abs_path, binding, offset, _raw, is_pub in module.uses:
        if abs_path is None:
            continue
        # A parent re-exporting its own children (`pub use access::Thing;` in store/mod.rs) is the
        # module's facade, not a dependency: code naming `store::Thing` is resolved through it.
        if is_pub and abs_path[:len(module.name)] == module.name and len(abs_path) > len(module.name):
            continue
        target = resolve(abs_path, modules)
        if target is None:
            continue
        # `use crate::store;` (or `pub use ..`) binding a module is an import of that module: an
        # import of a forbidden module is the violation, whether or not code names through it.
        refs.append((target, line_of(code, offset), "::".join(abs_path)))
    for m in PATH_IN_CODE.finditer(code):
        if any(a <= m.start() < b for a, b in use_spans):
            continue
        if m.start() > 0 and code[m.start() - 1] == ":":
            continue
        path = [p.strip() for p in m.group(1).split("::")]
        head = path[0]
        if head in ROOTS:
            if head == "self" and len(path) == 1:
                continue
            abs_path = absolute(path, module, crate_root, m.start())
        elif head in bindings:
            abs_path = bindings[head] + path[1:]
        else:
            continue
        if abs_path is None:
            continue
        target = resolve(abs_path, modules)
        if target is not None:
            refs.append((target, line_of(code, m.start()), "::".join(abs_path)))
    return refs


# --- the checks ---------------------------------------------------------------------------------


def layer_of(name):
    return name.split("::")[0] if name else ""


def adapter_of(name):
    parts = name.split("::")
    return "::".join(parts[:2]) if parts[0] == "adapters" and len(parts) > 1 else None


def import_violation(source, target):
    src_layer, dst_layer = layer_of(source), layer_of(target)
    if src_layer == dst_layer:
        if src_layer == "adapters":
            a, b = adapter_of(source), adapter_of(target)
            if a and b and a != b and b != ADAPTERS_SHARED:
                return f"{a} imports {target}: adapters share helpers only through {ADAPTERS_SHARED}"
        return None
    if any(target == m or target.startswith(m + "::") for m in ALLOWED_MODULES.get(src_layer, ())):
        return None
    if dst_layer not in ALLOWED.get(src_layer, set()):
        allowed = ", ".join(sorted(ALLOWED.get(src_layer, set()))) or "nothing else of the crate"
        return f"{src_layer or 'crate root'} imports {target} (allowed: {allowed})"
    return None


def shortest_cycle(edges, scc, start):
    """The shortest path start -> ... -> start within the component, breadth first."""
    previous = {start: None}
    queue = [start]
    while queue:
        following = []
        for v in queue:
            for w in sorted(edges.get(v, ())):
                if w not in scc:
                    continue
                if w == start:
                    path = [v]
                    while previous[path[-1]] is not None:
                        path.append(previous[path[-1]])
                    return list(reversed(path)) + [start]
                if w not in previous:
                    previous[w] = v
                    following.append(w)
        queue = following
    return [start, start]


def find_cycles(edges):
    """Tarjan's strongly connected components; one shortest cycle through each non-trivial one."""
    index, low, on_stack, stack, sccs = {}, {}, set(), [], []
    counter = [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                scc.add(w)
                if w == v:
                    break
            if len(scc) > 1 or v in edges.get(v, ()):
                sccs.append(scc)

    for v in sorted(edges):
        if v not in index:
            visit(v)
    # The shortest cycle through each file of a component, each cycle once (started at its
    # smallest file), so that every file on a cycle is named.
    cycles = []
    for scc in sccs:
        seen = set()
        for start in sorted(scc):
            path = shortest_cycle(edges, scc, start)
            body = path[:-1]
            k = body.index(min(body))
            rotated = tuple(body[k:] + body[:k])
            if rotated not in seen:
                seen.add(rotated)
                cycles.append(list(rotated) + [rotated[0]])
    return cycles


def clock_aliases(module):
    """`Alias::now` patterns for the clock types the module imports under another name."""
    found = []
    for path, binding, _offset in module.raw_uses:
        if path and path[-1] in CLOCK_TYPES and binding not in (None, "*", path[-1]):
            found.append((re.compile(rf"\b{re.escape(binding)}\s*::\s*now\b"),
                          f"the clock ({path[-1]}::now, imported as {binding})"))
    return found


def test_support_outside_dev(root):
    """(file, line) of each place a function's Cargo.toml enables shared's `test-support` other
    than for its tests, or shared enables it by default: its test-only code would then ship."""
    found = []
    manifests = sorted((root / "functions").glob("*/Cargo.toml")) + [root / "shared" / "Cargo.toml"]
    for manifest in manifests:
        if not manifest.is_file():
            continue
        section = ""
        for number, line in enumerate(manifest.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            header = re.match(r"\s*\[+\s*([^\]]+?)\s*\]+", code)
            if header:
                section = header.group(1)
            if "test-support" not in code:
                continue
            if manifest.parent.name == "shared" and manifest.parent.parent == root:
                if section == "features" and re.match(r"\s*default\s*=", code):
                    found.append((manifest, number))
            elif "dev-dependencies" not in section:
                found.append((manifest, number))
    return found


def check(root, min_files=MIN_FILES):
    """Every violation under root, as (file, line, message), and the number of files checked.
    Raises LayoutError when root is not a tree it can read."""
    modules, functions = read_tree(root, min_files)
    for mod in modules.values():
        collect_uses(mod, "crate")
    for fn in functions:
        collect_uses(fn, "extern")
    violations = []
    edges = {}
    edge_line = {}

    def rel(path):
        return os.path.relpath(path, root)

    bad_imports = {}
    for name, mod in sorted(modules.items()):
        for target, line, text in references(mod, modules, "crate"):
            if target == name or name.startswith(target + "::") and not text.startswith(target + "::"):
                # A module naming itself, or its parent through `super::*`-style glob: no edge
                # worth a layer check beyond the import rule of the same layer.
                if target == name:
                    continue
            message = import_violation(name, target)
            if message:
                found = bad_imports.setdefault((name, target), [message, []])
                found[1].append((line, text))
            edges.setdefault(name, set()).add(target)
            edge_line.setdefault((name, target), line)
        if layer_of(name) == "domain":
            for pattern, what in DOMAIN_FORBIDDEN + clock_aliases(mod):
                for m in pattern.finditer(mod.code):
                    violations.append((rel(mod.path), line_of(mod.code, m.start()),
                                       f"domain uses {what}: a rule takes such values as arguments"))
        if layer_of(name) == "flows":
            for pattern, what in FLOWS_FORBIDDEN:
                for m in pattern.finditer(mod.code):
                    written = re.sub(r"\s+", "", m.group(0))
                    if (name, written) in FLOWS_FORBIDDEN_KNOWN:
                        continue
                    violations.append((rel(mod.path), line_of(mod.code, m.start()),
                                       f"flows use {what} ({written}): a flow is transport independent "
                                       "and reaches DynamoDB through the store"))
    for (name, target), (message, places) in bad_imports.items():
        places.sort()
        line, text = places[0]
        more = sorted({p[0] for p in places[1:]} - {line})
        also = f"; also line(s) {', '.join(map(str, more))}" if more else ""
        violations.append((rel(modules[name].path), line, f"{message} [{text}{also}]"))
    for path in find_cycles(edges):
        steps = []
        for a, b in zip(path, path[1:]):
            steps.append(f"{rel(modules[a].path)}:{edge_line[(a, b)]}")
        steps.append(rel(modules[path[-1]].path))
        first = modules[path[0]]
        violations.append((rel(first.path), edge_line[(path[0], path[1])],
                           "import cycle: " + " -> ".join(steps)))
    allowed_in_functions = "allowed: shared::adapters, shared::platform, shared::AppState, shared::ApiError"
    for fn in functions:
        code = fn.code
        # Every `use` rooted in shared (`shared::`, `::shared::`, an alias of it, or a name an
        # other `use` bound into it). Binding the crate root itself (`use shared as s;`) is no
        # violation: what the code then names through `s` is checked below; a glob of the root
        # (`use shared::*;`) brings every layer into scope and is one.
        for abs_path, binding, offset, _raw, _pub in fn.uses:
            if abs_path is None or (not abs_path and binding != "*"):
                continue
            if not abs_path or abs_path[0] not in FUNCTION_ALLOWED_PREFIXES:
                violations.append((rel(fn.path), line_of(code, offset),
                                   f"a function imports shared::{'::'.join(abs_path) or '*'} ({allowed_in_functions})"))
        use_spans = [(m.start(), m.end()) for m in USE_STMT.finditer(code)]
        roots = {name for name, path in fn.bindings.items() if path == []}  # shared and its aliases
        for m in PATH_IN_CODE.finditer(code):
            if any(a <= m.start() < b for a, b in use_spans):
                continue
            before = code[:m.start()].rstrip()
            if before.endswith("::") and re.search(r"[\w>]\s*::$", before):
                continue  # `a::shared::..`: not the crate (a bare `::shared::..` is)
            path = [p.strip() for p in m.group(1).split("::")]
            if path[0] in roots and path[1] not in FUNCTION_ALLOWED_PREFIXES:
                violations.append((rel(fn.path), line_of(code, m.start()),
                                   f"a function names shared::{path[1]} ({allowed_in_functions})"))
    for manifest, line in test_support_outside_dev(root):
        violations.append((rel(manifest), line,
                           "enables shared's test-support feature outside [dev-dependencies]: "
                           "its test-only code, which this check skips, would ship"))
    return sorted(set(violations), key=lambda v: (v[0], v[1], v[2])), len(modules) + len(functions)


# --- self-test ------------------------------------------------------------------------------------


def self_test_cases():
    """A made-up tree in the real layout (shared/src and the domain crate in shared/domain/src),
    and the violations it must give: (file, line, fragment of the message)."""
    cases = {
        "shared/src/lib.rs": "pub mod store; pub mod flows; pub mod adapters; pub mod platform;\n"
                             "pub use domain;\npub use domain::error::ApiError;\npub use platform::state::AppState;\n",
        # The domain crate: `crate::x` is `domain::x` (allowed, its own), `shared::x` is the rest.
        "shared/domain/src/lib.rs": "pub mod error; pub mod rules; pub mod parse; pub mod plan; pub mod clock;\n",
        "shared/domain/src/error.rs": "pub struct ApiError;\n",
        # Forbidden imports in a use and in code, a clock read, innocent look-alikes, test-only
        # items, and an item under a cfg production compiles too (`any(test, unix)`).
        "shared/domain/src/rules.rs": (
            "use crate::error::ApiError;\n"
            "use shared::store::items::Row;\n"
            "// crate::flows::x in a comment\n"
            "const S: &str = \"crate::flows::y\";\n"
            "const R: &str = r#\"crate::flows::z \"quoted\" \"#;\n"
            "fn f<'a>(c: char) -> bool { c == '\"' }\n"
            "pub fn now() -> u64 { std::time::SystemTime::now(); 0 }\n"
            "pub fn g() { shared::store::users::load(); }\n"
            "#[cfg(test)]\nmod tests { use shared::flows::a; fn t() { tokio::spawn(); } }\n"
            "#[cfg(test)]\nfn clock() { chrono::Utc::now(); }\n"
            "pub fn h() -> ApiError { crate::error::ApiError }\n"
            "#[cfg(any(test, unix))]\n"
            "fn on_unix() { tokio::spawn(); }\n"
        ),
        # A cycle inside the domain crate, through `crate::`.
        "shared/domain/src/parse.rs": "use crate::plan::Plan;\npub struct Query;\n",
        "shared/domain/src/plan.rs": "pub struct Plan;\npub fn of(q: &crate::parse::Query) {}\n",
        # The clock under another name, and `.elapsed()`; an Instant passed in is fine.
        "shared/domain/src/clock.rs": (
            "use std::time::{Duration, Instant as Moment};\n"
            "use std::time::SystemTime as T;\n"
            "pub fn age(t: Moment) -> Duration { t.elapsed() }\n"
            "pub fn stamp() -> T { T::now() }\n"
            "pub fn at(now: Moment) -> Moment { now }\n"
            "pub fn fresh() -> Moment { Moment::now() }\n"
        ),
        # A cycle of three files: store::items -> store::users -> flows::a -> store::items.
        # A facade re-export of children is no edge (else store <-> store::items is a cycle).
        # Test-only modules: `testing` (any(test, feature = "test-support")) and `fixtures`
        # (cfg(test)) with every file under its folder.
        "shared/src/store/mod.rs": (
            "pub mod items; pub mod users;\npub use items::Row;\npub const VERSION: u8 = 1;\n"
            "#[cfg(any(test, feature = \"test-support\"))]\npub mod testing;\n"
            "#[cfg(test)]\nmod fixtures;\n"
        ),
        "shared/src/store/testing.rs": "use crate::adapters::http::ok;\n",
        "shared/src/store/fixtures/mod.rs": "mod seed; mod deep;\n",
        "shared/src/store/fixtures/seed.rs": "use crate::flows::a::f;\n",
        "shared/src/store/fixtures/deep/mod.rs": "mod rows;\n",
        "shared/src/store/fixtures/deep/rows.rs": "pub fn r() { crate::adapters::http::ok(); }\n",
        "shared/src/store/items.rs": "use super::users::User;\npub struct Row;\npub fn g() { let _ = super::VERSION; }\n",
        "shared/src/store/users.rs": "pub struct User;\npub fn load() { crate::flows::a::f(); }\n",
        "shared/src/flows/mod.rs": "pub mod a; pub mod b; pub mod c; pub mod d; pub mod e; pub mod items;\n",
        "shared/src/flows/a.rs": "use crate::store::items;\npub fn f() { let _ = items::Row; }\n",
        # A flow may take the state (ALLOWED_MODULES), not the runtime.
        "shared/src/flows/b.rs": (
            "use crate::platform::state::AppState;\nuse crate::platform::runtime::start;\n"
        ),
        # A use binding a module is an import of it; a use starting from a name a use bound.
        "shared/src/flows/c.rs": (
            "use crate::adapters;\nuse adapters::http;\npub fn f() { http::ok(); }\n"
        ),
        # The name a later `use` binds counts as well (use items are not ordered).
        "shared/src/flows/e.rs": "use adapters::http::ok;\nuse crate::adapters as adapters;\n",
        # A re-export of a module; the HTTP transport and AWS SDK types in a flow.
        "shared/src/flows/d.rs": (
            "pub use crate::adapters::http;\n"
            "use lambda_http::Request;\n"
            "pub fn put(c: &aws_sdk_dynamodb::Client) {}\n"
            "type Key = aws_sdk_dynamodb::types::AttributeValue;\n"
        ),
        # No exception left (FLOWS_FORBIDDEN_KNOWN is empty): AWS names in any flow are reported.
        "shared/src/flows/items.rs": "use aws_sdk_dynamodb::types::AttributeValue;\n",
        "shared/src/platform/mod.rs": "pub mod state; pub mod runtime;\n",
        "shared/src/platform/state.rs": "pub struct AppState;\n",
        "shared/src/platform/runtime.rs": "pub fn start() {}\n",
        # Adapters: rest may use http but not graphql; graphql must not use the store. The cfg in
        # the other order is test-only as well.
        "shared/src/adapters/mod.rs": (
            "pub mod http; pub mod rest; pub mod graphql;\n"
            "#[cfg(any(feature = \"test-support\", test))]\npub mod testing;\n"
        ),
        "shared/src/adapters/testing.rs": "use crate::store::users::load;\n",
        "shared/src/adapters/http.rs": "pub fn ok() {}\n",
        "shared/src/adapters/rest.rs": "use super::http;\nuse super::graphql::run;\npub fn r() { http::ok(); }\n",
        "shared/src/adapters/graphql.rs": "pub fn run() { crate::store::users::load(); }\n",
        "functions/items/src/lib.rs": (
            "use shared::{ApiError, adapters::rest};\n"
            "fn h() { shared::flows::a::f(); }\n"
            "use shared::store::items::Row;\n"
            "use shared::*;\n"
        ),
        # Aliases of shared, and `::shared`.
        "functions/items/src/main.rs": (
            "extern crate shared as s;\n"
            "use shared as t;\n"
            "fn main() { s::store::users::load(); t::flows::a::f(); s::adapters::http::ok(); }\n"
            "use t::flows::b;\n"
            "fn x() { ::shared::flows::a::f(); }\n"
        ),
        "functions/items/Cargo.toml": (
            "[package]\nname = \"items\"\n"
            "[dependencies]\nshared = { workspace = true, features = [\"test-support\"] }\n"
            "[dev-dependencies]\nshared = { workspace = true, features = [\"test-support\"] }\n"
        ),
    }
    expected = [
        ("shared/domain/src/rules.rs", 2, "domain imports store::items"),
        ("shared/domain/src/rules.rs", 7, "the clock (SystemTime::now)"),
        ("shared/domain/src/rules.rs", 8, "domain imports store::users"),
        ("shared/domain/src/rules.rs", 15, "the async runtime (tokio)"),
        ("shared/domain/src/parse.rs", 1, "import cycle: shared/domain/src/parse.rs:1 -> shared/domain/src/plan.rs:2 -> shared/domain/src/parse.rs"),
        ("shared/domain/src/clock.rs", 3, "the clock (.elapsed() reads it)"),
        ("shared/domain/src/clock.rs", 4, "the clock (SystemTime::now, imported as T)"),
        ("shared/domain/src/clock.rs", 6, "the clock (Instant::now, imported as Moment)"),
        ("shared/src/store/users.rs", 2, "store imports flows::a"),
        ("shared/src/flows/a.rs", 1, "import cycle: shared/src/flows/a.rs:1 -> shared/src/store/items.rs:1 -> shared/src/store/users.rs:2 -> shared/src/flows/a.rs"),
        ("shared/src/flows/b.rs", 2, "flows imports platform::runtime"),
        ("shared/src/flows/c.rs", 1, "flows imports adapters (allowed"),
        ("shared/src/flows/c.rs", 2, "flows imports adapters::http (allowed"),
        ("shared/src/flows/d.rs", 1, "flows imports adapters::http (allowed"),
        ("shared/src/flows/e.rs", 1, "flows imports adapters::http (allowed"),
        ("shared/src/flows/e.rs", 2, "flows imports adapters (allowed"),
        ("shared/src/flows/d.rs", 2, "flows use the HTTP transport (lambda_http)"),
        ("shared/src/flows/d.rs", 3, "flows use an AWS SDK crate (aws_sdk_dynamodb::Client)"),
        ("shared/src/flows/items.rs", 1, "flows use an AWS SDK crate (aws_sdk_dynamodb::types::AttributeValue)"),
        ("shared/src/flows/d.rs", 4, "flows use an AWS SDK crate (aws_sdk_dynamodb::types::AttributeValue)"),
        ("shared/src/adapters/rest.rs", 2, "adapters::rest imports adapters::graphql"),
        ("shared/src/adapters/graphql.rs", 1, "adapters imports store::users"),
        ("functions/items/src/lib.rs", 2, "a function names shared::flows"),
        ("functions/items/src/lib.rs", 3, "a function imports shared::store::items::Row"),
        ("functions/items/src/lib.rs", 4, "a function imports shared::*"),
        ("functions/items/src/main.rs", 3, "a function names shared::store"),
        ("functions/items/src/main.rs", 3, "a function names shared::flows"),
        ("functions/items/src/main.rs", 4, "a function imports shared::flows::b"),
        ("functions/items/src/main.rs", 5, "a function names shared::flows"),
        ("functions/items/Cargo.toml", 4, "test-support feature outside [dev-dependencies]"),
    ]
    return cases, expected


def compare(violations, expected):
    """What the violations miss of `expected`, and what they have beyond it."""
    failures = []
    for file, line, fragment in expected:
        if not any(v[0] == file and v[1] == line and fragment in v[2] for v in violations):
            failures.append(f"missed: {file}:{line}: {fragment}")
    for v in violations:
        if not any(v[0] == file and v[1] == line and fragment in v[2] for file, line, fragment in expected):
            failures.append(f"unexpected: {v[0]}:{v[1]}: {v[2]}")
    return failures


def self_test():
    cases, expected = self_test_cases()
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for rel, text in cases.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text)
        violations, _ = check(root, min_files=len([c for c in cases if c.endswith(".rs") and c.startswith("shared/")]))
        failures += compare(violations, expected)
        # A tree it cannot have read is refused, never "0 files, no cycle": too few files for
        # the real tree's minimum, a missing domain crate, a missing shared/src, a wrong root.
        refusals = [("the real minimum", root, MIN_FILES)]
        (root / "shared/domain/src/lib.rs").rename(root / "shared/domain/src/main.rs")
        refusals.append(("no shared/domain/src/lib.rs", root, 1))
        (root / "shared/domain/src/main.rs").rename(root / "shared/domain/src/lib.rs")
        (root / "shared/src").rename(root / "shared/source")
        refusals.append(("no shared/src", root, 1))
        refusals.append(("a wrong root", root / "functions", 1))
        for what, where, minimum in refusals:
            try:
                check(where, min_files=minimum)
                failures.append(f"not refused: {what}")
            except LayoutError:
                pass
    # The use-tree parser on its own.
    tree = parse_use_tree("crate::{a::{self, b as c}, d::*, e}", [], 0, [])
    got = [("::".join(p), b) for p, b, _ in tree]
    want = [("crate::a", "a"), ("crate::a::b", "c"), ("crate::d", "*"), ("crate::e", "e")]
    if got != want:
        failures.append(f"use tree: got {got}, want {want}")
    if failures:
        print("check_layers self-test FAILED:\n  " + "\n  ".join(failures))
        return 1
    print(f"check_layers self-test: {len(expected)} planted violations found, none extra, "
          f"{len(refusals)} unreadable trees refused, use trees parsed")
    return 0


def main(argv):
    args = argv[1:]
    if args == ["--self-test"]:
        return self_test()
    min_files = MIN_FILES
    if args[:1] == ["--min-files"] and len(args) >= 2 and args[1].isdigit():
        min_files, args = int(args[1]), args[2:]
    if len(args) > 1 or any(a.startswith("-") for a in args):
        print("usage: check_layers.py [--min-files N] [ROOT] | --self-test", file=sys.stderr)
        return 2
    root = Path(args[0]) if args else Path(__file__).resolve().parent.parent
    try:
        violations, count = check(root, min_files)
    except LayoutError as e:
        print(f"check_layers: cannot check: {e}")
        return 1
    for file, line, message in violations:
        print(f"{file}:{line}: {message}")
    if violations:
        print(f"check_layers: {len(violations)} violation(s) in {count} files")
        return 1
    print(f"check_layers: {count} files, layers and imports as ALLOWED says, no cycle")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
