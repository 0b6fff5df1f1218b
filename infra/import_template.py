#!/usr/bin/env python3
"""The files that let a new stack adopt the tables (and signing secret) an earlier stack of the
same name left behind: `sam delete` keeps them (DeletionPolicy Retain), and deploying the
stack again would fail at create with "already exists".

    import_template.py --stack NAME --template OUT.json --resources OUT.json [--secret-arn ARN]

writes a template holding only the retained resources, exactly as template.yaml defines them,
and the matching --resources-to-import document for
`aws cloudformation create-change-set --change-set-type IMPORT` (docs/deploy.md, "Deleting
the stack, and adopting what it kept"). Table names come from the stack name, so NAME is
the deleted stack's, and the change set creates a stack of that name. Run with the virtual environment's
Python (cfn-lint's loader reads CloudFormation's short-form tags).
"""
import argparse
import json
import pathlib
import sys

from cfnlint.decode import cfn_yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", required=True, help="the deleted stack's name")
    parser.add_argument("--template", required=True, type=pathlib.Path)
    parser.add_argument("--resources", required=True, type=pathlib.Path)
    parser.add_argument("--secret-arn", help="the retained signing secret, to adopt it too")
    arguments = parser.parse_args()

    template = cfn_yaml.load(str(ROOT / "template.yaml"))
    resources = {}
    to_import = []
    for name, resource in template["Resources"].items():
        kind = resource["Type"]
        if resource.get("DeletionPolicy") != "Retain":
            continue
        if kind == "AWS::DynamoDB::Table":
            # The identifier is the name, which CloudFormation resolves for the new stack.
            table_name = resource["Properties"]["TableName"]
            suffix = table_name["Fn::Sub"].removeprefix("${AWS::StackName}")
            identifier = {"TableName": f"{arguments.stack}{suffix}"}
        elif kind == "AWS::SecretsManager::Secret":
            if not arguments.secret_arn:
                continue
            identifier = {"Id": arguments.secret_arn}
        else:
            print(f"{name}: retained {kind} is not handled here", file=sys.stderr)
            return 1
        resources[name] = resource
        to_import.append({"ResourceType": kind, "LogicalResourceId": name, "ResourceIdentifier": identifier})

    document = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "Adopts the resources an earlier stack of this name retained (infra/import_template.py).",
        "Resources": resources,
    }
    arguments.template.write_text(json.dumps(document, indent=2) + "\n")
    arguments.resources.write_text(json.dumps(to_import, indent=2) + "\n")
    print(f"wrote {arguments.template} and {arguments.resources}: {', '.join(resources)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
