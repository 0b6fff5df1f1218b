#!/usr/bin/env python3
"""DynamoDB access: what each function needs, what template.yaml grants, what the tests saw.

infra/dynamodb-access.json declares, per function binary, the IAM actions it needs on each
resource (a table's role `users`, `sessions`, `config`, `items`, or an index
`sessions/index/by_user`), optionally limited by `dynamodb:LeadingKeys` patterns.

    check_access.py template          template.yaml grants exactly the declared actions on
                                      exactly the declared resources (missing and extra are
                                      both errors); also run by check_template.py
    check_access.py observed LOG      the end-to-end run used exactly the declared actions:
                                      every observed access is declared (and matches its
                                      LeadingKeys patterns), every declared one was observed

LOG is what the functions of the test stack wrote through shared::store::access_log
(`<function> <action> <resource> <leading key>` per line; tests/support/mod.rs sets it to
target/dynamodb-access.log). Run with the virtual environment's Python (cfn-lint's loader
reads CloudFormation's short-form tags).
"""
import fnmatch
import json
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
DECLARED = ROOT / "infra" / "dynamodb-access.json"
ACCESS_LOG_VARIABLE = "DYNAMODB_ACCESS_LOG"

# SAM policy templates a function may use: none of them touches DynamoDB.
NON_DYNAMODB_POLICY_TEMPLATES = {"AWSSecretsManagerGetSecretValuePolicy"}
LEADING_KEYS_OPERATORS = {"ForAllValues:StringLike", "ForAllValues:StringEquals"}


def load_declared():
    """{binary: {(action, resource, leading_keys)}} with leading_keys a sorted tuple (or ())."""
    document = json.loads(DECLARED.read_text())
    declared = {}
    for binary, grants in document["functions"].items():
        entries = set()
        for grant in grants:
            keys = tuple(sorted(grant.get("leading_keys", [])))
            for action in grant["actions"]:
                entries.add((action, grant["resource"], keys))
        declared[binary] = entries
    return declared


def table_roles(template):
    """{logical id: role} of the template's tables: UsersTable -> users."""
    return {
        name: name[: -len("Table")].lower()
        for name, resource in template["Resources"].items()
        if resource.get("Type") == "AWS::DynamoDB::Table" and name.endswith("Table")
    }


def resource_role(value, tables):
    """`!GetAtt UsersTable.Arn` -> users; `!Sub "${SessionsTable.Arn}/index/by_user"` ->
    sessions/index/by_user; anything else -> None."""
    if isinstance(value, dict) and len(value) == 1:
        (function, argument), = value.items()
        if function == "Fn::GetAtt":
            parts = argument.split(".") if isinstance(argument, str) else list(argument)
            if len(parts) == 2 and parts[1] == "Arn" and parts[0] in tables:
                return tables[parts[0]]
        if function == "Fn::Sub" and isinstance(argument, str):
            match = re.fullmatch(r"\$\{(\w+)\.Arn\}(/index/[A-Za-z0-9_.-]+)?", argument)
            if match and match.group(1) in tables:
                return tables[match.group(1)] + (match.group(2) or "")
    return None


def as_list(value):
    return value if isinstance(value, list) else [value]


def statement_grants(where, statement, tables, problems):
    """The (action, resource, leading_keys) a statement grants on DynamoDB."""
    if not isinstance(statement, dict):
        problems.append(f"{where}: a statement that is not a mapping")
        return set()
    for key in ("NotAction", "NotResource", "NotPrincipal"):
        if key in statement:
            problems.append(f"{where}: {key} cannot be checked; name actions and resources")
    actions = [a for a in as_list(statement.get("Action", [])) if isinstance(a, str)]
    dynamodb = [a for a in actions if a.lower().startswith("dynamodb:") or a == "*"]
    if not dynamodb:
        return set()
    if statement.get("Effect") != "Allow":
        problems.append(f"{where}: only Allow statements are understood")
        return set()
    for action in dynamodb:
        if "*" in action or "?" in action:
            problems.append(f"{where}: wildcard action {action!r}; name each action")
    dynamodb = [a for a in dynamodb if "*" not in a and "?" not in a]
    resources = []
    for value in as_list(statement.get("Resource", [])):
        role = resource_role(value, tables)
        if role is None:
            problems.append(
                f"{where}: resource {value!r} is not a table's `!GetAtt X.Arn` or "
                f"`!Sub \"${{X.Arn}}/index/NAME\"`"
            )
        else:
            resources.append(role)
    leading_keys = ()
    for operator, conditions in (statement.get("Condition") or {}).items():
        keys = dict(conditions)
        patterns = keys.pop("dynamodb:LeadingKeys", None)
        if operator not in LEADING_KEYS_OPERATORS or patterns is None or keys or leading_keys:
            problems.append(
                f"{where}: only one ForAllValues:StringLike (or StringEquals) condition on "
                f"dynamodb:LeadingKeys is understood, not {operator}: {dict(conditions)!r}"
            )
            continue
        leading_keys = tuple(sorted(as_list(patterns)))
    return {(action, resource, leading_keys) for action in dynamodb for resource in resources}


def granted(template, problems):
    """{binary: {(action, resource, leading_keys)}} from the functions' Policies."""
    tables = table_roles(template)
    grants = {}
    for name, resource in template["Resources"].items():
        kind = resource.get("Type", "")
        if kind.startswith("AWS::IAM::"):
            problems.append(f"{name}: {kind} is outside any function's Policies; not checked")
        if kind != "AWS::Serverless::Function":
            continue
        binary = resource.get("Metadata", {}).get("BuildProperties", {}).get("Binary", name)
        properties = resource.get("Properties", {})
        if "Role" in properties:
            problems.append(f"{name}: a Role of its own cannot be checked; use Policies")
        entries = set()
        for index, policy in enumerate(as_list(properties.get("Policies", []))):
            where = f"{name}.Policies[{index}]"
            if isinstance(policy, str):
                problems.append(f"{where}: managed policy {policy!r} cannot be checked")
            elif not isinstance(policy, dict):
                problems.append(f"{where}: not understood")
            elif "Statement" in policy:
                for number, statement in enumerate(as_list(policy["Statement"])):
                    entries |= statement_grants(f"{where}.Statement[{number}]", statement, tables, problems)
            else:
                for template_name in policy:
                    if template_name not in NON_DYNAMODB_POLICY_TEMPLATES:
                        problems.append(
                            f"{where}: policy template {template_name} is not known to leave "
                            f"DynamoDB alone; write a Statement instead"
                        )
        grants[binary] = entries
    return grants


def describe(entry):
    action, resource, keys = entry
    return f"{action} on {resource}" + (f" (LeadingKeys {', '.join(keys)})" if keys else "")


def template_problems(template):
    """Everything wrong with template.yaml's DynamoDB grants, as sentences."""
    problems = []
    declared = load_declared()
    grants = granted(template, problems)
    for binary in sorted(set(declared) | set(grants)):
        if binary not in grants:
            problems.append(f"{DECLARED.name} declares {binary}, which template.yaml does not build")
            continue
        if binary not in declared:
            problems.append(f"function {binary} is not in {DECLARED.name}")
            continue
        for entry in sorted(declared[binary] - grants[binary]):
            problems.append(f"{binary}: needs {describe(entry)}, which template.yaml does not grant")
        for entry in sorted(grants[binary] - declared[binary]):
            problems.append(f"{binary}: template.yaml grants {describe(entry)}, which it does not use")
    if ACCESS_LOG_VARIABLE in json.dumps(template):
        problems.append(f"template.yaml mentions {ACCESS_LOG_VARIABLE}: it is for test stacks only")
    return problems


def observed_problems(log_path):
    problems = []
    declared = load_declared()
    path = pathlib.Path(log_path)
    if not path.exists() or not path.read_text().strip():
        return [f"{path} is missing or empty: did the end-to-end tests run?"], {}
    observed = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        fields = line.split()
        if len(fields) != 4:
            problems.append(f"{path.name}:{number}: not `<function> <action> <resource> <key>`: {line!r}")
            continue
        function, action, resource, key = fields
        observed.setdefault(function, set()).add((action, resource, key))
    for function in sorted(observed):
        if function not in declared:
            problems.append(f"function {function} used DynamoDB but is not in {DECLARED.name}")
            continue
        for action, resource, key in sorted(observed[function]):
            covering = [keys for a, r, keys in declared[function] if (a, r) == (action, resource)]
            if not covering:
                problems.append(f"{function}: used {action} on {resource}, which is not declared")
            elif () not in covering and not any(
                fnmatch.fnmatchcase(key, pattern) for keys in covering for pattern in keys
            ):
                problems.append(
                    f"{function}: used {action} on {resource} with partition key {key!r}, "
                    f"outside its declared LeadingKeys {sorted({p for k in covering for p in k})}"
                )
    for function in sorted(declared):
        used = {(a, r) for a, r, _ in observed.get(function, set())}
        for action, resource in sorted({(a, r) for a, r, _ in declared[function]} - used):
            problems.append(
                f"{function}: declares {action} on {resource}, which the end-to-end tests never "
                f"used (not needed, or a test is missing)"
            )
    return problems, observed


def main(argv):
    if len(argv) == 2 and argv[1] == "template":
        from cfnlint.decode import cfn_yaml

        problems = template_problems(cfn_yaml.load(str(ROOT / "template.yaml")))
        if problems:
            print("template.yaml does not grant exactly the DynamoDB access of infra/dynamodb-access.json:")
            print("\n".join(f"  - {p}" for p in problems))
            return 1
        print("template.yaml grants exactly the DynamoDB access of infra/dynamodb-access.json")
        return 0
    if len(argv) == 3 and argv[1] == "observed":
        problems, observed = observed_problems(argv[2])
        if problems:
            print(f"the end-to-end run's DynamoDB access ({argv[2]}) and infra/dynamodb-access.json differ:")
            print("\n".join(f"  - {p}" for p in problems))
            return 1
        count = sum(len({(a, r) for a, r, _ in entries}) for entries in observed.values())
        print(
            f"the end-to-end run used exactly the declared DynamoDB access: {count} (action, "
            f"resource) pairs over {len(observed)} functions"
        )
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
