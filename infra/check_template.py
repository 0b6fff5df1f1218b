#!/usr/bin/env python3
"""Fails when template.yaml and the workspace drift apart.

- every crate in functions/ has exactly one AWS::Serverless::Function (BuildProperties.Binary),
  built with rust-cargolambda, and every function resource has a crate;
- every HttpApi route of the template is in the local router
  ([workspace.metadata.lambda.watch.router] in Cargo.toml) with the same method, path and
  function, and back;
- docs/openapi.yaml documents exactly the local router's routes (method and path);
- every function's policies grant exactly the DynamoDB actions and resources
  infra/dynamodb-access.json declares for it (check_access.py; the end-to-end run checks the
  declaration against what the functions really do).
- the local stack's API Gateway stand-in (infra/devstack/src/gateway.rs) has the HttpApi's CORS
  configuration.
- every function's Lambda `Errors` and `Throttles` are each summed by exactly one alarm, and no
  metric-math alarm holds more metrics than CloudWatch accepts (10).
Run by `make test` with the virtual environment's Python (cfn-lint provides the YAML loader
that understands CloudFormation's short-form tags).
"""
import pathlib
import re
import sys
import tomllib

import yaml

from cfnlint.decode import cfn_yaml

import check_access

ROOT = pathlib.Path(__file__).resolve().parent.parent


# CloudWatch refuses (at deployment) a metric-math alarm with more metrics than this.
MAX_ALARM_METRICS = 10


def alarm_problems(resources: dict) -> list[str]:
    """Each function's Errors and Throttles in exactly one alarm; alarms within CloudWatch's limit."""
    problems = []
    functions = {n for n, r in resources.items() if r.get("Type") == "AWS::Serverless::Function"}
    watched = {"Errors": [], "Throttles": []}
    for name, resource in resources.items():
        if resource.get("Type") != "AWS::CloudWatch::Alarm":
            continue
        queries = resource["Properties"].get("Metrics", [])
        if not queries:
            continue
        stats = [q["MetricStat"] for q in queries if "MetricStat" in q]
        if len(stats) > MAX_ALARM_METRICS:
            problems.append(f"{name} has {len(stats)} metrics; CloudWatch takes at most {MAX_ALARM_METRICS}")
        ids = [q.get("Id", "") for q in queries]
        if len(set(ids)) != len(ids) or not all(re.fullmatch(r"[a-z][A-Za-z0-9_]*", i) for i in ids):
            problems.append(f"{name}: query ids must be unique and start with a lowercase letter: {ids}")
        returned = [q for q in queries if q.get("ReturnData", True)]
        if len(returned) != 1 or returned[0].get("Expression") != "SUM(METRICS())":
            problems.append(f"{name}: exactly one query returns data, and it is SUM(METRICS())")
        for stat in stats:
            metric = stat["Metric"]
            if metric.get("Namespace") != "AWS/Lambda" or metric.get("MetricName") not in watched:
                continue
            if stat.get("Stat") != "Sum" or stat.get("Period") != 300:
                problems.append(f"{name}: {metric['MetricName']} is summed over 5 minutes")
            for dimension in metric.get("Dimensions", []):
                if dimension.get("Name") == "FunctionName":
                    watched[metric["MetricName"]].append(dimension["Value"].get("Ref"))
    for metric, refs in watched.items():
        for function in sorted(functions):
            count = refs.count(function)
            if count != 1:
                problems.append(f"{function}'s {metric} is in {count} alarms, expected 1")
        for ref in sorted(set(refs) - functions):
            problems.append(f"an alarm watches {metric} of {ref}, which is not a function")
    return problems


def main() -> int:
    template = cfn_yaml.load(str(ROOT / "template.yaml"))
    cargo = tomllib.loads((ROOT / "Cargo.toml").read_text())
    problems = []

    crates = sorted(p.parent.name for p in (ROOT / "functions").glob("*/Cargo.toml"))
    functions = {}
    template_routes = set()
    for name, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        metadata = resource.get("Metadata", {})
        binary = metadata.get("BuildProperties", {}).get("Binary")
        if metadata.get("BuildMethod") != "rust-cargolambda":
            problems.append(f"{name}: BuildMethod is not rust-cargolambda")
        if binary is None:
            problems.append(f"{name}: no Metadata.BuildProperties.Binary")
            continue
        if binary in functions:
            problems.append(f"{name} and {functions[binary]} both build {binary}")
        functions[binary] = name
        for event in resource.get("Properties", {}).get("Events", {}).values():
            if event.get("Type") == "HttpApi":
                props = event["Properties"]
                template_routes.add((props["Method"].upper(), props["Path"], binary))

    for crate in crates:
        if crate not in functions:
            problems.append(f"functions/{crate} has no function resource in template.yaml")
    for binary, name in functions.items():
        if binary not in crates:
            problems.append(f"{name} builds {binary}, which is not a crate in functions/")

    router = cargo["workspace"]["metadata"]["lambda"]["watch"]["router"]
    # A route given as a bare function name takes every method. The local catch-all
    # `/{*path}` is what API Gateway calls `$default`.
    local_routes = set()
    for path, routes in router.items():
        # matchit's greedy `{*name}` is API Gateway's `{name+}`.
        path = "$default" if path == "/{*path}" else re.sub(r"\{\*(\w+)\}", r"{\1+}", path)
        if isinstance(routes, str):
            local_routes.add(("ANY", path, routes))
        else:
            local_routes.update((r["method"].upper(), path, r["function"]) for r in routes)
    for route in sorted(template_routes - local_routes):
        problems.append(f"template route {route} is not in the local router")
    for route in sorted(local_routes - template_routes):
        problems.append(f"local route {route} is not in template.yaml")

    # The API document describes the same routes; it names no functions.
    document = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text())
    documented = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
        if method in ("get", "put", "post", "delete", "patch", "head", "options")
    }
    # `$default` has no path of its own to document: the document's description covers it.
    # An `ANY` route is documented with the methods it serves (the others answer 405).
    routed = {(method, path) for method, path, _ in local_routes if path != "$default" and method != "ANY"}
    any_paths = {path for method, path, _ in local_routes if method == "ANY" and path != "$default"}
    for path in sorted(any_paths):
        if not any(p == path for _, p in documented):
            problems.append(f"route ANY {path} is not documented in docs/openapi.yaml")
    documented = {(m, p) for m, p in documented if p not in any_paths}
    for route in sorted(documented - routed):
        problems.append(f"docs/openapi.yaml documents {route}, which no function serves")
    for route in sorted(routed - documented):
        problems.append(f"route {route} is not documented in docs/openapi.yaml")

    # The local front answers CORS with the template's configuration.
    gateway = (ROOT / "infra" / "devstack" / "src" / "gateway.rs").read_text()
    constants = dict(re.findall(r'pub const (CORS_\w+|DEFAULT_CORS_ORIGINS): &str = "([^"]*)";', gateway))
    cors = template["Resources"]["Api"]["Properties"].get("CorsConfiguration", {})
    origins_default = template["Parameters"]["CorsAllowOrigins"].get("Default", "")
    expected = {
        "DEFAULT_CORS_ORIGINS": origins_default,
        "CORS_ALLOW_HEADERS": ",".join(h.lower() for h in cors.get("AllowHeaders", [])),
        "CORS_ALLOW_METHODS": ",".join(m.upper() for m in cors.get("AllowMethods", [])),
        "CORS_MAX_AGE": str(cors.get("MaxAge", "")),
    }
    for name, value in expected.items():
        if constants.get(name) != value:
            problems.append(f"gateway.rs {name} is {constants.get(name)!r}, the template's {value!r}")
    if cors.get("AllowCredentials") is not True:
        problems.append("the template's CORS no longer allows credentials; gateway.rs does")
    if cors.get("AllowOrigins") != {"Ref": "CorsAllowOrigins"}:
        problems.append("the template's AllowOrigins is not the CorsAllowOrigins parameter")

    globals_ = template.get("Globals", {}).get("Function", {})
    for key, expected in (("Runtime", "provided.al2023"), ("Handler", "bootstrap"), ("Architectures", ["arm64"])):
        if globals_.get(key) != expected:
            problems.append(f"Globals.Function.{key} is {globals_.get(key)!r}, expected {expected!r}")

    problems.extend(check_access.template_problems(template))
    problems.extend(alarm_problems(template["Resources"]))

    if problems:
        print("template.yaml and the workspace disagree:")
        for problem in problems:
            print(f"  - {problem}")
        return 1
    print(
        f"template.yaml and docs/openapi.yaml match the workspace: {len(functions)} functions, "
        f"{len(template_routes)} routes, DynamoDB grants as in infra/dynamodb-access.json"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
